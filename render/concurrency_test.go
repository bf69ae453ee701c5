package render

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/openapi"
)

// resetSchemaState puts kyaml's OpenAPI globals back to a fresh process's state, as
// if no build had run yet.
func resetSchemaState() {
	schemaGate.mu.Lock()
	defer schemaGate.mu.Unlock()
	openapi.ResetOpenAPI()
	schemaGate.warmed = false
}

// TestKustomizeLeaksOpenAPISchema documents the problem the schema gate solves: with
// plain krusty, a kustomization's `openapi:` schema stays in force for every later
// build in the process. openapi/without patches the same list of an unknown kind
// without a schema: kustomize replaces the list; after openapi/ ran, it merges it.
func TestKustomizeLeaksOpenAPISchema(t *testing.T) {
	defer resetSchemaState()
	build := func(path string) string {
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), goldenRoot+"/"+path)
		require.NoError(t, err)
		y, err := m.AsYaml()
		require.NoError(t, err)
		return string(y)
	}
	schemaGate.mu.Lock()
	defer schemaGate.mu.Unlock()
	openapi.ResetOpenAPI()
	before := build("openapi/without")
	assert.NotContains(t, before, "name: b", "without a schema the patch replaces the list")
	withSchema := build("openapi")
	assert.Contains(t, withSchema, "name: b", "with the schema the patch merges by name")
	after := build("openapi/without")
	assert.Contains(t, after, "name: b", "raw kustomize: the schema leaked into an unrelated build")
}

// TestRenderDoesNotLeakOpenAPISchema: through render, the schema of one build never
// reaches another.
func TestRenderDoesNotLeakOpenAPISchema(t *testing.T) {
	ctx := context.Background()
	before, err := Render(ctx, goldenRoot, "openapi/without", Options{})
	require.NoError(t, err)
	with, err := Render(ctx, goldenRoot, "openapi", Options{})
	require.NoError(t, err)
	assert.Contains(t, string(with.YAML()), "name: b")
	after, err := Render(ctx, goldenRoot, "openapi/without", Options{})
	require.NoError(t, err)
	assert.Equal(t, string(before.YAML()), string(after.YAML()))
	assert.NotContains(t, string(after.YAML()), "name: b")
}

// TestConcurrentRenders runs 8 renders at a time, from a fresh schema state, over a
// mix of targets that includes kustomizations with `openapi:` (exclusive) and CRDs
// (which read the schema's namespace-scope tables), and checks every result against
// a sequential render. Run with -race: it also proves there is no data race.
func TestConcurrentRenders(t *testing.T) {
	ctx := context.Background()
	targets := []string{
		"openapi", "openapi/without", "crds", "crds/ordering", "seed/apps/guestbook/overlays/production-oslo",
		"seed/apps/podinfo/overlays/staging-bergen", "components/overlays/full", "smp/patch-file",
		"generators/merge", "kinds", "namespace", "patch-targets",
	}
	want := map[string]string{}
	for _, tg := range targets {
		m, err := Render(ctx, goldenRoot, tg, Options{})
		require.NoError(t, err)
		want[tg] = string(m.YAML())
	}
	resetSchemaState()
	shared := NewRenderer(RendererOptions{})
	const workers, rounds = 8, 2
	var wg sync.WaitGroup
	errs := make([]error, workers)
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			<-start
			own := NewRenderer(RendererOptions{DisableCache: true})
			for i := 0; i < rounds*len(targets); i++ {
				tg := targets[(i+w*5)%len(targets)]
				r := own
				if i%2 == 1 {
					r = shared
				}
				m, err := r.Render(ctx, goldenRoot, tg, Options{})
				if err != nil {
					errs[w] = fmt.Errorf("%s: %w", tg, err)
					return
				}
				if string(m.YAML()) != want[tg] {
					errs[w] = fmt.Errorf("%s: output differs from the sequential render:\n%s", tg, m.YAML())
					return
				}
			}
		}(w)
	}
	close(start)
	wg.Wait()
	for w, err := range errs {
		assert.NoError(t, err, "worker %d", w)
	}
	assert.Positive(t, shared.Stats().CacheHits)
}
