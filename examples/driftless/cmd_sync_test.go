package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/driftless-dev/driftless/gitopstest"
)

// writeKubeconfig writes a kubeconfig for the cluster's server.
func writeKubeconfig(t *testing.T, c *gitopstest.Cluster) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	data := `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: ` + c.Config.Host + `}
users:
- name: test
  user: {}
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	return path
}

func TestSyncCommand(t *testing.T) {
	c := gitopstest.NewCluster(t)
	ns := c.NewNamespace(t)
	kubeconfig := writeKubeconfig(t, c)
	dir := t.TempDir()
	files := map[string]string{
		"kustomization.yaml": "resources:\n- config.yaml\n- extra.yaml\n- job.yaml\n",
		"config.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\"\ndata:\n  color: blue\n",
		"extra.yaml":         "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: extra\n",
		"job.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: skipped\n  annotations:\n    argocd.argoproj.io/hook: Skip\n",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	sync := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append([]string{"sync", "--kubeconfig", kubeconfig, "--namespace", ns, "--root", dir}, args...), &out, &errOut)
		return code, out.String(), errOut.String()
	}

	code, out, errOut := sync("--dry-run", "--plan", dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "PHASE")
	assert.Regexp(t, `Sync\s+-1\s+configmaps\s+ConfigMap\s+settings`, out, "the plan")
	assert.Regexp(t, `ConfigMap/`+ns+`/settings\s+created`, out)
	assert.Contains(t, out, "(dry run)")
	_, err := c.Get(gitopstest.Object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}"))
	assert.True(t, apierrors.IsNotFound(err), "dry run: nothing created")

	code, out, errOut = sync(dir)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `ServiceAccount/`+ns+`/extra\s+created`, out)
	assert.Regexp(t, `ConfigMap/`+ns+`/skipped\s+skipped\s+annotated hook: Skip`, out)
	assert.Contains(t, out, "2 created, 1 skipped")

	code, out, errOut = sync(dir)
	require.Equal(t, 0, code, errOut)
	assert.Contains(t, out, "2 unchanged, 1 skipped")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte("resources:\n- config.yaml\n"), 0o644))
	code, out, errOut = sync("--prune", dir)
	require.Equal(t, 0, code, errOut)
	assert.Regexp(t, `Prune\s+-\s+ServiceAccount/`+ns+`/extra\s+deleted`, out)

	code, _, errOut = sync("--kubeconfig", filepath.Join(dir, "missing"), dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "kubeconfig")
}
