package health_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"

	"github.com/driftless-dev/driftless/health"
)

// cluster is a dynamic fake client with a RESTMapper for the kinds the tests use.
type cluster struct {
	t      *testing.T
	client *dynamicfake.FakeDynamicClient
	mapper *meta.DefaultRESTMapper
	getter health.DynamicGetter
}

func newCluster(t *testing.T, objs ...string) *cluster {
	t.Helper()
	// The preferred versions, for refs that name none.
	mapper := meta.NewDefaultRESTMapper([]schema.GroupVersion{
		{Group: "apps", Version: "v1"}, {Group: "batch", Version: "v1"}, {Version: "v1"}, {Group: "example.com", Version: "v1"},
	})
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "batch", Version: "v1", Kind: "Job"},
		{Version: "v1", Kind: "ConfigMap"},
		{Group: "example.com", Version: "v1", Kind: "Widget"},
	} {
		mapper.Add(gvk, meta.RESTScopeNamespace)
	}
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	var initial []runtime.Object
	for _, y := range objs {
		initial = append(initial, object(t, y))
	}
	client := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), initial...)
	return &cluster{t: t, client: client, mapper: mapper, getter: health.DynamicGetter{Client: client, Mapper: mapper}}
}

// put creates or replaces an object, as a controller writing status would.
func (c *cluster) put(y string) error {
	obj := object(c.t, y)
	mapping, err := c.mapper.RESTMapping(obj.GroupVersionKind().GroupKind(), obj.GroupVersionKind().Version)
	if err != nil {
		return err
	}
	ri := c.client.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	ctx := context.Background()
	if _, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{}); err != nil {
		_, err = ri.Create(ctx, obj, metav1.CreateOptions{})
		return err
	}
	_, err = ri.Update(ctx, obj, metav1.UpdateOptions{})
	return err
}

// controller plays the part of the cluster's controllers: after Wait's check number i
// it writes steps[i] from its own goroutine, and Wait goes on only once the write is
// stored. So check i+1 sees exactly steps[0..i], without any sleep.
type controller struct {
	polls chan []health.ObjectResult
	ack   chan struct{}
	done  chan struct{}
	seen  [][]health.ObjectResult // owned by the goroutine until done is closed
	err   error
}

func startController(c *cluster, steps ...[]string) *controller {
	ctl := &controller{polls: make(chan []health.ObjectResult), ack: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(ctl.done)
		for results := range ctl.polls {
			ctl.seen = append(ctl.seen, results)
			if i := len(ctl.seen) - 1; i < len(steps) {
				for _, y := range steps[i] {
					if err := c.put(y); err != nil && ctl.err == nil {
						ctl.err = fmt.Errorf("step %d: %w", i, err)
					}
				}
			}
			ctl.ack <- struct{}{}
		}
	}()
	return ctl
}

// onPoll is the WaitOptions.OnPoll hook that hands each check to the controller.
func (ctl *controller) onPoll(results []health.ObjectResult) {
	ctl.polls <- results
	<-ctl.ack
}

// stop ends the goroutine and returns, per check, the status of every object.
func (ctl *controller) stop(t *testing.T) [][]health.Status {
	t.Helper()
	close(ctl.polls)
	<-ctl.done
	require.NoError(t, ctl.err)
	var out [][]health.Status
	for _, results := range ctl.seen {
		row := make([]health.Status, len(results))
		for i, r := range results {
			row[i] = r.Status
		}
		out = append(out, row)
	}
	return out
}

func deployment(gen, observed, updated, available int, extra string) string {
	return fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: %d}
spec: {replicas: 3}
status: {observedGeneration: %d, replicas: 3, updatedReplicas: %d, availableReplicas: %d%s}`, gen, observed, updated, available, extra)
}

const (
	jobRunning  = `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate, namespace: shop}, status: {startTime: "2026-01-02T03:00:00Z", active: 1}}`
	jobComplete = `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate, namespace: shop}, status: {succeeded: 1, conditions: [{type: Complete, status: "True"}]}}`
	jobFailed   = `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate, namespace: shop}, status: {failed: 3, conditions: [{type: Failed, status: "True", reason: BackoffLimitExceeded, message: Job has reached the specified backoff limit}]}}`
	configMap   = `{apiVersion: v1, kind: ConfigMap, metadata: {name: cfg, namespace: shop}}`
	deadline    = `, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: 'ReplicaSet "web-2" has timed out progressing.'}]`
)

var (
	webRef = health.Ref{Group: "apps", Kind: "Deployment", Namespace: "shop", Name: "web"}
	jobRef = health.Ref{Group: "batch", Version: "v1", Kind: "Job", Namespace: "shop", Name: "migrate"}
	cfgRef = health.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "cfg"}
	nsRef  = health.Ref{Kind: "Namespace", Name: "shop"}
)

// testTimeout bounds the waits that are expected to succeed, so a failing test ends soon.
const testTimeout = 10 * time.Second

// fast polls without delay: the controller goroutine paces the checks.
func fast(ctl *controller) health.WaitOptions {
	return health.WaitOptions{Interval: time.Millisecond, Timeout: testTimeout, OnPoll: ctl.onPoll}
}

func TestWaitRollout(t *testing.T) {
	// A rollout to a new spec (generation 2) seen from just after the apply: the status
	// still describes generation 1, the ConfigMap is not created yet.
	c := newCluster(t, deployment(2, 1, 3, 3, ""), jobRunning)
	ctl := startController(c,
		[]string{deployment(2, 2, 1, 3, ""), configMap},
		[]string{deployment(2, 2, 3, 2, "")},
		[]string{deployment(2, 2, 3, 3, "")},
		[]string{jobComplete},
	)
	results, err := health.Wait(t.Context(), c.getter, []health.Ref{webRef, jobRef, cfgRef}, fast(ctl))
	seen := ctl.stop(t)
	require.NoError(t, err)

	P, H, M := health.Progressing, health.Healthy, health.Missing
	assert.Equal(t, [][]health.Status{
		{P, P, M}, // generation 2 not observed, Job running, ConfigMap missing
		{P, P, H}, // 1/3 updated
		{P, P, H}, // 2/3 available
		{H, P, H}, // rolled out; the Job still runs
		{H, H, H},
	}, seen)
	assert.Equal(t, []health.ObjectResult{
		{Ref: webRef, Result: health.Result{Status: H, Message: "3/3 replicas available"}},
		{Ref: jobRef, Result: health.Result{Status: H, Message: "Job completed (1 succeeded)"}},
		{Ref: cfgRef, Result: health.Result{Status: H, Message: "ConfigMap exists"}},
	}, results)
}

func TestWaitNeedsAllHealthyAtOnce(t *testing.T) {
	// The Deployment is Healthy first, then a new rollout makes it Progressing while the
	// Job completes: Wait must not return until both are Healthy in the same check.
	c := newCluster(t, deployment(1, 1, 3, 3, ""), jobRunning)
	ctl := startController(c,
		[]string{deployment(2, 2, 1, 3, ""), jobComplete},
		[]string{deployment(2, 2, 3, 3, "")},
	)
	_, err := health.Wait(t.Context(), c.getter, []health.Ref{webRef, jobRef}, fast(ctl))
	seen := ctl.stop(t)
	require.NoError(t, err)
	P, H := health.Progressing, health.Healthy
	assert.Equal(t, [][]health.Status{{H, P}, {P, H}, {H, H}}, seen)
}

func TestWaitFailFast(t *testing.T) {
	c := newCluster(t, deployment(1, 1, 3, 3, ""), jobRunning)
	ctl := startController(c, []string{jobFailed})
	opts := fast(ctl)
	opts.FailFast = true
	results, err := health.Wait(t.Context(), c.getter, []health.Ref{webRef, jobRef}, opts)
	seen := ctl.stop(t)

	var degraded *health.DegradedError
	require.ErrorAs(t, err, &degraded)
	assert.EqualError(t, err, "1 objects degraded: Job.batch/shop/migrate: Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit")
	assert.Equal(t, []health.ObjectResult{results[1]}, degraded.Degraded)
	assert.Len(t, seen, 2, "Wait returns at the first check that sees the failure")
}

func TestWaitWithoutFailFastOutlastsDegraded(t *testing.T) {
	// A progress deadline breach is Degraded, but a later rollout heals it: without
	// FailFast, Wait keeps waiting and succeeds.
	c := newCluster(t, deployment(2, 2, 1, 3, deadline))
	ctl := startController(c,
		[]string{deployment(3, 3, 3, 3, "")},
	)
	results, err := health.Wait(t.Context(), c.getter, []health.Ref{webRef}, fast(ctl))
	seen := ctl.stop(t)
	require.NoError(t, err)
	assert.Equal(t, [][]health.Status{{health.Degraded}, {health.Healthy}}, seen)
	assert.Equal(t, health.Healthy, results[0].Status)
}

func TestWaitTimeout(t *testing.T) {
	c := newCluster(t, deployment(2, 2, 1, 3, ""), jobComplete)
	opts := health.WaitOptions{Interval: time.Millisecond, Timeout: 50 * time.Millisecond}
	results, err := health.Wait(t.Context(), c.getter, []health.Ref{webRef, jobRef, cfgRef}, opts)

	var timeout *health.TimeoutError
	require.ErrorAs(t, err, &timeout)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualError(t, err, "timed out after 50ms waiting for 2 objects to become healthy: "+
		"Deployment.apps/shop/web: Progressing: 1/3 replicas updated; ConfigMap/shop/cfg: Missing: not found")
	assert.Equal(t, []health.ObjectResult{results[0], results[2]}, timeout.Pending)
	assert.Equal(t, health.Healthy, results[1].Status, "every object's last result is returned")
}

func TestWaitCallerDeadline(t *testing.T) {
	c := newCluster(t, deployment(2, 2, 1, 3, ""))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	_, err := health.Wait(ctx, c.getter, []health.Ref{webRef}, health.WaitOptions{Interval: time.Millisecond})
	var timeout *health.TimeoutError
	require.ErrorAs(t, err, &timeout, "the caller's earlier deadline wins over the 5 minute default")
	assert.LessOrEqual(t, timeout.Timeout, 30*time.Millisecond)
	assert.Equal(t, "1/3 replicas updated", timeout.Pending[0].Message)
}

func TestWaitCanceled(t *testing.T) {
	c := newCluster(t, deployment(2, 2, 1, 3, ""))
	ctx, cancel := context.WithCancel(t.Context())
	opts := health.WaitOptions{Interval: time.Hour, OnPoll: func([]health.ObjectResult) { cancel() }}
	results, err := health.Wait(ctx, c.getter, []health.Ref{webRef}, opts)
	require.ErrorIs(t, err, context.Canceled)
	var timeout *health.TimeoutError
	assert.False(t, errors.As(err, &timeout))
	assert.EqualError(t, err, "waiting for 1 objects to become healthy (Deployment.apps/shop/web: Progressing: 1/3 replicas updated): context canceled")
	assert.Equal(t, health.Progressing, results[0].Status)
}

func TestWaitReadErrorsAndUnservedKinds(t *testing.T) {
	c := newCluster(t, jobComplete)
	c.client.PrependReactor("get", "jobs", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("etcd unavailable")
	})
	gadget := health.Ref{Group: "example.com", Kind: "Gadget", Namespace: "shop", Name: "g"}
	opts := health.WaitOptions{Interval: time.Millisecond, Timeout: 20 * time.Millisecond}
	results, err := health.Wait(t.Context(), c.getter, []health.Ref{jobRef, gadget}, opts)
	var timeout *health.TimeoutError
	require.ErrorAs(t, err, &timeout)
	assert.Equal(t, health.Result{Status: health.Unknown, Message: "cannot read: get Job.batch/shop/migrate: etcd unavailable"}, results[0].Result)
	assert.Equal(t, health.Missing, results[1].Status)
	assert.Contains(t, results[1].Message, "kind not served by the cluster")
}

func TestWaitOverridesAndClusterScope(t *testing.T) {
	widget := `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: shop}}`
	ns := `{apiVersion: v1, kind: Namespace, metadata: {name: shop}, status: {phase: Active}}`
	c := newCluster(t, widget, ns)
	widgetRef := health.Ref{Group: "example.com", Kind: "Widget", Namespace: "shop", Name: "w"}
	refs := []health.Ref{widgetRef, nsRef}

	opts := health.WaitOptions{Interval: time.Millisecond, Timeout: 20 * time.Millisecond}
	_, err := health.Wait(t.Context(), c.getter, refs, opts)
	require.ErrorAs(t, err, new(*health.TimeoutError), "a custom resource without status is Unknown")

	opts.Checker = &health.Checker{}
	opts.Checker.Register(widgetGK, health.Exists{})
	results, err := health.Wait(t.Context(), c.getter, refs, opts)
	require.NoError(t, err)
	assert.Equal(t, "Widget exists", results[0].Message)
	assert.Equal(t, "Namespace is active", results[1].Message)
}

func TestWaitKeepsInputOrderUnderConcurrency(t *testing.T) {
	var objs []string
	var refs []health.Ref
	for i := range 25 {
		name := fmt.Sprintf("cfg-%02d", 24-i)
		objs = append(objs, fmt.Sprintf(`{apiVersion: v1, kind: ConfigMap, metadata: {name: %s, namespace: shop}}`, name))
		refs = append(refs, health.Ref{Kind: "ConfigMap", Namespace: "shop", Name: name})
	}
	c := newCluster(t, objs...)
	results, err := health.Wait(t.Context(), c.getter, refs, health.WaitOptions{Concurrency: 3, Timeout: testTimeout})
	require.NoError(t, err)
	require.Len(t, results, len(refs))
	for i, r := range results {
		assert.Equal(t, refs[i], r.Ref)
	}
}

func TestWaitNothing(t *testing.T) {
	results, err := health.Wait(t.Context(), nil, nil, health.WaitOptions{})
	require.NoError(t, err)
	assert.Empty(t, results)
}

func TestWaitLogsChangesAndCheckErrors(t *testing.T) {
	// A Job whose status cannot be read is Unknown until its controller writes a sane one.
	jobBroken := `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate, namespace: shop}, status: {active: many}}`
	c := newCluster(t, deployment(1, 1, 3, 3, ""), jobBroken)
	ctl := startController(c,
		[]string{deployment(2, 2, 1, 3, "")},
		[]string{deployment(2, 2, 3, 3, ""), jobComplete},
	)
	var mu sync.Mutex
	var lines []string
	sink := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1})
	ctx := logr.NewContext(t.Context(), sink)
	_, err := health.Wait(ctx, c.getter, []health.Ref{webRef, jobRef}, fast(ctl))
	seen := ctl.stop(t)
	require.NoError(t, err)
	assert.Equal(t, [][]health.Status{
		{health.Healthy, health.Unknown},
		{health.Progressing, health.Unknown},
		{health.Healthy, health.Healthy},
	}, seen)

	var changes, checkErrors []string
	for _, l := range lines {
		switch {
		case strings.Contains(l, `"msg"="health"`):
			changes = append(changes, l)
		case strings.Contains(l, `"msg"="cannot judge health"`):
			checkErrors = append(checkErrors, l)
		}
	}
	// One line per change of an object's result: web x3, job x2 (Unknown, then Healthy).
	assert.Len(t, changes, 5, "%v", lines)
	assert.Len(t, checkErrors, 2, "one per check that met the broken status: %v", lines)
	assert.Contains(t, changes[0], `"object"="Deployment.apps/shop/web" "status"="Healthy"`)
	assert.Contains(t, checkErrors[0], `"object"="Job.batch/shop/migrate"`)
}

// ctxGetter fails reads on a done context, as a real API client does (the fake ignores it).
type ctxGetter struct{ health.Getter }

func (g ctxGetter) Get(ctx context.Context, ref health.Ref) (*unstructured.Unstructured, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return g.Getter.Get(ctx, ref)
}

func TestWaitDeadlineAlreadyPassed(t *testing.T) {
	c := newCluster(t, configMap)
	ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel()
	results, err := health.Wait(ctx, ctxGetter{c.getter}, []health.Ref{cfgRef}, health.WaitOptions{})
	var timeout *health.TimeoutError
	require.ErrorAs(t, err, &timeout)
	assert.EqualError(t, err, "timed out after 0s waiting for 1 objects to become healthy: ConfigMap/shop/cfg: Unknown: not checked before the deadline")
	assert.Equal(t, timeout.Pending, results)
}
