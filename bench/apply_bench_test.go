// Package bench sets driftless against its peers on the same inputs in one run. It is a
// separate module so the peers' dependencies stay out of driftless's go.mod.
package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fluxcd/pkg/ssa"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// benchApps is the number of apps: each is a Deployment, a Service, a ConfigMap and a
// ServiceAccount, so 4 x benchApps objects.
const benchApps = 1000

// benchConcurrency is the concurrency of every contender.
const benchConcurrency = 16

// apps returns the objects of n apps in namespace ns. The Services are headless: the
// test control plane's service CIDR (a /24) has room for only ~250 cluster IPs.
func apps(ns string, n int) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for i := range n {
		name := fmt.Sprintf("app-%04d", i)
		labels := map[string]any{"app": name}
		meta := func() map[string]any {
			return map[string]any{"name": name, "namespace": ns, "labels": map[string]any{"app": name, "tier": "bench"}}
		}
		out = append(out,
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta()}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(),
				"data": map[string]any{"LOG_LEVEL": "info", "PORT": "8080", "INDEX": fmt.Sprint(i)}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": meta(),
				"spec": map[string]any{"clusterIP": "None", "selector": labels,
					"ports": []any{map[string]any{"name": "http", "port": int64(80), "targetPort": int64(8080)}}}}},
			&unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(),
				"spec": map[string]any{
					"replicas": int64(2),
					"selector": map[string]any{"matchLabels": labels},
					"template": map[string]any{
						"metadata": map[string]any{"labels": labels},
						"spec": map[string]any{
							"serviceAccountName": name,
							"containers": []any{map[string]any{
								"name": "app", "image": "ghcr.io/stefanprodan/podinfo:6.7.1",
								"ports":   []any{map[string]any{"containerPort": int64(8080), "name": "http"}},
								"envFrom": []any{map[string]any{"configMapRef": map[string]any{"name": name}}},
								"resources": map[string]any{"requests": map[string]any{"cpu": "10m", "memory": "32Mi"},
									"limits": map[string]any{"memory": "64Mi"}},
							}},
						},
					},
				}}},
		)
	}
	return out
}

// counter counts the requests of a client, by kind.
type counter struct {
	all, writes atomic.Int64
}

type countingTransport struct {
	next http.RoundTripper
	c    *counter
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.c.all.Add(1)
	if r.Method != http.MethodGet && r.URL.Query().Get("dryRun") == "" {
		t.c.writes.Add(1)
	}
	return t.next.RoundTrip(r)
}

// config returns an unthrottled copy of cfg whose requests c counts.
func config(cfg *rest.Config, c *counter) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.QPS, out.Burst = -1, 0
	out.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, c: c} }
	return out
}

var gvrs = map[string]schema.GroupVersionResource{
	"ServiceAccount": {Version: "v1", Resource: "serviceaccounts"},
	"ConfigMap":      {Version: "v1", Resource: "configmaps"},
	"Service":        {Version: "v1", Resource: "services"},
	"Deployment":     {Group: "apps", Version: "v1", Resource: "deployments"},
}

// plainLoop server-side applies every object once, benchConcurrency at a time: the
// physical limit of an apply engine on this server.
func plainLoop(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	var g errgroup.Group
	g.SetLimit(benchConcurrency)
	for _, o := range objs {
		g.Go(func() error {
			data, err := o.MarshalJSON()
			if err != nil {
				return err
			}
			force := false
			_, err = dyn.Resource(gvrs[o.GetKind()]).Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: "plain-loop", Force: &force})
			return err
		})
	}
	return g.Wait()
}

// fluxApply runs fluxcd/pkg/ssa's ApplyAllStaged at benchConcurrency (its concurrency
// covers the Get and dry-run of each object; its applies then go one by one).
func fluxApply(ctx context.Context, cfg *rest.Config, objs []*unstructured.Unstructured) (*ssa.ChangeSet, error) {
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		return nil, err
	}
	m := ssa.NewResourceManager(c, nil, ssa.Owner{Field: "flux-bench", Group: "bench.fluxcd.io"})
	m.SetConcurrency(benchConcurrency)
	copies := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		copies[i] = o.DeepCopy()
	}
	return m.ApplyAllStaged(ctx, copies, ssa.DefaultApplyOptions())
}

func withNamespace(objs []*unstructured.Unstructured, ns string) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
		out[i].SetNamespace(ns)
	}
	return out
}

// BenchmarkApply4000 applies 4,000 objects cold with a plain concurrent SSA loop (before
// and after driftless), with driftless and with fluxcd/pkg/ssa ApplyAllStaged, each into
// a fresh namespace of the same real control plane, then repeats the driftless and flux applies unchanged
// (no-op). Run it once: -benchtime=1x. It reports objects/s, the ratios, and the
// no-op's API writes, requests and time.
func BenchmarkApply4000(b *testing.B) {
	cp := gitopstest.StartControlPlane(b)
	ctx := context.Background()
	base := apps("", benchApps)
	n := float64(len(base))
	for b.Loop() {
		b.StopTimer()
		cl := gitopstest.ClusterFor(b, cp.Config)
		nsPlain, nsPlain2, nsDriftless, nsFlux := cl.NewNamespace(b), cl.NewNamespace(b), cl.NewNamespace(b), cl.NewNamespace(b)
		plainObjs, plainObjs2 := withNamespace(base, nsPlain), withNamespace(base, nsPlain2)
		driftlessObjs, fluxObjs := withNamespace(base, nsDriftless), withNamespace(base, nsFlux)

		measure := func(name string, fn func() error) float64 {
			start := time.Now()
			if err := fn(); err != nil {
				b.Fatalf("%s: %v", name, err)
			}
			d := time.Since(start)
			b.Logf("%s: %d objects in %s (%.0f obj/s)", name, len(base), d.Round(time.Millisecond), n/d.Seconds())
			return d.Seconds()
		}

		// driftless: the applier's client counts requests; the mapper is warm as in a
		// long-running engine (discovery is not part of an apply).
		dc := &counter{}
		dcl := gitopstest.ClusterFor(b, config(cp.Config, dc))
		_, _ = dcl.Mapper.RESTMapping(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "v1")
		applier := func() *apply.Applier {
			return apply.New(dcl.Dynamic, dcl.Mapper, apply.Options{Namespace: nsDriftless, Name: "bench", Concurrency: benchConcurrency})
		}
		// Warm the server up (etcd, caches, connections) so the first contender pays no
		// cold-start cost the others do not.
		if err := plainLoop(ctx, config(cp.Config, &counter{}), withNamespace(apps("", 100), cl.NewNamespace(b))); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		// The plain loop runs before and after driftless (into two namespaces) and its
		// mean is the reference: the server slows down a little as etcd fills up.
		tPlain1 := measure("plain SSA loop (before)", func() error { return plainLoop(ctx, config(cp.Config, &counter{}), plainObjs) })
		tDriftless := measure("driftless cold", func() error {
			cs, err := applier().Apply(ctx, driftlessObjs)
			if err == nil && cs.Count(apply.Created) != len(base) {
				err = fmt.Errorf("created %d of %d: %s", cs.Count(apply.Created), len(base), cs.Summary())
			}
			return err
		})
		tPlain2 := measure("plain SSA loop (after)", func() error { return plainLoop(ctx, config(cp.Config, &counter{}), plainObjs2) })
		tPlain := (tPlain1 + tPlain2) / 2
		fc := &counter{}
		tFlux := measure("fluxcd/pkg/ssa ApplyAllStaged cold", func() error {
			_, err := fluxApply(ctx, config(cp.Config, fc), fluxObjs)
			return err
		})

		dc.all.Store(0)
		dc.writes.Store(0)
		tNoop := measure("driftless no-op", func() error {
			cs, err := applier().Apply(ctx, driftlessObjs)
			if err == nil && cs.Count(apply.Unchanged) != len(base) {
				err = fmt.Errorf("unchanged %d of %d: %s", cs.Count(apply.Unchanged), len(base), cs.Summary())
			}
			return err
		})
		noopWrites, noopRequests := dc.writes.Load(), dc.all.Load()

		// The same no-op with the live objects from memory, as an engine with a watch
		// cache passes them (Options.Live): the apply's own cost.
		cache, err := liveCache(ctx, dcl.Dynamic, nsDriftless)
		if err != nil {
			b.Fatal(err)
		}
		dc.all.Store(0)
		dc.writes.Store(0)
		tCached := measure("driftless no-op, live objects from a cache", func() error {
			a := apply.New(dcl.Dynamic, dcl.Mapper, apply.Options{Namespace: nsDriftless, Name: "bench", Concurrency: benchConcurrency, Live: cache})
			cs, err := a.Apply(ctx, driftlessObjs)
			if err == nil && cs.Count(apply.Unchanged) != len(base) {
				err = fmt.Errorf("unchanged %d of %d: %s", cs.Count(apply.Unchanged), len(base), cs.Summary())
			}
			return err
		})
		cachedWrites, cachedRequests := dc.writes.Load(), dc.all.Load()

		fc.all.Store(0)
		fc.writes.Store(0)
		tFluxNoop := measure("fluxcd/pkg/ssa ApplyAllStaged no-op", func() error {
			_, err := fluxApply(ctx, config(cp.Config, fc), fluxObjs)
			return err
		})

		b.ReportMetric(n/tPlain, "plain-obj/s")
		b.ReportMetric(n/tDriftless, "driftless-obj/s")
		b.ReportMetric(n/tFlux, "flux-obj/s")
		b.ReportMetric(tPlain/tDriftless, "x-plain")
		b.ReportMetric(tFlux/tDriftless, "x-flux")
		b.ReportMetric(float64(noopWrites), "noop-writes")
		b.ReportMetric(float64(noopRequests), "noop-requests")
		b.ReportMetric(tNoop*1000, "noop-ms")
		b.ReportMetric(tCached*1000, "noop-cached-ms")
		b.ReportMetric(float64(cachedWrites), "noop-cached-writes")
		b.ReportMetric(float64(cachedRequests), "noop-cached-requests")
		b.ReportMetric(float64(fc.all.Load()), "flux-noop-requests")
		b.ReportMetric(tFluxNoop*1000, "flux-noop-ms")
	}
}

// mapLive is an apply.LiveReader over objects held in memory, like a watch cache.
type mapLive map[string]*unstructured.Unstructured

func (m mapLive) Get(_ context.Context, ref apply.Ref) (*unstructured.Unstructured, error) {
	return m[ref.Key()], nil
}

// liveCache lists the four kinds of namespace ns into a mapLive.
func liveCache(ctx context.Context, dyn dynamic.Interface, ns string) (mapLive, error) {
	m := mapLive{}
	for kind, gvr := range gvrs {
		list, err := dyn.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			o := &list.Items[i]
			o.SetAPIVersion(gvr.GroupVersion().String())
			o.SetKind(kind)
			m[apply.RefOf(o).Key()] = o
		}
	}
	return m, nil
}
