package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"

	"github.com/driftless-dev/driftless/diff"
	"github.com/driftless-dev/driftless/health"
)

// Defaults for the zero fields of Options.
const (
	DefaultFieldManager = "driftless"
	DefaultName         = "default"
	DefaultConcurrency  = 8
	DefaultPollInterval = 2 * time.Second
	DefaultHookTimeout  = 10 * time.Minute
	DefaultWaitTimeout  = 5 * time.Minute
)

// Options tune an Applier. The zero value is the safe default: field manager
// "driftless", no force, no take-over, no re-creation, no prune, real writes, no health
// gating, an inventory ConfigMap in Namespace.
type Options struct {
	// FieldManager is the server-side apply field manager; "" means "driftless".
	FieldManager string
	// Name names the set of objects (an application): it is the value of LabelOwner
	// on every applied object and names the default inventory. "" means "default".
	// It must be a valid label value.
	Name string
	// Namespace is the destination namespace: namespaced objects without one go
	// there, and the default inventory lives there (so it is required unless
	// Inventory is set and every object names its namespace).
	Namespace string
	// Concurrency bounds the writes in flight inside one kind group of a wave; 0 means
	// DefaultConcurrency.
	Concurrency int

	// Force takes ownership of fields other managers own (server-side apply
	// force-conflicts). Off: a conflict fails the object and names the other manager.
	Force bool
	// TakeOver moves the fields owned by kubectl's managers (TakeOverManagers) to
	// FieldManager and removes kubectl's last-applied annotation before applying, so
	// objects first created with `kubectl apply` or changed with `kubectl edit` come
	// under driftless without conflicts, and fields dropped from Git are removed.
	TakeOver bool
	// TakeOverManagers replaces DefaultTakeOverManagers.
	TakeOverManagers []ManagerMatch
	// Recreate deletes and re-creates any object whose apply changes an immutable
	// field. Without it only objects with the sync option Recreate=true are.
	Recreate bool
	// DryRun runs the whole plan as server-side dry-run: nothing is persisted (not
	// the inventory either) and the ChangeSet says what would happen.
	DryRun bool
	// Prune deletes the objects of the previous inventory that are not in the new
	// set (see the package documentation for what is never pruned).
	Prune bool

	// Inventory records what was applied; nil means a ConfigMap named
	// "driftless-inventory-<Name>" in Namespace.
	Inventory Inventory
	// Differ decides whether an object changed; nil means diff.New with FieldManager,
	// IgnoreRules and a diff.ServerConfirmer (the server is asked only about the objects
	// the offline prediction cannot be trusted with).
	Differ Differ
	// IgnoreRules name fields that are never overwritten: PrepareDesired copies them
	// from the live object before each apply. They go to the default Differ too.
	IgnoreRules []diff.IgnoreRule
	// Live reads live objects (for an embedder with a watch cache); nil means one List
	// per kind and namespace (a Get for small groups) at the start of each kind group.
	Live LiveReader
	// Health, when set, gates the waves: a wave starts only when the plain objects of
	// the previous wave are healthy (see HealthWait).
	Health HealthGate
	// Checker judges hook completion (Healthy: succeeded, Degraded: failed); nil means
	// the built-in checks (a Job is complete when its Complete condition is true).
	Checker *health.Checker

	// PollInterval is the interval of hook polling; 0 means DefaultPollInterval.
	PollInterval time.Duration
	// HookTimeout bounds the wait for the hooks of one wave; 0 means DefaultHookTimeout.
	HookTimeout time.Duration
	// WaitTimeout bounds each wait for a CRD to be Established, a Namespace to be
	// Active and a deleted object to be gone; 0 means DefaultWaitTimeout.
	WaitTimeout time.Duration
}

// Differ decides whether desired differs from live (see diff.Differ).
type Differ interface {
	Diff(ctx context.Context, desired, live *unstructured.Unstructured) (diff.Result, error)
}

var _ Differ = (*diff.Differ)(nil)

// LiveReader reads the live state of one object, in the Ref's version, with its
// managedFields. It returns nil (and no error, or a NotFound error) when the object does
// not exist. An engine with a watch cache passes one so a sync reads nothing from the
// API server.
type LiveReader interface {
	Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error)
}

// Applier applies sets of objects to one cluster. It is safe for concurrent use, but
// two Applies of the same Name and Namespace at once race on the inventory.
type Applier struct {
	client dynamic.Interface
	mapper meta.RESTMapper
	opts   Options
	differ Differ
	inv    Inventory
}

// New returns an Applier writing through client, mapping kinds with mapper (a
// meta.ResettableRESTMapper is reset when a CRD of the set becomes Established).
func New(client dynamic.Interface, mapper meta.RESTMapper, opts Options) *Applier {
	if opts.FieldManager == "" {
		opts.FieldManager = DefaultFieldManager
	}
	if opts.Name == "" {
		opts.Name = DefaultName
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = DefaultPollInterval
	}
	if opts.HookTimeout <= 0 {
		opts.HookTimeout = DefaultHookTimeout
	}
	if opts.WaitTimeout <= 0 {
		opts.WaitTimeout = DefaultWaitTimeout
	}
	if opts.TakeOver && opts.TakeOverManagers == nil {
		opts.TakeOverManagers = DefaultTakeOverManagers()
	}
	a := &Applier{client: client, mapper: mapper, opts: opts, differ: opts.Differ, inv: opts.Inventory}
	if a.differ == nil {
		a.differ = diff.New(diff.Options{FieldManager: opts.FieldManager, Rules: opts.IgnoreRules,
			Confirmer: diff.NewServerConfirmer(client, mapper)})
	}
	if a.inv == nil {
		a.inv = &ConfigMapInventory{Client: client, Namespace: opts.Namespace,
			Name: "driftless-inventory-" + opts.Name, FieldManager: opts.FieldManager}
	}
	return a
}

// Inventory returns the inventory the Applier records to.
func (a *Applier) Inventory() Inventory { return a.inv }

// checkOptions reports options that cannot work.
func (a *Applier) checkOptions() error {
	var errs []string
	if msgs := validation.IsValidLabelValue(a.opts.Name); len(msgs) > 0 {
		errs = append(errs, fmt.Sprintf("Name %q is not a valid label value: %s", a.opts.Name, strings.Join(msgs, "; ")))
	}
	if a.client == nil || a.mapper == nil {
		errs = append(errs, "a dynamic client and a RESTMapper are required")
	}
	if len(errs) > 0 {
		return fmt.Errorf("apply: invalid options: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Apply syncs objs to the cluster: it plans them, validates the whole set (nothing is
// written when that fails: the error is a *ValidationError), then runs the phases
// PreSync, Sync, prune (when Options.Prune), PostSync, and SyncFail when an earlier
// phase failed, recording the inventory before the first write and after the last.
//
// The ChangeSet is never nil: it has an entry per object even when the sync failed
// (objects not reached are skipped). The error is a *ValidationError, a *SyncError,
// or an error reading the inventory or the context's.
func (a *Applier) Apply(ctx context.Context, objs []*unstructured.Unstructured) (*ChangeSet, error) {
	cs := &ChangeSet{DryRun: a.opts.DryRun}
	if err := a.checkOptions(); err != nil {
		return cs, err
	}
	plan, err := NewPlan(objs)
	if err != nil {
		var pe *PlanError
		if errors.As(err, &pe) {
			return cs, &ValidationError{Problems: pe.Problems}
		}
		return cs, err
	}
	return a.ApplyPlan(ctx, plan)
}

// ApplyPlan is Apply for a plan made with NewPlan.
func (a *Applier) ApplyPlan(ctx context.Context, plan *Plan) (*ChangeSet, error) {
	cs := &ChangeSet{DryRun: a.opts.DryRun}
	if err := a.checkOptions(); err != nil {
		return cs, err
	}
	log := logr.FromContextOrDiscard(ctx).WithName("apply").WithValues("name", a.opts.Name, "dryRun", a.opts.DryRun)
	ctx = logr.NewContext(ctx, log)
	r := newRun(a, plan, cs)
	if err := r.validate(ctx); err != nil {
		log.Info("validation failed, nothing applied", "error", err.Error())
		return cs, err
	}
	old, err := a.inv.Load(ctx)
	if err != nil {
		r.skipAll("not applied: the inventory could not be read")
		return cs, fmt.Errorf("apply: load inventory %s: %w", a.inv.ID(), err)
	}
	r.oldInventory, r.storedInventory = old, old
	start := time.Now()
	syncErr := r.run(ctx)
	if !a.opts.DryRun {
		if err := r.storeFinalInventory(ctx); err != nil {
			syncErr = errors.Join(syncErr, err)
		}
	}
	log.Info("sync done", "summary", cs.Summary(), "duration", time.Since(start).Round(time.Millisecond).String())
	return cs, syncErr
}

// run executes the phases in order and returns a *SyncError when one failed.
func (r *run) run(ctx context.Context) error {
	var failed *SyncError
	fail := func(p Phase, errs []error) {
		if failed == nil && len(errs) > 0 {
			failed = &SyncError{Phase: p, Errs: errs}
		}
	}
	pruned := false
	prune := func() {
		pruned = true
		if failed != nil || ctx.Err() != nil {
			r.skipPrune(notReached(failed, ctx))
			return
		}
		fail(Prune, r.prune(ctx))
	}
	for _, w := range r.plan.Waves {
		if !pruned && w.Phase.rank() > Sync.rank() {
			prune()
		}
		switch w.Phase {
		case PreSync, Sync, PostSync:
			if failed != nil || ctx.Err() != nil {
				r.skipWave(w, notReached(failed, ctx))
				continue
			}
			fail(w.Phase, r.runWave(ctx, w))
		case Skip:
			r.skipWave(w, "annotated hook: Skip")
		}
	}
	if !pruned {
		prune()
	}
	if failed == nil && ctx.Err() != nil {
		failed = &SyncError{Phase: Sync, Errs: []error{ctx.Err()}}
	}
	if failed != nil && ctx.Err() == nil {
		for _, w := range r.plan.Waves {
			if w.Phase == SyncFail {
				r.addWaveEntries(w)
				_ = r.runWave(ctx, w) // a failing SyncFail hook is in the ChangeSet; the sync failed already
			}
		}
	}
	if failed == nil {
		return nil
	}
	return failed
}

// notReached says why a wave was not run.
func notReached(failed *SyncError, ctx context.Context) string {
	if failed != nil {
		return fmt.Sprintf("not applied: the sync failed in phase %s", failed.Phase)
	}
	return "not applied: " + ctx.Err().Error()
}
