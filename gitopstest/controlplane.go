package gitopstest

import (
	"context"
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
var ErrNoControlPlane = errors.New("control plane binaries not found; run `make testenv` (hack/testenv.sh and hack/testenv-workloads.sh) to build them")

// ControlPlane is a real kube-apiserver + etcd started from binaries built by
// hack/testenv.sh. By default there is no kube-controller-manager: namespaces never
// finish terminating and nothing is garbage-collected, so tests use fresh namespaces.
// With ControlPlaneOptions.Workloads it also runs kube-controller-manager,
// kube-scheduler and kwok (built by hack/testenv-workloads.sh), so workloads really
// roll out on fake nodes.
type ControlPlane struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Dir is the folder the binaries were started from.
	Dir string
	// Nodes names the fake nodes kwok runs pods on; empty without Workloads.
	Nodes []string

	env       *envtest.Environment
	workloads *workloads
}

// ControlPlaneOptions tunes NewControlPlane. The zero value finds the binaries in
// $KUBEBUILDER_ASSETS or the hack/testenv.sh cache folder.
type ControlPlaneOptions struct {
	// Dir holds kube-apiserver and etcd. Empty: $KUBEBUILDER_ASSETS, then
	// ${XDG_CACHE_HOME:-$HOME/.cache}/driftless/testenv/<KubernetesVersion>.
	Dir string
	// StartTimeout bounds the start of each process (default 60s).
	StartTimeout time.Duration
	// Workloads also starts kube-controller-manager (the workload, namespace, garbage
	// collector and service account controllers; no leader election),
	// kube-scheduler and kwok with fake nodes, so pods bound to a node turn Running and
	// Ready, Job pods succeed, and PodOutcomeAnnotation / PodDelayAnnotation tune that.
	// The binaries must be in Dir too.
	Workloads bool
	// Nodes is the number of fake nodes with Workloads; 0 means 1.
	Nodes int
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
	if opts.Workloads {
		if err := missingWorkloadBinary(dir); err != nil {
			return nil, err
		}
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 60 * time.Second
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    dir,
		ControlPlaneStartTimeout: timeout,
		ControlPlaneStopTimeout:  60 * time.Second, // a loaded 2-core machine needs more than 20 s
	}
	api := env.ControlPlane.GetAPIServer()
	// Without a default route kube-apiserver cannot pick an advertise address; 1.37 only
	// takes 127.0.0.1 when the endpoint reconciler is off.
	api.Configure().
		Set("advertise-address", "127.0.0.1").
		Set("endpoint-reconciler-type", "none").
		Set("service-cluster-ip-range", ServiceClusterIPRange)
	if env.ControlPlane.Etcd == nil {
		env.ControlPlane.Etcd = &envtest.Etcd{}
	}
	env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")

	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("start control plane from %s: %w", dir, err)
	}
	cp := &ControlPlane{Config: cfg, Dir: dir, env: env}
	if opts.Workloads {
		nodes := opts.Nodes
		if nodes <= 0 {
			nodes = 1
		}
		w, names, err := startWorkloads(context.Background(), env, dir, nodes, timeout)
		if err != nil {
			_ = env.Stop()
			return nil, fmt.Errorf("start workload control plane from %s: %w", dir, err)
		}
		cp.workloads, cp.Nodes = w, names
	}
	return cp, nil
}

// Kubeconfig returns a kubeconfig file's content for the control plane's admin user,
// for programs that take --kubeconfig.
func (c *ControlPlane) Kubeconfig() []byte { return c.env.KubeConfig }

// Stop stops kwok, kube-scheduler and kube-controller-manager when they run, then the
// API server and etcd, and removes their temporary files (etcd's data directory
// included).
func (c *ControlPlane) Stop() error {
	if c == nil || c.env == nil {
		return nil
	}
	err := c.workloads.stop()
	c.workloads = nil
	return errors.Join(err, c.env.Stop())
}

// sharedControlPlane holds the control planes a test binary shares when its TestMain
// calls Main. It is the harness's only package-level state: starting a control plane
// costs seconds and hundreds of MB, so a test package starts at most one of each kind
// (plain, and with workloads).
var sharedControlPlane struct {
	sync.Mutex
	enabled bool
	// plain serves StartControlPlane, workloads StartWorkloadControlPlane.
	plain, workloads sharedSlot
}

// sharedSlot is one shared control plane, or the error starting it gave.
type sharedSlot struct {
	cp  *ControlPlane
	err error
}

// Main runs a test binary's tests and then stops the control planes they shared. Use it
// from TestMain so StartControlPlane and StartWorkloadControlPlane each start at most
// one control plane per package:
//
//	func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }
func Main(m *testing.M) int {
	sharedControlPlane.Lock()
	sharedControlPlane.enabled = true
	sharedControlPlane.Unlock()

	code := m.Run()

	sharedControlPlane.Lock()
	defer sharedControlPlane.Unlock()
	for _, slot := range []*sharedSlot{&sharedControlPlane.workloads, &sharedControlPlane.plain} {
		if slot.cp != nil {
			if err := slot.cp.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "gitopstest: stop control plane: %v\n", err)
			}
			slot.cp = nil
		}
	}
	return code
}

// StartControlPlane returns a running real control plane. Under Main it is started once
// and shared by every test of the package; otherwise each call starts one and stops it
// when the test ends. When the binaries are missing the test is skipped with a message
// that says how to build them, or fails when DRIFTLESS_REQUIRE_CONTROL_PLANE=1.
func StartControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	return startShared(t, ControlPlaneOptions{}, &sharedControlPlane.plain)
}

// StartWorkloadControlPlane is StartControlPlane with ControlPlaneOptions.Workloads:
// besides kube-apiserver and etcd it runs kube-controller-manager, kube-scheduler and
// kwok with one fake node, so Deployments, StatefulSets, DaemonSets and Jobs really
// roll out. Under Main it is started once per package (apart from StartControlPlane's),
// so tests share the cluster: each uses its own namespace. When any binary is missing
// the test is skipped with a message naming it, or fails when
// DRIFTLESS_REQUIRE_CONTROL_PLANE=1.
func StartWorkloadControlPlane(t testing.TB) *ControlPlane {
	t.Helper()
	return startShared(t, ControlPlaneOptions{Workloads: true}, &sharedControlPlane.workloads)
}

// startShared returns the control plane in slot under Main, starting it on first use,
// or a control plane of its own for t otherwise.
func startShared(t testing.TB, opts ControlPlaneOptions, slot *sharedSlot) *ControlPlane {
	t.Helper()
	sharedControlPlane.Lock()
	shared := sharedControlPlane.enabled
	if shared && (slot.cp != nil || slot.err != nil) {
		cp, err := slot.cp, slot.err
		sharedControlPlane.Unlock()
		return controlPlaneOrSkip(t, cp, err)
	}
	cp, err := NewControlPlane(opts)
	if shared {
		slot.cp, slot.err = cp, err
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
