package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func TestSubstitute(t *testing.T) {
	vars := map[string]string{"APP": "shop", "EMPTY": "", "N": "3", "URL": "https://x/$y"}
	cases := []struct {
		in, want  string
		undefined []string
	}{
		{in: "name: ${APP}", want: "name: shop"},
		{in: "${APP}-${APP}", want: "shop-shop"},
		{in: "replicas: ${N}", want: "replicas: 3"},
		{in: "${MISSING}", want: "", undefined: []string{"MISSING"}},
		{in: "${B} ${A} ${B}", want: "  ", undefined: []string{"A", "B"}},
		{in: "${MISSING:=fallback}", want: "fallback"},
		{in: "${EMPTY:=fallback}", want: "fallback"},
		{in: "${EMPTY}", want: ""},
		{in: "${APP:=fallback}", want: "shop"},
		{in: "${X:=with spaces and : colons}", want: "with spaces and : colons"},
		{in: "$${APP}", want: "${APP}"},
		{in: "$$APP $APP $", want: "$$APP $APP $"},
		{in: "${URL}", want: "https://x/$y"},
		{in: "${1}", want: "${1}"},
		{in: "${APP:-x} ${APP#p} ${a.b}", want: "${APP:-x} ${APP#p} ${a.b}"},
		{in: "${}", want: "${}"},
		{in: "${APP", want: "${APP"},
		{in: "ünïcødé ${APP} ✓", want: "ünïcødé shop ✓"},
		{in: "no variables", want: "no variables"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, undefined := Substitute(tc.in, vars)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.undefined, undefined)
		})
	}
}

func FuzzSubstitute(f *testing.F) {
	for _, s := range []string{"${A}", "$${A}", "${A:=b}", "${", "$", "a${B}c${A:=}", "${1a}"} {
		f.Add(s)
	}
	vars := map[string]string{"A": "x", "B": ""}
	f.Fuzz(func(t *testing.T, s string) {
		out, undefined := Substitute(s, vars)
		if !strings.Contains(s, "$") && out != s {
			t.Fatalf("text without $ changed: %q -> %q", s, out)
		}
		for _, u := range undefined {
			if !strings.Contains(s, "${"+u+"}") {
				t.Fatalf("undefined %q not referenced in %q", u, s)
			}
		}
	})
}

func TestRenderSubstitution(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/kustomization.yaml": "resources:\n- deploy.yaml\n- script.yaml\n- plain.yaml\n",
		"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${APP}
  labels:
    cluster: ${CLUSTER:=oslo-1}
spec:
  replicas: ${REPLICAS}
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: web:${VERSION:=latest}
`,
		"app/script.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: script
  annotations:
    driftless.dev/substitute: Disabled
data:
  run.sh: |
    echo "${HOME} ${UNDEFINED}"
`,
		"app/plain.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  k: \"v\"   # kept as kustomize prints it\n",
	})
	ctx := context.Background()
	plain, err := Render(ctx, root, "app", Options{Substitution: nil})
	require.NoError(t, err)
	assert.Contains(t, string(plain.YAML()), "name: ${APP}", "substitution is opt-in")

	m, err := Render(ctx, root, "app", Options{Substitution: &Substitution{
		Vars:   map[string]string{"APP": "web", "REPLICAS": "4", "VERSION": "2.0.1"},
		Strict: true,
	}})
	require.NoError(t, err)
	dep := m.Objects[2]
	require.Equal(t, "Deployment", dep.GetKind())
	assert.Equal(t, "web", dep.GetName())
	assert.Equal(t, "oslo-1", dep.GetLabels()["cluster"])
	assert.Equal(t, int64(4), dep.Object["spec"].(map[string]any)["replicas"], "a substituted number is a number")
	assert.Contains(t, string(m.YAML()), "image: web:2.0.1")
	assert.Contains(t, string(m.YAML()), `echo "${HOME} ${UNDEFINED}"`, "the annotated object is left alone")
	// Objects without variables keep kustomize's bytes.
	assert.Equal(t, string(plain.ObjectYAML(0)), string(m.ObjectYAML(0)))

	_, err = Render(ctx, root, "app", Options{Substitution: &Substitution{Vars: map[string]string{"APP": "web"}, Strict: true}})
	var se *SubstitutionError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, []string{"REPLICAS"}, se.Undefined)
	assert.Contains(t, err.Error(), "Deployment ${APP}")

	loose, err := Render(ctx, root, "app", Options{Substitution: &Substitution{Vars: map[string]string{"APP": "web", "REPLICAS": "1"}}})
	require.NoError(t, err)
	assert.Contains(t, string(loose.YAML()), "image: web:latest")

	writeFiles(t, root, map[string]string{"bad/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  k: ${V}\n"})
	_, err = Render(ctx, root, "bad", Options{Substitution: &Substitution{Vars: map[string]string{"V": "a: b: c"}}})
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Contains(t, err.Error(), "not valid YAML")
}

func TestValidation(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name: "missing apiVersion",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- cm.yaml\n",
				"app/cm.yaml":            "kind: ConfigMap\nmetadata:\n  name: c\n",
			},
			want: []string{"ConfigMap c (from app/cm.yaml): missing apiVersion"},
		},
		{
			name: "same object under two versions",
			files: map[string]string{
				"app/kustomization.yaml": "resources:\n- a/hpa.yaml\n- b/hpa.yaml\n",
				"app/a/hpa.yaml":         "apiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n  namespace: shop\n",
				"app/b/hpa.yaml":         "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata:\n  name: web\n  namespace: shop\n",
			},
			want: []string{
				"autoscaling/v2 HorizontalPodAutoscaler shop/web (from app/b/hpa.yaml): duplicate of object #1 autoscaling/v1 HorizontalPodAutoscaler shop/web (from app/a/hpa.yaml)",
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			m, err := Render(context.Background(), root, "app", Options{})
			require.Error(t, err)
			assert.Nil(t, m)
			var ve *ValidationError
			require.True(t, errors.As(err, &ve), "%T: %v", err, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestEncryptedSecretWithoutDecryptor(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"app/secret.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: db
stringData:
  password: ENC[AES256_GCM,data:m0oehsb0ig==,iv:dolXvGzT1Zo3y0Nuujh2GEuh5GFgD/LlhD5AzK2C1tY=,tag:q1VFX/Cz7efFX0X9OE5t/Q==,type:str]
`,
		"sops/secret.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nsops:\n  mac: ENC[AES256_GCM,data:x,iv:y,tag:z,type:str]\n  version: 3.13.3\n",
	})
	for _, p := range []string{"app", "sops"} {
		m, err := Render(context.Background(), root, p, Options{})
		require.Error(t, err)
		assert.Nil(t, m)
		var ee *EncryptedError
		require.True(t, errors.As(err, &ee), "%v", err)
		assert.Contains(t, err.Error(), "Secret db is SOPS-encrypted")
	}
}

func TestSortedOrder(t *testing.T) {
	m, err := Render(context.Background(), goldenRoot, "crds/ordering", Options{})
	require.NoError(t, err)
	kinds := func(objs []*unstructured.Unstructured) []string {
		var out []string
		for _, o := range objs {
			out = append(out, o.GetKind())
		}
		return out
	}
	assert.Equal(t, []string{"Namespace", "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "Service", "Deployment", "Widget", "ValidatingWebhookConfiguration"},
		kinds(m.Objects), "Objects keep kustomize's (legacy) order")
	assert.Equal(t, []string{"Namespace", "Service", "ServiceAccount", "ValidatingWebhookConfiguration", "CustomResourceDefinition", "Deployment", "Widget", "ClusterRole"},
		kinds(m.Sorted()), "Sorted orders by group, kind, namespace, name")
}

func TestRenderTargets(t *testing.T) {
	root := t.TempDir()
	seedApp(t, root, "a")
	writeFiles(t, root, map[string]string{"file.yaml": "x: y\n"})
	ctx := context.Background()
	_, err := Render(ctx, root, "apps/missing", Options{})
	assert.ErrorContains(t, err, "apps/missing")
	_, err = Render(ctx, root, "file.yaml", Options{})
	assert.ErrorContains(t, err, "not a directory")
	_, err = Render(ctx, root+"/nope", "apps/a/base", Options{})
	assert.Error(t, err)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = Render(cctx, root, "apps/a/base", Options{})
	assert.ErrorIs(t, err, context.Canceled)

	m, err := Render(ctx, root, "./apps/a/overlays/../base/", Options{})
	require.NoError(t, err)
	assert.Len(t, m.Objects, 2)
	cp := m.DeepCopy()
	cp.Objects[0].SetName("changed")
	assert.Equal(t, "a", m.Objects[0].GetName())
}

func TestAutodetectThroughSymlinkedPath(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{"real/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"})
	require.NoError(t, os.Symlink("real", filepath.Join(root, "alias")))
	m, err := Render(context.Background(), root, "alias", Options{})
	require.NoError(t, err)
	require.Len(t, m.Objects, 1)
	assert.Equal(t, "c", m.Objects[0].GetName())
}

func TestPluginsAndHelmAreOff(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{
			name: "helm chart",
			files: map[string]string{"app/kustomization.yaml": `helmCharts:
- name: podinfo
  repo: https://stefanprodan.github.io/podinfo
  version: 6.5.4
  releaseName: podinfo
`},
			want: "enable-helm",
		},
		{
			name: "exec plugin",
			files: map[string]string{
				"app/kustomization.yaml": "generators:\n- gen.yaml\n",
				"app/gen.yaml":           "apiVersion: example.com/v1\nkind: Generator\nmetadata:\n  name: g\n",
			},
			want: "external plugins disabled",
		},
		{
			name: "container function",
			files: map[string]string{
				"app/kustomization.yaml": "transformers:\n- fn.yaml\n",
				"app/fn.yaml": `apiVersion: example.com/v1
kind: Fn
metadata:
  name: f
  annotations:
    config.kubernetes.io/function: |
      container:
        image: example.com/fn:v1
`,
			},
			want: "plugins disabled",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			m, err := Render(context.Background(), root, "app", Options{})
			require.Error(t, err)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
