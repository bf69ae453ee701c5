package source_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// specDigest computes the digest as digest.go documents it, independently of the
// implementation: one "<mode> <sha256> <path>\0" record per file, in path order.
func specDigest(files map[string]string, modes map[string]string) string {
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		mode := "100644"
		if m, ok := modes[p]; ok {
			mode = m
		}
		sum := sha256.Sum256([]byte(files[p]))
		fmt.Fprintf(h, "%s %s %s\x00", mode, hex.EncodeToString(sum[:]), p)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func TestDigestFollowsTheSpecAndIsStableAcrossClones(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{
		"apps/a/kustomization.yaml": "resources: [deploy.yaml]\n",
		"apps/a/deploy.yaml":        "kind: Deployment\n",
		"apps/a-b.yaml":             "x: 1\n", // sorts between apps/a/... and apps/b by bytes
		"apps/b/x.yaml":             "y: 2\n",
		"README.md":                 "# repo\n",
	}
	r := gitopstest.NewRepo(t)
	rev := r.WriteFiles(files).Commit("tree")
	srv := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{})

	var digests []string
	for _, url := range []string{r.URL(), srv.URL()} {
		f, _ := newFetcher(t) // a separate cache: a separate clone
		snap, err := f.Checkout(ctx, source.Repository{URL: url}, source.Revision(rev))
		require.NoError(t, err)
		digests = append(digests, snap.Digest)
		require.NoError(t, snap.Close())
	}
	assert.Equal(t, specDigest(files, nil), digests[0])
	assert.Equal(t, digests[0], digests[1])

	// The local directory source gives the same tree the same digest.
	f, _ := newFetcher(t)
	local, err := f.Local(ctx, r.Dir(), source.LocalOptions{})
	require.NoError(t, err)
	defer local.Close()
	assert.Equal(t, digests[0], local.Digest, "the working tree's .git is left out")
	assert.Equal(t, source.Revision(local.Digest), local.Revision)
	assert.NoFileExists(t, filepath.Join(local.Dir, ".git", "HEAD"))
}

func TestDigestRecordsModesAndSymlinks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 1\n"), 0o644))
	require.NoError(t, os.Symlink("a.yaml", filepath.Join(dir, "link.yaml")))
	f, _ := newFetcher(t)
	snap, err := f.Local(ctx, dir, source.LocalOptions{})
	require.NoError(t, err)
	defer snap.Close()
	want := specDigest(
		map[string]string{"run.sh": "#!/bin/sh\n", "a.yaml": "a: 1\n", "link.yaml": "a.yaml"},
		map[string]string{"run.sh": "100755", "link.yaml": "120000"},
	)
	assert.Equal(t, want, snap.Digest)
	target, err := os.Readlink(filepath.Join(snap.Dir, "link.yaml"))
	require.NoError(t, err)
	assert.Equal(t, "a.yaml", target)
	info, err := os.Stat(filepath.Join(snap.Dir, "run.sh"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o555), info.Mode().Perm())
}

func TestIgnorePatterns(t *testing.T) {
	ctx := context.Background()
	files := map[string]string{
		".sourceignore":         "# docs and scratch stay out\n*.md\nscratch/\n",
		"apps/a.yaml":           "a: 1\n",
		"apps/NOTES.md":         "notes\n",
		"scratch/tmp.yaml":      "tmp\n",
		"docs/keep.md":          "keep\n",
		"apps/secret.enc.yaml":  "secret\n",
		"apps/nested/deep.yaml": "deep\n",
	}
	r := gitopstest.NewRepo(t)
	r.WriteFiles(files).Commit("tree")
	extra := []string{"*.enc.yaml", "!docs/keep.md"}
	kept := map[string]string{
		".sourceignore":         files[".sourceignore"],
		"apps/a.yaml":           files["apps/a.yaml"],
		"docs/keep.md":          files["docs/keep.md"],
		"apps/nested/deep.yaml": files["apps/nested/deep.yaml"],
	}

	f, _ := newFetcher(t)
	snap, err := f.Fetch(ctx, source.Repository{URL: r.URL(), Ignore: extra}, source.Ref{})
	require.NoError(t, err)
	defer snap.Close()
	for p := range files {
		_, keep := kept[p]
		_, err := os.Lstat(filepath.Join(snap.Dir, filepath.FromSlash(p)))
		assert.Equal(t, keep, err == nil, "%s kept=%v", p, keep)
	}
	assert.Equal(t, specDigest(kept, nil), snap.Digest, "the digest covers only what is kept")

	// The same revision without the extra patterns is another snapshot.
	plain, err := f.Fetch(ctx, source.Repository{URL: r.URL()}, source.Ref{})
	require.NoError(t, err)
	defer plain.Close()
	assert.NotEqual(t, snap.Dir, plain.Dir)
	assert.FileExists(t, filepath.Join(plain.Dir, "apps", "secret.enc.yaml"))
	assert.NoFileExists(t, filepath.Join(plain.Dir, "docs", "keep.md"))

	// The local source applies the same rules and agrees on the digest.
	local, err := f.Local(ctx, r.Dir(), source.LocalOptions{Ignore: extra})
	require.NoError(t, err)
	defer local.Close()
	assert.Equal(t, snap.Digest, local.Digest)

	// A commit that only touches ignored files keeps the digest.
	r.Write("apps/NOTES.md", "more notes\n").Commit("docs only")
	next, err := f.Fetch(ctx, source.Repository{URL: r.URL(), Ignore: extra}, source.Ref{})
	require.NoError(t, err)
	defer next.Close()
	assert.NotEqual(t, snap.Revision, next.Revision)
	assert.Equal(t, snap.Digest, next.Digest)
}

func TestLocalSourceFollowsChanges(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 1\n"), 0o644))
	f, _ := newFetcher(t)
	first, err := f.Local(ctx, dir, source.LocalOptions{})
	require.NoError(t, err)
	defer first.Close()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("a: 2\n"), 0o644))
	second, err := f.Local(ctx, dir, source.LocalOptions{})
	require.NoError(t, err)
	defer second.Close()
	assert.NotEqual(t, first.Digest, second.Digest)
	assert.Equal(t, "a: 1\n", readSnap(t, first, "a.yaml"), "a snapshot does not change under its holder")
	assert.Equal(t, "a: 2\n", readSnap(t, second, "a.yaml"))

	_, err = f.Local(ctx, filepath.Join(dir, "missing"), source.LocalOptions{})
	assert.ErrorIs(t, err, source.ErrInvalid)
	_, err = f.Local(ctx, filepath.Join(dir, "a.yaml"), source.LocalOptions{})
	assert.ErrorIs(t, err, source.ErrInvalid)
}

func TestCommitSignatureVerification(t *testing.T) {
	ctx := context.Background()
	trusted, err := openpgp.NewEntity("trusted", "", "trusted@driftless.dev", nil)
	require.NoError(t, err)
	stranger, err := openpgp.NewEntity("stranger", "", "stranger@driftless.dev", nil)
	require.NoError(t, err)
	keyring := armoredPublicKey(t, trusted)

	r := gitopstest.NewRepo(t)
	good := r.Write("a.yaml", "a: 1\n").CommitSigned("signed", trusted)
	unsigned := r.Write("a.yaml", "a: 2\n").Commit("unsigned")
	foreign := r.Write("a.yaml", "a: 3\n").CommitSigned("signed by a stranger", stranger)

	f, _ := newFetcher(t)
	repo := source.Repository{URL: r.URL(), VerifyKeyring: keyring}
	snap, err := f.Checkout(ctx, repo, source.Revision(good))
	require.NoError(t, err)
	require.NoError(t, snap.Close())

	for name, rev := range map[string]string{"unsigned": unsigned, "foreign key": foreign} {
		t.Run(name, func(t *testing.T) {
			_, err := f.Checkout(ctx, repo, source.Revision(rev))
			require.Error(t, err)
			assert.ErrorIs(t, err, source.ErrVerification)
			assert.Contains(t, err.Error(), rev)
		})
	}
	// Verification off: the same commits check out.
	snap, err = f.Checkout(ctx, source.Repository{URL: r.URL()}, source.Revision(unsigned))
	require.NoError(t, err)
	require.NoError(t, snap.Close())
	// Verification on, for a snapshot already in the cache: still refused.
	_, err = f.Checkout(ctx, repo, source.Revision(unsigned))
	assert.ErrorIs(t, err, source.ErrVerification)
}

func armoredPublicKey(t *testing.T, e *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	require.NoError(t, err)
	require.NoError(t, e.Serialize(w))
	require.NoError(t, w.Close())
	return b.String()
}
