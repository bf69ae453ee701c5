package gitopstest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
)

// APIServer is an in-memory Kubernetes API server on a loopback HTTP port: the fake
// behind NewCluster. Any client that takes a *rest.Config talks to it over real HTTP
// (dynamic and typed clients, discovery, RESTMappers, informers), and it implements what
// a GitOps engine relies on with the API machinery the real server uses:
//
//   - server-side apply and managed fields through apimachinery's FieldManager, with the
//     real schemas (client-go's for built-in kinds, the CRD's own for custom resources),
//     so ownership, conflicts, force and field removal behave as on a real server;
//   - create, get, list (label and field selectors), update with optimistic concurrency,
//     JSON, merge and strategic-merge patches, delete with finalizers and cascading to
//     owned objects, dry-run on every write, the status subresource;
//   - watch from a resourceVersion, bookmarks and streaming lists (sendInitialEvents);
//   - discovery, and CustomResourceDefinitions that become Established at once.
//
// What it does not do, and how that differs from a real server, is listed in
// KnownDifferences.
type APIServer struct {
	srv     *httptest.Server
	store   *store
	catalog *catalog
	scheme  *runtime.Scheme
	now     func() metav1.Time

	managers sync.Map // fieldManagerKey -> *managedfields.FieldManager
	requests atomic.Int64
}

// APIServerOptions tunes StartAPIServer; the zero value is ready to use.
type APIServerOptions struct {
	// Now is the clock for creationTimestamp, deletionTimestamp and managedFields times.
	// Default: time.Now, truncated to seconds like the real server.
	Now func() metav1.Time
}

// StartAPIServer starts an in-memory API server on a loopback port. Close it when done.
// NewCluster does this for a test and closes it when the test ends.
func StartAPIServer(opts APIServerOptions) (*APIServer, error) {
	sch, err := newFakeScheme()
	if err != nil {
		return nil, err
	}
	s := &APIServer{store: newStore(), scheme: sch, now: opts.Now}
	if s.now == nil {
		s.now = func() metav1.Time { return metav1.Now().Rfc3339Copy() }
	}
	types, err := builtinResourceTypes()
	if err != nil {
		return nil, err
	}
	s.catalog = newCatalog(types)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serveHTTP))
	if err := s.bootstrap(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops the server and ends every open watch.
func (s *APIServer) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// URL is the server's base URL.
func (s *APIServer) URL() string { return s.srv.URL }

// Config returns a new *rest.Config for the server (no authentication, JSON, no rate
// limit).
func (s *APIServer) Config() *rest.Config {
	return &rest.Config{
		Host:          s.srv.URL,
		QPS:           -1,
		ContentConfig: rest.ContentConfig{ContentType: "application/json"},
		UserAgent:     rest.DefaultKubernetesUserAgent(),
	}
}

// Requests is the number of API requests served so far (discovery included).
func (s *APIServer) Requests() int64 { return s.requests.Load() }

// bootstrap creates what every cluster has: the default, kube-system, kube-public and
// kube-node-lease namespaces, and the default service account's namespace objects.
func (s *APIServer) bootstrap() error {
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		obj := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
		if _, err := s.create(requestFor(s.catalog.lookup(nsGVR), "", ""), obj, writeOptions{manager: "kube-apiserver"}); err != nil {
			return fmt.Errorf("gitopstest: bootstrap namespace %s: %w", ns, err)
		}
	}
	return nil
}

var nsGVR = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}

// request is one parsed resource request.
type request struct {
	rt          *resourceType
	namespace   string
	name        string
	subresource string
}

func requestFor(rt *resourceType, ns, name string) request {
	return request{rt: rt, namespace: ns, name: name}
}

func (s *APIServer) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	path := strings.Trim(r.URL.Path, "/")
	switch path {
	case "healthz", "readyz", "livez":
		_, _ = w.Write([]byte("ok"))
		return
	case "version":
		writeJSON(w, http.StatusOK, version.Info{
			Major: "1", Minor: strings.Split(strings.TrimPrefix(KubernetesVersion, "v1."), ".")[0],
			GitVersion: KubernetesVersion + "+driftless-fake", GitTreeState: "clean", Platform: "linux/amd64",
		})
		return
	}
	parts := strings.Split(path, "/")
	if handled := s.serveDiscovery(w, r, parts); handled {
		return
	}
	req, err := s.parseResourcePath(parts)
	if err != nil {
		writeError(w, err)
		return
	}
	s.serveResource(w, r, req)
}

// parseResourcePath resolves /api/v1/... and /apis/G/V/... to a served resource.
func (s *APIServer) parseResourcePath(parts []string) (request, error) {
	var gv schema.GroupVersion
	var rest []string
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		gv, rest = schema.GroupVersion{Version: parts[1]}, parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		gv, rest = schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:]
	default:
		return request{}, apierrors.NewNotFound(schema.GroupResource{}, strings.Join(parts, "/"))
	}
	var req request
	// namespaces/NS/RESOURCE... is a namespaced request unless RESOURCE is not a
	// namespaced resource (then it is the namespace's own subresource).
	if len(rest) >= 3 && rest[0] == "namespaces" {
		if rt := s.catalog.lookup(gv.WithResource(rest[2])); rt != nil && rt.namespaced {
			req.namespace, rest = rest[1], rest[2:]
		}
	}
	rt := s.catalog.lookup(gv.WithResource(rest[0]))
	if rt == nil {
		return request{}, apierrors.NewNotFound(schema.GroupResource{Group: gv.Group, Resource: rest[0]}, "")
	}
	req.rt = rt
	if len(rest) > 1 {
		req.name = rest[1]
	}
	if len(rest) > 2 {
		req.subresource = rest[2]
		if req.subresource != "status" || !rt.status || len(rest) > 3 {
			return request{}, apierrors.NewNotFound(gv.WithResource(strings.Join(rest[:1], "/")).GroupResource(), strings.Join(rest[1:], "/"))
		}
	}
	if rt.namespaced && req.namespace == "" && req.name != "" {
		return request{}, apierrors.NewBadRequest(fmt.Sprintf("%s %q: namespaced resource requested without a namespace", rt.resource, req.name))
	}
	return req, nil
}

func (s *APIServer) serveResource(w http.ResponseWriter, r *http.Request, req request) {
	q := r.URL.Query()
	var (
		out    any
		code   = http.StatusOK
		err    error
		manage = managerFromRequest(r)
	)
	switch {
	case r.Method == http.MethodGet && req.name == "" && (q.Get("watch") == "true" || q.Get("watch") == "1"):
		s.serveWatch(w, r, req)
		return
	case r.Method == http.MethodGet && req.name == "":
		out, err = s.list(req, q)
	case r.Method == http.MethodGet:
		out, err = s.get(req)
	case r.Method == http.MethodPost && req.name == "":
		var obj map[string]any
		if obj, err = decodeBody(r); err == nil {
			out, err = s.create(req, obj, writeOptions{manager: manage, dryRun: isDryRun(q)})
			code = http.StatusCreated
		}
	case r.Method == http.MethodPut && req.name != "":
		var obj map[string]any
		if obj, err = decodeBody(r); err == nil {
			out, err = s.update(req, obj, writeOptions{manager: manage, dryRun: isDryRun(q)})
		}
	case r.Method == http.MethodPatch && req.name != "":
		out, code, err = s.patch(req, r, manage)
	case r.Method == http.MethodDelete && req.name != "":
		out, err = s.delete(req, r)
	default:
		err = apierrors.NewMethodNotSupported(req.rt.gvr().GroupResource(), strings.ToLower(r.Method))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, out)
}

// managerFromRequest is the field manager for a non-apply write: the fieldManager
// parameter, else the User-Agent up to its first "/", as on a real server.
func managerFromRequest(r *http.Request) string {
	if m := r.URL.Query().Get("fieldManager"); m != "" {
		return m
	}
	ua := r.UserAgent()
	if i := strings.Index(ua, "/"); i >= 0 {
		ua = ua[:i]
	}
	if len(ua) > 128 {
		ua = ua[:128]
	}
	return ua
}

func isDryRun(q map[string][]string) bool {
	for _, v := range q["dryRun"] {
		if v == metav1.DryRunAll {
			return true
		}
	}
	return false
}

func decodeBody(r *http.Request) (map[string]any, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(body, &obj); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode request body: %v", err))
	}
	if obj == nil {
		return nil, apierrors.NewBadRequest("empty request body")
	}
	return obj, nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	status := apierrors.APIStatus(nil)
	if !errors.As(err, &status) {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	st.APIVersion, st.Kind = "v1", "Status"
	code := int(st.Code)
	if code == 0 {
		code = http.StatusInternalServerError
	}
	writeJSON(w, code, st)
}

// fieldManagerKey selects a FieldManager: one per kind and subresource.
type fieldManagerKey struct {
	gvk         schema.GroupVersionKind
	subresource string
}

func (s *APIServer) fieldManager(rt *resourceType, subresource string) (*managedfields.FieldManager, error) {
	key := fieldManagerKey{rt.gvk, subresource}
	if fm, ok := s.managers.Load(key); ok {
		return fm.(*managedfields.FieldManager), nil
	}
	fm, err := newFieldManager(rt, subresource)
	if err != nil {
		return nil, err
	}
	actual, _ := s.managers.LoadOrStore(key, fm)
	return actual.(*managedfields.FieldManager), nil
}

// forgetFieldManagers drops cached field managers of a kind whose schema changed.
func (s *APIServer) forgetFieldManagers(gvk schema.GroupVersionKind) {
	s.managers.Delete(fieldManagerKey{gvk, ""})
	s.managers.Delete(fieldManagerKey{gvk, "status"})
}
