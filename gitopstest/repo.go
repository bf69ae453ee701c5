package gitopstest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a Git repository on disk built in a few lines for tests:
//
//	repo := gitopstest.NewRepo(t)
//	rev := repo.Write("apps/base/deployment.yaml", yaml).Commit("add base")
//	repo.Tag("v1.0.0")
//	fetch(repo.URL())
//
// Every method fails the test on error. Commits get a deterministic author and a clock
// that advances one second per commit, so the same sequence of calls yields the same
// commit IDs on every machine.
type Repo struct {
	t     fataler
	dir   string
	repo  *git.Repository
	clock time.Time
}

// repoAuthor is the author and committer of every commit NewRepo makes.
var repoAuthor = object.Signature{Name: "driftless test", Email: "test@driftless.dev"}

// fataler is the part of testing.TB a Repo uses, so programs can build repositories too.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// panicker is the fataler of repositories built outside tests: it panics.
type panicker struct{}

func (panicker) Helper() {}
func (panicker) Fatalf(format string, args ...any) {
	panic(fmt.Errorf(format, args...))
}

// NewRepoIn creates an empty repository (default branch "main") in dir, for programs
// such as the quickstart. Its methods panic on error instead of failing a test.
func NewRepoIn(dir string) (*Repo, error) {
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		return nil, fmt.Errorf("init repository in %s: %w", dir, err)
	}
	return &Repo{t: panicker{}, dir: dir, repo: r, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}, nil
}

// NewRepo creates an empty repository (default branch "main") in a temporary directory
// removed when the test ends.
func NewRepo(t testing.TB) *Repo {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatalf("gitopstest: init repo: %v", err)
	}
	return &Repo{t: t, dir: dir, repo: r, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// Dir is the repository's working directory.
func (r *Repo) Dir() string { return r.dir }

// URL is the repository's file:// URL.
func (r *Repo) URL() string { return "file://" + filepath.ToSlash(r.dir) }

// Git is the underlying go-git repository, for what the builder does not cover.
func (r *Repo) Git() *git.Repository { return r.repo }

// Write writes one file (creating parent directories) in the working tree.
func (r *Repo) Write(path, content string) *Repo {
	r.t.Helper()
	full := filepath.Join(r.dir, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatalf("gitopstest: write %s: %v", path, err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatalf("gitopstest: write %s: %v", path, err)
	}
	return r
}

// WriteFiles writes several files, in path order.
func (r *Repo) WriteFiles(files map[string]string) *Repo {
	r.t.Helper()
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		r.Write(p, files[p])
	}
	return r
}

// Remove deletes a file or directory from the working tree.
func (r *Repo) Remove(path string) *Repo {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.dir, filepath.FromSlash(path))); err != nil {
		r.t.Fatalf("gitopstest: remove %s: %v", path, err)
	}
	return r
}

// Commit stages every change in the working tree (additions, modifications, deletions)
// and commits it on the current branch. It returns the commit ID.
func (r *Repo) Commit(message string) string {
	r.t.Helper()
	return r.commit(message, nil)
}

// CommitSigned is Commit with an OpenPGP signature by key (which must hold a
// decrypted private key).
func (r *Repo) CommitSigned(message string, key *openpgp.Entity) string {
	r.t.Helper()
	return r.commit(message, key)
}

func (r *Repo) commit(message string, key *openpgp.Entity) string {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatalf("gitopstest: worktree: %v", err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		r.t.Fatalf("gitopstest: stage: %v", err)
	}
	r.clock = r.clock.Add(time.Second)
	sig := repoAuthor
	sig.When = r.clock
	h, err := wt.Commit(message, &git.CommitOptions{Author: &sig, Committer: &sig, AllowEmptyCommits: true, SignKey: key})
	if err != nil {
		r.t.Fatalf("gitopstest: commit %q: %v", message, err)
	}
	return h.String()
}

// Head is the commit ID the current branch points at.
func (r *Repo) Head() string {
	r.t.Helper()
	ref, err := r.repo.Head()
	if err != nil {
		r.t.Fatalf("gitopstest: head: %v", err)
	}
	return ref.Hash().String()
}

// Branch creates a branch at the current commit and switches to it.
func (r *Repo) Branch(name string) *Repo {
	r.t.Helper()
	ref := plumbing.NewHashReference(plumbing.NewBranchReferenceName(name), plumbing.NewHash(r.Head()))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatalf("gitopstest: branch %s: %v", name, err)
	}
	return r.Checkout(name)
}

// Checkout switches the working tree to an existing branch.
func (r *Repo) Checkout(branch string) *Repo {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatalf("gitopstest: worktree: %v", err)
	}
	if err := wt.Checkout(&git.CheckoutOptions{Branch: plumbing.NewBranchReferenceName(branch), Force: true}); err != nil {
		r.t.Fatalf("gitopstest: checkout %s: %v", branch, err)
	}
	return r
}

// DeleteBranch removes a branch (not the current one).
func (r *Repo) DeleteBranch(name string) *Repo {
	r.t.Helper()
	if err := r.repo.Storer.RemoveReference(plumbing.NewBranchReferenceName(name)); err != nil {
		r.t.Fatalf("gitopstest: delete branch %s: %v", name, err)
	}
	return r
}

// Reset moves the current branch to commit (like `git reset --hard`), which is how a
// test simulates a force push.
func (r *Repo) Reset(commit string) *Repo {
	r.t.Helper()
	wt, err := r.repo.Worktree()
	if err != nil {
		r.t.Fatalf("gitopstest: worktree: %v", err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: plumbing.NewHash(commit), Mode: git.HardReset}); err != nil {
		r.t.Fatalf("gitopstest: reset to %s: %v", commit, err)
	}
	return r
}

// Tag creates a lightweight tag at the current commit.
func (r *Repo) Tag(name string) *Repo {
	r.t.Helper()
	if _, err := r.repo.CreateTag(name, plumbing.NewHash(r.Head()), nil); err != nil {
		r.t.Fatalf("gitopstest: tag %s: %v", name, err)
	}
	return r
}

// AnnotatedTag creates an annotated tag object at the current commit.
func (r *Repo) AnnotatedTag(name, message string) *Repo {
	r.t.Helper()
	r.clock = r.clock.Add(time.Second)
	sig := repoAuthor
	sig.When = r.clock
	if _, err := r.repo.CreateTag(name, plumbing.NewHash(r.Head()), &git.CreateTagOptions{Tagger: &sig, Message: message}); err != nil {
		r.t.Fatalf("gitopstest: tag %s: %v", name, err)
	}
	return r
}

// DeleteTag removes a tag.
func (r *Repo) DeleteTag(name string) *Repo {
	r.t.Helper()
	if err := r.repo.DeleteTag(name); err != nil {
		r.t.Fatalf("gitopstest: delete tag %s: %v", name, err)
	}
	return r
}

// SetHEAD points the repository's HEAD (what a clone gets by default) at a branch
// without touching the working tree.
func (r *Repo) SetHEAD(branch string) *Repo {
	r.t.Helper()
	ref := plumbing.NewSymbolicReference(plumbing.HEAD, plumbing.NewBranchReferenceName(branch))
	if err := r.repo.Storer.SetReference(ref); err != nil {
		r.t.Fatalf("gitopstest: set HEAD to %s: %v", branch, err)
	}
	return r
}
