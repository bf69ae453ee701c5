package render

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/internal/testtools"
)

// TestRemoteBaseAllowed: with AllowRemoteBases a kustomization may build on a Git
// repository (here a local one over file://, so the test needs no network): kustomize
// clones it into a temporary directory the sandbox then lets the build read. Such
// renders are never cached (the remote may change without any local file changing).
func TestRemoteBaseAllowed(t *testing.T) {
	testtools.Command(t, "git", "kustomize clones remote bases with the git CLI")
	repo := gitopstest.NewRepo(t)
	repo.WriteFiles(map[string]string{
		"base/kustomization.yaml": "resources:\n- cm.yaml\n",
		"base/cm.yaml":            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: remote\ndata:\n  from: git\n",
	}).Commit("base")

	root := t.TempDir()
	remote := repo.URL() + "//base?ref=main"
	writeFiles(t, root, map[string]string{"app/kustomization.yaml": "namespace: oslo\nresources:\n- " + remote + "\n"})

	r := NewRenderer(RendererOptions{})
	_, err := r.Render(context.Background(), root, "app", Options{})
	require.ErrorIs(t, err, ErrRemoteDisabled, "off by default")

	for i := 0; i < 2; i++ {
		m, err := r.Render(context.Background(), root, "app", Options{AllowRemoteBases: true})
		require.NoError(t, err)
		require.Len(t, m.Objects, 1)
		assert.Equal(t, "remote", m.Objects[0].GetName())
		assert.Equal(t, "oslo", m.Objects[0].GetNamespace())
	}
	assert.Zero(t, r.Stats().CacheHits, "remote renders are not cached")
	assert.Equal(t, int64(2), r.Stats().Uncacheable)
}
