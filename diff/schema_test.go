package diff

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

// countingConfig returns a copy of cfg whose requests are counted.
func countingConfig(cfg *rest.Config) (*rest.Config, *atomic.Int64) {
	n := &atomic.Int64{}
	c := rest.CopyConfig(cfg)
	c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n.Add(1)
			return rt.RoundTrip(r)
		})
	}
	return c, n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestStaticSchemas(t *testing.T) {
	ctx := context.Background()
	s := NewStaticSchemas()
	for _, gvk := range []schema.GroupVersionKind{
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Version: "v1", Kind: "Secret"},
		{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"},
	} {
		tc, err := s.TypeConverter(ctx, gvk)
		require.NoError(t, err, gvk)
		require.NotNil(t, tc)
	}
	_, err := s.TypeConverter(ctx, schema.GroupVersionKind{Group: "corpus.driftless.dev", Version: "v1", Kind: "Widget"})
	require.ErrorIs(t, err, ErrUnknownSchema)
	var use *UnknownSchemaError
	require.ErrorAs(t, err, &use)
	assert.Equal(t, "Widget", use.GVK.Kind)
}

func TestCRDSchemasDefaults(t *testing.T) {
	ctx := context.Background()
	s := NewCRDSchemas()
	crd := parseObj(t, widgetCRD, "")
	require.NoError(t, s.Add(crd))
	gvk := schema.GroupVersionKind{Group: "corpus.driftless.dev", Version: "v1", Kind: "Widget"}
	_, err := s.TypeConverter(ctx, gvk)
	require.NoError(t, err)
	fn, err := s.Defaulter(ctx, gvk)
	require.NoError(t, err)
	require.NotNil(t, fn)
	obj := parseObj(t, widget("w", "ports: [{name: a}]\nsize: null"), "ns").Object
	fn(obj)
	spec := obj["spec"].(map[string]any)
	assert.Equal(t, "small", spec["size"], "a non-nullable null takes the default")
	assert.EqualValues(t, 1, spec["replicas"])
	assert.Equal(t, map[string]any{"mode": "auto"}, spec["nested"], "defaults apply inside defaulted values")
	assert.Equal(t, "TCP", spec["ports"].([]any)[0].(map[string]any)["protocol"])

	gadget := parseObj(t, gadgetCRD, "")
	require.NoError(t, s.Add(gadget))
	fn, err = s.Defaulter(ctx, schema.GroupVersionKind{Group: "corpus.driftless.dev", Version: "v1", Kind: "Gadget"})
	require.NoError(t, err)
	assert.Nil(t, fn, "a schema without defaults has no defaulter")

	s.Remove("widgets.corpus.driftless.dev")
	_, err = s.TypeConverter(ctx, gvk)
	require.ErrorIs(t, err, ErrUnknownSchema)
	require.Error(t, s.Add(parseObj(t, cm("x", ""), "ns")))
}

// TestDiscoverySchemasWithoutOpenAPI: against a server that serves no /openapi/v3
// (gitopstest's in-memory one), built-in kinds fall back to the static schemas.
func TestDiscoverySchemasWithoutOpenAPI(t *testing.T) {
	ctx := context.Background()
	cl := gitopstest.NewCluster(t)
	s, err := NewDiscoverySchemasForConfig(cl.Config, DiscoveryOptions{})
	require.NoError(t, err)
	_, err = s.TypeConverter(ctx, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"})
	require.NoError(t, err)
	_, err = s.TypeConverter(ctx, schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Thing"})
	require.ErrorIs(t, err, ErrUnknownSchema)
}

// TestDiscoverySchemasRefresh: schemas are read lazily per group-version, cached (no
// request for a known kind), and re-read after Invalidate when a CRD changed.
func TestDiscoverySchemasRefresh(t *testing.T) {
	ctx := context.Background()
	cp := gitopstest.StartControlPlane(t)
	cl := gitopstest.ClusterFor(t, cp.Config)
	crd := strings.ReplaceAll(strings.ReplaceAll(gadgetCRD, "gadget", "thing"), "Gadget", "Thing")
	// A group of its own per run: a CRD left by an earlier run (-count) would still be
	// re-publishing its OpenAPI document while this one reads it.
	group := "refresh-" + strings.ToLower(rand.String(6)) + ".driftless.dev"
	crd = strings.ReplaceAll(crd, "corpus.driftless.dev", group)
	crd = strings.Replace(crd, "spec: {type: object, x-kubernetes-preserve-unknown-fields: true}",
		"spec: {type: object, properties: {a: {type: string}}}", 1)
	cl.Apply(t, parseObj(t, crd, ""), "setup", true)
	gvk := schema.GroupVersionKind{Group: group, Version: "v1", Kind: "Thing"}
	waitForSchema(t, cp.Config, gvk, "a")

	cfg, requests := countingConfig(cp.Config)
	s, err := NewDiscoverySchemasForConfig(cfg, DiscoveryOptions{})
	require.NoError(t, err)
	d := New(Options{Schemas: s})
	ns := cl.NewNamespace(t)
	obj := func(spec string) string {
		return "apiVersion: " + group + "/v1\nkind: Thing\nmetadata: {name: t1}\nspec: {" + spec + "}\n"
	}
	live := cl.Apply(t, parseObj(t, obj("a: x"), ns), "driftless", true)
	res, err := d.Diff(ctx, parseObj(t, obj("a: x"), ns), live)
	require.NoError(t, err)
	assert.False(t, res.Drift)
	assert.EqualValues(t, 2, requests.Load(), "the index and one group-version document")
	_, err = d.Diff(ctx, parseObj(t, obj("a: other"), ns), live)
	require.NoError(t, err)
	_, err = s.TypeConverter(ctx, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	require.NoError(t, err)
	assert.EqualValues(t, 3, requests.Load(), "cached kinds cost nothing; a new group-version one document")

	// The CRD gains a field: the old schema refuses it until Invalidate.
	cl.Apply(t, parseObj(t, strings.Replace(crd, "a: {type: string}", "a: {type: string}, b: {type: string}", 1), ""), "setup", true)
	waitForSchema(t, cp.Config, gvk, "b")
	_, err = d.Diff(ctx, parseObj(t, obj("a: x, b: z"), ns), live)
	require.ErrorContains(t, err, "field not declared in schema")
	s.InvalidateGroup(group)
	before := requests.Load()
	res, err = d.Diff(ctx, parseObj(t, obj("a: x, b: z"), ns), live)
	require.NoError(t, err)
	assert.Equal(t, []string{".spec.b"}, res.Paths)
	// The index, and the changed document (the server may redirect a stale hash to
	// the current one: one more request).
	reread := requests.Load() - before
	assert.True(t, reread == 2 || reread == 3, "%d requests", reread)
	_, err = s.TypeConverter(ctx, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	require.NoError(t, err)
	assert.Equal(t, reread, requests.Load()-before, "other groups stay cached")
	s.Invalidate()
	before = requests.Load()
	_, err = s.TypeConverter(ctx, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"})
	require.NoError(t, err)
	assert.EqualValues(t, 2, requests.Load()-before, "Invalidate drops everything")
}

// waitForSchema waits until the server publishes a schema for gvk with field under spec.
func waitForSchema(t *testing.T, cfg *rest.Config, gvk schema.GroupVersionKind, field string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		s, err := NewDiscoverySchemasForConfig(cfg, DiscoveryOptions{})
		if err != nil {
			return false, err
		}
		tc, err := s.TypeConverter(ctx, gvk)
		if errors.Is(err, ErrUnknownSchema) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		obj := parseObj(t, "apiVersion: "+gvk.GroupVersion().String()+"\nkind: "+gvk.Kind+"\nmetadata: {name: probe}\nspec: {"+field+": x}\n", "default")
		_, err = tc.ObjectToTyped(obj)
		return err == nil, nil
	})
	require.NoError(t, err, "the server never published %s with spec.%s", gvk, field)
}
