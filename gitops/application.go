package gitops

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// APIVersion and Kind of the Application resource. They are Argo CD's, so an existing
// Application manifest (the seed's) is read, and applied to the example controller's
// CRD, as it is.
const (
	APIVersion         = "argoproj.io/v1alpha1"
	ApplicationKind    = "Application"
	AppProjectKind     = "AppProject"
	DefaultProjectName = "default"
	// InClusterServer is the destination server that means "the cluster the engine runs in".
	InClusterServer = "https://kubernetes.default.svc"
)

// Application says what to sync where: a path at a revision of a Git repository, into
// a destination cluster and namespace, under a project's policy.
type Application struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ApplicationSpec    `json:"spec"`
	Status            *ApplicationStatus `json:"status,omitempty"`
}

// ApplicationSpec mirrors Argo CD's Application spec (the fields driftless acts on),
// plus Interval from Flux.
type ApplicationSpec struct {
	Project     string      `json:"project,omitempty"`
	Source      Source      `json:"source"`
	Destination Destination `json:"destination"`
	SyncPolicy  *SyncPolicy `json:"syncPolicy,omitempty"`
	// Interval between polls of the source; zero means the Runner's default.
	Interval          *metav1.Duration    `json:"interval,omitempty"`
	IgnoreDifferences []ResourceIgnoreDef `json:"ignoreDifferences,omitempty"`
}

// Source is a path in a Git repository at a revision.
type Source struct {
	RepoURL string `json:"repoURL"`
	// TargetRevision is HEAD (or empty), a branch, a tag, a semver range over tags
	// (e.g. ">=1.2.0 <2.0.0"), or a commit SHA.
	TargetRevision string `json:"targetRevision,omitempty"`
	Path           string `json:"path,omitempty"`
}

// Destination is where the rendered objects go. Server is InClusterServer (or empty)
// for the engine's own cluster, another server URL, or Name a kubeconfig context.
type Destination struct {
	Server    string `json:"server,omitempty"`
	Name      string `json:"name,omitempty"`
	Namespace string `json:"namespace,omitempty"`
}

// SyncPolicy turns on automated sync; without it a reconcile only reports OutOfSync.
type SyncPolicy struct {
	Automated   *Automated `json:"automated,omitempty"`
	SyncOptions []string   `json:"syncOptions,omitempty"`
}

// Automated sync: Prune deletes objects no longer in Git; SelfHeal reverts changes made
// in the cluster.
type Automated struct {
	Prune    bool `json:"prune,omitempty"`
	SelfHeal bool `json:"selfHeal,omitempty"`
}

// ResourceIgnoreDef is Argo CD's ignoreDifferences entry.
type ResourceIgnoreDef struct {
	Group                 string   `json:"group,omitempty"`
	Kind                  string   `json:"kind"`
	Name                  string   `json:"name,omitempty"`
	Namespace             string   `json:"namespace,omitempty"`
	JSONPointers          []string `json:"jsonPointers,omitempty"`
	ManagedFieldsManagers []string `json:"managedFieldsManagers,omitempty"`
}

// ApplicationStatus is what the example controller writes back.
type ApplicationStatus struct {
	Sync           SyncStatusInfo    `json:"sync,omitempty"`
	Health         HealthStatusInfo  `json:"health,omitempty"`
	Conditions     []Condition       `json:"conditions,omitempty"`
	ReconciledAt   *metav1.Time      `json:"reconciledAt,omitempty"`
	OperationState *OperationSummary `json:"operationState,omitempty"`
}

// SyncStatusInfo: Synced or OutOfSync at a revision.
type SyncStatusInfo struct {
	Status   SyncStatus `json:"status,omitempty"`
	Revision string     `json:"revision,omitempty"`
}

// HealthStatusInfo is the aggregated health of the Application's objects.
type HealthStatusInfo struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// Condition is a problem or notice about the Application (invalid spec, policy
// violation, source unreachable, sync error).
type Condition struct {
	Type               string       `json:"type"`
	Message            string       `json:"message"`
	LastTransitionTime *metav1.Time `json:"lastTransitionTime,omitempty"`
}

// OperationSummary is the last sync, as the status shows it.
type OperationSummary struct {
	Phase      string       `json:"phase,omitempty"`
	Message    string       `json:"message,omitempty"`
	Revision   string       `json:"revision,omitempty"`
	StartedAt  metav1.Time  `json:"startedAt,omitempty"`
	FinishedAt *metav1.Time `json:"finishedAt,omitempty"`
}

// SyncStatus compares the cluster with Git.
type SyncStatus string

const (
	// Synced: every rendered object matches the cluster and nothing is left to prune.
	Synced SyncStatus = "Synced"
	// OutOfSync: at least one object differs, is missing, or is left over.
	OutOfSync SyncStatus = "OutOfSync"
	// SyncUnknown: the comparison could not be made (source, render or cluster error).
	SyncUnknown SyncStatus = "Unknown"
)

// Automated reports whether automated sync is on.
func (a *Application) Automated() bool {
	return a.Spec.SyncPolicy != nil && a.Spec.SyncPolicy.Automated != nil
}

// Prune reports whether automated sync prunes.
func (a *Application) Prune() bool { return a.Automated() && a.Spec.SyncPolicy.Automated.Prune }

// SelfHeal reports whether automated sync reverts drift made in the cluster.
func (a *Application) SelfHeal() bool {
	return a.Automated() && a.Spec.SyncPolicy.Automated.SelfHeal
}

// SyncOption reports whether a syncOptions entry is set to true (e.g.
// "CreateNamespace").
func (a *Application) SyncOption(name string) bool {
	if a.Spec.SyncPolicy == nil {
		return false
	}
	for _, o := range a.Spec.SyncPolicy.SyncOptions {
		k, v, _ := strings.Cut(o, "=")
		if strings.EqualFold(strings.TrimSpace(k), name) && strings.EqualFold(strings.TrimSpace(v), "true") {
			return true
		}
	}
	return false
}

// ProjectName is the project, "default" when empty.
func (a *Application) ProjectName() string {
	if a.Spec.Project == "" {
		return DefaultProjectName
	}
	return a.Spec.Project
}

// IntervalOr is the poll interval, or def when the Application sets none.
func (a *Application) IntervalOr(def time.Duration) time.Duration {
	if a.Spec.Interval != nil && a.Spec.Interval.Duration > 0 {
		return a.Spec.Interval.Duration
	}
	return def
}

// Key is namespace/name, the Application's identity in a Runner.
func (a *Application) Key() string {
	if a.Namespace == "" {
		return a.Name
	}
	return a.Namespace + "/" + a.Name
}

// Validate checks what the engine needs before it touches Git or the cluster.
func (a *Application) Validate() error {
	var problems []string
	if a.Name == "" {
		problems = append(problems, "metadata.name is required")
	} else if msgs := validation.IsDNS1123Subdomain(a.Name); len(msgs) > 0 {
		problems = append(problems, fmt.Sprintf("metadata.name %q: %s", a.Name, strings.Join(msgs, "; ")))
	}
	if a.Spec.Source.RepoURL == "" {
		problems = append(problems, "spec.source.repoURL is required")
	}
	if strings.HasPrefix(a.Spec.Source.Path, "/") || hasDotDot(a.Spec.Source.Path) {
		problems = append(problems, fmt.Sprintf("spec.source.path %q must be relative and stay inside the repository", a.Spec.Source.Path))
	}
	if a.Spec.Destination.Server != "" && a.Spec.Destination.Name != "" {
		problems = append(problems, "spec.destination: set server or name, not both")
	}
	if ns := a.Spec.Destination.Namespace; ns != "" {
		if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
			problems = append(problems, fmt.Sprintf("spec.destination.namespace %q: %s", ns, strings.Join(msgs, "; ")))
		}
	}
	for i, d := range a.Spec.IgnoreDifferences {
		if d.Kind == "" {
			problems = append(problems, fmt.Sprintf("spec.ignoreDifferences[%d].kind is required", i))
		}
		for _, p := range d.JSONPointers {
			if !strings.HasPrefix(p, "/") {
				problems = append(problems, fmt.Sprintf("spec.ignoreDifferences[%d].jsonPointers: %q is not a JSON pointer", i, p))
			}
		}
	}
	if len(problems) > 0 {
		return &InvalidApplicationError{App: a.Key(), Problems: problems}
	}
	return nil
}

func hasDotDot(p string) bool {
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// InvalidApplicationError lists what is wrong with an Application's spec.
type InvalidApplicationError struct {
	App      string
	Problems []string
}

func (e *InvalidApplicationError) Error() string {
	return fmt.Sprintf("application %s is invalid: %s", e.App, strings.Join(e.Problems, "; "))
}

// ParseApplications reads Applications from a YAML stream (one or more documents);
// documents of other kinds are an error naming the document. file names the source in
// errors.
func ParseApplications(file string, data []byte) ([]*Application, error) {
	var apps []*Application
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		app := &Application{}
		if err := yaml.UnmarshalStrict(doc, app); err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", file, i+1, err)
		}
		if app.APIVersion == "" && app.Kind == "" {
			continue
		}
		if app.APIVersion != APIVersion || app.Kind != ApplicationKind {
			return nil, fmt.Errorf("%s: document %d: want %s %s, got %s %s", file, i+1, APIVersion, ApplicationKind, app.APIVersion, app.Kind)
		}
		if err := app.Validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		apps = append(apps, app)
	}
	return apps, nil
}
