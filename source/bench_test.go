//go:build linux

package source

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/internal/testtools"
)

// The benchmarks run driftless and the git CLI side by side, in the same run, on the
// same generated repository served by the same smart-HTTP server (git http-backend),
// and report the ratios:
//
//	go test -run '^$' -bench . -benchtime 3x ./source/
//
// The repository (5,000 commits, 2,000 files) is generated once with git fast-import
// and cached under ${XDG_CACHE_HOME:-$HOME/.cache}/driftless/bench.
const (
	benchCommits = 5000
	benchFiles   = 2000
)

// benchOrigin returns a private copy of the generated repository (the benchmarks add
// commits to it) served over HTTP.
func benchOrigin(b *testing.B) (dir string, srv *gitopstest.GitHTTPServer) {
	b.Helper()
	testtools.Command(b, "git", "the benchmarks run the git CLI beside driftless")
	cached := generatedRepo(b)
	dir = filepath.Join(b.TempDir(), "origin.git")
	run(b, "", "cp", "-a", cached, dir)
	return dir, gitopstest.NewGitHTTPServer(b, dir, gitopstest.GitHTTPServerOptions{})
}

// generatedRepo returns the cached bare repository, generating it when missing.
func generatedRepo(b *testing.B) string {
	b.Helper()
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			base = b.TempDir()
		} else {
			base = filepath.Join(home, ".cache")
		}
	}
	dir := filepath.Join(base, "driftless", "bench", fmt.Sprintf("gen-v1-%dc-%df.git", benchCommits, benchFiles))
	if _, err := os.Stat(filepath.Join(dir, "driftless-complete")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		b.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".gen-*")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	start := time.Now()
	run(b, "", "git", "init", "-q", "--bare", "-b", "main", tmp)
	cmd := exec.Command("git", "-C", tmp, "fast-import", "--quiet")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(stdin, 1<<20)
	writeFastImport(w)
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		b.Fatalf("git fast-import: %v", err)
	}
	run(b, tmp, "git", "repack", "-a", "-d", "-q")
	if err := os.WriteFile(filepath.Join(tmp, "driftless-complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %s", dir, time.Since(start).Round(time.Millisecond))
	return dir
}

// writeFastImport writes the repository as a fast-import stream: a first commit with
// benchFiles YAML files of 40 lines in 200 directories, then commits that each change
// one line in two files.
func writeFastImport(w io.Writer) {
	file := func(f, changed, c int) string {
		var s strings.Builder
		for k := 0; k < 40; k++ {
			v := k
			if k == changed {
				v = c
			}
			fmt.Fprintf(&s, "key%d: value-%d-%d\n", k, f, v)
		}
		return s.String()
	}
	modify := func(f int, content string) {
		fmt.Fprintf(w, "M 100644 inline apps/app%03d/file%d.yaml\ndata %d\n%s\n", f/10, f%10, len(content), content)
	}
	for c := 1; c <= benchCommits; c++ {
		msg := fmt.Sprintf("commit %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\ncommitter bench <bench@driftless.dev> %d +0000\ndata %d\n%s\n", c, 1700000000+c, len(msg), msg)
		if c > 1 {
			fmt.Fprintf(w, "from :%d\n", c-1)
		}
		if c == 1 {
			for f := 0; f < benchFiles; f++ {
				modify(f, file(f, -1, 0))
			}
			continue
		}
		for j := 0; j < 2; j++ {
			f := (c*7919 + j*104729) % benchFiles
			modify(f, file(f, c%40, c))
		}
	}
}

// addCommit adds one small commit (one line of one file) to main of the bare origin.
func addCommit(b *testing.B, origin string, n int) {
	b.Helper()
	content := fmt.Sprintf("increment: %d\n", n)
	msg := fmt.Sprintf("increment %d", n)
	stream := fmt.Sprintf("commit refs/heads/main\ncommitter bench <bench@driftless.dev> %d +0000\ndata %d\n%s\nfrom refs/heads/main^0\nM 100644 inline apps/app007/increment.yaml\ndata %d\n%s\n",
		1800000000+n, len(msg), msg, len(content), content)
	cmd := exec.Command("git", "-C", origin, "fast-import", "--quiet")
	cmd.Stdin = strings.NewReader(stream)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git fast-import: %v\n%s", err, out)
	}
}

// run runs a command.
func run(b *testing.B, dir string, name string, args ...string) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// timed runs fn and returns how long it took.
func timed(b *testing.B, fn func() error) time.Duration {
	b.Helper()
	start := time.Now()
	if err := fn(); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// report adds driftless's and git's mean time per op and their ratio.
func report(b *testing.B, name string, ours, theirs time.Duration) {
	n := float64(b.N)
	b.ReportMetric(ours.Seconds()/n, name+"-s/op")
	b.ReportMetric(theirs.Seconds()/n, "git-"+name+"-s/op")
	b.ReportMetric(ours.Seconds()/theirs.Seconds(), "x-git-"+name)
}

func benchHead(b *testing.B, repo Repository) Revision {
	b.Helper()
	rev, err := Resolve(context.Background(), repo, Ref{Branch: "main"})
	if err != nil {
		b.Fatal(err)
	}
	return rev
}

// BenchmarkColdMirror: a first fetch of the whole repository into an empty mirror,
// beside `git clone --mirror`.
func BenchmarkColdMirror(b *testing.B) {
	_, srv := benchOrigin(b)
	repo := Repository{URL: srv.URL()}
	rev := benchHead(b, repo)
	ctx := context.Background()
	var ours, theirs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		ours += timed(b, func() error {
			return ensureCommit(ctx, filepath.Join(dir, "m"), DefaultObjectCacheSize, repo, rev, "refs/heads/main")
		})
		b.StopTimer()
		theirs += timed(b, func() error {
			run(b, "", "git", "clone", "-q", "--mirror", srv.URL(), filepath.Join(dir, "g"))
			return nil
		})
		b.StartTimer()
	}
	report(b, "clone", ours, theirs)
}

// BenchmarkNoOpPoll: polling an unchanged remote once the revision is cached: one
// ls-remote and no pack (counted on the server), beside `git ls-remote` and a no-op
// `git fetch` in a mirror.
func BenchmarkNoOpPoll(b *testing.B) {
	_, srv := benchOrigin(b)
	repo := Repository{URL: srv.URL()}
	ctx := context.Background()
	cache, err := NewDiskCache(CacheOptions{Dir: b.TempDir(), EvictInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	f, _ := NewFetcher(cache)
	snap, err := f.Fetch(ctx, repo, Ref{Branch: "main"})
	if err != nil {
		b.Fatal(err)
	}
	_ = snap.Close()
	gitMirror := filepath.Join(b.TempDir(), "g")
	run(b, "", "git", "clone", "-q", "--mirror", srv.URL(), gitMirror)

	var ours, lsRemote, fetch time.Duration
	var requests, packs int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		srv.ResetLog()
		ours += timed(b, func() error {
			snap, err := f.Fetch(ctx, repo, Ref{Branch: "main"})
			if err != nil {
				return err
			}
			return snap.Close()
		})
		b.StopTimer()
		requests += len(srv.Requests())
		packs += srv.UploadPacks()
		lsRemote += timed(b, func() error { run(b, "", "git", "ls-remote", srv.URL(), "refs/heads/main"); return nil })
		fetch += timed(b, func() error { run(b, gitMirror, "git", "fetch", "-q"); return nil })
		b.StartTimer()
	}
	b.ReportMetric(float64(requests)/float64(b.N), "requests/op")
	b.ReportMetric(float64(packs)/float64(b.N), "packs/op")
	report(b, "lsremote", ours, lsRemote)
	b.ReportMetric(ours.Seconds()/fetch.Seconds(), "x-git-fetch")
}

// BenchmarkIncrementalFetch: one small new commit on main. "fetch" is the mirror
// update alone beside `git fetch` in a mirror; "poll" adds the ls-remote that found
// the change (what Fetcher.Fetch does); x-reclone is how much faster it is than a cold
// clone of the same repository (what a re-cloning controller pays).
func BenchmarkIncrementalFetch(b *testing.B) {
	origin, srv := benchOrigin(b)
	repo := Repository{URL: srv.URL()}
	ctx := context.Background()
	mirror := filepath.Join(b.TempDir(), "m")
	reclone := timed(b, func() error {
		return ensureCommit(ctx, mirror, DefaultObjectCacheSize, repo, benchHead(b, repo), "refs/heads/main")
	})
	gitMirror := filepath.Join(b.TempDir(), "g")
	run(b, "", "git", "clone", "-q", "--mirror", srv.URL(), gitMirror)

	var fetch, poll, theirs time.Duration
	var packBytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		addCommit(b, origin, i)
		srv.ResetLog()
		b.StartTimer()
		var rev Revision
		resolveTime := timed(b, func() error {
			var err error
			rev, err = Resolve(ctx, repo, Ref{Branch: "main"})
			return err
		})
		fetchTime := timed(b, func() error {
			return ensureCommit(ctx, mirror, DefaultObjectCacheSize, repo, rev, "refs/heads/main")
		})
		b.StopTimer()
		fetch += fetchTime
		poll += resolveTime + fetchTime
		packBytes += srv.UploadPackBytes()
		theirs += timed(b, func() error { run(b, gitMirror, "git", "fetch", "-q"); return nil })
		b.StartTimer()
	}
	report(b, "fetch", fetch, theirs)
	b.ReportMetric(poll.Seconds()/theirs.Seconds(), "x-git-poll")
	b.ReportMetric(float64(packBytes)/float64(b.N), "pack-bytes/op")
	b.ReportMetric(reclone.Seconds()/(fetch.Seconds()/float64(b.N)), "x-reclone")
}

// BenchmarkPeakMemory measures the peak RSS of a whole `driftless`-style fetch (cold:
// clone and snapshot; incremental: one new commit, fetch and snapshot) in a process of
// its own (source/internal/fetchbench), beside `git clone --mirror` / `git fetch`.
func BenchmarkPeakMemory(b *testing.B) {
	helper := filepath.Join(b.TempDir(), "fetchbench")
	run(b, "", "go", "build", "-o", helper, "github.com/driftless-dev/driftless/source/internal/fetchbench")
	origin, srv := benchOrigin(b)

	b.Run("cold", func(b *testing.B) {
		var ours, theirs int64
		for i := 0; i < b.N; i++ {
			dir := b.TempDir()
			ours = max(ours, measure(b, helper, "", helper, filepath.Join(dir, "cache"), srv.URL(), "main"))
			theirs = max(theirs, measure(b, helper, "", "git", "clone", "-q", "--mirror", srv.URL(), filepath.Join(dir, "g")))
		}
		reportMem(b, ours, theirs)
	})
	b.Run("incremental", func(b *testing.B) {
		dir := b.TempDir()
		run(b, "", helper, filepath.Join(dir, "cache"), srv.URL(), "main")
		run(b, "", "git", "clone", "-q", "--mirror", srv.URL(), filepath.Join(dir, "g"))
		var ours, theirs int64
		for i := 0; i < b.N; i++ {
			addCommit(b, origin, 1000+i)
			ours = max(ours, measure(b, helper, "", helper, filepath.Join(dir, "cache"), srv.URL(), "main"))
			theirs = max(theirs, measure(b, helper, filepath.Join(dir, "g"), "git", "fetch", "-q"))
		}
		reportMem(b, ours, theirs)
	})
}

// measure runs a command under the helper's -measure mode and returns its peak RSS in
// KiB.
func measure(b *testing.B, helper, dir string, args ...string) int64 {
	b.Helper()
	cmd := exec.Command(helper, append([]string{"-measure"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	var kib int64
	if _, err := fmt.Sscanf(lines[len(lines)-1], "maxrss-kib %d", &kib); err != nil {
		b.Fatalf("%s: %q: %v", strings.Join(args, " "), out, err)
	}
	return kib
}

func reportMem(b *testing.B, oursKiB, theirsKiB int64) {
	b.ReportMetric(float64(oursKiB)/1024, "peak-MiB")
	b.ReportMetric(float64(theirsKiB)/1024, "git-peak-MiB")
	b.ReportMetric(float64(oursKiB)/float64(theirsKiB), "x-git-mem")
}
