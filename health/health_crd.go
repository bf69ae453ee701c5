package health

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// crdHealth judges a CustomResourceDefinition: NamesAccepted False (its names clash with
// another CRD's) is Degraded, since it will never be established; Established True is
// Healthy; anything else is Progressing.
func crdHealth(obj *unstructured.Unstructured) (Result, error) {
	conds, err := conditions(obj)
	if err != nil {
		return Result{}, err
	}
	if c := findCondition(conds, "NamesAccepted"); c != nil && c.Status == "False" {
		return Result{Status: Degraded, Message: "names not accepted: " + c.describe()}, nil
	}
	c := findCondition(conds, "Established")
	switch {
	case c == nil:
		return progressing("waiting for the CRD to be established"), nil
	case c.Status == "True":
		return Result{Status: Healthy, Message: "established"}, nil
	default:
		return progressing("not established: %s", c.describe()), nil
	}
}
