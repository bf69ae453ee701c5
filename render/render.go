package render

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/go-logr/logr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
)

// cacheVersion changes whenever the meaning of a cache key changes.
const cacheVersion = "driftless-render-v1"

// Renderer renders kustomizations and caches the results by content. It is safe for
// concurrent use; one Renderer (and its cache) can serve every application.
type Renderer struct {
	cache   RenderCache
	fps     *fingerprints
	renders atomic.Int64
	hits    atomic.Int64
	// snapshots remembers renders of source Snapshots by their content digest.
	snapshots snapshotMemo
	indexes   snapshotIndexes
	indexHits atomic.Int64
	builds    atomic.Int64
	uncached  atomic.Int64
}

// RendererOptions configure a Renderer. The zero value caches in a new in-memory LRU
// of DefaultCacheEntries entries.
type RendererOptions struct {
	// Cache stores renders by the digest of their inputs. Nil: a new LRUCache.
	Cache RenderCache
	// DisableCache turns caching off: every Render runs kustomize.
	DisableCache bool
}

// Stats count what a Renderer did.
type Stats struct {
	// Renders is the number of Render calls.
	Renders int64
	// CacheHits is the number of renders answered from the cache.
	CacheHits int64
	// Builds is the number of kustomize builds run (a render can run two: see
	// openapi.go).
	Builds int64
	// Uncacheable is the number of renders that could not be cached (remote bases).
	Uncacheable int64
	// IndexHits counts the cache hits (included in CacheHits) on a new source
	// Snapshot validated by its file index, without reading a file.
	IndexHits int64
}

// NewRenderer returns a Renderer.
func NewRenderer(o RendererOptions) *Renderer {
	r := &Renderer{cache: o.Cache, fps: newFingerprints()}
	if r.cache == nil && !o.DisableCache {
		r.cache = NewLRUCache(LRUOptions{})
	}
	if o.DisableCache {
		r.cache = nil
	}
	return r
}

// Stats returns the counters so far.
func (r *Renderer) Stats() Stats {
	return Stats{Renders: r.renders.Load(), CacheHits: r.hits.Load(), Builds: r.builds.Load(), Uncacheable: r.uncached.Load(), IndexHits: r.indexHits.Load()}
}

// Render renders once, without a cache. See (*Renderer).Render.
func Render(ctx context.Context, root, path string, opts Options) (*Manifests, error) {
	return NewRenderer(RendererOptions{DisableCache: true}).Render(ctx, root, path, opts)
}

// Render builds the kustomization at path, a directory relative to root (a checkout,
// or a Snapshot's Dir), reading nothing outside root. A directory without a
// kustomization renders as its YAML files (see autodetect.go). The result is, byte
// for byte, what `kustomize build` prints for the same directory (before
// substitution and decryption, which change it only when they apply), then
// validated.
//
// A cached result is returned when every file, directory listing and existence
// check the previous render of the same path and options made still observes the
// same content; the returned Manifests may be shared and must not be modified.
func (r *Renderer) Render(ctx context.Context, root, path string, opts Options) (*Manifests, error) {
	r.renders.Add(1)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rel, err := cleanPath(path)
	if err != nil {
		return nil, err
	}
	optsDigest, cacheable := opts.digest()
	salt := targetSalt(rel, optsDigest)
	target := renderTarget(rel, optsDigest)
	if r.cache != nil && cacheable {
		// Validation needs no symlink-free root: every input is checked by the
		// identity of the file it names now.
		if absRoot, err := filepath.Abs(root); err == nil {
			m, ok := r.cached(target, func(set *InputSet) bool { return unchangedFast(absRoot, set, r.fps) })
			if ok {
				r.hits.Add(1)
				if log := logr.FromContextOrDiscard(ctx).V(1); log.Enabled() {
					log.Info("render cache hit", "root", root, "path", rel, "digest", m.Digest)
				}
				return m, nil
			}
		}
	}
	absRoot, err := cleanRoot(root)
	if err != nil {
		return nil, err
	}
	m, rec, err := r.build(ctx, absRoot, rel, opts)
	if err != nil {
		return nil, err
	}
	switch {
	case rec.uncacheable || !cacheable:
		r.uncached.Add(1)
	case r.cache != nil:
		r.cache.Add(target, rec.set(salt), m)
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("rendered", "root", root, "path", rel, "objects", len(m.Objects), "digest", m.Digest)
	return m, nil
}

// cached returns a cached render of target whose inputs unchanged accepts.
func (r *Renderer) cached(target string, unchanged func(*InputSet) bool) (*Manifests, bool) {
	for _, set := range r.cache.Candidates(target) {
		if m, ok := r.cache.Get(set.Key); ok && unchanged(set) {
			return m, true
		}
	}
	return nil, false
}

// targetSalt is what keys a render besides its inputs: the cache version, the path
// and the options.
func targetSalt(rel, optsDigest string) string {
	return cacheVersion + "\x00" + rel + "\x00" + optsDigest
}

// renderTarget is the cache target of a render: its path and options.
func renderTarget(rel, optsDigest string) string {
	sum := sha256.Sum256([]byte(targetSalt(rel, optsDigest)))
	return hex.EncodeToString(sum[:])
}

// cleanRoot returns root absolute and symlink-free, checking it is a directory.
func cleanRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("render: root %s: %w", root, err)
	}
	abs, err = filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("render: root %s: %w", root, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("render: root %s is not a directory", root)
	}
	return abs, nil
}

// cleanPath checks that p is a relative path that stays inside the root.
func cleanPath(p string) (string, error) {
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return "", &ConstraintError{Op: "render", Path: p, Err: ErrAbsolutePath}
	}
	rel := path.Clean(filepath.ToSlash(p))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", &ConstraintError{Op: "render", Path: p, Err: ErrOutsideRoot}
	}
	return rel, nil
}

// build runs kustomize on a fresh sandbox and post-processes the result.
func (r *Renderer) build(ctx context.Context, root, rel string, opts Options) (*Manifests, *recorder, error) {
	rec := newRecorder()
	s, err := openSandbox(root, rec)
	if err != nil {
		return nil, nil, err
	}
	defer s.Close()
	if r.cache != nil {
		s.fps = r.fps
	}
	if opts.AllowRemoteBases {
		s.remote = newRemoteClones()
	}
	fi, err := s.stat(rel)
	if err != nil {
		return nil, nil, fmt.Errorf("render %s: %w", rel, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("render %s: not a directory", rel)
	}
	// kustomize works on symlink-free paths: so does the rest of the render (the
	// autodetected kustomization must sit where kustomize will look for it).
	if rel, err = s.resolve(opResolve, rel); err != nil {
		return nil, nil, err
	}
	if !s.hasKustomization(rel) {
		k, err := s.autodetect(rel)
		if err != nil {
			return nil, nil, fmt.Errorf("render %s: autodetect: %w", rel, err)
		}
		s.virtual = map[string][]byte{joinRel(rel, kustomizationFileNames[0]): k}
	}
	sc := &refScan{s: s, allowRemote: opts.AllowRemoteBases, visited: map[string]bool{}}
	if err := sc.scan(rel); err != nil {
		return nil, nil, err
	}
	resm, err := r.kustomize(s, rel, opts, sc.openapi)
	if s.remote != nil && (s.remote.used || sc.remote) {
		rec.uncacheable = true
	}
	if err != nil {
		var ce *ConstraintError
		if errors.As(err, &ce) {
			return nil, nil, ce
		}
		return nil, nil, fmt.Errorf("render %s: %w", rel, err)
	}
	m, err := postProcess(ctx, resm, opts)
	if err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.addSources(r.origins(s, rel, opts, sc.openapi))
			ve.Path = rel
		}
		return nil, nil, err
	}
	return m, rec, nil
}

// kustomize runs krusty on the sandbox with the kustomize CLI's defaults (legacy
// output order, root-only load restrictions) and plugins off: builtin generators
// and transformers only, no exec or container functions, no Helm.
func (r *Renderer) kustomize(s *sandboxFS, rel string, opts Options, exclusive bool) (resmap.ResMap, error) {
	kopts := krusty.MakeDefaultOptions()
	kopts.Reorder = krusty.ReorderOptionUnspecified
	if opts.LoadRestrictionsNone {
		kopts.LoadRestrictions = types.LoadRestrictionsNone
	}
	kopts.PluginConfig = types.DisabledPluginConfig()
	var m resmap.ResMap
	run := func() error {
		r.builds.Add(1)
		var err error
		m, err = krusty.MakeKustomizer(kopts).Run(s, s.abs(rel))
		return err
	}
	if exclusive {
		return m, withExclusiveSchema(run)
	}
	needsExclusive := false
	s.onKustomization = func(_ string, data []byte) error {
		if setsOpenAPI(data) {
			needsExclusive = true
			return errNeedsExclusiveSchema
		}
		return nil
	}
	err := withSharedSchema(run)
	s.onKustomization = nil
	if needsExclusive {
		err = withExclusiveSchema(run)
	}
	return m, err
}
