package gitopstest

// The workload half of the real control plane: kube-controller-manager, kube-scheduler
// and kwok beside envtest's kube-apiserver + etcd, so Deployments, ReplicaSets,
// StatefulSets, DaemonSets, Jobs and CronJobs really roll out on fake nodes, namespaces
// really finish terminating and owned objects are garbage-collected.

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Annotations a test puts on a pod, or on the pod template of a workload, to tell the
// fake kubelet (kwok) what to do with it. Without them a pod bound to a fake node turns
// Running and Ready at once, and a pod owned by a Job then Succeeds.
const (
	// PodOutcomeAnnotation picks how a pod ends: PodOutcomeFail or PodOutcomeUnready.
	PodOutcomeAnnotation = "gitopstest.driftless.dev/pod-outcome"
	// PodOutcomeFail: the pod runs, then fails with exit code 1 (a failing Job's pod).
	PodOutcomeFail = "fail"
	// PodOutcomeUnready: the pod runs but never becomes Ready (a readiness probe that
	// never passes, an image that never starts serving).
	PodOutcomeUnready = "unready"
	// PodDelayAnnotation delays each step the fake kubelet takes with the pod (start,
	// complete, fail) by a Go duration ("2s"), so a rollout takes visible time.
	PodDelayAnnotation = "gitopstest.driftless.dev/pod-delay"
	// FakeNodeLabel is set to "true" on every fake node a workload control plane makes.
	FakeNodeLabel = "gitopstest.driftless.dev/fake-node"
)

// ServiceClusterIPRange is the Service IP range of the control plane (passed to
// kube-apiserver and kube-controller-manager): a /16, so benchmarks can create
// thousands of Services (envtest's default /24 runs out at 254).
const ServiceClusterIPRange = "10.0.0.0/16"

// workloadBinaries are the binaries, besides kube-apiserver and etcd, that a workload
// control plane needs; hack/testenv-workloads.sh builds them.
func workloadBinaries() []string {
	return []string{"kube-controller-manager", "kube-scheduler", "kwok"}
}

// kcmControllers are the controllers kube-controller-manager runs: the workload
// controllers, namespace deletion, garbage collection, service accounts and pod GC.
// node-lifecycle is left out on purpose: kwok's nodes send no heartbeats, and with it
// they would be tainted NotReady and their pods evicted after the grace period.
const kcmControllers = "deployment-controller,replicaset-controller,statefulset-controller," +
	"daemonset-controller,job-controller,cronjob-controller,ttl-after-finished-controller," +
	"namespace-controller,garbage-collector-controller,serviceaccount-controller," +
	"serviceaccount-token-controller,pod-garbage-collector-controller"

// workloads are the processes started beside the API server and the folder holding
// their kubeconfig, kwok's stages and their logs.
type workloads struct {
	dir   string
	procs []*process // in start order
}

// process is one started binary and its log file.
type process struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited; err is then set
	err  error
}

// missingWorkloadBinary returns an error wrapping ErrNoControlPlane when a workload
// binary is not in dir.
func missingWorkloadBinary(dir string) error {
	for _, bin := range workloadBinaries() {
		if _, err := os.Stat(filepath.Join(dir, bin)); err != nil {
			return fmt.Errorf("%w (looked for %s in %s; hack/testenv-workloads.sh builds it)", ErrNoControlPlane, bin, dir)
		}
	}
	return nil
}

// startWorkloads starts kube-controller-manager, kube-scheduler and kwok against the
// running env, creates nodes fake nodes and waits until all of them are Ready. On error
// it stops whatever it started and removes its folder.
func startWorkloads(ctx context.Context, env *envtest.Environment, dir string, nodes int, timeout time.Duration) (w *workloads, names []string, err error) {
	tmp, err := os.MkdirTemp("", "gitopstest-workloads-")
	if err != nil {
		return nil, nil, fmt.Errorf("workload control plane: %w", err)
	}
	w = &workloads{dir: tmp}
	defer func() {
		if err != nil {
			err = errors.Join(err, w.stop())
			w = nil
		}
	}()

	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		return w, nil, fmt.Errorf("write kubeconfig: %w", err)
	}
	api := env.ControlPlane.GetAPIServer()
	// envtest signs service account tokens with this key; the token controller signs
	// with the same one.
	saKey := filepath.Join(api.CertDir, "sa-signer.key")
	if _, err := os.Stat(saKey); err != nil {
		return w, nil, fmt.Errorf("service account signing key of envtest's API server: %w", err)
	}
	caFile := filepath.Join(tmp, "ca.crt")
	if err := os.WriteFile(caFile, api.SecureServing.CA, 0o600); err != nil {
		return w, nil, fmt.Errorf("write API server CA: %w", err)
	}

	kcmPort, err := freePort()
	if err != nil {
		return w, nil, err
	}
	kcm, err := w.start(filepath.Join(dir, "kube-controller-manager"), nil,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--use-service-account-credentials=false",
		"--controllers="+kcmControllers,
		"--service-account-private-key-file="+saKey,
		"--root-ca-file="+caFile,
		"--service-cluster-ip-range="+ServiceClusterIPRange,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(kcmPort),
		"--profiling=false",
	)
	if err != nil {
		return w, nil, err
	}
	if err := waitHealthy(ctx, kcm, kcmPort, timeout); err != nil {
		return w, nil, err
	}

	schedPort, err := freePort()
	if err != nil {
		return w, nil, err
	}
	sched, err := w.start(filepath.Join(dir, "kube-scheduler"), nil,
		"--kubeconfig="+kubeconfig,
		"--leader-elect=false",
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(schedPort),
		"--profiling=false",
	)
	if err != nil {
		return w, nil, err
	}
	if err := waitHealthy(ctx, sched, schedPort, timeout); err != nil {
		return w, nil, err
	}

	stages := filepath.Join(tmp, "kwok.yaml")
	if err := os.WriteFile(stages, []byte(kwokStages), 0o600); err != nil {
		return w, nil, fmt.Errorf("write kwok stages: %w", err)
	}
	// HOME points at the folder so that kwok does not also load ~/.kwok/kwok.yaml.
	kwok, err := w.start(filepath.Join(dir, "kwok"), []string{"HOME=" + tmp},
		"--kubeconfig="+kubeconfig,
		"--config="+stages,
		"--manage-nodes-with-label-selector="+FakeNodeLabel+"=true",
		"--node-ip=127.0.0.1",
		"--cidr=10.244.0.0/16",
	)
	if err != nil {
		return w, nil, err
	}

	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return w, nil, fmt.Errorf("workload control plane: client: %w", err)
	}
	names, err = createFakeNodes(ctx, cs, nodes)
	if err != nil {
		return w, nil, err
	}
	if err := waitNodesReady(ctx, cs, kwok, names, timeout); err != nil {
		return w, nil, err
	}
	if err := untaintNodes(ctx, cs, names); err != nil {
		return w, nil, err
	}
	return w, names, nil
}

// start starts one binary with its output in a log file in w's folder.
func (w *workloads) start(path string, env []string, args ...string) (*process, error) {
	name := filepath.Base(path)
	logPath := filepath.Join(w.dir, name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p := &process{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	w.procs = append(w.procs, p)
	return p, nil
}

// exited returns an error with the end of p's log when p has exited, else nil.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v); end of its log:\n%s", p.name, p.err, p.tail())
	default:
		return nil
	}
}

// tail returns the last few KB of p's log.
func (p *process) tail() string {
	const n = 4096
	f, err := os.Open(p.log)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	if st, err := f.Stat(); err == nil && st.Size() > n {
		_, _ = f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// stop stops the processes in reverse start order (SIGTERM, then SIGKILL after 10 s)
// and removes w's folder.
func (w *workloads) stop() error {
	if w == nil {
		return nil
	}
	var errs []error
	for i := len(w.procs) - 1; i >= 0; i-- {
		p := w.procs[i]
		select {
		case <-p.done:
			continue
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				errs = append(errs, fmt.Errorf("kill %s: %w", p.name, err))
			}
			<-p.done
		}
	}
	w.procs = nil
	if err := os.RemoveAll(w.dir); err != nil {
		errs = append(errs, fmt.Errorf("remove %s: %w", w.dir, err))
	}
	return errors.Join(errs...)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitHealthy polls https://127.0.0.1:port/healthz of p until it answers 200 OK, p
// exits or timeout passes. The serving certificate is self-signed in memory, so it is
// not verified: the connection never leaves the loopback interface.
func waitHealthy(ctx context.Context, p *process, port int, timeout time.Duration) error {
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // loopback, self-signed
	}
	defer client.CloseIdleConnections()
	url := "https://127.0.0.1:" + strconv.Itoa(port) + "/healthz"
	var last string
	err := poll(ctx, timeout, func() (bool, error) {
		if err := p.exited(); err != nil {
			return false, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		_ = resp.Body.Close()
		last = fmt.Sprintf("%s: %s", resp.Status, bytes.TrimSpace(body))
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("%s not healthy on %s (last answer: %s): %w; end of its log:\n%s", p.name, url, last, err, p.tail())
	}
	return nil
}

// createFakeNodes creates n nodes for kwok to manage and returns their names.
func createFakeNodes(ctx context.Context, cs kubernetes.Interface, n int) ([]string, error) {
	names := make([]string, 0, n)
	for i := range n {
		name := "gitopstest-node-" + strconv.Itoa(i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				FakeNodeLabel:            "true",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
				"type":                   "kwok",
			},
			// kwok's own convention, for tools that look for it.
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		}}
		if _, err := cs.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create fake node %s: %w", name, err)
		}
		names = append(names, name)
	}
	return names, nil
}

// waitNodesReady waits until kwok reports every node Ready.
func waitNodesReady(ctx context.Context, cs kubernetes.Interface, kwok *process, names []string, timeout time.Duration) error {
	var notReady string
	err := poll(ctx, timeout, func() (bool, error) {
		if err := kwok.exited(); err != nil {
			return false, err
		}
		for _, name := range names {
			node, err := cs.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				notReady = fmt.Sprintf("%s: %v", name, err)
				return false, nil
			}
			if !nodeReady(node) {
				notReady = name
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("fake node %s not Ready: %w; end of kwok's log:\n%s", notReady, err, kwok.tail())
	}
	return nil
}

// untaintNodes removes the taints of the fake nodes: the TaintNodesByCondition
// admission plugin gives every new node node.kubernetes.io/not-ready:NoSchedule, and
// node-lifecycle-controller, which would lift it once the node is Ready, does not run
// (see kcmControllers).
func untaintNodes(ctx context.Context, cs kubernetes.Interface, names []string) error {
	for _, name := range names {
		_, err := cs.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(`{"spec":{"taints":null}}`), metav1.PatchOptions{})
		if err != nil {
			return fmt.Errorf("remove the taints of fake node %s: %w", name, err)
		}
	}
	return nil
}

func nodeReady(node *corev1.Node) bool {
	for _, c := range node.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// poll calls done every 100 ms until it returns true or an error, or timeout passes.
func poll(ctx context.Context, timeout time.Duration, done func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}
