package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/diff"
)

// applyObject applies one plain object: it reads the live state, takes over kubectl's
// fields when asked, decides offline with the Differ whether anything would change,
// and only then sends a server-side apply (dry-run in dry-run mode). An immutable-field
// refusal leads to a re-creation when the object allows it.
func (r *run) applyObject(ctx context.Context, t *target, ls *liveSet) Entry {
	log := logr.FromContextOrDiscard(ctx).WithValues("object", t.ref.String())
	opts := r.a.opts
	if opts.DryRun && t.ref.Namespace != "" && r.dryCreated["Namespace/"+t.ref.Namespace] {
		return Entry{Action: Created, Message: fmt.Sprintf("not sent to the server: its namespace %s is created by this sync", t.ref.Namespace)}
	}
	live, err := r.live(ctx, ls, t)
	if err != nil {
		return Entry{Action: Failed, Err: err}
	}
	var notes []string
	force := opts.Force
	if live != nil && opts.TakeOver {
		patch, taken, err := takeOverPatch(live, opts.TakeOverManagers, opts.FieldManager, t.desired.GetAPIVersion())
		if err != nil {
			return Entry{Action: Failed, Err: &ObjectError{Ref: t.ref, Op: "take over fields", Err: err}}
		}
		if patch != nil {
			if opts.DryRun {
				// A dry run cannot persist the hand-over, so the dry-run apply forces
				// instead: the outcome is the same for the fields kubectl owned.
				force = true
				live = takeOverLocally(live, taken, opts.FieldManager, t.desired.GetAPIVersion())
				notes = append(notes, "would take over fields of "+strings.Join(taken, ", "))
			} else {
				live, err = r.a.resource(t.mapping, t.ref.Namespace).Patch(ctx, t.ref.Name, types.JSONPatchType, patch,
					metav1.PatchOptions{FieldManager: opts.FieldManager})
				if err != nil {
					return Entry{Action: Failed, Err: &ObjectError{Ref: t.ref, Op: "take over fields", Err: err}}
				}
				notes = append(notes, "took over fields of "+strings.Join(taken, ", "))
			}
		}
	}
	desired := t.desired
	if live != nil && len(opts.IgnoreRules) > 0 {
		if desired, err = diff.PrepareDesired(desired, live, opts.IgnoreRules); err != nil {
			return Entry{Action: Failed, Err: &ObjectError{Ref: t.ref, Op: "apply ignore rules", Err: err}}
		}
	}
	// A missing object is created: no verdict is needed (and predicting the outcome
	// of a create costs more CPU than sending it).
	var res diff.Result
	if live != nil {
		res, err = r.a.differ.Diff(ctx, desired, live)
	}
	switch {
	case err != nil:
		// Without a verdict, apply: server-side apply of an unchanged object is harmless.
		log.Info("diff failed, applying", "error", err.Error())
		notes = append(notes, "diff failed ("+err.Error()+"), applied")
	case !res.Drift && live != nil:
		t.ready = readyNow(t, live)
		if len(notes) > 0 {
			return Entry{Action: Configured, Message: strings.Join(notes, "; ")}
		}
		return Entry{Action: Unchanged}
	}
	action := Configured
	if live == nil {
		action = Created
	}
	if _, err := r.ssa(ctx, t, desired, force); err != nil {
		if fields, ok := immutableFields(err); ok && live != nil {
			if t.Recreate || opts.Recreate {
				return r.recreate(ctx, t, desired, live, fields)
			}
			return Entry{Action: Failed, Paths: res.Paths, Err: &ImmutableError{Ref: t.ref, Fields: fields, Err: err}}
		}
		op := "apply"
		if opts.DryRun {
			op = "dry-run apply"
		}
		e := Entry{Action: Failed, Paths: res.Paths, Err: &ObjectError{Ref: t.ref, Op: op, Err: err}}
		if apierrors.IsConflict(err) && !force {
			e.Message = "conflict with another field manager (use force to take the fields)"
		}
		return e
	}
	return Entry{Action: action, Paths: res.Paths, Message: strings.Join(notes, "; ")}
}

// ssa sends a server-side apply of obj under our field manager (a dry run in dry-run
// mode) and returns the server's answer.
func (r *run) ssa(ctx context.Context, t *target, obj *unstructured.Unstructured, force bool) (*unstructured.Unstructured, error) {
	data, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t.ref, err)
	}
	po := metav1.PatchOptions{FieldManager: r.a.opts.FieldManager, Force: &force}
	if r.a.opts.DryRun {
		po.DryRun = []string{metav1.DryRunAll}
	}
	return r.a.resource(t.mapping, t.ref.Namespace).Patch(ctx, t.ref.Name, types.ApplyPatchType, data, po)
}
