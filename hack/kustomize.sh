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
V="${DRIFTLESS_KUSTOMIZE_VERSION:-v5.8.2}"
# The version string kustomize prints for `kustomize version`.
exec "$(dirname "$0")/gotool.sh" ${1:+"$1"} kustomize sigs.k8s.io/kustomize/kustomize/v5 "${V}" sigs.k8s.io/kustomize/kustomize/v5 \
  "-X sigs.k8s.io/kustomize/api/provenance.version=kustomize/${V}"
