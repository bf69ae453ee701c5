package diff

import (
	"encoding/base64"
	"fmt"
	"math"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// serverMetadata are the metadata fields the API server owns: they never count as
// drift and a prediction takes them from the live object.
var serverMetadata = []string{"resourceVersion", "generation", "managedFields", "creationTimestamp", "uid", "selfLink"}

// canonicalize turns a merged object into what the API server would store and return
// for it. Built-in kinds are stored as Go structs: the object goes through the kind's
// versioned Go type, which canonicalizes quantities ("1000m" becomes "1") and drops
// empty optional fields, after the conversions the server's internal types imply
// (Secret stringData folded into data, a pod's serviceAccount mirrored from
// serviceAccountName). Custom resources are stored as JSON, except their metadata,
// which the server coerces through ObjectMeta.
func canonicalize(b *builtins, gvk schema.GroupVersionKind, obj map[string]any) (map[string]any, error) {
	if !b.isBuiltin(gvk) {
		return obj, canonicalMetadata(obj)
	}
	switch gvk.GroupKind() {
	case schema.GroupKind{Kind: "Secret"}:
		foldStringData(obj)
	}
	for _, spec := range podSpecs(gvk.GroupKind(), obj) {
		syncServiceAccount(spec)
	}
	typed, err := b.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("new %s: %w", gvk, err)
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, typed); err != nil {
		return nil, fmt.Errorf("decode as %s: %w", gvk, err)
	}
	out, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", gvk, err)
	}
	out["apiVersion"], out["kind"] = gvk.GroupVersion().String(), gvk.Kind
	return out, nil
}

// canonicalMetadata round-trips metadata through ObjectMeta as the API server does for
// custom resources (empty label and annotation maps disappear, for instance).
func canonicalMetadata(obj map[string]any) error {
	raw, ok := obj["metadata"].(map[string]any)
	if !ok {
		return nil
	}
	var meta metav1.ObjectMeta
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &meta); err != nil {
		return fmt.Errorf("decode metadata: %w", err)
	}
	out, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&meta)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	obj["metadata"] = out
	return nil
}

// foldStringData does what converting a v1 Secret to the server's internal type does:
// stringData values overwrite data values of the same key and stringData disappears.
func foldStringData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	delete(obj, "stringData")
	if !ok || len(sd) == 0 {
		return
	}
	data, _ := obj["data"].(map[string]any)
	if data == nil {
		data = make(map[string]any, len(sd))
		obj["data"] = data
	}
	for k, v := range sd {
		s, _ := v.(string)
		data[k] = base64.StdEncoding.EncodeToString([]byte(s))
	}
}

// syncServiceAccount mirrors the v1 <-> internal conversion of PodSpec: the deprecated
// serviceAccount field always equals serviceAccountName (which it fills when empty).
func syncServiceAccount(spec map[string]any) {
	name, _ := spec["serviceAccountName"].(string)
	if name == "" {
		name, _ = spec["serviceAccount"].(string)
	}
	if name == "" {
		delete(spec, "serviceAccount")
		delete(spec, "serviceAccountName")
		return
	}
	spec["serviceAccount"], spec["serviceAccountName"] = name, name
}

// podSpecs returns the pod specs inside a built-in object.
func podSpecs(gk schema.GroupKind, obj map[string]any) []map[string]any {
	var path []string
	switch gk {
	case schema.GroupKind{Kind: "Pod"}:
		path = []string{"spec"}
	case schema.GroupKind{Kind: "PodTemplate"}:
		path = []string{"template", "spec"}
	case schema.GroupKind{Group: "apps", Kind: "Deployment"}, schema.GroupKind{Group: "apps", Kind: "ReplicaSet"},
		schema.GroupKind{Group: "apps", Kind: "StatefulSet"}, schema.GroupKind{Group: "apps", Kind: "DaemonSet"},
		schema.GroupKind{Kind: "ReplicationController"}, schema.GroupKind{Group: "batch", Kind: "Job"}:
		path = []string{"spec", "template", "spec"}
	case schema.GroupKind{Group: "batch", Kind: "CronJob"}:
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil
	}
	if m := nestedMap(obj, path...); m != nil {
		return []map[string]any{m}
	}
	return nil
}

func nestedMap(obj map[string]any, path ...string) map[string]any {
	cur := obj
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return nil
		}
		cur = next
	}
	return cur
}

// restoreServerFields copies what the API server keeps from the stored object into a
// prediction: its server-owned metadata and its status (status is a reset field: an
// apply never changes it).
func restoreServerFields(pred, live map[string]any) {
	pm, _ := pred["metadata"].(map[string]any)
	lm, _ := live["metadata"].(map[string]any)
	if pm == nil {
		pm = map[string]any{}
		pred["metadata"] = pm
	}
	for _, f := range []string{"resourceVersion", "generation", "creationTimestamp", "uid", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"} {
		if v, ok := lm[f]; ok {
			pm[f] = runtime.DeepCopyJSONValue(v)
		} else {
			delete(pm, f)
		}
	}
	if st, ok := live["status"]; ok {
		pred["status"] = runtime.DeepCopyJSONValue(st)
	} else {
		delete(pred, "status")
	}
}

// compareView returns a copy of obj without the fields that never count as drift:
// status and the server-owned metadata.
func compareView(u *unstructured.Unstructured) map[string]any {
	out := make(map[string]any, len(u.Object))
	for k, v := range u.Object {
		switch k {
		case "status":
		case "metadata":
			m, _ := v.(map[string]any)
			mc := make(map[string]any, len(m))
			for mk, mv := range m {
				mc[mk] = runtime.DeepCopyJSONValue(mv)
			}
			for _, f := range serverMetadata {
				delete(mc, f)
			}
			out[k] = mc
		default:
			out[k] = runtime.DeepCopyJSONValue(v)
		}
	}
	return out
}

// equalJSON compares two unstructured values; numbers compare by value, so int64(1)
// equals float64(1) (a YAML "1.0" and the server's "1").
func equalJSON(a, b any) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !equalJSON(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !equalJSON(av[i], bv[i]) {
				return false
			}
		}
		return true
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case nil:
		return b == nil
	}
	x, okA := number(a)
	y, okB := number(b)
	return okA && okB && x == y
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case float64:
		return n, !math.IsNaN(n)
	case float32:
		return float64(n), true
	}
	return 0, false
}
