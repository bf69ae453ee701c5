package gitopstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// bookmarkEvery is how often an idle watch that allows bookmarks gets one.
const bookmarkEvery = 10 * time.Second

// serveWatch streams watch events as newline-delimited JSON. Without a resourceVersion
// (or with "0"), and with sendInitialEvents=true, it first sends the current objects as
// ADDED (with sendInitialEvents, followed by the initial-events-end bookmark); with a
// resourceVersion it resumes after it, or ends with a 410 Expired error event when the
// event log no longer reaches back that far.
func (s *APIServer) serveWatch(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	match, err := listSelector(q.Get("labelSelector"), q.Get("fieldSelector"))
	if err != nil {
		writeError(w, err)
		return
	}
	rvParam := q.Get("resourceVersion")
	sendInitial := q.Get("sendInitialEvents") == "true"
	bookmarks := q.Get("allowWatchBookmarks") == "true"
	var cursor int64
	if rvParam != "" && rvParam != "0" {
		if cursor, err = strconv.ParseInt(rvParam, 10, 64); err != nil {
			writeError(w, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rvParam)))
			return
		}
	}
	ctx := r.Context()
	if ts := q.Get("timeoutSeconds"); ts != "" {
		if n, err := strconv.Atoi(ts); err == nil && n > 0 {
			var cancel func()
			ctx, cancel = context.WithTimeout(ctx, time.Duration(n)*time.Second)
			defer cancel()
		}
	}
	flusher, _ := w.(http.Flusher)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush() // clients wait for the headers before reading events
	}
	enc := json.NewEncoder(w)
	send := func(typ watch.EventType, obj any) bool {
		if err := enc.Encode(map[string]any{"type": typ, "object": obj}); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	bookmark := func(rv int64, annotations map[string]any) bool {
		md := map[string]any{"resourceVersion": strconv.FormatInt(rv, 10)}
		if annotations != nil {
			md["annotations"] = annotations
		}
		return send(watch.Bookmark, map[string]any{"apiVersion": req.rt.gvk.GroupVersion().String(), "kind": req.rt.gvk.Kind, "metadata": md})
	}

	if sendInitial || rvParam == "" || rvParam == "0" {
		s.store.mu.RLock()
		items, rv := s.store.list(req.rt.gvr(), req.namespace, match)
		s.store.mu.RUnlock()
		for _, it := range items {
			if !send(watch.Added, it) {
				return
			}
		}
		cursor = rv
		if sendInitial && bookmarks {
			if !bookmark(rv, map[string]any{metav1.InitialEventsAnnotationKey: "true"}) {
				return
			}
		}
	}

	ticker := time.NewTicker(bookmarkEvery)
	defer ticker.Stop()
	for {
		evs, gone, next := s.store.eventsSince(cursor, req.rt.gvr(), req.namespace)
		if gone {
			st := apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", cursor)).Status()
			st.Kind, st.APIVersion = "Status", "v1"
			send(watch.Error, st)
			return
		}
		for _, ev := range evs {
			cursor = ev.rv
			if match(ev.obj) && !send(ev.typ, ev.obj) {
				return
			}
		}
		select {
		case <-next:
		case <-ticker.C:
			if bookmarks && !bookmark(cursor, nil) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
