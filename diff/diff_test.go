package diff

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"
)

// fakeEnv is an in-memory API server with a namespace, for tests that need live
// objects with real managedFields but not a real control plane.
type fakeEnv struct {
	cl *gitopstest.Cluster
	ns string
}

func newFakeEnv(t *testing.T) fakeEnv {
	cl := gitopstest.NewCluster(t)
	return fakeEnv{cl: cl, ns: cl.NewNamespace(t)}
}

func (e fakeEnv) obj(t *testing.T, doc string) *unstructured.Unstructured {
	return parseObj(t, doc, e.ns)
}

func (e fakeEnv) apply(t *testing.T, manager, doc string) *unstructured.Unstructured {
	return e.cl.Apply(t, e.obj(t, doc), manager, true)
}

func TestDiffCreateAndPrune(t *testing.T) {
	ctx := context.Background()
	d := New(Options{})
	desired := parseObj(t, cm("app", "data: {a: '1'}"), "prod")

	res, err := d.Diff(ctx, desired, nil)
	require.NoError(t, err)
	assert.Equal(t, Create, res.Action)
	assert.True(t, res.Drift)
	assert.Equal(t, "1", res.Predicted.Object["data"].(map[string]any)["a"])
	assert.True(t, strings.HasPrefix(res.Unified, "diff -u -N live/v1.ConfigMap.prod.app merged/v1.ConfigMap.prod.app\n"), res.Unified)
	assert.Contains(t, res.Unified, "+kind: ConfigMap\n")
	assert.NotContains(t, res.Unified, "creationTimestamp")

	res, err = d.Diff(ctx, nil, desired)
	require.NoError(t, err)
	assert.Equal(t, Prune, res.Action)
	assert.True(t, res.Drift)
	assert.Contains(t, res.Unified, "-kind: ConfigMap\n")

	_, err = d.Diff(ctx, nil, nil)
	require.Error(t, err)
}

func TestDiffRejectsMismatchedObjects(t *testing.T) {
	ctx := context.Background()
	d := New(Options{})
	desired := parseObj(t, dep("web", depOpts{}), "prod")
	live := desired.DeepCopy()
	live.SetAPIVersion("apps/v1beta2")
	_, err := d.Diff(ctx, desired, live)
	require.ErrorContains(t, err, "read it at the desired apiVersion")

	bad := desired.DeepCopy()
	bad.Object["spec"].(map[string]any)["notAField"] = true
	_, err = d.Diff(ctx, bad, nil)
	require.ErrorContains(t, err, "Deployment/prod/web")
	require.ErrorContains(t, err, "notAField")
}

func TestDiffPathsAndUnified(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	live := e.apply(t, "driftless", dep("web", depOpts{spec: "replicas: 2", ctr: "env: [{name: A, value: '1'}]"}))
	desired := e.obj(t, dep("web", depOpts{spec: "replicas: 3", image: "nginx:1.26", ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"}))

	d := New(Options{})
	res, err := d.Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.Equal(t, Update, res.Action)
	assert.Equal(t, []string{
		".spec.replicas",
		`.spec.template.spec.containers[name="app"].env[name="B"]`,
		`.spec.template.spec.containers[name="app"].image`,
	}, res.Paths)
	assert.Contains(t, res.Unified, "-  replicas: 2\n+  replicas: 3\n")
	assert.Contains(t, res.Unified, "+        - name: B\n")
	assert.NotContains(t, res.Unified, "managedFields")
	assert.NotContains(t, res.Unified, "resourceVersion")
	assert.False(t, res.Confirmed)
	assert.Empty(t, res.Suspect)
	assert.EqualValues(t, 3, res.Predicted.Object["spec"].(map[string]any)["replicas"])
	assert.Equal(t, live.GetResourceVersion(), res.Predicted.GetResourceVersion())

	again, err := New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.Equal(t, res.Unified, again.Unified, "the unified diff is deterministic")
}

func TestDiffReportsConflicts(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	e.apply(t, "driftless", cm("app", "data: {a: '1', b: '2'}"))
	live := e.apply(t, "other", cm("app", "data: {a: '9'}"))
	res, err := New(Options{}).Diff(ctx, e.obj(t, cm("app", "data: {a: '1', b: '2'}")), live)
	require.NoError(t, err)
	assert.True(t, res.Drift)
	assert.Equal(t, []string{".data.a"}, res.Paths)
	require.Len(t, res.Conflicts, 1)
	assert.Contains(t, res.Conflicts[0], `.data.a ("other")`)
}

func TestDiffMasksSecrets(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	live := e.apply(t, "driftless", secret("db", "stringData: {user: admin, password: hunter2}"))
	desired := e.obj(t, secret("db", "stringData: {user: admin, password: s3cr3t-new}"))

	res, err := New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	require.True(t, res.Drift)
	for _, clear := range []string{"hunter2", "s3cr3t-new", "admin"} {
		assert.NotContains(t, res.Unified, clear)
		assert.NotContains(t, res.Unified, base64.StdEncoding.EncodeToString([]byte(clear)))
	}
	assert.Contains(t, res.Unified, "-  password: "+Mask+"\n")
	assert.Contains(t, res.Unified, "+  password: "+MaskChanged+"\n")
	assert.Contains(t, res.Unified, "\n   user: "+Mask+"\n", "an unchanged value is a context line")
	data := res.Predicted.Object["data"].(map[string]any)
	assert.Equal(t, MaskChanged, data["password"])
	assert.Equal(t, Mask, data["user"])
	assert.Equal(t, "hunter2", mustDecode(t, live.Object), "the live object is not masked in place")

	res, err = New(Options{}).Diff(ctx, desired, nil)
	require.NoError(t, err)
	assert.NotContains(t, res.Unified, "s3cr3t-new")
	assert.Equal(t, Mask, res.Predicted.Object["data"].(map[string]any)["password"])
}

func mustDecode(t *testing.T, obj map[string]any) string {
	data := obj["stringData"]
	if data == nil {
		b, err := base64.StdEncoding.DecodeString(obj["data"].(map[string]any)["password"].(string))
		require.NoError(t, err)
		return string(b)
	}
	return data.(map[string]any)["password"].(string)
}

// failingConfirmer answers with an error that quotes a Secret value, as API errors do.
type failingConfirmer struct{ calls int }

func (f *failingConfirmer) DryRunApply(_ context.Context, obj *unstructured.Unstructured, _ string) (*unstructured.Unstructured, error) {
	f.calls++
	return nil, fmt.Errorf("Secret %q is invalid: data[password]: Invalid value: %q", obj.GetName(), "hunter2")
}

func TestDiffMasksSecretsInErrors(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	live := e.apply(t, "driftless", secret("db", "stringData: {password: hunter2}"))
	fc := &failingConfirmer{}
	_, err := New(Options{Confirmer: fc, Strict: true}).Diff(ctx, e.obj(t, secret("db", "stringData: {password: hunter3}")), live)
	require.Error(t, err)
	assert.Equal(t, 1, fc.calls)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Contains(t, err.Error(), Mask)
	var me *MaskedError
	assert.True(t, errors.As(err, &me))
}

func TestDiffUnknownSchemaUsesConfirmer(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	crd := e.cl.Apply(t, e.obj(t, widgetCRD), "setup", true)
	e.cl.Mapper.Reset()
	live := e.apply(t, "driftless", widget("w", "size: large"))
	desired := e.obj(t, widget("w", "size: large\nreplicas: 2"))

	// Static schemas do not know the Widget kind: offline falls back to a
	// schema-less merge and flags the verdict.
	offline, err := New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.True(t, offline.Drift)
	assert.False(t, offline.Confirmed)
	assert.Contains(t, offline.Suspect, ErrUnknownSchema.Error())

	cc := &countingConfirmer{inner: NewServerConfirmer(e.cl.Dynamic, e.cl.Mapper)}
	res, err := New(Options{Confirmer: cc}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.True(t, res.Confirmed)
	assert.True(t, res.Drift)
	assert.Equal(t, []string{".spec.replicas"}, res.Paths)
	assert.EqualValues(t, 1, cc.calls.Load())

	res, err = New(Options{Confirmer: cc}).Diff(ctx, e.obj(t, widget("w", "size: large")), live)
	require.NoError(t, err)
	assert.True(t, res.Confirmed)
	assert.False(t, res.Drift)

	// Taught the CRD, the static source settles it offline.
	static := NewStaticSchemas()
	require.NoError(t, static.AddCRD(crd))
	res, err = New(Options{Schemas: static, Confirmer: cc}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.False(t, res.Confirmed)
	assert.True(t, res.Drift)
	assert.EqualValues(t, 2, cc.calls.Load())
}

func TestDiffStrictAndAlwaysConfirm(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	live := e.apply(t, "driftless", cm("app", "data: {a: '1'}"))
	cc := &countingConfirmer{inner: NewServerConfirmer(e.cl.Dynamic, e.cl.Mapper)}

	res, err := New(Options{Confirmer: cc, Strict: true}).Diff(ctx, e.obj(t, cm("app", "data: {a: '1'}")), live)
	require.NoError(t, err)
	assert.False(t, res.Confirmed, "strict mode confirms drift verdicts only")
	res, err = New(Options{Confirmer: cc, Strict: true}).Diff(ctx, e.obj(t, cm("app", "data: {a: '2'}")), live)
	require.NoError(t, err)
	assert.True(t, res.Confirmed)
	assert.True(t, res.Drift)

	res, err = New(Options{Confirmer: cc, AlwaysConfirm: []schema.GroupKind{{Kind: "ConfigMap"}}}).Diff(ctx, e.obj(t, cm("app", "data: {a: '1'}")), live)
	require.NoError(t, err)
	assert.True(t, res.Confirmed)
	assert.False(t, res.Drift)
	assert.EqualValues(t, 2, cc.calls.Load())
}

// TestDiffFloatNumbers: objects decoded by encoding/json (float64 numbers) diff like
// the int64 ones client-go decodes.
func TestDiffFloatNumbers(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	live := e.apply(t, "driftless", dep("web", depOpts{spec: "replicas: 2", ctr: "ports: [{containerPort: 80}]"}))
	desired := &unstructured.Unstructured{}
	require.NoError(t, yaml.Unmarshal([]byte(dep("web", depOpts{spec: "replicas: 2", ctr: "ports: [{containerPort: 80}]"})), &desired.Object))
	desired.SetNamespace(e.ns)
	require.IsType(t, float64(0), desired.Object["spec"].(map[string]any)["replicas"])
	res, err := New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.False(t, res.Drift, res.Unified)
	desired.Object["spec"].(map[string]any)["replicas"] = 3.0
	res, err = New(Options{}).Diff(ctx, desired, live)
	require.NoError(t, err)
	assert.Equal(t, []string{".spec.replicas"}, res.Paths)
}

func TestDiffConcurrentUse(t *testing.T) {
	ctx := context.Background()
	e := newFakeEnv(t)
	var lives []*unstructured.Unstructured
	for i := 0; i < 8; i++ {
		lives = append(lives, e.apply(t, "driftless", dep(fmt.Sprintf("web%d", i), depOpts{spec: "replicas: 2"})))
	}
	d := New(Options{})
	var wg sync.WaitGroup
	results := make([]Result, len(lives)*4)
	errs := make([]error, len(results))
	for i := range results {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			live := lives[i%len(lives)]
			replicas := "replicas: 2"
			if i%2 == 1 {
				replicas = "replicas: 5"
			}
			results[i], errs[i] = d.Diff(ctx, e.obj(t, dep(live.GetName(), depOpts{spec: replicas})), live)
		}(i)
	}
	wg.Wait()
	for i, r := range results {
		require.NoError(t, errs[i])
		assert.Equal(t, i%2 == 1, r.Drift, "result %d", i)
	}
}
