package health

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// decode converts obj into a typed API struct. Unknown fields are ignored (so older and
// newer API versions of a kind decode into the same struct); a field of the wrong type
// is an error.
func decode(obj *unstructured.Unstructured, into any) error {
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, into); err != nil {
		return fmt.Errorf("decode %s: %w", obj.GetKind(), err)
	}
	return nil
}

// condition is the common shape of status conditions across kinds.
type condition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// describe renders "Reason: message", or whichever of the two is set.
func (c condition) describe() string {
	switch {
	case c.Reason != "" && c.Message != "":
		return c.Reason + ": " + c.Message
	case c.Reason != "":
		return c.Reason
	case c.Message != "":
		return c.Message
	default:
		return c.Type + "=" + c.Status
	}
}

// conditions reads status.conditions of any kind.
func conditions(obj *unstructured.Unstructured) ([]condition, error) {
	var st struct {
		Status struct {
			Conditions []condition `json:"conditions"`
		} `json:"status"`
	}
	if err := decode(obj, &st); err != nil {
		return nil, err
	}
	return st.Status.Conditions, nil
}

// findCondition returns the condition of the given type, or nil.
func findCondition(conds []condition, typ string) *condition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// generationBehind reports whether the controller has not yet observed the latest spec
// of obj (metadata.generation newer than status.observedGeneration), with the verdict
// for that case. Until it has, the rest of the status describes an older spec and says
// nothing about the one just applied. An object without a generation (never the case
// on a real API server) is taken as observed.
func generationBehind(obj *unstructured.Unstructured, observed int64) (Result, bool) {
	gen := obj.GetGeneration()
	if gen == 0 || observed >= gen {
		return Result{}, false
	}
	return Result{Status: Progressing, Message: fmt.Sprintf(
		"waiting for the controller to observe generation %d (observed %d)", gen, observed)}, true
}

// desiredReplicas is spec.replicas with the API default of 1.
func desiredReplicas(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// joinNonEmpty joins the non-empty parts with sep.
func joinNonEmpty(sep string, parts ...string) string {
	out := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
