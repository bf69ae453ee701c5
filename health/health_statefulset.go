package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// statefulSetHealth judges a StatefulSet:
//   - metadata.generation not yet observed: Progressing;
//   - more replicas than desired (scale-down under way) or fewer ready: Progressing;
//   - OnDelete strategy: Healthy once every replica is ready, whatever revision the pods
//     run (they move to a new revision only when someone deletes them, so waiting for
//     that would never end; the message says how many are updated);
//   - RollingUpdate with a partition: Progressing until the replicas at or above the
//     partition ordinal run the update revision, then Healthy (the replicas below the
//     partition stay at the old revision by design);
//   - RollingUpdate: Progressing while the update revision differs from the current one;
//   - otherwise Healthy.
func statefulSetHealth(obj *unstructured.Unstructured) (Result, error) {
	var s appsv1.StatefulSet
	if err := decode(obj, &s); err != nil {
		return Result{}, err
	}
	st := s.Status
	if res, behind := generationBehind(obj, st.ObservedGeneration); behind {
		return res, nil
	}
	desired := desiredReplicas(s.Spec.Replicas)
	if st.Replicas > desired {
		return progressing("%d extra replicas pending termination", st.Replicas-desired), nil
	}
	if st.ReadyReplicas < desired {
		return progressing("%d/%d replicas ready", st.ReadyReplicas, desired), nil
	}
	ready := fmt.Sprintf("%d/%d replicas ready", st.ReadyReplicas, desired)
	rolling := st.UpdateRevision != st.CurrentRevision
	if s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		if rolling && st.UpdatedReplicas < desired {
			ready += fmt.Sprintf(" (OnDelete: %d/%d at revision %s; the others update when their pods are deleted)",
				st.UpdatedReplicas, desired, st.UpdateRevision)
		}
		return Result{Status: Healthy, Message: ready}, nil
	}
	var partition int32
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		partition = *ru.Partition
	}
	if rolling && partition > 0 {
		want := max(desired-partition, 0)
		if st.UpdatedReplicas < want {
			return progressing("partitioned rollout: %d/%d replicas at revision %s (partition %d)",
				st.UpdatedReplicas, want, st.UpdateRevision, partition), nil
		}
		return Result{Status: Healthy, Message: fmt.Sprintf(
			"partitioned rollout done: %d replicas at revision %s, %d held at %s by partition %d",
			st.UpdatedReplicas, st.UpdateRevision, desired-st.UpdatedReplicas, st.CurrentRevision, partition)}, nil
	}
	if rolling {
		return progressing("rolling update: %d/%d replicas at revision %s", st.UpdatedReplicas, desired, st.UpdateRevision), nil
	}
	if st.CurrentRevision != "" {
		ready += " at revision " + st.CurrentRevision
	}
	return Result{Status: Healthy, Message: ready}, nil
}

// progressing is a Progressing result with a formatted message.
func progressing(format string, args ...any) Result {
	return Result{Status: Progressing, Message: fmt.Sprintf(format, args...)}
}
