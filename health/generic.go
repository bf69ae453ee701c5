package health

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// generic judges kinds without a built-in check with cli-utils' kstatus (the Ready,
// Reconciling and Stalled conditions and status.observedGeneration), mapped as
//
//	Current -> Healthy, InProgress -> Progressing, Failed -> Degraded,
//	Terminating -> Progressing, NotFound -> Missing, Unknown -> Unknown.
//
// kstatus calls an object without conditions Current. For a custom resource without any
// status that would be a guess ("no status = healthy"), so such an object is Unknown
// unless an override judges its kind.
func generic(obj *unstructured.Unstructured) (Result, error) {
	group := obj.GroupVersionKind().Group
	if !builtinGroup(group) && !hasStatus(obj) {
		return Result{Status: Unknown, Message: fmt.Sprintf(
			"%s has no status to judge health by (register an override for %s if it never has one)",
			obj.GetKind(), obj.GroupVersionKind().GroupKind())}, nil
	}
	res, err := kstatus.Compute(obj)
	if err != nil {
		return Result{}, fmt.Errorf("kstatus: %w", err)
	}
	msg := res.Message
	if msg == "" {
		msg = "kstatus: " + res.Status.String()
	}
	return Result{Status: fromKstatus(res.Status), Message: msg}, nil
}

// fromKstatus maps a kstatus status onto ours.
func fromKstatus(s kstatus.Status) Status {
	switch s {
	case kstatus.CurrentStatus:
		return Healthy
	case kstatus.InProgressStatus, kstatus.TerminatingStatus:
		return Progressing
	case kstatus.FailedStatus:
		return Degraded
	case kstatus.NotFoundStatus:
		return Missing
	default:
		return Unknown
	}
}

// hasStatus reports whether obj has a non-empty status.
func hasStatus(obj *unstructured.Unstructured) bool {
	switch st := obj.Object["status"].(type) {
	case nil:
		return false
	case map[string]any:
		return len(st) > 0
	default:
		return true
	}
}

// builtinGroup reports whether group is served by Kubernetes itself rather than by a
// CustomResourceDefinition (gateway.networking.k8s.io, for one, is a CRD group).
func builtinGroup(group string) bool {
	switch group {
	case "", "apps", "batch", "autoscaling", "policy", "extensions",
		"admissionregistration.k8s.io", "apiextensions.k8s.io", "apiregistration.k8s.io",
		"authentication.k8s.io", "authorization.k8s.io", "certificates.k8s.io",
		"coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
		"flowcontrol.apiserver.k8s.io", "internal.apiserver.k8s.io", "networking.k8s.io",
		"node.k8s.io", "rbac.authorization.k8s.io", "resource.k8s.io",
		"scheduling.k8s.io", "storage.k8s.io", "storagemigration.k8s.io":
		return true
	}
	return false
}
