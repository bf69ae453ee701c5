package gitops

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/gitopstest"
)

// resultLog collects what a Runner reports.
type resultLog struct {
	mu      sync.Mutex
	results []*Result
}

func (l *resultLog) add(_ *Application, res *Result, _ error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, res)
}

func (l *resultLog) find(app string, trigger Trigger, cond func(*Result) bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.results {
		if r.App == app && r.Trigger == trigger && cond(r) {
			return true
		}
	}
	return false
}

func TestRunnerConvergesHealsAndRefreshes(t *testing.T) {
	e := newEnv(t, gitopstest.NewCluster(t).Config)
	log := &resultLog{}
	rn := NewRunner(e.rec, RunnerOptions{Concurrency: 2, Interval: time.Hour, HealBackoff: 10 * time.Millisecond, OnResult: log.add})
	rn.Add(e.apps["cluster-config"])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rn.Run(ctx) }()

	synced := func(r *Result) bool { return r.Sync == Synced }
	require.Eventually(t, func() bool { return log.find("argocd/cluster-config", TriggerManual, synced) }, 20*time.Second, 20*time.Millisecond)
	rn.Add(e.apps["payment-service-oslo"])
	rn.Add(e.apps["payment-service-bergen"])
	require.Eventually(t, func() bool {
		return log.find("argocd/payment-service-oslo", TriggerManual, synced) && log.find("argocd/payment-service-bergen", TriggerManual, synced)
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, []string{"argocd/cluster-config", "argocd/payment-service-bergen", "argocd/payment-service-oslo"}, rn.Keys())

	// Drift on a selfHeal app is reverted without waiting for the (hour-long) interval.
	_, err := e.cluster.Dynamic.Resource(deployGVR).Namespace(e.ns+"-oslo").Patch(context.Background(), "payment-service",
		types.MergePatchType, []byte(`{"spec":{"replicas":2}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return log.find("argocd/payment-service-oslo", TriggerDrift, func(r *Result) bool { return r.SyncRan })
	}, 20*time.Second, 20*time.Millisecond)
	assert.Equal(t, int64(5), e.replicas(t, "oslo"))

	// A webhook refresh reconciles at once; nothing changed, so it is a cached no-op.
	assert.True(t, rn.Refresh("argocd/payment-service-bergen"))
	assert.False(t, rn.Refresh("argocd/unknown"))
	require.Eventually(t, func() bool {
		return log.find("argocd/payment-service-bergen", TriggerWebhook, func(r *Result) bool { return r.Cached })
	}, 20*time.Second, 20*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	assert.Equal(t, Synced, rn.Result("argocd/payment-service-oslo").Sync)
}
