package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestFetchCommand(t *testing.T) {
	repo := gitopstest.NewRepo(t)
	first := repo.Write("app.yaml", "v: 1\n").Commit("one")
	repo.Tag("v1.0.0")
	head := repo.Write("app.yaml", "v: 2\n").Commit("two")
	cache := t.TempDir()

	tests := []struct {
		name     string
		args     []string
		wantRev  string
		wantFile string
	}{
		{"remote HEAD", []string{"fetch", repo.URL(), "--cache", cache}, head, "v: 2\n"},
		{"flag after URL", []string{"fetch", repo.URL(), "--ref", "v1.0.0", "--cache", cache}, first, "v: 1\n"},
		{"flag before URL", []string{"fetch", "--cache", cache, "--ref", "semver:^1", repo.URL()}, first, "v: 1\n"},
		{"commit", []string{"fetch", "--cache", cache, "--ref", head, repo.URL()}, head, "v: 2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			out := parseFetchOutput(t, stdout.String())
			assert.Equal(t, tt.wantRev, out["revision"])
			assert.Regexp(t, `^sha256:[0-9a-f]{64}$`, out["digest"])
			b, err := os.ReadFile(filepath.Join(out["path"], "app.yaml"))
			require.NoError(t, err)
			assert.Equal(t, tt.wantFile, string(b))
		})
	}

	t.Run("local directory", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run(context.Background(), []string{"fetch", "--cache", cache, repo.Dir()}, &stdout, &stderr), stderr.String())
		out := parseFetchOutput(t, stdout.String())
		assert.Equal(t, out["digest"], out["revision"])
		assert.NoDirExists(t, filepath.Join(out["path"], ".git"))
	})

	t.Run("unknown ref", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"fetch", "--cache", cache, "--ref", "branch:nope", repo.URL()}, &stdout, &stderr)
		assert.Equal(t, 2, code)
		assert.Contains(t, stderr.String(), "unknown ref")
		assert.Contains(t, stderr.String(), "branch nope")
		assert.Empty(t, stdout.String())
	})

	t.Run("usage", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		assert.Equal(t, 2, run(context.Background(), []string{"fetch"}, &stdout, &stderr))
		assert.Contains(t, stderr.String(), "usage: driftless fetch")
	})
}

func parseFetchOutput(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		k, v, ok := strings.Cut(line, ": ")
		require.True(t, ok, line)
		out[k] = v
	}
	require.Contains(t, out, "revision")
	require.Contains(t, out, "path")
	return out
}
