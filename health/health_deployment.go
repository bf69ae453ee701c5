package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// deploymentHealth judges a Deployment the way `kubectl rollout status` does, plus the
// states that command does not report:
//   - spec.paused: Suspended (a paused rollout makes no progress by design);
//   - metadata.generation not yet observed: Progressing (the status is about an older spec);
//   - Progressing condition with reason ProgressDeadlineExceeded: Degraded;
//   - fewer updated replicas than desired, old replicas still running, or fewer
//     available than updated replicas: Progressing (a ReplicaFailure condition is added
//     to the message: pods cannot be created, the progress deadline will tell);
//   - otherwise Healthy.
func deploymentHealth(obj *unstructured.Unstructured) (Result, error) {
	var d appsv1.Deployment
	if err := decode(obj, &d); err != nil {
		return Result{}, err
	}
	st := d.Status
	desired := desiredReplicas(d.Spec.Replicas)
	if d.Spec.Paused {
		return Result{Status: Suspended, Message: fmt.Sprintf(
			"Deployment is paused (%d/%d replicas available)", st.AvailableReplicas, desired)}, nil
	}
	if res, behind := generationBehind(obj, st.ObservedGeneration); behind {
		return res, nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Reason == "ProgressDeadlineExceeded" {
			return Result{Status: Degraded, Message: "progress deadline exceeded: " + c.Message}, nil
		}
	}
	var msg string
	switch {
	case st.UpdatedReplicas < desired:
		msg = fmt.Sprintf("%d/%d replicas updated", st.UpdatedReplicas, desired)
	case st.Replicas > st.UpdatedReplicas:
		msg = fmt.Sprintf("%d old replicas pending termination", st.Replicas-st.UpdatedReplicas)
	case st.AvailableReplicas < st.UpdatedReplicas:
		msg = fmt.Sprintf("%d/%d replicas available", st.AvailableReplicas, st.UpdatedReplicas)
	default:
		return Result{Status: Healthy, Message: fmt.Sprintf("%d/%d replicas available", st.AvailableReplicas, desired)}, nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			msg += fmt.Sprintf("; ReplicaFailure: %s", condition{Reason: c.Reason, Message: c.Message, Type: string(c.Type)}.describe())
		}
	}
	return Result{Status: Progressing, Message: msg}, nil
}
