package diff

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// gvkExtension is the OpenAPI extension naming the kinds a schema describes.
const gvkExtension = "x-kubernetes-group-version-kind"

// indexKinds maps each kind named by an x-kubernetes-group-version-kind extension in
// schemas to its root schema.
func indexKinds(schemas map[string]*spec.Schema) map[schema.GroupVersionKind]*spec.Schema {
	out := map[schema.GroupVersionKind]*spec.Schema{}
	for _, s := range schemas {
		if s == nil {
			continue
		}
		raw, ok := s.Extensions[gvkExtension]
		if !ok {
			continue
		}
		list, _ := raw.([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			if m == nil {
				continue
			}
			g, _ := m["group"].(string)
			v, _ := m["version"].(string)
			k, _ := m["kind"].(string)
			if v != "" && k != "" {
				out[schema.GroupVersionKind{Group: g, Version: v, Kind: k}] = s
			}
		}
	}
	return out
}

// schemaDefaults applies the defaults of a custom resource's structural schema the
// way the API server's structural defaulting does after a server-side apply: a missing
// property, or a null one that is not nullable, takes the property's default (deep
// copied), and defaulting recurses into properties, additionalProperties and items,
// including into freshly defaulted values.
type schemaDefaults struct{}

// newSchemaDefaulter returns the DefaultFunc for root, or nil when no schema under root
// declares a default.
func newSchemaDefaulter(root *spec.Schema) DefaultFunc {
	d := schemaDefaults{}
	if !d.hasDefaults(root, map[*spec.Schema]bool{}) {
		return nil
	}
	return func(obj map[string]any) { d.apply(obj, root, 0) }
}

// maxDefaultDepth bounds recursion through self-referencing schemas.
const maxDefaultDepth = 64

// resolve unwraps a single allOf. References are not followed: a CRD's schema is
// inline, and the only references in its OpenAPI are to ObjectMeta and friends, which
// the server's structural defaulting never touches.
func (d schemaDefaults) resolve(s *spec.Schema) *spec.Schema {
	for s != nil && len(s.Properties) == 0 && len(s.AllOf) == 1 {
		s = &s.AllOf[0]
	}
	if s == nil || s.Ref.String() != "" {
		return nil
	}
	return s
}

func (d schemaDefaults) hasDefaults(s *spec.Schema, seen map[*spec.Schema]bool) bool {
	s = d.resolve(s)
	if s == nil || seen[s] {
		return false
	}
	seen[s] = true
	for name := range s.Properties {
		p := s.Properties[name]
		if p.Default != nil || d.hasDefaults(&p, seen) {
			return true
		}
	}
	if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
		if ap.Schema.Default != nil || d.hasDefaults(ap.Schema, seen) {
			return true
		}
	}
	if it := s.Items; it != nil && it.Schema != nil {
		if it.Schema.Default != nil || d.hasDefaults(it.Schema, seen) {
			return true
		}
	}
	return false
}

func nonNullableNull(v any, s *spec.Schema) bool {
	return v == nil && s != nil && !s.Nullable
}

func (d schemaDefaults) apply(x any, s *spec.Schema, depth int) {
	s = d.resolve(s)
	if s == nil || depth > maxDefaultDepth {
		return
	}
	switch x := x.(type) {
	case map[string]any:
		for name := range s.Properties {
			p := s.Properties[name]
			if p.Default == nil {
				continue
			}
			if v, found := x[name]; !found || nonNullableNull(v, &p) {
				x[name] = runtime.DeepCopyJSONValue(jsonValue(p.Default))
			}
		}
		for k, v := range x {
			if p, found := s.Properties[k]; found {
				d.apply(v, &p, depth+1)
			} else if ap := s.AdditionalProperties; ap != nil && ap.Schema != nil {
				if nonNullableNull(v, ap.Schema) && ap.Schema.Default != nil {
					x[k] = runtime.DeepCopyJSONValue(jsonValue(ap.Schema.Default))
				}
				d.apply(x[k], ap.Schema, depth+1)
			}
		}
	case []any:
		if s.Items == nil || s.Items.Schema == nil {
			return
		}
		it := s.Items.Schema
		for i := range x {
			if nonNullableNull(x[i], it) && it.Default != nil {
				x[i] = runtime.DeepCopyJSONValue(jsonValue(it.Default))
			}
			d.apply(x[i], it, depth+1)
		}
	}
}

// jsonValue turns a default decoded by encoding/json (float64 numbers) into the value
// kinds unstructured objects use (int64 for integral numbers).
func jsonValue(v any) any {
	switch v := v.(type) {
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
		return v
	case int:
		return int64(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = jsonValue(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = jsonValue(e)
		}
		return out
	default:
		return v
	}
}
