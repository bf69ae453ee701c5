package gitopstest

import (
	"net/http"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// RequestCounter counts the API requests made through a config from CountRequests, by
// verb (get, list, watch, create, update, patch, delete).
type RequestCounter struct {
	total atomic.Int64
	mu    sync.Mutex
	verbs map[string]int64
}

// CountRequests returns a copy of cfg whose every request is counted.
func CountRequests(cfg *rest.Config) (*rest.Config, *RequestCounter) {
	c := &RequestCounter{verbs: map[string]int64{}}
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			c.count(req)
			return rt.RoundTrip(req)
		})
	})
	return out, c
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *RequestCounter) count(req *http.Request) {
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "patch", http.MethodDelete: "delete"}[req.Method]
	if req.Method == http.MethodGet {
		q := req.URL.Query()
		switch {
		case q.Get("watch") == "true" || q.Get("watch") == "1":
			verb = "watch"
		default:
			verb = "get"
		}
	}
	c.total.Add(1)
	c.mu.Lock()
	c.verbs[verb]++
	c.mu.Unlock()
}

// Total is the number of requests so far.
func (c *RequestCounter) Total() int64 { return c.total.Load() }

// Writes is the number of create, update, patch and delete requests so far.
func (c *RequestCounter) Writes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.verbs["create"] + c.verbs["update"] + c.verbs["patch"] + c.verbs["delete"]
}

// Verbs returns a copy of the counts by verb.
func (c *RequestCounter) Verbs() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.verbs))
	for k, v := range c.verbs {
		out[k] = v
	}
	return out
}
