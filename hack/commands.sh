#!/usr/bin/env bash
# Installs the system commands the tests run (the git CLI serves test repositories
# over HTTP and SSH; ssh is its SSH client) when they are missing, with apt-get.
# make test runs it: under DRIFTLESS_REQUIRE_TOOLS=1 a missing command fails a test.
set -euo pipefail

missing=()
command -v git >/dev/null || missing+=(git)
command -v ssh >/dev/null || missing+=(openssh-client)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "hack/commands.sh: install ${missing[*]} (no apt-get here)" >&2
  exit 1
fi
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
