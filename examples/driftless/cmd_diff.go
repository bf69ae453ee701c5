package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/driftless-dev/driftless/diff"
	"github.com/driftless-dev/driftless/render"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// diffCommand is `driftless diff --kubeconfig K [--root DIR] PATH`: it renders PATH
// like `driftless render`, predicts the server-side apply of each object against the
// cluster, and prints the masked unified diff, like kubectl diff. Exit status: 0 no
// drift, 1 drift, 2 error.
func diffCommand() command {
	return command{
		name:    "diff",
		summary: "show what applying a kustomization would change in a cluster (exit 1 on drift, like kubectl diff)",
		run:     runDiff,
	}
}

func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("diff", "usage: driftless diff --kubeconfig FILE [flags] PATH\n"+
		"\n"+
		"Renders PATH (as driftless render does), predicts what a server-side apply of each\n"+
		"object would change, and prints a unified diff with Secret values masked.\n"+
		"Exit status: 0 no drift, 1 drift, 2 error.", stderr)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)")
	kubeContext := fs.String("context", "", "kubeconfig context (default: the current context)")
	root := fs.String("root", "", "the directory the build may read (default: as for driftless render)")
	manager := fs.String("field-manager", diff.DefaultFieldManager, "the field manager whose apply is predicted")
	strict := fs.Bool("strict", false, "confirm every drift verdict with a server-side dry run")
	var ageKeys stringList
	fs.Var(&ageKeys, "age-key-file", "age identity file to decrypt SOPS Secrets (repeatable)")
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(positional) != 1 {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "driftless diff: %v\n", err)
		return 2
	}

	opts := render.Options{}
	if d, err := decryptorFromFlags(ageKeys); err != nil {
		return fail(err)
	} else if d != nil {
		opts.Decryptor = d
	}
	rootDir, rel, err := renderTarget(*root, positional[0])
	if err != nil {
		return fail(err)
	}
	m, err := render.Render(ctx, rootDir, rel, opts)
	if err != nil {
		return fail(err)
	}

	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = *kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: *kubeContext})
	cfg, err := cc.ClientConfig()
	if err != nil {
		return fail(fmt.Errorf("kubeconfig: %w", err))
	}
	namespace, _, err := cc.Namespace()
	if err != nil {
		return fail(fmt.Errorf("kubeconfig: %w", err))
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return fail(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	differ := diff.New(diff.Options{
		FieldManager: *manager,
		Schemas:      diff.NewDiscoverySchemas(dc.OpenAPIV3(), diff.DiscoveryOptions{}),
		Confirmer:    diff.NewServerConfirmer(dyn, mapper),
		Strict:       *strict,
	})

	drift, failed := false, false
	for _, obj := range m.Sorted() {
		res, err := diffObject(ctx, differ, dyn, mapper, obj, namespace)
		if err != nil {
			fmt.Fprintf(stderr, "driftless diff: %v\n", err)
			failed = true
			continue
		}
		if res.Drift {
			drift = true
			if _, err := io.WriteString(stdout, res.Unified); err != nil {
				return fail(err)
			}
		}
	}
	switch {
	case failed:
		return 2
	case drift:
		return 1
	}
	return 0
}

// diffObject reads the live state of one rendered object and diffs it.
func diffObject(ctx context.Context, d *diff.Differ, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured, namespace string) (diff.Result, error) {
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if meta.IsNoMatchError(err) {
			// The kind is not served yet (its CRD is part of the set): a create.
			return d.Diff(ctx, obj, nil)
		}
		return diff.Result{}, fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj = obj.DeepCopy()
			obj.SetNamespace(namespace)
		}
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	live, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		live = nil
	case err != nil:
		return diff.Result{}, fmt.Errorf("read %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	return d.Diff(ctx, obj, live)
}
