package render

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// gitSnapshots fetches snapshots of a gitopstest repository through a DiskCache, as
// the gitops Reconciler does.
type gitSnapshots struct {
	t    *testing.T
	repo *gitopstest.Repo
	f    *source.Fetcher
}

func newGitSnapshots(t *testing.T) *gitSnapshots {
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: t.TempDir(), EvictInterval: -1})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	return &gitSnapshots{t: t, repo: gitopstest.NewRepo(t), f: f}
}

func (g *gitSnapshots) head() *source.Snapshot {
	g.t.Helper()
	snap, err := g.f.Fetch(context.Background(), source.Repository{URL: g.repo.URL()}, source.Ref{})
	require.NoError(g.t, err)
	g.t.Cleanup(func() { _ = snap.Close() })
	return snap
}

// TestRenderSnapshotValidatesByIndex: after a commit that touches app a, a render of
// app b in the new revision is answered by the snapshot's file index (no build, no
// file read: the tree could be gone), and app a is built again.
func TestRenderSnapshotValidatesByIndex(t *testing.T) {
	ctx := context.Background()
	g := newGitSnapshots(t)
	dir := g.repo.Dir()
	seedApp(t, dir, "a")
	seedApp(t, dir, "b")
	g.repo.Commit("two apps")
	r := NewRenderer(RendererOptions{})
	first := g.head()
	for _, p := range []string{"apps/a/overlays/production-oslo", "apps/b/overlays/production-oslo"} {
		_, err := r.RenderSnapshot(ctx, first, p, Options{})
		require.NoError(t, err)
	}
	require.Equal(t, int64(2), r.Stats().Builds)

	g.repo.Write("apps/a/overlays/production-oslo/replicas.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\nspec:\n  replicas: 9\n").Commit("scale a")
	second := g.head()
	require.NotEqual(t, first.Digest, second.Digest)
	// Make the disk useless for b: only the index can answer.
	require.NoError(t, os.Chmod(filepath.Join(second.Dir, "apps/b/base"), 0o755))
	require.NoError(t, os.Rename(filepath.Join(second.Dir, "apps/b/base/service.yaml"), filepath.Join(second.Dir, "apps/b/base/moved.yaml")))
	mb, err := r.RenderSnapshot(ctx, second, "apps/b/overlays/production-oslo", Options{})
	require.NoError(t, err)
	assert.Len(t, mb.Objects, 2, "b's Deployment and Service, from the cache")
	assert.Equal(t, int64(1), r.Stats().IndexHits)
	ma, err := r.RenderSnapshot(ctx, second, "apps/a/overlays/production-oslo", Options{})
	require.NoError(t, err)
	assert.Contains(t, string(ma.YAML()), "replicas: 9")
	assert.Equal(t, int64(3), r.Stats().Builds, "only a is built again")
	assert.Equal(t, int64(1), r.Stats().IndexHits)
}

// TestObserveIndexAgreesWithTheDisk: for every path of a real snapshot (files,
// directories, symlinks, and missing paths next to, under and beside them) and every
// operation, the file index either cannot tell or gives exactly the value the
// sandboxed filesystem observes.
func TestObserveIndexAgreesWithTheDisk(t *testing.T) {
	g := newGitSnapshots(t)
	dir := g.repo.Dir()
	seedApp(t, dir, "a")
	writeFiles(t, dir, map[string]string{
		".sourceignore":          "*.md\n",
		"apps/a/README.md":       "ignored\n",
		"apps/a/docs/guide.md":   "ignored: the directory stays, empty\n",
		"apps/a/run.sh":          "#!/bin/sh\n",
		"apps/Kustomization":     "resources: []\n",
		"apps/a/base/empty.yaml": "",
	})
	require.NoError(t, os.Chmod(filepath.Join(dir, "apps/a/run.sh"), 0o755))
	require.NoError(t, os.Symlink("base", filepath.Join(dir, "apps/a/current")))
	require.NoError(t, os.Symlink("../base/deployment.yaml", filepath.Join(dir, "apps/a/overlays/deployment.yaml")))
	g.repo.Commit("odd shapes")
	snap := g.head()
	files, err := snap.Files()
	require.NoError(t, err)
	require.NotNil(t, files)

	paths := map[string]bool{".": true, "missing": true, "apps/a/README.md": true}
	require.NoError(t, filepath.WalkDir(snap.Dir, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		rel, _ := filepath.Rel(snap.Dir, p)
		rel = filepath.ToSlash(rel)
		for _, q := range []string{rel, rel + "/kustomization.yml", rel + "/Kustomization", rel + "x", rel + "/x/y"} {
			paths[filepath.ToSlash(filepath.Clean(q))] = true
		}
		return nil
	}))
	s, err := openSandbox(snap.Dir, nil)
	require.NoError(t, err)
	defer s.Close()
	var sorted []string
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	answered := 0
	for _, p := range sorted {
		for _, op := range []string{opRead, opStat, opLstat, opResolve, opList} {
			v, ok := observeIndex(files, op, p)
			if !ok {
				continue
			}
			answered++
			assert.Equal(t, observe(s, op, p), v, "%s %s", op, p)
		}
	}
	assert.Greater(t, answered, 5*len(sorted)/2, "the index answers most observations")
	_, ok := observeIndex(files, opRead, "apps/a/current")
	assert.False(t, ok, "symlinks are left to the disk")
	_, ok = observeIndex(files, opRead, "apps/a/run.sh/x")
	assert.False(t, ok, "a path under a file is left to the disk")
}
