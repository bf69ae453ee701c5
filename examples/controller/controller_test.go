package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/testr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// applyFile applies every document of a YAML file.
func applyFile(t *testing.T, c *gitopstest.Cluster, data string) {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			break
		}
		if len(u.Object) > 0 {
			c.Apply(t, u, "test", true)
		}
	}
}

// TestControllerReconcilesSeedApplications runs the controller against a real API
// server: the CRDs and the seed's AppProject and Application manifests are applied as
// they are, and the controller syncs them and writes their status.
func TestControllerReconcilesSeedApplications(t *testing.T) {
	cp := gitopstest.StartControlPlane(t)
	c := gitopstest.ClusterFor(t, cp.Config)
	crds, err := os.ReadFile("config/crds.yaml")
	require.NoError(t, err)
	applyFile(t, c, string(crds))

	repo := gitopstest.NewRepo(t)
	layout := gitopstest.SeedLayout(repo.URL())
	repo.WriteFiles(layout).Commit("seed layout")
	c.Apply(t, gitopstest.Object(t, `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"argocd"}}`), "test", false)
	require.Eventually(t, func() bool {
		c.Mapper.Reset()
		_, err := c.Mapper.RESTMapping(schema.GroupKind{Group: "argoproj.io", Kind: "Application"}, "v1alpha1")
		return err == nil
	}, 30*time.Second, 100*time.Millisecond)
	applyFile(t, c, layout["projects/ecommerce-backend.yaml"])
	applyFile(t, c, layout["applications/cluster-config.yaml"])
	applyFile(t, c, layout["applications/payment-service-oslo.yaml"])

	ctx, cancel := context.WithCancel(logr.NewContext(context.Background(), testr.New(t)))
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, cp.Config, options{concurrency: 2, interval: time.Second, sourcesCache: t.TempDir()})
	}()
	defer func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(60 * time.Second):
			t.Error("controller did not stop")
		}
	}()

	status := func(name string) (sync, revision, health string) {
		app, err := c.Dynamic.Resource(applicationsGVR).Namespace("argocd").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return "", "", ""
		}
		sync, _, _ = unstructured.NestedString(app.Object, "status", "sync", "status")
		revision, _, _ = unstructured.NestedString(app.Object, "status", "sync", "revision")
		health, _, _ = unstructured.NestedString(app.Object, "status", "health", "status")
		return sync, revision, health
	}
	head := repo.Head()
	require.Eventually(t, func() bool {
		s1, r1, _ := status("cluster-config")
		s2, r2, _ := status("payment-service-oslo")
		return s1 == "Synced" && s2 == "Synced" && r1 == head && r2 == head
	}, 60*time.Second, 200*time.Millisecond, "both Applications Synced at %s", head)
	_, _, h := status("payment-service-oslo")
	assert.Equal(t, "Progressing", h, "no controller manager here: the Deployment never rolls out")

	deploy := func() int64 {
		d, err := c.Dynamic.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("payments-oslo").
			Get(context.Background(), "payment-service", metav1.GetOptions{})
		if err != nil {
			return -1
		}
		n, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		return n
	}
	assert.Equal(t, int64(5), deploy())

	// A new commit is picked up at the next poll.
	next := repo.Write("apps/overlays/production-oslo/patch-replicas.yaml",
		strings.Replace(layout["apps/overlays/production-oslo/patch-replicas.yaml"], "replicas: 5", "replicas: 7", 1)).Commit("scale to 7")
	require.Eventually(t, func() bool {
		_, r, _ := status("payment-service-oslo")
		return r == next && deploy() == 7
	}, 60*time.Second, 200*time.Millisecond)

	// The audit trail is on the Application as Events.
	cs, err := kubernetes.NewForConfig(cp.Config)
	require.NoError(t, err)
	evs, err := cs.CoreV1().Events("argocd").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=payment-service-oslo"})
	require.NoError(t, err)
	var msgs []string
	for _, ev := range evs.Items {
		assert.Equal(t, corev1.EventTypeNormal, ev.Type)
		msgs = append(msgs, ev.Message)
	}
	assert.GreaterOrEqual(t, len(msgs), 2, "one Event per sync: %v", msgs)
}
