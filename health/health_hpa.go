package health

import (
	"encoding/json"
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// hpaV1ConditionsAnnotation carries the conditions of an HPA read as autoscaling/v1,
// whose status has no conditions field.
const hpaV1ConditionsAnnotation = "autoscaling.alpha.kubernetes.io/conditions"

// hpaHealth judges a HorizontalPodAutoscaler (autoscaling/v2, or v1 with its conditions
// annotation) by its conditions:
//   - status.observedGeneration behind metadata.generation: Progressing;
//   - AbleToScale False (cannot read or update the target's scale): Degraded;
//   - ScalingActive False with reason ScalingDisabled (the target is scaled to zero): Suspended;
//   - ScalingActive False otherwise (metrics unavailable, invalid selector): Degraded;
//   - AbleToScale or ScalingActive not yet True: Progressing;
//   - otherwise Healthy; a ScalingLimited condition is noted in the message.
func hpaHealth(obj *unstructured.Unstructured) (Result, error) {
	var h struct {
		Spec struct {
			MinReplicas *int32 `json:"minReplicas"`
			MaxReplicas int32  `json:"maxReplicas"`
		} `json:"spec"`
		Status struct {
			ObservedGeneration *int64      `json:"observedGeneration"`
			CurrentReplicas    int32       `json:"currentReplicas"`
			DesiredReplicas    int32       `json:"desiredReplicas"`
			Conditions         []condition `json:"conditions"`
		} `json:"status"`
	}
	if err := decode(obj, &h); err != nil {
		return Result{}, err
	}
	conds := h.Status.Conditions
	if ann, ok := obj.GetAnnotations()[hpaV1ConditionsAnnotation]; ok && len(conds) == 0 {
		if err := json.Unmarshal([]byte(ann), &conds); err != nil {
			return Result{}, fmt.Errorf("annotation %s: %w", hpaV1ConditionsAnnotation, err)
		}
	}
	if og := h.Status.ObservedGeneration; og != nil {
		if res, behind := generationBehind(obj, *og); behind {
			return res, nil
		}
	}
	able, active := findCondition(conds, "AbleToScale"), findCondition(conds, "ScalingActive")
	if able != nil && able.Status == "False" {
		return Result{Status: Degraded, Message: "AbleToScale: " + able.describe()}, nil
	}
	if active != nil && active.Status == "False" {
		if active.Reason == "ScalingDisabled" {
			return Result{Status: Suspended, Message: "ScalingActive: " + active.describe()}, nil
		}
		return Result{Status: Degraded, Message: "ScalingActive: " + active.describe()}, nil
	}
	for _, c := range []struct {
		typ  string
		cond *condition
	}{{"AbleToScale", able}, {"ScalingActive", active}} {
		if c.cond == nil {
			return progressing("waiting for the autoscaler to report %s", c.typ), nil
		}
		if c.cond.Status != "True" {
			return progressing("%s: %s", c.typ, c.cond.describe()), nil
		}
	}
	minReplicas := desiredReplicas(h.Spec.MinReplicas)
	msg := fmt.Sprintf("%d current, %d desired replicas (min %d, max %d)",
		h.Status.CurrentReplicas, h.Status.DesiredReplicas, minReplicas, h.Spec.MaxReplicas)
	if lim := findCondition(conds, "ScalingLimited"); lim != nil && lim.Status == "True" {
		msg += "; ScalingLimited: " + lim.describe()
	}
	return Result{Status: Healthy, Message: msg}, nil
}
