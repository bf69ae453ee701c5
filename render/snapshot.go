package render

import (
	"context"
	"sync"

	"github.com/driftless-dev/driftless/source"
)

// snapshotMemoSize bounds the renders remembered by snapshot digest.
const snapshotMemoSize = 4096

// RenderSnapshot renders path inside a source Snapshot. A Snapshot's tree is read-only
// and its Digest names its content, so a render of a Snapshot with the same Digest,
// path and options is answered from memory without touching the filesystem; a cached
// render whose inputs the Snapshot's file index shows unchanged (a new revision that
// did not touch them) is too (see snapshot_index.go); otherwise it is Render on the
// Snapshot's Dir (and its content-keyed cache).
func (r *Renderer) RenderSnapshot(ctx context.Context, snap *source.Snapshot, path string, opts Options) (*Manifests, error) {
	rel, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	optsDigest, cacheable := opts.digest()
	memoable := r.cache != nil && cacheable && snap.Digest != ""
	key := snap.Digest + "\x00" + rel + "\x00" + optsDigest
	if memoable {
		if m, ok := r.snapshots.get(key); ok {
			r.renders.Add(1)
			r.hits.Add(1)
			return m, nil
		}
		if files := r.indexes.get(snap); files != nil {
			unchanged := func(set *InputSet) bool { return unchangedInIndex(set, files) }
			if m, ok := r.cached(renderTarget(rel, optsDigest), unchanged); ok {
				r.renders.Add(1)
				r.hits.Add(1)
				r.indexHits.Add(1)
				r.snapshots.put(key, m)
				return m, nil
			}
		}
	}
	m, err := r.Render(ctx, snap.Dir, path, opts)
	if err == nil && memoable {
		r.snapshots.put(key, m)
	}
	return m, err
}

// snapshotMemo maps snapshot digest + path + options to a render. It forgets
// everything when full: entries are cheap to rebuild from the content-keyed cache.
type snapshotMemo struct {
	mu sync.Mutex
	m  map[string]*Manifests
}

func (s *snapshotMemo) get(key string) (*Manifests, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.m[key]
	return m, ok
}

func (s *snapshotMemo) put(key string, m *Manifests) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= snapshotMemoSize {
		s.m = make(map[string]*Manifests)
	}
	s.m[key] = m
}
