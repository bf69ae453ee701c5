package gitopstest

import (
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/internal/fieldmanager"
)

var crdGVR = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// crdVersion is what the fake keeps of one served version of a CRD to treat its objects
// as the real server does: the structural schema for pruning and defaulting.
type crdVersion struct {
	structural      *structuralschema.Structural
	preserveUnknown bool
}

// defaultAndPrune drops fields the schema does not declare and applies its defaults,
// like the real server on every write of a custom resource.
func (v *crdVersion) defaultAndPrune(obj map[string]any) {
	if v == nil || v.structural == nil {
		return
	}
	if !v.preserveUnknown {
		structuralpruning.Prune(obj, v.structural, true)
	}
	structuraldefaulting.Default(obj, v.structural)
}

// crdResourceTypes derives the served resources of a CRD object, one per served
// version, each with the type converter the real server builds from the same schema.
func crdResourceTypes(obj map[string]any) ([]*resourceType, error) {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, crd); err != nil {
		return nil, fmt.Errorf("decode CustomResourceDefinition: %w", err)
	}
	if err := validateCRD(crd); err != nil {
		return nil, err
	}
	// The type converter the real server builds from the CRD's schema (the diff package
	// builds it the same way).
	_, converter, err := fieldmanager.CRDModels(crd)
	if err != nil {
		return nil, err
	}
	var out []*resourceType
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		rt := &resourceType{
			gvk:        gvk,
			resource:   crd.Spec.Names.Plural,
			listKind:   crd.Spec.Names.ListKind,
			namespaced: crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
			shortNames: crd.Spec.Names.ShortNames,
			categories: crd.Spec.Names.Categories,
			status:     v.Subresources != nil && v.Subresources.Status != nil,
			generation: true,
			custom:     true,
			converter:  converter,
			crd:        &crdVersion{preserveUnknown: crd.Spec.PreserveUnknownFields},
		}
		if rt.listKind == "" {
			rt.listKind = rt.gvk.Kind + "List"
		}
		if v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("CustomResourceDefinition %s version %s: convert schema: %w", crd.Name, v.Name, err)
			}
			s, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("CustomResourceDefinition %s version %s: schema is not structural: %w", crd.Name, v.Name, err)
			}
			rt.crd.structural = s
		}
		out = append(out, rt)
	}
	return out, nil
}

func validateCRD(crd *apiextensionsv1.CustomResourceDefinition) error {
	var problems []string
	n := crd.Spec.Names
	if crd.Spec.Group == "" {
		problems = append(problems, "spec.group: Required value")
	}
	if n.Plural == "" || n.Kind == "" {
		problems = append(problems, "spec.names: plural and kind are required")
	}
	if want := n.Plural + "." + crd.Spec.Group; crd.Name != want {
		problems = append(problems, fmt.Sprintf("metadata.name: Invalid value: %q: must be spec.names.plural+\".\"+spec.group (%q)", crd.Name, want))
	}
	if len(crd.Spec.Versions) == 0 {
		problems = append(problems, "spec.versions: Required value")
	}
	storage := 0
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			storage++
		}
		if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
			problems = append(problems, fmt.Sprintf("spec.versions[%s].schema.openAPIV3Schema: Required value", v.Name))
		}
	}
	if storage != 1 {
		problems = append(problems, "spec.versions: Invalid value: must have exactly one version marked as storage version")
	}
	if crd.Spec.Scope != apiextensionsv1.NamespaceScoped && crd.Spec.Scope != apiextensionsv1.ClusterScoped {
		problems = append(problems, fmt.Sprintf("spec.scope: Unsupported value: %q", crd.Spec.Scope))
	}
	if len(problems) > 0 {
		return fmt.Errorf("CustomResourceDefinition.apiextensions.k8s.io %q is invalid: %s", crd.Name, strings.Join(problems, ", "))
	}
	return nil
}

// crdStatus is what the real server's CRD controllers write: names accepted and the
// resource established, which the fake does at once.
func crdStatus(obj map[string]any, now metav1.Time) {
	spec, _ := obj["spec"].(map[string]any)
	names, _ := spec["names"].(map[string]any)
	accepted := runtime.DeepCopyJSONValue(names)
	if m, ok := accepted.(map[string]any); ok {
		if _, ok := m["listKind"]; !ok {
			m["listKind"] = fmt.Sprint(m["kind"]) + "List"
		}
		if _, ok := m["singular"]; !ok {
			m["singular"] = strings.ToLower(fmt.Sprint(m["kind"]))
		}
	}
	var stored []any
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		if vm, ok := v.(map[string]any); ok && vm["storage"] == true {
			stored = append(stored, vm["name"])
		}
	}
	ts := now.UTC().Format("2006-01-02T15:04:05Z")
	cond := func(typ, reason, msg string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "message": msg, "lastTransitionTime": ts}
	}
	obj["status"] = map[string]any{
		"acceptedNames":  accepted,
		"storedVersions": stored,
		"conditions": []any{
			cond("NamesAccepted", "NoConflicts", "no conflicts found"),
			cond("Established", "InitialNamesAccepted", "the initial names have been accepted"),
		},
	}
}
