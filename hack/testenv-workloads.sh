#!/usr/bin/env bash
# Builds the workload half of the test control plane into the same per-machine cache as
# hack/testenv.sh, only what is missing, and prints the folder:
#   - kube-controller-manager and kube-scheduler, from the same k8s.io/kubernetes module
#     and the same throwaway-module recipe as kube-apiserver (staging modules replaced by
#     their v0 releases, same version ldflags), so Deployments, ReplicaSets, StatefulSets,
#     DaemonSets and Jobs really roll out and namespaces really finish terminating;
#   - kwok, which fakes nodes and runs the pods bound to them without a kubelet. kwok only
#     looks after pods that have spec.nodeName set, so kube-scheduler must run beside it.
#
#   hack/testenv-workloads.sh            build when missing, print the folder
#   hack/testenv-workloads.sh --print    print the folder, build nothing
#
# Cost on 2 cores, measured with kube-apiserver already built (its Go build cache warm)
# and the machine shared with other builds (load average 10-15): ~25.5 min cold
# (~14 min for the two Kubernetes binaries, ~11.5 min for kwok); ~70 s with warm Go
# caches and the binaries missing; 0.02 s when the binaries exist.
# kwok v0.8.0 declares go 1.26.0 in its go.mod: it builds with the local toolchain
# (GOTOOLCHAIN=local), which must be Go 1.26.0 or newer.
set -euo pipefail

K8S_VERSION="${DRIFTLESS_K8S_VERSION:-v1.37.2}"
KWOK_VERSION="${DRIFTLESS_KWOK_VERSION:-v0.8.0}"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/driftless/testenv"
DEST="${CACHE_ROOT}/${K8S_VERSION}"
K8S_COMMANDS=(kube-controller-manager kube-scheduler)

if [[ "${1:-}" == "--print" ]]; then
  echo "${DEST}"
  exit 0
fi

# missing_k8s prints the Kubernetes commands not yet in DEST; have_kwok tells whether
# kwok is there.
missing_k8s() {
  local cmd
  for cmd in "${K8S_COMMANDS[@]}"; do
    [[ -x "${DEST}/${cmd}" ]] || echo "${cmd}"
  done
}
have_kwok() { [[ -x "${DEST}/kwok" ]]; }
have() { [[ -z "$(missing_k8s)" ]] && have_kwok; }

if have; then
  echo "${DEST}"
  exit 0
fi

mkdir -p "${CACHE_ROOT}"
# One builder at a time per machine (the same lock as hack/testenv.sh).
exec 9>"${CACHE_ROOT}/.build.lock"
flock 9
if have; then
  echo "${DEST}"
  exit 0
fi

USER_GOFLAGS="${GOFLAGS:-}"
export GOTOOLCHAIN=local
WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftless-testenv-workloads.XXXXXX")"
trap 'rm -rf "${WORK}"' EXIT
log() { echo "testenv-workloads: $*" >&2; }
mkdir -p "${WORK}/out" "${DEST}"

build_k8s() {
  local -a missing
  mapfile -t missing < <(missing_k8s)
  [[ ${#missing[@]} -gt 0 ]] || return 0
  log "building ${missing[*]} ${K8S_VERSION} into ${DEST} (one time per machine)"
  mkdir -p "${WORK}/k8s"
  (
    cd "${WORK}/k8s"
    export GOFLAGS="${USER_GOFLAGS} -mod=mod"
    go mod init driftless.local/testenv-workloads >/dev/null 2>&1
    go mod download k8s.io/kubernetes@"${K8S_VERSION}"
    local kgomod
    kgomod="$(go mod download -json k8s.io/kubernetes@"${K8S_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')"
    [[ -f "${kgomod}" ]] || { log "cannot find go.mod of k8s.io/kubernetes@${K8S_VERSION}"; exit 1; }

    # Every staging module k8s.io/kubernetes replaces with ./staging/... comes from the
    # proxy at the matching v0 version instead (the sample-* modules are not served and
    # not needed).
    local mod
    while read -r mod; do
      case "${mod}" in
        k8s.io/sample-cli-plugin|k8s.io/sample-controller) continue ;;
      esac
      go mod edit -replace="${mod}=${mod}@${STAGING_VERSION}"
    done < <(grep -E '=>[[:space:]]+\./staging/' "${kgomod}" | awk '{print $1}' | sort -u)

    local minor vpkg ldflags cmd
    minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    vpkg=k8s.io/component-base/version
    ldflags="-s -w -X ${vpkg}.gitVersion=${K8S_VERSION} -X ${vpkg}.gitMajor=1 -X ${vpkg}.gitMinor=${minor} -X ${vpkg}.gitTreeState=clean"
    for cmd in "${missing[@]}"; do
      go get -tool k8s.io/kubernetes/cmd/"${cmd}"@"${K8S_VERSION}" >&2
    done
    for cmd in "${missing[@]}"; do
      log "go build ${cmd}"
      go build -trimpath -ldflags "${ldflags}" -o "${WORK}/out/${cmd}" k8s.io/kubernetes/cmd/"${cmd}"
    done
  )
  local cmd
  for cmd in "${missing[@]}"; do
    mv "${WORK}/out/${cmd}" "${DEST}/"
  done
}

build_kwok() {
  have_kwok && return 0
  log "building kwok ${KWOK_VERSION} into ${DEST} (one time per machine; minutes cold)"
  mkdir -p "${WORK}/kwok"
  # go install pkg@version builds kwok with its own go.mod (k8s.io v0.36 libraries), apart
  # from the throwaway module above; -mod=mod does not apply to it.
  (
    cd "${WORK}/kwok"
    GOFLAGS="${USER_GOFLAGS}" GOBIN="${WORK}/out" \
      go install -trimpath -ldflags "-s -w" sigs.k8s.io/kwok/cmd/kwok@"${KWOK_VERSION}"
  )
  mv "${WORK}/out/kwok" "${DEST}/"
}

build_k8s
build_kwok
log "done"
echo "${DEST}"
