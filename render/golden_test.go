package render

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/internal/testtools"
)

// goldenRoot is the corpus: every path in its targets.txt is built by the real
// kustomize CLI and by render, and the bytes must be equal.
const goldenRoot = "testdata/golden"

func goldenTargets(t testing.TB) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(goldenRoot, "targets.txt"))
	require.NoError(t, err)
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			targets = append(targets, line)
		}
	}
	require.NoError(t, sc.Err())
	return targets
}

// kustomizeBuild runs `kustomize build path` in dir, with the CLI's defaults (no
// managed-by label from the environment).
func kustomizeBuild(t testing.TB, bin, dir, path string) []byte {
	t.Helper()
	cmd := exec.Command(bin, "build", path)
	cmd.Dir = dir
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUSTOMIZE_") {
			cmd.Env = append(cmd.Env, e)
		}
	}
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("kustomize build %s: %v\n%s", path, err, ee.Stderr)
	}
	require.NoError(t, err)
	return out
}

func TestGoldenCorpusSize(t *testing.T) {
	assert.GreaterOrEqual(t, len(goldenTargets(t)), 40, "the corpus covers at least 40 kustomizations")
}

func TestGoldenMatchesKustomize(t *testing.T) {
	bin := testtools.Kustomize.Find(t)
	ctx := context.Background()
	cached := NewRenderer(RendererOptions{})
	for _, target := range goldenTargets(t) {
		t.Run(target, func(t *testing.T) {
			want := kustomizeBuild(t, bin, goldenRoot, target)
			m, err := Render(ctx, goldenRoot, target, Options{})
			require.NoError(t, err)
			assert.Equal(t, string(want), string(m.YAML()))
			assert.Equal(t, len(m.Objects), strings.Count(string(want), "\n---\n")+boolInt(len(want) > 0))

			// The cached path returns the same bytes, twice.
			for i := 0; i < 2; i++ {
				c, err := cached.Render(ctx, goldenRoot, target, Options{})
				require.NoError(t, err)
				assert.Equal(t, string(want), string(c.YAML()))
				assert.Equal(t, m.Digest, c.Digest)
			}
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestGoldenLargeManifest renders a kustomization over more than 5 MB of YAML,
// generated here rather than committed (about 80 objects of 600 KB in a few long
// values: kustomize's cost grows with the number of YAML nodes, not their size).
func TestGoldenLargeManifest(t *testing.T) {
	bin := testtools.Kustomize.Find(t)
	root := t.TempDir()
	var b strings.Builder
	for i := 0; b.Len() < 5<<20+100<<10; i++ {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big-%05d\n  labels:\n    shard: \"%d\"\ndata:\n", i, i%7)
		for k := 0; k < 8; k++ {
			fmt.Fprintf(&b, "  key-%02d: \"%d/%d %s\"\n", k, i, k, strings.Repeat("padding to make the manifest large ✓ ", 2000))
		}
	}
	writeFiles(t, root, map[string]string{
		"big/manifest.yaml":      b.String(),
		"big/kustomization.yaml": "namespace: bulk\ncommonLabels:\n  size: large\nresources:\n- manifest.yaml\n",
	})
	want := kustomizeBuild(t, bin, root, "big")
	require.Greater(t, len(want), 5<<20)
	m, err := Render(context.Background(), root, "big", Options{})
	require.NoError(t, err)
	assert.True(t, string(want) == string(m.YAML()), "render output differs from kustomize build (%d vs %d bytes)", len(m.YAML()), len(want))
}

// TestGoldenAutodetect renders plain-manifest directories and compares them with
// `kustomize build` of the same directory given the kustomization autodetect
// synthesizes (the resources in walk order, subdirectories with a kustomization as
// one resource).
func TestGoldenAutodetect(t *testing.T) {
	bin := testtools.Kustomize.Find(t)
	cm := func(name string) string {
		return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  k: v\n"
	}
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"plain/b.yaml":                            cm("b"),
		"plain/a.yml":                             cm("a") + "---\n" + cm("a2"),
		"plain/README.md":                         "# not yaml\n",
		"plain/config.json":                       `{"not": "a resource"}`,
		"plain/.github/workflow.yaml":             "on: push\n",
		"plain/.hidden.yaml":                      "not: kubernetes\n",
		"plain/nested/c.yaml":                     cm("c"),
		"plain/nested/deeper/d.yaml":              cm("d"),
		"plain/app/kustomization.yaml":            "resources:\n- e.yaml\nnamePrefix: app-\n",
		"plain/app/e.yaml":                        cm("e"),
		"plain/app/ignored-by-kustomization.yaml": cm("never"),
		"plain/empty.yaml":                        "",
	})
	m, err := Render(context.Background(), root, "plain", Options{})
	require.NoError(t, err)

	// The same directory with the kustomization written out, for the CLI.
	writeFiles(t, root, map[string]string{
		"plain/kustomization.yaml": "resources:\n- a.yml\n- app\n- b.yaml\n- empty.yaml\n- nested/c.yaml\n- nested/deeper/d.yaml\n",
	})
	want := kustomizeBuild(t, bin, root, "plain")
	assert.Equal(t, string(want), string(m.YAML()))
	assert.Len(t, m.Objects, 6)
}

// TestGoldenSymlinksInsideRoot: symbolic links that stay inside the root are
// followed, and the output matches the CLI's.
func TestGoldenSymlinksInsideRoot(t *testing.T) {
	bin := testtools.Kustomize.Find(t)
	root := t.TempDir()
	writeFiles(t, root, map[string]string{
		"shared/base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"shared/base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
		"app/patch.yaml":                 "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\ndata:\n  patched: \"yes\"\n",
		"app/real/secret.yaml":           "apiVersion: v1\nkind: Secret\nmetadata:\n  name: extra\n",
		"app/kustomization.yaml":         "resources:\n- base\n- alias.yaml\npatches:\n- path: patch.yaml\n",
	})
	require.NoError(t, os.Symlink("../shared/base", filepath.Join(root, "app/base")))
	require.NoError(t, os.Symlink("real/secret.yaml", filepath.Join(root, "app/alias.yaml")))
	want := kustomizeBuild(t, bin, root, "app")
	m, err := Render(context.Background(), root, "app", Options{})
	require.NoError(t, err)
	assert.Equal(t, string(want), string(m.YAML()))
}

func writeFiles(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
}
