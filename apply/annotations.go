package apply

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Annotations that steer the plan. Each has a driftless.dev name and an Argo CD alias
// (argocd.argoproj.io/...), so repositories written for Argo CD work unchanged. When an
// object carries both, the driftless.dev one wins.
const (
	// AnnotationSyncWave orders objects inside a phase: an integer, default 0, lower
	// first. Alias: argocd.argoproj.io/sync-wave.
	AnnotationSyncWave = "driftless.dev/sync-wave"
	// AnnotationHook makes an object a hook of the listed phases (comma-separated):
	// PreSync, Sync, PostSync, SyncFail, or Skip (never applied). Alias:
	// argocd.argoproj.io/hook.
	AnnotationHook = "driftless.dev/hook"
	// AnnotationHookDeletePolicy lists when a hook is deleted (comma-separated):
	// BeforeHookCreation (the default when none is given), HookSucceeded, HookFailed;
	// the Helm spellings before-hook-creation, hook-succeeded, hook-failed work too.
	// Alias: argocd.argoproj.io/hook-delete-policy.
	AnnotationHookDeletePolicy = "driftless.dev/hook-delete-policy"
	// AnnotationSyncOptions holds comma-separated per-object options: Prune=false
	// (never prune the object; Prune=confirm counts as false) and Recreate=true
	// (delete and re-create the object when an immutable field changes; Argo CD's
	// Replace=true together with Force=true means the same). Unknown options are
	// ignored. Alias: argocd.argoproj.io/sync-options.
	AnnotationSyncOptions = "driftless.dev/sync-options"

	argoSyncWave         = "argocd.argoproj.io/sync-wave"
	argoHook             = "argocd.argoproj.io/hook"
	argoHookDeletePolicy = "argocd.argoproj.io/hook-delete-policy"
	argoSyncOptions      = "argocd.argoproj.io/sync-options"
)

// Labels and annotations the Applier sets on every object it applies.
const (
	// LabelOwner holds Options.Name on every applied object; prune deletes only
	// objects whose label still says so.
	LabelOwner = "driftless.dev/owner"
	// AnnotationInventory holds the Inventory's ID on every applied object; prune
	// deletes only objects whose annotation still says so.
	AnnotationInventory = "driftless.dev/inventory"
)

// lastAppliedAnnotation is kubectl's client-side apply record.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Phase is a hook phase; every object belongs to one (plain objects to Sync).
type Phase string

const (
	// PreSync objects (hooks) run before anything else, in wave order.
	PreSync Phase = "PreSync"
	// Sync holds every plain object, and Sync hooks.
	Sync Phase = "Sync"
	// PostSync hooks run once every Sync object was applied (and was healthy, when
	// health gating is on).
	PostSync Phase = "PostSync"
	// SyncFail hooks run only when an earlier phase failed.
	SyncFail Phase = "SyncFail"
	// Skip marks an object that is never applied (reported as skipped).
	Skip Phase = "Skip"
	// Prune is the phase of ChangeSet entries for pruned objects; objects never
	// carry it.
	Prune Phase = "Prune"
)

// rank orders phases in a plan.
func (p Phase) rank() int {
	switch p {
	case PreSync:
		return 0
	case Sync:
		return 1
	case PostSync:
		return 3
	case SyncFail:
		return 4
	case Skip:
		return 5
	case Prune:
		return 2
	}
	return 6
}

// HookDeletePolicy says when a hook object is deleted.
type HookDeletePolicy string

const (
	// BeforeHookCreation deletes the previous hook object (and waits until it is gone)
	// before the hook is created again. It is the default.
	BeforeHookCreation HookDeletePolicy = "BeforeHookCreation"
	// HookSucceeded deletes the hook once it succeeded.
	HookSucceeded HookDeletePolicy = "HookSucceeded"
	// HookFailed deletes the hook once it failed.
	HookFailed HookDeletePolicy = "HookFailed"
)

// objectOptions is what the annotations of one object say.
type objectOptions struct {
	phases        []Phase // nil: a plain object (Sync phase)
	wave          int
	deletePolicy  []HookDeletePolicy
	pruneDisabled bool
	recreate      bool
}

// annotation returns the driftless.dev annotation, else its Argo CD alias.
func annotation(ann map[string]string, key, alias string) (string, bool) {
	if v, ok := ann[key]; ok {
		return v, true
	}
	v, ok := ann[alias]
	return v, ok
}

// parseObjectOptions reads the plan annotations of obj.
func parseObjectOptions(obj *unstructured.Unstructured) (objectOptions, error) {
	var o objectOptions
	ann := obj.GetAnnotations()
	if v, ok := annotation(ann, AnnotationSyncWave, argoSyncWave); ok {
		w, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return o, fmt.Errorf("annotation %s: %q is not an integer", AnnotationSyncWave, v)
		}
		o.wave = w
	}
	if v, ok := annotation(ann, AnnotationHook, argoHook); ok {
		seen := map[Phase]bool{}
		for _, s := range splitList(v) {
			p, err := parsePhase(s)
			if err != nil {
				return o, fmt.Errorf("annotation %s: %w", AnnotationHook, err)
			}
			if !seen[p] {
				seen[p] = true
				o.phases = append(o.phases, p)
			}
		}
		if len(o.phases) == 0 {
			return o, fmt.Errorf("annotation %s: empty", AnnotationHook)
		}
		if seen[Skip] && len(o.phases) > 1 {
			return o, fmt.Errorf("annotation %s: Skip cannot be combined with other phases", AnnotationHook)
		}
	}
	if v, ok := annotation(ann, AnnotationHookDeletePolicy, argoHookDeletePolicy); ok {
		for _, s := range splitList(v) {
			p, err := parseDeletePolicy(s)
			if err != nil {
				return o, fmt.Errorf("annotation %s: %w", AnnotationHookDeletePolicy, err)
			}
			o.deletePolicy = append(o.deletePolicy, p)
		}
	}
	if len(o.phases) > 0 && len(o.deletePolicy) == 0 {
		o.deletePolicy = []HookDeletePolicy{BeforeHookCreation}
	}
	if v, ok := annotation(ann, AnnotationSyncOptions, argoSyncOptions); ok {
		o.pruneDisabled, o.recreate = parseSyncOptions(v)
	}
	return o, nil
}

// parseSyncOptions reads Prune=false|confirm and Recreate=true (or Argo CD's
// Replace=true with Force=true).
func parseSyncOptions(v string) (pruneDisabled, recreate bool) {
	var replace, force bool
	for _, s := range splitList(v) {
		k, val, _ := strings.Cut(s, "=")
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(val))
		switch k {
		case "prune":
			pruneDisabled = val == "false" || val == "confirm"
		case "recreate":
			recreate = val == "true"
		case "replace":
			replace = val == "true"
		case "force":
			force = val == "true"
		}
	}
	return pruneDisabled, recreate || (replace && force)
}

// pruneDisabled reports whether a live object's annotations forbid pruning it.
func pruneDisabled(obj *unstructured.Unstructured) bool {
	v, ok := annotation(obj.GetAnnotations(), AnnotationSyncOptions, argoSyncOptions)
	if !ok {
		return false
	}
	disabled, _ := parseSyncOptions(v)
	return disabled
}

func parsePhase(s string) (Phase, error) {
	for _, p := range []Phase{PreSync, Sync, PostSync, SyncFail, Skip} {
		if strings.EqualFold(s, string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown hook phase %q (want PreSync, Sync, PostSync, SyncFail or Skip)", s)
}

func parseDeletePolicy(s string) (HookDeletePolicy, error) {
	norm := strings.ToLower(strings.ReplaceAll(s, "-", ""))
	for _, p := range []HookDeletePolicy{BeforeHookCreation, HookSucceeded, HookFailed} {
		if norm == strings.ToLower(string(p)) {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown hook delete policy %q (want BeforeHookCreation, HookSucceeded or HookFailed)", s)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
