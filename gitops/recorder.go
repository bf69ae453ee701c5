package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

// Trigger says what started a reconcile.
type Trigger string

const (
	// TriggerInterval: the Application's poll interval elapsed.
	TriggerInterval Trigger = "interval"
	// TriggerWebhook: Runner.Refresh was called (a Git webhook, typically).
	TriggerWebhook Trigger = "webhook"
	// TriggerDrift: a watch event showed a managed object changed in the cluster.
	TriggerDrift Trigger = "drift"
	// TriggerManual: a caller asked for this reconcile (CLI, API, first run).
	TriggerManual Trigger = "manual"
)

// SyncRecord is one entry of the audit trail: which revision, what changed, what the
// result was, and why it ran. It holds object references, actions and field paths,
// never a Secret value.
type SyncRecord struct {
	App        string         `json:"app"`
	UID        types.UID      `json:"uid,omitempty"` // the Application object's, when it is one
	Project    string         `json:"project"`
	Revision   string         `json:"revision,omitempty"`
	Trigger    Trigger        `json:"trigger"`
	StartedAt  time.Time      `json:"startedAt"`
	FinishedAt time.Time      `json:"finishedAt"`
	Result     string         `json:"result"` // Succeeded, Failed, OutOfSync (no sync: automated off), Unchanged
	Message    string         `json:"message,omitempty"`
	Objects    []ObjectRecord `json:"objects,omitempty"`
}

// ObjectRecord is what happened to one object in a sync.
type ObjectRecord struct {
	Ref    string   `json:"ref"`
	Action string   `json:"action"`
	Health string   `json:"health,omitempty"`
	Paths  []string `json:"paths,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// Recorder writes the audit trail. Implementations must be safe for concurrent use.
type Recorder interface {
	Record(ctx context.Context, rec SyncRecord) error
}

// Recorders fans a record out to several recorders and joins their errors.
type Recorders []Recorder

var _ Recorder = Recorders(nil)

func (rs Recorders) Record(ctx context.Context, rec SyncRecord) error {
	var errs []error
	for _, r := range rs {
		if r != nil {
			errs = append(errs, r.Record(ctx, rec))
		}
	}
	return errors.Join(errs...)
}

// History keeps records in memory, the newest last, up to Max (default 1000).
type History struct {
	Max     int
	mu      sync.Mutex
	records []SyncRecord
}

var _ Recorder = (*History)(nil)

func (h *History) Record(_ context.Context, rec SyncRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, rec)
	limit := h.Max
	if limit <= 0 {
		limit = 1000
	}
	if len(h.records) > limit {
		h.records = append([]SyncRecord(nil), h.records[len(h.records)-limit:]...)
	}
	return nil
}

// Records returns a copy of the records, oldest first; app filters by Application key
// when not empty.
func (h *History) Records(app string) []SyncRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []SyncRecord
	for _, r := range h.records {
		if app == "" || r.App == app {
			out = append(out, r)
		}
	}
	return out
}

// JSONLines appends each record as one JSON line to a writer (a file opened in append
// mode, typically: see OpenJSONLines).
type JSONLines struct {
	mu sync.Mutex
	w  io.Writer
}

var _ Recorder = (*JSONLines)(nil)

// NewJSONLines writes records to w.
func NewJSONLines(w io.Writer) *JSONLines { return &JSONLines{w: w} }

// OpenJSONLines opens (creating it and its folder) a history file for appending.
func OpenJSONLines(path string) (*JSONLines, io.Closer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, fmt.Errorf("open history %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open history %s: %w", path, err)
	}
	return NewJSONLines(f), f, nil
}

func (j *JSONLines) Record(_ context.Context, rec SyncRecord) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode sync record of %s: %w", rec.App, err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.w.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("write sync record of %s: %w", rec.App, err)
	}
	return nil
}

// EventRecorder writes each record as a Kubernetes Event on the Application object
// (Normal for a successful sync, Warning otherwise). Records of Applications that are
// not objects in the cluster (no namespace) are skipped.
type EventRecorder struct {
	Client kubernetes.Interface
	// Component is the Event source (default "driftless").
	Component string
	// Lookup returns the Application object (for its UID); nil means the record's UID.
	Lookup func(key string) *Application
}

var _ Recorder = (*EventRecorder)(nil)

func (e *EventRecorder) Record(ctx context.Context, rec SyncRecord) error {
	ns, name, ok := strings.Cut(rec.App, "/")
	if !ok {
		return nil
	}
	component := e.Component
	if component == "" {
		component = "driftless"
	}
	typ, reason := corev1.EventTypeNormal, "Sync"+rec.Result
	if rec.Result == "Failed" {
		typ = corev1.EventTypeWarning
	}
	ref := corev1.ObjectReference{APIVersion: APIVersion, Kind: ApplicationKind, Namespace: ns, Name: name, UID: rec.UID}
	if e.Lookup != nil {
		if app := e.Lookup(rec.App); app != nil {
			ref.UID = app.UID
		}
	}
	now := metav1.NewTime(rec.FinishedAt)
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("%s.%s", name, rand.String(10)), Namespace: ns},
		InvolvedObject: ref,
		Reason:         reason,
		Message:        eventMessage(rec),
		Type:           typ,
		Source:         corev1.EventSource{Component: component},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
	if _, err := e.Client.CoreV1().Events(ns).Create(ctx, ev, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("record event for %s: %w", rec.App, err)
	}
	return nil
}

func eventMessage(rec SyncRecord) string {
	counts := map[string]int{}
	for _, o := range rec.Objects {
		counts[o.Action]++
	}
	var parts []string
	for _, a := range []string{"created", "configured", "deleted", "failed", "unchanged", "skipped"} {
		if counts[a] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[a], a))
		}
	}
	msg := fmt.Sprintf("%s at %s (%s): %s", rec.Result, shortRev(rec.Revision), rec.Trigger, strings.Join(parts, ", "))
	if rec.Message != "" {
		msg += ": " + rec.Message
	}
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	return msg
}

func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
