package gitopstest

import (
	"fmt"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// widgetCRD is a CRD in a group unique to the case (CRDs are cluster-scoped and the real
// control plane is shared by every case).
func widgetCRD(t *testing.T, b *backend) (*unstructured.Unstructured, schema.GroupVersionKind) {
	group := b.ns + ".example.com"
	crd := Object(t, fmt.Sprintf(`
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string, default: blue}
              items:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    value: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
`, group))
	return crd, schema.GroupVersionKind{Group: group, Version: "v1", Kind: "Widget"}
}

// installWidgets applies the CRD and waits until it is Established and discoverable.
func installWidgets(t *testing.T, b *backend) schema.GroupVersionKind {
	crd, gvk := widgetCRD(t, b)
	b.Apply(t, crd, "alice", false)
	eventually(t, "CRD Established", func() bool {
		live, err := b.Get(crd)
		if err != nil {
			return false
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		for _, c := range conds {
			m := c.(map[string]any)
			if m["type"] == "Established" && m["status"] == "True" {
				return true
			}
		}
		return false
	})
	eventually(t, "Widget discoverable", func() bool {
		b.Mapper.Reset()
		_, err := b.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		return err == nil
	})
	return gvk
}

func widget(gvk schema.GroupVersionKind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func caseCRDEstablished(t *testing.T, b *backend) {
	gvk := installWidgets(t, b)
	assert.Equal(t, schema.GroupVersionResource{Group: gvk.Group, Version: "v1", Resource: "widgets"}, gvrOf(t, b, gvk))
	crd, _ := widgetCRD(t, b)
	live := get(t, b, crd)
	accepted, _, _ := unstructured.NestedString(live.Object, "status", "acceptedNames", "kind")
	assert.Equal(t, "Widget", accepted)
	stored, _, _ := unstructured.NestedStringSlice(live.Object, "status", "storedVersions")
	assert.Equal(t, []string{"v1"}, stored)
}

func caseCRApply(t *testing.T, b *backend) {
	gvk := installWidgets(t, b)
	first := b.Apply(t, widget(gvk, b.ns, "w", map[string]any{"size": int64(3)}), "alice", false)
	size, _, _ := unstructured.NestedInt64(first.Object, "spec", "size")
	assert.Equal(t, int64(3), size)
	assert.Equal(t, int64(1), first.GetGeneration())
	assert.True(t, owns(t, first, "alice", "f:spec", "f:size"))
	again := b.Apply(t, widget(gvk, b.ns, "w", map[string]any{"size": int64(3)}), "alice", false)
	assert.Equal(t, first.GetResourceVersion(), again.GetResourceVersion())
	err := applyErr(b, widget(gvk, b.ns, "w", map[string]any{"size": int64(4)}), "bob", false)
	assert.True(t, apierrors.IsConflict(err), "got %v", err)
}

func caseCRPruneDefault(t *testing.T, b *backend) {
	gvk := installWidgets(t, b)
	live := b.Apply(t, widget(gvk, b.ns, "w", map[string]any{"size": int64(1)}), "alice", false)
	color, _, _ := unstructured.NestedString(live.Object, "spec", "color")
	assert.Equal(t, "blue", color, "schema default applied")
	assert.False(t, owns(t, live, "alice", "f:spec", "f:color"), "a defaulted field is not owned")

	w := widget(gvk, b.ns, "w2", map[string]any{"size": int64(1), "unknown": "x"})
	created, err := mustRes(t, b, w).Create(ctx, w, metav1.CreateOptions{FieldValidation: "Ignore"})
	require.NoError(t, err)
	_, found, _ := unstructured.NestedString(created.Object, "spec", "unknown")
	assert.False(t, found, "unknown field pruned")

	err = applyErr(b, widget(gvk, b.ns, "w3", map[string]any{"size": int64(1), "unknown": "x"}), "alice", false)
	require.Error(t, err, "server-side apply rejects fields the schema does not declare")
	assert.Contains(t, err.Error(), "unknown")
}

func caseCRListMapKeys(t *testing.T, b *backend) {
	gvk := installWidgets(t, b)
	b.Apply(t, widget(gvk, b.ns, "w", map[string]any{"items": []any{map[string]any{"name": "a", "value": "1"}}}), "alice", false)
	live := b.Apply(t, widget(gvk, b.ns, "w", map[string]any{"items": []any{map[string]any{"name": "b", "value": "2"}}}), "bob", false)
	items, _, _ := unstructured.NestedSlice(live.Object, "spec", "items")
	var names []string
	for _, it := range items {
		names = append(names, it.(map[string]any)["name"].(string))
	}
	sort.Strings(names)
	assert.Equal(t, []string{"a", "b"}, names, "list-type map merges by key")
	assert.True(t, owns(t, live, "bob", "f:spec", "f:items", `k:{"name":"b"}`))
}

func caseCRStatus(t *testing.T, b *backend) {
	gvk := installWidgets(t, b)
	w := widget(gvk, b.ns, "w", map[string]any{"size": int64(1)})
	w.Object["status"] = map[string]any{"phase": "Ignored"}
	live := b.Apply(t, w, "alice", false)
	_, found, _ := unstructured.NestedString(live.Object, "status", "phase")
	assert.False(t, found, "status on the main resource is dropped when status is a subresource")
	st := widget(gvk, b.ns, "w", nil)
	delete(st.Object, "spec")
	st.Object["status"] = map[string]any{"phase": "Ready"}
	live, err := mustRes(t, b, st).ApplyStatus(ctx, "w", st, metav1.ApplyOptions{FieldManager: "controller"})
	require.NoError(t, err)
	phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
	assert.Equal(t, "Ready", phase)
	assert.Equal(t, int64(1), live.GetGeneration(), "a status write does not bump generation")
}

func caseClusterScoped(t *testing.T, b *backend) {
	role := Object(t, fmt.Sprintf(`
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %s-reader}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
`, b.ns))
	live := b.Apply(t, role, "alice", false)
	assert.Empty(t, live.GetNamespace())
	assert.True(t, owns(t, live, "alice", "f:rules"))
}

func caseDefaulting(t *testing.T, b *backend) {
	live := b.Apply(t, deployment(b.ns, "d", "nginx:1.27"), "alice", false)
	strategy, _, _ := unstructured.NestedString(live.Object, "spec", "strategy", "type")
	cs, _, _ := unstructured.NestedSlice(live.Object, "spec", "template", "spec", "containers")
	pullPolicy := cs[0].(map[string]any)["imagePullPolicy"]
	if b.known(t, "no-builtin-defaulting") {
		assert.Empty(t, strategy)
		assert.Nil(t, pullPolicy)
		return
	}
	assert.Equal(t, "RollingUpdate", strategy)
	assert.Equal(t, "IfNotPresent", pullPolicy)
	assert.False(t, owns(t, live, "alice", "f:spec", "f:strategy"), "defaults are not owned by the applier")
}

func caseGarbageCollection(t *testing.T, b *backend) {
	parent := b.Apply(t, cm(b.ns, "parent", map[string]any{"a": "1"}), "alice", false)
	child := cm(b.ns, "child", map[string]any{"a": "1"})
	child.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "parent", UID: parent.GetUID()}})
	b.Apply(t, child, "alice", false)
	require.NoError(t, mustRes(t, b, parent).Delete(ctx, "parent", metav1.DeleteOptions{}))
	_, err := b.Get(child)
	if b.known(t, "garbage-collection") {
		assert.True(t, apierrors.IsNotFound(err), "the fake deletes owned objects with their owner")
		return
	}
	assert.NoError(t, err, "without a controller manager nothing is garbage-collected")
}

func caseNamespaceDeletion(t *testing.T, b *backend) {
	ns := b.ns + "-gone"
	b.Apply(t, Object(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns)), "alice", false)
	inside := b.Apply(t, cm(ns, "c", map[string]any{"a": "1"}), "alice", false)
	nsObj := Object(t, fmt.Sprintf(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns))
	require.NoError(t, mustRes(t, b, nsObj).Delete(ctx, ns, metav1.DeleteOptions{}))
	if b.known(t, "namespace-deletion") {
		_, err := b.Get(nsObj)
		assert.True(t, apierrors.IsNotFound(err))
		_, err = b.Get(inside)
		assert.True(t, apierrors.IsNotFound(err))
		return
	}
	live := get(t, b, nsObj)
	phase, _, _ := unstructured.NestedString(live.Object, "status", "phase")
	assert.Equal(t, "Terminating", phase)
	_, err := b.Get(inside)
	assert.NoError(t, err, "without a namespace controller the contents stay")
	err = applyErr(b, cm(ns, "new", map[string]any{"a": "1"}), "alice", false)
	assert.True(t, apierrors.IsForbidden(err), "creating in a terminating namespace is forbidden, got %v", err)
}
