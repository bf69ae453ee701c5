package diff

import (
	"context"
	"fmt"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/driftless-dev/driftless/internal/fieldmanager"
)

// CRDSchemas is a SchemaSource built from CustomResourceDefinition objects rather than
// from a server: the same OpenAPI the API server derives from a CRD, so custom resources
// can be diffed offline (for instance when the CRD is part of the rendered manifests,
// or against an API server that does not serve /openapi/v3).
type CRDSchemas struct {
	mu    sync.RWMutex
	kinds map[schema.GroupVersionKind]*kindSchema
	byCRD map[string][]schema.GroupVersionKind
}

// kindSchema is what a schema source knows of one kind.
type kindSchema struct {
	converter managedfields.TypeConverter
	defaulter DefaultFunc
}

var _ SchemaSource = (*CRDSchemas)(nil)
var _ SchemaDefaulter = (*CRDSchemas)(nil)

// NewCRDSchemas returns an empty CRDSchemas.
func NewCRDSchemas() *CRDSchemas {
	return &CRDSchemas{kinds: map[schema.GroupVersionKind]*kindSchema{}, byCRD: map[string][]schema.GroupVersionKind{}}
}

// Add learns (or relearns) the served versions of a CustomResourceDefinition, given as
// *apiextensionsv1.CustomResourceDefinition or *unstructured.Unstructured.
func (c *CRDSchemas) Add(obj runtime.Object) error {
	crd, err := toCRD(obj)
	if err != nil {
		return err
	}
	if crd.Spec.Group == "" || crd.Spec.Names.Kind == "" || len(crd.Spec.Versions) == 0 {
		return fmt.Errorf("diff: CustomResourceDefinition %s: spec.group, spec.names.kind and spec.versions are required", crd.Name)
	}
	kinds, err := crdKinds(crd)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, gvk := range c.byCRD[crd.Name] {
		delete(c.kinds, gvk)
	}
	names := make([]schema.GroupVersionKind, 0, len(kinds))
	for gvk, ks := range kinds {
		c.kinds[gvk] = ks
		names = append(names, gvk)
	}
	c.byCRD[crd.Name] = names
	return nil
}

// Remove forgets the kinds of the CRD named name.
func (c *CRDSchemas) Remove(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, gvk := range c.byCRD[name] {
		delete(c.kinds, gvk)
	}
	delete(c.byCRD, name)
}

// TypeConverter implements SchemaSource.
func (c *CRDSchemas) TypeConverter(_ context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	c.mu.RLock()
	ks := c.kinds[gvk]
	c.mu.RUnlock()
	if ks == nil {
		return nil, &UnknownSchemaError{GVK: gvk, Reason: "no CustomResourceDefinition serves it"}
	}
	return ks.converter, nil
}

// Defaulter implements SchemaDefaulter.
func (c *CRDSchemas) Defaulter(_ context.Context, gvk schema.GroupVersionKind) (DefaultFunc, error) {
	c.mu.RLock()
	ks := c.kinds[gvk]
	c.mu.RUnlock()
	if ks == nil {
		return nil, nil
	}
	return ks.defaulter, nil
}

func toCRD(obj runtime.Object) (*apiextensionsv1.CustomResourceDefinition, error) {
	switch o := obj.(type) {
	case *apiextensionsv1.CustomResourceDefinition:
		return o, nil
	case *unstructured.Unstructured:
		if gk := o.GroupVersionKind().GroupKind(); gk != apiextensionsv1.Kind("CustomResourceDefinition") {
			return nil, fmt.Errorf("diff: %s is not a CustomResourceDefinition", describe(o))
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, crd); err != nil {
			return nil, fmt.Errorf("diff: decode CustomResourceDefinition %s: %w", o.GetName(), err)
		}
		return crd, nil
	default:
		return nil, fmt.Errorf("diff: %T is not a CustomResourceDefinition", obj)
	}
}

// crdKinds builds, for each served version of crd, the type converter and defaulter the
// API server derives from the same schema.
func crdKinds(crd *apiextensionsv1.CustomResourceDefinition) (map[schema.GroupVersionKind]*kindSchema, error) {
	models, tc, err := fieldmanager.CRDModels(crd)
	if err != nil {
		return nil, fmt.Errorf("diff: %w", err)
	}
	roots := indexKinds(models)
	out := map[schema.GroupVersionKind]*kindSchema{}
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		gvk := schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}
		ks := &kindSchema{converter: tc}
		if root := roots[gvk]; root != nil {
			ks.defaulter = newSchemaDefaulter(root)
		}
		out[gvk] = ks
	}
	return out, nil
}
