package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// checkNarrative asserts the quickstart told the whole story.
func checkNarrative(t *testing.T, out string) {
	t.Helper()
	for _, want := range []string{
		"Namespace/payments-oslo                created",
		"Deployment/payments-oslo/payment-service  created",
		"[no change: nothing rendered, diffed or requested]",
		"-  replicas: 5\n    +  replicas: 7",
		"watch event: argocd/payment-service-oslo drifted",
		"spec.replicas is 7 again",
		"Service/payments-oslo/payment-service     deleted",
		"== 7. the audit trail",
		"the same records: 7 Events on the Applications (namespace argocd), 7 lines of JSON history",
	} {
		assert.Contains(t, out, want)
	}
	audit := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d\.\d{3}  argocd/\S+ +[0-9a-f]{12} Succeeded (manual|webhook|drift|interval)`).FindAllString(out, -1)
	assert.Len(t, audit, 7, "one audit line per sync:\n%s", out)
}

func TestQuickstartInMemory(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), "", &out))
	checkNarrative(t, out.String())
	assert.Contains(t, out.String(), "gitopstest's in-memory API server")
}

func TestQuickstartRealControlPlane(t *testing.T) {
	cp := gitopstest.StartControlPlane(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	require.NoError(t, os.WriteFile(kubeconfig, cp.Kubeconfig(), 0o600))
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), kubeconfig, &out))
	checkNarrative(t, out.String())
}
