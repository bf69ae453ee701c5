package health

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Check judges the health of one object. An embedder implements it for the kinds whose
// health the built-in checks get wrong or do not know, and registers it on a Checker.
// A Check never sees a nil object.
type Check interface {
	Health(obj *unstructured.Unstructured) (Result, error)
}

// CheckFunc adapts a plain function to Check.
type CheckFunc func(obj *unstructured.Unstructured) (Result, error)

// Health calls f(obj).
func (f CheckFunc) Health(obj *unstructured.Unstructured) (Result, error) { return f(obj) }

// Exists is a Check for kinds with no health semantics: an object that exists is
// Healthy. Register it for a custom resource that has no status, which is otherwise
// Unknown: checker.Register(gk, health.Exists{}).
type Exists struct{}

var _ Check = Exists{}

// Health reports obj Healthy.
func (Exists) Health(obj *unstructured.Unstructured) (Result, error) {
	return Result{Status: Healthy, Message: obj.GetKind() + " exists"}, nil
}

// Checker judges object health: the overrides registered on it first, then the built-in
// per-kind checks, then the generic check from status conditions (cli-utils kstatus).
//
// The zero value (and a nil *Checker) applies the built-in checks only; an override can
// call a nil *Checker to get the built-in verdict it refines. Register every override
// before the Checker is shared between goroutines; Health itself is safe for concurrent
// use.
type Checker struct {
	overrides map[schema.GroupKind]Check
}

var _ Check = (*Checker)(nil)

// Register makes check the judge of every object of the given group and kind (any
// version), in place of the built-in checks. A nil check removes the override.
func (c *Checker) Register(gk schema.GroupKind, check Check) {
	if check == nil {
		delete(c.overrides, gk)
		return
	}
	if c.overrides == nil {
		c.overrides = make(map[schema.GroupKind]Check)
	}
	c.overrides[gk] = check
}

// Health judges obj. A nil obj is Missing. The order is: a registered override; then an
// object being deleted (metadata.deletionTimestamp set) is Progressing; then the
// built-in check for its kind; then the generic kstatus check, where a custom resource
// without any status is Unknown.
//
// When the object cannot be judged (a field of the wrong type, an override's error),
// Health returns an Unknown result whose message gives the cause, and an error naming
// the object.
func (c *Checker) Health(obj *unstructured.Unstructured) (Result, error) {
	if obj == nil {
		return Result{Status: Missing, Message: "object does not exist"}, nil
	}
	gk := obj.GroupVersionKind().GroupKind()
	if c != nil {
		if check, ok := c.overrides[gk]; ok {
			res, err := check.Health(obj)
			if err == nil && res.Status.severity() > Degraded.severity() {
				err = fmt.Errorf("override returned invalid status %q", res.Status)
			}
			if err != nil {
				return failed(obj, fmt.Errorf("override: %w", err))
			}
			if res.Message == "" {
				res.Message = string(res.Status) + " (override)"
			}
			return res, nil
		}
	}
	fn, handlesDeletion := builtin(gk)
	if !handlesDeletion && obj.GetDeletionTimestamp() != nil {
		return deleting(obj), nil
	}
	if fn == nil {
		fn = generic
	}
	res, err := fn(obj)
	if err != nil {
		return failed(obj, err)
	}
	return res, nil
}

// failed turns an error while judging obj into an Unknown result and an error naming obj.
func failed(obj *unstructured.Unstructured, err error) (Result, error) {
	return Result{Status: Unknown, Message: "cannot judge health: " + err.Error()},
		fmt.Errorf("health of %s: %w", RefOf(obj), err)
}

// deleting is the verdict on an object whose deletion has started.
func deleting(obj *unstructured.Unstructured) Result {
	msg := "being deleted"
	if f := obj.GetFinalizers(); len(f) > 0 {
		msg += fmt.Sprintf(" (waiting for finalizers %v)", f)
	}
	return Result{Status: Progressing, Message: msg}
}

type checkFn func(obj *unstructured.Unstructured) (Result, error)

// builtin returns the built-in check for a group and kind (nil when there is none, and
// the generic check applies), and whether that check judges objects being deleted itself.
func builtin(gk schema.GroupKind) (fn checkFn, handlesDeletion bool) {
	switch gk.Group {
	case "":
		switch gk.Kind {
		case "Pod":
			return podHealth, false
		case "PersistentVolumeClaim":
			return pvcHealth, false
		case "Service":
			return serviceHealth, false
		case "Namespace":
			return namespaceHealth, true
		case "ConfigMap", "Secret", "ServiceAccount", "Endpoints", "LimitRange", "PodTemplate", "Event":
			return exists, false
		}
	case "apps", "extensions":
		switch gk.Kind {
		case "Deployment":
			return deploymentHealth, false
		case "StatefulSet":
			return statefulSetHealth, false
		case "DaemonSet":
			return daemonSetHealth, false
		case "ReplicaSet":
			return replicaSetHealth, false
		case "ControllerRevision":
			return exists, false
		case "Ingress":
			return ingressHealth, false
		}
	case "batch":
		switch gk.Kind {
		case "Job":
			return jobHealth, false
		case "CronJob":
			return cronJobHealth, false
		}
	case "networking.k8s.io":
		switch gk.Kind {
		case "Ingress":
			return ingressHealth, false
		case "NetworkPolicy", "IngressClass":
			return exists, false
		}
	case "autoscaling":
		if gk.Kind == "HorizontalPodAutoscaler" {
			return hpaHealth, false
		}
	case "apiregistration.k8s.io":
		if gk.Kind == "APIService" {
			return apiServiceHealth, false
		}
	case "apiextensions.k8s.io":
		if gk.Kind == "CustomResourceDefinition" {
			return crdHealth, false
		}
	case "bitnami.com":
		if gk.Kind == "SealedSecret" {
			return sealedSecretHealth, false
		}
	case "rbac.authorization.k8s.io":
		switch gk.Kind {
		case "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			return exists, false
		}
	case "storage.k8s.io":
		switch gk.Kind {
		case "StorageClass", "CSIDriver", "VolumeAttributesClass":
			return exists, false
		}
	case "admissionregistration.k8s.io":
		switch gk.Kind {
		case "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
			"ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicyBinding":
			return exists, false
		}
	case "scheduling.k8s.io":
		if gk.Kind == "PriorityClass" {
			return exists, false
		}
	case "node.k8s.io":
		if gk.Kind == "RuntimeClass" {
			return exists, false
		}
	case "coordination.k8s.io":
		if gk.Kind == "Lease" {
			return exists, false
		}
	case "discovery.k8s.io":
		if gk.Kind == "EndpointSlice" {
			return exists, false
		}
	}
	return nil, false
}

// exists is the verdict on kinds with no health semantics.
func exists(obj *unstructured.Unstructured) (Result, error) { return Exists{}.Health(obj) }
