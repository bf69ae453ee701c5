package apply_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

func TestConflictWithAnotherManager(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{cm("", "shared", map[string]any{"k": "ours"})})
		require.NoError(t, err)
		// Another manager takes the field with a forced apply.
		e.c.Apply(t, cm(e.ns, "shared", map[string]any{"k": "theirs"}), "other-controller", true)

		desired := []*unstructured.Unstructured{cm("", "shared", map[string]any{"k": "ours"})}
		tests := []struct {
			name  string
			force bool
		}{{"without force", false}, {"with force", true}}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				cs, err := e.applier(apply.Options{Force: tc.force}).Apply(ctx, desired)
				live := e.get(t, cm(e.ns, "shared", nil))
				data, _, _ := unstructured.NestedStringMap(live.Object, "data")
				if !tc.force {
					var se *apply.SyncError
					require.ErrorAs(t, err, &se)
					en := cs.Entries[0]
					assert.Equal(t, apply.Failed, en.Action)
					assert.True(t, apierrors.IsConflict(en.Err), "%v", en.Err)
					assert.Contains(t, en.Err.Error(), "other-controller")
					assert.Equal(t, "theirs", data["k"])
					return
				}
				require.NoError(t, err, "%s", cs)
				assert.Equal(t, apply.Configured, cs.Entries[0].Action)
				assert.Equal(t, "ours", data["k"])
				assert.NotContains(t, managers(live), "other-controller", "forced: we own the field now")
			})
		}
	})
}

// managers lists the field managers of an object.
func managers(u *unstructured.Unstructured) []string {
	var out []string
	for _, m := range u.GetManagedFields() {
		out = append(out, m.Manager+"/"+string(m.Operation))
	}
	return out
}

// kubectlApply creates obj the way `kubectl apply` (client-side) does: a create under
// the kubectl-client-side-apply manager with the last-applied annotation.
func kubectlApply(t *testing.T, e *env, u *unstructured.Unstructured) {
	t.Helper()
	last, err := json.Marshal(u.Object)
	require.NoError(t, err)
	u = u.DeepCopy()
	u.SetAnnotations(map[string]string{"kubectl.kubernetes.io/last-applied-configuration": string(last)})
	ri, err := e.c.Resource(u)
	require.NoError(t, err)
	_, err = ri.Create(context.Background(), u, metav1.CreateOptions{FieldManager: "kubectl-client-side-apply"})
	require.NoError(t, err)
}

func TestTakeOverFromKubectlClientSideApply(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		kubectlApply(t, e, cm(e.ns, "legacy", map[string]any{"a": "1", "dropped": "x"}))
		desired := []*unstructured.Unstructured{cm("", "legacy", map[string]any{"a": "2"})}

		// Without take-over kubectl owns data.a: a conflict.
		cs, err := e.applier(apply.Options{}).Apply(ctx, desired)
		require.Error(t, err)
		assert.True(t, apierrors.IsConflict(cs.Entries[0].Err), "%v", cs.Entries[0].Err)
		assert.Contains(t, cs.Entries[0].Err.Error(), "kubectl-client-side-apply")

		cs, err = e.applier(apply.Options{TakeOver: true}).Apply(ctx, desired)
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, apply.Configured, cs.Entries[0].Action)
		assert.Contains(t, cs.Entries[0].Message, "took over fields of kubectl-client-side-apply")
		live := e.get(t, cm(e.ns, "legacy", nil))
		data, _, _ := unstructured.NestedStringMap(live.Object, "data")
		assert.Equal(t, map[string]string{"a": "2"}, data, "a field kubectl set and Git dropped is removed")
		assert.NotContains(t, live.GetAnnotations(), "kubectl.kubernetes.io/last-applied-configuration")
		assert.Equal(t, []string{"driftless/Apply"}, managers(live))

		// Under driftless now: the next sync is a no-op.
		e.log.reset()
		cs, err = e.applier(apply.Options{TakeOver: true}).Apply(ctx, desired)
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, apply.Unchanged, cs.Entries[0].Action, "%s", cs)
		assert.Empty(t, e.log.writes())
	})
}

func TestTakeOverInDryRunPersistsNothing(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	kubectlApply(t, e, cm(e.ns, "legacy", map[string]any{"a": "1"}))
	before := e.get(t, cm(e.ns, "legacy", nil)).GetResourceVersion()
	cs, err := e.applier(apply.Options{TakeOver: true, DryRun: true}).Apply(context.Background(),
		[]*unstructured.Unstructured{cm("", "legacy", map[string]any{"a": "2"})})
	require.NoError(t, err, "%s", cs)
	assert.Equal(t, apply.Configured, cs.Entries[0].Action)
	assert.Contains(t, cs.Entries[0].Message, "would take over fields of kubectl-client-side-apply")
	assert.Empty(t, e.log.writes())
	assert.Equal(t, before, e.get(t, cm(e.ns, "legacy", nil)).GetResourceVersion())
}

func deploy(ns, name, selector string, ann ...string) *unstructured.Unstructured {
	u := obj("apps/v1", "Deployment", ns, name, ann...)
	u.Object["spec"] = map[string]any{
		"replicas": int64(1),
		"selector": map[string]any{"matchLabels": map[string]any{"app": selector}},
		"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": selector}},
			"spec": map[string]any{"containers": []any{
				map[string]any{"name": "app", "image": "nginx:1.27"},
			}},
		},
	}
	return u
}

func TestImmutableField(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{
			deploy("", "web", "web-v1"), deploy("", "api", "api-v1")})
		require.NoError(t, err)
		webUID := e.get(t, deploy(e.ns, "web", "")).GetUID()
		apiUID := e.get(t, deploy(e.ns, "api", "")).GetUID()

		// web: the selector changes, no recreate allowed -> a clear error naming the field.
		// api: the same change with the sync option Recreate=true -> deleted and created.
		cs, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{
			deploy("", "web", "web-v2"),
			deploy("", "api", "api-v2", apply.AnnotationSyncOptions, "Recreate=true"),
		})
		require.Error(t, err)
		api, web := cs.Entries[0], cs.Entries[1]
		require.Equal(t, "api", api.Ref.Name)

		assert.Equal(t, apply.Failed, web.Action)
		var ie *apply.ImmutableError
		require.ErrorAs(t, web.Err, &ie)
		assert.Contains(t, ie.Fields, "spec.selector")
		assert.Contains(t, web.Err.Error(), "immutable field spec.selector")
		assert.Contains(t, web.Err.Error(), "Recreate=true")
		assert.Equal(t, webUID, e.get(t, deploy(e.ns, "web", "")).GetUID())

		assert.Equal(t, apply.Configured, api.Action, "%s", cs)
		assert.Contains(t, api.Message, "re-created (deleted with background propagation: it has no dependents")
		live := e.get(t, deploy(e.ns, "api", ""))
		assert.NotEqual(t, apiUID, live.GetUID())
		sel, _, _ := unstructured.NestedString(live.Object, "spec", "selector", "matchLabels", "app")
		assert.Equal(t, "api-v2", sel)

		// Options.Recreate allows it for every object.
		cs, err = e.applier(apply.Options{Recreate: true}).Apply(ctx, []*unstructured.Unstructured{
			deploy("", "web", "web-v2"), deploy("", "api", "api-v2")})
		require.NoError(t, err, "%s", cs)
		assert.NotEqual(t, webUID, e.get(t, deploy(e.ns, "web", "")).GetUID())
	})
}

// TestRecreateWithDependents: an object with dependents is deleted with foreground
// propagation. The in-memory server plays the garbage collector, so the re-creation
// completes; the real control plane has no garbage collector, so the foregroundDeletion
// finalizer stays and the error says so.
func TestRecreateWithDependents(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{deploy("", "web", "v1")})
		require.NoError(t, err)
		owner := e.get(t, deploy(e.ns, "web", ""))
		rs := obj("apps/v1", "ReplicaSet", e.ns, "web-abc")
		rs.Object["spec"] = map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "v1"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "v1"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "app", "image": "nginx:1.27"}}},
			},
		}
		ctrl := true
		rs.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: owner.GetUID(), Controller: &ctrl}})
		e.c.Create(t, rs)

		cs, err := e.applier(apply.Options{Recreate: true, WaitTimeout: 2 * time.Second}).Apply(ctx, []*unstructured.Unstructured{deploy("", "web", "v2")})
		en := cs.Entries[0]
		if e.backend == "fake" {
			require.NoError(t, err, "%s", cs)
			assert.Contains(t, en.Message, "foreground propagation: its dependents went first")
			assert.Nil(t, e.get(t, rs), "the garbage collector removed the ReplicaSet first")
			return
		}
		require.Error(t, err)
		assert.Equal(t, apply.Failed, en.Action)
		assert.Contains(t, en.Err.Error(), "foregroundDeletion")
		assert.Contains(t, en.Err.Error(), "is kube-controller-manager running?")
	})
}
