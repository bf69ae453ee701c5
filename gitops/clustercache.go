package gitops

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// ClusterCache holds the live objects of the kinds an engine manages, kept current by
// list+watch, so a reconcile reads live state without API calls and drift arrives as an
// event.
type ClusterCache interface {
	// Watch starts watching the resources (idempotent) and returns once their initial
	// lists are in the cache.
	Watch(ctx context.Context, gvrs ...schema.GroupVersionResource) error
	// Get returns a copy of the cached object (nil when absent) and whether its resource
	// is watched at all.
	Get(gvr schema.GroupVersionResource, namespace, name string) (obj *unstructured.Unstructured, watched bool)
	// OnChange registers a handler called for every add, update and delete of a watched
	// object after the initial list. Handlers must not block.
	OnChange(handler func(ChangeEvent))
	// Stop ends every watch.
	Stop()
}

// ChangeEvent is one change seen by the ClusterCache.
type ChangeEvent struct {
	GVR     schema.GroupVersionResource
	Type    ChangeType
	Object  *unstructured.Unstructured // the new state, or the last known one for deletes
	Initial bool                       // part of the initial list, not a change
}

// ChangeType is the kind of change.
type ChangeType string

const (
	Added    ChangeType = "Added"
	Modified ChangeType = "Modified"
	Deleted  ChangeType = "Deleted"
)

// InformerCacheOptions tunes the default ClusterCache.
type InformerCacheOptions struct {
	// LabelSelector restricts the cache to matching objects (e.g. the engine's owner
	// label), which keeps memory proportional to what the engine manages.
	LabelSelector string
	// SyncTimeout bounds Watch's wait for an initial list (default 2 minutes).
	SyncTimeout time.Duration
}

// InformerCache is the default ClusterCache: one client-go dynamic informer per
// resource, cluster-wide.
type InformerCache struct {
	dyn  dynamic.Interface
	opts InformerCacheOptions

	mu        sync.Mutex
	informers map[schema.GroupVersionResource]cache.SharedIndexInformer
	handlers  []func(ChangeEvent)
	stop      chan struct{}
	stopped   bool
}

var _ ClusterCache = (*InformerCache)(nil)

// NewInformerCache returns a cache that watches through dyn.
func NewInformerCache(dyn dynamic.Interface, opts InformerCacheOptions) *InformerCache {
	if opts.SyncTimeout == 0 {
		opts.SyncTimeout = 2 * time.Minute
	}
	return &InformerCache{dyn: dyn, opts: opts, informers: map[schema.GroupVersionResource]cache.SharedIndexInformer{}, stop: make(chan struct{})}
}

func (c *InformerCache) Watch(ctx context.Context, gvrs ...schema.GroupVersionResource) error {
	var pending []cache.InformerSynced
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return fmt.Errorf("cluster cache is stopped")
	}
	for _, gvr := range gvrs {
		if inf, ok := c.informers[gvr]; ok {
			pending = append(pending, inf.HasSynced)
			continue
		}
		gi := dynamicinformer.NewFilteredDynamicInformer(c.dyn, gvr, metav1.NamespaceAll, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc},
			func(o *metav1.ListOptions) { o.LabelSelector = c.opts.LabelSelector })
		inf := gi.Informer()
		if _, err := inf.AddEventHandler(c.handlerFor(gvr)); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("watch %s: %w", gvr, err)
		}
		c.informers[gvr] = inf
		go inf.Run(c.stop)
		pending = append(pending, inf.HasSynced)
	}
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, c.opts.SyncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(ctx.Done(), pending...) {
		return fmt.Errorf("watch %v: initial list not complete: %w", gvrs, context.Cause(ctx))
	}
	return nil
}

func (c *InformerCache) handlerFor(gvr schema.GroupVersionResource) cache.ResourceEventHandler {
	emit := func(typ ChangeType, obj any, initial bool) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		u, ok := obj.(*unstructured.Unstructured)
		if !ok {
			return
		}
		c.mu.Lock()
		handlers := slices.Clone(c.handlers)
		c.mu.Unlock()
		for _, h := range handlers {
			h(ChangeEvent{GVR: gvr, Type: typ, Object: u.DeepCopy(), Initial: initial})
		}
	}
	return cache.ResourceEventHandlerDetailedFuncs{
		AddFunc:    func(obj any, initial bool) { emit(Added, obj, initial) },
		UpdateFunc: func(_, obj any) { emit(Modified, obj, false) },
		DeleteFunc: func(obj any) { emit(Deleted, obj, false) },
	}
}

func (c *InformerCache) Get(gvr schema.GroupVersionResource, namespace, name string) (*unstructured.Unstructured, bool) {
	c.mu.Lock()
	inf, ok := c.informers[gvr]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	key := name
	if namespace != "" {
		key = namespace + "/" + name
	}
	obj, exists, err := inf.GetStore().GetByKey(key)
	if err != nil || !exists {
		return nil, true
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, true
	}
	return u.DeepCopy(), true
}

func (c *InformerCache) OnChange(handler func(ChangeEvent)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.handlers = append(c.handlers, handler)
}

func (c *InformerCache) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.stopped {
		c.stopped = true
		close(c.stop)
	}
}
