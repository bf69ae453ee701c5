package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestSyncApplicationFile(t *testing.T) {
	c := gitopstest.NewCluster(t)
	kubeconfig := writeKubeconfig(t, c)
	repo := gitopstest.NewRepo(t)
	layout := gitopstest.SeedLayout(repo.URL())
	repo.WriteFiles(layout).Commit("seed layout")
	dir := t.TempDir()
	for _, f := range []string{"applications/cluster-config.yaml", "applications/payment-service-oslo.yaml", "projects/ecommerce-backend.yaml"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(layout[f]), 0o644))
	}
	cacheHome := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cacheHome)
	sync := func(app string, extra ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		args := append([]string{"sync", "--kubeconfig", kubeconfig, "--app", filepath.Join(dir, app)}, extra...)
		code := run(context.Background(), args, &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, _, errOut := sync("cluster-config.yaml")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `project "ecommerce-backend" not found`)

	code, out, errOut := sync("cluster-config.yaml", "--project", filepath.Join(dir, "ecommerce-backend.yaml"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "argocd/cluster-config")
	assert.Contains(t, out, "Namespace/payments-oslo")
	code, out, errOut = sync("payment-service-oslo.yaml", "--project", filepath.Join(dir, "ecommerce-backend.yaml"))
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "Synced")
	assert.Contains(t, out, "audit: argocd/payment-service-oslo Succeeded at "+repo.Head())
	history, err := os.ReadFile(filepath.Join(cacheHome, "driftless", "history.jsonl"))
	require.NoError(t, err)
	assert.Equal(t, 3, strings.Count(string(history), "\n"), "one line per sync, the failed one too:\n%s", history)

	d, err := c.Dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("payments-oslo").
		Get(context.Background(), "payment-service", metav1.GetOptions{})
	require.NoError(t, err)
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	assert.Equal(t, int64(5), replicas)
}
