package render

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/driftless-dev/driftless/internal/testtools"
	"github.com/driftless-dev/driftless/source"
)

// benchApps is the size of the generated tree: 200 applications in the seed's layout
// (base + production-oslo + staging-bergen), 400 overlays.
const benchApps = 200

// benchTree generates the tree and returns its root and the overlay paths.
func benchTree(b *testing.B) (string, []string) {
	b.Helper()
	root := b.TempDir()
	var overlays []string
	for i := 0; i < benchApps; i++ {
		app := fmt.Sprintf("app-%03d", i)
		seedApp(b, root, app)
		overlays = append(overlays, "apps/"+app+"/overlays/production-oslo", "apps/"+app+"/overlays/staging-bergen")
	}
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		b.Fatal(err)
	}
	return real, overlays
}

// rawKrusty is the baseline: krusty on the plain on-disk filesystem, as the kustomize
// CLI runs it, in process, with the same output.
func rawKrusty(b *testing.B, root, path string) []byte {
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionUnspecified
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(root, path))
	if err != nil {
		b.Fatal(err)
	}
	y, err := m.AsYaml()
	if err != nil {
		b.Fatal(err)
	}
	return y
}

func BenchmarkRender(b *testing.B) {
	root, overlays := benchTree(b)
	ctx := context.Background()
	b.Run("krusty", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rawKrusty(b, root, overlays[i%len(overlays)])
		}
	})
	b.Run("cold", func(b *testing.B) {
		r := NewRenderer(RendererOptions{DisableCache: true})
		for i := 0; i < b.N; i++ {
			if _, err := r.Render(ctx, root, overlays[i%len(overlays)], Options{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		r := NewRenderer(RendererOptions{})
		for _, p := range overlays {
			if _, err := r.Render(ctx, root, p, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(racyWindow) // see BenchmarkRenderRatios
		for _, p := range overlays {
			if _, err := r.Render(ctx, root, p, Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := r.Render(ctx, root, overlays[i%len(overlays)], Options{}); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if r.Stats().Builds != int64(len(overlays)) {
			b.Fatalf("cached renders ran kustomize: %+v", r.Stats())
		}
	})
	b.Run("kustomize-cli", func(b *testing.B) {
		bin := testtools.Kustomize.Find(b)
		for i := 0; i < b.N; i++ {
			kustomizeCLI(b, bin, root, overlays[i%len(overlays)])
		}
	})
}

func kustomizeCLI(b *testing.B, bin, root, path string) {
	cmd := exec.Command(bin, "build", path)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "KUSTOMIZE_ENABLE_MANAGEDBY_LABEL=")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("kustomize build %s: %v\n%s", path, err, out)
	}
}

// BenchmarkRenderRatios measures, side by side in one run over the same 400 overlays:
// raw krusty in process, a cold render (sandbox, reference scan, validation,
// conversion; no cache), a cached render of unchanged inputs (by re-checking the files
// read, and by a Snapshot's content digest: RenderSnapshot), and the kustomize CLI
// (on a sample of overlays: each build is a process). krusty and cold renders are
// interleaved per overlay so that machine noise hits both alike. Run it with
//
//	go test -run '^$' -bench BenchmarkRenderRatios -benchtime 1x ./render/
func BenchmarkRenderRatios(b *testing.B) {
	root, overlays := benchTree(b)
	ctx := context.Background()
	cold := NewRenderer(RendererOptions{DisableCache: true})
	cached := NewRenderer(RendererOptions{})
	// Warm up: the first builds parse kustomize's OpenAPI schema; prime the cache.
	// Then one untimed pass of cache hits: files written less than racyWindow before
	// they were read are re-read once (as a checkout's files are, seconds after it).
	for _, p := range overlays {
		rawKrusty(b, root, p)
		if _, err := cached.Render(ctx, root, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(racyWindow)
	for _, p := range overlays {
		if _, err := cached.Render(ctx, root, p, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	var tKrusty, tCold, tCached, tCLI time.Duration
	var nBuilds, nCached, nCLI int
	var tSnapshot time.Duration
	bin := ""
	if os.Getenv("DRIFTLESS_KUSTOMIZE") != "" || os.Getenv(testtools.RequireEnv) == "1" {
		bin = testtools.Kustomize.Find(b)
	} else if out, err := exec.Command(filepath.Join(testtools.RepoRoot(b), "hack/kustomize.sh"), "--print").Output(); err == nil {
		if p := string(out[:len(out)-1]); fileExists(p) {
			bin = p
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, p := range overlays {
			// Alternate which goes first.
			first, second := func() { rawKrusty(b, root, p) }, func() {
				if _, err := cold.Render(ctx, root, p, Options{}); err != nil {
					b.Fatal(err)
				}
			}
			t0 := time.Now()
			if j%2 == 0 {
				first()
				t1 := time.Now()
				second()
				tKrusty += t1.Sub(t0)
				tCold += time.Since(t1)
			} else {
				second()
				t1 := time.Now()
				first()
				tCold += t1.Sub(t0)
				tKrusty += time.Since(t1)
			}
			nBuilds++
		}
		const cachedPasses = 20
		t0 := time.Now()
		for k := 0; k < cachedPasses; k++ {
			for _, p := range overlays {
				if _, err := cached.Render(ctx, root, p, Options{}); err != nil {
					b.Fatal(err)
				}
				nCached++
			}
		}
		tCached += time.Since(t0)
		snap := &source.Snapshot{Dir: root, Digest: "sha256:bench-tree"}
		t0 = time.Now()
		for k := 0; k < cachedPasses; k++ {
			for _, p := range overlays {
				if _, err := cached.RenderSnapshot(ctx, snap, p, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		}
		tSnapshot += time.Since(t0)
		if bin != "" {
			for j := 0; j < len(overlays); j += len(overlays) / 20 {
				t0 := time.Now()
				kustomizeCLI(b, bin, root, overlays[j])
				tCLI += time.Since(t0)
				nCLI++
			}
		}
	}
	b.StopTimer()
	if cached.Stats().Builds != int64(len(overlays)) { // snapshot renders ran none either
		b.Fatalf("cached renders ran kustomize: %+v", cached.Stats())
	}
	perKrusty := float64(tKrusty.Microseconds()) / float64(nBuilds)
	perCold := float64(tCold.Microseconds()) / float64(nBuilds)
	perCached := float64(tCached.Nanoseconds()) / 1e3 / float64(nCached)
	b.ReportMetric(perKrusty/1e3, "krusty-ms/build")
	b.ReportMetric(perCold/1e3, "cold-ms/build")
	b.ReportMetric(perCached, "cached-µs/build")
	b.ReportMetric(perCold/perKrusty, "cold/krusty")
	b.ReportMetric(perCold/perCached, "cold/cached")
	perSnapshot := float64(tSnapshot.Nanoseconds()) / 1e3 / float64(nCached)
	b.ReportMetric(perSnapshot, "snapshot-µs/build")
	b.ReportMetric(perCold/perSnapshot, "cold/snapshot")
	if nCLI > 0 {
		perCLI := float64(tCLI.Microseconds()) / float64(nCLI)
		b.ReportMetric(perCLI/1e3, "cli-ms/build")
		b.ReportMetric(perCold/perCLI, "cold/cli")
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
