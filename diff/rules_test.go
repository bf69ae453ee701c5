package diff

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
)

func TestIgnoreRuleMatches(t *testing.T) {
	deploy := parseObj(t, dep("web", depOpts{}), "prod")
	config := parseObj(t, cm("app", ""), "prod")
	cases := []struct {
		name string
		rule IgnoreRule
		obj  *unstructured.Unstructured
		want bool
	}{
		{"empty rule matches everything", IgnoreRule{}, deploy, true},
		{"group and kind", IgnoreRule{Group: "apps", Kind: "Deployment"}, deploy, true},
		{"kind without group means core", IgnoreRule{Kind: "Deployment"}, deploy, false},
		{"core kind", IgnoreRule{Kind: "ConfigMap"}, config, true},
		{"any group", IgnoreRule{Group: "*", Kind: "Deployment"}, deploy, true},
		{"any kind of a group", IgnoreRule{Group: "apps", Kind: "*"}, deploy, true},
		{"any kind of a group, other group", IgnoreRule{Group: "apps", Kind: "*"}, config, false},
		{"name", IgnoreRule{Group: "apps", Kind: "Deployment", Name: "web"}, deploy, true},
		{"other name", IgnoreRule{Group: "apps", Kind: "Deployment", Name: "api"}, deploy, false},
		{"namespace", IgnoreRule{Kind: "ConfigMap", Namespace: "prod"}, config, true},
		{"other namespace", IgnoreRule{Kind: "ConfigMap", Namespace: "dev"}, config, false},
		{"nil object", IgnoreRule{}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, tc.rule.Matches(tc.obj)) })
	}
}

func TestParsePointer(t *testing.T) {
	segs, err := parsePointer("/metadata/annotations/example.com~1note~0x")
	require.NoError(t, err)
	assert.Equal(t, []string{"metadata", "annotations", "example.com/note~x"}, segs)
	_, err = parsePointer("spec/replicas")
	require.ErrorContains(t, err, "must start with /")
	_, err = parsePointer("")
	require.Error(t, err)
	require.Error(t, IgnoreRule{JSONPointers: []string{"x"}}.Validate())
	require.NoError(t, IgnoreRule{JSONPointers: []string{"/spec/replicas"}}.Validate())
}

func TestPrepareDesiredPointers(t *testing.T) {
	live := parseObj(t, dep("web", depOpts{spec: "replicas: 5", ctr: "env: [{name: A, value: live}]", more: "- {name: side, image: busybox:live}"}), "prod")
	cases := []struct {
		name    string
		desired string
		pointer string
		check   func(t *testing.T, out *unstructured.Unstructured)
	}{
		{"replaced from live", dep("web", depOpts{spec: "replicas: 2"}), "/spec/replicas", func(t *testing.T, out *unstructured.Unstructured) {
			v, _, _ := unstructured.NestedInt64(out.Object, "spec", "replicas")
			assert.EqualValues(t, 5, v)
		}},
		{"added from live when desired lacks it", dep("web", depOpts{}), "/spec/replicas", func(t *testing.T, out *unstructured.Unstructured) {
			v, _, _ := unstructured.NestedInt64(out.Object, "spec", "replicas")
			assert.EqualValues(t, 5, v)
		}},
		{"dropped when live lacks it", dep("web", depOpts{spec: "minReadySeconds: 3"}), "/spec/minReadySeconds", func(t *testing.T, out *unstructured.Unstructured) {
			_, found, _ := unstructured.NestedFieldNoCopy(out.Object, "spec", "minReadySeconds")
			assert.False(t, found)
		}},
		{"wildcard over list items", dep("web", depOpts{image: "nginx:git", more: "- {name: side, image: busybox:git}"}), "/spec/template/spec/containers/*/image",
			func(t *testing.T, out *unstructured.Unstructured) {
				cs, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
				require.Len(t, cs, 2)
				assert.Equal(t, "nginx:1.25", cs[0].(map[string]any)["image"])
				assert.Equal(t, "busybox:live", cs[1].(map[string]any)["image"])
			}},
		{"other fields untouched", dep("web", depOpts{spec: "replicas: 2", image: "nginx:git"}), "/spec/replicas", func(t *testing.T, out *unstructured.Unstructured) {
			cs, _, _ := unstructured.NestedSlice(out.Object, "spec", "template", "spec", "containers")
			assert.Equal(t, "nginx:git", cs[0].(map[string]any)["image"])
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			desired := parseObj(t, tc.desired, "prod")
			before := desired.DeepCopy()
			out, err := PrepareDesired(desired, live, []IgnoreRule{{Group: "apps", Kind: "Deployment", JSONPointers: []string{tc.pointer}}})
			require.NoError(t, err)
			assert.Equal(t, before, desired, "desired is not modified")
			tc.check(t, out)
		})
	}

	// A rule for another kind changes nothing; nil live or desired are handled.
	desired := parseObj(t, dep("web", depOpts{spec: "replicas: 2"}), "prod")
	out, err := PrepareDesired(desired, live, []IgnoreRule{{Kind: "ConfigMap", JSONPointers: []string{"/spec/replicas"}}})
	require.NoError(t, err)
	assert.Equal(t, desired, out)
	out, err = PrepareDesired(desired, nil, []IgnoreRule{{JSONPointers: []string{"/spec/replicas"}}})
	require.NoError(t, err)
	assert.Equal(t, desired, out)
	out, err = PrepareDesired(nil, live, nil)
	require.NoError(t, err)
	assert.Nil(t, out)
	_, err = PrepareDesired(desired, live, []IgnoreRule{{JSONPointers: []string{"spec"}}})
	require.Error(t, err)
}

func TestPrepareDesiredManagers(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	e.apply(t, "driftless", dep("web", depOpts{ctr: "env: [{name: A, value: git}]"}))
	ri, err := e.cl.Resource(e.obj(t, dep("web", depOpts{})))
	require.NoError(t, err)
	patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:edited","env":[{"name":"A","value":"edited"},{"name":"Z","value":"z"}]}]}}}}`
	live, err := ri.Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)

	rules := []IgnoreRule{{Group: "apps", Kind: "Deployment", ManagedFieldsManagers: []string{"kubectl-edit"}}}
	desired := e.obj(t, dep("web", depOpts{image: "nginx:git", ctr: "env: [{name: A, value: git}]"}))
	out, err := PrepareDesired(desired, live, rules)
	require.NoError(t, err)
	c := out.Object["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)
	assert.Equal(t, "nginx:edited", c["image"], "a field the ignored manager owns is taken from live")
	env, _ := json.Marshal(c["env"])
	assert.JSONEq(t, `[{"name":"A","value":"edited"}]`, string(env), "items desired lacks are not added")

	res, err := New(Options{Rules: rules}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.False(t, res.Drift, res.Unified)
	res, err = New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.True(t, res.Drift)
}

// FuzzParsePointer: parsing never panics and round-trips through escaping.
func FuzzParsePointer(f *testing.F) {
	for _, s := range []string{"/spec/replicas", "/a~1b/c~0d", "", "x", "/", "//", "/*/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		segs, err := parsePointer(p)
		if err != nil {
			return
		}
		require.NotEmpty(t, segs)
	})
}

// FuzzPrepareDesired: any pointer on any object pair never panics and never
// modifies its inputs.
func FuzzPrepareDesired(f *testing.F) {
	f.Add(`{"spec":{"replicas":2,"l":[1,2,{"a":1}]}}`, `{"spec":{"replicas":5,"l":[3]}}`, "/spec/l/*")
	f.Add(`{"a":[{"b":1}]}`, `{"a":[{"b":2},{"b":3}]}`, "/a/1/b")
	f.Add(`{"a":{}}`, `{}`, "/a/x/y")
	f.Fuzz(func(t *testing.T, desiredJSON, liveJSON, pointer string) {
		var d, l map[string]any
		if json.Unmarshal([]byte(desiredJSON), &d) != nil || json.Unmarshal([]byte(liveJSON), &l) != nil || d == nil || l == nil {
			return
		}
		desired := &unstructured.Unstructured{Object: d}
		live := &unstructured.Unstructured{Object: l}
		dc, lc := desired.DeepCopy(), live.DeepCopy()
		_, _ = PrepareDesired(desired, live, []IgnoreRule{{JSONPointers: []string{pointer}}})
		require.Equal(t, dc, desired)
		require.Equal(t, lc, live)
	})
}
