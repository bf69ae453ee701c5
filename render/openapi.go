package render

import (
	"bytes"
	"errors"
	"sync"

	"sigs.k8s.io/kustomize/kyaml/openapi"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomize keeps its OpenAPI schema in package variables of
// sigs.k8s.io/kustomize/kyaml/openapi, shared by every build in the process. Two
// things break when builds share a process (both shown by tests in this package):
//
//  1. A data race on first use: the schema is parsed lazily, and openapi.initSchema
//     fills its maps under a lock while IsNamespaceScoped and SchemaForResourceType
//     read them without one (the race detector reports it on the first concurrent
//     builds; a "concurrent map read and map write" crash is possible).
//  2. Leakage between builds: a kustomization with an `openapi:` field (a custom
//     schema, or a schema version) replaces the process's schema and never restores
//     it, so every later build, of any application, merges patches with that schema
//     (a list patched by name in one app is merged the same way in all others); and
//     while it re-parses, concurrent builds race on the maps as in (1).
//
// The fix, without serializing ordinary builds: the default schema is parsed once,
// before any build reads it (warm), after which ordinary builds only read it and run
// in parallel (they take schemaGate for reading, an uncontended atomic operation).
// A build whose kustomizations use the `openapi:` field takes schemaGate exclusively,
// starts from a fresh schema state exactly like a new `kustomize build` process, and
// restores the warmed default when it ends. Such builds are rare; they run one at a
// time and never overlap an ordinary one.
//
// schemaGate is package state on purpose: it guards state that is itself global to
// the process (kyaml's), so a narrower lock (per Renderer) could not protect it.
// Code outside this package that runs kustomize in the same process concurrently
// bypasses the gate.
var schemaGate struct {
	mu     sync.RWMutex
	warmed bool
}

// errNeedsExclusiveSchema aborts a shared build that met an `openapi:` field the
// reference scan did not see; the build is run again exclusively.
var errNeedsExclusiveSchema = errors.New("render: kustomization sets openapi; rebuilding with exclusive schema")

// warmSchema parses kyaml's default schema now. Callers hold schemaGate exclusively.
func warmSchema() {
	openapi.SchemaForResourceType(kyaml.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"})
	schemaGate.warmed = true
}

// withSharedSchema runs build with the default schema, concurrently with other
// ordinary builds.
func withSharedSchema(build func() error) error {
	schemaGate.mu.RLock()
	if !schemaGate.warmed {
		schemaGate.mu.RUnlock()
		schemaGate.mu.Lock()
		if !schemaGate.warmed {
			warmSchema()
		}
		schemaGate.mu.Unlock()
		schemaGate.mu.RLock()
	}
	defer schemaGate.mu.RUnlock()
	return build()
}

// withExclusiveSchema runs build alone, from a fresh schema state, and restores the
// default schema afterwards.
func withExclusiveSchema(build func() error) error {
	schemaGate.mu.Lock()
	defer schemaGate.mu.Unlock()
	openapi.ResetOpenAPI()
	defer func() {
		openapi.ResetOpenAPI()
		warmSchema()
	}()
	return build()
}

// setsOpenAPI reports whether kustomization content has a top-level openapi field.
func setsOpenAPI(data []byte) bool {
	if !bytes.Contains(data, []byte("openapi")) {
		return false
	}
	node, err := kyaml.Parse(string(data))
	if err != nil {
		// kustomize will report the parse error; be safe meanwhile.
		return true
	}
	f := node.Field("openapi")
	return f != nil && !kyaml.IsYNodeNilOrEmpty(f.Value.YNode())
}
