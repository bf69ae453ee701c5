package source_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/source"
)

// TestConcurrentResolveAndCheckout runs 8 goroutines against one cold cache, over
// file:// and http:// at once, mixing every ref kind. Run under -race.
func TestConcurrentResolveAndCheckout(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	srv := gitopstest.NewGitHTTPServer(t, r.Dir(), gitopstest.GitHTTPServerOptions{})
	f, _ := newFetcher(t)
	content := map[string]string{r.c1: "v: 1\n", r.c2: "v: 2\n", r.c3: "v: 3\n", r.c4: "v: 4\n"}
	refs := []struct {
		ref  source.Ref
		want string
	}{
		{source.Ref{Branch: "main"}, r.c3},
		{source.Ref{Branch: "feature"}, r.c4},
		{source.Ref{Tag: "v1.0.0"}, r.c1},
		{source.Ref{SemVer: "^1"}, r.c2},
		{source.Ref{Commit: r.c1}, r.c1},
		{source.Ref{Name: "refs/pull/1/head"}, r.c4},
		{source.Ref{}, r.c3},
		{source.Ref{Tag: "v1.2.0"}, r.c2},
	}
	urls := []string{r.URL(), srv.URL()}
	const workers, rounds = 8, 4
	errs := make([]error, workers) // worker i writes only errs[i]
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < rounds; n++ {
				tc := refs[(i+n)%len(refs)]
				repo := source.Repository{URL: urls[(i+n)%2]}
				rev, err := f.Resolve(ctx, repo, tc.ref)
				if err == nil && string(rev) != tc.want {
					err = fmt.Errorf("%s resolved to %s, want %s", tc.ref, rev, tc.want)
				}
				if err != nil {
					errs[i] = err
					return
				}
				snap, err := f.Checkout(ctx, repo, rev)
				if err != nil {
					errs[i] = err
					return
				}
				b, err := os.ReadFile(filepath.Join(snap.Dir, "app.yaml"))
				if err == nil && string(b) != content[tc.want] {
					err = fmt.Errorf("%s: app.yaml is %q, want %q", tc.ref, b, content[tc.want])
				}
				if cerr := snap.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "worker %d", i)
	}
}

func TestEvictionByAgeSparesHeldSnapshots(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	dir := t.TempDir()
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: dir, EvictInterval: -1})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	repo := source.Repository{URL: r.URL()}

	old, err := f.Fetch(ctx, repo, source.Ref{Tag: "v1.0.0"})
	require.NoError(t, err)
	require.NoError(t, old.Close())
	held, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)

	// Nothing is old enough for the default policy.
	st, err := cache.Evict(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Snapshots+st.Mirrors)

	// A second cache on the same directory (as another process would be) with a policy
	// that finds everything too old.
	strict, err := source.NewDiskCache(source.CacheOptions{Dir: dir, MaxAge: time.Nanosecond, EvictInterval: -1})
	require.NoError(t, err)
	st, err = strict.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Snapshots, "the closed snapshot goes")
	assert.Equal(t, 1, st.Mirrors, "the idle mirror goes")
	assert.NoDirExists(t, old.Dir)
	assert.Equal(t, "v: 3\n", readSnap(t, held, "app.yaml"), "the held snapshot stays")

	require.NoError(t, held.Close())
	st, err = strict.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Snapshots)
	assert.NoDirExists(t, held.Dir)
	assert.Zero(t, st.Kept)

	// Everything comes back on demand.
	again, err := f.Fetch(ctx, repo, source.Ref{Branch: "main"})
	require.NoError(t, err)
	defer again.Close()
	assert.Equal(t, "v: 3\n", readSnap(t, again, "app.yaml"))
}

func TestEvictionBySizeIsLeastRecentlyUsedFirst(t *testing.T) {
	ctx := context.Background()
	r := newRefRepo(t)
	dir := t.TempDir()
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: dir, EvictInterval: -1})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	repo := source.Repository{URL: r.URL()}

	var snaps []*source.Snapshot
	for _, c := range []string{r.c1, r.c2, r.c3} {
		s, err := f.Checkout(ctx, repo, source.Revision(c))
		require.NoError(t, err)
		require.NoError(t, s.Close())
		snaps = append(snaps, s)
		time.Sleep(20 * time.Millisecond) // distinct last-use times
	}
	// Use c1 again: c2 is now the least recently used.
	s, err := f.Checkout(ctx, repo, source.Revision(r.c1))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	st, err := cache.Evict(ctx)
	require.NoError(t, err)
	total := st.Kept
	each := int64(len("v: 1\n"))

	sized, err := source.NewDiskCache(source.CacheOptions{Dir: dir, MaxSize: total - each, EvictInterval: -1})
	require.NoError(t, err)
	st, err = sized.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Snapshots)
	assert.Zero(t, st.Mirrors, "snapshots go before mirrors")
	assert.DirExists(t, snaps[0].Dir)
	assert.NoDirExists(t, snaps[1].Dir, "the least recently used goes first")
	assert.DirExists(t, snaps[2].Dir)
	assert.LessOrEqual(t, st.Kept, total-each)
}

// TestTwoProcessesShareOneCache runs two processes fetching into one cache directory
// at once, then shows a snapshot held by another process survives eviction.
func TestTwoProcessesShareOneCache(t *testing.T) {
	r := newRefRepo(t)
	dir := t.TempDir()

	var wg sync.WaitGroup
	outs := make([]string, 2)
	errs := make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := helperCmd(t, dir, r.URL(), "main", "once")
			b, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(b), err
		}()
	}
	wg.Wait()
	for i := range outs {
		require.NoError(t, errs[i], outs[i])
		assert.Contains(t, outs[i], "revision "+r.c3)
	}
	assert.Equal(t, lastLine(outs[0]), lastLine(outs[1]), "same snapshot, same digest")
	mirrors, err := os.ReadDir(filepath.Join(dir, "mirrors"))
	require.NoError(t, err)
	assert.Len(t, mirrors, 1, "one mirror per repository")

	// A helper holds a snapshot until its stdin closes.
	cmd := helperCmd(t, dir, r.URL(), "feature", "hold")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	heldDir := strings.TrimSpace(strings.TrimPrefix(line, "holding "))
	require.DirExists(t, heldDir)

	strict, err := source.NewDiskCache(source.CacheOptions{Dir: dir, MaxAge: time.Nanosecond, EvictInterval: -1})
	require.NoError(t, err)
	_, err = strict.Evict(context.Background())
	require.NoError(t, err)
	assert.DirExists(t, heldDir, "held by the other process")

	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	_, err = strict.Evict(context.Background())
	require.NoError(t, err)
	assert.NoDirExists(t, heldDir)
}

func helperCmd(t *testing.T, dir, url, branch, mode string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "DRIFTLESS_SOURCE_HELPER="+strings.Join([]string{mode, dir, url, branch}, "\x1f"))
	return cmd
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// TestHelperProcess is the other process of TestTwoProcessesShareOneCache.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv("DRIFTLESS_SOURCE_HELPER")
	if spec == "" {
		t.Skip("helper process only")
	}
	parts := strings.Split(spec, "\x1f")
	mode, dir, url, branch := parts[0], parts[1], parts[2], parts[3]
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: dir, EvictInterval: -1})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	snap, err := f.Fetch(context.Background(), source.Repository{URL: url}, source.Ref{Branch: branch})
	require.NoError(t, err)
	defer snap.Close()
	switch mode {
	case "hold":
		fmt.Printf("holding %s\n", snap.Dir)
		_, _ = io.Copy(io.Discard, os.Stdin)
	default:
		fmt.Printf("revision %s\n%s %s\n", snap.Revision, snap.Dir, snap.Digest)
	}
}

// TestNewSnapshotLinksUnchangedFiles: a commit that changes one file of many writes
// one file; the others are hard links into the previous snapshot, which can then be
// evicted without harm.
func TestNewSnapshotLinksUnchangedFiles(t *testing.T) {
	ctx := context.Background()
	r := gitopstest.NewRepo(t)
	files := map[string]string{}
	for i := 0; i < 20; i++ {
		files[fmt.Sprintf("apps/app%d/deploy.yaml", i)] = fmt.Sprintf("replicas: %d\n", i)
	}
	r.WriteFiles(files).Commit("base")
	dir := t.TempDir()
	cache, err := source.NewDiskCache(source.CacheOptions{Dir: dir, EvictInterval: -1})
	require.NoError(t, err)
	f, err := source.NewFetcher(cache)
	require.NoError(t, err)
	repo := source.Repository{URL: r.URL()}
	first, err := f.Fetch(ctx, repo, source.Ref{})
	require.NoError(t, err)
	require.NoError(t, first.Close())

	r.Write("apps/app3/deploy.yaml", "replicas: 33\n").Commit("scale app3")
	second, err := f.Fetch(ctx, repo, source.Ref{})
	require.NoError(t, err)
	defer second.Close()

	same := func(p string) bool {
		a, err := os.Stat(filepath.Join(first.Dir, filepath.FromSlash(p)))
		require.NoError(t, err)
		b, err := os.Stat(filepath.Join(second.Dir, filepath.FromSlash(p)))
		require.NoError(t, err)
		return os.SameFile(a, b)
	}
	assert.True(t, same("apps/app0/deploy.yaml"), "unchanged file is shared")
	assert.True(t, same("apps/app19/deploy.yaml"), "unchanged file is shared")
	assert.False(t, same("apps/app3/deploy.yaml"), "changed file is new")
	assert.Equal(t, "replicas: 33\n", readSnap(t, second, "apps/app3/deploy.yaml"))

	strict, err := source.NewDiskCache(source.CacheOptions{Dir: dir, MaxAge: time.Nanosecond, EvictInterval: -1})
	require.NoError(t, err)
	st, err := strict.Evict(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, st.Snapshots)
	assert.NoDirExists(t, first.Dir)
	assert.Equal(t, "replicas: 0\n", readSnap(t, second, "apps/app0/deploy.yaml"), "the link outlives the old snapshot")
}
