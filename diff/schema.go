package diff

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsac "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// ErrUnknownSchema is wrapped by SchemaSource errors when no schema is known for a
// kind. The Differ then lets the Confirmer decide (or, without one, falls back to a
// schema-less merge and marks the verdict as a suspect).
var ErrUnknownSchema = errors.New("unknown schema")

// SchemaSource yields the structured-merge-diff type converter for a kind. It returns an
// error wrapping ErrUnknownSchema when it has none for gvk. Implementations must be safe
// for concurrent use.
type SchemaSource interface {
	TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error)
}

// SchemaDefaulter is an optional SchemaSource extension: the defaults the API server
// applies to a custom resource from its CRD's structural schema. It returns (nil, nil)
// when the kind has no schema defaults, and is never asked about built-in kinds (their
// defaults are Go code inside kube-apiserver; see defaults.go).
type SchemaDefaulter interface {
	Defaulter(ctx context.Context, gvk schema.GroupVersionKind) (DefaultFunc, error)
}

// DefaultFunc fills absent fields of obj (an object's content) with schema defaults.
type DefaultFunc func(obj map[string]any)

// UnknownSchemaError says that a SchemaSource has no schema for a kind.
type UnknownSchemaError struct {
	GVK    schema.GroupVersionKind
	Reason string
}

func (e *UnknownSchemaError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("%s: %s", ErrUnknownSchema, e.GVK)
	}
	return fmt.Sprintf("%s: %s: %s", ErrUnknownSchema, e.GVK, e.Reason)
}

// Unwrap makes errors.Is(err, ErrUnknownSchema) true.
func (e *UnknownSchemaError) Unwrap() error { return ErrUnknownSchema }

// builtins holds the schemas and Go types compiled into client-go and
// apiextensions-apiserver. It is immutable once built; building it parses a large
// embedded schema, so a process builds it once (like a compiled regexp).
type builtins struct {
	scheme *runtime.Scheme
	core   managedfields.TypeConverter
	ext    managedfields.TypeConverter
}

var loadBuiltins = sync.OnceValues(func() (*builtins, error) {
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("diff: build built-in scheme: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("diff: build built-in scheme: %w", err)
	}
	return &builtins{
		scheme: sch,
		core:   clientgoac.NewTypeConverter(sch),
		ext:    apiextensionsac.NewTypeConverter(sch),
	}, nil
})

// isBuiltin reports whether gvk is a kind whose Go type client-go (or
// apiextensions-apiserver, for CRDs) knows: the API server stores such objects as Go
// structs, which normalizes quantities and drops empty optional fields.
func (b *builtins) isBuiltin(gvk schema.GroupVersionKind) bool {
	return b.scheme.Recognizes(gvk)
}

func (b *builtins) converter(gvk schema.GroupVersionKind) managedfields.TypeConverter {
	switch {
	case !b.scheme.Recognizes(gvk):
		return nil
	case gvk.Group == apiextensionsv1.GroupName:
		return b.ext
	default:
		return b.core
	}
}

// StaticSchemas is the SchemaSource of the built-in kinds client-go ships (plus
// CustomResourceDefinition), for tests and offline use. It knows no custom resource
// unless CRDs are added to it with AddCRD.
type StaticSchemas struct {
	crds *CRDSchemas
}

var _ SchemaSource = (*StaticSchemas)(nil)
var _ SchemaDefaulter = (*StaticSchemas)(nil)

// NewStaticSchemas returns the built-in schemas compiled into client-go.
func NewStaticSchemas() *StaticSchemas {
	return &StaticSchemas{crds: NewCRDSchemas()}
}

// AddCRD teaches the source the custom resources of a CustomResourceDefinition
// (typed or unstructured), replacing what an earlier CRD of the same name taught it.
func (s *StaticSchemas) AddCRD(crd runtime.Object) error {
	return s.crds.Add(crd)
}

// TypeConverter implements SchemaSource.
func (s *StaticSchemas) TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	b, err := loadBuiltins()
	if err != nil {
		return nil, err
	}
	if tc := b.converter(gvk); tc != nil {
		return tc, nil
	}
	return s.crds.TypeConverter(ctx, gvk)
}

// Defaulter implements SchemaDefaulter for the CRDs added with AddCRD.
func (s *StaticSchemas) Defaulter(ctx context.Context, gvk schema.GroupVersionKind) (DefaultFunc, error) {
	return s.crds.Defaulter(ctx, gvk)
}
