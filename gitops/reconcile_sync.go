package gitops

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"sort"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/diff"
)

// compareAndSync diffs the rendered set against the cluster cache and, when the
// Application syncs automatically (or a manual sync asks), applies it.
func (r *Reconciler) compareAndSync(ctx context.Context, app *Application, st *appState, dest *destination, owner string,
	objs []*unstructured.Unstructured, gvrs map[string]schema.GroupVersionResource, digest string, res *Result, start time.Time, manual *SyncRequest) (*Result, error) {
	log := logr.FromContextOrDiscard(ctx)
	t := time.Now()
	watch := make([]schema.GroupVersionResource, 0, len(gvrs))
	seen := map[schema.GroupVersionResource]bool{}
	for _, g := range gvrs {
		if !seen[g] {
			seen[g] = true
			watch = append(watch, g)
		}
	}
	sort.Slice(watch, func(i, j int) bool { return watch[i].String() < watch[j].String() })
	if err := dest.cache.Watch(ctx, watch...); err != nil {
		res.addCondition(ConditionComparison, "watch the cluster: %v", err)
		return res, r.fail(ctx, res, app, start, err)
	}
	differ := r.differFor(app, st, dest)
	inv := r.inventory(app, dest, owner)
	stampOwner(objs, owner, inv.ID())

	desired := make(map[string]*unstructured.Unstructured, len(objs))
	drifted := 0
	for _, o := range objs {
		key := objKey(o)
		desired[key] = o
		or := ObjectResult{Ref: describeObject(o), key: key}
		var live *unstructured.Unstructured
		if gvr, ok := gvrs[key]; ok {
			live, _ = dest.cache.Get(gvr, o.GetNamespace(), o.GetName())
		}
		d, err := differ.Diff(ctx, o, live)
		switch {
		case err != nil:
			or.Action, or.Error = "update", err.Error()
			drifted++
		case d.Action == diff.Create:
			or.Action = "create"
		case d.Action == diff.Update:
			or.Action = "update"
		default:
			or.Action = string(apply.Unchanged)
		}
		if d.Drift {
			drifted++
		}
		or.Paths, or.Diff = d.Paths, d.Unified
		res.Objects = append(res.Objects, or)
	}
	prev, err := inv.Load(ctx)
	if err != nil && !apierrors.IsNotFound(err) {
		res.addCondition(ConditionComparison, "read inventory: %v", err)
		return res, r.fail(ctx, res, app, start, err)
	}
	orphans := 0
	for _, ref := range prev {
		if _, ok := desired[ref.Key()]; !ok {
			res.Objects = append(res.Objects, ObjectResult{Ref: refString(ref), key: ref.Key(), Action: "prune"})
			orphans++
		}
	}
	res.time("diff", t)
	res.Sync = Synced
	if drifted+orphans > 0 {
		res.Sync = OutOfSync
	}

	// The new desired state is what watch events are judged against from now on, so
	// the sync's own writes (which match it) never count as drift.
	st.current.Store(&appView{desired: desired, gvrs: gvrs, differ: differ, rules: ignoreRules(app), dest: dest})
	sync := app.Automated() || manual != nil
	prune := app.Prune() || (manual != nil && manual.Prune)
	if sync && (drifted > 0 || (orphans > 0 && prune) || st.last == nil) {
		r.applySet(ctx, app, dest, owner, deepCopies(objs), differ, inv, prune, manual, res)
	}
	if orphans > 0 && !prune && res.Sync == Synced {
		res.Sync = OutOfSync
	}
	if orphans > 0 && !prune {
		res.addCondition(ConditionOrphanedObjects, "%d object(s) are no longer in Git and are not pruned (automated prune is off)", orphans)
	}

	t = time.Now()
	if res.SyncRan {
		invalidateCRDSchemas(dest, objs)
		r.awaitCache(ctx, dest, gvrs, objs, res)
		mapped := maps.Clone(gvrs)
		r.remap(ctx, dest, objs, mapped)
		st.current.Store(&appView{desired: desired, gvrs: mapped, differ: differ, rules: ignoreRules(app), dest: dest})
	}
	r.readHealth(st, dest, res, false)
	res.time("health", t)

	st.revision, st.spec = res.Revision, specDigest(app)
	st.digest = digest
	if len(res.Conditions) > 0 && res.SyncRan {
		st.digest = "" // a failed sync is retried at the next reconcile
	}
	st.last = res
	if res.SyncRan || res.Sync == OutOfSync {
		r.record(ctx, app, res, start)
	}
	log.V(1).Info("reconciled", "revision", res.Revision, "sync", res.Sync, "health", res.Health, "synced", res.SyncRan)
	out := *res
	return &out, res.Err()
}

// applySet runs apply on the set and folds the ChangeSet into the Result.
func (r *Reconciler) applySet(ctx context.Context, app *Application, dest *destination, owner string, objs []*unstructured.Unstructured,
	differ *diff.Differ, inv apply.Inventory, prune bool, manual *SyncRequest, res *Result) {
	t := time.Now()
	defer res.time("apply", t)
	if app.SyncOption("CreateNamespace") && (manual == nil || !manual.DryRun) {
		if err := r.ensureNamespace(ctx, dest, app.Spec.Destination.Namespace); err != nil {
			res.addCondition(ConditionSync, "%v", err)
			return
		}
	}
	opts := r.opts.ApplyOptions
	opts.FieldManager, opts.Name, opts.Namespace = r.opts.FieldManager, owner, app.Spec.Destination.Namespace
	opts.Prune, opts.IgnoreRules, opts.Inventory, opts.Differ = prune, ignoreRules(app), inv, differ
	// With selfHeal, Git wins over changes made in the cluster in every sync, not only
	// in the selfHeal ones: fields someone else took over are taken back.
	opts.Force = opts.Force || app.SelfHeal()
	// Live objects: apply's one List per kind and namespace. The cluster cache only
	// holds objects already labelled as ours, so a miss there would cost a GET each.
	if manual != nil {
		opts.DryRun = manual.DryRun
	}
	cs, err := apply.New(dest.dyn, dest.mapper, opts).Apply(ctx, objs)
	res.SyncRan = true
	mergeChangeSet(res, cs)
	for _, e := range cs.Entries {
		r.opts.Metrics.countApplied(string(e.Action))
	}
	if err != nil {
		res.addCondition(ConditionSync, "%v", err)
		res.Sync = OutOfSync
		return
	}
	if !opts.DryRun {
		res.Sync = Synced
	}
}

// mergeChangeSet sets each object's action from the apply ChangeSet and adds the
// pruned objects and hooks.
func mergeChangeSet(res *Result, cs *apply.ChangeSet) {
	if cs == nil {
		return
	}
	index := make(map[string]int, len(res.Objects))
	for i, o := range res.Objects {
		index[o.key] = i
	}
	for _, e := range cs.Entries {
		key := e.Ref.Key()
		i, ok := index[key]
		if !ok {
			res.Objects = append(res.Objects, ObjectResult{Ref: refString(e.Ref), key: key})
			i = len(res.Objects) - 1
			index[key] = i
		}
		o := &res.Objects[i]
		o.Action = string(e.Action)
		if len(e.Paths) > 0 {
			o.Paths = e.Paths
		}
		if e.Err != nil {
			o.Error = e.Err.Error()
		} else if e.Action == apply.Skipped && e.Message != "" {
			o.Error = e.Message
		}
	}
}

// invalidateCRDSchemas drops the cached schemas of the groups whose CRDs the set holds:
// a sync may have changed them.
func invalidateCRDSchemas(dest *destination, objs []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" && o.GroupVersionKind().Group == "apiextensions.k8s.io" {
			if group, _, _ := unstructured.NestedString(o.Object, "spec", "group"); group != "" {
				dest.schemas.InvalidateGroup(group)
			}
		}
	}
}

// awaitCache waits briefly for the watch to deliver the sync's writes, so the health
// read right after a sync sees the new objects.
func (r *Reconciler) awaitCache(ctx context.Context, dest *destination, gvrs map[string]schema.GroupVersionResource, objs []*unstructured.Unstructured, res *Result) {
	deadline := time.Now().Add(2 * time.Second)
	for _, o := range objs {
		gvr, ok := gvrs[objKey(o)]
		if !ok {
			continue
		}
		for time.Now().Before(deadline) && ctx.Err() == nil {
			if live, _ := dest.cache.Get(gvr, o.GetNamespace(), o.GetName()); live != nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// remap maps the kinds that could not be mapped before the sync (custom resources
// whose CRD was in the set) and starts watching them.
func (r *Reconciler) remap(ctx context.Context, dest *destination, objs []*unstructured.Unstructured, gvrs map[string]schema.GroupVersionResource) {
	var missing []schema.GroupVersionResource
	for _, o := range objs {
		key := objKey(o)
		if _, ok := gvrs[key]; ok {
			continue
		}
		gvk := o.GroupVersionKind()
		dest.mapper.Reset()
		m, err := dest.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			continue
		}
		gvrs[key] = m.Resource
		missing = append(missing, m.Resource)
	}
	if len(missing) > 0 {
		if err := dest.cache.Watch(ctx, missing...); err != nil {
			logr.FromContextOrDiscard(ctx).Error(err, "watch custom resources", "resources", missing)
		}
	}
}

// differFor returns the Application's Differ, reused across reconciles while its
// ignore rules stay the same (its field managers are cached per kind).
func (r *Reconciler) differFor(app *Application, st *appState, dest *destination) *diff.Differ {
	rules := ignoreRules(app)
	if v := st.view(); v.differ != nil && v.dest == dest && reflect.DeepEqual(v.rules, rules) {
		return v.differ
	}
	return diff.New(diff.Options{FieldManager: r.opts.FieldManager, Rules: rules, Schemas: dest.schemas,
		Confirmer: diff.NewServerConfirmer(dest.dyn, dest.mapper)})
}

func (r *Reconciler) inventory(app *Application, dest *destination, owner string) *apply.ConfigMapInventory {
	return &apply.ConfigMapInventory{Client: dest.dyn, Namespace: app.Spec.Destination.Namespace,
		Name: "driftless-inventory-" + owner, FieldManager: r.opts.FieldManager}
}

// ensureNamespace creates the destination namespace when missing (syncOption
// CreateNamespace=true). It is not part of the Application's objects and never pruned.
func (r *Reconciler) ensureNamespace(ctx context.Context, dest *destination, ns string) error {
	if ns == "" {
		return nil
	}
	nsRes := dest.dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"})
	if _, err := nsRes.Get(ctx, ns, metav1.GetOptions{}); err == nil {
		return nil
	} else if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read destination namespace %s: %w", ns, err)
	}
	body := fmt.Appendf(nil, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":%q}}`, ns)
	if _, err := nsRes.Patch(ctx, ns, types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: r.opts.FieldManager}); err != nil {
		return fmt.Errorf("create destination namespace %s: %w", ns, err)
	}
	return nil
}

// cacheLive reads live objects for apply from the cluster cache, and from the API for
// kinds the cache does not watch yet.
type cacheLive struct{ dest *destination }

var _ apply.LiveReader = cacheLive{}

func (c cacheLive) Get(ctx context.Context, ref apply.Ref) (*unstructured.Unstructured, error) {
	m, err := c.dest.mapper.RESTMapping(schema.GroupKind{Group: ref.Group, Kind: ref.Kind}, ref.Version)
	if err != nil {
		return nil, err
	}
	if live, watched := c.dest.cache.Get(m.Resource, ref.Namespace, ref.Name); watched && live != nil {
		return live, nil
	}
	var ri = c.dest.dyn.Resource(m.Resource).Namespace(ref.Namespace)
	if m.Scope.Name() != meta.RESTScopeNameNamespace {
		ri = c.dest.dyn.Resource(m.Resource).Namespace("")
	}
	live, err := ri.Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return live, err
}

// record writes the audit trail entry of a sync (or of an OutOfSync report).
func (r *Reconciler) record(ctx context.Context, app *Application, res *Result, start time.Time) {
	rec := SyncRecord{App: app.Key(), UID: app.UID, Project: app.ProjectName(), Revision: res.Revision, Trigger: res.Trigger,
		StartedAt: start, FinishedAt: time.Now(), Result: "Succeeded"}
	switch {
	case len(res.Conditions) > 0 && res.SyncRan:
		rec.Result = "Failed"
	case !res.SyncRan:
		rec.Result = string(OutOfSync)
	}
	if err := res.Err(); err != nil {
		rec.Message = err.Error()
	}
	for _, o := range res.Objects {
		rec.Objects = append(rec.Objects, ObjectRecord{Ref: o.Ref, Action: o.Action, Health: string(o.Health), Paths: o.Paths, Error: o.Error})
	}
	if err := r.recorder.Record(ctx, rec); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "record sync")
	}
}

func deepCopies(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		out[i] = o.DeepCopy()
	}
	return out
}

// stampOwner sets the owner label and inventory annotation apply puts on every object,
// so the compare stage (and drift detection) sees the objects as apply will write them.
func stampOwner(objs []*unstructured.Unstructured, owner, inventoryID string) {
	for _, o := range objs {
		labels := o.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[apply.LabelOwner] = owner
		o.SetLabels(labels)
		ann := o.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[apply.AnnotationInventory] = inventoryID
		o.SetAnnotations(ann)
	}
}

func refString(ref apply.Ref) string {
	if ref.Namespace == "" {
		return ref.Kind + "/" + ref.Name
	}
	return ref.Kind + "/" + ref.Namespace + "/" + ref.Name
}
