package fieldmanager

import (
	"fmt"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// metaDefinitions are the apimachinery definitions (ObjectMeta and friends) a CRD's
// OpenAPI refers to. Immutable once built.
var metaDefinitions = sync.OnceValue(func() map[string]*spec.Schema {
	out := map[string]*spec.Schema{}
	ref := func(path string) spec.Ref {
		return spec.MustCreateRef("#/components/schemas/" + util.ToRESTFriendlyName(path))
	}
	for name, def := range generatedopenapi.GetOpenAPIDefinitions(common.ReferenceCallback(ref)) {
		s := def.Schema
		out[util.ToRESTFriendlyName(name)] = &s
	}
	return out
})

// CRDModels returns the OpenAPI models the API server builds for a CRD's served
// versions (the apiextensions builder's output merged over the metadata definitions)
// and the type converter it derives from them for server-side apply.
func CRDModels(crd *apiextensionsv1.CustomResourceDefinition) (map[string]*spec.Schema, managedfields.TypeConverter, error) {
	specs := []*spec3.OpenAPI{{Version: "3.0.0", Components: &spec3.Components{Schemas: metaDefinitions()}}}
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		s, err := builder.BuildOpenAPIV3(crd, v.Name, builder.Options{})
		if err != nil {
			return nil, nil, fmt.Errorf("CustomResourceDefinition %s version %s: build OpenAPI: %w", crd.Name, v.Name, err)
		}
		specs = append(specs, s)
	}
	merged, err := builder.MergeSpecsV3(specs...)
	if err != nil {
		return nil, nil, fmt.Errorf("CustomResourceDefinition %s: merge OpenAPI: %w", crd.Name, err)
	}
	tc, err := managedfields.NewTypeConverter(merged.Components.Schemas, crd.Spec.PreserveUnknownFields)
	if err != nil {
		return nil, nil, fmt.Errorf("CustomResourceDefinition %s: build type converter: %w", crd.Name, err)
	}
	return merged.Components.Schemas, tc, nil
}
