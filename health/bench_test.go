package health_test

import (
	"testing"

	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/driftless-dev/driftless/health"
)

// BenchmarkHealth sets the built-in checks (typed decode of the object) against
// kstatus.Compute (unstructured field reads) on the same objects, in one run, so the
// ratio is comparable: go test -run '^$' -bench Health -benchmem ./health/
func BenchmarkHealth(b *testing.B) {
	objs := map[string]string{
		"Deployment": deployment(2, 2, 3, 3, ""),
		"Widget": `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: shop, generation: 2},
			status: {observedGeneration: 2, conditions: [{type: Ready, status: "True"}]}}`,
	}
	for _, kind := range []string{"Deployment", "Widget"} {
		obj := object(b, objs[kind])
		b.Run(kind+"/driftless", func(b *testing.B) {
			var c health.Checker
			for b.Loop() {
				if _, err := c.Health(obj); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(kind+"/kstatus", func(b *testing.B) {
			for b.Loop() {
				if _, err := kstatus.Compute(obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
