package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

// seed is the seed repository's layout as plain objects: two environment namespaces,
// each with a quota and a limit range, and the guestbook app's base with each
// overlay's patch applied (production: 3 replicas; staging: resources), plus a
// ConfigMap without a namespace that goes to the destination namespace.
func seed(ns string, prodReplicas int) string {
	app := func(env string, replicas int, resources string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: ResourceQuota
metadata:
  name: quota
  namespace: %[1]s
spec:
  hard:
    pods: "20"
    requests.cpu: "4"
---
apiVersion: v1
kind: LimitRange
metadata:
  name: limits
  namespace: %[1]s
spec:
  limits:
  - type: Container
    default:
      memory: 256Mi
    defaultRequest:
      cpu: 50m
      memory: 64Mi
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
  namespace: %[1]s
  labels:
    app: guestbook
spec:
  replicas: %[2]d
  selector:
    matchLabels:
      app: guestbook
  template:
    metadata:
      labels:
        app: guestbook
    spec:
      containers:
      - name: guestbook
        image: gcr.io/heptio-images/ks-guestbook-demo:0.2
        ports:
        - containerPort: 8080%[3]s
---
apiVersion: v1
kind: Service
metadata:
  name: guestbook
  namespace: %[1]s
spec:
  selector:
    app: guestbook
  ports:
  - port: 80
    targetPort: 8080
`, env, replicas, resources)
	}
	staging := `
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
          limits:
            memory: 128Mi`
	return fmt.Sprintf(`apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s-prod
---
apiVersion: v1
kind: Namespace
metadata:
  name: %[1]s-stage
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: blue
---
`, ns) + app(ns+"-prod", prodReplicas, "") + "---\n" + app(ns+"-stage", 1, staging)
}

func TestSeedLayoutEndToEnd(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		objs := yamlObjs(t, seed(e.ns, 3))
		cs, err := e.applier(apply.Options{Name: "guestbook"}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, len(objs), cs.Count(apply.Created), "%s", cs)
		require.Len(t, cs.Entries, len(objs))
		// plan order: namespaces, then quotas, configmap, service, deployment
		assert.Equal(t, "Namespace", cs.Entries[0].Ref.Kind)
		assert.Equal(t, "Namespace", cs.Entries[1].Ref.Kind)
		assert.Equal(t, "Deployment", cs.Entries[len(objs)-1].Ref.Kind)

		settings := e.get(t, gitopstest.Object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+e.ns+"}"))
		require.NotNil(t, settings, "a namespaced object without namespace goes to the destination namespace")
		assert.Equal(t, "guestbook", settings.GetLabels()[apply.LabelOwner])
		assert.Equal(t, e.ns+"/driftless-inventory-guestbook", settings.GetAnnotations()[apply.AnnotationInventory])

		refs, err := e.applier(apply.Options{Name: "guestbook"}).Inventory().Load(ctx)
		require.NoError(t, err)
		assert.Len(t, refs, len(objs))

		// The same set again: nothing is written, no resourceVersion moves.
		before := e.resourceVersions(t, objs)
		e.log.reset()
		cs, err = e.applier(apply.Options{Name: "guestbook"}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, len(objs), cs.Count(apply.Unchanged), "%s", cs)
		assert.Empty(t, e.log.writes(), "a no-op sync writes nothing")
		assert.Equal(t, before, e.resourceVersions(t, objs))

		// The production overlay scales up: only that Deployment is written.
		e.log.reset()
		cs, err = e.applier(apply.Options{Name: "guestbook"}).Apply(ctx, yamlObjs(t, seed(e.ns, 5)))
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, 1, cs.Count(apply.Configured), "%s", cs)
		assert.Equal(t, len(objs)-1, cs.Count(apply.Unchanged), "%s", cs)
		prod, ok := cs.Entry(apply.Ref{Group: "apps", Kind: "Deployment", Namespace: e.ns + "-prod", Name: "guestbook"}, apply.Sync)
		require.True(t, ok)
		assert.Equal(t, apply.Configured, prod.Action)
		assert.Contains(t, prod.Paths, ".spec.replicas")
		assert.Equal(t, []string{"PATCH /apis/apps/v1/namespaces/" + e.ns + "-prod/deployments/guestbook"}, e.log.writes())
	})
}

func TestCRDAndCustomResourceInOneSet(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		group := e.ns + ".example.com"
		// The custom resource comes first in the input: the plan puts the CRD first.
		objs := yamlObjs(t, fmt.Sprintf(`apiVersion: %[1]s/v1
kind: Widget
metadata:
  name: w1
spec:
  size: 3
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.%[1]s
spec:
  group: %[1]s
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
`, group))
		cs, err := e.applier(apply.Options{}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		require.Len(t, cs.Entries, 2)
		assert.Equal(t, "CustomResourceDefinition", cs.Entries[0].Ref.Kind, "the CRD goes first")
		assert.Equal(t, apply.Created, cs.Entries[0].Action)
		assert.Equal(t, apply.Ref{Group: group, Version: "v1", Kind: "Widget", Namespace: e.ns, Name: "w1"}, cs.Entries[1].Ref)
		assert.Equal(t, apply.Created, cs.Entries[1].Action)
		w := e.get(t, gitopstest.Object(t, fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}", group, e.ns)))
		require.NotNil(t, w)
		size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size")
		assert.Equal(t, int64(3), size)

		e.log.reset()
		cs, err = e.applier(apply.Options{}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		assert.Equal(t, 2, cs.Count(apply.Unchanged), "%s", cs)
		assert.Empty(t, e.log.writes())
	})
}

func TestWavesInOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		objs := []*unstructured.Unstructured{
			obj("v1", "ConfigMap", "", "late", apply.AnnotationSyncWave, "2"),
			obj("v1", "ConfigMap", "", "early", "argocd.argoproj.io/sync-wave", "-1"),
			obj("v1", "ConfigMap", "", "b-default"),
			obj("v1", "ServiceAccount", "", "z-default"),
			obj("v1", "ConfigMap", "", "a-default"),
		}
		var gated [][]string
		gate := gateFunc(func(_ context.Context, refs []apply.Ref) error {
			var names []string
			for _, r := range refs {
				names = append(names, r.Name)
			}
			gated = append(gated, names)
			return nil
		})
		cs, err := e.applier(apply.Options{Concurrency: 1, Health: gate}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		var written []string
		for _, w := range e.log.writes() {
			name := w[strings.LastIndex(w, "/")+1:]
			if !strings.HasPrefix(name, "driftless-inventory") {
				written = append(written, name)
			}
		}
		assert.Equal(t, []string{"early", "z-default", "a-default", "b-default", "late"}, written)
		assert.Equal(t, [][]string{{"early"}, {"z-default", "a-default", "b-default"}, {"late"}}, gated,
			"the health gate sees each wave's objects once the wave is applied")
	})
}

// gateFunc adapts a function to apply.HealthGate.
type gateFunc func(ctx context.Context, refs []apply.Ref) error

func (f gateFunc) WaitHealthy(ctx context.Context, refs []apply.Ref) error { return f(ctx, refs) }

func TestUnhealthyWaveStopsTheSync(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	objs := []*unstructured.Unstructured{
		obj("v1", "ConfigMap", "", "first"),
		obj("v1", "ConfigMap", "", "second", apply.AnnotationSyncWave, "1"),
	}
	gate := gateFunc(func(context.Context, []apply.Ref) error { return errors.New("first is degraded") })
	cs, err := e.applier(apply.Options{Health: gate}).Apply(context.Background(), objs)
	var se *apply.SyncError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, apply.Sync, se.Phase)
	assert.Contains(t, err.Error(), "first is degraded")
	assert.Equal(t, apply.Created, cs.Entries[0].Action)
	assert.Equal(t, apply.Skipped, cs.Entries[1].Action)
	assert.Nil(t, e.get(t, obj("v1", "ConfigMap", e.ns, "second")))
}

func TestInvalidSetWritesNothing(t *testing.T) {
	tests := []struct {
		name string
		bad  func(ns string) *unstructured.Unstructured
		want string
	}{
		{"unknown kind", func(string) *unstructured.Unstructured { return obj("nope.example.com/v1", "Nope", "", "x") },
			"the cluster does not serve kind"},
		{"cluster-scoped with a namespace", func(ns string) *unstructured.Unstructured {
			return obj("rbac.authorization.k8s.io/v1", "ClusterRole", ns, "x")
		}, "is cluster-scoped but the object has namespace"},
		{"duplicate", func(string) *unstructured.Unstructured { return obj("v1", "ConfigMap", "", "good") },
			"appears twice"},
		{"owner label of another set", func(string) *unstructured.Unstructured {
			u := obj("v1", "ConfigMap", "", "stolen")
			u.SetLabels(map[string]string{apply.LabelOwner: "someone-else"})
			return u
		}, "label driftless.dev/owner"},
		{"bad annotation", func(string) *unstructured.Unstructured {
			return obj("v1", "ConfigMap", "", "x", apply.AnnotationSyncWave, "soon")
		}, "not an integer"},
	}
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.log.reset()
			objs := []*unstructured.Unstructured{
				obj("v1", "Namespace", "", e.ns+"-new"),
				obj("v1", "ConfigMap", "", "good"),
				tc.bad(e.ns),
			}
			cs, err := e.applier(apply.Options{Prune: true}).Apply(context.Background(), objs)
			var ve *apply.ValidationError
			require.ErrorAs(t, err, &ve)
			assert.Contains(t, err.Error(), tc.want)
			assert.Empty(t, e.log.writes(), "validation failed: zero writes")
			assert.Nil(t, e.get(t, obj("v1", "ConfigMap", e.ns, "good")))
			for _, en := range cs.Entries {
				assert.Contains(t, []apply.Action{apply.Skipped, apply.Failed}, en.Action)
			}
		})
	}
}

func TestCustomResourceBeforeItsCRDIsInvalid(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	objs := yamlObjs(t, `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.com
  annotations: {driftless.dev/sync-wave: "1"}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: example.com/v1
kind: Gadget
metadata: {name: g}
---
apiVersion: example.com/v2
kind: Gadget
metadata: {name: g2, annotations: {driftless.dev/sync-wave: "2"}}
`)
	_, err := e.applier(apply.Options{}).Apply(context.Background(), objs)
	var ve *apply.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Len(t, ve.Problems, 2)
	assert.Contains(t, ve.Problems[0].Error(), "is planned before its CRD gadgets.example.com")
	assert.Contains(t, ve.Problems[1].Error(), "does not serve version v2")
	assert.Empty(t, e.log.writes())
}

func TestDryRunWritesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		_, err := e.applier(apply.Options{}).Apply(ctx, []*unstructured.Unstructured{
			cm("", "existing", map[string]any{"k": "old"}),
		})
		require.NoError(t, err)
		before := e.resourceVersions(t, []*unstructured.Unstructured{obj("v1", "ConfigMap", "", "existing"),
			obj("v1", "ConfigMap", "", "driftless-inventory-default")})

		e.log.reset()
		objs := []*unstructured.Unstructured{
			obj("v1", "Namespace", "", e.ns+"-dry"),
			cm(e.ns+"-dry", "inside", map[string]any{"k": "v"}),
			cm("", "existing", map[string]any{"k": "new"}),
			cm("", "fresh", map[string]any{"k": "v"}),
		}
		cs, err := e.applier(apply.Options{DryRun: true, Prune: true}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		assert.True(t, cs.DryRun)
		assert.Empty(t, e.log.writes(), "a dry run persists nothing")
		assert.Positive(t, e.log.dryRuns())
		actions := map[string]apply.Action{}
		for _, en := range cs.Entries {
			actions[en.Ref.Name] = en.Action
		}
		assert.Equal(t, map[string]apply.Action{e.ns + "-dry": apply.Created, "inside": apply.Created,
			"existing": apply.Configured, "fresh": apply.Created}, actions)
		assert.Nil(t, e.get(t, obj("v1", "Namespace", "", e.ns+"-dry")))
		assert.Nil(t, e.get(t, obj("v1", "ConfigMap", e.ns, "fresh")))
		assert.Equal(t, before, e.resourceVersions(t, []*unstructured.Unstructured{obj("v1", "ConfigMap", "", "existing"),
			obj("v1", "ConfigMap", "", "driftless-inventory-default")}))
		assert.Contains(t, cs.String(), "(dry run)")
	})
}

func cm(ns, name string, data map[string]any) *unstructured.Unstructured {
	u := obj("v1", "ConfigMap", ns, name)
	u.Object["data"] = data
	return u
}
