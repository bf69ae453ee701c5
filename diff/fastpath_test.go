package diff

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const fastBase = `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","labels":{"tier":"web"}},
"spec":{"replicas":2,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},
"spec":{"containers":[{"name":"app","image":"nginx:1.25","args":["a","b"],"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}],
"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"1"}}},{"name":"side","image":"busybox"}]}}}}`

// fastEnv applies fastBase as driftless and returns a function that builds desired
// objects by merge-patching fastBase.
func fastEnv(t *testing.T) (*unstructured.Unstructured, func(patch string) (*unstructured.Unstructured, error)) {
	e := newFakeEnv(t)
	base := &unstructured.Unstructured{}
	require.NoError(t, base.UnmarshalJSON([]byte(fastBase)))
	base.SetNamespace(e.ns)
	live := e.cl.Apply(t, base, "driftless", true)
	return live, func(patch string) (*unstructured.Unstructured, error) {
		js, err := jsonpatch.MergePatch([]byte(fastBase), []byte(patch))
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(js); err != nil {
			return nil, err
		}
		u.SetNamespace(e.ns)
		return u, nil
	}
}

func TestFastPath(t *testing.T) {
	live, desired := fastEnv(t)
	cases := []struct {
		name  string
		patch string
		fast  bool
	}{
		{"same", `{}`, true},
		{"value changed", `{"spec":{"replicas":3}}`, false},
		{"field removed", `{"metadata":{"labels":null}}`, false},
		{"field added", `{"spec":{"minReadySeconds":5}}`, false},
		{"server spelling", `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25","args":["a","b"],"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"1000m"}}},{"name":"side","image":"busybox"}]}}}}`, false},
		{"keyed items reordered", `{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox"},{"name":"app","image":"nginx:1.25","args":["a","b"],"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"1"}}}]}}}}`, false},
		{"atomic list reordered", `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25","args":["b","a"],"ports":[{"containerPort":80},{"containerPort":53,"protocol":"UDP"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"1"}}},{"name":"side","image":"busybox"}]}}}}`, false},
		{"explicit default protocol (we would take ownership of it)", `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25","args":["a","b"],"ports":[{"containerPort":80,"protocol":"TCP"},{"containerPort":53,"protocol":"UDP"}],"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"resources":{"limits":{"cpu":"1"}}},{"name":"side","image":"busybox"}]}}}}`, false},
		{"server metadata in Git", `{"metadata":{"creationTimestamp":null,"resourceVersion":"1"}}`, true},
		{"status in Git", `{"status":{"replicas":9}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := desired(tc.patch)
			require.NoError(t, err)
			assert.Equal(t, tc.fast, unchangedByApply(d, live, DefaultFieldManager, true))
			assert.False(t, unchangedByApply(d, live, "someone-else", true), "only our own apply entry counts")
		})
	}
}

// FuzzFastPathSound: whenever the fast path says an apply changes nothing, the full
// prediction agrees. (The converse need not hold: the fast path may miss no-ops.)
func FuzzFastPathSound(f *testing.F) {
	for _, p := range []string{`{}`, `{"spec":{"replicas":2}}`, `{"spec":{"replicas":3}}`, `{"metadata":{"labels":{"tier":null}}}`,
		`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.25"}]}}}}`, `{"spec":{"selector":{"matchLabels":{"x":"y"}}}}`} {
		f.Add(p)
	}
	var live *unstructured.Unstructured
	var desired func(string) (*unstructured.Unstructured, error)
	f.Fuzz(func(t *testing.T, patch string) {
		if live == nil {
			live, desired = fastEnv(t)
		}
		if !json.Valid([]byte(patch)) {
			return
		}
		d, err := desired(patch)
		if err != nil || d.GetName() != "web" || d.GetAPIVersion() != "apps/v1" || d.GetKind() != "Deployment" {
			return
		}
		if !unchangedByApply(d, live, DefaultFieldManager, true) {
			return
		}
		full := New(Options{})
		full.fullPredictionOnly = true
		res, err := full.Diff(context.Background(), d, live)
		require.NoError(t, err)
		require.False(t, res.Drift, "fast path said no-op for %s:\n%s", patch, res.Unified)
	})
}
