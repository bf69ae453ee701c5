# driftless: `make test` is the one test command (CI runs exactly this).
SHELL := /bin/bash
export GOTOOLCHAIN := local

.PHONY: test testenv vet fmt

# Builds the control plane when missing (one time per machine, ~10 min cold), then runs
# every test with the race detector; control-plane tests fail instead of skipping.
test: testenv
	KUBEBUILDER_ASSETS="$$(hack/testenv.sh)" \
	DRIFTLESS_REQUIRE_CONTROL_PLANE=1 \
	go test -race -timeout 20m ./...

# Builds kube-apiserver and etcd into ~/.cache/driftless/testenv/ when missing.
testenv:
	hack/testenv.sh

vet:
	go vet ./...
	test -z "$$(gofmt -l $$(git ls-files '*.go'))"
