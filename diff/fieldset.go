package diff

import (
	"bytes"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// managedBy returns the union of the field sets the named managers own in obj (any
// operation, any subresource), or nil when they own nothing.
func managedBy(obj *unstructured.Unstructured, managers []string) (*fieldpath.Set, error) {
	if len(managers) == 0 {
		return nil, nil
	}
	want := make(map[string]bool, len(managers))
	for _, m := range managers {
		want[m] = true
	}
	var out *fieldpath.Set
	for _, e := range obj.GetManagedFields() {
		if !want[e.Manager] || e.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(bytes.NewReader(e.FieldsV1.Raw)); err != nil {
			return nil, fmt.Errorf("decode managed fields of %q: %w", e.Manager, err)
		}
		if out == nil {
			out = s
		} else {
			out = out.Union(s)
		}
	}
	return out, nil
}

// setPaths lists the paths of a set's members (leaves and whole list items), parents
// before children.
func setPaths(s *fieldpath.Set) []fieldpath.Path {
	if s == nil {
		return nil
	}
	var out []fieldpath.Path
	s.Iterate(func(p fieldpath.Path) { out = append(out, p.Copy()) })
	return out
}

// matchElement reports whether the unstructured list item (or map value) v is the one
// pe selects.
func matchElement(pe fieldpath.PathElement, v any) bool {
	switch {
	case pe.Key != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for _, f := range *pe.Key {
			x, ok := m[f.Name]
			if !ok || !value.Equals(value.NewValueInterface(x), f.Value) {
				return false
			}
		}
		return true
	case pe.Value != nil:
		return value.Equals(value.NewValueInterface(v), *pe.Value)
	}
	return false
}

// child returns the element pe selects in container c and a setter replacing it.
func child(c any, pe fieldpath.PathElement) (any, bool) {
	switch {
	case pe.FieldName != nil:
		m, ok := c.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[*pe.FieldName]
		return v, ok
	case pe.Index != nil:
		l, ok := c.([]any)
		if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
			return nil, false
		}
		return l[*pe.Index], true
	default:
		l, ok := c.([]any)
		if !ok {
			return nil, false
		}
		for _, item := range l {
			if matchElement(pe, item) {
				return item, true
			}
		}
		return nil, false
	}
}

// getPath returns the value at p in obj.
func getPath(obj any, p fieldpath.Path) (any, bool) {
	cur := obj
	for _, pe := range p {
		next, ok := child(cur, pe)
		if !ok {
			return nil, false
		}
		cur = next
	}
	return cur, true
}

// removePath deletes the element at p from obj (a map). Missing paths are no-ops.
func removePath(obj map[string]any, p fieldpath.Path) {
	if len(p) == 0 {
		return
	}
	parent, ok := getPath(obj, p[:len(p)-1])
	if !ok {
		return
	}
	last := p[len(p)-1]
	if last.FieldName != nil {
		if m, ok := parent.(map[string]any); ok {
			delete(m, *last.FieldName)
		}
		return
	}
	l, ok := parent.([]any)
	if !ok {
		return
	}
	kept := l[:0:0]
	for i, item := range l {
		if (last.Index != nil && *last.Index == i) || (last.Index == nil && matchElement(last, item)) {
			continue
		}
		kept = append(kept, item)
	}
	replace(obj, p[:len(p)-1], kept)
}

// replacePath sets the existing element at p in obj to v and reports whether it
// existed.
func replacePath(obj map[string]any, p fieldpath.Path, v any) bool {
	if _, ok := getPath(obj, p); !ok || len(p) == 0 {
		return false
	}
	parent, _ := getPath(obj, p[:len(p)-1])
	last := p[len(p)-1]
	if last.FieldName != nil {
		parent.(map[string]any)[*last.FieldName] = v
		return true
	}
	l := parent.([]any)
	for i, item := range l {
		if (last.Index != nil && *last.Index == i) || (last.Index == nil && matchElement(last, item)) {
			l[i] = v
			return true
		}
	}
	return false
}

// replace sets the container at p (which exists) to v.
func replace(obj map[string]any, p fieldpath.Path, v any) {
	if len(p) == 0 {
		return
	}
	replacePath(obj, p, v)
}

// removeSet deletes every member of s from obj.
func removeSet(obj map[string]any, s *fieldpath.Set) {
	for _, p := range setPaths(s) {
		removePath(obj, p)
	}
}
