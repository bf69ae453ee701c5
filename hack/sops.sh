#!/usr/bin/env bash
# Builds the SOPS CLI (github.com/getsops/sops/v3/cmd/sops) from the Go module proxy into a
# per-machine cache outside the repository, only when missing, and prints the path of the
# binary. render/sops's tests use it to encrypt fixtures with the real SOPS at test time
# (the SOPS library itself is not a dependency of driftless: see render/sops/doc.go).
#
#   hack/sops.sh            build when missing, print the binary path
#   hack/sops.sh --print    print the binary path, build nothing
#
# Cold cost on 2 cores: ~8 minutes (it compiles the AWS, Azure, GCP and Vault SDKs);
# 0 s when the binary exists.
set -euo pipefail

SOPS_VERSION="${DRIFTLESS_SOPS_VERSION:-v3.13.3}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/driftless/tools"
DEST="${CACHE_ROOT}/sops-${SOPS_VERSION}"
BIN="${DEST}/sops"

if [[ "${1:-}" == "--print" ]]; then
  echo "${BIN}"
  exit 0
fi
if [[ -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
# One builder at a time per machine.
exec 9>"${CACHE_ROOT}/.sops.build.lock"
flock 9
if [[ -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi

export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftless-sops.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
log() { echo "sops.sh: $*" >&2; }

log "building sops ${SOPS_VERSION} into ${DEST} (one time per machine; ~8 min cold)"
cd "${WORK}"
go mod init driftless.local/sops >/dev/null 2>&1
go get "github.com/getsops/sops/v3@${SOPS_VERSION}" >&2
mkdir -p "${DEST}"
go build -trimpath -ldflags "-s -w" -o "${WORK}/sops" github.com/getsops/sops/v3/cmd/sops >&2
mv "${WORK}/sops" "${BIN}"
echo "${BIN}"
