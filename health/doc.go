// Package health judges whether applied objects are really up: per-kind checks for the
// built-in workloads and a generic check from status conditions for everything else. It
// hands the caller a Status with a message per object, an aggregate, and Wait.
//
// A Checker judges one object: overrides registered per GroupKind first, then an object
// being deleted is Progressing, then the built-in check for its kind (one file each:
// health_deployment.go, health_pod.go, ...), then cli-utils' kstatus for any other kind,
// where a custom resource with no status at all is Unknown rather than Healthy. Kinds
// with no health semantics (ConfigMap, Secret, RBAC, ...) are Healthy when they exist.
//
// Workload checks trust a status only once the controller has observed the object's
// latest generation, so a check right after an apply does not mistake the previous
// rollout's status for the new one; with a real kube-controller-manager the status then
// moves Progressing -> Healthy (or Degraded on a progress-deadline breach).
//
// Aggregate returns the worst status of a set, in the order
// Healthy < Suspended < Progressing < Unknown < Missing < Degraded, with the objects
// that have it. Wait polls a set through a Getter (DynamicGetter over client-go's
// dynamic client) until all are Healthy at once, fails fast on Degraded when asked, and
// otherwise ends with a *TimeoutError listing each object not yet Healthy and why.
package health
