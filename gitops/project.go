package gitops

import (
	"fmt"
	"path"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/driftless-dev/driftless/source"
)

// AppProject is Argo CD's project: the policy every Application in it is held to. The
// seed's projects/ecommerce-backend.yaml is one.
type AppProject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              AppProjectSpec `json:"spec"`
}

// AppProjectSpec mirrors Argo CD's AppProject policy fields. Globs use path.Match
// syntax ("*" does not cross "/").
type AppProjectSpec struct {
	// SourceRepos are the repository URLs Applications may use.
	SourceRepos []string `json:"sourceRepos,omitempty"`
	// Destinations are the server/namespace pairs Applications may deploy to.
	Destinations []ProjectDestination `json:"destinations,omitempty"`
	// ClusterResourceWhitelist are the cluster-scoped kinds allowed; empty means none.
	ClusterResourceWhitelist []metav1.GroupKind `json:"clusterResourceWhitelist,omitempty"`
	// ClusterResourceBlacklist are cluster-scoped kinds denied even when whitelisted.
	ClusterResourceBlacklist []metav1.GroupKind `json:"clusterResourceBlacklist,omitempty"`
	// NamespaceResourceWhitelist are the namespaced kinds allowed; empty means all.
	NamespaceResourceWhitelist []metav1.GroupKind `json:"namespaceResourceWhitelist,omitempty"`
	// NamespaceResourceBlacklist are namespaced kinds denied.
	NamespaceResourceBlacklist []metav1.GroupKind `json:"namespaceResourceBlacklist,omitempty"`
	Description                string             `json:"description,omitempty"`
}

// ProjectDestination is one allowed destination; empty fields and "*" match anything.
type ProjectDestination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// DefaultProject is what an Application gets when its project is "default" and none was
// registered: everything allowed, as Argo CD's default project.
func DefaultProject() *AppProject {
	return &AppProject{
		TypeMeta:   metav1.TypeMeta{APIVersion: APIVersion, Kind: AppProjectKind},
		ObjectMeta: metav1.ObjectMeta{Name: DefaultProjectName},
		Spec: AppProjectSpec{
			SourceRepos:              []string{"*"},
			Destinations:             []ProjectDestination{{Server: "*", Namespace: "*"}},
			ClusterResourceWhitelist: []metav1.GroupKind{{Group: "*", Kind: "*"}},
		},
	}
}

// Violation is one broken rule: which object (or the Application itself) and which rule.
type Violation struct {
	Object string // kind/namespace/name, or "application"
	Rule   string
}

// PolicyError is returned when an Application or its rendered objects break its
// project's policy; nothing has been written.
type PolicyError struct {
	App        string
	Project    string
	Violations []Violation
}

func (e *PolicyError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.Object + ": " + v.Rule
	}
	return fmt.Sprintf("application %s violates project %s: %s", e.App, e.Project, strings.Join(parts, "; "))
}

// CheckApplication checks the Application's source and destination against the
// project.
func (p *AppProject) CheckApplication(app *Application) error {
	var vs []Violation
	if !matchAny(p.Spec.SourceRepos, app.Spec.Source.RepoURL) {
		vs = append(vs, Violation{"application", fmt.Sprintf("source repository %s is not in sourceRepos %v", source.RedactURL(app.Spec.Source.RepoURL), p.Spec.SourceRepos)})
	}
	if !p.destinationAllowed(app.Spec.Destination, app.Spec.Destination.Namespace) {
		vs = append(vs, Violation{"application", fmt.Sprintf("destination %s is not permitted by the project's destinations", describeDestination(app.Spec.Destination, app.Spec.Destination.Namespace))})
	}
	return p.errorFor(app, vs)
}

// CheckObjects checks a rendered set: every kind must be allowed (cluster-scoped kinds
// by the cluster whitelist/blacklist, namespaced ones by the namespace lists) and every
// namespaced object's namespace must be an allowed destination. namespaced tells a kind's
// scope (from the RESTMapper).
func (p *AppProject) CheckObjects(app *Application, objs []*unstructured.Unstructured, namespaced func(schema.GroupVersionKind) (bool, error)) error {
	var vs []Violation
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		ref := describeObject(obj)
		isNS, err := namespaced(gvk)
		if err != nil {
			vs = append(vs, Violation{ref, fmt.Sprintf("kind %s is not served by the destination cluster: %v", gvk, err)})
			continue
		}
		gk := metav1.GroupKind{Group: gvk.Group, Kind: gvk.Kind}
		if !isNS {
			switch {
			case !matchKind(p.Spec.ClusterResourceWhitelist, gk):
				vs = append(vs, Violation{ref, fmt.Sprintf("cluster-scoped kind %s is not in clusterResourceWhitelist", kindName(gk))})
			case matchKind(p.Spec.ClusterResourceBlacklist, gk):
				vs = append(vs, Violation{ref, fmt.Sprintf("cluster-scoped kind %s is in clusterResourceBlacklist", kindName(gk))})
			}
			continue
		}
		switch {
		case len(p.Spec.NamespaceResourceWhitelist) > 0 && !matchKind(p.Spec.NamespaceResourceWhitelist, gk):
			vs = append(vs, Violation{ref, fmt.Sprintf("kind %s is not in namespaceResourceWhitelist", kindName(gk))})
		case matchKind(p.Spec.NamespaceResourceBlacklist, gk):
			vs = append(vs, Violation{ref, fmt.Sprintf("kind %s is in namespaceResourceBlacklist", kindName(gk))})
		}
		ns := obj.GetNamespace()
		if ns == "" {
			ns = app.Spec.Destination.Namespace
		}
		if !p.destinationAllowed(app.Spec.Destination, ns) {
			vs = append(vs, Violation{ref, fmt.Sprintf("namespace %q is not a permitted destination", ns)})
		}
	}
	return p.errorFor(app, vs)
}

func (p *AppProject) errorFor(app *Application, vs []Violation) error {
	if len(vs) == 0 {
		return nil
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Object < vs[j].Object })
	return &PolicyError{App: app.Key(), Project: p.Name, Violations: vs}
}

func (p *AppProject) destinationAllowed(d Destination, namespace string) bool {
	server := d.Server
	if server == "" && d.Name == "" {
		server = InClusterServer
	}
	for _, pd := range p.Spec.Destinations {
		serverOK := (pd.Server == "" && pd.Name == "") || (pd.Server != "" && glob(pd.Server, server)) || (pd.Name != "" && d.Name != "" && glob(pd.Name, d.Name))
		if serverOK && (pd.Namespace == "" || glob(pd.Namespace, namespace)) {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if glob(p, s) {
			return true
		}
	}
	return false
}

func matchKind(list []metav1.GroupKind, gk metav1.GroupKind) bool {
	for _, k := range list {
		if glob(k.Group, gk.Group) && glob(k.Kind, gk.Kind) {
			return true
		}
	}
	return false
}

// glob matches with path.Match; "*" alone matches anything (slashes included), and a
// malformed pattern matches only itself.
func glob(pattern, s string) bool {
	if pattern == "*" || pattern == s {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func kindName(gk metav1.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind
	}
	return gk.Kind + "." + gk.Group
}

func describeObject(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetKind() + "/" + obj.GetName()
	}
	return obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName()
}

func describeDestination(d Destination, ns string) string {
	target := d.Server
	if d.Name != "" {
		target = d.Name
	}
	if target == "" {
		target = InClusterServer
	}
	return target + " namespace " + ns
}
