package render

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resource"
)

// toUnstructured converts a resource to the object its JSON form would give
// (kustomize's RNode.MarshalJSON, then unstructured.UnmarshalJSON), decoding the
// YAML node directly instead of printing and re-parsing it twice. Values outside what
// the direct path reproduces exactly fall back to the JSON round trip.
func toUnstructured(res *resource.Resource) (*unstructured.Unstructured, error) {
	var v map[string]any
	if err := res.YNode().Decode(&v); err == nil {
		if obj, ok := jsonCompatible(v).(map[string]any); ok {
			return &unstructured.Unstructured{Object: obj}, nil
		}
	}
	j, err := res.MarshalJSON()
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(j); err != nil {
		return nil, err
	}
	return u, nil
}

// jsonCompatible rewrites a decoded YAML value the way encoding/json followed by
// Kubernetes' JSON decoding would (integers as int64, integral floats printed
// without exponent as int64, timestamps as RFC 3339 strings), in place. It returns
// nil when the value holds something only the JSON round trip can reproduce.
func jsonCompatible(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c := jsonCompatible(e)
			if c == nil && e != nil {
				return nil
			}
			v[k] = c
		}
		return v
	case []any:
		for i, e := range v {
			c := jsonCompatible(e)
			if c == nil && e != nil {
				return nil
			}
			v[i] = c
		}
		return v
	case string:
		if !utf8.ValidString(v) {
			return nil // encoding/json replaces invalid bytes
		}
		return v
	case bool:
		return v
	case int:
		return int64(v)
	case int64:
		return v
	case uint64:
		if v <= math.MaxInt64 {
			return int64(v)
		}
		return float64(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		if v == math.Trunc(v) && math.Abs(v) < 1e21 {
			if i, err := strconv.ParseInt(strconv.FormatFloat(v, 'f', -1, 64), 10, 64); err == nil {
				return i
			}
		}
		return v
	case time.Time:
		return v.Format(time.RFC3339Nano)
	case nil:
		return nil
	default:
		return nil
	}
}
