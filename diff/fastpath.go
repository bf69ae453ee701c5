package diff

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// The fast path: most objects of a steady-state reconcile are exactly what we applied
// last time. Then our server-side apply changes nothing but managedFields, and the
// full merge (the bulk of a verdict's cost) can be skipped. It is provably a no-op
// when, walking the apply configuration along the field set our manager owns in the
// live object (its Apply entry at the desired apiVersion):
//   - every field of the configuration is in that set, and every member of the set is
//     in the configuration (so the apply neither removes fields we owned nor takes new
//     ones), and
//   - every leaf of the configuration (scalar, atomic list or map) equals the live
//     value, and every keyed list item exists once in live, in the configuration's
//     order (the merge orders shared items as the configuration does).
//
// Then the merged object equals live, which is already defaulted and canonical. When
// any condition fails (a spelling the server normalizes, "1000m" for "1", included),
// the full prediction runs: the fast path can miss a no-op but never invents one.

// serverMetaKeys are the metadata fields the field manager strips from managed sets.
var serverMetaKeys = map[string]bool{
	"name": true, "namespace": true, "creationTimestamp": true, "selfLink": true, "uid": true,
	"clusterName": true, "generation": true, "managedFields": true, "resourceVersion": true,
}

// ownedApplyFields returns the FieldsV1 tree manager owns through Apply at
// apiVersion, and false when there is none or it is ambiguous. It reads the
// unstructured managedFields directly: decoding them into ManagedFieldsEntry values, or
// into a fieldpath.Set, costs more than the rest of the fast path.
func ownedApplyFields(live *unstructured.Unstructured, manager, apiVersion string) (map[string]any, bool) {
	meta, _ := live.Object["metadata"].(map[string]any)
	entries, _ := meta["managedFields"].([]any)
	var fields map[string]any
	found := false
	for _, raw := range entries {
		e, _ := raw.(map[string]any)
		if e["manager"] != manager || e["operation"] != string(metav1.ManagedFieldsOperationApply) {
			continue
		}
		if sub, _ := e["subresource"].(string); sub != "" {
			continue
		}
		f, ok := e["fieldsV1"].(map[string]any)
		if found || e["apiVersion"] != apiVersion || e["fieldsType"] != "FieldsV1" || !ok {
			return nil, false
		}
		fields, found = f, true
	}
	return fields, found
}

// unchangedByApply reports whether applying cfg as manager is certain to leave live's
// content unchanged (see above).
func unchangedByApply(cfg, live *unstructured.Unstructured, manager string, builtin bool) bool {
	owned, ok := ownedApplyFields(live, manager, cfg.GetAPIVersion())
	if !ok {
		return false
	}
	w := noopWalker{builtin: builtin}
	return w.object(cfg.Object, live.Object, owned)
}

// noopWalker walks a configuration, the live object and a FieldsV1 tree together. A
// tree node maps serialized path elements ("f:name", "k:{...}", "v:...") to subtrees;
// "." marks the node's own path as a member; an empty subtree is a leaf.
type noopWalker struct {
	// builtin: the kind is built in, so a list key field named protocol that an item
	// omits defaults to TCP (container and service ports, the only defaulted keys).
	builtin bool
}

// object walks the root: apiVersion, kind and status are not merged (status is reset),
// metadata is walked without the server-owned fields.
func (w noopWalker) object(cfg, live, owned map[string]any) bool {
	matched := 0
	for k, v := range cfg {
		switch k {
		case "apiVersion", "kind", "status":
			continue
		case "metadata":
			m, ok := v.(map[string]any)
			if !ok {
				return false
			}
			sub, has := owned["f:metadata"].(map[string]any)
			if !has {
				for mk := range m {
					if !serverMetaKeys[mk] {
						return false
					}
				}
				continue
			}
			lm, ok := live["metadata"].(map[string]any)
			if !ok || !w.fields(m, lm, sub, serverMetaKeys) {
				return false
			}
			matched++
			continue
		}
		if !w.field(k, v, live, owned) {
			return false
		}
		matched++
	}
	return matched == entries(owned)
}

// fields walks a map of the configuration against its tree node.
func (w noopWalker) fields(cfg, live, node map[string]any, skip map[string]bool) bool {
	matched := 0
	for k, v := range cfg {
		if skip[k] {
			continue
		}
		if !w.field(k, v, live, node) {
			return false
		}
		matched++
	}
	return matched == entries(node)
}

// field checks one map entry of the configuration.
func (w noopWalker) field(k string, v any, live, node map[string]any) bool {
	sub, owned := node["f:"+k].(map[string]any)
	if !owned {
		return false // a field we do not own yet: the apply would take it
	}
	lv, ok := live[k]
	return ok && w.element(v, lv, sub)
}

// element checks the configuration value v (live value lv) against its subtree.
func (w noopWalker) element(v, lv any, sub map[string]any) bool {
	if entries(sub) == 0 {
		return equalJSON(v, lv) // a leaf: scalar, atomic list or map, or an empty one
	}
	switch cv := v.(type) {
	case map[string]any:
		lm, ok := lv.(map[string]any)
		return ok && w.fields(cv, lm, sub, nil)
	case []any:
		ll, ok := lv.([]any)
		return ok && w.items(cv, ll, sub)
	default:
		return false
	}
}

// ownedItem is one keyed (or set) element of a list node.
type ownedItem struct {
	pe  fieldpath.PathElement
	sub map[string]any
}

// items checks a keyed list (or set): each configuration item is one owned element,
// present once in live, in the same relative order.
func (w noopWalker) items(cfg, live []any, node map[string]any) bool {
	owned := make([]ownedItem, 0, len(node))
	for k, sub := range node {
		if k == "." {
			continue
		}
		pe, err := fieldpath.DeserializePathElement(k)
		m, ok := sub.(map[string]any)
		if err != nil || !ok || (pe.Key == nil && pe.Value == nil) {
			return false
		}
		owned = append(owned, ownedItem{pe: pe, sub: m})
	}
	if len(cfg) != len(owned) {
		return false
	}
	last := -1
	for _, item := range cfg {
		oi, ok := w.ownedElement(item, owned)
		if !ok {
			return false
		}
		at := -1
		for i, li := range live {
			if w.match(oi.pe, li) {
				if at >= 0 {
					return false // duplicates in live: leave it to the merge
				}
				at = i
			}
		}
		if at <= last {
			return false
		}
		last = at
		if oi.pe.Value == nil && !w.element(item, live[at], oi.sub) {
			return false
		}
	}
	return true
}

// ownedElement finds the owned element selecting item.
func (w noopWalker) ownedElement(item any, owned []ownedItem) (ownedItem, bool) {
	for _, oi := range owned {
		if w.match(oi.pe, item) {
			return oi, true
		}
	}
	return ownedItem{}, false
}

// match is matchElement with the defaulted protocol key of built-in ports.
func (w noopWalker) match(pe fieldpath.PathElement, item any) bool {
	if matchElement(pe, item) {
		return true
	}
	m, ok := item.(map[string]any)
	if !w.builtin || pe.Key == nil || !ok {
		return false
	}
	if _, has := m["protocol"]; has {
		return false
	}
	for _, f := range *pe.Key {
		if f.Name == "protocol" {
			if !f.Value.IsString() || f.Value.AsString() != "TCP" {
				return false
			}
			continue
		}
		x, ok := m[f.Name]
		if !ok || !value.Equals(value.NewValueInterface(x), f.Value) {
			return false
		}
	}
	return true
}

// entries is the number of elements directly under a tree node.
func entries(node map[string]any) int {
	if _, dot := node["."]; dot {
		return len(node) - 1
	}
	return len(node)
}
