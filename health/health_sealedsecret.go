package health

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// sealedSecretHealth judges a Bitnami SealedSecret (bitnami.com) by the Synced
// condition its controller sets once it has unsealed the Secret:
//   - status.observedGeneration present and behind metadata.generation: Progressing;
//   - Synced True: Healthy;
//   - Synced False (no key could decrypt it, or the Secret exists and is not owned by
//     the SealedSecret): Degraded;
//   - no Synced condition yet: Progressing.
func sealedSecretHealth(obj *unstructured.Unstructured) (Result, error) {
	var ss struct {
		Status struct {
			ObservedGeneration *int64      `json:"observedGeneration"`
			Conditions         []condition `json:"conditions"`
		} `json:"status"`
	}
	if err := decode(obj, &ss); err != nil {
		return Result{}, err
	}
	if og := ss.Status.ObservedGeneration; og != nil {
		if res, behind := generationBehind(obj, *og); behind {
			return res, nil
		}
	}
	c := findCondition(ss.Status.Conditions, "Synced")
	switch {
	case c == nil:
		return progressing("waiting for the sealed-secrets controller to unseal it"), nil
	case c.Status == "True":
		return Result{Status: Healthy, Message: "unsealed into Secret " + obj.GetName()}, nil
	default:
		return Result{Status: Degraded, Message: "not unsealed: " + c.describe()}, nil
	}
}
