package render

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seedApp lays out one application in the seed's layout under root.
func seedApp(t testing.TB, root, app string) {
	t.Helper()
	writeFiles(t, root, map[string]string{
		"apps/" + app + "/base/kustomization.yaml": "resources:\n- deployment.yaml\n- service.yaml\n",
		"apps/" + app + "/base/deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  replicas: 1
  selector:
    matchLabels:
      app: %[1]s
  template:
    metadata:
      labels:
        app: %[1]s
    spec:
      containers:
      - name: %[1]s
        image: registry.example.com/%[1]s:1.0.0
`, app),
		"apps/" + app + "/base/service.yaml":                           fmt.Sprintf("apiVersion: v1\nkind: Service\nmetadata:\n  name: %[1]s\nspec:\n  selector:\n    app: %[1]s\n  ports:\n  - port: 80\n", app),
		"apps/" + app + "/overlays/production-oslo/kustomization.yaml": "namespace: production-oslo\nresources:\n- ../../base\npatches:\n- path: replicas.yaml\n",
		"apps/" + app + "/overlays/production-oslo/replicas.yaml":      fmt.Sprintf("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\nspec:\n  replicas: 3\n", app),
		"apps/" + app + "/overlays/staging-bergen/kustomization.yaml":  "namespace: staging-bergen\nresources:\n- ../../base\npatches:\n- path: resources.yaml\n",
		"apps/" + app + "/overlays/staging-bergen/resources.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
spec:
  template:
    spec:
      containers:
      - name: %[1]s
        resources:
          requests:
            cpu: 50m
            memory: 64Mi
`, app),
	})
}

func TestCacheSecondRenderDoesNoKustomizeWork(t *testing.T) {
	root := t.TempDir()
	seedApp(t, root, "a")
	r := NewRenderer(RendererOptions{})
	ctx := context.Background()
	first, err := r.Render(ctx, root, "apps/a/overlays/production-oslo", Options{})
	require.NoError(t, err)
	require.Equal(t, int64(1), r.Stats().Builds)

	second, err := r.Render(ctx, root, "apps/a/overlays/production-oslo", Options{})
	require.NoError(t, err)
	assert.Equal(t, int64(1), r.Stats().Builds, "no kustomize build on unchanged inputs")
	assert.Equal(t, int64(1), r.Stats().CacheHits)
	assert.Same(t, first, second)
}

func TestCacheInvalidatesOnlyTheChangedApp(t *testing.T) {
	root := t.TempDir()
	seedApp(t, root, "a")
	seedApp(t, root, "b")
	r := NewRenderer(RendererOptions{})
	ctx := context.Background()
	paths := []string{"apps/a/overlays/production-oslo", "apps/a/overlays/staging-bergen", "apps/b/overlays/production-oslo", "apps/b/overlays/staging-bergen"}
	before := map[string]*Manifests{}
	for _, p := range paths {
		m, err := r.Render(ctx, root, p, Options{})
		require.NoError(t, err)
		before[p] = m
	}
	require.Equal(t, int64(4), r.Stats().Builds)

	// A commit that touches app A's base only.
	dep := filepath.Join(root, "apps/a/base/deployment.yaml")
	data, err := os.ReadFile(dep)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dep, []byte(strings.Replace(string(data), ":1.0.0", ":1.1.0", 1)), 0o644))

	for _, p := range paths {
		m, err := r.Render(ctx, root, p, Options{})
		require.NoError(t, err)
		if strings.HasPrefix(p, "apps/a/") {
			assert.NotEqual(t, before[p].Digest, m.Digest, p)
			assert.Contains(t, string(m.YAML()), "registry.example.com/a:1.1.0", p)
		} else {
			assert.Same(t, before[p], m, "%s is served from the cache", p)
		}
	}
	assert.Equal(t, int64(6), r.Stats().Builds, "only app A's two overlays are built again")
	assert.Equal(t, int64(2), r.Stats().CacheHits)
}

// TestCacheSeesNewFiles: files the previous render did not read (absent then) are
// inputs too: their appearance invalidates the entry.
func TestCacheSeesNewFiles(t *testing.T) {
	cm := func(name string) string { return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n" }
	cases := []struct {
		name    string
		files   map[string]string
		path    string
		change  map[string]string
		check   func(t *testing.T, m *Manifests, err error)
		rebuild bool
	}{
		{
			name:   "new YAML in an autodetected directory",
			files:  map[string]string{"plain/a.yaml": cm("a")},
			path:   "plain",
			change: map[string]string{"plain/b.yaml": cm("b")},
			check: func(t *testing.T, m *Manifests, err error) {
				require.NoError(t, err)
				assert.Len(t, m.Objects, 2)
			},
		},
		{
			name:   "new YAML in a nested autodetected directory",
			files:  map[string]string{"plain/a.yaml": cm("a"), "plain/sub/b.yaml": cm("b")},
			path:   "plain",
			change: map[string]string{"plain/sub/c.yaml": cm("c")},
			check: func(t *testing.T, m *Manifests, err error) {
				require.NoError(t, err)
				assert.Len(t, m.Objects, 3)
			},
		},
		{
			name:   "a kustomization appears in an autodetected subdirectory",
			files:  map[string]string{"plain/a.yaml": cm("a"), "plain/sub/b.yaml": cm("b")},
			path:   "plain",
			change: map[string]string{"plain/sub/kustomization.yaml": "namePrefix: k-\nresources:\n- b.yaml\n"},
			check: func(t *testing.T, m *Manifests, err error) {
				require.NoError(t, err)
				assert.Equal(t, "k-b", m.Objects[1].GetName())
			},
		},
		{
			name:   "a kustomization appears in the autodetected directory",
			files:  map[string]string{"plain/a.yaml": cm("a"), "plain/b.yaml": cm("b")},
			path:   "plain",
			change: map[string]string{"plain/kustomization.yaml": "resources:\n- a.yaml\n"},
			check: func(t *testing.T, m *Manifests, err error) {
				require.NoError(t, err)
				assert.Len(t, m.Objects, 1)
			},
		},
		{
			name:   "a second kustomization file appears",
			files:  map[string]string{"app/kustomization.yaml": "resources:\n- a.yaml\n", "app/a.yaml": cm("a")},
			path:   "app",
			change: map[string]string{"app/kustomization.yml": "resources:\n- a.yaml\n"},
			check: func(t *testing.T, m *Manifests, err error) {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "Found multiple kustomization files")
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeFiles(t, root, tc.files)
			r := NewRenderer(RendererOptions{})
			_, err := r.Render(context.Background(), root, tc.path, Options{})
			require.NoError(t, err)
			_, err = r.Render(context.Background(), root, tc.path, Options{})
			require.NoError(t, err)
			require.Equal(t, int64(1), r.Stats().CacheHits)
			writeFiles(t, root, tc.change)
			m, err := r.Render(context.Background(), root, tc.path, Options{})
			tc.check(t, m, err)
			assert.Equal(t, int64(1), r.Stats().CacheHits, "the changed tree is not served from the cache")
		})
	}
}

func TestCacheKeys(t *testing.T) {
	ctx := context.Background()
	t.Run("same content under another root is a hit", func(t *testing.T) {
		a, b := t.TempDir(), t.TempDir()
		seedApp(t, a, "x")
		seedApp(t, b, "x")
		r := NewRenderer(RendererOptions{})
		m1, err := r.Render(ctx, a, "apps/x/overlays/staging-bergen", Options{})
		require.NoError(t, err)
		m2, err := r.Render(ctx, b, "apps/x/overlays/staging-bergen", Options{})
		require.NoError(t, err)
		assert.Same(t, m1, m2)
		assert.Equal(t, int64(1), r.Stats().Builds)
	})
	t.Run("options are part of the key", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{"app/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: ${V}\n"})
		r := NewRenderer(RendererOptions{})
		for _, v := range []string{"one", "two", "one"} {
			m, err := r.Render(ctx, root, "app", Options{Substitution: &Substitution{Vars: map[string]string{"V": v}}})
			require.NoError(t, err)
			assert.Contains(t, string(m.YAML()), "v: "+v)
		}
		assert.Equal(t, int64(2), r.Stats().Builds)
		assert.Equal(t, int64(1), r.Stats().CacheHits)
	})
	t.Run("a retargeted symlink is a miss", func(t *testing.T) {
		root := t.TempDir()
		writeFiles(t, root, map[string]string{
			"v1/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: \"1\"\n",
			"v2/cm.yaml":             "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  v: \"2\"\n",
			"app/kustomization.yaml": "resources:\n- current\n",
			"v1/kustomization.yaml":  "resources:\n- cm.yaml\n",
			"v2/kustomization.yaml":  "resources:\n- cm.yaml\n",
		})
		link := filepath.Join(root, "app/current")
		require.NoError(t, os.Symlink("../v1", link))
		r := NewRenderer(RendererOptions{})
		m, err := r.Render(ctx, root, "app", Options{})
		require.NoError(t, err)
		assert.Contains(t, string(m.YAML()), `v: "1"`)
		require.NoError(t, os.Remove(link))
		require.NoError(t, os.Symlink("../v2", link))
		m, err = r.Render(ctx, root, "app", Options{})
		require.NoError(t, err)
		assert.Contains(t, string(m.YAML()), `v: "2"`)
		assert.Zero(t, r.Stats().CacheHits)
	})
	t.Run("disabled cache", func(t *testing.T) {
		root := t.TempDir()
		seedApp(t, root, "x")
		r := NewRenderer(RendererOptions{DisableCache: true})
		for i := 0; i < 2; i++ {
			_, err := r.Render(ctx, root, "apps/x/base", Options{})
			require.NoError(t, err)
		}
		assert.Equal(t, int64(2), r.Stats().Builds)
	})
}

func TestLRUCacheBounds(t *testing.T) {
	m := func(size int) *Manifests { return &Manifests{stream: make([]byte, size)} }
	set := func(k string) *InputSet { return &InputSet{Key: k} }

	c := NewLRUCache(LRUOptions{MaxEntries: 2})
	c.Add("t1", set("k1"), m(1))
	c.Add("t2", set("k2"), m(1))
	_, ok := c.Get("k1") // k1 is now the most recent
	require.True(t, ok)
	c.Add("t3", set("k3"), m(1))
	assert.Equal(t, 2, c.Len())
	_, ok = c.Get("k2")
	assert.False(t, ok, "the least recently used entry is evicted")
	assert.Empty(t, c.Candidates("t2"))
	_, ok = c.Get("k1")
	assert.True(t, ok)

	c = NewLRUCache(LRUOptions{MaxBytes: 100})
	c.Add("t1", set("k1"), m(20)) // 80 estimated bytes
	c.Add("t2", set("k2"), m(20))
	assert.Equal(t, 1, c.Len(), "bounded by bytes")

	c = NewLRUCache(LRUOptions{})
	for i := 0; i < candidatesPerTarget+2; i++ {
		c.Add("t", set(fmt.Sprint(i)), m(1))
	}
	cands := c.Candidates("t")
	require.Len(t, cands, candidatesPerTarget)
	assert.Equal(t, fmt.Sprint(candidatesPerTarget+1), cands[0].Key, "newest first")
}
