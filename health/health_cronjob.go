package health

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// cronJobHealth judges a CronJob: Suspended when spec.suspend is set, otherwise Healthy
// (it is scheduled; the health of each run belongs to the Job it creates).
func cronJobHealth(obj *unstructured.Unstructured) (Result, error) {
	var cj batchv1.CronJob
	if err := decode(obj, &cj); err != nil {
		return Result{}, err
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return Result{Status: Suspended, Message: "CronJob is suspended"}, nil
	}
	msg := fmt.Sprintf("scheduled %q", cj.Spec.Schedule)
	if t := cj.Status.LastScheduleTime; t != nil {
		msg += ", last run " + t.UTC().Format(time.RFC3339)
	} else {
		msg += ", not run yet"
	}
	if n := len(cj.Status.Active); n > 0 {
		msg += fmt.Sprintf(", %d active", n)
	}
	return Result{Status: Healthy, Message: msg}, nil
}
