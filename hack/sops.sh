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
exec "$(dirname "$0")/gotool.sh" ${1:+"$1"} sops github.com/getsops/sops/v3 "${DRIFTLESS_SOPS_VERSION:-v3.13.3}" github.com/getsops/sops/v3/cmd/sops
