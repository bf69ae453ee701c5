package health

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// pvcHealth judges a PersistentVolumeClaim by its phase: Bound is Healthy, Pending (or
// no phase yet) Progressing (a WaitForFirstConsumer class binds only once a pod uses
// the claim), Lost Degraded (the bound volume is gone), anything else Unknown.
func pvcHealth(obj *unstructured.Unstructured) (Result, error) {
	var pvc corev1.PersistentVolumeClaim
	if err := decode(obj, &pvc); err != nil {
		return Result{}, err
	}
	switch pvc.Status.Phase {
	case corev1.ClaimBound:
		return Result{Status: Healthy, Message: joinNonEmpty(" ", "bound to volume", pvc.Spec.VolumeName)}, nil
	case corev1.ClaimPending, "":
		return progressing("waiting for a volume to be bound"), nil
	case corev1.ClaimLost:
		return Result{Status: Degraded, Message: joinNonEmpty(" ", "lost its volume", pvc.Spec.VolumeName)}, nil
	default:
		return Result{Status: Unknown, Message: "unknown phase " + string(pvc.Status.Phase)}, nil
	}
}
