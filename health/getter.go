package health

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// Getter reads the live state of one object for Wait. When the object does not exist it
// returns an error for which apierrors.IsNotFound is true (or, when the cluster does not
// serve the kind, one for which meta.IsNoMatchError is true); Wait reports both as Missing.
// A Getter backed by a watch cache makes Wait cost no API requests.
type Getter interface {
	Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error)
}

// DynamicGetter is a Getter over client-go's dynamic client, with a RESTMapper to find
// each kind's resource and scope.
type DynamicGetter struct {
	Client dynamic.Interface
	Mapper meta.RESTMapper
}

var _ Getter = DynamicGetter{}

// Get reads the object ref names, in ref.Version or the cluster's preferred version.
// When the kind is not mapped and the mapper can be reset (a deferred discovery
// mapper), it is reset so that a kind whose CRD is established meanwhile is found on
// the next call.
func (g DynamicGetter) Get(ctx context.Context, ref Ref) (*unstructured.Unstructured, error) {
	var versions []string
	if ref.Version != "" {
		versions = append(versions, ref.Version)
	}
	mapping, err := g.Mapper.RESTMapping(ref.GroupKind(), versions...)
	if err != nil {
		if r, ok := g.Mapper.(meta.ResettableRESTMapper); ok && meta.IsNoMatchError(err) {
			r.Reset()
		}
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	var client dynamic.ResourceInterface = g.Client.Resource(mapping.Resource)
	if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
		client = g.Client.Resource(mapping.Resource).Namespace(ref.Namespace)
	}
	obj, err := client.Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", ref, err)
	}
	return obj, nil
}
