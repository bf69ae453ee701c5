package gitops

import (
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/driftless-dev/driftless/source"
)

// resolveCache shares ls-remote answers between Applications that poll the same
// repository and ref at about the same time: concurrent resolves share one round trip
// (singleflight), and an answer is reused for ttl by reconciles that allow it.
type resolveCache struct {
	ttl   time.Duration
	group singleflight.Group

	mu      sync.Mutex
	answers map[string]resolved
}

type resolved struct {
	rev source.Revision
	at  time.Time
}

func newResolveCache(ttl time.Duration) *resolveCache {
	return &resolveCache{ttl: ttl, answers: map[string]resolved{}}
}

// get returns the revision for key: a fresh enough earlier answer when reuse is true,
// else the result of resolve (shared with concurrent callers of the same key).
func (c *resolveCache) get(key string, reuse bool, resolve func() (source.Revision, error)) (source.Revision, error) {
	if reuse && c.ttl > 0 {
		c.mu.Lock()
		a, ok := c.answers[key]
		c.mu.Unlock()
		if ok && time.Since(a.at) < c.ttl {
			return a.rev, nil
		}
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		rev, err := resolve()
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.answers[key] = resolved{rev: rev, at: time.Now()}
		c.mu.Unlock()
		return rev, nil
	})
	if err != nil {
		return "", err
	}
	return v.(source.Revision), nil
}
