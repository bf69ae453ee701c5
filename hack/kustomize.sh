#!/usr/bin/env bash
# Builds the kustomize CLI (sigs.k8s.io/kustomize/kustomize/v5) from the Go module proxy
# into a per-machine cache outside the repository, only when missing, and prints the
# path of the binary. render's golden tests and benchmarks compare against it.
#
#   hack/kustomize.sh            build when missing, print the binary path
#   hack/kustomize.sh --print    print the binary path, build nothing
#
# Version: v5.8.2 is the newest v5.8.x that builds with Go 1.26 (v5.8.3's go.mod says
# go 1.27.0); it is also the release built on sigs.k8s.io/kustomize/api v0.21.2, the
# version driftless pins, so both sides run the same kustomize code.
# Cold cost on 2 cores: about a minute; 0 s when the binary exists.
set -euo pipefail

KUSTOMIZE_VERSION="${DRIFTLESS_KUSTOMIZE_VERSION:-v5.8.2}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/driftless/tools"
DEST="${CACHE_ROOT}/kustomize-${KUSTOMIZE_VERSION}"
BIN="${DEST}/kustomize"

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
exec 9>"${CACHE_ROOT}/.kustomize.build.lock"
flock 9
if [[ -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi

export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftless-kustomize.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
log() { echo "kustomize.sh: $*" >&2; }

log "building kustomize ${KUSTOMIZE_VERSION} into ${DEST} (one time per machine)"
cd "${WORK}"
go mod init driftless.local/kustomize >/dev/null 2>&1
go get "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}" >&2
mkdir -p "${DEST}"
# The version string kustomize prints for `kustomize version`.
go build -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=kustomize/${KUSTOMIZE_VERSION}" \
  -o "${WORK}/kustomize" sigs.k8s.io/kustomize/kustomize/v5 >&2
mv "${WORK}/kustomize" "${BIN}"
echo "${BIN}"
