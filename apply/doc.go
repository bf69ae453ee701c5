// Package apply writes objects to a cluster in order: hook phases, sync waves and kind
// order, with server-side apply under one field manager, an inventory of what it owns and
// a prune that never touches anything else. It hands health and the caller a ChangeSet:
// one entry per object with the action taken and any error.
//
// # Plan
//
// NewPlan orders a set of objects into waves. The order is:
//
//  1. hook phase: PreSync, Sync (every plain object), PostSync; SyncFail runs only when
//     an earlier phase failed;
//  2. sync-wave, an integer annotation (default 0), lower first;
//  3. kind group: Namespace; CustomResourceDefinition; cluster-scoped RBAC, the *Class
//     kinds, PersistentVolume; ResourceQuota, LimitRange; ServiceAccount, Role,
//     RoleBinding, NetworkPolicy, PodDisruptionBudget; Secret; ConfigMap;
//     PersistentVolumeClaim; Service; workloads (Pod, ReplicaSet, Deployment,
//     StatefulSet, DaemonSet, Job, CronJob, HPA); Ingress; other built-in kinds; custom
//     resources; admission webhooks and policies last;
//  4. namespace and name.
//
// Plan.String prints it as a table. The annotations, each with its Argo CD alias so that
// repositories written for Argo CD work as they are (the driftless.dev name wins when
// both are set):
//
//	driftless.dev/sync-wave           argocd.argoproj.io/sync-wave           "-1", "5"
//	driftless.dev/hook                argocd.argoproj.io/hook                PreSync,Sync,PostSync,SyncFail,Skip
//	driftless.dev/hook-delete-policy  argocd.argoproj.io/hook-delete-policy  BeforeHookCreation,HookSucceeded,HookFailed
//	driftless.dev/sync-options        argocd.argoproj.io/sync-options        Prune=false, Recreate=true
//
// # Apply
//
// Applier.Apply validates the whole set first: every kind must map to a resource
// (through the RESTMapper, or a CRD of the set planned before it); a namespaced object
// without a namespace goes to Options.Namespace; a cluster-scoped object with a
// namespace, a duplicate, or an object claiming another owner is an error. Any problem
// means nothing is written (a *ValidationError).
//
// Each wave is applied kind group after kind group; inside a group the objects go out
// concurrently (Options.Concurrency) and the ChangeSet keeps plan order. Namespaces must
// be Active and CRDs Established before the next group starts (the RESTMapper is then
// reset so their custom resources map). The live objects of a group are read with one
// List per kind and namespace (a Get for small groups, or Options.Live), and the Differ
// decides offline whether an object changed: unchanged objects are not written.
// diff.PrepareDesired copies the fields of Options.IgnoreRules from the live object
// before each apply, so they are never overwritten. With Options.Health the next wave
// starts only when the previous one is healthy.
//
// Server-side apply runs without force unless Options.Force: a field another manager
// owns is a conflict that names that manager. Options.TakeOver first hands the fields of
// kubectl's managers (DefaultTakeOverManagers) to our field manager and drops the
// kubectl.kubernetes.io/last-applied-configuration annotation, so objects created with
// `kubectl apply` come under driftless cleanly.
//
// When the server refuses a change to an immutable field (a Deployment's selector, a
// Job's template, a Service's clusterIP), the object fails with an *ImmutableError
// naming the field, unless Options.Recreate or the sync option Recreate=true allows a
// re-creation: the object is then deleted (only that incarnation: its UID is a
// precondition), waited for until really gone, and created again. The deletion uses
// foreground propagation when the object has dependents (or may have: custom
// resources), which needs the garbage collector of kube-controller-manager; an object
// without dependents is deleted with background propagation, which completes without
// one. A foreground deletion that does not finish within Options.WaitTimeout fails and
// says the foregroundDeletion finalizer is still there. The ChangeSet message says which
// propagation was used.
//
// Options.DryRun runs the whole plan as server-side dry-run: nothing persists (not the
// inventory either), and objects that need a namespace or a CRD the same sync would
// create are reported without asking the server.
//
// # Inventory and prune
//
// Every applied object gets the label driftless.dev/owner=<Options.Name> and the
// annotation driftless.dev/inventory=<Inventory.ID>. The Inventory (by default a
// ConfigMap "driftless-inventory-<Name>" in Options.Namespace) records the plain
// objects of the set, in plan order: before the first write the old entries plus the
// new set, after the sync what is left under management. With Options.Prune, the old
// entries missing from the new set are deleted in reverse order, after the Sync phase
// and before PostSync, except objects whose owner label or inventory annotation no
// longer name this sync (adopted or re-created by someone else), objects with the sync
// option Prune=false, and Namespaces that still hold objects of the set. A failed delete
// keeps the entry (and fails the sync). Prune does not run when validation failed or an
// earlier phase failed.
//
// # Hooks
//
// Hook objects (typically Jobs) are applied in their phase and wave, then waited for:
// Healthy (a Job is Complete) is success, Degraded (a Job Failed) is failure, judged by
// the health package. Delete policies: BeforeHookCreation (the default) deletes the
// previous incarnation before creating the hook, HookSucceeded deletes it after
// success, HookFailed after failure. A failed hook fails the sync and runs the SyncFail
// hooks. Hooks stay out of the inventory and are never pruned.
package apply
