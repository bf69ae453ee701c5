package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const diffManifests = `apiVersion: v1
kind: ConfigMap
metadata: {name: app}
data: {a: "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: db}
stringData: {password: hunter2}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "nginx:1.25"}]
`

// diffKubeconfig writes a kubeconfig for the in-memory API server whose context's
// namespace is ns.
func diffKubeconfig(t *testing.T, host, ns string) string {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	cfg := "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: " + host + "}}]\n" +
		"users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u, namespace: " + ns + "}}]\ncurrent-context: x\n"
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

func runDiffCLI(t *testing.T, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"diff"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestDiffCommand(t *testing.T) {
	cl := gitopstest.NewCluster(t)
	ns := cl.NewNamespace(t)
	kubeconfig := diffKubeconfig(t, cl.Config.Host, ns)
	dir := t.TempDir()
	manifests := filepath.Join(dir, "app.yaml")
	require.NoError(t, os.WriteFile(manifests, []byte(diffManifests), 0o600))

	// Nothing is live yet: every object is a create.
	code, out, errOut := runDiffCLI(t, "--kubeconfig", kubeconfig, "--root", dir, dir)
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "diff -u -N live/v1.ConfigMap."+ns+".app merged/v1.ConfigMap."+ns+".app\n")
	assert.Contains(t, out, "+kind: Deployment\n")
	assert.Contains(t, out, "+  password: ++++++++\n")
	assert.NotContains(t, out, "hunter2")

	// Applied as driftless: in sync, nothing printed.
	for _, doc := range bytes.Split([]byte(diffManifests), []byte("---\n")) {
		obj := gitopstest.Object(t, string(doc))
		obj.SetNamespace(ns)
		cl.Apply(t, obj, "driftless", true)
	}
	code, out, errOut = runDiffCLI(t, "--kubeconfig", kubeconfig, dir, "--root", dir)
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, out)

	// Git changes a value and a Secret: drift, masked.
	changed := bytes.Replace([]byte(diffManifests), []byte(`data: {a: "1"}`), []byte(`data: {a: "2"}`), 1)
	changed = bytes.Replace(changed, []byte("hunter2"), []byte("hunter3"), 1)
	require.NoError(t, os.WriteFile(manifests, changed, 0o600))
	code, out, errOut = runDiffCLI(t, "--kubeconfig", kubeconfig, "--root", dir, dir)
	require.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "-  a: \"1\"\n+  a: \"2\"\n")
	assert.Contains(t, out, "+  password: ++++++++ (changed)\n")
	assert.NotContains(t, out, "hunter")
	assert.NotContains(t, out, "Deployment", "unchanged objects print nothing")
}

func TestDiffCommandErrors(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.yaml"), []byte(diffManifests), 0o600))
	code, _, errOut := runDiffCLI(t, "--kubeconfig", filepath.Join(dir, "missing"), "--root", dir, dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "kubeconfig")

	code, _, _ = runDiffCLI(t)
	assert.Equal(t, 2, code, "PATH is required")

	cl := gitopstest.NewCluster(t)
	kubeconfig := diffKubeconfig(t, cl.Config.Host, "default")
	code, _, errOut = runDiffCLI(t, "--kubeconfig", kubeconfig, "--root", dir, filepath.Join(dir, "nope"))
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "driftless diff:")
}
