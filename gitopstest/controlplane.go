package gitopstest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// KubernetesVersion is the version of the control plane hack/testenv.sh builds.
const KubernetesVersion = "v1.37.2"

// RequireControlPlaneEnv, when set to 1, turns "control plane binaries missing" from a
// skip into a test failure. `make test` and CI set it.
const RequireControlPlaneEnv = "DRIFTLESS_REQUIRE_CONTROL_PLANE"

// ErrNoControlPlane is returned by NewControlPlane when the binaries are not built.
var ErrNoControlPlane = errors.New("control plane binaries not found; run `make testenv` (hack/testenv.sh) to build them")

// ControlPlane is a real kube-apiserver + etcd started from binaries built by
// hack/testenv.sh. There is no kube-controller-manager: namespaces never finish
// terminating and nothing is garbage-collected, so tests use fresh namespaces.
type ControlPlane struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Dir is the folder the binaries were started from.
	Dir string

	env *envtest.Environment
}

// ControlPlaneOptions tunes NewControlPlane. The zero value finds the binaries in
// $KUBEBUILDER_ASSETS or the hack/testenv.sh cache folder.
type ControlPlaneOptions struct {
	// Dir holds kube-apiserver and etcd. Empty: $KUBEBUILDER_ASSETS, then
	// ${XDG_CACHE_HOME:-$HOME/.cache}/driftless/testenv/<KubernetesVersion>.
	Dir string
	// StartTimeout bounds the start of each process (default 60s).
	StartTimeout time.Duration
}

// ControlPlaneDir is where the control plane binaries are looked up when
// ControlPlaneOptions.Dir is empty.
func ControlPlaneDir() string {
	if d := os.Getenv("KUBEBUILDER_ASSETS"); d != "" {
		return d
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	return filepath.Join(cache, "driftless", "testenv", KubernetesVersion)
}

// NewControlPlane starts kube-apiserver and etcd and waits until the API server serves.
// Stop it with Stop. It returns an error wrapping ErrNoControlPlane when the binaries are
// missing.
func NewControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	dir := opts.Dir
	if dir == "" {
		dir = ControlPlaneDir()
	}
	for _, bin := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return nil, fmt.Errorf("%w (looked for %s in %s)", ErrNoControlPlane, bin, dir)
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  20 * time.Second,
	}
	api := env.ControlPlane.GetAPIServer()
	// Without a default route kube-apiserver cannot pick an advertise address; 1.37 only
	// takes 127.0.0.1 when the endpoint reconciler is off.
	api.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none")
	if env.ControlPlane.Etcd == nil {
		env.ControlPlane.Etcd = &envtest.Etcd{}
	}
	env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")

	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start control plane from %s: %w", dir, err)
	}
	return &ControlPlane{Config: cfg, Dir: dir, env: env}, nil
}

// Stop stops the API server and etcd and removes etcd's data directory.
func (c *ControlPlane) Stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	return c.env.Stop()
}

// sharedControlPlane is the one control plane a test binary shares when its TestMain
// calls Main. It is the harness's only package-level state: starting a control plane
// costs seconds and hundreds of MB, so a test package starts at most one.
var sharedControlPlane struct {
	sync.Mutex
	enabled bool
	cp      *ControlPlane
	err     error
}

// Main runs a test binary's tests and then stops the control plane they shared. Use it
// from TestMain so StartControlPlane starts one control plane per package:
//
//	func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }
func Main(m *testing.M) int {
	sharedControlPlane.Lock()
	sharedControlPlane.enabled = true
	sharedControlPlane.Unlock()

	code := m.Run()

	sharedControlPlane.Lock()
	defer sharedControlPlane.Unlock()
	if sharedControlPlane.cp != nil {
		if err := sharedControlPlane.cp.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "gitopstest: stop control plane: %v\n", err)
		}
		sharedControlPlane.cp = nil
	}
	return code
}

// StartControlPlane returns a running real control plane. Under Main it is started once
// and shared by every test of the package; otherwise each call starts one and stops it
// when the test ends. When the binaries are missing the test is skipped with a message
// that says how to build them, or fails when DRIFTLESS_REQUIRE_CONTROL_PLANE=1.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	sharedControlPlane.Lock()
	shared := sharedControlPlane.enabled
	if shared && (sharedControlPlane.cp != nil || sharedControlPlane.err != nil) {
		cp, err := sharedControlPlane.cp, sharedControlPlane.err
		sharedControlPlane.Unlock()
		return controlPlaneOrSkip(t, cp, err)
	}
	cp, err := NewControlPlane(ControlPlaneOptions{})
	if shared {
		sharedControlPlane.cp, sharedControlPlane.err = cp, err
	}
	sharedControlPlane.Unlock()
	if !shared && err == nil {
		t.Cleanup(func() {
			if err := cp.Stop(); err != nil {
				t.Errorf("gitopstest: stop control plane: %v", err)
			}
		})
	}
	return controlPlaneOrSkip(t, cp, err)
}

func controlPlaneOrSkip(t testing.TB, cp *ControlPlane, err error) *ControlPlane {
	t.Helper()
	if err == nil {
		return cp
	}
	if errors.Is(err, ErrNoControlPlane) && os.Getenv(RequireControlPlaneEnv) != "1" {
		t.Skipf("gitopstest: %v; skipping (set %s=1 to fail instead)", err, RequireControlPlaneEnv)
	}
	t.Fatalf("gitopstest: %v", err)
	return nil
}
