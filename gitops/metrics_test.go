package gitops

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMetricsRecordReconciles(t *testing.T) {
	e := newEnv(t, gitopstest.NewCluster(t).Config)
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(m))
	e.rec.opts.Metrics = m

	e.reconcile(t, "cluster-config", TriggerManual)
	e.reconcile(t, "cluster-config", TriggerInterval)
	assert.Equal(t, 4.0, testutil.ToFloat64(m.objectsApplied.WithLabelValues("created")), "two namespaces, two quotas")
	assert.Equal(t, 1.0, testutil.ToFloat64(m.cacheLookups.WithLabelValues("reconcile", "hit")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.cacheLookups.WithLabelValues("reconcile", "miss")))
	assert.Equal(t, 1.0, testutil.ToFloat64(m.reconciles.WithLabelValues("interval", "ok")))
	n, err := testutil.GatherAndCount(reg, "driftless_reconcile_stage_duration_seconds")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 3, "source, render, diff, apply, total observed")
}
