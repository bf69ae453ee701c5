package render

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/source"
)

func TestRenderSnapshotIsKeyedByDigest(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app", "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v1}\n"), 0o644))
	r := NewRenderer(RendererOptions{})
	ctx := context.Background()
	snap := &source.Snapshot{Revision: "r1", Dir: dir, Digest: "sha256:one"}
	first, err := r.RenderSnapshot(ctx, snap, "app", Options{})
	require.NoError(t, err)
	require.Len(t, first.Objects, 1)

	// The same digest is answered from memory: the tree is not even read.
	require.NoError(t, os.RemoveAll(filepath.Join(dir, "app")))
	again, err := r.RenderSnapshot(ctx, snap, "app", Options{})
	require.NoError(t, err)
	assert.Same(t, first, again)
	assert.Equal(t, int64(1), r.Stats().Builds)
	assert.Equal(t, int64(1), r.Stats().CacheHits)

	// Another digest renders (and here fails: the path is gone).
	_, err = r.RenderSnapshot(ctx, &source.Snapshot{Dir: dir, Digest: "sha256:two"}, "app", Options{})
	require.Error(t, err)
	// Options are part of the key.
	_, err = r.RenderSnapshot(ctx, snap, "app", Options{Substitution: &Substitution{Vars: map[string]string{"X": "1"}}})
	require.Error(t, err)
	// Without a cache nothing is remembered.
	nocache := NewRenderer(RendererOptions{DisableCache: true})
	_, err = nocache.RenderSnapshot(ctx, snap, "app", Options{})
	require.Error(t, err)
}
