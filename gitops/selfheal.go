package gitops

import (
	"context"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/diff"
)

// onClusterChange is the ClusterCache handler: a change to a managed object that makes
// it differ from Git (or deletes it) marks that object dirty and tells the Runner. The
// Reconciler's own writes match Git, so they never count as drift.
func (r *Reconciler) onClusterChange(ev ChangeEvent) {
	if ev.Initial || ev.Object == nil {
		return
	}
	owner := ev.Object.GetLabels()[apply.LabelOwner]
	r.mu.Lock()
	appKey, ok := r.owners[owner]
	st := r.states[appKey]
	notify := r.drift
	r.mu.Unlock()
	if !ok || st == nil {
		return
	}
	v := st.view()
	key := objKey(ev.Object)
	desired, managed := v.desired[key]
	if !managed || v.differ == nil {
		return
	}
	st.markChanged(key)
	drifted := ev.Type == Deleted
	if !drifted {
		// Offline unless the verdict needs the server (a suspect): bounded by the
		// Reconciler's lifetime.
		ctx, cancel := context.WithTimeout(r.life, 30*time.Second)
		d, err := v.differ.Diff(ctx, desired, ev.Object)
		cancel()
		drifted = err != nil || d.Drift
	}
	if !drifted {
		return
	}
	st.markDirty(key)
	r.opts.Metrics.countDrift(appKey)
	if notify != nil {
		notify(appKey)
	}
}

// heal re-diffs only the objects that changed in the cluster and, with selfHeal,
// re-applies the ones that drifted with force-conflicts (no render, no prune, the
// inventory untouched).
// Without selfHeal it reports them OutOfSync.
func (r *Reconciler) heal(ctx context.Context, app *Application, st *appState, dest *destination, owner string, res *Result, start time.Time) (*Result, error) {
	t := time.Now()
	keys := st.takeDirty()
	sort.Strings(keys)
	v := st.view()
	out := *st.last
	out.Objects = append([]ObjectResult(nil), st.last.Objects...)
	out.Revision, out.Trigger, out.Timings, out.Cached, out.SyncRan, out.Conditions = res.Revision, res.Trigger, res.Timings, false, false, nil
	index := map[string]int{}
	for i, o := range out.Objects {
		index[o.key] = i
	}
	var subset []*unstructured.Unstructured
	for _, key := range keys {
		desired, ok := v.desired[key]
		i, listed := index[key]
		if !ok || !listed {
			continue
		}
		live, _ := dest.cache.Get(v.gvrs[key], desired.GetNamespace(), desired.GetName())
		d, err := v.differ.Diff(ctx, desired, live)
		if err != nil {
			out.Objects[i].Error = err.Error()
		}
		if err == nil && !d.Drift {
			continue
		}
		subset = append(subset, desired)
		o := &out.Objects[i]
		o.Action, o.Paths, o.Diff = "update", d.Paths, d.Unified
		if d.Action == diff.Create {
			o.Action = "create"
		}
	}
	out.time("diff", t)
	if len(subset) == 0 {
		r.readHealth(st, dest, &out, false)
		st.last = &out
		cp := out
		return &cp, nil
	}
	out.Sync = OutOfSync
	if app.SelfHeal() {
		t = time.Now()
		opts := r.opts.ApplyOptions
		opts.FieldManager, opts.Name, opts.Namespace = r.opts.FieldManager, owner, app.Spec.Destination.Namespace
		opts.IgnoreRules, opts.Differ, opts.Live = ignoreRules(app), v.differ, cacheLive{dest: dest}
		opts.Prune = false
		// selfHeal reverts what someone else changed: the fields they took over are
		// taken back (force), which is the point of turning selfHeal on.
		opts.Force = true
		opts.Inventory = readOnlyInventory{r.inventory(app, dest, owner)}
		cs, err := apply.New(dest.dyn, dest.mapper, opts).Apply(ctx, deepCopies(subset))
		out.SyncRan = true
		healed := map[string]bool{}
		for _, o := range subset {
			healed[objKey(o)] = true
		}
		mergeChangeSet(&out, onlyEntries(cs, healed))
		for _, e := range cs.Entries {
			r.opts.Metrics.countApplied(string(e.Action))
		}
		if err != nil {
			out.addCondition(ConditionSync, "%v", err)
			for _, o := range subset {
				st.markDirty(objKey(o)) // retried, with backoff, by the next drift reconcile
			}
		} else {
			out.Sync = Synced
		}
		out.time("apply", t)
		r.awaitCache(ctx, dest, v.gvrs, subset, &out)
	}
	r.readHealth(st, dest, &out, false)
	st.last = &out
	r.record(ctx, app, &out, start)
	cp := out
	return &cp, out.Err()
}

// readOnlyInventory lets a partial apply (selfHeal of a few objects) label objects
// with the Application's inventory without rewriting the inventory to the subset.
type readOnlyInventory struct{ apply.Inventory }

func (readOnlyInventory) Store(context.Context, []apply.Ref) error { return nil }

// onlyEntries keeps the entries of the given objects (a partial apply also reports
// the rest of the inventory as skipped).
func onlyEntries(cs *apply.ChangeSet, keys map[string]bool) *apply.ChangeSet {
	if cs == nil {
		return nil
	}
	out := &apply.ChangeSet{DryRun: cs.DryRun}
	for _, e := range cs.Entries {
		if keys[e.Ref.Key()] {
			out.Entries = append(out.Entries, e)
		}
	}
	return out
}
