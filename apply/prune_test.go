package apply_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

// names returns the names of refs.
func names(refs []apply.Ref) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.Name)
	}
	return out
}

// pruneEntries returns name -> entry of the prune phase.
func pruneEntries(cs *apply.ChangeSet) map[string]apply.Entry {
	out := map[string]apply.Entry{}
	for _, en := range cs.Entries {
		if en.Phase == apply.Prune {
			out[en.Ref.Name] = en
		}
	}
	return out
}

func TestPruneDeletesOnlyOwnedObjects(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := []*unstructured.Unstructured{
			cm("", "app-a", map[string]any{"k": "v"}),
			cm("", "app-b", map[string]any{"k": "v"}),
			obj("v1", "ServiceAccount", "", "app-c"),
			cm("", "app-keep", map[string]any{"k": "v"}),
			cm("", "app-adopted", map[string]any{"k": "v"}),
		}
		first[3].SetAnnotations(map[string]string{"argocd.argoproj.io/sync-options": "Prune=false"})
		cs, err := e.applier(apply.Options{Name: "shop"}).Apply(ctx, first)
		require.NoError(t, err, "%s", cs)

		// Someone else adopts app-adopted (a different owner label); a foreign object
		// with the same name pattern exists beside ours.
		adopted := cm(e.ns, "app-adopted", nil)
		adopted.SetLabels(map[string]string{apply.LabelOwner: "billing"})
		e.c.Apply(t, adopted, "billing-sync", true)
		e.c.Create(t, cm(e.ns, "app-foreign", map[string]any{"k": "v"}))

		// Without Prune, the objects that left the set are reported and kept.
		second := []*unstructured.Unstructured{cm("", "app-a", map[string]any{"k": "v"})}
		cs, err = e.applier(apply.Options{Name: "shop"}).Apply(ctx, second)
		require.NoError(t, err, "%s", cs)
		for name, en := range pruneEntries(cs) {
			assert.Equal(t, apply.Skipped, en.Action, name)
			assert.Contains(t, en.Message, "prune is off")
		}
		assert.NotNil(t, e.get(t, cm(e.ns, "app-b", nil)))

		e.log.reset()
		cs, err = e.applier(apply.Options{Name: "shop", Prune: true}).Apply(ctx, second)
		require.NoError(t, err, "%s", cs)
		pruned := pruneEntries(cs)
		require.Len(t, pruned, 4, "%s", cs)
		assert.Equal(t, apply.Deleted, pruned["app-b"].Action)
		assert.Equal(t, apply.Deleted, pruned["app-c"].Action)
		assert.Equal(t, apply.Skipped, pruned["app-keep"].Action)
		assert.Contains(t, pruned["app-keep"].Message, "Prune=false")
		assert.Equal(t, apply.Skipped, pruned["app-adopted"].Action)
		assert.Contains(t, pruned["app-adopted"].Message, `driftless.dev/owner="billing"`)

		// Reverse plan order: the ConfigMaps (applied after the ServiceAccount) go first.
		var order []string
		for _, en := range cs.Entries {
			if en.Phase == apply.Prune {
				order = append(order, en.Ref.Name)
			}
		}
		assert.Equal(t, []string{"app-keep", "app-b", "app-adopted", "app-c"}, order)

		assert.Nil(t, e.get(t, cm(e.ns, "app-b", nil)))
		assert.Nil(t, e.get(t, obj("v1", "ServiceAccount", e.ns, "app-c")))
		assert.NotNil(t, e.get(t, cm(e.ns, "app-keep", nil)))
		assert.NotNil(t, e.get(t, cm(e.ns, "app-adopted", nil)))
		assert.NotNil(t, e.get(t, cm(e.ns, "app-foreign", nil)))
		assert.NotNil(t, e.get(t, cm(e.ns, "app-a", nil)))

		refs, err := e.applier(apply.Options{Name: "shop"}).Inventory().Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"app-a"}, names(refs))
	})
}

func TestFailedPruneKeepsTheInventoryEntry(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	ctx := context.Background()
	_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{
		cm("", "a", nil), cm("", "b", nil)})
	require.NoError(t, err)

	e.log.failRequests(func(r *http.Request) bool {
		return r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/configmaps/b")
	})
	cs, err := e.applier(apply.Options{Prune: true}).Apply(ctx, []*unstructured.Unstructured{cm("", "a", nil)})
	var se *apply.SyncError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, apply.Prune, se.Phase)
	assert.Equal(t, apply.Failed, pruneEntries(cs)["b"].Action)
	assert.Contains(t, pruneEntries(cs)["b"].Err.Error(), "injected failure")
	refs, err := e.applier(apply.Options{}).Inventory().Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, names(refs), "a failed delete keeps the entry")

	e.log.failRequests(nil)
	cs, err = e.applier(apply.Options{Prune: true}).Apply(ctx, []*unstructured.Unstructured{cm("", "a", nil)})
	require.NoError(t, err, "%s", cs)
	assert.Equal(t, apply.Deleted, pruneEntries(cs)["b"].Action)
	refs, err = e.applier(apply.Options{}).Inventory().Load(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{"a"}, names(refs))
}

func TestPruneNeverRunsAfterAFailure(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	ctx := context.Background()
	_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{cm("", "a", nil), cm("", "old", nil)})
	require.NoError(t, err)

	// Validation fails: nothing written, nothing pruned.
	_, err = e.applier(apply.Options{Prune: true}).Apply(ctx, []*unstructured.Unstructured{
		cm("", "a", nil), obj("nope.example.com/v1", "Nope", "", "x")})
	var ve *apply.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.NotNil(t, e.get(t, cm(e.ns, "old", nil)))

	// An apply fails: prune is skipped.
	e.log.failRequests(func(r *http.Request) bool {
		return r.Method == http.MethodPatch && strings.HasSuffix(r.URL.Path, "/configmaps/a")
	})
	cs, err := e.applier(apply.Options{Prune: true}).Apply(ctx, []*unstructured.Unstructured{cm("", "a", map[string]any{"k": "changed"})})
	require.Error(t, err)
	assert.Equal(t, apply.Skipped, pruneEntries(cs)["old"].Action)
	assert.Contains(t, pruneEntries(cs)["old"].Message, "the sync failed")
	assert.NotNil(t, e.get(t, cm(e.ns, "old", nil)))
}
