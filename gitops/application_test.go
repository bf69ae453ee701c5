package gitops

import (
	"fmt"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/source"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"
)

const seedApplication = `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: payment-service-oslo
  namespace: argocd
spec:
  project: ecommerce-backend
  source:
    repoURL: https://git.example.com/ecommerce/gitops.git
    targetRevision: HEAD
    path: apps/overlays/production-oslo
  destination:
    server: https://kubernetes.default.svc
    namespace: payments
  syncPolicy:
    automated:
      prune: true
      selfHeal: true
    syncOptions:
    - CreateNamespace=true
  ignoreDifferences:
  - group: apps
    kind: Deployment
    jsonPointers:
    - /spec/replicas
`

func TestParseSeedApplication(t *testing.T) {
	apps, err := ParseApplications("app.yaml", []byte(seedApplication))
	require.NoError(t, err)
	require.Len(t, apps, 1)
	app := apps[0]
	assert.Equal(t, "argocd/payment-service-oslo", app.Key())
	assert.Equal(t, "ecommerce-backend", app.ProjectName())
	assert.Equal(t, "apps/overlays/production-oslo", app.Spec.Source.Path)
	assert.True(t, app.Automated())
	assert.True(t, app.Prune())
	assert.True(t, app.SelfHeal())
	assert.True(t, app.SyncOption("CreateNamespace"))
	assert.False(t, app.SyncOption("ServerSideApply"))
	assert.Equal(t, 3*time.Minute, app.IntervalOr(3*time.Minute))
	require.Len(t, app.Spec.IgnoreDifferences, 1)
	assert.Equal(t, []string{"/spec/replicas"}, app.Spec.IgnoreDifferences[0].JSONPointers)
}

func TestApplicationRoundTrip(t *testing.T) {
	apps, err := ParseApplications("app.yaml", []byte(seedApplication))
	require.NoError(t, err)
	out, err := yaml.Marshal(apps[0])
	require.NoError(t, err)
	again, err := ParseApplications("again.yaml", out)
	require.NoError(t, err)
	assert.Equal(t, apps[0], again[0])
	var want, got map[string]any
	require.NoError(t, yaml.Unmarshal([]byte(seedApplication), &want))
	require.NoError(t, yaml.Unmarshal(out, &got))
	assert.Equal(t, want, got, "YAML round-trips without adding or losing fields")
}

func TestParseApplicationsErrors(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"unknown field", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {repoURL: x}, destination: {}, bogus: 1}\n", `unknown field "bogus"`},
		{"wrong kind", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n", "want argoproj.io/v1alpha1 Application"},
		{"no repo", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {path: x}, destination: {}}\n", "spec.source.repoURL is required"},
		{"escaping path", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {repoURL: x, path: ../etc}, destination: {}}\n", "must be relative and stay inside"},
		{"bad name", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: Bad_Name}\nspec: {source: {repoURL: x}, destination: {}}\n", `metadata.name "Bad_Name"`},
		{"bad pointer", "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\nspec: {source: {repoURL: x}, destination: {}, ignoreDifferences: [{kind: Deployment, jsonPointers: [spec/replicas]}]}\n", "is not a JSON pointer"},
		{"second document", seedApplication + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n", "app.yaml: document 2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseApplications("app.yaml", []byte(tc.doc))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "app.yaml")
		})
	}
}

func TestApplicationDefaults(t *testing.T) {
	app := &Application{}
	app.Name = "a"
	app.Spec.Source.RepoURL = "file:///repo"
	require.NoError(t, app.Validate())
	assert.Equal(t, "default", app.ProjectName())
	assert.False(t, app.Automated())
	assert.False(t, app.Prune())
	assert.False(t, app.SelfHeal())
	assert.Equal(t, "a", app.Key())
}

func TestResolveCacheSharesAnswers(t *testing.T) {
	c := newResolveCache(time.Hour)
	calls := 0
	resolve := func() (source.Revision, error) { calls++; return source.Revision(fmt.Sprint("rev", calls)), nil }
	rev, err := c.get("repo#main", true, resolve)
	require.NoError(t, err)
	assert.Equal(t, source.Revision("rev1"), rev)
	rev, _ = c.get("repo#main", true, resolve)
	assert.Equal(t, source.Revision("rev1"), rev, "reused within the interval")
	rev, _ = c.get("repo#main", false, resolve)
	assert.Equal(t, source.Revision("rev2"), rev, "a webhook or manual reconcile always asks")
	rev, _ = c.get("repo#other", true, resolve)
	assert.Equal(t, source.Revision("rev3"), rev, "per repository and ref")
	never := newResolveCache(-1)
	never.get("k", true, resolve)
	never.get("k", true, resolve)
	assert.Equal(t, 5, calls)
}
