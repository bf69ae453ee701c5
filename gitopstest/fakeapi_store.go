package gitopstest

import (
	"sort"
	"strconv"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
)

// maxEvents is how many events the store keeps for watches that resume from a
// resourceVersion; older ones get 410 Gone, like etcd compaction on a real server.
const maxEvents = 20000

type nsName struct{ namespace, name string }

// storeEvent is one change, as a watch delivers it. obj is never mutated after the
// event is recorded.
type storeEvent struct {
	rv        int64
	gvr       schema.GroupVersionResource
	namespace string
	typ       watch.EventType
	obj       map[string]any
}

// store keeps objects as unstructured content with one resourceVersion counter for the
// whole server, and an event log that watches follow. Stored maps are immutable: every
// write stores a fresh map, every read hands out a deep copy.
//
// Writers hold mu for their whole read-modify-write, so each write sees the result of
// the previous one, as with etcd's guaranteed updates.
type store struct {
	mu      sync.RWMutex
	rv      int64
	objects map[schema.GroupVersionResource]map[nsName]map[string]any
	events  []storeEvent
	// changed is closed and replaced whenever an event is recorded; watches wait on it.
	changed chan struct{}
}

func newStore() *store {
	return &store{
		rv:      1,
		objects: map[schema.GroupVersionResource]map[nsName]map[string]any{},
		changed: make(chan struct{}),
	}
}

// get returns the stored object or nil. The caller must hold mu and must not mutate it.
func (s *store) get(gvr schema.GroupVersionResource, ns, name string) map[string]any {
	return s.objects[gvr][nsName{ns, name}]
}

// put stores obj (taking ownership of it), stamps a new resourceVersion and records
// an event. The caller must hold mu for writing.
func (s *store) put(gvr schema.GroupVersionResource, ns, name string, obj map[string]any, typ watch.EventType) int64 {
	s.rv++
	setResourceVersion(obj, s.rv)
	m := s.objects[gvr]
	if m == nil {
		m = map[nsName]map[string]any{}
		s.objects[gvr] = m
	}
	m[nsName{ns, name}] = obj
	s.record(storeEvent{rv: s.rv, gvr: gvr, namespace: ns, typ: typ, obj: obj})
	return s.rv
}

// remove deletes an object and records a DELETED event carrying its final state.
func (s *store) remove(gvr schema.GroupVersionResource, ns, name string) map[string]any {
	old := s.get(gvr, ns, name)
	if old == nil {
		return nil
	}
	delete(s.objects[gvr], nsName{ns, name})
	s.rv++
	final := runtime.DeepCopyJSON(old)
	setResourceVersion(final, s.rv)
	s.record(storeEvent{rv: s.rv, gvr: gvr, namespace: ns, typ: watch.Deleted, obj: final})
	return final
}

// dropResource forgets every object of a resource without events (its CRD is gone,
// and so are its watches' endpoint).
func (s *store) dropResource(gvr schema.GroupVersionResource) {
	delete(s.objects, gvr)
}

func (s *store) record(ev storeEvent) {
	s.events = append(s.events, ev)
	if len(s.events) > 2*maxEvents {
		s.events = append([]storeEvent(nil), s.events[len(s.events)-maxEvents:]...)
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// list returns deep copies of the objects of a resource (in one namespace, or all when
// ns is empty) that match, sorted by namespace and name, and the current
// resourceVersion. The caller must hold mu for reading.
func (s *store) list(gvr schema.GroupVersionResource, ns string, match func(map[string]any) bool) ([]map[string]any, int64) {
	keys := make([]nsName, 0, len(s.objects[gvr]))
	for k := range s.objects[gvr] {
		if ns == "" || k.namespace == ns {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].namespace != keys[j].namespace {
			return keys[i].namespace < keys[j].namespace
		}
		return keys[i].name < keys[j].name
	})
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		obj := s.objects[gvr][k]
		if match == nil || match(obj) {
			out = append(out, runtime.DeepCopyJSON(obj))
		}
	}
	return out, s.rv
}

// eventsSince returns the recorded events after rv for one resource (and namespace,
// unless empty), whether rv is older than the log keeps, and a channel closed at the
// next event.
func (s *store) eventsSince(rv int64, gvr schema.GroupVersionResource, ns string) (evs []storeEvent, gone bool, next <-chan struct{}) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(s.events) > 0 && rv < s.events[0].rv-1 {
		return nil, true, s.changed
	}
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].rv > rv })
	for ; i < len(s.events); i++ {
		ev := s.events[i]
		if ev.gvr == gvr && (ns == "" || ev.namespace == ns) {
			evs = append(evs, ev)
		}
	}
	return evs, false, s.changed
}

func setResourceVersion(obj map[string]any, rv int64) {
	md, _ := obj["metadata"].(map[string]any)
	if md == nil {
		md = map[string]any{}
		obj["metadata"] = md
	}
	md["resourceVersion"] = strconv.FormatInt(rv, 10)
}
