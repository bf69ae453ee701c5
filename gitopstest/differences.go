package gitopstest

// KnownDifference is one documented way the in-memory APIServer differs from a real
// kube-apiserver. The conformance suite (conformance_test.go) asserts the fake's side
// of each one, so the list stays true.
type KnownDifference struct {
	Name        string
	Description string
}

// KnownDifferences lists every known difference between NewCluster and a real control
// plane as hack/testenv.sh runs it (kube-apiserver + etcd, no controller manager).
func KnownDifferences() []KnownDifference {
	return []KnownDifference{
		{"no-builtin-defaulting", "Built-in kinds are not defaulted, nor round-tripped through their Go types: a Deployment applied " +
			"without spec.strategy, a container without imagePullPolicy, terminationMessagePath or resources, a Service without " +
			"sessionAffinity keep those fields absent (a real server adds them, with empty structs such as resources: {}). " +
			"Metadata is canonicalized as on a real server (empty labels/annotations dropped) and a Secret's stringData is " +
			"folded into data. " +
			"(The defaulting functions live in k8s.io/kubernetes, which the fake does not import.) Custom resources ARE " +
			"defaulted and pruned from their CRD's structural schema, as on a real server."},
		{"minimal-builtin-validation", "Built-in kinds get only generic validation (name format, namespace rules, kind/apiVersion match) " +
			"and the immutable fields GitOps users hit most (workload selectors, StatefulSet and Job spec parts, Service clusterIP, " +
			"immutable ConfigMaps/Secrets). A Deployment without a selector, say, is accepted by the fake and refused by a real server."},
		{"garbage-collection", "The fake deletes owned objects with their owner (background and foreground alike; orphan unlinks them). " +
			"The test control plane has no kube-controller-manager, so there nothing is garbage-collected and a foreground delete waits forever."},
		{"namespace-deletion", "The fake deletes a namespace's contents and then the namespace itself (once objects holding finalizers are gone). " +
			"The test control plane has no namespace controller, so a deleted namespace stays Terminating forever."},
		{"no-admission-webhooks-or-quota", "No admission plugins run beyond namespace existence: no webhooks, ResourceQuota, LimitRange, " +
			"ServiceAccount token or PodSecurity admission; Services get no clusterIP allocated."},
		{"single-version-storage", "Each served version of a kind is stored separately: an object created as autoscaling/v2 is not visible " +
			"as autoscaling/v1, and CRD conversion is not performed."},
		{"no-openapi", "The fake serves discovery but not /openapi/v2 or /openapi/v3; schema consumers use the static built-in schemas " +
			"(client-go's) and the CRD's own schema."},
		{"immediate-crd-establishment", "A CRD is NamesAccepted and Established in the same write that creates it; a real server " +
			"sets those conditions a moment later, so real clients wait for them."},
		{"no-scale-subresource", "The scale subresource (/scale) is not served; status is the only subresource."},
		{"delete-response", "DELETE always answers with a Status object, never with the deleted object (real Pods return the object)."},
	}
}
