package apply

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// recreate deletes live and creates desired in its place, after the server refused to
// change the immutable fields. See deleteAndWait for how the old object is deleted.
func (r *run) recreate(ctx context.Context, t *target, desired, live *unstructured.Unstructured, fields []string) Entry {
	why := "immutable field " + strings.Join(fields, ", ") + " changed"
	if r.a.opts.DryRun {
		return Entry{Action: Configured, Message: why + ": would delete and re-create the object"}
	}
	how, err := r.deleteAndWait(ctx, t, live)
	if err != nil {
		return Entry{Action: Failed, Message: why + ": re-create", Err: err}
	}
	if _, err := r.ssa(ctx, t, desired, r.a.opts.Force); err != nil {
		return Entry{Action: Failed, Message: why + ": deleted (" + how + "), then create failed",
			Err: &ObjectError{Ref: t.ref, Op: "re-create", Err: err}}
	}
	return Entry{Action: Configured, Message: why + ": re-created (deleted with " + how + ", then created)"}
}

// deleteAndWait deletes live (only that incarnation: the UID is a precondition) and
// waits until it is really gone, finalizers included. It says how it deleted.
//
// Propagation is foreground when the object has dependents (or may have: a custom
// resource, a kind whose dependents we cannot list), so the old ReplicaSets and Pods go
// before the new object exists; foreground deletion needs the garbage collector
// (kube-controller-manager) to finish. An object that has no dependents is deleted with
// background propagation, which completes at once without a garbage collector. A
// foreground deletion that does not finish within WaitTimeout fails with an error that
// says the garbage collector is not removing the foregroundDeletion finalizer.
func (r *run) deleteAndWait(ctx context.Context, t *target, live *unstructured.Unstructured) (string, error) {
	log := logr.FromContextOrDiscard(ctx)
	policy := metav1.DeletePropagationBackground
	how := "background propagation: it has no dependents"
	has, err := r.hasDependents(ctx, live)
	if err != nil {
		return "", &ObjectError{Ref: t.ref, Op: "look for dependents", Err: err}
	}
	if has {
		policy = metav1.DeletePropagationForeground
		how = "foreground propagation: its dependents went first"
	}
	uid := live.GetUID()
	ri := r.a.resource(t.mapping, t.ref.Namespace)
	err = ri.Delete(ctx, t.ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return "", &ObjectError{Ref: t.ref, Op: "delete", Err: err}
	}
	log.V(1).Info("deleted, waiting until gone", "policy", policy)
	var last *unstructured.Unstructured
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, r.a.opts.WaitTimeout, true, func(ctx context.Context) (bool, error) {
		cur, err := r.get(ctx, t)
		if err != nil {
			return false, err
		}
		last = cur
		return cur == nil || cur.GetUID() != uid, nil
	})
	if err != nil {
		msg := fmt.Sprintf("still there after %s", r.a.opts.WaitTimeout)
		if last != nil && len(last.GetFinalizers()) > 0 {
			msg += fmt.Sprintf(", waiting for finalizers %v", last.GetFinalizers())
			for _, f := range last.GetFinalizers() {
				if f == metav1.FinalizerDeleteDependents {
					msg += " (the garbage collector removes foregroundDeletion: is kube-controller-manager running?)"
				}
			}
		}
		return "", &ObjectError{Ref: t.ref, Op: "wait for deletion", Err: fmt.Errorf("%s: %w", msg, err)}
	}
	return how, nil
}

// dependentKinds lists, for the built-in kinds whose controllers create owned objects,
// the kinds of those objects (same namespace).
func dependentKinds(gk schema.GroupKind) ([]schema.GroupVersionResource, bool) {
	pods := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	revisions := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "controllerrevisions"}
	switch gk {
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}:
		return []schema.GroupVersionResource{{Group: "apps", Version: "v1", Resource: "replicasets"}}, true
	case schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}, schema.GroupKind{Kind: "ReplicationController"},
		schema.GroupKind{Group: "batch", Kind: "Job"}:
		return []schema.GroupVersionResource{pods}, true
	case schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "apps", Kind: "DaemonSet"}:
		return []schema.GroupVersionResource{pods, revisions}, true
	case schema.GroupKind{Group: "batch", Kind: "CronJob"}:
		return []schema.GroupVersionResource{{Group: "batch", Version: "v1", Resource: "jobs"}}, true
	case schema.GroupKind{Kind: "Service"}:
		return []schema.GroupVersionResource{{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}}, true
	}
	return nil, false
}

// hasDependents reports whether any object names live as its owner. Built-in kinds
// without controllers have none; custom resources may have any, so they count as
// having some.
func (r *run) hasDependents(ctx context.Context, live *unstructured.Unstructured) (bool, error) {
	gk := live.GroupVersionKind().GroupKind()
	kinds, known := dependentKinds(gk)
	if !known {
		return !builtinGroup(gk.Group), nil
	}
	for _, gvr := range kinds {
		list, err := r.a.client.Resource(gvr).Namespace(live.GetNamespace()).List(ctx, metav1.ListOptions{})
		if err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return false, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for _, item := range list.Items {
			if ownedBy(item.GetOwnerReferences(), live.GetUID()) {
				return true, nil
			}
		}
	}
	return false, nil
}

func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, ref := range refs {
		if ref.UID == uid {
			return true
		}
	}
	return false
}
