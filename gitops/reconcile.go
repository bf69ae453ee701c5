package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/diff"
	"github.com/driftless-dev/driftless/health"
	"github.com/driftless-dev/driftless/source"
)

// appState is what the Reconciler remembers of one Application between reconciles:
// enough to answer "nothing changed" without rendering, diffing or calling the API.
type appState struct {
	mu sync.Mutex // serializes reconciles of the Application

	revision string
	digest   string
	last     *Result
	// spec is the digest of the Application's spec at its last reconcile: a changed
	// spec (path, destination, policy, ignore rules) is never answered from memory.
	spec string
	// current is what watch handlers read: replaced, never mutated, by reconciles.
	current atomic.Pointer[appView]

	dirtyMu sync.Mutex
	dirty   map[string]bool // objects that drifted from Git since the last reconcile
	changed map[string]bool // objects the watch saw change (status included) since
}

func (r *Reconciler) stateOf(key string) *appState {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.states[key]
	if !ok {
		st = &appState{dirty: map[string]bool{}}
		r.states[key] = st
	}
	return st
}

// appView is an immutable view of an Application's desired state, read by the
// watch handlers that detect drift.
type appView struct {
	desired map[string]*unstructured.Unstructured // by object key, namespaces defaulted
	gvrs    map[string]schema.GroupVersionResource
	differ  *diff.Differ
	rules   []diff.IgnoreRule // the differ's rules
	dest    *destination      // the differ's destination
}

func (st *appState) view() *appView {
	if v := st.current.Load(); v != nil {
		return v
	}
	return &appView{}
}

func (st *appState) markDirty(key string) {
	st.dirtyMu.Lock()
	defer st.dirtyMu.Unlock()
	st.dirty[key] = true
}

// markChanged notes that the watch saw an object change, so its health is re-read.
func (st *appState) markChanged(key string) {
	st.dirtyMu.Lock()
	defer st.dirtyMu.Unlock()
	if st.changed == nil {
		st.changed = map[string]bool{}
	}
	st.changed[key] = true
}

func (st *appState) takeChanged() map[string]bool {
	st.dirtyMu.Lock()
	defer st.dirtyMu.Unlock()
	c := st.changed
	st.changed = nil
	return c
}

func (st *appState) takeDirty() []string {
	st.dirtyMu.Lock()
	defer st.dirtyMu.Unlock()
	keys := make([]string, 0, len(st.dirty))
	for k := range st.dirty {
		keys = append(keys, k)
	}
	st.dirty = map[string]bool{}
	return keys
}

func (st *appState) hasDirty() bool {
	st.dirtyMu.Lock()
	defer st.dirtyMu.Unlock()
	return len(st.dirty) > 0
}

// SyncRequest is a manual sync: it applies even when automated sync is off.
type SyncRequest struct {
	// Prune deletes objects no longer rendered (as automated.prune would).
	Prune bool
	// DryRun runs the apply as server-side dry-run: nothing is persisted.
	DryRun bool
}

// Reconcile compares an Application with its cluster and, with automated sync,
// syncs it. Nothing changed since the last reconcile (same revision, same render, no
// drift event) costs one ls-remote and no render, diff or API request.
//
// The Result is never nil. The error is non-nil when the reconcile could not complete
// (invalid spec, policy violation, source, render or sync failure); the Result then
// carries the conditions and, when the source failed, the last good state.
func (r *Reconciler) Reconcile(ctx context.Context, app *Application, trigger Trigger) (*Result, error) {
	return r.reconcile(ctx, app, trigger, nil)
}

// Sync reconciles and applies even when automated sync is off (a manual sync).
func (r *Reconciler) Sync(ctx context.Context, app *Application, req SyncRequest) (*Result, error) {
	return r.reconcile(ctx, app, TriggerManual, &req)
}

func (r *Reconciler) reconcile(ctx context.Context, app *Application, trigger Trigger, manual *SyncRequest) (*Result, error) {
	start := time.Now()
	res := &Result{App: app.Key(), Trigger: trigger, Sync: SyncUnknown, Health: health.Unknown}
	log := logr.FromContextOrDiscard(ctx).WithValues("app", app.Key(), "trigger", trigger)
	ctx = logr.NewContext(ctx, log)
	defer func() {
		res.time("total", start)
		for stage, d := range res.Timings {
			r.opts.Metrics.observeStage(stage, d)
		}
		outcome := "ok"
		if len(res.Conditions) > 0 {
			outcome = "error"
		}
		r.opts.Metrics.countReconcile(trigger, outcome)
	}()

	if err := app.Validate(); err != nil {
		res.addCondition(ConditionInvalidSpec, "%v", err)
		return res, r.fail(ctx, res, app, start, err)
	}
	proj, err := r.project(app.ProjectName())
	if err == nil {
		err = proj.CheckApplication(app)
	}
	if err != nil {
		res.addCondition(ConditionPolicy, "%v", err)
		return res, r.fail(ctx, res, app, start, err)
	}
	dest, err := r.destinationFor(app)
	if err != nil {
		res.addCondition(ConditionComparison, "%v", err)
		return res, r.fail(ctx, res, app, start, err)
	}
	owner := r.registerOwner(app)
	st := r.stateOf(app.Key())
	st.mu.Lock()
	defer st.mu.Unlock()

	// Source: one ls-remote.
	t := time.Now()
	repo := r.repository(app)
	rev, err := r.resolve(ctx, repo, app, trigger == TriggerInterval || trigger == TriggerDrift)
	res.time("source", t)
	if err != nil {
		res.addCondition(ConditionSource, "%v", err)
		st.keepLastGood(res)
		return res, r.fail(ctx, res, app, start, err)
	}
	res.Revision = string(rev)
	spec := specDigest(app)
	if manual == nil && st.last != nil && string(rev) == st.revision && !st.hasDirty() && st.spec == spec {
		r.opts.Metrics.countCache("reconcile", true)
		return r.unchanged(st, dest, res), nil
	}
	if manual == nil && st.last != nil && string(rev) == st.revision && st.hasDirty() && st.spec == spec {
		r.opts.Metrics.countCache("reconcile", true)
		return r.heal(ctx, app, st, dest, owner, res, start)
	}
	r.opts.Metrics.countCache("reconcile", false)

	// Checkout and render (both cached by content).
	t = time.Now()
	snap, err := r.fetcher.Checkout(ctx, repo, rev)
	res.time("source", t)
	if err != nil {
		res.addCondition(ConditionSource, "%v", err)
		st.keepLastGood(res)
		return res, r.fail(ctx, res, app, start, err)
	}
	defer func() { _ = snap.Close() }()
	t = time.Now()
	m, err := r.renderer.RenderSnapshot(ctx, snap, app.Spec.Source.Path, r.opts.RenderOptions)
	res.time("render", t)
	if err != nil {
		res.addCondition(ConditionRender, "%v", err)
		st.keepLastGood(res)
		return res, r.fail(ctx, res, app, start, err)
	}
	if manual == nil && st.last != nil && m.Digest == st.digest && !st.hasDirty() && st.spec == spec {
		st.revision = res.Revision
		st.last.Revision = res.Revision
		return r.unchanged(st, dest, res), nil
	}

	objs := make([]*unstructured.Unstructured, len(m.Objects))
	for i, o := range m.Objects {
		objs[i] = o.DeepCopy()
	}
	gvrs, err := r.prepare(dest, app, proj, objs)
	if err != nil {
		var pe *PolicyError
		if errors.As(err, &pe) {
			res.addCondition(ConditionPolicy, "%v", err)
		} else {
			res.addCondition(ConditionComparison, "%v", err)
		}
		return res, r.fail(ctx, res, app, start, err)
	}
	st.takeDirty() // everything is compared now
	return r.compareAndSync(ctx, app, st, dest, owner, objs, gvrs, m.Digest, res, start, manual)
}

// specDigest identifies an Application's spec (and name) for appState.spec.
func specDigest(app *Application) string {
	data, err := json.Marshal(struct {
		Name, Namespace string
		Spec            ApplicationSpec
	}{app.Name, app.Namespace, app.Spec})
	if err != nil {
		return "" // never equal to a stored digest of a marshalable spec
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// resolve turns targetRevision into a commit with one ls-remote, or none when another
// reconcile resolved the same repository and ref within ResolveInterval (and reuse is
// allowed: polls and drift, not webhooks or manual syncs).
func (r *Reconciler) resolve(ctx context.Context, repo source.Repository, app *Application, reuse bool) (source.Revision, error) {
	target := strings.TrimSpace(app.Spec.Source.TargetRevision)
	if strings.EqualFold(target, "HEAD") {
		target = ""
	}
	ref, err := source.ParseRef(target)
	if err != nil {
		return "", fmt.Errorf("spec.source.targetRevision: %w", err)
	}
	return r.resolved.get(repo.URL+"#"+ref.String(), reuse, func() (source.Revision, error) {
		return r.fetcher.Resolve(ctx, repo, ref)
	})
}

func (r *Reconciler) repository(app *Application) source.Repository {
	if r.opts.Repositories != nil {
		repo := r.opts.Repositories(app.Spec.Source.RepoURL)
		if repo.URL == "" {
			repo.URL = app.Spec.Source.RepoURL
		}
		return repo
	}
	return source.Repository{URL: app.Spec.Source.RepoURL}
}

// prepare defaults namespaces, checks the project policy on the rendered set (before
// any write) and maps every object to its resource.
func (r *Reconciler) prepare(dest *destination, app *Application, proj *AppProject, objs []*unstructured.Unstructured) (map[string]schema.GroupVersionResource, error) {
	gvrs := make(map[string]schema.GroupVersionResource, len(objs))
	mapping := func(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
		m, err := dest.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil && meta.IsNoMatchError(err) {
			dest.mapper.Reset()
			m, err = dest.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		return m, err
	}
	namespaced := func(gvk schema.GroupVersionKind) (bool, error) {
		if crdInSet(objs, gvk) {
			return true, nil // checked again by apply once the CRD is served
		}
		m, err := mapping(gvk)
		if err != nil {
			return false, err
		}
		return m.Scope.Name() == meta.RESTScopeNameNamespace, nil
	}
	if err := proj.CheckObjects(app, objs, namespaced); err != nil {
		return nil, err
	}
	for _, o := range objs {
		m, err := mapping(o.GroupVersionKind())
		if err != nil {
			continue // a custom resource whose CRD is in the set: apply maps it later
		}
		if m.Scope.Name() == meta.RESTScopeNameNamespace && o.GetNamespace() == "" {
			o.SetNamespace(app.Spec.Destination.Namespace)
		}
		gvrs[objKey(o)] = m.Resource
	}
	return gvrs, nil
}

func crdInSet(objs []*unstructured.Unstructured, gvk schema.GroupVersionKind) bool {
	for _, o := range objs {
		if o.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
		if group == gvk.Group && kind == gvk.Kind {
			return true
		}
	}
	return false
}

// unchanged answers a reconcile where nothing changed from the last Result, with
// health re-read from the cluster cache: no render, no diff, no API request.
func (r *Reconciler) unchanged(st *appState, dest *destination, res *Result) *Result {
	out := *st.last
	out.Objects = append([]ObjectResult(nil), st.last.Objects...)
	out.Revision, out.Trigger, out.Timings, out.Cached, out.SyncRan = res.Revision, res.Trigger, res.Timings, true, false
	r.readHealth(st, dest, &out, true)
	st.last = &out
	cp := out
	return &cp
}

// keepLastGood fills a failed Result with the last good state so callers still see
// what is deployed.
func (st *appState) keepLastGood(res *Result) {
	if st.last == nil {
		return
	}
	res.Revision = st.last.Revision
	res.Objects = append([]ObjectResult(nil), st.last.Objects...)
	res.Health, res.HealthMessage, res.Sync = st.last.Health, st.last.HealthMessage, st.last.Sync
	res.addCondition(ConditionStaleRevision, "showing the last good state, revision %s", shortRev(st.last.Revision))
}

// fail records a reconcile that could not complete and returns err.
func (r *Reconciler) fail(ctx context.Context, res *Result, app *Application, start time.Time, err error) error {
	rec := SyncRecord{App: app.Key(), UID: app.UID, Project: app.ProjectName(), Revision: res.Revision, Trigger: res.Trigger,
		StartedAt: start, FinishedAt: time.Now(), Result: "Failed", Message: err.Error()}
	if rerr := r.recorder.Record(ctx, rec); rerr != nil {
		logr.FromContextOrDiscard(ctx).Error(rerr, "record failed sync")
	}
	return err
}

// readHealth updates the objects' health from the cluster cache (no API request):
// all of them, or with onlyChanged just those the watch saw change since.
func (r *Reconciler) readHealth(st *appState, dest *destination, res *Result, onlyChanged bool) {
	changed := st.takeChanged()
	v := st.view()
	for i := range res.Objects {
		o := &res.Objects[i]
		if o.Action == string(apply.Deleted) || o.Action == "prune" || (onlyChanged && !changed[o.key] && o.Health != "") {
			continue
		}
		desired, ok := v.desired[o.key]
		gvr, mapped := v.gvrs[o.key]
		if !ok || !mapped {
			continue
		}
		live, watched := dest.cache.Get(gvr, desired.GetNamespace(), desired.GetName())
		if !watched {
			continue
		}
		o.Health, o.HealthMessage = health.Missing, "not found in the cluster"
		if live != nil {
			hr, err := r.opts.Health.Health(live)
			o.Health, o.HealthMessage = hr.Status, hr.Message
			if err != nil {
				o.HealthMessage = err.Error()
			}
		}
	}
	res.aggregateHealth()
}
