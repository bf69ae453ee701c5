package health_test

// Rollouts on a real control plane: kube-apiserver + etcd, kube-controller-manager,
// kube-scheduler and kwok's fake nodes (gitopstest.StartWorkloadControlPlane). The
// workload controllers write the statuses the checks read, so these tests show the
// checks agree with Kubernetes itself, not with hand-written fixtures.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/health"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// rolloutTimeout bounds each wait on the real cluster; every scenario takes a few
// seconds when the machine is idle.
const rolloutTimeout = 90 * time.Second

var (
	podsGVR        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	replicaSetsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
)

// live is one test's namespace on the shared workload control plane.
type live struct {
	t      *testing.T
	cp     *gitopstest.ControlPlane
	cl     *gitopstest.Cluster
	getter health.DynamicGetter
	ns     string
}

func newLive(t *testing.T) *live {
	t.Helper()
	cp := gitopstest.StartWorkloadControlPlane(t)
	cl := gitopstest.ClusterFor(t, cp.Config)
	ns := cl.NewNamespace(t)
	t.Cleanup(func() {
		// The namespace controller deletes what is left; nobody waits for it.
		_ = cl.Dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).
			Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return &live{t: t, cp: cp, cl: cl, getter: health.DynamicGetter{Client: cl.Dynamic, Mapper: cl.Mapper}, ns: ns}
}

// apply server-side applies a YAML object (printf-formatted with the namespace first)
// and returns its Ref.
func (l *live) apply(format string, args ...any) health.Ref {
	l.t.Helper()
	obj := gitopstest.Object(l.t, fmt.Sprintf(format, append([]any{l.ns}, args...)...))
	return health.RefOf(l.cl.Apply(l.t, obj, "rollout-test", true))
}

// watched is what one Wait saw: every check's result of the single object waited for.
type watched struct {
	results []health.ObjectResult
	err     error
	seen    []health.Result
}

// wait runs health.Wait on ref, polling fast, and records every check.
func (l *live) wait(ref health.Ref, failFast bool) watched {
	l.t.Helper()
	var w watched
	w.results, w.err = health.Wait(l.t.Context(), l.getter, []health.Ref{ref}, health.WaitOptions{
		Interval: 200 * time.Millisecond,
		Timeout:  rolloutTimeout,
		FailFast: failFast,
		OnPoll: func(rs []health.ObjectResult) {
			if n := len(w.seen); n == 0 || w.seen[n-1] != rs[0].Result {
				w.seen = append(w.seen, rs[0].Result)
			}
		},
	})
	l.t.Logf("%s seen:\n  %s", ref, w)
	return w
}

// String lists the distinct results in the order seen, for failure messages.
func (w watched) String() string {
	parts := make([]string, len(w.seen))
	for i, r := range w.seen {
		parts[i] = r.String()
	}
	return strings.Join(parts, "\n  -> ")
}

// sawProgressingThenHealthy asserts the object was Progressing before it ended Healthy,
// and returns the Progressing messages.
func (w watched) sawProgressingThenHealthy(t *testing.T) []string {
	t.Helper()
	require.NoError(t, w.err, "seen:\n  %s", w)
	require.NotEmpty(t, w.seen)
	assert.Equal(t, health.Progressing, w.seen[0].Status, "first check, seen:\n  %s", w)
	assert.Equal(t, health.Healthy, w.seen[len(w.seen)-1].Status, "seen:\n  %s", w)
	var msgs []string
	for _, r := range w.seen[:len(w.seen)-1] {
		assert.Equal(t, health.Progressing, r.Status, "before Healthy, seen:\n  %s", w)
		msgs = append(msgs, r.Message)
	}
	return msgs
}

// list lists the objects of gvr in the test's namespace.
func (l *live) list(gvr schema.GroupVersionResource) []unstructured.Unstructured {
	l.t.Helper()
	list, err := l.cl.Dynamic.Resource(gvr).Namespace(l.ns).List(l.t.Context(), metav1.ListOptions{})
	require.NoError(l.t, err)
	return list.Items
}

// get reads the live object ref names.
func (l *live) get(ref health.Ref) *unstructured.Unstructured {
	l.t.Helper()
	obj, err := l.getter.Get(l.t.Context(), ref)
	require.NoError(l.t, err)
	return obj
}

const rolloutDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %s}
spec:
  replicas: 3
  progressDeadlineSeconds: %d
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {%q: %q, %q: %q}
    spec:
      %s
      containers: [{name: web, image: %q}]
`

// deploymentYAML fills rolloutDeployment: the pod delay and outcome annotations, an
// optional nodeSelector line and the image.
func deploymentYAML(deadline int, delay, outcome, nodeSelector, image string) (string, []any) {
	return rolloutDeployment, []any{deadline,
		gitopstest.PodDelayAnnotation, delay, gitopstest.PodOutcomeAnnotation, outcome, nodeSelector, image}
}

func TestRolloutDeploymentBecomesHealthy(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	format, args := deploymentYAML(600, "500ms", "", "", "registry.example/web:1")
	ref := l.apply(format, args...)

	w := l.wait(ref, true)
	w.sawProgressingThenHealthy(t)
	assert.Equal(t, health.Result{Status: health.Healthy, Message: "3/3 replicas available"}, w.results[0].Result)

	// The pods are real: scheduled onto kwok's node, Running and Ready.
	pods := l.list(podsGVR)
	require.Len(t, pods, 3)
	for _, p := range pods {
		node, _, _ := unstructured.NestedString(p.Object, "spec", "nodeName")
		phase, _, _ := unstructured.NestedString(p.Object, "status", "phase")
		assert.Equal(t, l.cp.Nodes[0], node, "pod %s", p.GetName())
		assert.Equal(t, "Running", phase, "pod %s", p.GetName())
		res, err := new(health.Checker).Health(&p)
		require.NoError(t, err)
		assert.Equal(t, health.Healthy, res.Status, "pod %s: %s", p.GetName(), res)
	}
}

func TestRolloutDeploymentNewImage(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	format, args := deploymentYAML(600, "300ms", "", "", "registry.example/web:1")
	ref := l.apply(format, args...)
	require.NoError(t, l.wait(ref, true).err)

	// The new image: every pod takes a second to become ready, and only one extra pod
	// may run at a time, so the rollout takes a few steps Wait can see.
	format, args = deploymentYAML(600, "1s", "", "", "registry.example/web:2")
	l.apply(format, args...)
	w := l.wait(ref, true)
	msgs := w.sawProgressingThenHealthy(t)
	assert.Equal(t, health.Result{Status: health.Healthy, Message: "3/3 replicas available"}, w.results[0].Result)
	// Besides "generation not observed yet", the checks saw the rollout itself.
	var midRollout bool
	for _, m := range msgs {
		midRollout = midRollout || strings.Contains(m, "replicas updated") ||
			strings.Contains(m, "old replicas pending termination") || strings.Contains(m, "replicas available")
	}
	assert.True(t, midRollout, "no mid-rollout status seen:\n  %s", w)

	// The Deployment now runs on a new ReplicaSet with the new image; the old one is
	// scaled to zero.
	var newRS, oldRS int
	for _, rs := range l.list(replicaSetsGVR) {
		containers, _, _ := unstructured.NestedSlice(rs.Object, "spec", "template", "spec", "containers")
		require.Len(t, containers, 1)
		image := containers[0].(map[string]any)["image"]
		replicas, _, _ := unstructured.NestedInt64(rs.Object, "spec", "replicas")
		ready, _, _ := unstructured.NestedInt64(rs.Object, "status", "readyReplicas")
		switch image {
		case "registry.example/web:2":
			newRS++
			assert.Equal(t, "2", rs.GetAnnotations()["deployment.kubernetes.io/revision"])
			assert.EqualValues(t, 3, replicas)
			assert.EqualValues(t, 3, ready)
		case "registry.example/web:1":
			oldRS++
			assert.EqualValues(t, 0, replicas)
		default:
			t.Errorf("ReplicaSet %s runs unexpected image %v", rs.GetName(), image)
		}
	}
	assert.Equal(t, 1, newRS, "ReplicaSets with the new image")
	assert.Equal(t, 1, oldRS, "ReplicaSets with the old image")
}

func TestRolloutDeploymentProgressDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		outcome      string
		nodeSelector string
		podStatus    health.Status
		podMessage   string
	}{
		// No node matches: the scheduler leaves the pods Pending and Unschedulable.
		{name: "unschedulable", nodeSelector: "nodeSelector: {gitopstest.driftless.dev/no-such-node: \"true\"}",
			podStatus: health.Degraded, podMessage: "Unschedulable"},
		// The pods run but never become Ready.
		{name: "never ready", outcome: gitopstest.PodOutcomeUnready, podStatus: health.Progressing, podMessage: "containers not ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := newLive(t)
			format, args := deploymentYAML(3, "0s", tt.outcome, tt.nodeSelector, "registry.example/web:1")
			ref := l.apply(format, args...)

			w := l.wait(ref, true)
			var degraded *health.DegradedError
			require.ErrorAs(t, w.err, &degraded, "seen:\n  %s", w)
			require.Len(t, degraded.Degraded, 1)
			got := degraded.Degraded[0]
			assert.Equal(t, ref, got.Ref)
			assert.Contains(t, got.Message, "progress deadline exceeded")
			assert.Contains(t, got.Message, "has timed out progressing")
			assert.Equal(t, health.Progressing, w.seen[0].Status, "before the deadline, seen:\n  %s", w)

			// The pods say why, as the real scheduler and kwok left them.
			pods := l.list(podsGVR)
			require.Len(t, pods, 3)
			for _, p := range pods {
				res, err := new(health.Checker).Health(&p)
				require.NoError(t, err)
				assert.Equal(t, tt.podStatus, res.Status, "pod %s: %s", p.GetName(), res)
				assert.Contains(t, res.Message, tt.podMessage, "pod %s", p.GetName())
			}

			// A fixed spec heals it: a new rollout that can make progress.
			format, args = deploymentYAML(30, "0s", "", "", "registry.example/web:1")
			l.apply(format, args...)
			w = l.wait(ref, true)
			require.NoError(t, w.err, "seen:\n  %s", w)
			assert.Equal(t, health.Healthy, w.results[0].Status)
		})
	}
}

const rolloutJob = `
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: %s}
spec:
  completions: %d
  parallelism: 1
  backoffLimit: 0
  template:
    metadata:
      annotations: {%q: %q, %q: "500ms"}
    spec:
      restartPolicy: Never
      containers: [{name: migrate, image: registry.example/migrate:1}]
`

func TestRolloutJob(t *testing.T) {
	t.Parallel()
	t.Run("completes", func(t *testing.T) {
		t.Parallel()
		l := newLive(t)
		ref := l.apply(rolloutJob, 2, gitopstest.PodOutcomeAnnotation, "", gitopstest.PodDelayAnnotation)
		w := l.wait(ref, true)
		msgs := w.sawProgressingThenHealthy(t)
		assert.Equal(t, health.Result{Status: health.Healthy, Message: "Job completed (2 succeeded)"}, w.results[0].Result)
		assert.Contains(t, strings.Join(msgs, "\n"), "Job running: 1 active", "seen:\n  %s", w)
		succeeded, _, _ := unstructured.NestedInt64(l.get(ref).Object, "status", "succeeded")
		assert.EqualValues(t, 2, succeeded)
	})
	t.Run("fails", func(t *testing.T) {
		t.Parallel()
		l := newLive(t)
		ref := l.apply(rolloutJob, 1, gitopstest.PodOutcomeAnnotation, gitopstest.PodOutcomeFail, gitopstest.PodDelayAnnotation)
		w := l.wait(ref, true)
		var degraded *health.DegradedError
		require.ErrorAs(t, w.err, &degraded, "seen:\n  %s", w)
		assert.Equal(t, health.Progressing, w.seen[0].Status, "seen:\n  %s", w)
		// FailureTarget comes first, Failed once the pod is accounted for: both are
		// Degraded, with the reason.
		assert.Contains(t, degraded.Degraded[0].Message, "BackoffLimitExceeded")
		assert.Regexp(t, `^Job fail(ed|ing): `, degraded.Degraded[0].Message)

		// Without FailFast, Wait keeps waiting for a Job that will not recover.
		wt, err := health.Wait(t.Context(), l.getter, []health.Ref{ref}, health.WaitOptions{
			Interval: 200 * time.Millisecond, Timeout: 2 * time.Second})
		var timeout *health.TimeoutError
		require.ErrorAs(t, err, &timeout)
		assert.True(t, errors.Is(err, context.DeadlineExceeded))
		assert.Equal(t, health.Degraded, wt[0].Status)
	})
}

const rolloutStatefulSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: %s}
spec:
  replicas: 2
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {%q: "300ms"}
    spec:
      containers: [{name: db, image: %q}]
`

func TestRolloutStatefulSet(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	ref := l.apply(rolloutStatefulSet, gitopstest.PodDelayAnnotation, "registry.example/db:1")
	w := l.wait(ref, true)
	w.sawProgressingThenHealthy(t)
	first, _, _ := unstructured.NestedString(l.get(ref).Object, "status", "currentRevision")
	require.NotEmpty(t, first)
	assert.Equal(t, health.Result{Status: health.Healthy, Message: "2/2 replicas ready at revision " + first}, w.results[0].Result)

	// A new image rolls the pods one by one, highest ordinal first.
	l.apply(rolloutStatefulSet, gitopstest.PodDelayAnnotation, "registry.example/db:2")
	w = l.wait(ref, true)
	msgs := w.sawProgressingThenHealthy(t)
	st := l.get(ref)
	second, _, _ := unstructured.NestedString(st.Object, "status", "currentRevision")
	update, _, _ := unstructured.NestedString(st.Object, "status", "updateRevision")
	assert.NotEqual(t, first, second)
	assert.Equal(t, update, second)
	assert.Equal(t, health.Result{Status: health.Healthy, Message: "2/2 replicas ready at revision " + second}, w.results[0].Result)
	var rolling bool
	for _, m := range msgs {
		rolling = rolling || strings.Contains(m, "rolling update") || strings.Contains(m, "replicas ready")
	}
	assert.True(t, rolling, "no mid-rollout status seen:\n  %s", w)
	for _, p := range l.list(podsGVR) {
		assert.Equal(t, second, p.GetLabels()["controller-revision-hash"], "pod %s", p.GetName())
	}
}

func TestRolloutDaemonSet(t *testing.T) {
	t.Parallel()
	l := newLive(t)
	ref := l.apply(`
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: %s}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata:
      labels: {app: agent}
      annotations: {%q: "300ms"}
    spec:
      containers: [{name: agent, image: registry.example/agent:1}]
`, gitopstest.PodDelayAnnotation)
	w := l.wait(ref, true)
	w.sawProgressingThenHealthy(t)
	pods := l.list(podsGVR)
	require.Len(t, pods, len(l.cp.Nodes), "one pod per fake node")
}
