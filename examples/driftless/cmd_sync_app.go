package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/gitops"
)

// syncApplications is `driftless sync --app FILE`: a one-shot manual sync of each
// Application in FILE (fetch, render, diff, apply, health) through the gitops
// Reconciler, printing each Result and the audit record.
func syncApplications(ctx context.Context, cfg *rest.Config, appFile, projectFile, historyFile string, req gitops.SyncRequest, stdout io.Writer) error {
	data, err := os.ReadFile(appFile)
	if err != nil {
		return err
	}
	apps, err := gitops.ParseApplications(appFile, data)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("%s: no Application", appFile)
	}
	opts := gitops.ReconcilerOptions{Config: cfg, HistoryFile: historyFile}
	if projectFile != "" {
		raw, err := os.ReadFile(projectFile)
		if err != nil {
			return err
		}
		p := &gitops.AppProject{}
		if err := yaml.UnmarshalStrict(raw, p); err != nil {
			return fmt.Errorf("%s: %w", projectFile, err)
		}
		opts.Projects = []*gitops.AppProject{p}
	}
	rec, err := gitops.NewReconciler(opts)
	if err != nil {
		return err
	}
	defer rec.Close()
	var firstErr error
	for _, app := range apps {
		res, err := rec.Sync(ctx, app, req)
		res.Print(stdout)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	for _, r := range rec.History().Records("") {
		fmt.Fprintf(stdout, "audit: %s %s at %s (%s) %s\n", r.App, r.Result, r.Revision, r.Trigger, r.Message)
	}
	return firstErr
}
