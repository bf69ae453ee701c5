# driftless: `make test` is the one test command (CI runs exactly this).
SHELL := /bin/bash
export GOTOOLCHAIN := local

.PHONY: test testenv tools commands vet

# Builds the control plane and the reference CLIs when missing (one time per machine),
# installs git and ssh when missing, then runs every test with the race detector;
# tests that need the control plane, a reference CLI or git/ssh fail instead of
# skipping.
test: testenv tools commands
	KUBEBUILDER_ASSETS="$$(hack/testenv.sh)" \
	DRIFTLESS_KUSTOMIZE="$$(hack/kustomize.sh)" \
	DRIFTLESS_SOPS="$$(hack/sops.sh)" \
	DRIFTLESS_REQUIRE_CONTROL_PLANE=1 \
	DRIFTLESS_REQUIRE_TOOLS=1 \
	go test -race -timeout 30m ./...

# Builds the reference CLIs the golden tests compare against (kustomize v5.8.2, ~1 min;
# sops v3.13.3, ~8 min) into ~/.cache/driftless/tools/ when missing.
tools:
	hack/kustomize.sh >/dev/null
	hack/sops.sh >/dev/null

# Builds kube-apiserver and etcd into ~/.cache/driftless/testenv/ when missing.
testenv:
	hack/testenv.sh
	hack/testenv-workloads.sh

# Installs the system commands the tests run (git, ssh) when missing.
commands:
	hack/commands.sh

vet:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
