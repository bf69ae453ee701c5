package gitopstest

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// backend is one side of the conformance suite: the fake (NewCluster) or the real
// control plane, each with a fresh namespace per case.
type backend struct {
	name string
	*Cluster
	ns string
}

// known reports whether this backend is the fake and the case observes the named
// documented difference; the name must be in KnownDifferences.
func (b *backend) known(t *testing.T, difference string) bool {
	t.Helper()
	found := false
	for _, d := range KnownDifferences() {
		found = found || d.Name == difference
	}
	require.True(t, found, "known difference %q is not documented in KnownDifferences", difference)
	if b.name == "fake" {
		t.Logf("fake backend: known difference %q asserted", difference)
		return true
	}
	return false
}

// conformanceCases run unchanged against both backends. Each asserts observable results
// (objects, errors, resourceVersions, managedFields, watch events); where the fake
// cannot match, the case asserts the fake's documented behaviour under a named
// KnownDifference instead.
var conformanceCases = []struct {
	name string
	run  func(t *testing.T, b *backend)
}{
	{"ssa-create", caseSSACreate},
	{"ssa-noop-keeps-resourceversion", caseSSANoop},
	{"ssa-update-same-manager", caseSSAUpdateSameManager},
	{"ssa-conflict-without-force", caseSSAConflict},
	{"ssa-force-takes-ownership", caseSSAForce},
	{"ssa-shared-ownership-same-value", caseSSAShared},
	{"ssa-removed-field-is-removed", caseSSARemoveField},
	{"ssa-removed-field-kept-when-co-owned", caseSSARemoveCoOwned},
	{"ssa-list-merge-by-key", caseSSAListMerge},
	{"ssa-status-ignored-on-main-resource", caseSSAStatusIgnored},
	{"ssa-status-subresource", caseSSAStatusSubresource},
	{"ssa-missing-field-manager", caseSSAMissingManager},
	{"ssa-wrong-kind-for-resource", caseSSAWrongKind},
	{"update-records-update-manager", caseUpdateManager},
	{"update-stale-resourceversion-conflicts", caseUpdateStale},
	{"merge-patch", caseMergePatch},
	{"strategic-merge-patch-containers-by-name", caseStrategicPatch},
	{"json-patch", caseJSONPatch},
	{"dry-run-apply-create-writes-nothing", caseDryRunCreate},
	{"dry-run-apply-update-writes-nothing", caseDryRunUpdate},
	{"dry-run-delete-writes-nothing", caseDryRunDelete},
	{"create-already-exists", caseCreateExists},
	{"create-in-missing-namespace", caseMissingNamespace},
	{"invalid-name", caseInvalidName},
	{"immutable-selector", caseImmutableSelector},
	{"generation-tracks-spec", caseGeneration},
	{"delete", caseDelete},
	{"delete-with-finalizer", caseFinalizer},
	{"list-label-selector", caseListSelector},
	{"watch-events", caseWatch},
	{"watch-resume-from-resourceversion", caseWatchResume},
	{"crd-established-and-discovered", caseCRDEstablished},
	{"custom-resource-apply", caseCRApply},
	{"custom-resource-pruning-and-defaults", caseCRPruneDefault},
	{"custom-resource-list-map-keys", caseCRListMapKeys},
	{"custom-resource-status-subresource", caseCRStatus},
	{"cluster-scoped-object", caseClusterScoped},
	{"secret-stringdata-folded-into-data", caseSecretStringData},
	{"empty-metadata-maps-dropped", caseEmptyMetadataMaps},
	{"builtin-defaulting", caseDefaulting},
	{"owner-garbage-collection", caseGarbageCollection},
	{"namespace-deletion", caseNamespaceDeletion},
}

func TestConformance(t *testing.T) {
	backends := []struct {
		name  string
		start func(t *testing.T) *Cluster
	}{
		{"fake", func(t *testing.T) *Cluster { return NewCluster(t) }},
		{"real", func(t *testing.T) *Cluster { return ClusterFor(t, StartControlPlane(t).Config) }},
	}
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			c := be.start(t)
			for _, tc := range conformanceCases {
				t.Run(tc.name, func(t *testing.T) {
					tc.run(t, &backend{name: be.name, Cluster: c, ns: c.NewNamespace(t)})
				})
			}
		})
	}
}

// --- helpers ---

func cm(ns, name string, data map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"data":     data,
	}}
}

func deployment(ns, name, image string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"replicas": int64(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": name}},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "app", "image": image},
				}},
			},
		},
	}}
}

// managers returns manager -> operation (+"/"+subresource when set) of an object.
func managers(u *unstructured.Unstructured) map[string]string {
	out := map[string]string{}
	for _, e := range u.GetManagedFields() {
		op := string(e.Operation)
		if e.Subresource != "" {
			op += "/" + e.Subresource
		}
		out[e.Manager] = op
	}
	return out
}

// owns reports whether manager's managedFields entry mentions the field set key
// (e.g. `f:data` then `f:key`), walking the fieldsV1 JSON.
func owns(t *testing.T, u *unstructured.Unstructured, manager string, path ...string) bool {
	t.Helper()
	for _, e := range u.GetManagedFields() {
		if e.Manager != manager || e.FieldsV1 == nil {
			continue
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(e.FieldsV1.Raw, &m))
		cur := m
		ok := true
		for _, p := range path {
			next, found := cur[p].(map[string]any)
			if !found {
				ok = false
				break
			}
			cur = next
		}
		if ok {
			return true
		}
	}
	return false
}

func get(t *testing.T, b *backend, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live, err := b.Get(obj)
	require.NoError(t, err)
	return live
}

func mustRes(t *testing.T, b *backend, obj *unstructured.Unstructured) dynamic.ResourceInterface {
	t.Helper()
	ri, err := b.Resource(obj)
	require.NoError(t, err)
	return ri
}

var ctx = context.Background()

// eventually polls cond for up to 20s (real servers settle asynchronously).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nextEvent(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case ev, ok := <-w.ResultChan():
		require.True(t, ok, "watch closed")
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no watch event within 20s")
		return watch.Event{}
	}
}

func gvrOf(t *testing.T, b *backend, gvk schema.GroupVersionKind) schema.GroupVersionResource {
	t.Helper()
	m, err := b.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	require.NoError(t, err)
	return m.Resource
}

func applyErr(b *backend, obj *unstructured.Unstructured, manager string, force bool) error {
	_, err := b.TryApply(obj, manager, force)
	return err
}
