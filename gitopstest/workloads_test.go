package gitopstest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestNewControlPlaneWorkloadsMissingBinary(t *testing.T) {
	// kube-apiserver and etcd are there, kwok is not: the error names it before anything
	// is started.
	dir := t.TempDir()
	for _, bin := range []string{"kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, bin), nil, 0o700))
	}
	_, err := NewControlPlane(ControlPlaneOptions{Dir: dir, Workloads: true})
	require.ErrorIs(t, err, ErrNoControlPlane)
	assert.Contains(t, err.Error(), "looked for kwok in "+dir)
	assert.Contains(t, err.Error(), "hack/testenv-workloads.sh")
}

// workloadPod is a bare pod the scheduler places on a fake node.
func workloadPod(ns, name string, annotations map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "c", Image: "registry.example/c:1"}},
		},
	}
}

// waitPod polls the pod until ok accepts it.
func waitPod(t *testing.T, cs kubernetes.Interface, ns, name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := poll(t.Context(), 60*time.Second, func() (bool, error) {
		p, err := cs.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return ok(p), nil
	})
	var status any
	if last != nil {
		status = last.Status
	}
	require.NoError(t, err, "pod %s/%s: last status %+v", ns, name, status)
	return last
}

func podCondition(p *corev1.Pod, typ corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}

func TestWorkloadControlPlane(t *testing.T) {
	cp := StartWorkloadControlPlane(t)
	require.Len(t, cp.Nodes, 1)
	cs, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	ns := ClusterFor(t, cp.Config).NewNamespace(t)

	node, err := cs.CoreV1().Nodes().Get(t.Context(), cp.Nodes[0], metav1.GetOptions{})
	require.NoError(t, err)
	assert.True(t, nodeReady(node), "node %s Ready", node.Name)
	assert.Empty(t, node.Spec.Taints, "node %s is schedulable", node.Name)

	tests := []struct {
		name        string
		annotations map[string]string
		phase       corev1.PodPhase
		ready       corev1.ConditionStatus
	}{
		{name: "runs", phase: corev1.PodRunning, ready: corev1.ConditionTrue},
		{name: "unready", annotations: map[string]string{PodOutcomeAnnotation: PodOutcomeUnready},
			phase: corev1.PodRunning, ready: corev1.ConditionFalse},
		{name: "fails", annotations: map[string]string{PodOutcomeAnnotation: PodOutcomeFail},
			phase: corev1.PodFailed, ready: corev1.ConditionFalse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cs.CoreV1().Pods(ns).Create(t.Context(), workloadPod(ns, tt.name, tt.annotations), metav1.CreateOptions{})
			require.NoError(t, err)
			p := waitPod(t, cs, ns, tt.name, func(p *corev1.Pod) bool { return p.Status.Phase == tt.phase })
			assert.Equal(t, cp.Nodes[0], p.Spec.NodeName, "bound by kube-scheduler")
			assert.Equal(t, tt.ready, podCondition(p, corev1.PodReady))
			require.Len(t, p.Status.ContainerStatuses, 1)
			if tt.phase == corev1.PodFailed {
				require.NotNil(t, p.Status.ContainerStatuses[0].State.Terminated)
				assert.EqualValues(t, 1, p.Status.ContainerStatuses[0].State.Terminated.ExitCode)
			}
		})
	}

	t.Run("namespace deletion finishes", func(t *testing.T) {
		// The namespace controller deletes the pods (kwok finishes their deletion) and
		// then the namespace itself.
		require.NoError(t, cs.CoreV1().Namespaces().Delete(t.Context(), ns, metav1.DeleteOptions{}))
		err := poll(t.Context(), 60*time.Second, func() (bool, error) {
			_, err := cs.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			return false, err
		})
		require.NoError(t, err, "namespace %s still there", ns)
	})
}
