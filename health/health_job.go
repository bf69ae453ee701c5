package health

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// jobHealth judges a Job:
//   - Failed condition True: Degraded ("Job failed: BackoffLimitExceeded: ...");
//   - FailureTarget condition True (the Job will fail once its pods are gone): Degraded;
//   - Complete condition True: Healthy;
//   - spec.suspend: Suspended;
//   - otherwise Progressing, with the active/succeeded/failed pod counts.
func jobHealth(obj *unstructured.Unstructured) (Result, error) {
	var j batchv1.Job
	if err := decode(obj, &j); err != nil {
		return Result{}, err
	}
	st := j.Status
	// Failed wins over FailureTarget, whichever comes first in the list.
	for _, verdict := range []struct {
		typ    batchv1.JobConditionType
		prefix string
	}{{batchv1.JobFailed, "Job failed: "}, {batchv1.JobFailureTarget, "Job failing: "}} {
		for _, c := range st.Conditions {
			if c.Type == verdict.typ && c.Status == corev1.ConditionTrue {
				desc := condition{Type: string(c.Type), Reason: c.Reason, Message: c.Message}.describe()
				return Result{Status: Degraded, Message: verdict.prefix + desc}, nil
			}
		}
	}
	for _, c := range st.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return Result{Status: Healthy, Message: fmt.Sprintf("Job completed (%d succeeded)", st.Succeeded)}, nil
		}
	}
	if j.Spec.Suspend != nil && *j.Spec.Suspend {
		return Result{Status: Suspended, Message: "Job is suspended"}, nil
	}
	if st.StartTime == nil && st.Active == 0 {
		return progressing("Job has not started"), nil
	}
	return progressing("Job running: %d active, %d succeeded, %d failed", st.Active, st.Succeeded, st.Failed), nil
}
