package gitops

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/driftless-dev/driftless/gitopstest"
)

func record(app, result string) SyncRecord {
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	return SyncRecord{App: app, Project: "p", Revision: strings.Repeat("ab", 20), Trigger: TriggerInterval, StartedAt: t0, FinishedAt: t0.Add(time.Second), Result: result,
		Objects: []ObjectRecord{{Ref: "Deployment/payments/api", Action: "configured", Paths: []string{".spec.replicas"}}, {Ref: "Service/payments/api", Action: "unchanged"}}}
}

func TestHistoryKeepsNewest(t *testing.T) {
	h := &History{Max: 2}
	for _, r := range []string{"Succeeded", "Failed", "Succeeded"} {
		require.NoError(t, h.Record(context.Background(), record("ns/a", r)))
	}
	require.NoError(t, h.Record(context.Background(), record("ns/b", "Succeeded")))
	all := h.Records("")
	require.Len(t, all, 2)
	assert.Equal(t, "ns/a", all[0].App)
	assert.Equal(t, "Succeeded", all[0].Result)
	assert.Len(t, h.Records("ns/b"), 1)
}

func TestJSONLines(t *testing.T) {
	var buf bytes.Buffer
	j := NewJSONLines(&buf)
	require.NoError(t, j.Record(context.Background(), record("ns/a", "Succeeded")))
	require.NoError(t, j.Record(context.Background(), record("ns/a", "Failed")))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	var back SyncRecord
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &back))
	assert.Equal(t, record("ns/a", "Failed"), back)
}

func TestEventRecorder(t *testing.T) {
	c := gitopstest.NewCluster(t)
	ns := c.NewNamespace(t)
	cs, err := kubernetes.NewForConfig(c.Config)
	require.NoError(t, err)
	e := &EventRecorder{Client: cs}
	require.NoError(t, e.Record(context.Background(), record(ns+"/payment-service", "Failed")))
	require.NoError(t, e.Record(context.Background(), record("no-namespace", "Failed")), "records of apps outside the cluster are skipped")
	evs, err := cs.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, evs.Items, 1)
	ev := evs.Items[0]
	assert.Equal(t, "Warning", ev.Type)
	assert.Equal(t, "SyncFailed", ev.Reason)
	assert.Equal(t, "payment-service", ev.InvolvedObject.Name)
	assert.Equal(t, "Application", ev.InvolvedObject.Kind)
	assert.Contains(t, ev.Message, "Failed at abababababab (interval): 1 configured, 1 unchanged")
}

// TestDefaultRecorder: with no Recorder, every sync leaves an Event on the
// Application (with its UID, so `kubectl describe application` shows it), a line in
// the JSON-lines history file and an entry in History.
func TestDefaultRecorder(t *testing.T) { backends(t, testDefaultRecorder) }

func testDefaultRecorder(t *testing.T, e *env) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(e.cluster.Config)
	require.NoError(t, err)
	appNS := e.cluster.NewNamespace(t)
	file := filepath.Join(t.TempDir(), "audit", "history.jsonl")
	rec, err := NewReconciler(ReconcilerOptions{Config: e.cluster.Config, Sources: e.rec.opts.Sources,
		Projects: []*AppProject{e.rec.projects["ecommerce-backend"]}, HistoryFile: file})
	require.NoError(t, err)
	defer rec.Close()
	app := e.apps["cluster-config"]
	app.Namespace, app.UID = appNS, types.UID("0b6a3c1e-5d0f-4c36-9a51-2f1e8e6f7a10")
	res, err := rec.Reconcile(ctx, app, TriggerManual)
	require.NoError(t, err)
	require.Equal(t, Synced, res.Sync)

	evs, err := cs.CoreV1().Events(appNS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	require.Len(t, evs.Items, 1)
	ev := evs.Items[0]
	assert.Equal(t, "SyncSucceeded", ev.Reason)
	assert.Equal(t, app.UID, ev.InvolvedObject.UID)
	assert.Equal(t, "cluster-config", ev.InvolvedObject.Name)
	assert.Contains(t, ev.Message, "Succeeded at "+res.Revision[:12]+" (manual)")

	data, err := os.ReadFile(file)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	require.Len(t, lines, 1)
	var back SyncRecord
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &back))
	assert.Equal(t, appNS+"/cluster-config", back.App)
	assert.Equal(t, res.Revision, back.Revision)
	assert.Equal(t, app.UID, back.UID)
	assert.NotEmpty(t, back.Objects)
	require.Len(t, rec.History().Records(""), 1)

	// Nothing changed: no record, so no Event either.
	res, err = rec.Reconcile(ctx, app, TriggerInterval)
	require.NoError(t, err)
	assert.True(t, res.Cached)
	evs, err = cs.CoreV1().Events(appNS).List(ctx, metav1.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, evs.Items, 1)
}
