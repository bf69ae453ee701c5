package gitopstest

import (
	"fmt"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

func caseSSACreate(t *testing.T, b *backend) {
	live := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	assert.Equal(t, map[string]any{"a": "1"}, live.Object["data"])
	assert.NotEmpty(t, live.GetUID())
	assert.NotEmpty(t, live.GetResourceVersion())
	ts := live.GetCreationTimestamp()
	assert.False(t, ts.IsZero())
	assert.Equal(t, map[string]string{"alice": "Apply"}, managers(live))
	assert.True(t, owns(t, live, "alice", "f:data", "f:a"))
	assert.False(t, owns(t, live, "alice", "f:metadata", "f:name"), "name is not a managed field")
}

func caseSSANoop(t *testing.T, b *backend) {
	first := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	second := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	assert.Equal(t, first.GetResourceVersion(), second.GetResourceVersion(), "a no-op apply must not write")
	assert.Equal(t, first.GetManagedFields(), second.GetManagedFields())
}

func caseSSAUpdateSameManager(t *testing.T, b *backend) {
	first := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	second := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "2"}), "alice", false)
	assert.NotEqual(t, first.GetResourceVersion(), second.GetResourceVersion())
	assert.Equal(t, "2", second.Object["data"].(map[string]any)["a"])
	assert.Equal(t, map[string]string{"alice": "Apply"}, managers(second))
}

func caseSSAConflict(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	err := applyErr(b, cm(b.ns, "c", map[string]any{"a": "x"}), "bob", false)
	require.Error(t, err)
	assert.True(t, apierrors.IsConflict(err), "want 409 Conflict, got %v", err)
	assert.Contains(t, err.Error(), `conflict with "alice"`)
	assert.Contains(t, err.Error(), ".data.a")
	assert.Equal(t, "1", get(t, b, cm(b.ns, "c", nil)).Object["data"].(map[string]any)["a"])
}

func caseSSAForce(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1", "keep": "k"}), "alice", false)
	live := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "x"}), "bob", true)
	assert.Equal(t, map[string]any{"a": "x", "keep": "k"}, live.Object["data"])
	assert.True(t, owns(t, live, "bob", "f:data", "f:a"))
	assert.False(t, owns(t, live, "alice", "f:data", "f:a"), "force must take the field away from alice")
	assert.True(t, owns(t, live, "alice", "f:data", "f:keep"))
}

func caseSSAShared(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	live := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "bob", false)
	assert.True(t, owns(t, live, "alice", "f:data", "f:a"))
	assert.True(t, owns(t, live, "bob", "f:data", "f:a"))
}

func caseSSARemoveField(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1", "b": "2"}), "alice", false)
	live := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	assert.Equal(t, map[string]any{"a": "1"}, live.Object["data"], "a field dropped from the apply config is removed")
}

func caseSSARemoveCoOwned(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1", "b": "2"}), "alice", false)
	b.Apply(t, cm(b.ns, "c", map[string]any{"b": "2"}), "bob", false)
	live := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	assert.Equal(t, map[string]any{"a": "1", "b": "2"}, live.Object["data"], "a field another manager owns stays")
	assert.False(t, owns(t, live, "alice", "f:data", "f:b"))
	assert.True(t, owns(t, live, "bob", "f:data", "f:b"))
}

func containerNames(t *testing.T, u *unstructured.Unstructured) []string {
	t.Helper()
	cs, _, err := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	require.NoError(t, err)
	var names []string
	for _, c := range cs {
		names = append(names, c.(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	return names
}

func caseSSAListMerge(t *testing.T, b *backend) {
	b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	sidecar := Object(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: %s}
spec:
  template:
    spec:
      containers:
      - {name: sidecar, image: "busybox:1.37"}
`, b.ns))
	live := b.Apply(t, sidecar, "bob", false)
	assert.Equal(t, []string{"app", "sidecar"}, containerNames(t, live), "containers merge by name")
	live = b.Apply(t, deployment(b.ns, "d", "nginx:1.28"), "alice", false)
	assert.Equal(t, []string{"app", "sidecar"}, containerNames(t, live))
	assert.True(t, owns(t, live, "bob", "f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"sidecar"}`))
}

func caseSSAStatusIgnored(t *testing.T, b *backend) {
	d := deployment(b.ns, "d", "nginx:1.27")
	d.Object["status"] = map[string]any{"replicas": int64(7)}
	live := b.Apply(t, d, "alice", false)
	_, found, _ := unstructured.NestedInt64(live.Object, "status", "replicas")
	assert.False(t, found, "status sent to the main resource is dropped")
	assert.False(t, owns(t, live, "alice", "f:status"))
}

func caseSSAStatusSubresource(t *testing.T, b *backend) {
	b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	st := Object(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: d, namespace: %s}
status: {observedGeneration: 1, replicas: 1}
`, b.ns))
	live, err := mustRes(t, b, st).ApplyStatus(ctx, "d", st, metav1.ApplyOptions{FieldManager: "controller"})
	require.NoError(t, err)
	replicas, _, _ := unstructured.NestedInt64(live.Object, "status", "replicas")
	assert.Equal(t, int64(1), replicas)
	assert.Equal(t, "Apply/status", managers(live)["controller"])
	assert.Equal(t, "Apply", managers(live)["alice"])
	image, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	assert.Len(t, image, 1, "a status write leaves spec alone")
}

func caseSSAMissingManager(t *testing.T, b *backend) {
	obj := cm(b.ns, "c", map[string]any{"a": "1"})
	data, _ := obj.MarshalJSON()
	_, err := mustRes(t, b, obj).Patch(ctx, "c", types.ApplyPatchType, data, metav1.PatchOptions{})
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "want 422, got %v", err)
	assert.Contains(t, err.Error(), "fieldManager")
}

func caseSSAWrongKind(t *testing.T, b *backend) {
	obj := cm(b.ns, "c", map[string]any{"a": "1"})
	secret := Object(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"c","namespace":%q}}`, b.ns))
	data, _ := secret.MarshalJSON()
	_, err := mustRes(t, b, obj).Patch(ctx, "c", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "alice"})
	require.Error(t, err)
	assert.True(t, apierrors.IsBadRequest(err), "want 400, got %v", err)
	_, err = b.Get(obj)
	assert.True(t, apierrors.IsNotFound(err))
}

func caseUpdateManager(t *testing.T, b *backend) {
	ri := mustRes(t, b, cm(b.ns, "c", nil))
	created, err := ri.Create(ctx, cm(b.ns, "c", map[string]any{"a": "1"}), metav1.CreateOptions{FieldManager: "creator"})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"creator": "Update"}, managers(created))
	created.Object["data"] = map[string]any{"a": "2"}
	updated, err := ri.Update(ctx, created, metav1.UpdateOptions{FieldManager: "editor"})
	require.NoError(t, err)
	assert.Equal(t, "Update", managers(updated)["editor"])
	assert.True(t, owns(t, updated, "editor", "f:data", "f:a"))
	assert.False(t, owns(t, updated, "creator", "f:data", "f:a"))
}

func caseUpdateStale(t *testing.T, b *backend) {
	ri := mustRes(t, b, cm(b.ns, "c", nil))
	created, err := ri.Create(ctx, cm(b.ns, "c", map[string]any{"a": "1"}), metav1.CreateOptions{})
	require.NoError(t, err)
	fresh := created.DeepCopy()
	fresh.Object["data"] = map[string]any{"a": "2"}
	_, err = ri.Update(ctx, fresh, metav1.UpdateOptions{})
	require.NoError(t, err)
	created.Object["data"] = map[string]any{"a": "3"}
	_, err = ri.Update(ctx, created, metav1.UpdateOptions{})
	assert.True(t, apierrors.IsConflict(err), "want 409 on a stale resourceVersion, got %v", err)
}

func caseMergePatch(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	live, err := mustRes(t, b, cm(b.ns, "c", nil)).Patch(ctx, "c", types.MergePatchType, []byte(`{"data":{"b":"2"}}`), metav1.PatchOptions{FieldManager: "patcher"})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "1", "b": "2"}, live.Object["data"])
	assert.Equal(t, "Update", managers(live)["patcher"])
}

func caseStrategicPatch(t *testing.T, b *backend) {
	b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.28"}]}}}}`
	live, err := mustRes(t, b, deployment(b.ns, "d", "")).Patch(ctx, "d", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	cs, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	require.Len(t, cs, 1)
	assert.Equal(t, "nginx:1.28", cs[0].(map[string]any)["image"])
	assert.True(t, owns(t, live, "kubectl-edit", "f:spec", "f:template", "f:spec", "f:containers", `k:{"name":"app"}`, "f:image"))
}

func caseJSONPatch(t *testing.T, b *backend) {
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	live, err := mustRes(t, b, cm(b.ns, "c", nil)).Patch(ctx, "c", types.JSONPatchType, []byte(`[{"op":"add","path":"/data/c","value":"3"}]`), metav1.PatchOptions{})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "1", "c": "3"}, live.Object["data"])
}

func caseDryRunCreate(t *testing.T, b *backend) {
	obj := cm(b.ns, "c", map[string]any{"a": "1"})
	data, _ := obj.MarshalJSON()
	out, err := mustRes(t, b, obj).Patch(ctx, "c", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "alice", DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"a": "1"}, out.Object["data"])
	assert.Equal(t, map[string]string{"alice": "Apply"}, managers(out))
	_, err = b.Get(obj)
	assert.True(t, apierrors.IsNotFound(err), "dry-run must not persist, got %v", err)
}

func caseDryRunUpdate(t *testing.T, b *backend) {
	before := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	obj := cm(b.ns, "c", map[string]any{"a": "2"})
	data, _ := obj.MarshalJSON()
	out, err := mustRes(t, b, obj).Patch(ctx, "c", types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "alice", DryRun: []string{metav1.DryRunAll}})
	require.NoError(t, err)
	assert.Equal(t, "2", out.Object["data"].(map[string]any)["a"])
	after := get(t, b, obj)
	assert.Equal(t, "1", after.Object["data"].(map[string]any)["a"])
	assert.Equal(t, before.GetResourceVersion(), after.GetResourceVersion())
}

func caseDryRunDelete(t *testing.T, b *backend) {
	obj := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	require.NoError(t, mustRes(t, b, obj).Delete(ctx, "c", metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}}))
	assert.Equal(t, obj.GetResourceVersion(), get(t, b, obj).GetResourceVersion())
}

func caseCreateExists(t *testing.T, b *backend) {
	ri := mustRes(t, b, cm(b.ns, "c", nil))
	_, err := ri.Create(ctx, cm(b.ns, "c", nil), metav1.CreateOptions{})
	require.NoError(t, err)
	_, err = ri.Create(ctx, cm(b.ns, "c", nil), metav1.CreateOptions{})
	assert.True(t, apierrors.IsAlreadyExists(err), "got %v", err)
}

func caseMissingNamespace(t *testing.T, b *backend) {
	missing := b.ns + "-missing"
	err := applyErr(b, cm(missing, "c", map[string]any{"a": "1"}), "alice", false)
	require.Error(t, err)
	assert.True(t, apierrors.IsNotFound(err), "got %v", err)
	assert.Contains(t, err.Error(), fmt.Sprintf("namespaces %q not found", missing))
}

func caseInvalidName(t *testing.T, b *backend) {
	err := applyErr(b, cm(b.ns, "Bad_Name", map[string]any{"a": "1"}), "alice", false)
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "got %v", err)
	assert.Contains(t, err.Error(), "metadata.name")
}

func caseImmutableSelector(t *testing.T, b *backend) {
	b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	d := deployment(b.ns, "d", "nginx:1.27")
	require.NoError(t, unstructured.SetNestedStringMap(d.Object, map[string]string{"app": "d", "v": "2"}, "spec", "selector", "matchLabels"))
	require.NoError(t, unstructured.SetNestedStringMap(d.Object, map[string]string{"app": "d", "v": "2"}, "spec", "template", "metadata", "labels"))
	err := applyErr(b, d, "alice", false)
	require.Error(t, err)
	assert.True(t, apierrors.IsInvalid(err), "got %v", err)
	assert.Contains(t, err.Error(), "spec.selector")
	assert.Contains(t, err.Error(), "field is immutable")
}

func caseGeneration(t *testing.T, b *backend) {
	live := b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	assert.Equal(t, int64(1), live.GetGeneration())
	live = b.Apply(t, deployment(b.ns, "d", "nginx:1.28"), "alice", false)
	assert.Equal(t, int64(2), live.GetGeneration(), "a spec change bumps generation")
	d := deployment(b.ns, "d", "nginx:1.28")
	d.SetLabels(map[string]string{"team": "payments"})
	live = b.Apply(t, d, "alice", false)
	assert.Equal(t, int64(2), live.GetGeneration(), "a metadata change does not")
	c := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	assert.Equal(t, int64(0), c.GetGeneration(), "ConfigMaps have no generation")
}

func caseDelete(t *testing.T, b *backend) {
	obj := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	ri := mustRes(t, b, obj)
	require.NoError(t, ri.Delete(ctx, "c", metav1.DeleteOptions{}))
	_, err := b.Get(obj)
	assert.True(t, apierrors.IsNotFound(err))
	assert.True(t, apierrors.IsNotFound(ri.Delete(ctx, "c", metav1.DeleteOptions{})))
}

func caseFinalizer(t *testing.T, b *backend) {
	obj := cm(b.ns, "c", map[string]any{"a": "1"})
	obj.SetFinalizers([]string{"example.com/keep"})
	b.Apply(t, obj, "alice", false)
	ri := mustRes(t, b, obj)
	require.NoError(t, ri.Delete(ctx, "c", metav1.DeleteOptions{}))
	live := get(t, b, obj)
	assert.NotNil(t, live.GetDeletionTimestamp(), "an object with finalizers is only marked")
	_, err := ri.Patch(ctx, "c", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{})
	require.NoError(t, err)
	eventually(t, "object gone after its last finalizer", func() bool {
		_, err := b.Get(obj)
		return apierrors.IsNotFound(err)
	})
}

func caseListSelector(t *testing.T, b *backend) {
	for i, tier := range []string{"a", "b", "a"} {
		c := cm(b.ns, fmt.Sprintf("c%d", i), nil)
		c.SetLabels(map[string]string{"tier": tier})
		b.Apply(t, c, "alice", false)
	}
	list, err := mustRes(t, b, cm(b.ns, "x", nil)).List(ctx, metav1.ListOptions{LabelSelector: "tier=a"})
	require.NoError(t, err)
	var names []string
	for _, it := range list.Items {
		names = append(names, it.GetName())
	}
	sort.Strings(names)
	assert.Equal(t, []string{"c0", "c2"}, names)
	assert.NotEmpty(t, list.GetResourceVersion())
}

func caseWatch(t *testing.T, b *backend) {
	ri := mustRes(t, b, cm(b.ns, "x", nil))
	list, err := ri.List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	w, err := ri.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	require.NoError(t, err)
	defer w.Stop()
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "2"}), "alice", false)
	require.NoError(t, ri.Delete(ctx, "c", metav1.DeleteOptions{}))
	var got []watch.EventType
	var rvs []int64
	for range 3 {
		ev := nextEvent(t, w)
		got = append(got, ev.Type)
		u := ev.Object.(*unstructured.Unstructured)
		assert.Equal(t, "c", u.GetName())
		rv, err := strconv.ParseInt(u.GetResourceVersion(), 10, 64)
		require.NoError(t, err)
		rvs = append(rvs, rv)
	}
	assert.Equal(t, []watch.EventType{watch.Added, watch.Modified, watch.Deleted}, got)
	assert.True(t, sort.SliceIsSorted(rvs, func(i, j int) bool { return rvs[i] < rvs[j] }), "resourceVersions increase: %v", rvs)
}

func caseWatchResume(t *testing.T, b *backend) {
	first := b.Apply(t, cm(b.ns, "c", map[string]any{"a": "1"}), "alice", false)
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "2"}), "alice", false)
	b.Apply(t, cm(b.ns, "c", map[string]any{"a": "3"}), "alice", false)
	w, err := mustRes(t, b, first).Watch(ctx, metav1.ListOptions{ResourceVersion: first.GetResourceVersion()})
	require.NoError(t, err)
	defer w.Stop()
	for _, want := range []string{"2", "3"} {
		ev := nextEvent(t, w)
		assert.Equal(t, watch.Modified, ev.Type)
		assert.Equal(t, want, ev.Object.(*unstructured.Unstructured).Object["data"].(map[string]any)["a"])
	}
}

func caseSecretStringData(t *testing.T, b *backend) {
	s := Object(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":%q},"stringData":{"password":"hunter2"}}`, b.ns))
	live := b.Apply(t, s, "alice", false)
	assert.Equal(t, map[string]any{"password": "aHVudGVyMg=="}, live.Object["data"], "stringData is folded into data")
	_, found := live.Object["stringData"]
	assert.False(t, found, "stringData is never stored")
	assert.True(t, owns(t, live, "alice", "f:stringData", "f:password"), "the applier owns what it sent: stringData")
	assert.False(t, owns(t, live, "alice", "f:data"))
	again := b.Apply(t, s, "alice", false)
	assert.Equal(t, live.GetResourceVersion(), again.GetResourceVersion(), "re-applying the same stringData is a no-op")
}

func caseEmptyMetadataMaps(t *testing.T, b *backend) {
	c := cm(b.ns, "c", map[string]any{"a": "1"})
	c.Object["metadata"].(map[string]any)["labels"] = map[string]any{}
	c.Object["metadata"].(map[string]any)["annotations"] = map[string]any{}
	live := b.Apply(t, c, "alice", false)
	_, hasLabels := live.Object["metadata"].(map[string]any)["labels"]
	_, hasAnn := live.Object["metadata"].(map[string]any)["annotations"]
	assert.False(t, hasLabels, "empty labels are not stored")
	assert.False(t, hasAnn, "empty annotations are not stored")
}
