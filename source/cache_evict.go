package source

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
)

// EvictStats says what an eviction removed.
type EvictStats struct {
	Snapshots int
	Mirrors   int
	// Bytes is the size of what was removed.
	Bytes int64
	// Kept is the size of what is left.
	Kept int64
}

// cacheItem is one evictable mirror or snapshot.
type cacheItem struct {
	mirror   bool
	key, id  string
	size     int64
	lastUsed time.Time
}

// staleTmp is how old an abandoned build directory must be before eviction removes it.
const staleTmp = time.Hour

// Evict applies the cache's policy now: it removes mirrors and snapshots unused for
// longer than MaxAge, then, while the cache exceeds MaxSize, the least recently used
// snapshots and then mirrors. Snapshots held open (in any process) and mirrors being
// fetched are skipped. Removed snapshots are cheap to rebuild from their mirror; a
// removed mirror costs a full fetch the next time.
func (c *DiskCache) Evict(ctx context.Context) (EvictStats, error) {
	c.mu.Lock()
	c.lastEvict = time.Now()
	c.mu.Unlock()
	log := logr.FromContextOrDiscard(ctx)
	now := time.Now()
	c.removeStaleTmp(now)
	items := c.inventory()
	var st EvictStats
	var total int64
	for _, it := range items {
		total += it.size
	}
	var errs []error
	evict := func(it cacheItem) {
		ok, err := c.evictItem(it)
		if err != nil {
			errs = append(errs, err)
			return
		}
		if !ok {
			return
		}
		log.V(1).Info("evicted", "mirror", it.mirror, "key", it.key, "id", it.id, "bytes", it.size)
		total -= it.size
		st.Bytes += it.size
		if it.mirror {
			st.Mirrors++
		} else {
			st.Snapshots++
		}
	}
	var rest []cacheItem
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		if c.opts.MaxAge > 0 && now.Sub(it.lastUsed) > c.opts.MaxAge {
			evict(it)
			continue
		}
		rest = append(rest, it)
	}
	if c.opts.MaxSize > 0 && total > c.opts.MaxSize {
		// Snapshots before mirrors, least recently used first.
		sort.SliceStable(rest, func(i, j int) bool {
			if rest[i].mirror != rest[j].mirror {
				return !rest[i].mirror
			}
			return rest[i].lastUsed.Before(rest[j].lastUsed)
		})
		for _, it := range rest {
			if total <= c.opts.MaxSize || ctx.Err() != nil {
				break
			}
			evict(it)
		}
	}
	st.Kept = total
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// maybeEvict runs Evict when EvictInterval has passed since the last run.
func (c *DiskCache) maybeEvict(ctx context.Context) {
	if c.opts.EvictInterval < 0 {
		return
	}
	c.mu.Lock()
	due := time.Since(c.lastEvict) >= c.opts.EvictInterval
	c.mu.Unlock()
	if !due {
		return
	}
	if _, err := c.Evict(ctx); err != nil {
		logr.FromContextOrDiscard(ctx).Error(err, "cache eviction")
	}
}

// inventory lists every mirror and snapshot, in path order.
func (c *DiskCache) inventory() []cacheItem {
	var items []cacheItem
	for _, key := range sortedDirs(filepath.Join(c.root, "snapshots")) {
		for _, id := range sortedDirs(filepath.Join(c.root, "snapshots", key)) {
			metaPath := filepath.Join(c.snapDir(key, id), "meta.json")
			info, err := os.Stat(metaPath)
			if err != nil {
				continue // being published or removed
			}
			m, err := readMeta(metaPath)
			if err != nil {
				continue
			}
			items = append(items, cacheItem{key: key, id: id, size: m.Bytes, lastUsed: info.ModTime()})
		}
	}
	for _, key := range sortedDirs(filepath.Join(c.root, "mirrors")) {
		if strings.HasPrefix(key, ".") {
			continue // a mirror being initialized
		}
		dir := c.mirrorDir(key)
		info, err := os.Stat(dir)
		if err != nil {
			continue
		}
		items = append(items, cacheItem{mirror: true, key: key, size: dirSize(dir), lastUsed: info.ModTime()})
	}
	return items
}

// evictItem removes one item if nobody holds it. It reports whether it did.
func (c *DiskCache) evictItem(it cacheItem) (bool, error) {
	lockPath, dir := c.snapLock(it.key, it.id), c.snapDir(it.key, it.id)
	if it.mirror {
		lockPath, dir = c.mirrorLock(it.key), c.mirrorDir(it.key)
	}
	lk, err := tryAcquire(lockPath)
	if err != nil || lk == nil {
		return false, err
	}
	// Move it out of sight first, so that readers see it whole or not at all.
	trash, err := os.MkdirTemp(filepath.Join(c.root, "tmp"), "evict-")
	if err != nil {
		return false, errors.Join(err, lk.release())
	}
	if err := os.Rename(dir, filepath.Join(trash, "x")); err != nil {
		_ = os.Remove(trash)
		if errors.Is(err, fs.ErrNotExist) {
			return false, lk.releaseAndRemove()
		}
		return false, errors.Join(err, lk.release())
	}
	rmErr := removeTree(trash)
	return true, errors.Join(rmErr, lk.releaseAndRemove())
}

// removeStaleTmp removes build and eviction leftovers of crashed processes.
func (c *DiskCache) removeStaleTmp(now time.Time) {
	tmp := filepath.Join(c.root, "tmp")
	des, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, de := range des {
		info, err := de.Info()
		if err == nil && now.Sub(info.ModTime()) > staleTmp {
			_ = removeTree(filepath.Join(tmp, de.Name()))
		}
	}
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
