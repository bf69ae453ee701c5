package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// replicaSetHealth judges a ReplicaSet:
//   - metadata.generation not yet observed: Progressing;
//   - ReplicaFailure condition True (pods cannot be created: quota, admission): Degraded,
//     since a bare ReplicaSet has no progress deadline that would say so later;
//   - fewer available replicas than desired, or more replicas (scale-down): Progressing;
//   - otherwise Healthy.
func replicaSetHealth(obj *unstructured.Unstructured) (Result, error) {
	var rs appsv1.ReplicaSet
	if err := decode(obj, &rs); err != nil {
		return Result{}, err
	}
	st := rs.Status
	if res, behind := generationBehind(obj, st.ObservedGeneration); behind {
		return res, nil
	}
	for _, c := range st.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == corev1.ConditionTrue {
			return Result{Status: Degraded, Message: "ReplicaFailure: " +
				condition{Type: string(c.Type), Reason: c.Reason, Message: c.Message}.describe()}, nil
		}
	}
	desired := desiredReplicas(rs.Spec.Replicas)
	if st.AvailableReplicas < desired {
		return progressing("%d/%d replicas available", st.AvailableReplicas, desired), nil
	}
	if st.Replicas > desired {
		return progressing("%d extra replicas pending termination", st.Replicas-desired), nil
	}
	return Result{Status: Healthy, Message: fmt.Sprintf("%d/%d replicas available", st.AvailableReplicas, desired)}, nil
}
