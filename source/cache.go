package source

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
)

// Defaults applied by NewDiskCache to zero CacheOptions fields.
const (
	// DefaultMaxAge: a mirror or snapshot unused for a day is evicted.
	DefaultMaxAge = 24 * time.Hour
	// DefaultEvictInterval: eviction runs at most once a minute on its own.
	DefaultEvictInterval = time.Minute
	// DefaultObjectCacheSize bounds go-git's decoded-object cache per open mirror
	// (go-git's own default is 96 MiB, which dominates the memory of a fetch).
	DefaultObjectCacheSize = 8 << 20
)

// CacheOptions configures a DiskCache. The zero value is a cache under the user's
// cache directory with no size limit that evicts what has been unused for a day.
type CacheOptions struct {
	// Dir is the cache's root. Default: $XDG_CACHE_HOME/driftless/source (or the
	// platform's user cache directory).
	Dir string
	// MaxSize, when positive, is the byte budget for mirrors and snapshots together.
	// Eviction removes the least recently used snapshots, then mirrors, until the cache
	// fits. Snapshots in use (not yet Closed, in any process) are never removed.
	MaxSize int64
	// MaxAge is how long a mirror or snapshot may stay unused before eviction removes
	// it. Zero means DefaultMaxAge; negative means never by age.
	MaxAge time.Duration
	// EvictInterval is the least time between two evictions the cache runs on its own
	// (after it creates a snapshot). Zero means DefaultEvictInterval; negative means
	// only when Evict is called.
	EvictInterval time.Duration
	// ObjectCacheSize bounds go-git's object cache per open mirror, in bytes. Zero
	// means DefaultObjectCacheSize.
	ObjectCacheSize int64
}

// DiskCache is the default SourceCache: one bare mirror per repository URL, updated
// by incremental fetch, and read-only snapshot trees per revision beside it. It is
// safe for concurrent use by many goroutines and by several processes sharing Dir:
// every mirror and snapshot is guarded by a file lock (exclusive to fetch or evict,
// shared to read or to hold a snapshot).
//
// Layout under Dir:
//
//	mirrors/<key>/                  bare mirror of one repository URL
//	snapshots/<key>/<id>/tree/      read-only tree of one revision (+ ignore options)
//	snapshots/<key>/<id>/meta.json  revision, digest, size; its mtime is the last use
//	locks/...                       the lock files
//	tmp/                            snapshots being built, then renamed into place
type DiskCache struct {
	root string
	opts CacheOptions

	build singleflight.Group // one build per snapshot in this process

	mu        sync.Mutex // guards lastEvict
	lastEvict time.Time
}

// NewDiskCache creates (if needed) and opens a cache.
func NewDiskCache(opts CacheOptions) (*DiskCache, error) {
	if opts.Dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("source: cache directory: %w", err)
		}
		opts.Dir = filepath.Join(base, "driftless", "source")
	}
	if opts.MaxAge == 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.EvictInterval == 0 {
		opts.EvictInterval = DefaultEvictInterval
	}
	if opts.ObjectCacheSize <= 0 {
		opts.ObjectCacheSize = DefaultObjectCacheSize
	}
	root, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("source: cache directory %s: %w", opts.Dir, err)
	}
	for _, d := range []string{"mirrors", "snapshots", "locks", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("source: cache directory: %w", err)
		}
	}
	return &DiskCache{root: root, opts: opts}, nil
}

// Dir is the cache's root directory.
func (c *DiskCache) Dir() string { return c.root }

// MirrorDir is where the bare mirror of repo lives (it may not exist yet).
func (c *DiskCache) MirrorDir(repo Repository) (string, error) {
	u, err := mirrorKeyURL(repo)
	if err != nil {
		return "", err
	}
	return c.mirrorDir(cacheKey(u)), nil
}

func (c *DiskCache) mirrorDir(key string) string { return filepath.Join(c.root, "mirrors", key) }
func (c *DiskCache) mirrorLock(key string) string {
	return filepath.Join(c.root, "locks", "mirrors", key+".lock")
}
func (c *DiskCache) snapDir(key, id string) string {
	return filepath.Join(c.root, "snapshots", key, id)
}
func (c *DiskCache) snapLock(key, id string) string {
	return filepath.Join(c.root, "locks", "snapshots", key, id+".lock")
}

// cacheKey names a repository on disk: readable host/path, then a hash of the URL so
// that distinct URLs never collide.
func cacheKey(u string) string {
	sum := sha256.Sum256([]byte(u))
	readable := u
	if i := strings.Index(readable, "://"); i >= 0 {
		readable = readable[i+3:]
	}
	if i := strings.LastIndex(readable, "@"); i >= 0 {
		readable = readable[i+1:]
	}
	readable = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, strings.TrimSuffix(readable, ".git"))
	readable = strings.Trim(readable, "_.")
	if len(readable) > 48 {
		readable = readable[len(readable)-48:]
	}
	return readable + "-" + hex.EncodeToString(sum[:8])
}

// snapshotID names one snapshot of a repository: the revision, and a hash of the
// ignore options (the same commit with other options is another tree).
func snapshotID(rev string, ignore []string) string {
	h := sha256.New()
	for _, p := range ignore {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rev + "-" + hex.EncodeToString(h.Sum(nil)[:6])
}

// meta is a snapshot's metadata file.
type meta struct {
	Revision Revision  `json:"revision"`
	Digest   string    `json:"digest"`
	Files    int       `json:"files"`
	Bytes    int64     `json:"bytes"`
	Source   string    `json:"source"`
	Created  time.Time `json:"created"`
}

// Checkout implements SourceCache.
func (c *DiskCache) Checkout(ctx context.Context, repo Repository, rev Revision, ref string) (*Snapshot, error) {
	rev = Revision(strings.ToLower(string(rev)))
	if !isCommitID(string(rev)) {
		return nil, newError("checkout", &repo, string(rev), ErrInvalid, errors.New("want a full commit ID"))
	}
	u, err := mirrorKeyURL(repo)
	if err != nil {
		return nil, err
	}
	key, id := cacheKey(u), snapshotID(string(rev), repo.Ignore)
	if repo.VerifyKeyring != "" {
		if err := c.verify(ctx, repo, key, rev, ref); err != nil {
			return nil, err
		}
	}
	for attempt := 0; attempt < 3; attempt++ {
		snap, err := c.hold(ctx, key, id)
		if err != nil {
			return nil, newError("checkout", &repo, string(rev), ErrOther, err)
		}
		if snap != nil {
			c.touch(c.mirrorDir(key))
			return snap, nil
		}
		commit, lk, err := c.mirrorCommit(ctx, repo, key, rev, ref)
		if err != nil {
			return nil, newError("fetch", &repo, string(rev), nil, err)
		}
		_, err, _ = c.build.Do(key+"/"+id, func() (any, error) {
			return nil, c.buildGit(ctx, repo, key, id, commit)
		})
		_ = lk.release()
		if err != nil {
			return nil, newError("checkout", &repo, string(rev), nil, err)
		}
		c.maybeEvict(ctx)
	}
	return nil, newError("checkout", &repo, string(rev), ErrOther, errors.New("snapshot evicted as soon as it was built; is MaxSize too small?"))
}

// CheckoutDir implements SourceCache: it copies the kept files of dir into a
// read-only snapshot keyed by their digest. Revision is the digest.
func (c *DiskCache) CheckoutDir(ctx context.Context, dir string, opts LocalOptions) (*Snapshot, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, &Error{Op: "snapshot", Repo: dir, Kind: ErrInvalid, Err: err}
	}
	if info, err := os.Stat(abs); err != nil || !info.IsDir() {
		if err == nil {
			err = errors.New("not a directory")
		}
		return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrInvalid, Err: err}
	}
	key := "local-" + cacheKey(abs)
	for attempt := 0; attempt < 3; attempt++ {
		tmp, err := os.MkdirTemp(filepath.Join(c.root, "tmp"), "local-")
		if err != nil {
			return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrOther, Err: err}
		}
		stats, err := writeLocalTree(ctx, abs, filepath.Join(tmp, "tree"), opts)
		if err != nil {
			_ = removeTree(tmp)
			return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrOther, Err: err}
		}
		id := strings.TrimPrefix(stats.digest, "sha256:")[:40]
		m := meta{Revision: Revision(stats.digest), Digest: stats.digest, Files: stats.files, Bytes: stats.bytes, Source: abs, Created: time.Now().UTC()}
		if err := c.publish(tmp, c.snapDir(key, id), m); err != nil {
			return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrOther, Err: err}
		}
		snap, err := c.hold(ctx, key, id)
		if err != nil {
			return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrOther, Err: err}
		}
		if snap != nil {
			c.maybeEvict(ctx)
			return snap, nil
		}
	}
	return nil, &Error{Op: "snapshot", Repo: abs, Kind: ErrOther, Err: errors.New("snapshot evicted as soon as it was built")}
}

// hold takes a shared hold on a snapshot and returns it, or nil when the snapshot does
// not exist. The hold keeps eviction away until Snapshot.Close.
func (c *DiskCache) hold(ctx context.Context, key, id string) (*Snapshot, error) {
	dir := c.snapDir(key, id)
	if _, err := os.Stat(filepath.Join(dir, "meta.json")); errors.Is(err, fs.ErrNotExist) {
		return nil, nil // not built: skip the lock
	}
	lk, err := acquire(ctx, c.snapLock(key, id), true)
	if err != nil {
		return nil, err
	}
	m, err := readMeta(filepath.Join(dir, "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, lk.release() // evicted before we got the lock
	}
	if err != nil {
		return nil, errors.Join(err, lk.release())
	}
	c.touch(filepath.Join(dir, "meta.json"))
	return &Snapshot{Revision: m.Revision, Dir: filepath.Join(dir, "tree"), Digest: m.Digest, release: lk.release,
		manifest: filepath.Join(dir, "manifest")}, nil
}

// mirrorCommit returns commit rev from the repository's mirror with the mirror's lock
// held: shared when the mirror already had it (the common case), exclusive when it had
// to fetch. The mirror is opened once: go-git loads each pack index on open, which is
// most of the memory of an incremental update. The caller releases the lock.
func (c *DiskCache) mirrorCommit(ctx context.Context, repo Repository, key string, rev Revision, ref string) (*object.Commit, *fileLock, error) {
	dir := c.mirrorDir(key)
	lk, err := acquire(ctx, c.mirrorLock(key), true)
	if err != nil {
		return nil, nil, err
	}
	if r, err := openMirror(dir, c.opts.ObjectCacheSize, false); err == nil {
		if commit, err := commitIn(r, rev); err == nil && commit != nil {
			c.touch(dir)
			return commit, lk, nil
		}
	}
	if err := lk.release(); err != nil {
		return nil, nil, err
	}
	lk, err = acquire(ctx, c.mirrorLock(key), false)
	if err != nil {
		return nil, nil, err
	}
	start := time.Now()
	r, err := openMirror(dir, c.opts.ObjectCacheSize, true)
	if err != nil {
		return nil, nil, errors.Join(err, lk.release())
	}
	commit, err := fetchCommit(ctx, r, repo, rev, ref)
	if err != nil {
		return nil, nil, errors.Join(err, lk.release())
	}
	c.touch(dir)
	logr.FromContextOrDiscard(ctx).V(1).Info("mirror updated", "repo", RedactURL(repo.URL), "revision", rev, "duration", time.Since(start))
	return commit, lk, nil
}

// verify checks the commit's signature, fetching it first if needed.
func (c *DiskCache) verify(ctx context.Context, repo Repository, key string, rev Revision, ref string) error {
	commit, lk, err := c.mirrorCommit(ctx, repo, key, rev, ref)
	if err != nil {
		return newError("fetch", &repo, string(rev), nil, err)
	}
	defer func() { _ = lk.release() }()
	if err := verifyCommit(commit, repo.VerifyKeyring); err != nil {
		return newError("verify", &repo, string(rev), ErrVerification, err)
	}
	return nil
}

// buildGit writes the snapshot of commit (read from the mirror, whose lock the caller
// holds) and publishes it.
func (c *DiskCache) buildGit(ctx context.Context, repo Repository, key, id string, commit *object.Commit) error {
	final := c.snapDir(key, id)
	if _, err := os.Stat(filepath.Join(final, "meta.json")); err == nil {
		return nil
	}
	rev := Revision(commit.Hash.String())
	tmp, err := os.MkdirTemp(filepath.Join(c.root, "tmp"), "snap-")
	if err != nil {
		return err
	}
	base, baseLock := c.linkBase(key, id)
	stats, err := writeGitTree(ctx, commit, filepath.Join(tmp, "tree"), repo.Ignore, base)
	_ = baseLock.release()
	if err == nil {
		err = writeManifest(filepath.Join(tmp, "manifest"), stats.man)
	}
	if err != nil {
		_ = removeTree(tmp)
		return err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("snapshot built", "repo", RedactURL(repo.URL), "revision", rev, "files", stats.files, "linked", stats.linked)
	m := meta{Revision: rev, Digest: stats.digest, Files: stats.files, Bytes: stats.bytes, Source: RedactURL(repo.URL), Created: time.Now().UTC()}
	return c.publish(tmp, final, m)
}

// linkBase picks the most recently used snapshot of the same repository and ignore
// options to hard-link unchanged files from, and holds it (shared) so eviction
// leaves it alone during the build. It returns nil when there is none.
func (c *DiskCache) linkBase(key, id string) (*linkBase, *fileLock) {
	suffix := id[strings.LastIndex(id, "-"):]
	var best string
	var bestTime time.Time
	for _, other := range sortedDirs(filepath.Join(c.root, "snapshots", key)) {
		if other == id || !strings.HasSuffix(other, suffix) {
			continue
		}
		info, err := os.Stat(filepath.Join(c.snapDir(key, other), "manifest"))
		if err == nil && info.ModTime().After(bestTime) {
			best, bestTime = other, info.ModTime()
		}
	}
	if best == "" {
		return nil, nil
	}
	lk, err := tryShared(c.snapLock(key, best))
	if err != nil || lk == nil {
		return nil, nil
	}
	m, err := readManifest(filepath.Join(c.snapDir(key, best), "manifest"))
	if err != nil {
		_ = lk.release()
		return nil, nil
	}
	return &linkBase{tree: filepath.Join(c.snapDir(key, best), "tree"), files: m, paths: m.sortedPaths()}, lk
}

// publish writes meta into the built tmp directory and renames it to final. If
// another builder got there first, its snapshot stands and tmp is removed.
func (c *DiskCache) publish(tmp, final string, m meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "meta.json"), b, 0o644)
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(final), 0o755)
	}
	if err != nil {
		_ = removeTree(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		_ = removeTree(tmp)
		if _, serr := os.Stat(filepath.Join(final, "meta.json")); serr == nil {
			return nil
		}
		return err
	}
	return nil
}

func readMeta(path string) (meta, error) {
	var m meta
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// touch records a use (the mtime is the last-use time eviction reads).
func (c *DiskCache) touch(path string) {
	now := time.Now()
	_ = os.Chtimes(path, now, now)
}

// sortedDirs lists the subdirectory names of dir in order (none if dir is missing).
func sortedDirs(dir string) []string {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, de := range des {
		if de.IsDir() {
			names = append(names, de.Name())
		}
	}
	sort.Strings(names)
	return names
}
