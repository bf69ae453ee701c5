package diff

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// IgnoreRule makes fields of matching objects never count as drift, and (through
// PrepareDesired) never be overwritten by apply.
//
// Matching: Kind "" or "*" matches every kind; Group "*" matches every group, otherwise
// Group must equal the object's group ("" is the core group), except that a rule with
// both Group and Kind empty matches every object. Name and Namespace, when set, must
// equal the object's.
type IgnoreRule struct {
	Group, Kind, Name, Namespace string
	// JSONPointers are RFC 6901 pointers into the object ("/spec/replicas",
	// "/metadata/annotations/example.com~1note"); a "*" segment matches every map key
	// or list index at that level.
	JSONPointers []string
	// ManagedFieldsManagers ignore every field these field managers own in the live
	// object (an HPA's "kube-controller-manager" owning spec.replicas, "kubectl-edit").
	ManagedFieldsManagers []string
}

// Matches reports whether the rule applies to obj.
func (r IgnoreRule) Matches(obj *unstructured.Unstructured) bool {
	if obj == nil {
		return false
	}
	gvk := obj.GroupVersionKind()
	anyKind := r.Kind == "" || r.Kind == "*"
	if !anyKind && r.Kind != gvk.Kind {
		return false
	}
	if r.Group != "*" && !(r.Group == "" && r.Kind == "") && r.Group != gvk.Group {
		return false
	}
	if r.Name != "" && r.Name != obj.GetName() {
		return false
	}
	return r.Namespace == "" || r.Namespace == obj.GetNamespace()
}

// Validate checks the rule's pointers.
func (r IgnoreRule) Validate() error {
	for _, p := range r.JSONPointers {
		if _, err := parsePointer(p); err != nil {
			return err
		}
	}
	return nil
}

// parsePointer splits an RFC 6901 JSON pointer into unescaped segments.
func parsePointer(p string) ([]string, error) {
	if p == "" {
		return nil, fmt.Errorf("diff: empty JSON pointer (the whole object cannot be ignored)")
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("diff: JSON pointer %q must start with /", p)
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		segs[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return segs, nil
}

// expandPointer returns the concrete paths (no wildcards) segs denotes in obj, only
// those whose parent exists.
func expandPointer(obj any, segs []string) [][]string {
	if len(segs) == 0 {
		return [][]string{{}}
	}
	head, rest := segs[0], segs[1:]
	var keys []string
	switch c := obj.(type) {
	case map[string]any:
		if head == "*" {
			for k := range c {
				keys = append(keys, k)
			}
		} else {
			keys = []string{head}
		}
	case []any:
		if head == "*" {
			for i := range c {
				keys = append(keys, strconv.Itoa(i))
			}
		} else {
			keys = []string{head}
		}
	default:
		return nil
	}
	var out [][]string
	for _, k := range keys {
		if len(rest) == 0 {
			out = append(out, []string{k})
			continue
		}
		next, ok := pointerChild(obj, k)
		if !ok {
			continue
		}
		for _, tail := range expandPointer(next, rest) {
			out = append(out, append([]string{k}, tail...))
		}
	}
	return out
}

func pointerChild(c any, seg string) (any, bool) {
	switch c := c.(type) {
	case map[string]any:
		v, ok := c[seg]
		return v, ok
	case []any:
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 || i >= len(c) {
			return nil, false
		}
		return c[i], true
	}
	return nil, false
}

func pointerGet(obj any, path []string) (any, bool) {
	cur := obj
	for _, s := range path {
		next, ok := pointerChild(cur, s)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// pointerSet sets the value at path when its parent exists; a list index may address
// an existing item or the end of the list. It returns the (possibly new) root.
func pointerSet(obj any, path []string, v any) any {
	if len(path) == 0 {
		return v
	}
	switch c := obj.(type) {
	case map[string]any:
		if len(path) == 1 {
			c[path[0]] = v
			return c
		}
		next, ok := c[path[0]]
		if !ok {
			return c
		}
		c[path[0]] = pointerSet(next, path[1:], v)
		return c
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i > len(c) {
			return c
		}
		if len(path) == 1 {
			if i == len(c) {
				return append(c, v)
			}
			c[i] = v
			return c
		}
		if i == len(c) {
			return c
		}
		c[i] = pointerSet(c[i], path[1:], v)
		return c
	}
	return obj
}

// pointerRemove deletes the value at path, returning the (possibly new) root.
func pointerRemove(obj any, path []string) any {
	if len(path) == 0 {
		return obj
	}
	switch c := obj.(type) {
	case map[string]any:
		if len(path) == 1 {
			delete(c, path[0])
			return c
		}
		if next, ok := c[path[0]]; ok {
			c[path[0]] = pointerRemove(next, path[1:])
		}
		return c
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(c) {
			return c
		}
		if len(path) == 1 {
			return append(c[:i:i], c[i+1:]...)
		}
		c[i] = pointerRemove(c[i], path[1:])
		return c
	}
	return obj
}

// ignored is what the matching rules cover for one object.
type ignored struct {
	pointers [][]string     // parsed pointers (may hold "*")
	managed  *fieldpath.Set // fields the ignored managers own in live
}

func (ig ignored) empty() bool {
	return len(ig.pointers) == 0 && (ig.managed == nil || ig.managed.Empty())
}

// ignoredFor collects the rules matching obj (desired, or live when desired is nil).
func ignoredFor(rules []IgnoreRule, obj, live *unstructured.Unstructured) (ignored, error) {
	var ig ignored
	var managers []string
	for _, r := range rules {
		if !r.Matches(obj) {
			continue
		}
		for _, p := range r.JSONPointers {
			segs, err := parsePointer(p)
			if err != nil {
				return ig, err
			}
			ig.pointers = append(ig.pointers, segs)
		}
		managers = append(managers, r.ManagedFieldsManagers...)
	}
	if live != nil && len(managers) > 0 {
		s, err := managedBy(live, managers)
		if err != nil {
			return ig, fmt.Errorf("%s: %w", describe(live), err)
		}
		ig.managed = s
	}
	return ig, nil
}

// strip removes every ignored field from a comparison view.
func (ig ignored) strip(view map[string]any) {
	for _, segs := range ig.pointers {
		// Remove deepest-first so list indices stay valid.
		paths := expandPointer(view, segs)
		for i := len(paths) - 1; i >= 0; i-- {
			pointerRemove(view, paths[i])
		}
	}
	if ig.managed != nil {
		removeSet(view, ig.managed)
	}
}

// PrepareDesired returns a copy of desired in which every field an IgnoreRule covers
// (by JSON pointer, or because one of the named managers owns it in live) is taken from
// live (or dropped when live lacks it), so that apply never overwrites an ignored field.
// A field a pointer covers that desired lacks but live has is added from live (apply
// would otherwise remove it if we owned it); a field an ignored manager owns is only
// replaced where desired sets it. desired is returned as a copy even without rules; a
// nil live (a create) leaves desired unchanged.
func PrepareDesired(desired, live *unstructured.Unstructured, rules []IgnoreRule) (*unstructured.Unstructured, error) {
	if desired == nil {
		return nil, nil
	}
	out := desired.DeepCopy()
	if live == nil || len(rules) == 0 {
		return out, nil
	}
	ig, err := ignoredFor(rules, desired, live)
	if err != nil {
		return nil, fmt.Errorf("diff: ignore rules for %s: %w", describe(desired), err)
	}
	for _, segs := range ig.pointers {
		seen := map[string]bool{}
		var paths [][]string
		for _, p := range append(expandPointer(out.Object, segs), expandPointer(live.Object, segs)...) {
			if k := strings.Join(p, "\x00"); !seen[k] {
				seen[k] = true
				paths = append(paths, p)
			}
		}
		for i := len(paths) - 1; i >= 0; i-- {
			p := paths[i]
			if lv, ok := pointerGet(live.Object, p); ok {
				out.Object = pointerSet(out.Object, p, runtime.DeepCopyJSONValue(lv)).(map[string]any)
			} else {
				out.Object = pointerRemove(out.Object, p).(map[string]any)
			}
		}
	}
	for _, p := range setPaths(ig.managed) {
		if lv, ok := getPath(live.Object, p); ok {
			replacePath(out.Object, p, runtime.DeepCopyJSONValue(lv))
		}
	}
	return out, nil
}

// describe names an object as kind/namespace/name for messages.
func describe(u *unstructured.Unstructured) string {
	if u == nil {
		return "<nil>"
	}
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}
