#!/usr/bin/env bash
# Builds one Go command from the module proxy into a per-machine cache outside the
# repository, only when missing, and prints the binary's path. hack/kustomize.sh and
# hack/sops.sh are thin wrappers around it.
#
#   hack/gotool.sh [--print] NAME MODULE VERSION PACKAGE [LDFLAGS]
#
# The binary is ${XDG_CACHE_HOME:-$HOME/.cache}/driftless/tools/NAME-VERSION/NAME; with
# --print its path is printed and nothing is built.
set -euo pipefail

PRINT=0
if [[ "${1:-}" == "--print" ]]; then
  PRINT=1
  shift
fi
NAME="$1" MODULE="$2" VERSION="$3" PACKAGE="$4" LDFLAGS="${5:-}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/driftless/tools"
DEST="${CACHE_ROOT}/${NAME}-${VERSION}"
BIN="${DEST}/${NAME}"

if [[ "${PRINT}" == 1 || -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
# One builder at a time per machine and tool.
exec 9>"${CACHE_ROOT}/.${NAME}.build.lock"
flock 9
if [[ -x "${BIN}" ]]; then
  echo "${BIN}"
  exit 0
fi

export GOTOOLCHAIN=local
export GOFLAGS="-mod=mod"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftless-${NAME}.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT

echo "gotool.sh: building ${NAME} ${VERSION} into ${DEST} (one time per machine)" >&2
cd "${WORK}"
go mod init "driftless.local/${NAME}" >/dev/null 2>&1
go get "${MODULE}@${VERSION}" >&2
mkdir -p "${DEST}"
go build -trimpath -ldflags "-s -w ${LDFLAGS}" -o "${WORK}/${NAME}" "${PACKAGE}" >&2
mv "${WORK}/${NAME}" "${BIN}"
echo "${BIN}"
