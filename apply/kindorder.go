package apply

import (
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kind groups, in apply order. Inside a wave, the objects of one group go out together
// (concurrently) and the next group starts when the previous one is done, so a
// Namespace or a CRD exists (and is Active or Established) before anything after it.
const (
	groupNamespace    = iota // Namespace
	groupCRD                 // CustomResourceDefinition
	groupClusterSetup        // cluster-scoped RBAC, *Class kinds, PersistentVolume, PriorityClass ...
	groupQuota               // ResourceQuota, LimitRange
	groupAccess              // ServiceAccount, Role, RoleBinding, NetworkPolicy, PodDisruptionBudget
	groupSecret              // Secret
	groupConfigMap           // ConfigMap
	groupPVC                 // PersistentVolumeClaim
	groupService             // Service (and Endpoints)
	groupWorkload            // Pod, ReplicaSet, Deployment, StatefulSet, DaemonSet, Job, CronJob, HPA
	groupIngress             // Ingress
	groupOtherBuiltin        // any other built-in kind (APIService, Lease ...)
	groupCustom              // custom resources
	groupWebhook             // admission webhooks and policies, last
)

// groupName names a kind group for the printed plan.
func groupName(g int) string {
	switch g {
	case groupNamespace:
		return "namespaces"
	case groupCRD:
		return "crds"
	case groupClusterSetup:
		return "cluster setup"
	case groupQuota:
		return "quotas"
	case groupAccess:
		return "access"
	case groupSecret:
		return "secrets"
	case groupConfigMap:
		return "configmaps"
	case groupPVC:
		return "volume claims"
	case groupService:
		return "services"
	case groupWorkload:
		return "workloads"
	case groupIngress:
		return "ingresses"
	case groupCustom:
		return "custom resources"
	case groupWebhook:
		return "webhooks"
	}
	return "other"
}

// builtinOrder returns the kind group and the position inside it of the built-in kinds
// the plan orders explicitly.
func builtinOrder(gk schema.GroupKind) (group, pos int, ok bool) {
	switch gk.Group {
	case "":
		switch gk.Kind {
		case "Namespace":
			return groupNamespace, 0, true
		case "PersistentVolume":
			return groupClusterSetup, 20, true
		case "ResourceQuota":
			return groupQuota, 0, true
		case "LimitRange":
			return groupQuota, 1, true
		case "ServiceAccount":
			return groupAccess, 0, true
		case "Secret":
			return groupSecret, 0, true
		case "ConfigMap":
			return groupConfigMap, 0, true
		case "PersistentVolumeClaim":
			return groupPVC, 0, true
		case "Service":
			return groupService, 0, true
		case "Endpoints":
			return groupService, 1, true
		case "Pod":
			return groupWorkload, 0, true
		case "ReplicationController":
			return groupWorkload, 1, true
		}
	case "apiextensions.k8s.io":
		if gk.Kind == "CustomResourceDefinition" {
			return groupCRD, 0, true
		}
	case "rbac.authorization.k8s.io":
		switch gk.Kind {
		case "ClusterRole":
			return groupClusterSetup, 0, true
		case "ClusterRoleBinding":
			return groupClusterSetup, 1, true
		case "Role":
			return groupAccess, 1, true
		case "RoleBinding":
			return groupAccess, 2, true
		}
	case "scheduling.k8s.io", "storage.k8s.io", "node.k8s.io", "resource.k8s.io":
		switch gk.Kind {
		case "PriorityClass", "StorageClass", "VolumeAttributesClass", "CSIDriver", "RuntimeClass", "DeviceClass":
			return groupClusterSetup, 10, true
		}
	case "networking.k8s.io":
		switch gk.Kind {
		case "IngressClass":
			return groupClusterSetup, 10, true
		case "NetworkPolicy":
			return groupAccess, 3, true
		case "Ingress":
			return groupIngress, 0, true
		}
	case "policy":
		if gk.Kind == "PodDisruptionBudget" {
			return groupAccess, 4, true
		}
	case "discovery.k8s.io":
		if gk.Kind == "EndpointSlice" {
			return groupService, 2, true
		}
	case "apps":
		switch gk.Kind {
		case "ReplicaSet":
			return groupWorkload, 2, true
		case "Deployment":
			return groupWorkload, 3, true
		case "StatefulSet":
			return groupWorkload, 4, true
		case "DaemonSet":
			return groupWorkload, 5, true
		}
	case "batch":
		switch gk.Kind {
		case "Job":
			return groupWorkload, 6, true
		case "CronJob":
			return groupWorkload, 7, true
		}
	case "autoscaling":
		if gk.Kind == "HorizontalPodAutoscaler" {
			return groupWorkload, 8, true
		}
	case "extensions":
		if gk.Kind == "Ingress" {
			return groupIngress, 0, true
		}
	case "admissionregistration.k8s.io":
		return groupWebhook, 0, true
	}
	return 0, 0, false
}

// orderOf returns the kind group of gk and its position inside the group.
func orderOf(gk schema.GroupKind) (group, pos int) {
	if g, p, ok := builtinOrder(gk); ok {
		return g, p
	}
	if builtinGroup(gk.Group) {
		return groupOtherBuiltin, 0
	}
	return groupCustom, 0
}

// builtinGroup reports whether an API group is served by kube-apiserver itself rather
// than by a CRD: the core group, the groups without a dot (apps, batch, policy ...) and
// the *.k8s.io groups of the Kubernetes project that are not CRD-based.
func builtinGroup(g string) bool {
	if !strings.Contains(g, ".") {
		return true
	}
	switch g {
	case "gateway.networking.k8s.io", "snapshot.storage.k8s.io", "metrics.k8s.io", "policy.networking.k8s.io":
		return false // CRD-based or aggregated: ordered with the custom resources
	}
	return strings.HasSuffix(g, ".k8s.io")
}
