package apply

import (
	"context"
	"fmt"
	"sync"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// listThreshold is the group size from which the live objects of one kind in one
// namespace are read with one List instead of a Get each.
const listThreshold = 4

// listPageSize bounds the objects of one List page.
const listPageSize = 1000

// listKey names the objects of one resource (in one version) in one namespace.
type listKey struct {
	gvr       schema.GroupVersionResource
	namespace string
}

// liveSet holds what the Lists of one kind group returned.
type liveSet struct {
	lists map[listKey]map[string]*unstructured.Unstructured
}

// prefetch lists the live objects of every kind and namespace with at least
// listThreshold objects in ts (one List each, several at once). A List that fails is
// left out: its objects are read with a Get each.
func (r *run) prefetch(ctx context.Context, ts []*target) *liveSet {
	ls := &liveSet{lists: map[listKey]map[string]*unstructured.Unstructured{}}
	if r.a.opts.Live != nil {
		return ls
	}
	counts := map[listKey]int{}
	var keys []listKey
	for _, t := range ts {
		if t.Hook {
			continue
		}
		k := listKey{gvr: t.mapping.Resource, namespace: t.ref.Namespace}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(r.a.opts.Concurrency)
	for _, k := range keys {
		if counts[k] < listThreshold {
			continue
		}
		g.Go(func() error {
			objs, err := listAll(ctx, r.a.resourceClient(k.gvr, k.namespace))
			if err != nil {
				logr.FromContextOrDiscard(ctx).V(1).Info("list failed, reading objects one by one",
					"resource", k.gvr.String(), "namespace", k.namespace, "error", err.Error())
				return nil
			}
			mu.Lock()
			ls.lists[k] = objs
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return ls
}

// listAll lists every object of one resource in one namespace, page by page.
func listAll(ctx context.Context, ri dynamic.ResourceInterface) (map[string]*unstructured.Unstructured, error) {
	out := map[string]*unstructured.Unstructured{}
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		list, err := ri.List(ctx, opts)
		if err != nil {
			return nil, err
		}
		for i := range list.Items {
			out[list.Items[i].GetName()] = &list.Items[i]
		}
		if list.GetContinue() == "" {
			return out, nil
		}
		opts.Continue = list.GetContinue()
	}
}

// live returns the live state of t (nil when it does not exist).
func (r *run) live(ctx context.Context, ls *liveSet, t *target) (*unstructured.Unstructured, error) {
	if r.a.opts.Live != nil {
		obj, err := r.a.opts.Live.Get(ctx, t.ref)
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return obj, err
	}
	if ls != nil {
		if objs, ok := ls.lists[listKey{gvr: t.mapping.Resource, namespace: t.ref.Namespace}]; ok {
			obj := objs[t.ref.Name]
			if obj != nil {
				obj.SetGroupVersionKind(t.ref.GroupVersionKind())
			}
			return obj, nil
		}
	}
	return r.get(ctx, t)
}

// get reads t from the server (nil when it does not exist).
func (r *run) get(ctx context.Context, t *target) (*unstructured.Unstructured, error) {
	obj, err := r.a.resource(t.mapping, t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, &ObjectError{Ref: t.ref, Op: "get", Err: err}
	}
	return obj, nil
}

// resource returns the client for a mapping's resource in namespace ns (ignored for
// cluster-scoped kinds).
func (a *Applier) resource(m *meta.RESTMapping, ns string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.client.Resource(m.Resource).Namespace(ns)
	}
	return a.client.Resource(m.Resource)
}

// resourceClient returns the client for gvr in namespace ns ("" for cluster-scoped).
func (a *Applier) resourceClient(gvr schema.GroupVersionResource, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return a.client.Resource(gvr)
	}
	return a.client.Resource(gvr).Namespace(ns)
}

// mappingFor maps a Ref (its version, else the preferred one).
func (a *Applier) mappingFor(ctx context.Context, ref Ref) (*meta.RESTMapping, error) {
	var versions []string
	if ref.Version != "" {
		versions = append(versions, ref.Version)
	}
	m, err := a.mapper.RESTMapping(ref.GroupKind(), versions...)
	if err != nil && ref.Version != "" {
		// the version may no longer be served: try the preferred one
		m, err = a.mapper.RESTMapping(ref.GroupKind())
	}
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", ref, err)
	}
	return m, nil
}
