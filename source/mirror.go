package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-logr/logr"
)

// mirrorRefSpecs is what a full mirror fetches: every branch and tag, forced (a
// force-pushed branch simply moves) and pruned (a deleted branch goes away; its
// objects stay until the mirror is evicted).
var mirrorRefSpecs = []config.RefSpec{
	"+refs/heads/*:refs/heads/*",
	"+refs/tags/*:refs/tags/*",
}

// keepRefPrefix holds refs the cache makes for commits fetched by ID or by a ref
// outside refs/heads and refs/tags, so that a prune does not orphan them.
const keepRefPrefix = "refs/driftless/"

// openMirror opens the bare mirror at dir with a bounded object cache. create makes it
// first when missing (atomically: a half-made mirror is never visible).
func openMirror(dir string, objectCache int64, create bool) (*git.Repository, error) {
	st := func(d string) *filesystem.Storage {
		return filesystem.NewStorageWithOptions(osfs.New(d), cache.NewObjectLRU(cache.FileSize(objectCache)), filesystem.Options{})
	}
	if _, err := os.Stat(filepath.Join(dir, "config")); err == nil {
		return git.Open(st(dir), nil)
	} else if !errors.Is(err, fs.ErrNotExist) || !create {
		if !create {
			return nil, git.ErrRepositoryNotExists
		}
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".init-*")
	if err != nil {
		return nil, err
	}
	if _, err := git.Init(st(tmp), nil); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("init mirror: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("init mirror: %w", err)
	}
	return git.Open(st(dir), nil)
}

// commitIn returns the commit rev from r, or nil when r does not have it.
func commitIn(r *git.Repository, rev Revision) (*object.Commit, error) {
	c, err := r.CommitObject(plumbing.NewHash(string(rev)))
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, nil
	}
	return c, err
}

// fetchPlan is one fetch into a mirror.
type fetchPlan struct {
	specs []config.RefSpec
	depth int
	prune bool
}

// plans lists the fetches that may bring rev, cheapest first; the cache stops at the
// first after which the mirror has rev.
func plans(repo Repository, rev Revision, ref string) []fetchPlan {
	byID := fetchPlan{specs: []config.RefSpec{config.RefSpec(string(rev) + ":" + keepRefPrefix + "commits/" + string(rev))}}
	var byRef *fetchPlan
	if ref != "" && ref != "HEAD" {
		byRef = &fetchPlan{specs: []config.RefSpec{config.RefSpec("+" + ref + ":" + keepName(ref))}}
	}
	if repo.Shallow {
		var ps []fetchPlan
		if byRef != nil {
			byRef.depth = 1
			ps = append(ps, *byRef)
		}
		byID.depth = 1
		return append(ps, byID)
	}
	ps := []fetchPlan{{specs: mirrorRefSpecs, prune: true}}
	if byRef != nil && !strings.HasPrefix(ref, "refs/heads/") && !strings.HasPrefix(ref, "refs/tags/") {
		ps = append(ps, *byRef)
	}
	return append(ps, byID)
}

// keepName is where a mirror stores a fetched ref: branches and tags under their own
// name, anything else under refs/driftless/ so a mirror prune leaves it alone.
func keepName(ref string) string {
	if strings.HasPrefix(ref, "refs/heads/") || strings.HasPrefix(ref, "refs/tags/") {
		return ref
	}
	return keepRefPrefix + "refs/" + strings.TrimPrefix(ref, "refs/")
}

// fetchInto runs one fetch plan against the mirror. Unchanged refs cost the ref
// advertisement and nothing else; changed refs bring only the objects the mirror
// lacks (the mirror's refs are sent as "have"s).
func fetchInto(ctx context.Context, r *git.Repository, tc transportConfig, p fetchPlan) error {
	remote := git.NewRemote(r.Storer, &config.RemoteConfig{Name: "origin", URLs: []string{tc.url}})
	err := remote.FetchContext(ctx, &git.FetchOptions{
		RemoteName: "origin",
		RefSpecs:   p.specs,
		Depth:      p.depth,
		Auth:       tc.auth,
		CABundle:   tc.caBundle,
		Tags:       git.NoTags,
		Force:      true,
		Prune:      p.prune,
	})
	if errors.Is(err, git.NoErrAlreadyUpToDate) {
		return nil
	}
	return err
}

// ensureCommit makes the mirror at dir hold rev, fetching when it does not. The caller
// holds the mirror's exclusive lock.
func ensureCommit(ctx context.Context, dir string, objectCache int64, repo Repository, rev Revision, ref string) error {
	r, err := openMirror(dir, objectCache, true)
	if err != nil {
		return err
	}
	_, err = fetchCommit(ctx, r, repo, rev, ref)
	return err
}

// fetchCommit returns commit rev from the open mirror r, fetching it first when r
// does not have it. The caller holds the mirror's exclusive lock.
func fetchCommit(ctx context.Context, r *git.Repository, repo Repository, rev Revision, ref string) (*object.Commit, error) {
	log := logr.FromContextOrDiscard(ctx)
	if c, err := commitIn(r, rev); err != nil || c != nil {
		return c, err
	}
	tc, err := newTransportConfig(repo)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, p := range plans(repo, rev, ref) {
		log.V(1).Info("fetch", "repo", RedactURL(repo.URL), "revision", rev, "refspecs", fmt.Sprint(p.specs), "depth", p.depth)
		if err := fetchInto(ctx, r, tc, p); err != nil {
			switch {
			case errors.Is(err, git.ErrExactSHA1NotSupported):
				errs = append(errs, fmt.Errorf("the server does not serve commits by ID, and no branch or tag reaches %s", rev))
				continue
			case classify(err) == ErrOther:
				// e.g. "not our ref": the server has no such commit (or ref).
				errs = append(errs, err)
				continue
			}
			return nil, err
		}
		if c, err := commitIn(r, rev); err != nil || c != nil {
			return c, err
		}
	}
	return nil, newError("fetch", &repo, string(rev), ErrUnknownRef,
		errors.Join(append([]error{fmt.Errorf("commit %s not found in the remote", rev)}, errs...)...))
}
