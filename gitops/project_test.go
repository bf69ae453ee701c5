package gitops

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

const seedProject = `apiVersion: argoproj.io/v1alpha1
kind: AppProject
metadata:
  name: ecommerce-backend
  namespace: argocd
spec:
  description: Payment and order services
  sourceRepos:
  - https://git.example.com/ecommerce/*
  destinations:
  - server: https://kubernetes.default.svc
    namespace: payments
  - server: https://kubernetes.default.svc
    namespace: payments-*
  clusterResourceWhitelist:
  - group: ""
    kind: Namespace
  namespaceResourceBlacklist:
  - group: ""
    kind: ResourceQuota
`

func parseProject(t *testing.T) *AppProject {
	t.Helper()
	p := &AppProject{}
	require.NoError(t, yaml.UnmarshalStrict([]byte(seedProject), p))
	return p
}

func obj(apiVersion, kind, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion(apiVersion)
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

// scope knows a few built-in kinds' scope, like a RESTMapper would.
func scope(gvk schema.GroupVersionKind) (bool, error) {
	switch gvk.Kind {
	case "Namespace", "ClusterRole", "StorageClass":
		return false, nil
	case "Deployment", "Service", "ConfigMap", "ResourceQuota", "Secret":
		return true, nil
	}
	return false, fmt.Errorf("no matches for kind %q", gvk.Kind)
}

func TestProjectCheckApplication(t *testing.T) {
	p := parseProject(t)
	app := &Application{}
	app.Name = "payment-service-oslo"
	app.Spec.Source.RepoURL = "https://git.example.com/ecommerce/gitops.git"
	app.Spec.Destination = Destination{Server: InClusterServer, Namespace: "payments"}
	require.NoError(t, p.CheckApplication(app))

	app.Spec.Destination.Namespace = "payments-staging"
	require.NoError(t, p.CheckApplication(app), "namespace glob")

	app.Spec.Source.RepoURL = "https://user:s3cret@git.example.com/other/repo.git"
	app.Spec.Destination.Namespace = "kube-system"
	err := p.CheckApplication(app)
	var pe *PolicyError
	require.True(t, errors.As(err, &pe))
	require.Len(t, pe.Violations, 2)
	assert.Contains(t, err.Error(), "is not in sourceRepos")
	assert.Contains(t, err.Error(), "namespace kube-system is not permitted")
	assert.NotContains(t, err.Error(), "s3cret", "credentials are redacted")
}

func TestProjectCheckObjects(t *testing.T) {
	p := parseProject(t)
	app := &Application{}
	app.Name = "a"
	app.Spec.Destination = Destination{Namespace: "payments"}
	ok := []*unstructured.Unstructured{
		obj("v1", "Namespace", "", "payments"),
		obj("apps/v1", "Deployment", "payments", "payment-service"),
		obj("v1", "Service", "", "payment-service"), // gets the destination namespace
	}
	require.NoError(t, p.CheckObjects(app, ok, scope))

	bad := append(ok,
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "admin-ish"),
		obj("v1", "ResourceQuota", "payments", "q"),
		obj("v1", "ConfigMap", "kube-system", "c"),
		obj("example.com/v1", "Widget", "payments", "w"),
	)
	err := p.CheckObjects(app, bad, scope)
	var pe *PolicyError
	require.True(t, errors.As(err, &pe))
	got := map[string]string{}
	for _, v := range pe.Violations {
		got[v.Object] = v.Rule
	}
	assert.Len(t, got, 4)
	assert.Contains(t, got["ClusterRole/admin-ish"], "not in clusterResourceWhitelist")
	assert.Contains(t, got["ResourceQuota/payments/q"], "in namespaceResourceBlacklist")
	assert.Contains(t, got["ConfigMap/kube-system/c"], `namespace "kube-system" is not a permitted destination`)
	assert.Contains(t, got["Widget/payments/w"], "not served")
}

func TestDefaultProjectAllowsEverything(t *testing.T) {
	p := DefaultProject()
	app := &Application{}
	app.Name = "a"
	app.Spec.Source.RepoURL = "ssh://git@host/any/repo.git"
	app.Spec.Destination = Destination{Server: "https://other:6443", Namespace: "x"}
	require.NoError(t, p.CheckApplication(app))
	require.NoError(t, p.CheckObjects(app, []*unstructured.Unstructured{
		obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r"),
		obj("v1", "ResourceQuota", "x", "q"),
	}, scope))
}
