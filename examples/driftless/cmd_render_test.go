package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/driftless-dev/driftless/internal/testtools"
)

const goldenRoot = "../../render/testdata/golden"

func TestRenderCommandMatchesKustomize(t *testing.T) {
	bin := testtools.Kustomize.Find(t)
	f, err := os.Open(filepath.Join(goldenRoot, "targets.txt"))
	require.NoError(t, err)
	defer f.Close()
	var targets []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			targets = append(targets, l)
		}
	}
	require.GreaterOrEqual(t, len(targets), 40)
	root, err := filepath.Abs(goldenRoot)
	require.NoError(t, err)
	for _, target := range targets {
		t.Run(target, func(t *testing.T) {
			cmd := exec.Command(bin, "build", target)
			cmd.Dir = root
			for _, e := range os.Environ() {
				if !strings.HasPrefix(e, "KUSTOMIZE_") {
					cmd.Env = append(cmd.Env, e)
				}
			}
			want, err := cmd.Output()
			require.NoError(t, err)

			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"render", "--root", root, filepath.Join(root, target)}, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			assert.Equal(t, string(want), stdout.String())
		})
	}
}

func TestRenderCommandErrors(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(root, "app"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "app/kustomization.yaml"), []byte("resources:\n- ../../etc\n"), 0o644))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{name: "escape", args: []string{"render", "--root", root, filepath.Join(root, "app")}, want: "path is outside the root"},
		{name: "path outside root", args: []string{"render", "--root", filepath.Join(root, "app"), root}, want: "outside the root"},
		{name: "no path", args: []string{"render"}, want: "usage: driftless render"},
		{name: "bad var", args: []string{"render", "--var", "novalue", root}, want: "want KEY=VALUE"},
		{name: "bad restrictor", args: []string{"render", "--load-restrictor", "x", root}, want: "--load-restrictor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &stdout, &stderr)
			assert.Equal(t, 2, code)
			assert.Empty(t, stdout.String(), "nothing is printed on error")
			assert.Contains(t, stderr.String(), tc.want)
		})
	}
}

func TestRenderCommandSubstitutes(t *testing.T) {
	root := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(root, "cm.yaml"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  region: ${REGION}\n"), 0o644))
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"render", root, "--root", root, "--var", "REGION=oslo", "--strict"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Contains(t, stdout.String(), "region: oslo")
}
