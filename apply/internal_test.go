package apply

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestImmutableFields(t *testing.T) {
	gk := schema.GroupKind{Group: "apps", Kind: "Deployment"}
	tests := []struct {
		name   string
		err    error
		fields []string
		ok     bool
	}{
		{"selector", apierrors.NewInvalid(gk, "web", field.ErrorList{
			field.Invalid(field.NewPath("spec", "selector"), "x", "field is immutable")}), []string{"spec.selector"}, true},
		{"two fields, sorted, deduplicated", apierrors.NewInvalid(gk, "web", field.ErrorList{
			field.Invalid(field.NewPath("spec", "template"), "x", "field is immutable"),
			field.Invalid(field.NewPath("spec", "selector"), "x", "field is immutable"),
			field.Invalid(field.NewPath("spec", "selector"), "y", "field is immutable"),
		}), []string{"spec.selector", "spec.template"}, true},
		{"statefulset forbidden", apierrors.NewInvalid(gk, "db", field.ErrorList{
			field.Forbidden(field.NewPath("spec"), "updates to statefulset spec for fields other than 'replicas', 'template' are forbidden")}),
			[]string{"spec"}, true},
		{"CEL rule", apierrors.NewInvalid(gk, "w", field.ErrorList{
			field.Invalid(field.NewPath("spec", "size"), 3, "Value is immutable")}), []string{"spec.size"}, true},
		{"plain invalid value is not immutable", apierrors.NewInvalid(gk, "web", field.ErrorList{
			field.Invalid(field.NewPath("spec", "replicas"), -1, "must be greater than or equal to 0")}), nil, false},
		{"conflict is not immutable", apierrors.NewConflict(schema.GroupResource{Resource: "deployments"}, "web", errors.New("x")), nil, false},
		{"wrapped", errorsJoin(apierrors.NewInvalid(gk, "web", field.ErrorList{
			field.Invalid(field.NewPath("spec", "clusterIP"), "x", "field is immutable")})), []string{"spec.clusterIP"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fields, ok := immutableFields(tc.err)
			assert.Equal(t, tc.ok, ok)
			assert.Equal(t, tc.fields, fields)
		})
	}
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

func TestMergeManagers(t *testing.T) {
	fields := func(s string) *metav1.FieldsV1 { return &metav1.FieldsV1{Raw: []byte(s)} }
	live := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "x", "resourceVersion": "7",
			"annotations": map[string]any{lastAppliedAnnotation: "{}"}}}}
	live.SetManagedFields([]metav1.ManagedFieldsEntry{
		{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: fields(`{"f:data":{"f:a":{}}}`)},
		{Manager: "driftless", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: fields(`{"f:data":{"f:b":{}}}`)},
		{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", Subresource: "status", FieldsType: "FieldsV1",
			FieldsV1: fields(`{"f:status":{}}`)},
		{Manager: "hpa-controller", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: fields(`{"f:data":{"f:c":{}}}`)},
	})
	patch, taken, err := takeOverPatch(live, DefaultTakeOverManagers(), "driftless", "v1")
	require.NoError(t, err)
	assert.Equal(t, []string{"kubectl-client-side-apply", "annotation " + lastAppliedAnnotation}, taken)
	s := string(patch)
	assert.Contains(t, s, `{"op":"test","path":"/metadata/resourceVersion","value":"7"}`)
	assert.Contains(t, s, `"path":"/metadata/annotations/kubectl.kubernetes.io~1last-applied-configuration"`)

	entries, _, changed, err := mergeManagers(live.GetManagedFields(), DefaultTakeOverManagers(), "driftless", "v1")
	require.NoError(t, err)
	require.True(t, changed)
	require.Len(t, entries, 3, "kubectl's entry merged into ours; the subresource and controller entries stay")
	assert.Equal(t, "driftless", entries[0].Manager)
	assert.JSONEq(t, `{"f:data":{"f:a":{},"f:b":{}}}`, string(entries[0].FieldsV1.Raw))
	assert.Equal(t, "kubectl-edit", entries[1].Manager)
	assert.Equal(t, "hpa-controller", entries[2].Manager)

	local := takeOverLocally(live, taken, "driftless", "v1")
	assert.NotContains(t, local.GetAnnotations(), lastAppliedAnnotation)
	assert.Len(t, local.GetManagedFields(), 3)
	assert.Len(t, live.GetManagedFields(), 4, "the live object is not changed")

	nothing := live.DeepCopy()
	nothing.SetAnnotations(nil)
	nothing.SetManagedFields(live.GetManagedFields()[1:])
	patch, _, err = takeOverPatch(nothing, DefaultTakeOverManagers(), "driftless", "v1")
	require.NoError(t, err)
	assert.Nil(t, patch)
}

// FuzzParseObjectOptions: the annotation parser never panics, and what it accepts is
// consistent: a wave is the integer given, hooks always have a delete policy, plain
// objects none.
func FuzzParseObjectOptions(f *testing.F) {
	for _, seed := range [][4]string{
		{"1", "PreSync", "HookSucceeded", "Prune=false"},
		{"-3", "PreSync,PostSync", "before-hook-creation,hook-failed", "Replace=true,Force=true"},
		{"", "", "", ""},
		{"x", "Skip", "", "Recreate=true"},
		{" 7 ", "sync", "HOOKSUCCEEDED", "prune=confirm"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	f.Fuzz(func(t *testing.T, wave, hook, policy, options string) {
		ann := map[string]string{}
		for k, v := range map[string]string{AnnotationSyncWave: wave, argoHook: hook, AnnotationHookDeletePolicy: policy, argoSyncOptions: options} {
			if v != "" {
				ann[k] = v
			}
		}
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}}
		u.SetAnnotations(ann)
		o, err := parseObjectOptions(u)
		if err != nil {
			return
		}
		if wave != "" {
			w, err := strconv.Atoi(strings.TrimSpace(wave))
			require.NoError(t, err)
			assert.Equal(t, w, o.wave)
		}
		if len(o.phases) > 0 {
			assert.NotEmpty(t, o.deletePolicy)
		} else {
			assert.Empty(t, hook)
		}
	})
}
