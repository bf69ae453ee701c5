package apply_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }

// backend is one API server the tests run against.
type backend struct {
	name string
	new  func(t *testing.T) *gitopstest.Cluster
}

// backends are the in-memory API server and the real control plane (skipped when its
// binaries are missing, unless DRIFTLESS_REQUIRE_CONTROL_PLANE=1).
func backends() []backend {
	return []backend{
		{"fake", func(t *testing.T) *gitopstest.Cluster { return gitopstest.NewCluster(t) }},
		{"real", func(t *testing.T) *gitopstest.Cluster {
			return gitopstest.ClusterFor(t, gitopstest.StartControlPlane(t).Config)
		}},
	}
}

// eachBackend runs fn as a subtest per backend, with a fresh namespace.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			c := be.new(t)
			fn(t, newEnv(t, be.name, c))
		})
	}
}

// env is a cluster, a namespace and a request-counting client for one test.
type env struct {
	backend string
	c       *gitopstest.Cluster
	ns      string
	client  dynamic.Interface
	log     *requestLog
}

func newEnv(t testing.TB, name string, c *gitopstest.Cluster) *env {
	t.Helper()
	log := &requestLog{}
	cfg := rest.CopyConfig(c.Config)
	cfg.QPS, cfg.Burst = -1, 0
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, log: log} }
	client, err := dynamic.NewForConfig(cfg)
	require.NoError(t, err)
	return &env{backend: name, c: c, ns: c.NewNamespace(t), client: client, log: log}
}

// applier returns an Applier over the counting client with test-friendly defaults
// (destination namespace, fast polling) and opts applied on top.
func (e *env) applier(opts apply.Options) *apply.Applier {
	if opts.Namespace == "" {
		opts.Namespace = e.ns
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 50 * time.Millisecond
	}
	if opts.WaitTimeout == 0 {
		opts.WaitTimeout = 20 * time.Second
	}
	if opts.HookTimeout == 0 {
		opts.HookTimeout = 30 * time.Second
	}
	return apply.New(e.client, e.c.Mapper, opts)
}

// get returns the live object (nil when absent).
func (e *env) get(t *testing.T, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	live, err := e.c.Get(u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	require.NoError(t, err)
	return live
}

// requestLog records the requests a client sent.
type requestLog struct {
	mu   sync.Mutex
	reqs []request
	// fail, when set, answers the requests it selects with a 500 without sending them.
	fail func(r *http.Request) bool
}

// failRequests makes the client fail the requests fn selects (nil: none).
func (l *requestLog) failRequests(fn func(r *http.Request) bool) {
	l.mu.Lock()
	l.fail = fn
	l.mu.Unlock()
}

type request struct {
	method, path string
	dryRun       bool
}

func (l *requestLog) add(r request) {
	l.mu.Lock()
	l.reqs = append(l.reqs, r)
	l.mu.Unlock()
}

// reset forgets the requests so far.
func (l *requestLog) reset() {
	l.mu.Lock()
	l.reqs = nil
	l.mu.Unlock()
}

// writes returns the persisted write requests (not GET/LIST/WATCH, not dry-run), as
// "METHOD path".
func (l *requestLog) writes() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.reqs {
		if r.method != http.MethodGet && !r.dryRun {
			out = append(out, r.method+" "+r.path)
		}
	}
	return out
}

// dryRuns returns the number of dry-run requests.
func (l *requestLog) dryRuns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.reqs {
		if r.dryRun {
			n++
		}
	}
	return n
}

type countingTransport struct {
	next http.RoundTripper
	log  *requestLog
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.log.add(request{method: r.Method, path: r.URL.Path, dryRun: r.URL.Query().Get("dryRun") != ""})
	c.log.mu.Lock()
	fail := c.log.fail
	c.log.mu.Unlock()
	if fail != nil && fail(r) {
		body := `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected failure","reason":"InternalError","code":500}`
		return &http.Response{StatusCode: http.StatusInternalServerError, Status: "500 Internal Server Error",
			Header: http.Header{"Content-Type": []string{"application/json"}}, Request: r,
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body))}, nil
	}
	return c.next.RoundTrip(r)
}

// yamlObjs parses a multi-document YAML stream.
func yamlObjs(t *testing.T, docs string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(docs, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		out = append(out, gitopstest.Object(t, doc))
	}
	return out
}

// resourceVersions maps each object's Ref to its live resourceVersion.
func (e *env) resourceVersions(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, o := range objs {
		u := o.DeepCopy()
		if u.GetNamespace() == "" && u.GetKind() != "Namespace" && u.GetKind() != "CustomResourceDefinition" {
			u.SetNamespace(e.ns)
		}
		live := e.get(t, u)
		require.NotNil(t, live, "%s/%s", u.GetKind(), u.GetName())
		out[u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName()] = live.GetResourceVersion()
	}
	return out
}

// updateStatus replaces the status of a live object through its /status subresource,
// retrying until the object exists with a UID not in skip (it is created by the code
// under test).
func (e *env) updateStatus(ctx context.Context, t *testing.T, u *unstructured.Unstructured, status map[string]any, skip map[types.UID]bool) error {
	ri, err := e.c.Resource(u)
	if err != nil {
		return err
	}
	for {
		live, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
		if err == nil && !skip[live.GetUID()] {
			live.Object["status"] = status
			if _, err = ri.UpdateStatus(ctx, live, metav1.UpdateOptions{}); err == nil {
				return nil
			}
			if !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return err
			}
		} else if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
