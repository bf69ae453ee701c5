package health

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// namespaceHealth judges a Namespace: being deleted (deletionTimestamp set or phase
// Terminating) is Progressing, with the deletion conditions that say what is left;
// otherwise Healthy.
func namespaceHealth(obj *unstructured.Unstructured) (Result, error) {
	var ns corev1.Namespace
	if err := decode(obj, &ns); err != nil {
		return Result{}, err
	}
	if obj.GetDeletionTimestamp() == nil && ns.Status.Phase != corev1.NamespaceTerminating {
		return Result{Status: Healthy, Message: "Namespace is active"}, nil
	}
	msgs := []string{"Namespace is terminating"}
	for _, c := range ns.Status.Conditions {
		if c.Status == corev1.ConditionTrue {
			msgs = append(msgs, condition{Type: string(c.Type), Reason: c.Reason, Message: c.Message}.describe())
		}
	}
	return Result{Status: Progressing, Message: strings.Join(msgs, "; ")}, nil
}
