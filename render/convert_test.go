package render

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// jsonRoundTrip is the reference conversion toUnstructured must reproduce.
func jsonRoundTrip(t *testing.T, j []byte) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	require.NoError(t, u.UnmarshalJSON(j))
	return u
}

func TestToUnstructuredMatchesJSON(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"kustomization.yaml": "resources:\n- values.yaml\n",
		"values.yaml": `apiVersion: example.com/v1
kind: Values
metadata:
  name: v
spec:
  int: 42
  negative: -7
  big: 9223372036854775807
  huge: 18446744073709551615
  hex: 0x1F
  float: 1.5
  integralFloat: 1.0
  exp: 1e3
  bigExp: 1e21
  tiny: 1e-7
  negZero: -0.0
  date: 2024-01-02
  datetime: 2024-01-02T03:04:05.123456789Z
  quotedDate: "2024-01-02"
  bool: true
  nullValue: null
  tilde: ~
  empty: ""
  list: [1, "two", 3.0, {a: b}]
  nested: {deep: {deeper: [true, false]}}
  binary: !!binary aGVsbG8=
  anchor: &x {k: v}
  alias: *x
`,
	})
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), root)
	require.NoError(t, err)
	for _, res := range m.Resources() {
		j, err := res.MarshalJSON()
		require.NoError(t, err)
		got, err := toUnstructured(res)
		require.NoError(t, err)
		assert.Equal(t, jsonRoundTrip(t, j).Object, got.Object)
	}
}

func TestToUnstructuredMatchesJSONOnCorpus(t *testing.T) {
	for _, target := range goldenTargets(t) {
		m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(goldenRoot, target))
		require.NoError(t, err)
		for _, res := range m.Resources() {
			j, err := res.MarshalJSON()
			require.NoError(t, err)
			got, err := toUnstructured(res)
			require.NoError(t, err)
			assert.Equal(t, jsonRoundTrip(t, j).Object, got.Object, "%s: %s", target, res.CurId())
		}
	}
}
