package source

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
)

// countingStorer counts the Git objects read through it, by type.
type countingStorer struct {
	storage.Storer
	mu    sync.Mutex
	reads map[plumbing.ObjectType]int
}

func (s *countingStorer) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	o, err := s.Storer.EncodedObject(t, h)
	if err == nil {
		s.mu.Lock()
		s.reads[o.Type()]++
		s.mu.Unlock()
	}
	return o, err
}

// snapshotBuilder writes snapshots of a gitopstest repository's commits, each based
// on the previous one, the way DiskCache chains them.
type snapshotBuilder struct {
	t     *testing.T
	repo  *gitopstest.Repo
	count *countingStorer
	dir   string
	n     int
	base  *linkBase
}

func newSnapshotBuilder(t *testing.T, r *gitopstest.Repo) *snapshotBuilder {
	return &snapshotBuilder{t: t, repo: r, dir: t.TempDir(),
		count: &countingStorer{Storer: r.Git().Storer, reads: map[plumbing.ObjectType]int{}}}
}

// next writes a snapshot of HEAD based on the previous one and returns its tree
// directory and a fresh snapshot of the same commit written without a base.
func (b *snapshotBuilder) next() (dir, fresh string, stats treeStats) {
	b.t.Helper()
	repo, err := git.Open(b.count, nil)
	require.NoError(b.t, err)
	head, err := repo.Head()
	require.NoError(b.t, err)
	commit, err := repo.CommitObject(head.Hash())
	require.NoError(b.t, err)
	b.n++
	dir = filepath.Join(b.dir, "snap", strings.Repeat("i", b.n))
	fresh = filepath.Join(b.dir, "fresh", strings.Repeat("i", b.n))
	require.NoError(b.t, os.MkdirAll(filepath.Dir(dir), 0o755))
	require.NoError(b.t, os.MkdirAll(filepath.Dir(fresh), 0o755))
	clear(b.count.reads)
	stats, err = writeGitTree(context.Background(), commit, dir, nil, b.base)
	require.NoError(b.t, err)
	reads := maps(b.count.reads)
	want, err := writeGitTree(context.Background(), commit, fresh, nil, nil)
	require.NoError(b.t, err)
	b.count.reads = reads
	assert.Equal(b.t, want.digest, stats.digest, "a snapshot built on a base has the digest of one built from scratch")
	assert.Equal(b.t, listTree(b.t, fresh), listTree(b.t, dir), "a snapshot built on a base has the files of one built from scratch")
	b.base = &linkBase{tree: dir, files: stats.man, paths: stats.man.sortedPaths()}
	return dir, fresh, stats
}

func maps(m map[plumbing.ObjectType]int) map[plumbing.ObjectType]int {
	out := make(map[plumbing.ObjectType]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// listTree describes every entry under root: kind, mode bits and content (or link
// target).
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			out = append(out, "dir "+rel+" "+info.Mode().Perm().String())
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, "link "+rel+" -> "+target)
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out = append(out, "file "+rel+" "+info.Mode().Perm().String()+" "+string(b))
		}
		return nil
	}))
	sort.Strings(out)
	return out
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	x, err := os.Lstat(a)
	require.NoError(t, err)
	y, err := os.Lstat(b)
	require.NoError(t, err)
	return os.SameFile(x, y)
}

// TestSnapshotReusesUnchangedDirectories: a commit touching one directory reads only
// the trees on the changed path; every other directory (subdirectories, symlinks,
// ignored files and all) comes from the previous snapshot, and the result is the same
// tree and digest as a snapshot written from scratch. A changed .sourceignore turns
// reuse off, and a base that lost a file (evicted meanwhile) falls back to Git.
func TestSnapshotReusesUnchangedDirectories(t *testing.T) {
	r := gitopstest.NewRepo(t)
	r.Write(SourceIgnoreFile, "*.md\n")
	for _, app := range []string{"app0", "app1", "app2", "app3"} {
		r.Write("apps/"+app+"/deploy.yaml", "name: "+app+"\n")
		r.Write("apps/"+app+"/nested/config.yaml", "of: "+app+"\n")
		r.Write("apps/"+app+"/README.md", "ignored\n")
	}
	r.Write("apps/docs/only.md", "a directory whose files are all ignored\n")
	require.NoError(t, os.Symlink("deploy.yaml", filepath.Join(r.Dir(), "apps/app2/current.yaml")))
	require.NoError(t, os.WriteFile(filepath.Join(r.Dir(), "apps/app3/run.sh"), []byte("#!/bin/sh\n"), 0o755))
	r.Commit("base")
	b := newSnapshotBuilder(t, r)
	first, _, stats := b.next()
	assert.Equal(t, 0, stats.linked)
	assert.Equal(t, 11, b.count.reads[plumbing.TreeObject], "root, apps, 4 apps, 4 nested, docs")

	r.Write("apps/app1/deploy.yaml", "name: app1\nreplicas: 3\n").Commit("scale app1")
	second, _, stats := b.next()
	assert.Equal(t, 3, b.count.reads[plumbing.TreeObject], "only root, apps and apps/app1 are read")
	assert.Equal(t, 2, b.count.reads[plumbing.BlobObject], ".sourceignore and the changed file")
	assert.Equal(t, 10, stats.linked, "everything else is taken over (9 files in apps, .sourceignore)")
	assert.True(t, sameFile(t, filepath.Join(first, "apps/app0/nested/config.yaml"), filepath.Join(second, "apps/app0/nested/config.yaml")))
	assert.True(t, sameFile(t, filepath.Join(first, "apps/app1/nested/config.yaml"), filepath.Join(second, "apps/app1/nested/config.yaml")))
	assert.False(t, sameFile(t, filepath.Join(first, "apps/app1/deploy.yaml"), filepath.Join(second, "apps/app1/deploy.yaml")))
	assert.DirExists(t, filepath.Join(second, "apps/docs"))

	// New ignore rules: an unchanged directory may now keep other files.
	r.Write(SourceIgnoreFile, "*.sh\n").Commit("keep the READMEs")
	third, _, _ := b.next()
	assert.Equal(t, 11, b.count.reads[plumbing.TreeObject], "every tree is read again")
	assert.FileExists(t, filepath.Join(third, "apps/app0/README.md"))
	assert.NoFileExists(t, filepath.Join(third, "apps/app3/run.sh"))

	// The base loses a file before the next build: that directory comes from Git.
	require.NoError(t, os.Chmod(filepath.Join(third, "apps/app2"), 0o755))
	require.NoError(t, os.Remove(filepath.Join(third, "apps/app2/deploy.yaml")))
	r.Write("apps/app0/deploy.yaml", "name: app0\nreplicas: 2\n").Commit("scale app0")
	fourth, _, _ := b.next()
	assert.Equal(t, 4, b.count.reads[plumbing.TreeObject], "root, apps, apps/app0 and the damaged apps/app2")
	assert.Equal(t, "name: app2\n", readFile(t, filepath.Join(fourth, "apps/app2/deploy.yaml")))
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return string(b)
}

// FuzzManifestLine: whatever parseManifestLine accepts, writeManifest writes back to
// the same entry, and nothing makes it panic.
func FuzzManifestLine(f *testing.F) {
	f.Add([]byte(`100644 ` + strings.Repeat("ab", 20) + ` ` + strings.Repeat("0f", 32) + ` 12 "apps/a b/\u00e9.yaml"`))
	f.Add([]byte(`040000 - ` + strings.Repeat("00", 32) + ` 0 "apps"`))
	f.Add([]byte(`120000 x y z "p"`))
	f.Fuzz(func(t *testing.T, line []byte) {
		p, e, err := parseManifestLine(line)
		if err != nil {
			return
		}
		file := filepath.Join(t.TempDir(), "manifest")
		m := newManifest("-")
		m.entries[p] = e
		require.NoError(t, writeManifest(file, m))
		back, err := readManifest(file)
		require.NoError(t, err)
		assert.Equal(t, m, back)
	})
}
