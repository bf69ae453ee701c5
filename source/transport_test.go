package source_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// TestNoOpPollIsOneAdvertisementAndNoPack proves the common case is nearly free: once
// a revision is cached, polling an unchanged remote costs one ref advertisement (one
// HTTP GET) and no pack negotiation at all.
func TestNoOpPollIsOneAdvertisementAndNoPack(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	srv := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{})
	f, _ := newFetcher(t)
	repo := source.Repository{URL: srv.URL()}

	snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	require.NoError(t, snap.Close())
	require.Positive(t, srv.UploadPacks(), "the first fetch transfers a pack")

	for i := 0; i < 3; i++ {
		srv.ResetLog()
		snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
		require.NoError(t, err)
		assert.Equal(t, source.Revision(r.c3), snap.Revision)
		require.NoError(t, snap.Close())
		reqs := srv.Requests()
		require.Len(t, reqs, 1, "one round trip: %+v", reqs)
		assert.True(t, reqs[0].IsAdvertisement())
		assert.Equal(t, "git-upload-pack", reqs[0].Service)
		assert.Zero(t, srv.UploadPacks(), "no pack")
	}

	// Resolve alone is the same single advertisement, even before any fetch.
	f2, _ := newFetcher(t)
	srv.ResetLog()
	rev, err := f2.Resolve(ctx, repo, source.Ref{SemVer: "1.x"})
	require.NoError(t, err)
	assert.Equal(t, source.Revision(r.c2), rev)
	assert.Equal(t, 1, srv.Advertisements())
	assert.Zero(t, srv.UploadPacks())
}

// TestIncrementalFetchMovesOnlyNewObjects proves that after one new commit only the new
// objects travel: the pack the mirror receives holds exactly the new commit, its
// changed trees and its new blob.
func TestIncrementalFetchMovesOnlyNewObjects(t *testing.T) {
	ctx := context.Background()
	r := gitopstest.NewRepo(t)
	files := map[string]string{}
	for i := 0; i < 50; i++ {
		files[fmt.Sprintf("apps/app%c/f%d.yaml", 'a'+i%26, i)] = noise(i, 2048)
	}
	r.WriteFiles(files).Commit("base")
	srv := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{})
	f, cache := newFetcher(t)
	repo := source.Repository{URL: srv.URL()}

	snap, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	require.NoError(t, snap.Close())
	coldBytes := srv.UploadPackBytes()
	mirror, err := cache.MirrorDir(repo)
	require.NoError(t, err)
	packsBefore := packFiles(t, mirror)

	newCommit := r.Write("apps/appc/new.yaml", "new: file\n").Commit("one more")
	srv.ResetLog()
	snap, err = f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer snap.Close()
	assert.Equal(t, "new: file\n", readSnap(t, snap, "apps/appc/new.yaml"))

	// Expected new objects: the commit, the root tree, apps/, apps/appc/, the blob.
	c, err := r.Git().CommitObject(plumbing.NewHash(newCommit))
	require.NoError(t, err)
	root, err := c.Tree()
	require.NoError(t, err)
	want := []string{newCommit, root.Hash.String()}
	for _, dir := range []string{"apps", "apps/appc"} {
		e, err := root.FindEntry(dir)
		require.NoError(t, err)
		want = append(want, e.Hash.String())
	}
	blob, err := root.File("apps/appc/new.yaml")
	require.NoError(t, err)
	want = append(want, blob.Hash.String())

	var newPacks []string
	for _, p := range packFiles(t, mirror) {
		if !contains(packsBefore, p) {
			newPacks = append(newPacks, p)
		}
	}
	require.Len(t, newPacks, 1, "one new pack")
	assert.ElementsMatch(t, want, packObjects(t, newPacks[0]))
	assert.Equal(t, 1, srv.UploadPacks())
	assert.Less(t, srv.UploadPackBytes()*5, coldBytes, "the increment is a fraction of the cold fetch")
}

// noise is n bytes of incompressible, deterministic text.
func noise(seed, n int) string {
	var b strings.Builder
	h := sha256.Sum256([]byte(fmt.Sprint(seed)))
	for b.Len() < n {
		b.WriteString(hex.EncodeToString(h[:]))
		h = sha256.Sum256(h[:])
	}
	return b.String()[:n]
}

func packFiles(t *testing.T, mirror string) []string {
	t.Helper()
	idx, err := filepath.Glob(filepath.Join(mirror, "objects", "pack", "*.idx"))
	require.NoError(t, err)
	return idx
}

func packObjects(t *testing.T, idxPath string) []string {
	t.Helper()
	f, err := os.Open(idxPath)
	require.NoError(t, err)
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	require.NoError(t, idxfile.NewDecoder(f).Decode(idx))
	it, err := idx.Entries()
	require.NoError(t, err)
	var out []string
	for {
		e, err := it.Next()
		if err != nil {
			break
		}
		out = append(out, e.Hash.String())
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestHTTPAuth(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	basic := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{Username: "alice", Password: "s3cret-pass", TLS: true})
	bearer := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{BearerToken: "tok-123456", TLS: true})
	plain := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{Username: "alice", Password: "s3cret-pass"})

	tests := []struct {
		name    string
		repo    source.Repository
		wantErr error
	}{
		{"basic auth over https with the server's CA", source.Repository{URL: basic.URL(), CABundle: basic.CAPEM(), Auth: source.Auth{Username: "alice", Password: "s3cret-pass"}}, nil},
		{"credentials in the URL", source.Repository{URL: strings.Replace(basic.URL(), "https://", "https://alice:s3cret-pass@", 1), CABundle: basic.CAPEM()}, nil},
		{"wrong password", source.Repository{URL: basic.URL(), CABundle: basic.CAPEM(), Auth: source.Auth{Username: "alice", Password: "wrong-pass"}}, source.ErrAuth},
		{"no credentials", source.Repository{URL: basic.URL(), CABundle: basic.CAPEM()}, source.ErrAuth},
		{"unknown CA", source.Repository{URL: basic.URL(), Auth: source.Auth{Username: "alice", Password: "s3cret-pass"}}, source.ErrNetwork},
		{"bearer token", source.Repository{URL: bearer.URL(), CABundle: bearer.CAPEM(), Auth: source.Auth{BearerToken: "tok-123456"}}, nil},
		{"wrong bearer token", source.Repository{URL: bearer.URL(), CABundle: bearer.CAPEM(), Auth: source.Auth{BearerToken: "tok-wrong1"}}, source.ErrAuth},
		{"credentials over plain http refused", source.Repository{URL: plain.URL(), Auth: source.Auth{Username: "alice", Password: "s3cret-pass"}}, source.ErrInsecure},
		{"credentials in a plain http URL refused", source.Repository{URL: strings.Replace(plain.URL(), "http://", "http://alice:s3cret-pass@", 1)}, source.ErrInsecure},
		{"plain http allowed explicitly", source.Repository{URL: plain.URL(), AllowInsecureHTTP: true, Auth: source.Auth{Username: "alice", Password: "s3cret-pass"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain.ResetLog()
			f, _ := newFetcher(t)
			snap, err := f.Fetch(ctx, tt.repo, source.Ref{Branch: "main"})
			if tt.wantErr == nil {
				require.NoError(t, err)
				defer snap.Close()
				assert.Equal(t, "v: 3\n", readSnap(t, snap, "app.yaml"))
				return
			}
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.ErrorIs(t, err, tt.wantErr)
			msg := err.Error()
			assert.NotContains(t, msg, "s3cret-pass")
			assert.NotContains(t, msg, "wrong-pass")
			assert.NotContains(t, msg, "tok-")
			assert.Contains(t, msg, "branch main")
			assert.Contains(t, msg, "127.0.0.1")
			if tt.wantErr == source.ErrInsecure {
				assert.Empty(t, plain.Requests(), "nothing is sent when credentials would travel in clear")
			}
		})
	}
}

func TestCredentialsNeverLogged(t *testing.T) {
	r := newRefRepo(t)
	srv := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{Username: "alice", Password: "s3cret-pass", TLS: true})
	var logs bytes.Buffer
	log := funcr.New(func(prefix, args string) { logs.WriteString(prefix + args + "\n") }, funcr.Options{Verbosity: 9})
	ctx := logr.NewContext(context.Background(), log)
	f, _ := newFetcher(t)
	url := strings.Replace(srv.URL(), "https://", "https://alice:s3cret-pass@", 1)
	snap, err := f.Fetch(ctx, source.Repository{URL: url, CABundle: srv.CAPEM()}, source.Ref{Branch: "main"})
	require.NoError(t, err)
	require.NoError(t, snap.Close())
	_, err = f.Fetch(ctx, source.Repository{URL: strings.Replace(url, "s3cret-pass", "wrong-pass", 1), CABundle: srv.CAPEM()}, source.Ref{Branch: "main"})
	require.ErrorIs(t, err, source.ErrAuth)
	require.NotEmpty(t, logs.String())
	assert.NotContains(t, logs.String(), "s3cret-pass")
	assert.Contains(t, logs.String(), "alice:redacted@")
	assert.NotContains(t, err.Error(), "wrong-pass")
	assert.Contains(t, err.Error(), "alice:redacted@")
}

func TestSSH(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	clientSigner, clientPEM := gitopstest.NewSSHKey(t)
	_, otherPEM := gitopstest.NewSSHKey(t)
	srv := gitopstest.NewGitSSHServer(t, r.Dir(), gitopstest.GitSSHServerOptions{AuthorizedKeys: []ssh.PublicKey{clientSigner.PublicKey()}})
	other := gitopstest.NewGitSSHServer(t, r.Dir(), gitopstest.GitSSHServerOptions{AuthorizedKeys: []ssh.PublicKey{clientSigner.PublicKey()}})

	// The other server's host key, filed under this server's address: a mismatch.
	wrongKnownHosts := bytes.Replace(other.KnownHosts(), []byte(other.Addr()[strings.LastIndex(other.Addr(), ":")+1:]), []byte(srv.Addr()[strings.LastIndex(srv.Addr(), ":")+1:]), 1)
	require.Contains(t, string(wrongKnownHosts), srv.Addr()[strings.LastIndex(srv.Addr(), ":"):])

	encPEM := encryptedKey(t, clientPEM, "key-passphrase")
	tests := []struct {
		name    string
		auth    source.Auth
		wantErr error
	}{
		{"key and known_hosts", source.Auth{SSHKey: clientPEM, KnownHosts: srv.KnownHosts()}, nil},
		{"encrypted key with passphrase", source.Auth{SSHKey: encPEM, SSHKeyPassphrase: "key-passphrase", KnownHosts: srv.KnownHosts()}, nil},
		{"wrong passphrase", source.Auth{SSHKey: encPEM, SSHKeyPassphrase: "nope-nope", KnownHosts: srv.KnownHosts()}, source.ErrAuth},
		{"wrong host key", source.Auth{SSHKey: clientPEM, KnownHosts: wrongKnownHosts}, source.ErrHostKey},
		{"host not in known_hosts", source.Auth{SSHKey: clientPEM, KnownHosts: []byte("example.com " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostPublicKey()))) + "\n")}, source.ErrHostKey},
		{"no known_hosts at all", source.Auth{SSHKey: clientPEM}, source.ErrInvalid},
		{"insecure skip is explicit", source.Auth{SSHKey: clientPEM, InsecureIgnoreHostKey: true}, nil},
		{"key not authorized", source.Auth{SSHKey: otherPEM, KnownHosts: srv.KnownHosts()}, source.ErrAuth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _ := newFetcher(t)
			before := len(srv.Execs())
			snap, err := f.Fetch(ctx, source.Repository{URL: srv.URL(), Auth: tt.auth}, source.Ref{Tag: "v1.2.0"})
			if tt.wantErr == nil {
				require.NoError(t, err)
				defer snap.Close()
				assert.Equal(t, source.Revision(r.c2), snap.Revision)
				assert.Equal(t, "v: 2\n", readSnap(t, snap, "app.yaml"))
				// One session for ls-remote, one for the fetch.
				assert.Len(t, srv.Execs()[before:], 2)
				if tt.auth.SSHKeyPassphrase != "" {
					return // each key decryption is a slow bcrypt KDF: poll once only
				}
				// Polling again: one session (the ls-remote), no fetch.
				before = len(srv.Execs())
				again, err := f.Fetch(ctx, source.Repository{URL: srv.URL(), Auth: tt.auth}, source.Ref{Tag: "v1.2.0"})
				require.NoError(t, err)
				require.NoError(t, again.Close())
				assert.Len(t, srv.Execs()[before:], 1)
				return
			}
			require.Error(t, err)
			t.Logf("error: %v", err)
			assert.ErrorIs(t, err, tt.wantErr)
			assert.Contains(t, err.Error(), srv.Addr())
			assert.NotContains(t, err.Error(), "key-passphrase")
			if tt.wantErr == source.ErrHostKey {
				assert.Len(t, srv.Execs(), before, "nothing ran on an unverified host")
			}
		})
	}
}

func encryptedKey(t *testing.T, plainPEM []byte, passphrase string) []byte {
	t.Helper()
	key, err := ssh.ParseRawPrivateKey(plainPEM)
	require.NoError(t, err)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte(passphrase))
	require.NoError(t, err)
	return pem.EncodeToMemory(block)
}
