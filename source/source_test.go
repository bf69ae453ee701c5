package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// newFetcher returns a Fetcher over a fresh DiskCache in a temporary directory.
func newFetcher(t *testing.T) (*source.Fetcher, *source.DiskCache) {
	t.Helper()
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: t.TempDir()})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	return f, cache
}

// readSnap reads a file of a snapshot.
func readSnap(t *testing.T, snap *source.Snapshot, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(snap.Dir, filepath.FromSlash(path)))
	require.NoError(t, err)
	return string(b)
}

// refRepo is a repository with every kind of ref:
//
//	main:    c1 (tag v1.0.0) - c2 (annotated v1.2.0) - c3 (tag v2.0.0-rc.1)
//	feature: c3 - c4 (also refs/pull/1/head)
type refRepo struct {
	*gitopstest.Repo
	c1, c2, c3, c4 string
}

func newRefRepo(t *testing.T) refRepo {
	r := refRepo{Repo: gitopstest.NewRepo(t)}
	r.c1 = r.Write("app.yaml", "v: 1\n").Commit("one")
	r.Tag("v1.0.0")
	r.c2 = r.Write("app.yaml", "v: 2\n").Commit("two")
	r.AnnotatedTag("v1.2.0", "release 1.2.0")
	r.Tag("not-a-version")
	r.c3 = r.Write("app.yaml", "v: 3\n").Commit("three")
	r.Tag("v2.0.0-rc.1")
	r.Branch("feature")
	r.c4 = r.Write("app.yaml", "v: 4\n").Commit("four")
	r.Checkout("main")
	require.NoError(t, r.Git().Storer.SetReference(
		plumbing.NewHashReference("refs/pull/1/head", plumbing.NewHash(r.c4))))
	return r
}

func TestResolveAndCheckoutEveryRefKind(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	f, _ := newFetcher(t)
	repo := source.Repository{URL: r.URL()}
	content := map[string]string{r.c1: "v: 1\n", r.c2: "v: 2\n", r.c3: "v: 3\n", r.c4: "v: 4\n"}

	tests := []struct {
		name string
		ref  source.Ref
		want string
	}{
		{"empty is remote HEAD", source.Ref{}, r.c3},
		{"branch main", source.Ref{Branch: "main"}, r.c3},
		{"branch feature", source.Ref{Branch: "feature"}, r.c4},
		{"lightweight tag", source.Ref{Tag: "v1.0.0"}, r.c1},
		{"annotated tag peels to its commit", source.Ref{Tag: "v1.2.0"}, r.c2},
		{"semver caret picks highest 1.x", source.Ref{SemVer: "^1.0.0"}, r.c2},
		{"semver tilde", source.Ref{SemVer: "~1.0"}, r.c1},
		{"semver excludes pre-releases by default", source.Ref{SemVer: ">=1.0.0"}, r.c2},
		{"semver pre-release range", source.Ref{SemVer: ">=2.0.0-0"}, r.c3},
		{"exact commit", source.Ref{Commit: r.c1}, r.c1},
		{"name of a branch", source.Ref{Name: "feature"}, r.c4},
		{"name of a tag", source.Ref{Name: "v1.0.0"}, r.c1},
		{"full ref name outside heads and tags", source.Ref{Name: "refs/pull/1/head"}, r.c4},
		{"name HEAD", source.Ref{Name: "HEAD"}, r.c3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rev, err := f.Resolve(ctx, repo, tt.ref)
			require.NoError(t, err)
			assert.Equal(t, source.Revision(tt.want), rev)

			snap, err := f.Fetch(ctx, repo, tt.ref)
			require.NoError(t, err)
			defer func() { require.NoError(t, snap.Close()) }()
			assert.Equal(t, source.Revision(tt.want), snap.Revision)
			assert.Equal(t, content[tt.want], readSnap(t, snap, "app.yaml"))
			assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, snap.Digest)
		})
	}
}

func TestResolveUnknownRefs(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	f, _ := newFetcher(t)
	repo := source.Repository{URL: r.URL()}
	for _, ref := range []source.Ref{
		{Branch: "nope"},
		{Tag: "v9.9.9"},
		{SemVer: "^9"},
		{Name: "nope"},
	} {
		t.Run(ref.String(), func(t *testing.T) {
			_, err := f.Resolve(ctx, repo, ref)
			require.Error(t, err)
			assert.ErrorIs(t, err, source.ErrUnknownRef)
			var se *source.Error
			require.ErrorAs(t, err, &se)
			assert.Equal(t, ref.String(), se.Ref)
			assert.Contains(t, err.Error(), r.URL())
			assert.Contains(t, err.Error(), ref.String())
		})
	}
	t.Run("commit the remote does not have", func(t *testing.T) {
		missing := "0123456789abcdef0123456789abcdef01234567"
		_, err := f.Checkout(ctx, repo, source.Revision(missing))
		require.Error(t, err)
		assert.ErrorIs(t, err, source.ErrUnknownRef)
		assert.Contains(t, err.Error(), missing)
	})
	t.Run("invalid ref", func(t *testing.T) {
		_, err := f.Resolve(ctx, repo, source.Ref{Branch: "a", Tag: "b"})
		assert.ErrorIs(t, err, source.ErrInvalid)
	})
}

func TestRemoteHEADFollowsDefaultBranch(t *testing.T) {
	r := newRefRepo(t)
	r.SetHEAD("feature")
	f, _ := newFetcher(t)
	rev, err := f.Resolve(context.Background(), source.Repository{URL: r.URL()}, source.Ref{})
	require.NoError(t, err)
	assert.Equal(t, source.Revision(r.c4), rev)
}

func TestEmptyRemoteIsUnknownRef(t *testing.T) {
	r := gitopstest.NewRepo(t)
	f, _ := newFetcher(t)
	_, err := f.Resolve(context.Background(), source.Repository{URL: r.URL()}, source.Ref{})
	assert.ErrorIs(t, err, source.ErrUnknownRef)
}

func TestForcePushedBranch(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	f, cache := newFetcher(t)
	repo := source.Repository{URL: r.URL()}

	snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	assert.Equal(t, source.Revision(r.c3), snap.Revision)
	require.NoError(t, snap.Close())

	// Rewrite main: back to c1, then a commit that does not descend from c3.
	r.Reset(r.c1)
	c5 := r.Write("app.yaml", "v: rewritten\n").Commit("rewritten")

	snap, err = f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer snap.Close()
	assert.Equal(t, source.Revision(c5), snap.Revision)
	assert.Equal(t, "v: rewritten\n", readSnap(t, snap, "app.yaml"))

	mirror := openMirror(t, cache, repo)
	ref, err := mirror.Reference(plumbing.NewBranchReferenceName("main"), false)
	require.NoError(t, err)
	assert.Equal(t, c5, ref.Hash().String(), "the mirror's branch follows the force push")

	// Moving the branch back to a commit the mirror has costs no fetch.
	r.Reset(r.c1)
	snap2, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer snap2.Close()
	assert.Equal(t, "v: 1\n", readSnap(t, snap2, "app.yaml"))
}

func TestDeletedBranch(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	f, cache := newFetcher(t)
	repo := source.Repository{URL: r.URL()}

	snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "feature"})
	require.NoError(t, err)
	require.NoError(t, snap.Close())

	r.DeleteBranch("feature")
	_, err = f.Resolve(ctx, repo, source.Ref{Branch: "feature"})
	require.ErrorIs(t, err, source.ErrUnknownRef)
	assert.Contains(t, err.Error(), `"branch feature"`)

	// The commit is still served from the mirror, without the remote's help.
	snap, err = f.Checkout(ctx, repo, source.Revision(r.c4))
	require.NoError(t, err)
	assert.Equal(t, "v: 4\n", readSnap(t, snap, "app.yaml"))
	require.NoError(t, snap.Close())

	// The next fetch prunes the mirror's branch.
	c6 := r.Write("app.yaml", "v: 6\n").Commit("six")
	snap, err = f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	require.NoError(t, snap.Close())
	assert.Equal(t, source.Revision(c6), snap.Revision)
	_, err = openMirror(t, cache, repo).Reference(plumbing.NewBranchReferenceName("feature"), false)
	assert.ErrorIs(t, err, plumbing.ErrReferenceNotFound)
}

func TestShallow(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	f, cache := newFetcher(t)
	repo := source.Repository{URL: r.URL(), Shallow: true}

	snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer snap.Close()
	assert.Equal(t, "v: 3\n", readSnap(t, snap, "app.yaml"))

	m := openMirror(t, cache, repo)
	_, err = m.CommitObject(plumbing.NewHash(r.c3))
	require.NoError(t, err)
	_, err = m.CommitObject(plumbing.NewHash(r.c2))
	assert.ErrorIs(t, err, plumbing.ErrObjectNotFound, "a shallow mirror has no history")

	c5 := r.Write("app.yaml", "v: 5\n").Commit("five")
	snap2, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer snap2.Close()
	assert.Equal(t, source.Revision(c5), snap2.Revision)
	assert.Equal(t, "v: 5\n", readSnap(t, snap2, "app.yaml"))
}

func openMirror(t *testing.T, cache *source.DiskCache, repo source.Repository) *git.Repository {
	t.Helper()
	dir, err := cache.MirrorDir(repo)
	require.NoError(t, err)
	m, err := git.PlainOpen(dir)
	require.NoError(t, err)
	return m
}

func TestSnapshotIsReadOnlyAndRevisionsCoexist(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	r.Write("bin/run.sh", "#!/bin/sh\n").Commit("script")
	f, _ := newFetcher(t)
	repo := source.Repository{URL: r.URL()}

	a, err := f.Fetch(ctx, repo, source.Ref{Tag: "v1.0.0"})
	require.NoError(t, err)
	defer a.Close()
	b, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer b.Close()

	assert.NotEqual(t, a.Dir, b.Dir)
	assert.NotEqual(t, a.Digest, b.Digest)
	assert.Equal(t, "v: 1\n", readSnap(t, a, "app.yaml"))
	assert.Equal(t, "v: 3\n", readSnap(t, b, "app.yaml"))

	for path, want := range map[string]os.FileMode{
		"":           0o555,
		"app.yaml":   0o444,
		"bin":        0o555,
		"bin/run.sh": 0o444,
	} {
		info, err := os.Stat(filepath.Join(b.Dir, path))
		require.NoError(t, err)
		assert.Equal(t, want, info.Mode().Perm(), path)
	}

	// The same revision again is the same tree, not a copy.
	b2, err := f.Checkout(ctx, repo, b.Revision)
	require.NoError(t, err)
	defer b2.Close()
	assert.Equal(t, b.Dir, b2.Dir)
	assert.Equal(t, b.Digest, b2.Digest)
}

func TestErrorsAreTyped(t *testing.T) {
	_, err := source.NewFetcher(nil)
	require.Error(t, err)
	f, _ := newFetcher(t)
	_, err = f.Resolve(context.Background(), source.Repository{URL: "ftp://example.com/x"}, source.Ref{})
	assert.ErrorIs(t, err, source.ErrInvalid)
	_, err = f.Resolve(context.Background(), source.Repository{URL: "file:///nonexistent/repo"}, source.Ref{})
	require.Error(t, err)
	assert.False(t, errors.Is(err, source.ErrUnknownRef))
	assert.Contains(t, err.Error(), "file:///nonexistent/repo")
}
