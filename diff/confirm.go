package diff

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Confirmer asks the API server for the result of a server-side apply of one object
// without persisting it (a dry run, forced, as fieldManager). The Differ uses it only
// for suspects: unknown schemas, drift the server may normalize away, strict mode.
type Confirmer interface {
	DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error)
}

// ServerConfirmer is the Confirmer over client-go's dynamic client and a RESTMapper.
type ServerConfirmer struct {
	Client dynamic.Interface
	Mapper meta.RESTMapper
}

var _ Confirmer = (*ServerConfirmer)(nil)

// NewServerConfirmer returns a Confirmer that dry-runs applies against a server.
func NewServerConfirmer(client dynamic.Interface, mapper meta.RESTMapper) *ServerConfirmer {
	return &ServerConfirmer{Client: client, Mapper: mapper}
}

// DryRunApply implements Confirmer: PATCH application/apply-patch+yaml with
// dryRun=All and force=true.
func (c *ServerConfirmer) DryRunApply(ctx context.Context, obj *unstructured.Unstructured, fieldManager string) (*unstructured.Unstructured, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		if rm, ok := c.Mapper.(meta.ResettableRESTMapper); ok {
			rm.Reset()
			m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		}
		if err != nil {
			return nil, fmt.Errorf("diff: dry-run apply %s: map kind: %w", describe(obj), err)
		}
	}
	var ri dynamic.ResourceInterface = c.Client.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.Client.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("diff: dry-run apply %s: encode: %w", describe(obj), err)
	}
	force := true
	out, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{
		DryRun: []string{metav1.DryRunAll}, Force: &force, FieldManager: fieldManager,
	})
	if err != nil {
		return nil, fmt.Errorf("diff: dry-run apply %s: %w", describe(obj), err)
	}
	return out, nil
}
