package gitopstest

import (
	"slices"
	"sort"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
)

// resourceType is one resource the fake API server serves.
type resourceType struct {
	gvk        schema.GroupVersionKind
	resource   string // plural, lower case
	listKind   string
	namespaced bool
	shortNames []string
	categories []string
	// status: the resource has a status subresource, so writes to the main resource
	// keep the stored status and writes to /status change only status.
	status bool
	// generation: metadata.generation is set on create and bumped when anything but
	// metadata (and status, when it is a subresource) changes.
	generation bool
	// custom: served because a CustomResourceDefinition defines it.
	custom bool
	// converter builds typed values for server-side apply and managed fields.
	converter managedfields.TypeConverter
	// crd is the defining CRD (custom resources only), used for defaulting and pruning.
	crd *crdVersion
}

func (r *resourceType) gvr() schema.GroupVersionResource {
	return r.gvk.GroupVersion().WithResource(r.resource)
}

// catalog is the set of served resources: the built-in ones plus those registered by
// CustomResourceDefinitions. It is safe for concurrent use.
type catalog struct {
	mu    sync.RWMutex
	byGVR map[schema.GroupVersionResource]*resourceType
	byGVK map[schema.GroupVersionKind]*resourceType
}

func newCatalog(types []*resourceType) *catalog {
	c := &catalog{byGVR: map[schema.GroupVersionResource]*resourceType{}, byGVK: map[schema.GroupVersionKind]*resourceType{}}
	for _, rt := range types {
		c.add(rt)
	}
	return c
}

func (c *catalog) add(rt *resourceType) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.byGVR[rt.gvr()] = rt
	c.byGVK[rt.gvk] = rt
}

// removeCustom drops the resources a CRD registered (for the given group and plural).
func (c *catalog) removeCustom(group, plural string) []*resourceType {
	c.mu.Lock()
	defer c.mu.Unlock()
	var removed []*resourceType
	for gvr, rt := range c.byGVR {
		if rt.custom && gvr.Group == group && gvr.Resource == plural {
			delete(c.byGVR, gvr)
			delete(c.byGVK, rt.gvk)
			removed = append(removed, rt)
		}
	}
	return removed
}

func (c *catalog) lookup(gvr schema.GroupVersionResource) *resourceType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byGVR[gvr]
}

func (c *catalog) lookupKind(gvk schema.GroupVersionKind) *resourceType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byGVK[gvk]
}

// all returns every served resource, sorted by group, version, resource.
func (c *catalog) all() []*resourceType {
	c.mu.RLock()
	out := make([]*resourceType, 0, len(c.byGVR))
	for _, rt := range c.byGVR {
		out = append(out, rt)
	}
	c.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].gvr(), out[j].gvr()
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Resource < b.Resource
	})
	return out
}

// groupVersions returns the served versions per group, the preferred version first
// (the built-in order for built-ins; v1 before v1beta1 before v1alpha1 otherwise).
func (c *catalog) groupVersions() (groups []string, versions map[string][]string) {
	versions = map[string][]string{}
	for _, rt := range c.all() {
		g, v := rt.gvk.Group, rt.gvk.Version
		if !slices.Contains(versions[g], v) {
			versions[g] = append(versions[g], v)
		}
	}
	for g, vs := range versions {
		sort.Slice(vs, func(i, j int) bool { return versionPriority(vs[i]) > versionPriority(vs[j]) })
		groups = append(groups, g)
	}
	sort.Strings(groups)
	return groups, versions
}

// resourceList is the discovery document of one group-version.
func (c *catalog) resourceList(gv schema.GroupVersion) (*metav1.APIResourceList, bool) {
	list := &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv.String(),
	}
	found := false
	for _, rt := range c.all() {
		if rt.gvk.GroupVersion() != gv {
			continue
		}
		found = true
		verbs := metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: rt.resource, SingularName: strings.ToLower(rt.gvk.Kind), Namespaced: rt.namespaced,
			Kind: rt.gvk.Kind, Verbs: verbs, ShortNames: rt.shortNames, Categories: rt.categories,
		})
		if rt.status {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: rt.resource + "/status", Namespaced: rt.namespaced, Kind: rt.gvk.Kind,
				Verbs: metav1.Verbs{"get", "patch", "update"},
			})
		}
	}
	return list, found
}

// versionPriority orders Kubernetes API versions: GA > beta > alpha, higher numbers first.
func versionPriority(v string) int {
	var major, minor int
	kind := 3 // GA
	rest := strings.TrimPrefix(v, "v")
	if i := strings.IndexAny(rest, "ab"); i >= 0 {
		if strings.HasPrefix(rest[i:], "beta") {
			kind, minor = 2, atoiPrefix(rest[i+4:])
		} else if strings.HasPrefix(rest[i:], "alpha") {
			kind, minor = 1, atoiPrefix(rest[i+5:])
		}
		rest = rest[:i]
	}
	major = atoiPrefix(rest)
	return kind*1_000_000 + major*1000 + minor
}

func atoiPrefix(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// builtinResource is one row of the built-in resource table, recorded from a real
// kube-apiserver by `go generate` (gitopstest/internal/genbuiltins).
type builtinResource struct {
	group, version, kind, resource string
	namespaced, status             bool
	shortNames, categories         []string
}
