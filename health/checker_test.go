package health_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	sigyaml "sigs.k8s.io/yaml"

	"github.com/driftless-dev/driftless/health"
)

// object parses one YAML object as a dynamic client would return it.
func object(t testing.TB, y string) *unstructured.Unstructured {
	t.Helper()
	j, err := sigyaml.YAMLToJSON([]byte(y))
	require.NoError(t, err)
	obj := &unstructured.Unstructured{}
	require.NoError(t, obj.UnmarshalJSON(j))
	return obj
}

const (
	widgetNoStatus = `{apiVersion: example.com/v1, kind: Widget, metadata: {name: w, namespace: shop}}`
	// A Deployment the built-in check calls Progressing.
	deploymentRolling = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 2}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 1}`
	deploymentDeleting = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, deletionTimestamp: "2026-01-02T03:00:00Z"}`
)

var (
	widgetGK     = schema.GroupKind{Group: "example.com", Kind: "Widget"}
	deploymentGK = schema.GroupKind{Group: "apps", Kind: "Deployment"}
)

type registration struct {
	gk    schema.GroupKind
	check health.Check
}

func TestCheckerOverrides(t *testing.T) {
	// refine wraps the built-in verdict: what an embedder does to tighten a rule.
	refine := health.CheckFunc(func(obj *unstructured.Unstructured) (health.Result, error) {
		builtin, err := (*health.Checker)(nil).Health(obj)
		if err != nil {
			return health.Result{}, err
		}
		if builtin.Status == health.Progressing && obj.GetAnnotations()["example.com/never-wait"] == "true" {
			return health.Result{Status: health.Healthy, Message: "not waited for: " + builtin.Message}, nil
		}
		return builtin, nil
	})
	broken := health.CheckFunc(func(*unstructured.Unstructured) (health.Result, error) {
		return health.Result{}, errors.New("metrics backend unreachable")
	})
	invalid := health.CheckFunc(func(*unstructured.Unstructured) (health.Result, error) {
		return health.Result{Status: "Fine", Message: "x"}, nil
	})
	silent := health.CheckFunc(func(*unstructured.Unstructured) (health.Result, error) {
		return health.Result{Status: health.Degraded}, nil
	})

	tests := []struct {
		name      string
		register  []registration // in this order
		obj       string
		want      health.Result
		wantError string
	}{
		{
			name: "custom resource without status is Unknown without an override",
			obj:  widgetNoStatus,
			want: health.Result{Status: health.Unknown, Message: "Widget has no status to judge health by (register an override for Widget.example.com if it never has one)"},
		},
		{
			name:     "Exists override makes it Healthy",
			register: []registration{{widgetGK, health.Exists{}}},
			obj:      widgetNoStatus,
			want:     health.Result{Status: health.Healthy, Message: "Widget exists"},
		},
		{
			name:     "override applies to every version of the kind",
			register: []registration{{widgetGK, health.Exists{}}},
			obj:      `{apiVersion: example.com/v2beta1, kind: Widget, metadata: {name: w}}`,
			want:     health.Result{Status: health.Healthy, Message: "Widget exists"},
		},
		{
			name:     "override for another group does not apply",
			register: []registration{{schema.GroupKind{Group: "other.example.com", Kind: "Widget"}, health.Exists{}}},
			obj:      widgetNoStatus,
			want:     health.Result{Status: health.Unknown, Message: "Widget has no status to judge health by (register an override for Widget.example.com if it never has one)"},
		},
		{
			name:     "override is consulted before the built-in check",
			register: []registration{{deploymentGK, refine}},
			obj: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop, generation: 2, annotations: {example.com/never-wait: "true"}}
spec: {replicas: 3}
status: {observedGeneration: 2, replicas: 3, updatedReplicas: 1, availableReplicas: 1}`,
			want: health.Result{Status: health.Healthy, Message: "not waited for: 1/3 replicas updated"},
		},
		{
			name:     "override delegating to the built-in check",
			register: []registration{{deploymentGK, refine}},
			obj:      deploymentRolling,
			want:     health.Result{Status: health.Progressing, Message: "1/3 replicas updated"},
		},
		{
			name:     "override is consulted before the deletion rule",
			register: []registration{{deploymentGK, health.Exists{}}},
			obj:      deploymentDeleting,
			want:     health.Result{Status: health.Healthy, Message: "Deployment exists"},
		},
		{
			name: "without an override a deleted object is Progressing",
			obj:  deploymentDeleting,
			want: health.Result{Status: health.Progressing, Message: "being deleted"},
		},
		{
			name:      "override error is Unknown and an error naming the object",
			register:  []registration{{deploymentGK, broken}},
			obj:       deploymentRolling,
			want:      health.Result{Status: health.Unknown, Message: "cannot judge health: override: metrics backend unreachable"},
			wantError: "health of Deployment.apps/shop/web: override: metrics backend unreachable",
		},
		{
			name:      "override returning an invalid status",
			register:  []registration{{deploymentGK, invalid}},
			obj:       deploymentRolling,
			want:      health.Result{Status: health.Unknown, Message: `cannot judge health: override: override returned invalid status "Fine"`},
			wantError: `health of Deployment.apps/shop/web: override: override returned invalid status "Fine"`,
		},
		{
			name:     "override without a message gets one",
			register: []registration{{deploymentGK, silent}},
			obj:      deploymentRolling,
			want:     health.Result{Status: health.Degraded, Message: "Degraded (override)"},
		},
		{
			name:     "nil check removes the override",
			register: []registration{{deploymentGK, broken}, {deploymentGK, nil}},
			obj:      deploymentRolling,
			want:     health.Result{Status: health.Progressing, Message: "1/3 replicas updated"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c health.Checker
			for _, r := range tt.register {
				c.Register(r.gk, r.check)
			}
			got, err := c.Health(object(t, tt.obj))
			assert.Equal(t, tt.want, got)
			if tt.wantError == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.wantError)
			}
		})
	}
}

func TestCheckerNilObjectIsMissing(t *testing.T) {
	var c health.Checker
	got, err := c.Health(nil)
	require.NoError(t, err)
	assert.Equal(t, health.Result{Status: health.Missing, Message: "object does not exist"}, got)
}

func TestCheckerIsACheck(t *testing.T) {
	// A Checker can itself be registered as an override on another Checker: the inner
	// one's overrides then apply to that kind.
	var inner, outer health.Checker
	inner.Register(widgetGK, health.Exists{})
	outer.Register(widgetGK, &inner)
	got, err := outer.Health(object(t, widgetNoStatus))
	require.NoError(t, err)
	assert.Equal(t, health.Healthy, got.Status)
}

func TestMalformedStatusIsUnknown(t *testing.T) {
	// Every check that reads a status refuses one of the wrong shape instead of
	// guessing, and names the object in its error.
	for _, apiVersionKind := range []string{
		"apps/v1 Deployment", "apps/v1 StatefulSet", "apps/v1 DaemonSet", "apps/v1 ReplicaSet",
		"v1 Pod", "batch/v1 Job", "batch/v1 CronJob", "v1 PersistentVolumeClaim", "v1 Service",
		"networking.k8s.io/v1 Ingress", "autoscaling/v2 HorizontalPodAutoscaler",
		"apiregistration.k8s.io/v1 APIService", "apiextensions.k8s.io/v1 CustomResourceDefinition",
		"v1 Namespace", "bitnami.com/v1alpha1 SealedSecret", "example.com/v1 Widget",
	} {
		t.Run(apiVersionKind, func(t *testing.T) {
			var apiVersion, kind string
			_, err := fmt.Sscan(apiVersionKind, &apiVersion, &kind)
			require.NoError(t, err)
			obj := object(t, fmt.Sprintf(`{apiVersion: %s, kind: %s, metadata: {name: x}, status: [broken]}`, apiVersion, kind))
			got, err := (*health.Checker)(nil).Health(obj)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "health of "+health.RefOf(obj).String()+": ")
			assert.Equal(t, health.Unknown, got.Status)
			assert.Contains(t, got.Message, "cannot judge health: ")
		})
	}
}
