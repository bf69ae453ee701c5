package gitopstest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"
)

// Cluster is a Kubernetes API a test talks to, with the clients a GitOps engine needs.
// NewCluster backs it with the in-memory APIServer; ClusterFor wraps any *rest.Config
// (a real control plane, for instance) the same way.
type Cluster struct {
	// Config reaches the API server.
	Config *rest.Config
	// Dynamic is a dynamic client over Config.
	Dynamic dynamic.Interface
	// Discovery is a cached discovery client over Config; Mapper reads it.
	Discovery discovery.CachedDiscoveryInterface
	// Mapper maps kinds to resources; call Mapper.Reset after registering a CRD.
	Mapper meta.ResettableRESTMapper
	// Server is the in-memory server behind the cluster, nil for ClusterFor.
	Server *APIServer
}

// NewCluster starts an in-memory API server for one test (closed when the test ends),
// creates objs in it (typed or unstructured, in order; namespaces first if you list
// them first), and returns clients for it.
func NewCluster(t testing.TB, objs ...runtime.Object) *Cluster {
	t.Helper()
	srv, err := StartAPIServer(APIServerOptions{})
	if err != nil {
		t.Fatalf("gitopstest: start API server: %v", err)
	}
	t.Cleanup(srv.Close)
	c := ClusterFor(t, srv.Config())
	c.Server = srv
	for _, obj := range objs {
		c.Create(t, obj)
	}
	return c
}

// ClusterFor builds the clients of a Cluster for a *rest.Config.
func ClusterFor(t testing.TB, cfg *rest.Config) *Cluster {
	t.Helper()
	c, err := NewClusterClients(cfg)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return c
}

// NewClusterClients is ClusterFor without a test, for programs such as the quickstart.
func NewClusterClients(cfg *rest.Config) (*Cluster, error) {
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("discovery client: %w", err)
	}
	cached := memory.NewMemCacheClient(dc)
	return &Cluster{Config: cfg, Dynamic: dyn, Discovery: cached, Mapper: restmapper.NewDeferredDiscoveryRESTMapper(cached)}, nil
}

// Resource returns the dynamic client for obj's kind, in obj's namespace when the kind
// is namespaced.
func (c *Cluster) Resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		c.Mapper.Reset()
		if m, err = c.Mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return nil, fmt.Errorf("map %s: %w", gvk, err)
		}
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return c.Dynamic.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.Dynamic.Resource(m.Resource), nil
}

// Create creates obj (typed or unstructured) and returns the stored object.
func (c *Cluster) Create(t testing.TB, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	u := ToUnstructured(t, obj)
	ri, err := c.Resource(u)
	if err != nil {
		t.Fatalf("gitopstest: create %s: %v", Describe(u), err)
	}
	out, err := ri.Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("gitopstest: create %s: %v", Describe(u), err)
	}
	return out
}

// Apply server-side applies obj under manager (forcing conflicts when force is set)
// and returns the result.
func (c *Cluster) Apply(t testing.TB, obj runtime.Object, manager string, force bool) *unstructured.Unstructured {
	t.Helper()
	out, err := c.TryApply(obj, manager, force)
	if err != nil {
		t.Fatalf("gitopstest: apply %s as %s: %v", Describe(ToUnstructured(t, obj)), manager, err)
	}
	return out
}

// TryApply is Apply returning the error instead of failing the test.
func (c *Cluster) TryApply(obj runtime.Object, manager string, force bool) (*unstructured.Unstructured, error) {
	u, err := toUnstructured(obj)
	if err != nil {
		return nil, err
	}
	ri, err := c.Resource(u)
	if err != nil {
		return nil, err
	}
	data, err := u.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return ri.Patch(context.Background(), u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: manager, Force: &force})
}

// Get returns the live object named like obj, or an error (NotFound included).
func (c *Cluster) Get(obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	ri, err := c.Resource(obj)
	if err != nil {
		return nil, err
	}
	return ri.Get(context.Background(), obj.GetName(), metav1.GetOptions{})
}

// NewNamespace creates a namespace with a unique name derived from the test's name and
// returns the name. On StartControlPlane's control plane namespaces are never removed
// (there is no namespace controller), so every test uses its own.
func (c *Cluster) NewNamespace(t testing.TB) string {
	t.Helper()
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, base)
	if len(base) > 40 {
		base = base[:40]
	}
	name := strings.Trim(base, "-") + "-" + rand.String(5)
	ns := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	c.Create(t, ns)
	return name
}

// Object parses one YAML or JSON object, failing the test on error.
func Object(t testing.TB, doc string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatalf("gitopstest: parse object: %v\n%s", err, doc)
	}
	return u
}

// ToUnstructured converts a typed or unstructured object, failing the test on error.
func ToUnstructured(t testing.TB, obj runtime.Object) *unstructured.Unstructured {
	t.Helper()
	u, err := toUnstructured(obj)
	if err != nil {
		t.Fatalf("gitopstest: %v", err)
	}
	return u
}

func toUnstructured(obj runtime.Object) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return u.DeepCopy(), nil
	}
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Empty() {
		sch, err := newFakeScheme()
		if err != nil {
			return nil, err
		}
		gvks, _, err := sch.ObjectKinds(obj)
		if err != nil || len(gvks) == 0 {
			return nil, fmt.Errorf("cannot tell the kind of %T: set its TypeMeta", obj)
		}
		gvk = gvks[0]
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %T: %w", obj, err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

// Describe names an object as kind/namespace/name for messages.
func Describe(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetKind() + "/" + u.GetName()
	}
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}
