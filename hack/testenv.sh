#!/usr/bin/env bash
# Builds the test control plane (kube-apiserver + etcd) from the Go module proxy into a
# per-machine cache outside the repository, only when missing, and prints the folder.
#
#   hack/testenv.sh            build when missing, print the folder
#   hack/testenv.sh --print    print the folder, build nothing
#
# Cold cost on 2 cores: ~10-11 minutes, ~6 GB of disk during the build; ~20 s with warm
# Go caches; 0 s when the binaries exist.
set -euo pipefail

K8S_VERSION="${DRIFTLESS_K8S_VERSION:-v1.37.2}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/driftless/testenv"
DEST="${CACHE_ROOT}/${K8S_VERSION}"

if [[ "${1:-}" == "--print" ]]; then
  echo "${DEST}"
  exit 0
fi

have() { [[ -x "${DEST}/kube-apiserver" && -x "${DEST}/etcd" ]]; }
if have; then
  echo "${DEST}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
# One builder at a time per machine.
exec 9>"${CACHE_ROOT}/.build.lock"
flock 9
if have; then
  echo "${DEST}"
  exit 0
fi

export GOFLAGS="${GOFLAGS:-} -mod=mod"
export GOTOOLCHAIN=local
WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftless-testenv.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
log() { echo "testenv: $*" >&2; }

log "building kube-apiserver ${K8S_VERSION} and etcd into ${DEST} (one time per machine; ~10 min cold)"
cd "${WORK}"
go mod init driftless.local/testenv >/dev/null 2>&1
go mod download k8s.io/kubernetes@"${K8S_VERSION}"
KGOMOD="$(go mod download -json k8s.io/kubernetes@"${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
[[ -f "${KGOMOD}" ]] || { log "cannot find go.mod of k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }

# Every staging module k8s.io/kubernetes replaces with ./staging/... comes from the proxy
# at the matching v0 version instead (the sample-* modules are not served and not needed).
while read -r mod; do
  case "${mod}" in
    k8s.io/sample-cli-plugin|k8s.io/sample-controller) continue ;;
  esac
  go mod edit -replace="${mod}=${mod}@${STAGING_VERSION}"
done < <(grep -E '=>[[:space:]]+\./staging/' "${KGOMOD}" | awk '{print $1}' | sort -u)

ETCD_VERSION="$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2; exit}' "${KGOMOD}")"
[[ -n "${ETCD_VERSION}" ]] || { log "k8s.io/kubernetes does not pin go.etcd.io/etcd/server/v3"; exit 1; }

go get -tool k8s.io/kubernetes/cmd/kube-apiserver@"${K8S_VERSION}" >&2
go get -tool go.etcd.io/etcd/server/v3@"${ETCD_VERSION}" >&2

MINOR="${K8S_VERSION#v1.}"; MINOR="${MINOR%%.*}"
VPKG=k8s.io/component-base/version
LDFLAGS="-s -w -X ${VPKG}.gitVersion=${K8S_VERSION} -X ${VPKG}.gitMajor=1 -X ${VPKG}.gitMinor=${MINOR} -X ${VPKG}.gitTreeState=clean"

mkdir -p "${WORK}/out"
log "go build kube-apiserver"
go build -trimpath -ldflags "${LDFLAGS}" -o "${WORK}/out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
log "go build etcd ${ETCD_VERSION}"
go build -trimpath -ldflags "-s -w" -o "${WORK}/out/etcd" go.etcd.io/etcd/server/v3

mkdir -p "${DEST}"
mv "${WORK}/out/kube-apiserver" "${WORK}/out/etcd" "${DEST}/"
log "done"
echo "${DEST}"
