// Command quickstart shows driftless end to end in about a second, with nothing to
// install: it creates a Git repository in the seed layout (apps/base, two overlays,
// cluster-config, a project), reconciles it into a cluster, then commits a change,
// edits an object by hand, removes a file, and prints the diff, the sync, selfHeal,
// prune and the audit trail (History, Events on the Applications, JSON lines) as it goes.
//
//	go run ./examples/quickstart                     # an in-memory API server (gitopstest)
//	go run ./examples/quickstart --kubeconfig FILE   # a real cluster (writes namespaces payments-oslo, payments-bergen)
//
// The default cluster is gitopstest's in-memory API server: real server-side apply,
// managed fields and watches, but no controllers, so Deployments never get Pods and
// health stays Progressing. Point --kubeconfig at a real cluster to see them roll out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/gitops"
	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

func main() {
	// A FlagSet of our own: gitopstest links controller-runtime, whose init registers
	// a global --kubeconfig flag.
	fs := flag.NewFlagSet("quickstart", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "reconcile into this cluster instead of the in-memory one")
	_ = fs.Parse(os.Args[1:])
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *kubeconfig, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// step prints a numbered heading.
type stepper struct {
	w io.Writer
	n int
}

func (s *stepper) step(format string, args ...any) {
	s.n++
	fmt.Fprintf(s.w, "\n== %d. %s\n", s.n, fmt.Sprintf(format, args...))
}

func run(ctx context.Context, kubeconfig string, w io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil { // gitopstest.Repo methods panic on Git errors
			if e, ok := p.(error); ok {
				err = e
				return
			}
			panic(p)
		}
	}()
	s := &stepper{w: w}
	work, err := os.MkdirTemp("", "driftless-quickstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	cfg, where, closeCluster, err := cluster(kubeconfig)
	if err != nil {
		return err
	}
	defer closeCluster()

	s.step("a Git repository in the seed layout")
	repo, err := gitopstest.NewRepoIn(work + "/repo")
	if err != nil {
		return err
	}
	layout := gitopstest.SeedLayout(repo.URL())
	first := repo.WriteFiles(layout).Commit("seed layout")
	fmt.Fprintf(w, "%s at %s\n", repo.Dir(), first[:12])
	for _, f := range []string{"apps/base/", "apps/overlays/production-oslo/", "apps/overlays/staging-bergen/", "cluster-config/", "projects/", "applications/"} {
		fmt.Fprintf(w, "  %s\n", f)
	}

	sources, err := source.NewDiskCache(source.CacheOptions{Dir: work + "/cache"})
	if err != nil {
		return err
	}
	project := &gitops.AppProject{}
	if err := yaml.UnmarshalStrict([]byte(layout["projects/ecommerce-backend.yaml"]), project); err != nil {
		return fmt.Errorf("projects/ecommerce-backend.yaml: %w", err)
	}
	rec, err := gitops.NewReconciler(gitops.ReconcilerOptions{Config: cfg, Sources: sources, Projects: []*gitops.AppProject{project},
		HistoryFile: work + "/history.jsonl"})
	if err != nil {
		return err
	}
	defer rec.Close()
	drifted := make(chan string, 16)
	rec.OnDrift(func(app string) { drifted <- app })
	apps := map[string]*gitops.Application{}
	for _, name := range []string{"cluster-config", "payment-service-oslo", "payment-service-bergen"} {
		path := "applications/" + name + ".yaml"
		parsed, err := gitops.ParseApplications(path, []byte(layout[path]))
		if err != nil {
			return err
		}
		apps[name] = parsed[0]
	}
	// The Applications' own namespace (argocd in the seed) holds their audit Events.
	if err := ensureNamespace(ctx, cfg, apps["cluster-config"].Namespace); err != nil {
		return err
	}
	reconcile := func(name string, trigger gitops.Trigger) (*gitops.Result, error) {
		res, err := rec.Reconcile(ctx, apps[name], trigger)
		res.Print(w)
		return res, err
	}

	s.step("first sync into %s", where)
	for _, name := range []string{"cluster-config", "payment-service-oslo", "payment-service-bergen"} {
		if _, err := reconcile(name, gitops.TriggerManual); err != nil {
			return err
		}
	}

	s.step("nothing changed: the next poll is free")
	res, err := reconcile("payment-service-oslo", gitops.TriggerInterval)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "took %s: no render, no diff, no API request\n", res.Timings["total"].Round(time.Microsecond))

	s.step("a commit scales Oslo to 7 replicas")
	patch := strings.Replace(layout["apps/overlays/production-oslo/patch-replicas.yaml"], "replicas: 5", "replicas: 7", 1)
	rev := repo.Write("apps/overlays/production-oslo/patch-replicas.yaml", patch).Commit("scale payment-service in Oslo to 7")
	fmt.Fprintf(w, "commit %s\n", rev[:12])
	if res, err = reconcile("payment-service-oslo", gitops.TriggerWebhook); err != nil {
		return err
	}
	printDiffs(w, res)

	s.step("someone scales the Deployment by hand; selfHeal reverts it")
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deployments := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("payments-oslo")
	if _, err := deployments.Patch(ctx, "payment-service", types.MergePatchType, []byte(`{"spec":{"replicas":1}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		return err
	}
	fmt.Fprintln(w, "kubectl-edit set spec.replicas=1")
	select {
	case app := <-drifted:
		fmt.Fprintf(w, "watch event: %s drifted\n", app)
	case <-time.After(30 * time.Second):
		return errors.New("no drift event within 30s")
	}
	if _, err = reconcile("payment-service-oslo", gitops.TriggerDrift); err != nil {
		return err
	}
	live, err := deployments.Get(ctx, "payment-service", metav1.GetOptions{})
	if err != nil {
		return err
	}
	replicas, _, _ := unstructured.NestedInt64(live.Object, "spec", "replicas")
	fmt.Fprintf(w, "spec.replicas is %d again\n", replicas)

	s.step("the Service is removed from Git; prune deletes it")
	base := strings.Replace(layout["apps/base/kustomization.yaml"], "- service.yaml\n", "", 1)
	rev = repo.Write("apps/base/kustomization.yaml", base).Remove("apps/base/service.yaml").Commit("drop the payment-service Service")
	fmt.Fprintf(w, "commit %s\n", rev[:12])
	for _, name := range []string{"payment-service-oslo", "payment-service-bergen"} {
		if _, err := reconcile(name, gitops.TriggerWebhook); err != nil {
			return err
		}
	}

	s.step("the audit trail")
	for _, r := range rec.History().Records("") {
		fmt.Fprintf(w, "%s  %-30s %-12s %-9s %-8s", r.FinishedAt.Format("15:04:05.000"), r.App, shortRev(r.Revision), r.Result, r.Trigger)
		for _, o := range r.Objects {
			if o.Action != "unchanged" {
				fmt.Fprintf(w, "  %s %s", o.Action, o.Ref)
			}
		}
		fmt.Fprintln(w)
	}
	events, err := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "events"}).Namespace(apps["cluster-config"].Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list the audit Events: %w", err)
	}
	history, err := os.ReadFile(work + "/history.jsonl")
	if err != nil {
		return err
	}
	ours := 0 // events of this run's syncs (a real cluster may keep earlier runs')
	for _, ev := range events.Items {
		msg, _, _ := unstructured.NestedString(ev.Object, "message")
		for _, r := range rec.History().Records("") {
			if strings.Contains(msg, " at "+shortRev(r.Revision)+" (") {
				ours++
				break
			}
		}
	}
	fmt.Fprintf(w, "the same records: %d Events on the Applications (namespace %s), %d lines of JSON history\n",
		ours, apps["cluster-config"].Namespace, strings.Count(string(history), "\n"))
	return nil
}

func printDiffs(w io.Writer, res *gitops.Result) {
	for _, o := range res.Objects {
		if o.Diff != "" {
			fmt.Fprintf(w, "diff %s:\n%s", o.Ref, indent(o.Diff))
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" {
			b.WriteString("    " + line)
		}
	}
	return b.String()
}

// ensureNamespace creates namespace ns unless it exists.
func ensureNamespace(ctx context.Context, cfg *rest.Config, ns string) error {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	obj := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}}
	_, err = dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// cluster returns the cluster to reconcile into: the kubeconfig's current context,
// or a new in-memory API server.
func cluster(kubeconfig string) (*rest.Config, string, func(), error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, "", nil, fmt.Errorf("kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, cfg.Host, func() {}, nil
	}
	srv, err := gitopstest.StartAPIServer(gitopstest.APIServerOptions{})
	if err != nil {
		return nil, "", nil, err
	}
	return srv.Config(), "gitopstest's in-memory API server at " + srv.URL(), srv.Close, nil
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
