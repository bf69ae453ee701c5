package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/driftless-dev/driftless/gitops"
	"github.com/driftless-dev/driftless/source"
)

var (
	applicationsGVR = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}
	projectsGVR     = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "appprojects"}
)

// statusManager is the field manager of the status the controller writes.
const statusManager = "driftless-controller"

// controller feeds Application and AppProject objects to a gitops.Runner and writes
// each reconcile's outcome back to the Application's status.
type controller struct {
	dyn       dynamic.Interface
	rec       *gitops.Reconciler
	runner    *gitops.Runner
	namespace string
	log       logr.Logger
}

// watch starts the informers; Application changes that are not spec changes (the
// controller's own status writes) are ignored.
func (c *controller) watch(ctx context.Context) error {
	factory := dynamicinformer.NewFilteredDynamicSharedInformerFactory(c.dyn, 0, c.namespace, nil)
	projects := factory.ForResource(projectsGVR).Informer()
	if _, err := projects.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.project(obj) },
		UpdateFunc: func(_, obj any) { c.project(obj) },
	}); err != nil {
		return err
	}
	apps := factory.ForResource(applicationsGVR).Informer()
	if _, err := apps.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { c.application(ctx, obj) },
		UpdateFunc: func(old, obj any) {
			o, n := old.(*unstructured.Unstructured), obj.(*unstructured.Unstructured)
			if o.GetGeneration() != n.GetGeneration() {
				c.application(ctx, obj)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if u, ok := obj.(*unstructured.Unstructured); ok {
				c.runner.Remove(u.GetNamespace() + "/" + u.GetName())
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	// Projects first, so the first reconciles see them.
	if !cache.WaitForCacheSync(ctx.Done(), projects.HasSynced, apps.HasSynced) {
		return fmt.Errorf("watch Applications and AppProjects: %w", context.Cause(ctx))
	}
	return nil
}

func (c *controller) project(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	p := &gitops.AppProject{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, p); err != nil {
		c.log.Error(err, "ignoring AppProject", "project", u.GetName())
		return
	}
	c.rec.SetProject(p)
}

func (c *controller) application(ctx context.Context, obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	app := &gitops.Application{}
	err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, app)
	app.Name, app.Namespace = u.GetName(), u.GetNamespace()
	if err == nil {
		err = app.Validate()
	}
	if err != nil {
		c.log.Error(err, "invalid Application", "app", u.GetNamespace()+"/"+u.GetName())
		res := &gitops.Result{App: app.Key(), Sync: gitops.SyncUnknown, Conditions: []gitops.Condition{{Type: gitops.ConditionInvalidSpec, Message: err.Error()}}}
		c.writeStatus(ctx, app, res, nil)
		return
	}
	c.runner.Add(app)
}

// writeStatus applies the Application's status (server-side apply of the status
// subresource under statusManager).
func (c *controller) writeStatus(ctx context.Context, app *gitops.Application, res *gitops.Result, last *gitops.SyncRecord) {
	now := metav1.Now()
	st := gitops.ApplicationStatus{
		Sync:         gitops.SyncStatusInfo{Status: res.Sync, Revision: res.Revision},
		Health:       gitops.HealthStatusInfo{Status: string(res.Health), Message: res.HealthMessage},
		ReconciledAt: &now,
	}
	for _, cond := range res.Conditions {
		cond.LastTransitionTime = &now
		st.Conditions = append(st.Conditions, cond)
	}
	if last != nil {
		finished := metav1.NewTime(last.FinishedAt)
		st.OperationState = &gitops.OperationSummary{Phase: last.Result, Message: last.Message, Revision: last.Revision,
			StartedAt: metav1.NewTime(last.StartedAt), FinishedAt: &finished}
	}
	body := map[string]any{"apiVersion": gitops.APIVersion, "kind": gitops.ApplicationKind,
		"metadata": map[string]any{"name": app.Name, "namespace": app.Namespace}, "status": st}
	data, err := json.Marshal(body)
	if err != nil {
		c.log.Error(err, "encode status", "app", app.Key())
		return
	}
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		c.log.Error(err, "encode status", "app", app.Key())
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.dyn.Resource(applicationsGVR).Namespace(app.Namespace).ApplyStatus(ctx, app.Name, obj,
		metav1.ApplyOptions{FieldManager: statusManager, Force: true}); err != nil {
		c.log.Error(err, "write status", "app", app.Key())
	}
}

func newDiskCache(dir string) (*source.DiskCache, error) {
	return source.NewDiskCache(source.CacheOptions{Dir: dir})
}
