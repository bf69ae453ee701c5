package gitops

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

var deployGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}

// env is a seed-layout repository, a cluster and a Reconciler wired to them. Its
// namespaces are unique (payments-<random>-oslo...), so tests can share a real
// control plane, where namespaces never go away.
type env struct {
	repo    *gitopstest.Repo
	cluster *gitopstest.Cluster
	counter *gitopstest.RequestCounter
	rec     *Reconciler
	history *History // the audit trail
	layout  map[string]string
	apps    map[string]*Application
	drifts  chan string
	ns      string // "payments-<random>"
}

// backends runs a test on the in-memory API server and on the real control plane.
func backends(t *testing.T, test func(t *testing.T, e *env)) {
	t.Run("fake", func(t *testing.T) { test(t, newEnv(t, gitopstest.NewCluster(t).Config)) })
	t.Run("real", func(t *testing.T) { test(t, newEnv(t, gitopstest.StartControlPlane(t).Config)) })
}

func newEnv(t *testing.T, base *rest.Config) *env {
	t.Helper()
	cfg, counter := gitopstest.CountRequests(base)
	repo := gitopstest.NewRepo(t)
	ns := "payments-" + strings.ToLower(rand.String(5))
	layout := map[string]string{}
	for path, content := range gitopstest.SeedLayout(repo.URL()) {
		layout[path] = strings.ReplaceAll(content, "payments-", ns+"-")
	}
	repo.WriteFiles(layout).Commit("seed layout")
	sources, err := source.NewDiskCache(source.CacheOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	proj := &AppProject{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(layout["projects/ecommerce-backend.yaml"]), proj))
	// The audit trail stays in memory: the default's Events would count as writes
	// (TestDefaultRecorder covers them).
	history := &History{}
	rec, err := NewReconciler(ReconcilerOptions{Config: cfg, Sources: sources, Projects: []*AppProject{proj}, ResolveInterval: -1, Recorder: history})
	require.NoError(t, err)
	t.Cleanup(rec.Close)
	e := &env{repo: repo, cluster: gitopstest.ClusterFor(t, base), counter: counter, rec: rec, history: history, layout: layout,
		apps: map[string]*Application{}, drifts: make(chan string, 100), ns: ns}
	rec.OnDrift(func(key string) { e.drifts <- key })
	for path, content := range layout {
		if strings.HasPrefix(path, "applications/") {
			apps, err := ParseApplications(path, []byte(content))
			require.NoError(t, err)
			e.apps[apps[0].Name] = apps[0]
		}
	}
	return e
}

func (e *env) reconcile(t *testing.T, name string, trigger Trigger) *Result {
	t.Helper()
	res, err := e.rec.Reconcile(context.Background(), e.apps[name], trigger)
	require.NoError(t, err, "reconcile %s", name)
	return res
}

// replicas reads the payment-service Deployment's replicas in <ns>-<suffix>.
func (e *env) replicas(t *testing.T, suffix string) int64 {
	t.Helper()
	d, err := e.cluster.Dynamic.Resource(deployGVR).Namespace(e.ns+"-"+suffix).Get(context.Background(), "payment-service", metav1.GetOptions{})
	require.NoError(t, err)
	n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	return n
}

func (e *env) commit(t *testing.T, path, old, new, msg string) {
	t.Helper()
	require.Contains(t, e.layout[path], old)
	e.layout[path] = strings.Replace(e.layout[path], old, new, 1)
	e.repo.Write(path, e.layout[path]).Commit(msg)
}

func action(res *Result, ref string) string {
	for _, o := range res.Objects {
		if o.Ref == ref {
			return o.Action
		}
	}
	return "<absent>"
}

func TestReconcileSeedScenario(t *testing.T) { backends(t, testReconcileSeedScenario) }

func testReconcileSeedScenario(t *testing.T, e *env) {
	oslo := e.ns + "-oslo"
	// First sync: namespaces and quotas, then the Oslo overlay.
	res := e.reconcile(t, "cluster-config", TriggerManual)
	assert.Equal(t, Synced, res.Sync)
	assert.Equal(t, "created", action(res, "Namespace/"+oslo))
	res = e.reconcile(t, "payment-service-oslo", TriggerManual)
	assert.Equal(t, Synced, res.Sync, "conditions: %v", res.Conditions)
	assert.True(t, res.SyncRan)
	assert.Equal(t, "created", action(res, "Deployment/"+oslo+"/payment-service"))
	assert.Equal(t, "created", action(res, "Service/"+oslo+"/payment-service"))
	assert.Equal(t, int64(5), e.replicas(t, "oslo"))

	// Nothing changed: no render, no diff, no API request.
	before, renders := e.counter.Total(), e.rec.Renderer().Stats().Renders
	res = e.reconcile(t, "payment-service-oslo", TriggerInterval)
	assert.True(t, res.Cached)
	assert.Equal(t, Synced, res.Sync)
	assert.Equal(t, before, e.counter.Total(), "a no-op reconcile makes no API request")
	assert.Equal(t, renders, e.rec.Renderer().Stats().Renders, "a no-op reconcile does not render")

	// A commit changes the replicas: the diff shows it and the sync applies it.
	e.commit(t, "apps/overlays/production-oslo/patch-replicas.yaml", "replicas: 5", "replicas: 7", "scale oslo to 7")
	writes := e.counter.Writes()
	res = e.reconcile(t, "payment-service-oslo", TriggerWebhook)
	assert.Equal(t, "configured", action(res, "Deployment/"+oslo+"/payment-service"))
	assert.Equal(t, "unchanged", action(res, "Service/"+oslo+"/payment-service"))
	assert.Equal(t, int64(7), e.replicas(t, "oslo"))
	assert.LessOrEqual(t, e.counter.Writes()-writes, int64(2), "one write for the Deployment (and the inventory at most)")
	select {
	case key := <-e.drifts:
		t.Fatalf("the sync's own write was reported as drift of %s", key)
	case <-time.After(500 * time.Millisecond):
	}

	// Someone scales by hand: the watch reports drift and selfHeal reverts only that object.
	_, err := e.cluster.Dynamic.Resource(deployGVR).Namespace(oslo).Patch(context.Background(), "payment-service",
		types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	select {
	case key := <-e.drifts:
		assert.Equal(t, "argocd/payment-service-oslo", key)
	case <-time.After(20 * time.Second):
		t.Fatal("no drift event")
	}
	renders = e.rec.Renderer().Stats().Renders
	res = e.reconcile(t, "payment-service-oslo", TriggerDrift)
	assert.True(t, res.SyncRan)
	assert.Equal(t, "configured", action(res, "Deployment/"+oslo+"/payment-service"))
	assert.Equal(t, "unchanged", action(res, "Service/"+oslo+"/payment-service"), "only the drifted object is touched")
	assert.Equal(t, Synced, res.Sync)
	assert.Equal(t, int64(7), e.replicas(t, "oslo"))
	assert.Equal(t, renders, e.rec.Renderer().Stats().Renders, "selfHeal does not render")

	// A file removed from Git is pruned.
	e.commit(t, "apps/base/kustomization.yaml", "- service.yaml\n", "", "drop the service")
	res = e.reconcile(t, "payment-service-oslo", TriggerInterval)
	assert.Equal(t, "deleted", action(res, "Service/"+oslo+"/payment-service"))
	_, err = e.cluster.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "services"}).Namespace(oslo).Get(context.Background(), "payment-service", metav1.GetOptions{})
	assert.True(t, apierrors.IsNotFound(err), "pruned, got %v", err)

	// The audit trail has every sync, with its revision and trigger.
	recs := e.history.Records("argocd/payment-service-oslo")
	var triggers []Trigger
	for _, r := range recs {
		triggers = append(triggers, r.Trigger)
		assert.Equal(t, "Succeeded", r.Result)
		assert.Len(t, r.Revision, 40)
	}
	assert.Equal(t, []Trigger{TriggerManual, TriggerWebhook, TriggerDrift, TriggerInterval}, triggers)
}

func TestManualSyncPolicyOnlyReports(t *testing.T) { backends(t, testManualSyncPolicyOnlyReports) }

func testManualSyncPolicyOnlyReports(t *testing.T, e *env) {
	e.reconcile(t, "cluster-config", TriggerManual)
	app := e.apps["payment-service-bergen"]
	app.Spec.SyncPolicy = nil
	writes := e.counter.Writes()
	res := e.reconcile(t, "payment-service-bergen", TriggerInterval)
	assert.Equal(t, OutOfSync, res.Sync)
	assert.False(t, res.SyncRan)
	assert.Equal(t, "create", action(res, "Deployment/"+e.ns+"-bergen/payment-service"))
	assert.Equal(t, writes, e.counter.Writes(), "manual sync policy writes nothing")

	res, err := e.rec.Sync(context.Background(), app, SyncRequest{})
	require.NoError(t, err)
	assert.Equal(t, Synced, res.Sync)
	assert.Equal(t, int64(1), e.replicas(t, "bergen"))
}

func TestPolicyViolationWritesNothing(t *testing.T) { backends(t, testPolicyViolationWritesNothing) }

func testPolicyViolationWritesNothing(t *testing.T, e *env) {
	e.reconcile(t, "cluster-config", TriggerManual)
	e.repo.Write("apps/base/clusterrole.yaml", "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: "+e.ns+"-admin}\nrules: []\n")
	e.commit(t, "apps/base/kustomization.yaml", "- service.yaml\n", "- service.yaml\n- clusterrole.yaml\n", "add a cluster role")
	writes := e.counter.Writes()
	res, err := e.rec.Reconcile(context.Background(), e.apps["payment-service-oslo"], TriggerInterval)
	require.Error(t, err)
	var pe *PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Contains(t, err.Error(), "ClusterRole/"+e.ns+"-admin: cluster-scoped kind ClusterRole.rbac.authorization.k8s.io is not in clusterResourceWhitelist")
	require.NotEmpty(t, res.Conditions)
	assert.Equal(t, ConditionPolicy, res.Conditions[0].Type)
	assert.Equal(t, writes, e.counter.Writes(), "nothing written")
	recs := e.history.Records("argocd/payment-service-oslo")
	require.Len(t, recs, 1)
	assert.Equal(t, "Failed", recs[0].Result)
}

func TestGitServerGoneKeepsLastGoodState(t *testing.T) { backends(t, testGitServerGone) }

func testGitServerGone(t *testing.T, e *env) {
	e.reconcile(t, "cluster-config", TriggerManual)
	good := e.reconcile(t, "payment-service-oslo", TriggerManual)
	e.repo.Remove(".git") // the repository goes away
	writes := e.counter.Writes()
	res, err := e.rec.Reconcile(context.Background(), e.apps["payment-service-oslo"], TriggerInterval)
	require.Error(t, err)
	assert.Equal(t, good.Revision, res.Revision)
	assert.Equal(t, Synced, res.Sync)
	var kinds []string
	for _, c := range res.Conditions {
		kinds = append(kinds, c.Type)
	}
	assert.Equal(t, []string{ConditionSource, ConditionStaleRevision}, kinds)
	assert.Equal(t, writes, e.counter.Writes(), "the deployed state is untouched")
	assert.Equal(t, int64(5), e.replicas(t, "oslo"))
}

func TestTwoApplicationsInParallel(t *testing.T) { backends(t, testTwoApplicationsInParallel) }

func testTwoApplicationsInParallel(t *testing.T, e *env) {
	e.reconcile(t, "cluster-config", TriggerManual)
	var wg sync.WaitGroup
	results := make([]*Result, 2)
	errs := make([]error, 2)
	for i, name := range []string{"payment-service-oslo", "payment-service-bergen"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.rec.Reconcile(context.Background(), e.apps[name], TriggerManual)
		}()
	}
	wg.Wait()
	for i := range results {
		require.NoError(t, errs[i])
		assert.Equal(t, Synced, results[i].Sync)
	}
	assert.Equal(t, int64(5), e.replicas(t, "oslo"))
	assert.Equal(t, int64(1), e.replicas(t, "bergen"))
}

func TestNoopReconcileSeesHealthChanges(t *testing.T) {
	backends(t, testNoopReconcileSeesHealthChanges)
}

// A no-op reconcile re-reads only the health of objects the watch saw change, and
// still makes no API request.
func testNoopReconcileSeesHealthChanges(t *testing.T, e *env) {
	e.reconcile(t, "cluster-config", TriggerManual)
	res := e.reconcile(t, "payment-service-bergen", TriggerManual)
	require.Equal(t, "Progressing", string(res.Health), "no controller has observed the Deployment yet")

	// A controller reports the rollout done (through /status, as kube-controller-manager does).
	ns := e.ns + "-bergen"
	d, err := e.cluster.Dynamic.Resource(deployGVR).Namespace(ns).Get(context.Background(), "payment-service", metav1.GetOptions{})
	require.NoError(t, err)
	status := fmt.Sprintf(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"payment-service","namespace":%q},`+
		`"status":{"observedGeneration":%d,"replicas":1,"updatedReplicas":1,"readyReplicas":1,"availableReplicas":1,`+
		`"conditions":[{"type":"Available","status":"True","reason":"MinimumReplicasAvailable"},{"type":"Progressing","status":"True","reason":"NewReplicaSetAvailable"}]}}`, ns, d.GetGeneration())
	_, err = e.cluster.Dynamic.Resource(deployGVR).Namespace(ns).Patch(context.Background(), "payment-service", types.ApplyPatchType, []byte(status),
		metav1.PatchOptions{FieldManager: "kube-controller-manager", Force: ptrTrue()}, "status")
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		before := e.counter.Total()
		res := e.reconcile(t, "payment-service-bergen", TriggerInterval)
		return res.Cached && e.counter.Total() == before && res.Health == "Healthy"
	}, 20*time.Second, 50*time.Millisecond, "the status change arrives by watch and the cached reconcile reports Healthy")
}

func ptrTrue() *bool { b := true; return &b }

func TestChangedSpecIsNeverAnsweredFromMemory(t *testing.T) {
	e := newEnv(t, gitopstest.NewCluster(t).Config)
	e.reconcile(t, "cluster-config", TriggerManual)
	app := e.apps["payment-service-oslo"]
	e.reconcile(t, "payment-service-oslo", TriggerManual)
	assert.True(t, e.reconcile(t, "payment-service-oslo", TriggerInterval).Cached)

	// Same revision, but the Application now ignores spec.replicas and points at
	// another overlay: the reconcile must render and compare again.
	app.Spec.IgnoreDifferences = []ResourceIgnoreDef{{Group: "apps", Kind: "Deployment", JSONPointers: []string{"/spec/replicas"}}}
	res := e.reconcile(t, "payment-service-oslo", TriggerInterval)
	assert.False(t, res.Cached)
	assert.Equal(t, Synced, res.Sync)
	app.Spec.Source.Path = "apps/overlays/staging-bergen"
	app.Spec.Destination.Namespace = e.ns + "-bergen"
	res = e.reconcile(t, "payment-service-oslo", TriggerInterval)
	assert.False(t, res.Cached)
	assert.Equal(t, "created", action(res, "Deployment/"+e.ns+"-bergen/payment-service"))
}
