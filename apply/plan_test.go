package apply_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/driftless-dev/driftless/apply"
)

// obj builds a minimal object with optional annotations (key=value pairs).
func obj(apiVersion, kind, ns, name string, ann ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": apiVersion, "kind": kind,
		"metadata": map[string]any{"name": name}}}
	if ns != "" {
		u.SetNamespace(ns)
	}
	if len(ann) > 0 {
		m := map[string]string{}
		for i := 0; i+1 < len(ann); i += 2 {
			m[ann[i]] = ann[i+1]
		}
		u.SetAnnotations(m)
	}
	return u
}

// order renders a plan as "Phase/wave/Kind/name" lines.
func order(p *apply.Plan) []string {
	var out []string
	for _, o := range p.Objects() {
		out = append(out, string(o.Phase)+"/"+itoa(o.Wave)+"/"+o.Ref.Kind+"/"+o.Ref.Name)
	}
	return out
}

func itoa(i int) string {
	if i < 0 {
		return "-" + itoa(-i)
	}
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func TestPlanOrder(t *testing.T) {
	tests := []struct {
		name string
		objs []*unstructured.Unstructured
		want []string
	}{
		{
			name: "kind order inside one wave",
			objs: []*unstructured.Unstructured{
				obj("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "", "hook"),
				obj("example.com/v1", "Widget", "a", "w"),
				obj("networking.k8s.io/v1", "Ingress", "a", "ing"),
				obj("apps/v1", "Deployment", "a", "web"),
				obj("v1", "Service", "a", "web"),
				obj("v1", "PersistentVolumeClaim", "a", "data"),
				obj("v1", "ConfigMap", "a", "cfg"),
				obj("v1", "Secret", "a", "sec"),
				obj("v1", "ServiceAccount", "a", "sa"),
				obj("v1", "ResourceQuota", "a", "quota"),
				obj("storage.k8s.io/v1", "StorageClass", "", "fast"),
				obj("rbac.authorization.k8s.io/v1", "ClusterRole", "", "reader"),
				obj("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com"),
				obj("v1", "Namespace", "", "a"),
			},
			want: []string{
				"Sync/0/Namespace/a", "Sync/0/CustomResourceDefinition/widgets.example.com",
				"Sync/0/ClusterRole/reader", "Sync/0/StorageClass/fast", "Sync/0/ResourceQuota/quota",
				"Sync/0/ServiceAccount/sa", "Sync/0/Secret/sec", "Sync/0/ConfigMap/cfg",
				"Sync/0/PersistentVolumeClaim/data", "Sync/0/Service/web", "Sync/0/Deployment/web",
				"Sync/0/Ingress/ing", "Sync/0/Widget/w", "Sync/0/ValidatingWebhookConfiguration/hook",
			},
		},
		{
			name: "phase before wave before kind before namespace and name",
			objs: []*unstructured.Unstructured{
				obj("v1", "ConfigMap", "b", "x"),
				obj("v1", "ConfigMap", "a", "y"),
				obj("v1", "ConfigMap", "a", "x"),
				obj("v1", "Namespace", "", "late", apply.AnnotationSyncWave, "5"),
				obj("v1", "ConfigMap", "a", "early", "argocd.argoproj.io/sync-wave", "-2"),
				obj("batch/v1", "Job", "a", "migrate", apply.AnnotationHook, "PreSync"),
				obj("batch/v1", "Job", "a", "smoke", "argocd.argoproj.io/hook", "PostSync"),
				obj("batch/v1", "Job", "a", "cleanup", apply.AnnotationHook, "SyncFail"),
				obj("batch/v1", "Job", "a", "seed", apply.AnnotationHook, "PreSync", apply.AnnotationSyncWave, "-1"),
				obj("v1", "ConfigMap", "a", "ignored", apply.AnnotationHook, "Skip"),
			},
			want: []string{
				"PreSync/-1/Job/seed", "PreSync/0/Job/migrate",
				"Sync/-2/ConfigMap/early", "Sync/0/ConfigMap/x", "Sync/0/ConfigMap/y", "Sync/0/ConfigMap/x",
				"Sync/5/Namespace/late", "PostSync/0/Job/smoke", "SyncFail/0/Job/cleanup", "Skip/0/ConfigMap/ignored",
			},
		},
		{
			name: "driftless annotation wins over the Argo CD alias; a hook in two phases appears twice",
			objs: []*unstructured.Unstructured{
				obj("v1", "ConfigMap", "a", "both", apply.AnnotationSyncWave, "1", "argocd.argoproj.io/sync-wave", "-1"),
				obj("v1", "ConfigMap", "a", "zero"),
				obj("batch/v1", "Job", "a", "twice", apply.AnnotationHook, "PreSync, PostSync"),
			},
			want: []string{"PreSync/0/Job/twice", "Sync/0/ConfigMap/zero", "Sync/1/ConfigMap/both", "PostSync/0/Job/twice"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := apply.NewPlan(tc.objs)
			require.NoError(t, err)
			assert.Equal(t, tc.want, order(p))
			assert.Equal(t, len(tc.want), p.Len())
		})
	}
}

func TestPlanWavesAndOptions(t *testing.T) {
	p, err := apply.NewPlan([]*unstructured.Unstructured{
		obj("batch/v1", "Job", "a", "migrate", "argocd.argoproj.io/hook", "PreSync",
			"argocd.argoproj.io/hook-delete-policy", "HookSucceeded,before-hook-creation"),
		obj("batch/v1", "Job", "a", "plain-hook", apply.AnnotationHook, "PostSync"),
		obj("v1", "ConfigMap", "a", "kept", apply.AnnotationSyncOptions, "Prune=false"),
		obj("apps/v1", "Deployment", "a", "web", "argocd.argoproj.io/sync-options", "Replace=true,Force=true"),
		obj("apps/v1", "Deployment", "a", "api", apply.AnnotationSyncOptions, "Recreate=true"),
	})
	require.NoError(t, err)
	require.Len(t, p.Waves, 3)
	assert.Equal(t, apply.PreSync, p.Waves[0].Phase)
	assert.Equal(t, apply.Sync, p.Waves[1].Phase)
	assert.Equal(t, apply.PostSync, p.Waves[2].Phase)

	migrate := p.Waves[0].Objects[0]
	assert.True(t, migrate.Hook)
	assert.Equal(t, []apply.HookDeletePolicy{apply.HookSucceeded, apply.BeforeHookCreation}, migrate.DeletePolicies)
	assert.Equal(t, []apply.HookDeletePolicy{apply.BeforeHookCreation}, p.Waves[2].Objects[0].DeletePolicies, "default policy")

	byName := map[string]*apply.Object{}
	for _, o := range p.Waves[1].Objects {
		byName[o.Ref.Name] = o
		assert.False(t, o.Hook)
	}
	assert.True(t, byName["kept"].PruneDisabled)
	assert.True(t, byName["web"].Recreate, "Argo CD Replace=true,Force=true")
	assert.True(t, byName["api"].Recreate)
	assert.False(t, byName["kept"].Recreate)

	s := p.String()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	require.Len(t, lines, 6)
	assert.Regexp(t, `^PHASE\s+WAVE\s+GROUP\s+KIND\s+NAMESPACE\s+NAME\s+NOTES$`, lines[0])
	assert.Regexp(t, `^PreSync\s+0\s+workloads\s+Job\.batch\s+a\s+migrate\s+hook, delete: HookSucceeded\+BeforeHookCreation$`, lines[1])
	assert.Regexp(t, `^Sync\s+0\s+configmaps\s+ConfigMap\s+a\s+kept\s+prune disabled$`, lines[2])
	assert.Regexp(t, `Deployment\.apps\s+a\s+api\s+recreate$`, lines[3])
}

func TestPlanErrors(t *testing.T) {
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want string
	}{
		{"wave not an integer", obj("v1", "ConfigMap", "a", "x", apply.AnnotationSyncWave, "first"), `"first" is not an integer`},
		{"unknown phase", obj("v1", "ConfigMap", "a", "x", apply.AnnotationHook, "PreDeploy"), `unknown hook phase "PreDeploy"`},
		{"unknown delete policy", obj("batch/v1", "Job", "a", "x", apply.AnnotationHook, "PreSync",
			apply.AnnotationHookDeletePolicy, "Never"), `unknown hook delete policy "Never"`},
		{"skip combined", obj("v1", "ConfigMap", "a", "x", apply.AnnotationHook, "Skip,PreSync"), "Skip cannot be combined"},
		{"no name", obj("v1", "ConfigMap", "a", ""), "no metadata.name"},
		{"no kind", obj("v1", "", "a", "x"), "no apiVersion or kind"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apply.NewPlan([]*unstructured.Unstructured{obj("v1", "ConfigMap", "a", "fine"), tc.obj})
			var pe *apply.PlanError
			require.True(t, errors.As(err, &pe), "want a *PlanError, got %v", err)
			require.Len(t, pe.Problems, 1)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
