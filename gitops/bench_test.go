package gitops

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// benchApps is the number of Applications in BenchmarkFleet (4 objects each).
const benchApps = 1000

// fleetRepo writes benchApps apps (Deployment, Service, ConfigMap, ServiceAccount) and
// returns their Applications, all deploying into ns.
func fleetRepo(b *testing.B, repo *gitopstest.Repo, ns string) []*Application {
	files := map[string]string{}
	apps := make([]*Application, 0, benchApps)
	for i := range benchApps {
		name := fmt.Sprintf("app-%04d", i)
		files["apps/"+name+"/kustomization.yaml"] = "resources: [objects.yaml]\n"
		files["apps/"+name+"/objects.yaml"] = strings.ReplaceAll(`apiVersion: v1
kind: ServiceAccount
metadata: {name: NAME}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: NAME}
data: {greeting: hello}
---
apiVersion: v1
kind: Service
metadata: {name: NAME}
spec:
  selector: {app: NAME}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: NAME}
spec:
  replicas: 1
  selector: {matchLabels: {app: NAME}}
  template:
    metadata: {labels: {app: NAME}}
    spec:
      serviceAccountName: NAME
      containers: [{name: app, image: "registry.example.com/app:1.0.0"}]
`, "NAME", name)
		app := &Application{}
		app.Name, app.Namespace = name, "fleet"
		app.Spec.Source = Source{RepoURL: repo.URL(), Path: "apps/" + name}
		app.Spec.Destination = Destination{Namespace: ns}
		app.Spec.SyncPolicy = &SyncPolicy{Automated: &Automated{Prune: true, SelfHeal: true}}
		apps = append(apps, app)
	}
	repo.WriteFiles(files).Commit("fleet")
	return apps
}

// BenchmarkFleet: 1,000 Applications x 4 objects from one repository into the local
// control plane. It reports the cold convergence time, then a full no-op round (API
// requests and writes, renders: all expected 0), then a commit touching one app (only
// that app re-rendered and written). A poll round of Applications on one repository
// shares one ls-remote (ReconcilerOptions.ResolveInterval). Run with -benchtime 1x.
func BenchmarkFleet(b *testing.B) {
	cp := gitopstest.StartControlPlane(b)
	for b.Loop() {
		c := gitopstest.ClusterFor(b, cp.Config)
		ns := c.NewNamespace(b)
		cfg, counter := gitopstest.CountRequests(cp.Config)
		repo := gitopstest.NewRepo(b)
		apps := fleetRepo(b, repo, ns)
		sources, err := source.NewDiskCache(source.CacheOptions{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		rec, err := NewReconciler(ReconcilerOptions{Config: cfg, Sources: sources, ResolveInterval: time.Second, Recorder: &History{}})
		if err != nil {
			b.Fatal(err)
		}
		round := func(apps []*Application) time.Duration {
			start := time.Now()
			var g errgroup.Group
			g.SetLimit(16)
			for _, app := range apps {
				g.Go(func() error {
					_, err := rec.Reconcile(context.Background(), app, TriggerInterval)
					return err
				})
			}
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}

		cold := round(apps)
		reqs, writes, renders := counter.Total(), counter.Writes(), rec.Renderer().Stats().Renders
		noop := round(apps)
		b.ReportMetric(cold.Seconds(), "cold-converge-s")
		b.ReportMetric(float64(benchApps*4)/cold.Seconds(), "cold-objects/s")
		b.ReportMetric(float64(noop.Milliseconds()), "noop-round-ms")
		b.ReportMetric(float64(counter.Total()-reqs), "noop-api-requests")
		b.ReportMetric(float64(counter.Writes()-writes), "noop-api-writes")
		b.ReportMetric(float64(rec.Renderer().Stats().Renders-renders), "noop-renders")

		// One commit touching one app, seen at the next poll round (after the shared
		// ls-remote answer expired).
		time.Sleep(1100 * time.Millisecond)
		repo.Write("apps/app-0042/objects.yaml", strings.Replace(mustRead(b, repo, "apps/app-0042/objects.yaml"), "greeting: hello", "greeting: hej", 1)).Commit("touch app-0042")
		writes = counter.Writes()
		stats := rec.Renderer().Stats()
		one := round(apps)
		after := rec.Renderer().Stats()
		b.ReportMetric(float64(one.Milliseconds()), "one-commit-round-ms")
		b.ReportMetric(float64(after.Builds-stats.Builds), "one-commit-kustomize-builds")
		b.ReportMetric(float64(after.IndexHits-stats.IndexHits), "one-commit-index-hits")
		b.ReportMetric(float64(counter.Writes()-writes), "one-commit-api-writes")
		rec.Close()
	}
}

func mustRead(b *testing.B, repo *gitopstest.Repo, path string) string {
	b.Helper()
	data, err := os.ReadFile(repo.Dir() + "/" + path)
	if err != nil {
		b.Fatal(err)
	}
	return string(data)
}

// BenchmarkNoopLargeApp: one Application of 4,000 objects (1,000 x Deployment,
// Service, ConfigMap, ServiceAccount) synced into the local control plane, then no-op
// reconciles: each is timed, and the API requests and renders it makes are reported
// (target: 0, 0, < 100 ms).
func BenchmarkNoopLargeApp(b *testing.B) {
	cp := gitopstest.StartControlPlane(b)
	c := gitopstest.ClusterFor(b, cp.Config)
	ns := c.NewNamespace(b)
	cfg, counter := gitopstest.CountRequests(cp.Config)
	repo := gitopstest.NewRepo(b)
	apps := fleetRepo(b, repo, ns)
	var res []string
	for _, app := range apps {
		res = append(res, "- "+app.Name)
	}
	repo.Write("apps/kustomization.yaml", "resources:\n"+strings.Join(res, "\n")+"\n").Commit("one app of everything")
	app := apps[0]
	app.Name, app.Spec.Source.Path = "everything", "apps"
	sources, err := source.NewDiskCache(source.CacheOptions{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	rec, err := NewReconciler(ReconcilerOptions{Config: cfg, Sources: sources, Recorder: &History{}})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	start := time.Now()
	r, err := rec.Reconcile(context.Background(), app, TriggerManual)
	b.Logf("cold sync timings: %v", r.Timings)
	if err != nil || len(r.Objects) != benchApps*4 {
		b.Fatalf("cold sync: %v (%d objects)", err, len(r.Objects))
	}
	cold := time.Since(start)
	reqs, renders := counter.Total(), rec.Renderer().Stats().Renders
	b.ResetTimer()
	for b.Loop() {
		r, err := rec.Reconcile(context.Background(), app, TriggerInterval)
		if err != nil || !r.Cached {
			b.Fatalf("no-op reconcile: %v (cached %v)", err, r.Cached)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(counter.Total()-reqs)/float64(b.N), "api-requests/op")
	b.ReportMetric(float64(rec.Renderer().Stats().Renders-renders)/float64(b.N), "renders/op")
	b.ReportMetric(cold.Seconds(), "cold-sync-s")
}
