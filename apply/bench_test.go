package apply_test

import (
	"context"
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

// benchObjects returns n apps x (ServiceAccount, ConfigMap, Deployment).
func benchObjects(n int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		out = append(out, obj("v1", "ServiceAccount", "", name), cm("", name, map[string]any{"i": fmt.Sprint(i)}),
			deploy("", name, name))
	}
	return out
}

// BenchmarkPlan: ordering 4,200 objects into waves.
func BenchmarkPlan(b *testing.B) {
	objs := benchObjects(1400)
	for b.Loop() {
		if _, err := apply.NewPlan(objs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNoOpSync: an unchanged sync of 600 objects on the in-memory API server
// (the cost of the Lists and the offline diff); reports the writes it made (0).
// The 4,000-object comparison against the real control plane and fluxcd/pkg/ssa is in
// the bench module (bench/README.md).
func BenchmarkNoOpSync(b *testing.B) {
	e := newEnv(b, "fake", gitopstest.NewCluster(b))
	objs := benchObjects(200)
	a := e.applier(apply.Options{Concurrency: 16})
	if _, err := a.Apply(context.Background(), objs); err != nil {
		b.Fatal(err)
	}
	e.log.reset()
	for b.Loop() {
		cs, err := a.Apply(context.Background(), objs)
		if err != nil || cs.Count(apply.Unchanged) != len(objs) {
			b.Fatalf("%v: %s", err, cs.Summary())
		}
	}
	b.ReportMetric(float64(len(e.log.writes())), "writes")
	b.ReportMetric(float64(len(objs)), "objects")
}
