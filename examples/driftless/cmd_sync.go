package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitops"
	"github.com/driftless-dev/driftless/render"
)

// syncCommand is `driftless sync --kubeconfig K [--prune] [--dry-run] [--force]
// [--namespace NS] [--root DIR] PATH`: it renders PATH like `driftless render`, applies
// the objects in plan order with server-side apply, and prints the ChangeSet. With
// `--app app.yaml` it syncs Applications instead (fetching their repository).
func syncCommand() command {
	return command{
		name:    "sync",
		summary: "render PATH and apply it to a cluster in waves (server-side apply, inventory, prune)",
		run:     runSync,
	}
}

func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("sync", "usage: driftless sync [flags] PATH\n"+
		"\n"+
		"Renders PATH (a kustomization or a directory of YAML files) and applies it in\n"+
		"plan order: hook phase, sync-wave, kind. Unchanged objects are not written.\n"+
		"Prints one line per object: created, configured, unchanged, deleted, skipped, failed.", stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context (default: the current context)")
	namespace := fs.String("namespace", "default", "destination namespace: namespaced objects without one go there, and the inventory lives there")
	name := fs.String("name", "", "name of this set of objects: owner label value and inventory name (default: the base name of PATH)")
	root := fs.String("root", "", "the directory the render may read (as for driftless render)")
	prune := fs.Bool("prune", false, "delete objects a previous sync applied that are no longer rendered")
	dryRun := fs.Bool("dry-run", false, "server-side dry-run: show what would happen, persist nothing")
	force := fs.Bool("force", false, "take ownership of fields other field managers own (force conflicts)")
	takeOver := fs.Bool("take-over", false, "take over fields owned by kubectl (client-side apply, edit) and drop its last-applied annotation")
	recreate := fs.Bool("recreate", false, "delete and re-create objects whose immutable fields changed")
	fieldManager := fs.String("field-manager", apply.DefaultFieldManager, "server-side apply field manager")
	concurrency := fs.Int("concurrency", apply.DefaultConcurrency, "objects applied at once within a kind group")
	showPlan := fs.Bool("plan", false, "print the plan (waves in order) before syncing")
	timeout := fs.Duration("timeout", 10*time.Minute, "bound for the whole sync")
	appFile := fs.String("app", "", "sync the Application(s) in this YAML file (Argo CD format: source repo, path, revision, destination) instead of PATH")
	projectFile := fs.String("project", "", "with --app: the AppProject YAML the Applications name (default: the permissive default project)")
	historyFile := fs.String("history", "", "with --app: the JSON-lines audit history to append to (default: <user cache dir>/driftless/history.jsonl; - for none); Events go on the Applications too")

	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "driftless sync: %v\n", err)
		return 2
	}
	if *appFile != "" && len(positional) == 0 {
		cfg, err := loadKubeconfig(*kubeconfig, *kubeContext)
		if err != nil {
			return fail(err)
		}
		ctx, cancel := context.WithTimeout(ctx, *timeout)
		defer cancel()
		if err := syncApplications(ctx, cfg, *appFile, *projectFile, *historyFile, gitops.SyncRequest{Prune: *prune, DryRun: *dryRun}, stdout); err != nil {
			return fail(err)
		}
		return 0
	}
	if len(positional) != 1 || *appFile != "" {
		fs.Usage()
		return 2
	}

	rootDir, rel, err := renderTarget(*root, positional[0])
	if err != nil {
		return fail(err)
	}
	if *name == "" {
		*name = filepath.Base(filepath.Join(rootDir, rel))
	}
	m, err := render.Render(ctx, rootDir, rel, render.Options{})
	if err != nil {
		return fail(err)
	}
	plan, err := apply.NewPlan(m.Objects)
	if err != nil {
		return fail(err)
	}
	if *showPlan {
		fmt.Fprint(stdout, plan.String())
		fmt.Fprintln(stdout)
	}

	cfg, err := loadKubeconfig(*kubeconfig, *kubeContext)
	if err != nil {
		return fail(err)
	}
	client, mapper, err := clients(cfg)
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	applier := apply.New(client, mapper, apply.Options{
		FieldManager: *fieldManager, Name: *name, Namespace: *namespace, Concurrency: *concurrency,
		Force: *force, TakeOver: *takeOver, Recreate: *recreate, DryRun: *dryRun, Prune: *prune,
	})
	cs, err := applier.ApplyPlan(ctx, plan)
	fmt.Fprint(stdout, cs.String())
	if err != nil {
		return fail(err)
	}
	return 0
}

// loadKubeconfig reads a kubeconfig the way kubectl does, and lifts client-go's
// default rate limit (5 requests/s) to what a sync of a few thousand objects needs.
func loadKubeconfig(path, context string) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if path != "" {
		rules.ExplicitPath = path
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules,
		&clientcmd.ConfigOverrides{CurrentContext: context}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	return cfg, nil
}

// clients builds the dynamic client and a discovery-backed RESTMapper.
func clients(cfg *rest.Config) (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper, error) {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	return client, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)), nil
}
