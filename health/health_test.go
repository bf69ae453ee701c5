package health_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/health"
)

// testCase is one entry of a testdata/*.yaml file: an object as the API server returns
// it and the verdict the built-in checks must give.
type testCase struct {
	Name    string          `json:"name"`
	Status  health.Status   `json:"status"`
	Message string          `json:"message"`
	Error   bool            `json:"error"`
	Object  json.RawMessage `json:"object"`
}

// loadCases reads every testdata/*.yaml file; the key is "file/case".
func loadCases(t *testing.T) (names []string, cases map[string]testCase) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	cases = map[string]testCase{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		var list []testCase
		require.NoError(t, yaml.Unmarshal(data, &list), f)
		require.NotEmpty(t, list, f)
		for _, c := range list {
			key := strings.TrimSuffix(filepath.Base(f), ".yaml") + "/" + c.Name
			require.NotContains(t, cases, key, "duplicate case name")
			require.NotEmpty(t, c.Status, key)
			require.True(t, c.Error || c.Message != "", "%s: a case must state the message", key)
			cases[key] = c
			names = append(names, key)
		}
	}
	return names, cases
}

// decodeObject turns the case's object into what a dynamic client returns (integers as
// int64, not float64).
func decodeObject(t *testing.T, raw json.RawMessage) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{}
	require.NoError(t, obj.UnmarshalJSON(raw))
	return obj
}

func TestBuiltinChecks(t *testing.T) {
	names, cases := loadCases(t)
	// The issue asks for at least 50 cases covering both sides of every rule.
	require.GreaterOrEqual(t, len(names), 60)
	var checker *health.Checker // nil: built-ins only
	for _, name := range names {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			obj := decodeObject(t, c.Object)
			res, err := checker.Health(obj)
			assert.Equal(t, c.Status, res.Status, "message: %s", res.Message)
			if c.Error {
				require.Error(t, err)
				assert.Contains(t, err.Error(), health.RefOf(obj).String(), "the error names the object")
				assert.True(t, strings.HasPrefix(res.Message, "cannot judge health: "), res.Message)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.Message, res.Message)
		})
	}
}

// TestEveryKindCovered keeps the testdata honest: each kind the package has a built-in
// check for has cases with at least two different verdicts.
func TestEveryKindCovered(t *testing.T) {
	names, cases := loadCases(t)
	verdicts := map[string]map[health.Status]bool{}
	for _, name := range names {
		obj := decodeObject(t, cases[name].Object)
		kind := obj.GroupVersionKind().GroupKind().String()
		if verdicts[kind] == nil {
			verdicts[kind] = map[health.Status]bool{}
		}
		verdicts[kind][cases[name].Status] = true
	}
	for _, kind := range []string{
		"Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "ReplicaSet.apps", "Pod",
		"Job.batch", "CronJob.batch", "PersistentVolumeClaim", "Service", "Ingress.networking.k8s.io",
		"HorizontalPodAutoscaler.autoscaling", "APIService.apiregistration.k8s.io",
		"CustomResourceDefinition.apiextensions.k8s.io", "Namespace", "SealedSecret.bitnami.com",
		"Widget.example.com", "PodDisruptionBudget.policy", "ConfigMap",
	} {
		assert.GreaterOrEqual(t, len(verdicts[kind]), 2, "%s needs cases with different verdicts, has %v", kind, verdicts[kind])
	}
}
