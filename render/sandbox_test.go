package render

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const outsideSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: stolen\nstringData:\n  key: TOP-SECRET-OUTSIDE\n"

// escapeFixture makes a root holding apps/x, and next to it (outside the root) a
// directory with a kustomization and a secret file.
func escapeFixture(t *testing.T) (root, outside string) {
	t.Helper()
	parent := t.TempDir()
	root = filepath.Join(parent, "repo")
	outside = filepath.Join(parent, "outside")
	writeFiles(t, parent, map[string]string{
		"outside/kustomization.yaml": "resources:\n- secret.yaml\n",
		"outside/secret.yaml":        outsideSecret,
		"repo/apps/x/cm.yaml":        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
	})
	return root, outside
}

func TestSandboxEscapes(t *testing.T) {
	cases := []struct {
		name    string
		kust    string                                   // apps/x/kustomization.yaml
		setup   func(t *testing.T, root, outside string) // extra files or links
		opts    Options
		path    string // render path (default apps/x)
		wantErr error
		wantOp  string
		wantIn  string // ConstraintError.Path
		wantRef string // ConstraintError.Ref
	}{
		{
			name:    "../ base out of the root",
			kust:    "resources:\n- cm.yaml\n- ../../../outside\n",
			wantErr: ErrOutsideRoot, wantOp: "resources", wantIn: "apps/x/kustomization.yaml", wantRef: "../../../outside",
		},
		{
			name:    "../ file out of the root, load restrictions off",
			kust:    "resources:\n- cm.yaml\n- ../../../outside/secret.yaml\n",
			opts:    Options{LoadRestrictionsNone: true},
			wantErr: ErrOutsideRoot, wantOp: "resources", wantIn: "apps/x/kustomization.yaml", wantRef: "../../../outside/secret.yaml",
		},
		{
			name:    "generator file out of the root",
			kust:    "configMapGenerator:\n- name: g\n  files:\n  - key=../../../outside/secret.yaml\n",
			opts:    Options{LoadRestrictionsNone: true},
			wantErr: ErrOutsideRoot, wantOp: "files", wantIn: "apps/x/kustomization.yaml", wantRef: "../../../outside/secret.yaml",
		},
		{
			name: "symlinked file pointing out (relative)",
			kust: "resources:\n- cm.yaml\n- link.yaml\n",
			setup: func(t *testing.T, root, _ string) {
				require.NoError(t, os.Symlink("../../../outside/secret.yaml", filepath.Join(root, "apps/x/link.yaml")))
			},
			wantErr: ErrSymlinkOutside, wantIn: "apps/x/link.yaml", wantRef: "../../../outside/secret.yaml",
		},
		{
			name: "symlinked file pointing out (absolute)",
			kust: "resources:\n- cm.yaml\n- link.yaml\n",
			setup: func(t *testing.T, root, outside string) {
				require.NoError(t, os.Symlink(filepath.Join(outside, "secret.yaml"), filepath.Join(root, "apps/x/link.yaml")))
			},
			wantErr: ErrSymlinkOutside, wantIn: "apps/x/link.yaml",
		},
		{
			name: "symlinked directory pointing out",
			kust: "resources:\n- cm.yaml\n- base\n",
			setup: func(t *testing.T, root, _ string) {
				require.NoError(t, os.Symlink("../../../outside", filepath.Join(root, "apps/x/base")))
			},
			wantErr: ErrSymlinkOutside, wantIn: "apps/x/base", wantRef: "../../../outside",
		},
		{
			name: "symlinked parent directory pointing out",
			kust: "resources:\n- cm.yaml\n- up/outside/secret.yaml\n",
			opts: Options{LoadRestrictionsNone: true},
			setup: func(t *testing.T, root, _ string) {
				require.NoError(t, os.Symlink("../../..", filepath.Join(root, "apps/x/up")))
			},
			wantErr: ErrSymlinkOutside, wantIn: "apps/x/up", wantRef: "../../..",
		},
		{
			name: "symlinked render path pointing out",
			kust: "resources:\n- cm.yaml\n",
			path: "apps/escape",
			setup: func(t *testing.T, root, outside string) {
				require.NoError(t, os.Symlink("../../outside", filepath.Join(root, "apps/escape")))
			},
			wantErr: ErrSymlinkOutside, wantIn: "apps/escape", wantRef: "../../outside",
		},
		{
			name:    "absolute resource path",
			kust:    "resources:\n- cm.yaml\n- /etc/hosts\n",
			wantErr: ErrAbsolutePath, wantOp: "resources", wantIn: "apps/x/kustomization.yaml", wantRef: "/etc/hosts",
		},
		{
			name:    "absolute patch path",
			kust:    "resources:\n- cm.yaml\npatches:\n- path: /etc/passwd\n",
			wantErr: ErrAbsolutePath, wantOp: "patches", wantIn: "apps/x/kustomization.yaml", wantRef: "/etc/passwd",
		},
		{
			name:    "absolute render path",
			kust:    "resources:\n- cm.yaml\n",
			path:    "/etc",
			wantErr: ErrAbsolutePath,
		},
		{
			name:    "render path out of the root",
			kust:    "resources:\n- cm.yaml\n",
			path:    "../outside",
			wantErr: ErrOutsideRoot,
		},
		{
			name:    "remote base (https Git URL)",
			kust:    "resources:\n- cm.yaml\n- https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n",
			wantErr: ErrRemoteDisabled, wantOp: "resources", wantIn: "apps/x/kustomization.yaml", wantRef: "https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0",
		},
		{
			name:    "remote base (github.com shorthand)",
			kust:    "resources:\n- github.com/example/repo/deploy?ref=main\n",
			wantErr: ErrRemoteDisabled, wantOp: "resources", wantRef: "github.com/example/repo/deploy?ref=main",
		},
		{
			name:    "remote component (SCP-style)",
			kust:    "resources:\n- cm.yaml\ncomponents:\n- git@github.com:example/repo.git//components/x\n",
			wantErr: ErrRemoteDisabled, wantOp: "components", wantRef: "git@github.com:example/repo.git//components/x",
		},
		{
			name:    "remote patch file",
			kust:    "resources:\n- cm.yaml\npatches:\n- path: https://example.com/patch.yaml\n",
			wantErr: ErrRemoteDisabled, wantOp: "patches", wantRef: "https://example.com/patch.yaml",
		},
		{
			name: "remote base in a nested base",
			kust: "resources:\n- nested\n",
			setup: func(t *testing.T, root, _ string) {
				writeFiles(t, root, map[string]string{"apps/x/nested/kustomization.yaml": "resources:\n- ssh://git@example.com/repo.git\n"})
			},
			wantErr: ErrRemoteDisabled, wantIn: "apps/x/nested/kustomization.yaml", wantRef: "ssh://git@example.com/repo.git",
		},
		{
			name: "remote file in a transformer configuration",
			kust: "resources:\n- cm.yaml\ntransformers:\n- patcher.yaml\n",
			setup: func(t *testing.T, root, _ string) {
				writeFiles(t, root, map[string]string{"apps/x/patcher.yaml": "apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: https://example.com/p.yaml\ntarget:\n  kind: ConfigMap\n"})
			},
			wantErr: ErrRemoteDisabled, wantOp: "transformers", wantRef: "https://example.com/p.yaml",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root, outside := escapeFixture(t)
			writeFiles(t, root, map[string]string{"apps/x/kustomization.yaml": tc.kust})
			if tc.setup != nil {
				tc.setup(t, root, outside)
			}
			p := tc.path
			if p == "" {
				p = "apps/x"
			}
			r := NewRenderer(RendererOptions{})
			m, err := r.Render(context.Background(), root, p, tc.opts)
			require.Error(t, err)
			assert.Nil(t, m, "nothing is rendered")
			assert.ErrorIs(t, err, tc.wantErr)
			var ce *ConstraintError
			require.True(t, errors.As(err, &ce), "%T: %v", err, err)
			if tc.wantOp != "" {
				assert.Equal(t, tc.wantOp, ce.Op)
			}
			if tc.wantIn != "" {
				assert.Equal(t, tc.wantIn, ce.Path)
			}
			if tc.wantRef != "" {
				assert.Equal(t, tc.wantRef, ce.Ref)
			}
			assert.NotContains(t, err.Error(), "TOP-SECRET-OUTSIDE")
			if errors.Is(tc.wantErr, ErrRemoteDisabled) {
				assert.Contains(t, err.Error(), "AllowRemoteBases", "the error says how to enable remote bases")
			}
			assert.Zero(t, r.Stats().CacheHits)
		})
	}
}

// TestSandboxFilesystem exercises the filesystem directly: kustomize's own
// operations (CleanedAbs, Exists, Glob, Walk) stay inside the root too, and writes are
// refused.
func TestSandboxFilesystem(t *testing.T) {
	root, outside := escapeFixture(t)
	require.NoError(t, os.Symlink("../../../outside", filepath.Join(root, "apps/x/out")))
	require.NoError(t, os.Symlink("cm.yaml", filepath.Join(root, "apps/x/in.yaml")))
	real, err := filepath.EvalSymlinks(root)
	require.NoError(t, err)
	s, err := openSandbox(real, newRecorder())
	require.NoError(t, err)
	defer s.Close()

	_, err = s.ReadFile(filepath.Join(outside, "secret.yaml"))
	assert.ErrorIs(t, err, ErrOutsideRoot)
	_, err = s.ReadFile(filepath.Join(real, "apps/x/out/secret.yaml"))
	assert.ErrorIs(t, err, ErrSymlinkOutside)
	_, _, err = s.CleanedAbs(filepath.Join(real, "apps/x/out"))
	assert.ErrorIs(t, err, ErrSymlinkOutside)
	assert.False(t, s.Exists(filepath.Join(real, "apps/x/out/secret.yaml")))
	assert.False(t, s.IsDir(filepath.Join(real, "apps/x/out")))
	assert.False(t, s.Exists(filepath.Join(outside, "secret.yaml")))

	d, f, err := s.CleanedAbs(filepath.Join(real, "apps/x/in.yaml"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(real, "apps/x"), d.String())
	assert.Equal(t, "cm.yaml", f, "links inside the root resolve like filepath.EvalSymlinks")
	data, err := s.ReadFile("apps/x/in.yaml")
	require.NoError(t, err, "relative paths are relative to the root")
	assert.Contains(t, string(data), "name: x")

	matches, err := s.Glob(filepath.Join(real, "apps/x/*.yaml"))
	require.NoError(t, err)
	assert.Equal(t, []string{filepath.Join(real, "apps/x/cm.yaml"), filepath.Join(real, "apps/x/in.yaml")}, matches)
	var walked []string
	require.NoError(t, s.Walk(filepath.Join(real, "apps"), func(p string, _ os.FileInfo, err error) error {
		walked = append(walked, strings.TrimPrefix(p, real+"/"))
		return err
	}))
	assert.Equal(t, []string{"apps", "apps/x", "apps/x/cm.yaml", "apps/x/in.yaml", "apps/x/out"}, walked, "links are listed, not followed")

	for _, err := range []error{
		s.WriteFile(filepath.Join(real, "apps/x/new.yaml"), []byte("x")),
		s.MkdirAll(filepath.Join(real, "apps/y")),
		s.Mkdir(filepath.Join(real, "apps/z")),
		s.RemoveAll(filepath.Join(real, "apps")),
	} {
		assert.ErrorIs(t, err, ErrReadOnly)
	}
	_, err = s.Create(filepath.Join(real, "apps/x/new.yaml"))
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = os.Stat(filepath.Join(real, "apps/x/new.yaml"))
	assert.True(t, os.IsNotExist(err))
}

func TestIsRemoteRef(t *testing.T) {
	for ref, want := range map[string]bool{
		"https://github.com/org/repo//dir?ref=v1": true,
		"http://example.com/file.yaml":            true,
		"github.com/org/repo":                     true,
		"GitHub.com:org/repo":                     true,
		"git@gitlab.com:org/repo.git":             true,
		"git::https://example.com/repo":           true,
		"ssh://git@example.com/repo":              true,
		"file:///srv/git/repo":                    true,
		"../base":                                 false,
		"deployment.yaml":                         false,
		"github.com.yaml":                         false,
		"/etc/hosts":                              false,
		"overlays/prod":                           false,
	} {
		assert.Equal(t, want, isRemoteRef(ref), ref)
	}
}

// FuzzReferenceScan feeds arbitrary kustomization content to the reference scan: it
// must not panic, and whatever it accepts stays inside the root.
func FuzzReferenceScan(f *testing.F) {
	for _, s := range []string{
		"resources:\n- ../base\n- https://x//y\n",
		"patches:\n- path: /etc/passwd\n",
		"configMapGenerator:\n- name: a\n  files: [k=../../x]\n",
		"transformers:\n- |\n  path: ../x\n",
		"openapi:\n  path: s.json\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, kust string) {
		root := t.TempDir()
		if err := os.MkdirAll(filepath.Join(root, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, "app/kustomization.yaml"), []byte(kust), 0o644); err != nil {
			t.Fatal(err)
		}
		real, _ := filepath.EvalSymlinks(root)
		s, err := openSandbox(real, newRecorder())
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		sc := &refScan{s: s, visited: map[string]bool{}}
		_ = sc.scan("app")
		for dir := range sc.visited {
			if dir == ".." || strings.HasPrefix(dir, "../") {
				t.Fatalf("scanned %s outside the root", dir)
			}
		}
	})
}
