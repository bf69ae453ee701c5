package health

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Status is the health of one object, or the worst health of a set (see Worse).
type Status string

const (
	// Healthy: the object does what it was asked to do (rolled out, bound, complete, ready).
	Healthy Status = "Healthy"
	// Progressing: not healthy yet, but on its way (rollout running, pods starting, being deleted).
	Progressing Status = "Progressing"
	// Degraded: failed, or will not get healthy without a change (crash loop, deadline exceeded, Job failed).
	Degraded Status = "Degraded"
	// Suspended: deliberately not running (paused Deployment, suspended Job or CronJob).
	Suspended Status = "Suspended"
	// Missing: the object does not exist in the cluster.
	Missing Status = "Missing"
	// Unknown: health cannot be told (no status to judge, unreadable status, unknown phase).
	Unknown Status = "Unknown"
)

// severity orders the statuses from best to worst for aggregation:
//
//	Healthy < Suspended < Progressing < Unknown < Missing < Degraded
//
// Suspended ranks just above Healthy: it is a deliberate state, not a fault. Progressing
// is expected to turn Healthy by itself. Unknown ranks above Progressing because nothing
// says it ever will. Missing ranks above Unknown because an object that should exist and
// does not is a definite fault, and Degraded is the worst: something has failed.
// A status outside the six ranks worst of all, so a corrupt value is never hidden.
func (s Status) severity() int {
	switch s {
	case Healthy:
		return 0
	case Suspended:
		return 1
	case Progressing:
		return 2
	case Unknown:
		return 3
	case Missing:
		return 4
	case Degraded:
		return 5
	default:
		return 6
	}
}

// Worse reports whether s is worse than other in the aggregation order
// Healthy < Suspended < Progressing < Unknown < Missing < Degraded.
func (s Status) Worse(other Status) bool { return s.severity() > other.severity() }

// String returns the status name.
func (s Status) String() string { return string(s) }

// Result is the health of one object: a Status and a human-readable reason, never empty
// ("2/5 replicas available", "Job failed: BackoffLimitExceeded").
type Result struct {
	Status  Status
	Message string
}

// String renders "Status: message".
func (r Result) String() string {
	if r.Message == "" {
		return string(r.Status)
	}
	return string(r.Status) + ": " + r.Message
}

// Ref names one object in a cluster. Version may be empty: a Getter then picks the
// version the cluster prefers. Namespace is empty for cluster-scoped objects.
type Ref struct {
	Group     string
	Version   string
	Kind      string
	Namespace string
	Name      string
}

// RefOf returns the Ref of obj.
func RefOf(obj *unstructured.Unstructured) Ref {
	gvk := obj.GroupVersionKind()
	return Ref{Group: gvk.Group, Version: gvk.Version, Kind: gvk.Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// GroupKind returns the group and kind of r.
func (r Ref) GroupKind() schema.GroupKind { return schema.GroupKind{Group: r.Group, Kind: r.Kind} }

// String renders kind/namespace/name (kind/name when cluster-scoped), with the group
// after the kind when it is not the core group: "Deployment.apps/shop/web".
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString(r.Kind)
	if r.Group != "" {
		b.WriteString(".")
		b.WriteString(r.Group)
	}
	if r.Namespace != "" {
		b.WriteString("/")
		b.WriteString(r.Namespace)
	}
	b.WriteString("/")
	b.WriteString(r.Name)
	return b.String()
}

// ObjectResult is the health of the object Ref names.
type ObjectResult struct {
	Ref Ref
	Result
}

// String renders "ref: Status: message".
func (o ObjectResult) String() string { return fmt.Sprintf("%s: %s", o.Ref, o.Result) }
