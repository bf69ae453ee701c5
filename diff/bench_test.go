package diff

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

// benchObjects are n objects of each of Deployment, Service, ConfigMap and
// ServiceAccount, shaped like a typical application's.
func benchObjects(tb testing.TB, n int, ns string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("app-%04d", i)
		out = append(out,
			parseObj(tb, dep(name, depOpts{spec: "replicas: 2", meta: "labels: {app.kubernetes.io/name: " + name + "}",
				ctr: "ports: [{name: http, containerPort: 8080}]\nenv: [{name: MODE, value: prod}, {name: LEVEL, value: info}]\n" +
					"resources: {requests: {cpu: 100m, memory: 128Mi}, limits: {cpu: '1', memory: 256Mi}}\nreadinessProbe: {httpGet: {path: /healthz, port: http}}"}), ns),
			// Headless: the test control plane's service IP range holds 256 addresses.
			parseObj(tb, svc(name, "clusterIP: None\nports: [{name: http, port: 80, targetPort: http}]"), ns),
			parseObj(tb, cm(name, fmt.Sprintf("data: {a: '1', b: two, c: three, index: '%d', config.yaml: 'x: 1'}", i)), ns),
			parseObj(tb, "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: "+name+", labels: {app: "+name+"}}", ns),
		)
	}
	return out
}

// applyAll server-side applies objs as driftless (16 at a time) and returns the live
// objects in the same order.
func applyAll(tb testing.TB, cl *gitopstest.Cluster, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	live := make([]*unstructured.Unstructured, len(objs))
	var g errgroup.Group
	g.SetLimit(16)
	for i, o := range objs {
		g.Go(func() error {
			out, err := cl.TryApply(o, DefaultFieldManager, true)
			live[i] = out // each goroutine writes only its own slot
			return err
		})
	}
	require.NoError(tb, g.Wait())
	return live
}

// diffAll diffs every object against its live state on GOMAXPROCS goroutines and
// returns the verdicts.
func diffAll(ctx context.Context, d *Differ, desired, live []*unstructured.Unstructured) ([]Result, error) {
	out := make([]Result, len(desired))
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range desired {
		g.Go(func() error {
			var err error
			out[i], err = d.Diff(ctx, desired[i], live[i]) // each goroutine writes only its own slot
			return err
		})
	}
	return out, g.Wait()
}

func countDrift(rs []Result) int64 {
	var n int64
	for _, r := range rs {
		if r.Drift {
			n++
		}
	}
	return n
}

// BenchmarkDriftVerdicts4000 measures, in one run, the verdicts on 4,000 objects
// (Deployment, Service, ConfigMap, ServiceAccount x 1,000) obtained offline by the
// Differ and by a server-side dry-run apply of each object against a real control
// plane, first with nothing drifted, then with 10% drifted. Run it with
// -benchtime=1x: each iteration diffs all 4,000 objects both ways.
func BenchmarkDriftVerdicts4000(b *testing.B) {
	perKind := 1000
	if v, err := strconv.Atoi(os.Getenv("DRIFTLESS_BENCH_PER_KIND")); err == nil && v > 0 {
		perKind = v // a quicker run; the figures in README.md use 1,000
	}
	cp := gitopstest.StartControlPlane(b)
	cfg, requests := countingConfig(cp.Config)
	cl := gitopstest.ClusterFor(b, cfg)
	ns := cl.NewNamespace(b)
	desired := benchObjects(b, perKind, ns)
	live := applyAll(b, cl, desired)
	// 10% drifted: every tenth object gets a changed value.
	drifted := make([]*unstructured.Unstructured, len(desired))
	for i, o := range desired {
		drifted[i] = o
		if i%10 == 0 {
			c := o.DeepCopy()
			labels := c.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["bench"] = "drift"
			c.SetLabels(labels)
			drifted[i] = c
		}
	}
	ctx := context.Background()
	schemas, err := NewDiscoverySchemasForConfig(cfg, DiscoveryOptions{})
	require.NoError(b, err)
	confirmer := &countingConfirmer{inner: NewServerConfirmer(cl.Dynamic, cl.Mapper)}
	d := New(Options{Schemas: schemas, Confirmer: confirmer})
	// Warm the schema cache (one index and two group-version documents), as a
	// long-running engine is.
	if _, err := diffAll(ctx, d, desired[:4], live[:4]); err != nil {
		b.Fatal(err)
	}

	var offlineSecs, offlineDriftSecs, dryRunSecs float64
	var offlineCalls, offlineDriftCalls, dryRunCalls, allocs int64
	var offlineDrifted, offlineDriftDrifted, dryRunDrifted int64
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		var ms0, ms1 runtime.MemStats
		runtime.ReadMemStats(&ms0)
		before, t0 := requests.Load(), time.Now()
		rs, err := diffAll(ctx, d, desired, live)
		require.NoError(b, err)
		offlineSecs += time.Since(t0).Seconds()
		offlineCalls += requests.Load() - before
		offlineDrifted += countDrift(rs)
		runtime.ReadMemStats(&ms1)
		allocs += int64(ms1.Mallocs - ms0.Mallocs)

		before, t0 = requests.Load(), time.Now()
		rs, err = diffAll(ctx, d, drifted, live)
		require.NoError(b, err)
		offlineDriftSecs += time.Since(t0).Seconds()
		offlineDriftCalls += requests.Load() - before
		offlineDriftDrifted += countDrift(rs)

		before, t0 = requests.Load(), time.Now()
		server, err := dryRunAll(ctx, cl, d, drifted, live)
		require.NoError(b, err)
		dryRunSecs += time.Since(t0).Seconds()
		dryRunCalls += requests.Load() - before
		dryRunDrifted += countDrift(server)
		for i := range rs {
			if rs[i].Drift != server[i].Drift {
				b.Fatalf("%s: offline drift %v (paths %v, suspect %q), dry-run drift %v\noffline:\n%s\nserver:\n%s", describe(drifted[i]),
					rs[i].Drift, rs[i].Paths, rs[i].Suspect, server[i].Drift, rs[i].Unified, server[i].Unified)
			}
		}
	}
	b.StopTimer()
	objs := float64(len(desired) * b.N)
	b.ReportMetric(objs/offlineSecs, "offline-obj/s")
	b.ReportMetric(objs/offlineDriftSecs, "offline-10%drift-obj/s")
	b.ReportMetric(objs/dryRunSecs, "dryrun-obj/s")
	b.ReportMetric(dryRunSecs/offlineSecs, "offline-speedup-x")
	b.ReportMetric(float64(allocs)/objs, "offline-allocs/obj")
	b.ReportMetric(float64(offlineCalls)/float64(b.N), "offline-api-calls")
	b.ReportMetric(float64(offlineDriftCalls)/float64(b.N), "offline-10%drift-api-calls")
	b.ReportMetric(float64(dryRunCalls)/float64(b.N), "dryrun-api-calls")
	b.ReportMetric(float64(confirmer.calls.Load())/float64(b.N), "confirmer-calls")
	b.ReportMetric(float64(offlineDrifted)/float64(b.N), "offline-drifted")
	b.ReportMetric(float64(offlineDriftDrifted)/float64(b.N), "offline-10%drift-drifted")
	b.ReportMetric(float64(dryRunDrifted)/float64(b.N), "dryrun-drifted")
	if offlineDriftDrifted != dryRunDrifted || offlineDrifted != 0 {
		b.Fatalf("verdicts disagree: offline %d drifted (in sync pass %d), dry-run %d", offlineDriftDrifted, offlineDrifted, dryRunDrifted)
	}
}

// dryRunAll obtains the verdicts the way a dry-run-everything engine does: a forced
// server-side dry-run apply of every object (16 at a time), compared with live.
func dryRunAll(ctx context.Context, cl *gitopstest.Cluster, d *Differ, desired, live []*unstructured.Unstructured) ([]Result, error) {
	out := make([]Result, len(desired))
	var g errgroup.Group
	g.SetLimit(16)
	for i := range desired {
		g.Go(func() error {
			ri, err := cl.Resource(desired[i])
			if err != nil {
				return err
			}
			body, err := desired[i].MarshalJSON()
			if err != nil {
				return err
			}
			force := true
			server, err := ri.Patch(ctx, desired[i].GetName(), types.ApplyPatchType, body,
				metav1.PatchOptions{FieldManager: DefaultFieldManager, Force: &force, DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			out[i], err = d.Compare(ctx, server, live[i]) // each goroutine writes only its own slot
			return err
		})
	}
	return out, g.Wait()
}

// BenchmarkDiffOffline is the offline half alone, against live objects from the
// in-memory API server (no control plane needed): one op is one object.
func BenchmarkDiffOffline(b *testing.B) {
	cl := gitopstest.NewCluster(b)
	ns := cl.NewNamespace(b)
	desired := benchObjects(b, 100, ns)
	live := applyAll(b, cl, desired)
	d := New(Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(desired)
		if _, err := d.Diff(ctx, desired[j], live[j]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDiffOfflineDrift is BenchmarkDiffOffline with every object drifted (a
// label added in Git): the full prediction, comparison and unified diff run.
func BenchmarkDiffOfflineDrift(b *testing.B) {
	cl := gitopstest.NewCluster(b)
	ns := cl.NewNamespace(b)
	desired := benchObjects(b, 100, ns)
	live := applyAll(b, cl, desired)
	for i, o := range desired {
		c := o.DeepCopy()
		c.SetLabels(map[string]string{"bench": "drift"})
		desired[i] = c
	}
	d := New(Options{})
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(desired)
		res, err := d.Diff(ctx, desired[j], live[j])
		if err != nil || !res.Drift {
			b.Fatal(err, res.Drift)
		}
	}
}
