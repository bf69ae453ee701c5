package gitops

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/gitopstest"
)

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func TestInformerCacheServesWithoutRequests(t *testing.T) {
	c := gitopstest.NewCluster(t)
	ns := c.NewNamespace(t)
	c.Apply(t, gitopstest.Object(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"`+ns+`","labels":{"owned":"yes"}},"data":{"k":"1"}}`), "driftless", false)
	c.Apply(t, gitopstest.Object(t, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"foreign","namespace":"`+ns+`"}}`), "someone", false)

	cc := NewInformerCache(c.Dynamic, InformerCacheOptions{LabelSelector: "owned=yes"})
	t.Cleanup(cc.Stop)
	var mu sync.Mutex
	var events []ChangeEvent
	cc.OnChange(func(ev ChangeEvent) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, ev)
	})
	require.NoError(t, cc.Watch(context.Background(), cmGVR))

	before := c.Server.Requests()
	got, watched := cc.Get(cmGVR, ns, "a")
	require.True(t, watched)
	require.NotNil(t, got)
	assert.Equal(t, "1", got.Object["data"].(map[string]any)["k"])
	missing, _ := cc.Get(cmGVR, ns, "foreign")
	assert.Nil(t, missing, "the label selector keeps foreign objects out")
	_, watched = cc.Get(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}, ns, "x")
	assert.False(t, watched)
	assert.Equal(t, before, c.Server.Requests(), "reads come from the cache")

	// A change made by someone else arrives as an event.
	_, err := c.Dynamic.Resource(cmGVR).Namespace(ns).Patch(context.Background(), "a", "application/merge-patch+json", []byte(`{"data":{"k":"2"}}`), metav1.PatchOptions{FieldManager: "kubectl-edit"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range events {
			if ev.Type == Modified && ev.Object.GetName() == "a" && !ev.Initial {
				return ev.Object.Object["data"].(map[string]any)["k"] == "2"
			}
		}
		return false
	}, 10*time.Second, 10*time.Millisecond)
	got, _ = cc.Get(cmGVR, ns, "a")
	assert.Equal(t, "2", got.Object["data"].(map[string]any)["k"])
}
