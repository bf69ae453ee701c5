package diff

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/typed"
)

// comparison is the outcome of comparing a predicted object with the live one.
type comparison struct {
	drift   bool
	paths   []string
	unified string
	// suspects are reasons the offline verdict may differ from the server's.
	suspects []string
}

// compareInput is what compare needs to know about the kind.
type compareInput struct {
	gvk       schema.GroupVersionKind
	tc        managedfields.TypeConverter
	builtin   bool // stored as a Go struct by the server (see canonicalize)
	defaulted bool // schema defaults were applied offline (custom resources)
	canonical bool // the predicted object is in canonical form already (Diff's own prediction)
}

// compare compares predicted with live, ignoring status, server-owned metadata and
// the ignored fields, and renders the masked unified diff.
func compare(in compareInput, predicted, live *unstructured.Unstructured, ig ignored) (comparison, error) {
	pv, lv := compareView(predicted), compareView(live)
	ig.strip(pv)
	ig.strip(lv)
	if equalJSON(pv, lv) {
		return comparison{}, nil
	}
	{
		// Either side may not be in the server's canonical form (an object from a
		// cache, or from a server that stores what it is given, like gitopstest's):
		// compare canonical forms. Canonicalizing is idempotent, so this only costs
		// when the objects differ.
		var err error
		if !in.canonical {
			if pv, err = canonicalView(in.gvk, predicted, ig); err != nil {
				return comparison{}, err
			}
		}
		if lv, err = canonicalView(in.gvk, live, ig); err != nil {
			return comparison{}, err
		}
		if equalJSON(pv, lv) {
			return comparison{}, nil
		}
	}
	c := comparison{drift: true}
	cmp := typedCompare(in.tc, lv, pv)
	if cmp != nil {
		added, removed := minimal(cmp.Added), minimal(cmp.Removed)
		modified := setPaths(cmp.Modified)
		for _, group := range [][]fieldpath.Path{added, removed, modified} {
			for _, p := range group {
				c.paths = append(c.paths, p.String())
			}
		}
		c.suspects = suspects(in, lv, pv, removed, modified)
	}
	if len(c.paths) == 0 {
		// The schema-aware comparison saw no change (an order-only change of a keyed
		// list, say) or could not run: fall back to a plain walk.
		c.paths = plainPaths(lv, pv, "")
		if cmp == nil {
			c.suspects = append(c.suspects, "the object does not fit its schema")
		}
	}
	sort.Strings(c.paths)
	c.paths = dedupe(c.paths)
	name := unifiedName(in.gvk, live.GetNamespace(), live.GetName())
	if isSecret(live) {
		maskPair(lv, pv)
	}
	u, err := unified(name, lv, pv)
	if err != nil {
		return comparison{}, err
	}
	c.unified = u
	return c, nil
}

// canonicalView is the comparison view of the canonical form of a built-in object.
func canonicalView(gvk schema.GroupVersionKind, u *unstructured.Unstructured, ig ignored) (map[string]any, error) {
	b, err := loadBuiltins()
	if err != nil {
		return nil, err
	}
	obj, err := canonicalize(b, gvk, u.DeepCopy().Object)
	if err != nil {
		return nil, fmt.Errorf("canonical form of %s: %w", describe(u), err)
	}
	view := compareView(&unstructured.Unstructured{Object: obj})
	ig.strip(view)
	return view, nil
}

// typedCompare compares two views with the kind's schema, falling back to the
// schema-less (deduced) one when a view does not fit the schema; nil when neither works.
func typedCompare(tc managedfields.TypeConverter, live, pred map[string]any) *typed.Comparison {
	for _, conv := range []managedfields.TypeConverter{tc, managedfields.NewDeducedTypeConverter()} {
		if conv == nil {
			continue
		}
		lt, err := conv.ObjectToTyped(&unstructured.Unstructured{Object: live}, typed.AllowDuplicates)
		if err != nil {
			continue
		}
		pt, err := conv.ObjectToTyped(&unstructured.Unstructured{Object: pred}, typed.AllowDuplicates)
		if err != nil {
			continue
		}
		cmp, err := lt.Compare(pt)
		if err != nil {
			continue
		}
		return cmp
	}
	return nil
}

// minimal returns the paths of s without those under another path of s: an added
// container is reported once, not once per field.
func minimal(s *fieldpath.Set) []fieldpath.Path {
	all := setPaths(s)
	var out []fieldpath.Path
	for _, p := range all {
		covered := false
		for i := 1; i < len(p); i++ {
			if s.Has(p[:i]) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, p)
		}
	}
	return out
}

// suspects returns why the server's verdict may differ from the offline one:
//   - a field we owned was removed from a built-in kind (or a custom resource whose
//     defaults are unknown): the server may default it back to the live value;
//   - a value changed only in spelling of a quantity or of an int-or-string ("1000m" vs
//     "1", "80" vs 80) on a kind whose storage we do not model (built-in kinds are
//     canonicalized through their Go types, custom resources keep what they are given).
func suspects(in compareInput, live, pred map[string]any, removed, modified []fieldpath.Path) []string {
	var out []string
	for _, p := range removed {
		if in.defaulted || neverDefaulted(p) {
			continue
		}
		out = append(out, "removed "+p.String()+" may be defaulted by the server")
	}
	if in.builtin {
		return out
	}
	for _, p := range modified {
		a, okA := getPath(live, p)
		b, okB := getPath(pred, p)
		if okA && okB && sameQuantity(a, b) {
			out = append(out, fmt.Sprintf("%s: %v and %v may be the same value to the server", p, a, b))
		}
	}
	return out
}

// neverDefaulted reports removals no server default can undo: metadata, data maps,
// whole keyed list items and the fields of env and volume mounts.
func neverDefaulted(p fieldpath.Path) bool {
	if len(p) == 0 {
		return true
	}
	if f := p[0].FieldName; f != nil {
		switch *f {
		case "metadata", "data", "binaryData", "stringData":
			return true
		}
	}
	last := p[len(p)-1]
	if last.Key != nil || last.Value != nil || last.Index != nil {
		return true
	}
	for _, pe := range p {
		if f := pe.FieldName; f != nil {
			switch *f {
			case "env", "envFrom", "volumeMounts", "args", "command", "labels", "annotations", "nodeSelector", "tolerations":
				return true
			}
		}
	}
	return false
}

// sameQuantity reports whether two different scalars denote the same quantity or
// integer ("1000m" and "1", "1Gi" and "1024Mi", "80" and 80).
func sameQuantity(a, b any) bool {
	qa, okA := quantityOf(a)
	qb, okB := quantityOf(b)
	return okA && okB && qa.Cmp(qb) == 0
}

func quantityOf(v any) (resource.Quantity, bool) {
	switch x := v.(type) {
	case string:
		q, err := resource.ParseQuantity(strings.TrimSpace(x))
		return q, err == nil
	case int64:
		return *resource.NewQuantity(x, resource.DecimalSI), true
	case float64:
		q, err := resource.ParseQuantity(strconv.FormatFloat(x, 'f', -1, 64))
		return q, err == nil
	}
	return resource.Quantity{}, false
}

// plainPaths lists the differing paths of two unstructured values without a schema,
// list items by index.
func plainPaths(a, b any, prefix string) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		var out []string
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		for k := range keys {
			x, inA := am[k]
			y, inB := bm[k]
			switch {
			case inA && inB:
				out = append(out, plainPaths(x, y, prefix+"."+k)...)
			default:
				out = append(out, prefix+"."+k)
			}
		}
		return out
	}
	al, aok := a.([]any)
	bl, bok := b.([]any)
	if aok && bok && len(al) == len(bl) {
		var out []string
		for i := range al {
			out = append(out, plainPaths(al[i], bl[i], prefix+"["+strconv.Itoa(i)+"]")...)
		}
		return out
	}
	if equalJSON(a, b) {
		return nil
	}
	if prefix == "" {
		prefix = "."
	}
	return []string{prefix}
}

func dedupe(sorted []string) []string {
	out := sorted[:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}
