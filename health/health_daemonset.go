package health

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// daemonSetHealth judges a DaemonSet:
//   - metadata.generation not yet observed: Progressing;
//   - RollingUpdate: Progressing while fewer pods than desired run the current template,
//     or fewer than desired are available;
//   - OnDelete: Progressing while fewer than desired are available; pods on the old
//     template are expected (they update when deleted) and only noted in the message;
//   - otherwise Healthy.
func daemonSetHealth(obj *unstructured.Unstructured) (Result, error) {
	var ds appsv1.DaemonSet
	if err := decode(obj, &ds); err != nil {
		return Result{}, err
	}
	st := ds.Status
	if res, behind := generationBehind(obj, st.ObservedGeneration); behind {
		return res, nil
	}
	desired := st.DesiredNumberScheduled
	onDelete := ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType
	if !onDelete && st.UpdatedNumberScheduled < desired {
		return progressing("%d/%d pods updated", st.UpdatedNumberScheduled, desired), nil
	}
	if st.NumberAvailable < desired {
		return progressing("%d/%d pods available", st.NumberAvailable, desired), nil
	}
	msg := fmt.Sprintf("%d/%d pods available", st.NumberAvailable, desired)
	if onDelete && st.UpdatedNumberScheduled < desired {
		msg += fmt.Sprintf(" (OnDelete: %d/%d updated; the others update when their pods are deleted)",
			st.UpdatedNumberScheduled, desired)
	}
	return Result{Status: Healthy, Message: msg}, nil
}
