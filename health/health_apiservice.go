package health

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// apiServiceHealth judges an APIService by its Available condition: True is Healthy;
// False or absent is Progressing with the condition's reason, because the backing
// Service and its pods usually come up after the APIService is applied (a lasting
// failure shows in the timeout message; an override can make it Degraded).
func apiServiceHealth(obj *unstructured.Unstructured) (Result, error) {
	conds, err := conditions(obj)
	if err != nil {
		return Result{}, err
	}
	c := findCondition(conds, "Available")
	switch {
	case c == nil:
		return progressing("waiting for the Available condition"), nil
	case c.Status == "True":
		return Result{Status: Healthy, Message: "available: " + c.describe()}, nil
	default:
		return progressing("not available: %s", c.describe()), nil
	}
}
