package apply

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pruneCandidates are the entries of the old inventory that are not in the new set,
// in reverse inventory order (the reverse of the order they were applied in).
func (r *run) pruneCandidates() []Ref {
	inNew := map[string]bool{}
	for _, t := range r.targets {
		inNew[t.ref.Key()] = true
	}
	var out []Ref
	for i := len(r.oldInventory) - 1; i >= 0; i-- {
		if ref := r.oldInventory[i]; !inNew[ref.Key()] {
			out = append(out, ref)
		}
	}
	return out
}

// skipPrune reports the prune candidates as skipped.
func (r *run) skipPrune(msg string) {
	if !r.a.opts.Prune {
		msg = "no longer in the set; prune is off"
	}
	for _, ref := range r.pruneCandidates() {
		r.cs.Entries = append(r.cs.Entries, Entry{Ref: ref, Phase: Prune, Action: Skipped, Message: msg})
	}
}

// prune deletes the old inventory's objects that left the set, one by one in reverse
// order, unless:
//   - the object is gone already, or its kind is no longer served (dropped from the
//     inventory);
//   - its LabelOwner or AnnotationInventory no longer name this sync: someone else
//     adopted or re-created it (dropped, never deleted);
//   - it is annotated with the sync option Prune=false (dropped, never deleted);
//   - it is a Namespace that still holds objects of the set (kept).
//
// A failed delete keeps the entry in the inventory and fails the sync.
func (r *run) prune(ctx context.Context) []error {
	if !r.a.opts.Prune {
		r.skipPrune("")
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	inUse := map[string]bool{}
	for _, t := range r.targets {
		inUse[t.ref.Namespace] = true
	}
	var errs []error
	for _, ref := range r.pruneCandidates() {
		e := r.pruneOne(ctx, ref, inUse)
		e.Ref, e.Phase = ref, Prune
		if e.Err != nil {
			errs = append(errs, e.Err)
		}
		log.V(1).Info("prune", "object", ref.String(), "action", e.Action, "message", e.Message)
		r.cs.Entries = append(r.cs.Entries, e)
	}
	return errs
}

// pruneOne decides about and deletes one object.
func (r *run) pruneOne(ctx context.Context, ref Ref, inUse map[string]bool) Entry {
	key := ref.Key()
	m, err := r.a.mappingFor(ctx, ref)
	if meta.IsNoMatchError(err) {
		r.pruneDropped[key] = true
		return Entry{Action: Skipped, Message: "its kind is no longer served: gone"}
	}
	if err != nil {
		return Entry{Action: Failed, Err: &ObjectError{Ref: ref, Op: "prune", Err: err}}
	}
	ri := r.a.resource(m, ref.Namespace)
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		r.pruneDropped[key] = true
		return Entry{Action: Skipped, Message: "already gone"}
	}
	if err != nil {
		return Entry{Action: Failed, Err: &ObjectError{Ref: ref, Op: "prune", Err: err}}
	}
	if owner, inv := live.GetLabels()[LabelOwner], live.GetAnnotations()[AnnotationInventory]; owner != r.a.opts.Name || inv != r.a.inv.ID() {
		r.pruneDropped[key] = true
		return Entry{Action: Skipped, Message: fmt.Sprintf("not ours any more (label %s=%q, annotation %s=%q): left alone",
			LabelOwner, owner, AnnotationInventory, inv)}
	}
	if pruneDisabled(live) {
		r.pruneDropped[key] = true
		return Entry{Action: Skipped, Message: "prune disabled by the sync option Prune=false: left alone, no longer managed"}
	}
	if ref.Group == "" && ref.Kind == "Namespace" && inUse[ref.Name] {
		return Entry{Action: Skipped, Message: "namespace still holds objects of the set"}
	}
	if live.GetDeletionTimestamp() != nil {
		r.pruneDropped[key] = true
		return Entry{Action: Deleted, Message: "already being deleted"}
	}
	policy := metav1.DeletePropagationBackground
	uid := live.GetUID()
	opts := metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}}
	if r.a.opts.DryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	if err := ri.Delete(ctx, ref.Name, opts); err != nil && !apierrors.IsNotFound(err) {
		return Entry{Action: Failed, Err: &ObjectError{Ref: ref, Op: "prune", Err: err}}
	}
	r.pruneDropped[key] = true
	return Entry{Action: Deleted}
}
