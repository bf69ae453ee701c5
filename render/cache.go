package render

import (
	"container/list"
	"sync"
)

// RenderCache stores rendered Manifests by the digest of everything the render read.
//
// A render of a path with given options first asks for the input sets earlier renders
// of the same target recorded (Candidates), checks each against the files as they are
// now, and on a match takes the Manifests stored under that set's key (Get). A change
// to an input of app A changes only A's key, so app B's entry stays valid.
// Implementations must be safe for concurrent use.
type RenderCache interface {
	// Candidates returns the input sets recorded for target, newest first.
	Candidates(target string) []*InputSet
	// Get returns the Manifests stored under key (an InputSet's Key).
	Get(key string) (*Manifests, bool)
	// Add stores m under inputs.Key and records inputs as a candidate of target.
	Add(target string, inputs *InputSet, m *Manifests)
}

// Cache defaults.
const (
	// DefaultCacheEntries bounds an LRUCache's number of entries.
	DefaultCacheEntries = 1024
	// DefaultCacheBytes bounds the estimated memory an LRUCache's Manifests hold.
	DefaultCacheBytes = 512 << 20
	// candidatesPerTarget bounds the input sets kept per target (a path rendered
	// from several revisions at once).
	candidatesPerTarget = 4
)

// LRUOptions bound an LRUCache. Zero values take the defaults.
type LRUOptions struct {
	// MaxEntries bounds the number of stored renders. Default DefaultCacheEntries.
	MaxEntries int
	// MaxBytes bounds the estimated memory of the stored Manifests. Default
	// DefaultCacheBytes.
	MaxBytes int64
}

// LRUCache is the default RenderCache: in memory, bounded by entries and bytes,
// evicting the least recently used render first.
type LRUCache struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	bytes      int64
	ll         *list.List // of *lruEntry, front = most recent
	results    map[string]*list.Element
	targets    map[string][]*InputSet
}

var _ RenderCache = (*LRUCache)(nil)

type lruEntry struct {
	key    string
	target string
	m      *Manifests
	size   int64
}

// NewLRUCache returns an empty LRUCache.
func NewLRUCache(o LRUOptions) *LRUCache {
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultCacheEntries
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultCacheBytes
	}
	return &LRUCache{
		maxEntries: o.MaxEntries,
		maxBytes:   o.MaxBytes,
		ll:         list.New(),
		results:    map[string]*list.Element{},
		targets:    map[string][]*InputSet{},
	}
}

// Candidates implements RenderCache.
func (c *LRUCache) Candidates(target string) []*InputSet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*InputSet(nil), c.targets[target]...)
}

// Get implements RenderCache.
func (c *LRUCache) Get(key string) (*Manifests, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.results[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(e)
	return e.Value.(*lruEntry).m, true
}

// Add implements RenderCache.
func (c *LRUCache) Add(target string, inputs *InputSet, m *Manifests) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sets := []*InputSet{inputs}
	for _, s := range c.targets[target] {
		if s.Key != inputs.Key && len(sets) < candidatesPerTarget {
			sets = append(sets, s)
		}
	}
	c.targets[target] = sets
	if e, ok := c.results[inputs.Key]; ok {
		c.ll.MoveToFront(e)
		return
	}
	size := m.size()
	c.results[inputs.Key] = c.ll.PushFront(&lruEntry{key: inputs.Key, target: target, m: m, size: size})
	c.bytes += size
	for c.ll.Len() > c.maxEntries || (c.bytes > c.maxBytes && c.ll.Len() > 1) {
		c.evict(c.ll.Back())
	}
}

// Len returns the number of stored renders.
func (c *LRUCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func (c *LRUCache) evict(e *list.Element) {
	ent := c.ll.Remove(e).(*lruEntry)
	delete(c.results, ent.key)
	c.bytes -= ent.size
	sets := c.targets[ent.target][:0:0]
	for _, s := range c.targets[ent.target] {
		if s.Key != ent.key {
			sets = append(sets, s)
		}
	}
	if len(sets) == 0 {
		delete(c.targets, ent.target)
	} else {
		c.targets[ent.target] = sets
	}
}
