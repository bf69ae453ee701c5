package diff

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// Action is the verdict for one object.
type Action string

const (
	// Create: the object does not exist; apply creates it.
	Create Action = "Create"
	// Update: apply would change the live object.
	Update Action = "Update"
	// InSync: apply would not change the live object (beyond its managedFields).
	InSync Action = "InSync"
	// Prune: the object is live but no longer rendered; apply decides whether to delete it.
	Prune Action = "Prune"
)

// DefaultFieldManager is the field manager used when Options.FieldManager is empty.
const DefaultFieldManager = "driftless"

// Options configure a Differ. The zero value diffs built-in kinds offline with the
// static schemas, never asks the server, and ignores nothing.
type Options struct {
	FieldManager string       // our field manager; "" means "driftless"
	Schemas      SchemaSource // nil means the static built-in schemas (NewStaticSchemas())
	Rules        []IgnoreRule // ignore/normalize rules, per GVK
	Confirmer    Confirmer    // nil: never ask the server
	Strict       bool         // confirm every drift verdict with the server
	// AlwaysConfirm lists kinds whose verdicts always come from the Confirmer (kinds a
	// mutating webhook changes, for instance). Ignored without a Confirmer.
	AlwaysConfirm []schema.GroupKind
	// NoBuiltinDefaults says the server does not default built-in kinds (gitopstest's
	// in-memory API server): a removed field stays removed, with certainty.
	NoBuiltinDefaults bool
}

// Differ computes verdicts. It is safe for concurrent use.
type Differ struct {
	opts    Options
	manager string
	schemas SchemaSource
	fms     *fieldManagers
	// fullPredictionOnly disables the no-op fast path (tests check that both paths
	// agree with the server).
	fullPredictionOnly bool
}

// New returns a Differ.
func New(opts Options) *Differ {
	d := &Differ{opts: opts, manager: opts.FieldManager, schemas: opts.Schemas, fms: newFieldManagers()}
	if d.manager == "" {
		d.manager = DefaultFieldManager
	}
	if d.schemas == nil {
		d.schemas = NewStaticSchemas()
	}
	return d
}

// FieldManager returns the field manager the Differ predicts applies for.
func (d *Differ) FieldManager() string { return d.manager }

// Result is the verdict for one object.
type Result struct {
	Action Action
	Drift  bool     // Action != InSync
	Paths  []string // changed field paths, sorted, e.g. ".spec.replicas"
	// Predicted is the live object as it would be after our server-side apply (for a
	// create, the object as it would be created). Secret values are masked. When the
	// apply is known to change nothing it is the live object itself: do not modify it.
	Predicted *unstructured.Unstructured
	Unified   string // masked unified YAML diff, deterministic, kubectl-diff style
	Confirmed bool   // verdict came from a server dry-run
	// Suspect says why the offline verdict could not be trusted alone ("" when it
	// could); with a Confirmer such verdicts are Confirmed.
	Suspect string
	// Conflicts are the fields a non-forced apply would conflict on, as
	// "path (manager)", sorted. Diff predicts a forced apply.
	Conflicts []string
}

// Diff compares desired with live. desired==nil && live!=nil is a Prune candidate;
// live==nil is Create; otherwise InSync or Update. desired is what apply would send
// (namespace set); live must be read at desired's apiVersion, with its managedFields.
// Ignore rules are applied to desired (PrepareDesired) before predicting.
func (d *Differ) Diff(ctx context.Context, desired, live *unstructured.Unstructured) (Result, error) {
	switch {
	case desired == nil && live == nil:
		return Result{}, errors.New("diff: neither a desired nor a live object")
	case desired == nil:
		return d.prune(live)
	}
	gvk := desired.GroupVersionKind()
	if gvk.Kind == "" || gvk.Version == "" {
		return Result{}, fmt.Errorf("diff: %s: apiVersion and kind are required", describe(desired))
	}
	if live != nil && live.GroupVersionKind() != gvk {
		return Result{}, fmt.Errorf("diff: %s: live object is %s, desired is %s: read it at the desired apiVersion",
			describe(desired), live.GroupVersionKind(), gvk)
	}
	prepared := desired // never modified: every step below copies before changing
	if len(d.opts.Rules) > 0 {
		var err error
		if prepared, err = PrepareDesired(desired, live, d.opts.Rules); err != nil {
			return Result{}, maskError(err, desired, live)
		}
	}
	ig, err := ignoredFor(d.opts.Rules, desired, live)
	if err != nil {
		return Result{}, maskError(fmt.Errorf("diff: %s: %w", describe(desired), err), desired, live)
	}
	in, unknown, err := d.kind(ctx, gvk)
	if err != nil {
		return Result{}, err
	}
	log := logr.FromContextOrDiscard(ctx)
	if unknown != "" && d.opts.Confirmer != nil && live != nil {
		return d.confirm(ctx, in, prepared, live, ig, unknown, nil)
	}
	if unknown == "" && live != nil && !d.fullPredictionOnly && !d.alwaysConfirm(gvk.GroupKind()) && unchangedByApply(prepared, live, d.manager, in.builtin) {
		return Result{Action: InSync, Predicted: maskedObject(live, nil)}, nil
	}
	predicted, conflicts, err := d.predict(ctx, in, prepared, live)
	if err != nil {
		return Result{}, maskError(fmt.Errorf("diff: predict apply of %s: %w", describe(desired), err), desired, live)
	}
	if live == nil {
		return d.create(in, predicted)
	}
	own := in
	own.canonical = true
	c, err := compare(own, predicted, live, ig)
	if err != nil {
		return Result{}, fmt.Errorf("diff: %s: %w", describe(desired), err)
	}
	res := d.result(c, predicted, live)
	res.Conflicts = conflicts
	if unknown != "" {
		c.suspects = append([]string{unknown}, c.suspects...)
	}
	if c.drift || unknown != "" {
		res.Suspect = strings.Join(c.suspects, "; ")
	}
	if d.opts.Confirmer != nil && (res.Suspect != "" || (d.opts.Strict && res.Drift) || d.alwaysConfirm(gvk.GroupKind())) {
		log.V(1).Info("confirming verdict with the server", "object", describe(desired), "suspect", res.Suspect, "drift", res.Drift)
		return d.confirm(ctx, in, prepared, live, ig, res.Suspect, conflicts)
	}
	return res, nil
}

// Compare returns the verdict for a predicted object (a server's dry-run answer, say)
// against live, ignoring what Diff ignores. Action is InSync or Update.
func (d *Differ) Compare(ctx context.Context, predicted, live *unstructured.Unstructured) (Result, error) {
	if predicted == nil || live == nil {
		return Result{}, errors.New("diff: Compare needs a predicted and a live object")
	}
	in, _, err := d.kind(ctx, live.GroupVersionKind())
	if err != nil {
		return Result{}, err
	}
	ig, err := ignoredFor(d.opts.Rules, predicted, live)
	if err != nil {
		return Result{}, fmt.Errorf("diff: %s: %w", describe(live), err)
	}
	c, err := compare(in, predicted, live, ig)
	if err != nil {
		return Result{}, fmt.Errorf("diff: %s: %w", describe(live), err)
	}
	return d.result(c, predicted, live), nil
}

func (d *Differ) result(c comparison, predicted, live *unstructured.Unstructured) Result {
	res := Result{Action: InSync, Predicted: maskedObject(predicted, live)}
	if c.drift {
		res.Action, res.Drift, res.Paths, res.Unified = Update, true, c.paths, c.unified
	}
	return res
}

func (d *Differ) alwaysConfirm(gk schema.GroupKind) bool {
	for _, k := range d.opts.AlwaysConfirm {
		if k == gk {
			return true
		}
	}
	return false
}

// kind resolves the schema of gvk. unknown is non-empty (the reason) when the schema
// source has none: the returned input then carries the schema-less converter.
func (d *Differ) kind(ctx context.Context, gvk schema.GroupVersionKind) (compareInput, string, error) {
	b, err := loadBuiltins()
	if err != nil {
		return compareInput{}, "", err
	}
	in := compareInput{gvk: gvk, builtin: b.isBuiltin(gvk)}
	in.defaulted = in.builtin && d.opts.NoBuiltinDefaults
	tc, err := d.schemas.TypeConverter(ctx, gvk)
	switch {
	case errors.Is(err, ErrUnknownSchema):
		in.tc = managedfields.NewDeducedTypeConverter()
		return in, err.Error(), nil
	case err != nil:
		return compareInput{}, "", fmt.Errorf("diff: schema of %s: %w", gvk, err)
	}
	in.tc = tc
	if _, ok := d.schemas.(SchemaDefaulter); ok && !in.builtin {
		in.defaulted = true // the source knows the schema's defaults (or that it has none)
	}
	return in, "", nil
}

// predict returns the object the API server would hold after our forced server-side
// apply of desired onto live (nil live: a create), and the conflicts a non-forced apply
// would hit.
func (d *Differ) predict(ctx context.Context, in compareInput, desired, live *unstructured.Unstructured) (*unstructured.Unstructured, []string, error) {
	b, err := loadBuiltins()
	if err != nil {
		return nil, nil, err
	}
	fm, err := d.fms.get(in.gvk, in.tc)
	if err != nil {
		return nil, nil, err
	}
	base := live
	if base == nil {
		base = &unstructured.Unstructured{}
		base.SetGroupVersionKind(in.gvk)
		base.SetName(desired.GetName())
		base.SetNamespace(desired.GetNamespace())
	}
	out, err := mergeApply(fm, base, applyConfig(desired), d.manager)
	if err != nil {
		return nil, nil, err
	}
	obj := out.obj.Object
	switch {
	case in.builtin && live != nil && !d.opts.NoBuiltinDefaults:
		builtinDefaults(in.gvk.GroupKind(), obj, live.Object)
	case !in.builtin && in.defaulted:
		fn, err := d.schemas.(SchemaDefaulter).Defaulter(ctx, in.gvk)
		if err != nil {
			return nil, nil, fmt.Errorf("schema defaults of %s: %w", in.gvk, err)
		}
		if fn != nil {
			fn(obj)
		}
	}
	if obj, err = canonicalize(b, in.gvk, obj); err != nil {
		return nil, nil, err
	}
	pred := &unstructured.Unstructured{Object: obj}
	if live != nil {
		restoreServerFields(obj, live.Object)
	} else {
		for _, f := range []string{"creationTimestamp", "resourceVersion", "uid", "generation"} {
			unstructured.RemoveNestedField(obj, "metadata", f)
		}
		delete(obj, "status")
	}
	return pred, out.conflicts, nil
}

// confirm asks the Confirmer for the server's answer and compares it with live.
func (d *Differ) confirm(ctx context.Context, in compareInput, prepared, live *unstructured.Unstructured, ig ignored, reason string, conflicts []string) (Result, error) {
	server, err := d.opts.Confirmer.DryRunApply(ctx, applyConfig(prepared), d.manager)
	if err != nil {
		return Result{}, maskError(err, prepared, live)
	}
	c, err := compare(in, server, live, ig)
	if err != nil {
		return Result{}, fmt.Errorf("diff: %s: %w", describe(live), err)
	}
	res := d.result(c, server, live)
	res.Confirmed, res.Suspect, res.Conflicts = true, reason, conflicts
	return res, nil
}

func (d *Differ) create(in compareInput, predicted *unstructured.Unstructured) (Result, error) {
	view := compareView(predicted)
	if isSecret(predicted) {
		maskPair(nil, view)
	}
	u, err := unified(unifiedName(in.gvk, predicted.GetNamespace(), predicted.GetName()), nil, view)
	if err != nil {
		return Result{}, err
	}
	return Result{Action: Create, Drift: true, Predicted: maskedObject(predicted, nil), Unified: u}, nil
}

func (d *Differ) prune(live *unstructured.Unstructured) (Result, error) {
	view := compareView(live)
	if isSecret(live) {
		maskPair(view, nil)
	}
	u, err := unified(unifiedName(live.GroupVersionKind(), live.GetNamespace(), live.GetName()), view, nil)
	if err != nil {
		return Result{}, err
	}
	return Result{Action: Prune, Drift: true, Unified: u}, nil
}
