package apply

import (
	"context"
	"fmt"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// target is a planned object being applied: the Object with its namespace filled in,
// the desired state we send, its REST mapping and its ChangeSet entry.
type target struct {
	*Object
	ref     Ref
	desired *unstructured.Unstructured
	// mapping is nil until the kind can be mapped (a custom resource whose CRD is in
	// the set and not yet established).
	mapping *meta.RESTMapping
	// crd is the CRD of the set that serves this custom resource's kind.
	crd *target
	// ready is set (by the goroutine applying the object) when the live object was
	// unchanged and already Active or Established: waitReady need not read it again.
	ready bool
	// entry indexes ChangeSet.Entries; -1 until the object has an entry (SyncFail
	// hooks get theirs only when they run).
	entry int
}

// run is the state of one Apply.
type run struct {
	a       *Applier
	plan    *Plan
	cs      *ChangeSet
	targets []*target // plan order
	byObj   map[*Object]*target
	// namespaces are the Namespace objects of the set by name, per phase.
	namespaces map[Phase]map[string]*target

	// oldInventory is the inventory as loaded; storedInventory what it holds now.
	oldInventory, storedInventory []Ref
	invStored                     bool
	// pruneDropped are the old inventory entries (by Key) prune deleted, or found
	// gone or not ours: they leave the inventory.
	pruneDropped map[string]bool

	// dryCreated are the namespaces (key "Namespace/NAME") and custom kinds (key
	// "CRD/GROUP/KIND") a dry run would create; objects that need them are reported
	// without asking the server, which would refuse them.
	dryCreated map[string]bool
}

func newRun(a *Applier, plan *Plan, cs *ChangeSet) *run {
	r := &run{a: a, plan: plan, cs: cs, byObj: map[*Object]*target{}, dryCreated: map[string]bool{},
		pruneDropped: map[string]bool{}, namespaces: map[Phase]map[string]*target{}}
	for _, o := range plan.Objects() {
		t := &target{Object: o, ref: o.Ref, entry: -1}
		if o.Phase != SyncFail {
			t.entry = len(cs.Entries)
			cs.Entries = append(cs.Entries, Entry{Ref: o.Ref, Phase: o.Phase, Wave: o.Wave, Hook: o.Hook})
		}
		r.targets = append(r.targets, t)
		r.byObj[o] = t
		if o.Ref.Group == "" && o.Ref.Kind == "Namespace" {
			if r.namespaces[o.Phase] == nil {
				r.namespaces[o.Phase] = map[string]*target{}
			}
			r.namespaces[o.Phase][o.Ref.Name] = t
		}
	}
	return r
}

// entryOf returns the ChangeSet entry of t (nil when it has none yet).
func (r *run) entryOf(t *target) *Entry {
	if t.entry < 0 {
		return nil
	}
	return &r.cs.Entries[t.entry]
}

// set records e as t's entry, keeping the plan fields.
func (r *run) set(t *target, e Entry) {
	e.Ref, e.Phase, e.Wave, e.Hook = t.ref, t.Phase, t.Wave, t.Hook
	r.cs.Entries[t.entry] = e
}

// skipAll marks every entry skipped (validation or inventory failure).
func (r *run) skipAll(msg string) {
	for _, t := range r.targets {
		if e := r.entryOf(t); e != nil && e.Action == "" {
			r.set(t, Entry{Action: Skipped, Message: msg})
		}
	}
}

// skipWave marks the objects of w skipped.
func (r *run) skipWave(w Wave, msg string) {
	for _, o := range w.Objects {
		if t := r.byObj[o]; t.entry >= 0 {
			r.set(t, Entry{Action: Skipped, Message: msg})
		}
	}
}

// addWaveEntries gives the objects of w (SyncFail hooks) their entries.
func (r *run) addWaveEntries(w Wave) {
	for _, o := range w.Objects {
		t := r.byObj[o]
		if t.entry < 0 {
			t.entry = len(r.cs.Entries)
			r.cs.Entries = append(r.cs.Entries, Entry{Ref: t.ref, Phase: t.Phase, Wave: t.Wave, Hook: t.Hook})
		}
	}
}

// runWave applies one wave kind group after kind group, then waits for its hooks and,
// when health gating is on, for its plain objects to be healthy. A group's failure does
// not stop the later groups of the wave, except for the objects that need what failed
// (the namespace they live in, the CRD that serves them); it fails the sync after the
// wave.
func (r *run) runWave(ctx context.Context, w Wave) []error {
	log := logr.FromContextOrDiscard(ctx).WithValues("phase", w.Phase, "wave", w.Wave)
	log.V(1).Info("wave start", "objects", len(w.Objects))
	var errs []error
	var hooks, plain []*target
	for _, step := range w.steps() {
		ts := make([]*target, len(step))
		for i, o := range step {
			ts[i] = r.byObj[o]
			if o.Hook {
				hooks = append(hooks, ts[i])
			} else {
				plain = append(plain, ts[i])
			}
		}
		if err := r.ensureInventory(ctx); err != nil {
			for _, t := range ts {
				r.set(t, Entry{Action: Failed, Err: err})
			}
			return []error{err}
		}
		errs = append(errs, r.runStep(ctx, ts)...)
	}
	if len(hooks) > 0 && ctx.Err() == nil {
		errs = append(errs, r.finishHooks(ctx, hooks)...)
	}
	if len(errs) == 0 && r.a.opts.Health != nil && !r.a.opts.DryRun && len(plain) > 0 {
		refs := make([]Ref, 0, len(plain))
		for _, t := range plain {
			if e := r.entryOf(t); e.Action != Skipped {
				refs = append(refs, t.ref)
			}
		}
		if err := r.a.opts.Health.WaitHealthy(ctx, refs); err != nil {
			errs = append(errs, fmt.Errorf("wave %d of phase %s is not healthy: %w", w.Wave, w.Phase, err))
		}
	}
	log.V(1).Info("wave done", "errors", len(errs))
	return errs
}

// runStep applies one kind group of a wave: the objects go out concurrently, at most
// Options.Concurrency at a time, and goroutine i writes only results[i], so no lock is
// needed and the ChangeSet keeps plan order. Namespaces must then be Active and CRDs
// Established before the step ends.
func (r *run) runStep(ctx context.Context, ts []*target) []error {
	var errs []error
	todo := make([]*target, 0, len(ts))
	for _, t := range ts {
		if reason := r.blocked(t); reason != "" {
			r.set(t, Entry{Action: Skipped, Message: reason})
			continue
		}
		if t.mapping == nil {
			if e, ok := r.resolveLate(ctx, t); !ok {
				r.set(t, e)
				if e.Err != nil {
					errs = append(errs, e.Err)
				}
				continue
			}
		}
		todo = append(todo, t)
	}
	if len(todo) == 0 {
		return errs
	}
	live := r.prefetch(ctx, todo)
	results := make([]Entry, len(todo))
	var g errgroup.Group
	g.SetLimit(r.a.opts.Concurrency)
	for i, t := range todo {
		g.Go(func() error {
			if t.Hook {
				results[i] = r.applyHook(ctx, t)
			} else {
				results[i] = r.applyObject(ctx, t, live)
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail: a failure is a Failed entry
	for i, t := range todo {
		r.set(t, results[i])
		if results[i].Err != nil {
			errs = append(errs, results[i].Err)
		}
		if r.a.opts.DryRun && results[i].Action == Created {
			r.noteDryCreated(t)
		}
	}
	return append(errs, r.waitReady(ctx, todo)...)
}

// blocked says why t cannot be applied because something it needs failed: its
// namespace's Namespace object or the CRD that serves its kind.
func (r *run) blocked(t *target) string {
	if t.crd != nil {
		if e := r.entryOf(t.crd); e != nil && (e.Action == Failed || e.Action == Skipped) {
			return fmt.Sprintf("not applied: its CRD %s was %s", t.crd.ref.Name, e.Action)
		}
	}
	if n := r.namespaces[t.Phase][t.ref.Namespace]; n != nil && t.ref.Namespace != "" && n != t {
		if e := r.entryOf(n); e != nil && (e.Action == Failed || e.Action == Skipped) {
			return fmt.Sprintf("not applied: its Namespace %s was %s", n.ref.Name, e.Action)
		}
	}
	return ""
}

// resolveLate maps a custom resource whose CRD became Established in this sync. In a
// dry run the CRD was not created, so the object is reported as it would be created.
func (r *run) resolveLate(ctx context.Context, t *target) (Entry, bool) {
	if r.a.opts.DryRun && t.crd != nil && r.dryCreated["CRD/"+t.ref.Group+"/"+t.ref.Kind] {
		return Entry{Action: Created, Message: fmt.Sprintf("not sent to the server: its CRD %s is created by this sync", t.crd.ref.Name)}, false
	}
	m, err := r.a.restMapping(ctx, t.ref.GroupVersionKind(), true)
	if err != nil {
		return Entry{Action: Failed, Err: &ObjectError{Ref: t.ref, Op: "map kind", Err: err}}, false
	}
	t.mapping = m
	return Entry{}, true
}

// noteDryCreated remembers what a dry run would have created that later objects need.
func (r *run) noteDryCreated(t *target) {
	switch {
	case t.ref.Group == "" && t.ref.Kind == "Namespace":
		r.dryCreated["Namespace/"+t.ref.Name] = true
	case t.ref.Group == "apiextensions.k8s.io" && t.ref.Kind == "CustomResourceDefinition":
		group, _, _ := unstructured.NestedString(t.desired.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(t.desired.Object, "spec", "names", "kind")
		r.dryCreated["CRD/"+group+"/"+kind] = true
	}
}
