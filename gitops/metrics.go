package gitops

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's Prometheus collectors. Create them with NewMetrics, register
// them where the embedder wants (Metrics is itself a prometheus.Collector), and pass them
// in ReconcilerOptions. A nil *Metrics records nothing.
type Metrics struct {
	stageDuration  *prometheus.HistogramVec
	objectsApplied *prometheus.CounterVec
	driftEvents    *prometheus.CounterVec
	cacheLookups   *prometheus.CounterVec
	reconciles     *prometheus.CounterVec
}

var _ prometheus.Collector = (*Metrics)(nil)

// NewMetrics creates the collectors, named driftless_*.
func NewMetrics() *Metrics {
	return &Metrics{
		stageDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "driftless_reconcile_stage_duration_seconds",
			Help:    "Time spent per reconcile stage (source, render, diff, apply, health, total).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}, []string{"stage"}),
		objectsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_objects_applied_total",
			Help: "Objects handled by sync, by action (created, configured, unchanged, deleted, skipped, failed).",
		}, []string{"action"}),
		driftEvents: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_drift_events_total",
			Help: "Changes to managed objects made by someone else, seen through the watch, by application.",
		}, []string{"app"}),
		cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_cache_lookups_total",
			Help: "Cache lookups by cache (source, render, reconcile) and result (hit, miss).",
		}, []string{"cache", "result"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "driftless_reconciles_total",
			Help: "Reconciles by trigger and result.",
		}, []string{"trigger", "result"}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.stageDuration, m.objectsApplied, m.driftEvents, m.cacheLookups, m.reconciles}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *Metrics) observeStage(stage string, d time.Duration) {
	if m != nil {
		m.stageDuration.WithLabelValues(stage).Observe(d.Seconds())
	}
}

func (m *Metrics) countApplied(action string) {
	if m != nil {
		m.objectsApplied.WithLabelValues(action).Inc()
	}
}

func (m *Metrics) countDrift(app string) {
	if m != nil {
		m.driftEvents.WithLabelValues(app).Inc()
	}
}

func (m *Metrics) countCache(cache string, hit bool) {
	if m != nil {
		result := "miss"
		if hit {
			result = "hit"
		}
		m.cacheLookups.WithLabelValues(cache, result).Inc()
	}
}

func (m *Metrics) countReconcile(trigger Trigger, result string) {
	if m != nil {
		m.reconciles.WithLabelValues(string(trigger), result).Inc()
	}
}
