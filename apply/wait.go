package apply

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
)

// waitReady waits, after a kind group was applied, until its Namespaces are Active and
// its CRDs Established (the CRDs' kinds are then mapped: a resettable RESTMapper is
// reset). Dry runs and objects that failed are not waited for.
func (r *run) waitReady(ctx context.Context, ts []*target) []error {
	if r.a.opts.DryRun {
		return nil
	}
	var errs []error
	crds := false
	for _, t := range ts {
		e := r.entryOf(t)
		if e == nil || e.Action == Failed || e.Action == Skipped || t.ready {
			continue
		}
		var ready func(*unstructured.Unstructured) (bool, error)
		switch {
		case t.ref.Group == "" && t.ref.Kind == "Namespace":
			ready = namespaceActive
		case t.ref.Group == "apiextensions.k8s.io" && t.ref.Kind == "CustomResourceDefinition":
			ready, crds = crdEstablished, true
		default:
			continue
		}
		if err := r.pollObject(ctx, t, ready); err != nil {
			err = &ObjectError{Ref: t.ref, Op: "wait", Err: err}
			e.Action, e.Err = Failed, err
			errs = append(errs, err)
		}
	}
	if crds {
		if rm, ok := r.a.mapper.(meta.ResettableRESTMapper); ok {
			rm.Reset()
		}
	}
	return errs
}

// pollObject reads t until ready says so, quickly at first (a CRD is usually
// Established within a second), for at most WaitTimeout.
func (r *run) pollObject(ctx context.Context, t *target, ready func(*unstructured.Unstructured) (bool, error)) error {
	var lastErr error
	backoff := wait.Backoff{Duration: 20 * time.Millisecond, Factor: 2, Cap: time.Second, Steps: 1 << 30}
	ctx, cancel := context.WithTimeout(ctx, r.a.opts.WaitTimeout)
	defer cancel()
	err := wait.ExponentialBackoffWithContext(ctx, backoff, func(ctx context.Context) (bool, error) {
		obj, err := r.get(ctx, t)
		if err != nil {
			lastErr = err
			return false, nil
		}
		if obj == nil {
			lastErr = fmt.Errorf("not found")
			return false, nil
		}
		ok, err := ready(obj)
		if err != nil {
			return false, err // a terminal state: stop waiting
		}
		lastErr = nil
		return ok, nil
	})
	if err != nil && lastErr != nil {
		return fmt.Errorf("%w (last: %v)", err, lastErr)
	}
	return err
}

// readyNow reports whether live is a Namespace that is Active or a CRD that is
// Established.
func readyNow(t *target, live *unstructured.Unstructured) bool {
	var ok bool
	switch {
	case t.ref.Group == "" && t.ref.Kind == "Namespace":
		ok, _ = namespaceActive(live)
	case t.ref.Group == "apiextensions.k8s.io" && t.ref.Kind == "CustomResourceDefinition":
		ok, _ = crdEstablished(live)
	}
	return ok
}

// namespaceActive is true once the namespace is Active; a Terminating namespace is an
// error (nothing can be created in it).
func namespaceActive(obj *unstructured.Unstructured) (bool, error) {
	phase, _, _ := unstructured.NestedString(obj.Object, "status", "phase")
	switch phase {
	case "Active":
		return true, nil
	case "Terminating":
		return false, fmt.Errorf("namespace %s is terminating", obj.GetName())
	}
	return false, nil
}

// crdEstablished is true once the CRD's Established condition is True; a NamesAccepted
// condition that is False (a name clash) is an error.
func crdEstablished(obj *unstructured.Unstructured) (bool, error) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	established := false
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		typ, _ := m["type"].(string)
		status, _ := m["status"].(string)
		switch {
		case typ == "Established" && status == "True":
			established = true
		case typ == "NamesAccepted" && status == "False":
			msg, _ := m["message"].(string)
			return false, fmt.Errorf("CRD %s: names not accepted: %s", obj.GetName(), msg)
		}
	}
	return established, nil
}
