package gitops

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/diff"
	"github.com/driftless-dev/driftless/health"
	"github.com/driftless-dev/driftless/render"
	"github.com/driftless-dev/driftless/source"
)

// ReconcilerOptions wire a Reconciler. Config is required; every other field has a
// working default.
type ReconcilerOptions struct {
	// Config reaches the cluster Applications deploy to when their destination is the
	// in-cluster server (or empty).
	Config *rest.Config
	// Destinations resolves other destinations (a server URL or a kubeconfig context
	// name) to a config; nil means only in-cluster destinations are allowed.
	Destinations func(Destination) (*rest.Config, error)
	// Sources is the SourceCache (bare mirrors and snapshots); nil means a DiskCache
	// under the user cache dir (driftless/sources).
	Sources source.SourceCache
	// Repositories returns the repository settings (credentials, CA, verification)
	// for a repoURL; nil means the URL alone.
	Repositories func(repoURL string) source.Repository
	// Renderer renders with its RenderCache; nil means a Renderer with an in-memory LRU.
	Renderer *render.Renderer
	// RenderOptions apply to every render (substitution, decryption, remote bases).
	RenderOptions render.Options
	// ClusterCache builds the live-object cache of a destination; nil means an
	// InformerCache restricted to objects carrying apply.LabelOwner.
	ClusterCache func(dynamic.Interface) ClusterCache
	// Recorder writes the audit trail; nil means the defaults: a Kubernetes Event on
	// the Application (in the Config cluster, namespaced Applications only), a line in
	// the JSON-lines HistoryFile, and the in-memory History (see History).
	Recorder Recorder
	// HistoryFile is the JSON-lines history of the default Recorder: "" means
	// <user cache dir>/driftless/history.jsonl, "-" none. Ignored with a Recorder.
	HistoryFile string
	// FieldManager is the server-side apply field manager; "" means "driftless".
	FieldManager string
	// Projects are the AppProjects Applications may name; "default" is DefaultProject
	// unless given here.
	Projects []*AppProject
	// Health judges objects; nil means the built-in checks.
	Health *health.Checker
	// Metrics, when set, records the engine's Prometheus metrics.
	Metrics *Metrics
	// ResolveInterval is how long a resolved revision of a repository and
	// targetRevision is reused by other Applications' interval and drift reconciles, so
	// a poll round of many Applications on one repository costs one ls-remote; 0 means
	// 2 seconds, negative means never reuse. Manual and webhook reconciles always ask.
	ResolveInterval time.Duration
	// ApplyOptions are the base apply options (Force, TakeOver, Recreate, Concurrency,
	// Health gating); the Reconciler sets FieldManager, Name, Namespace, Prune,
	// IgnoreRules, Live and Inventory itself.
	ApplyOptions apply.Options
}

// Reconciler makes clusters look like Git, one Application at a time: source ->
// render -> diff -> apply -> health, with a cache at every expensive edge. It is safe
// for concurrent use; reconciles of the same Application are serialized.
type Reconciler struct {
	opts     ReconcilerOptions
	fetcher  *source.Fetcher
	renderer *render.Renderer
	recorder Recorder
	history  *History
	closers  []io.Closer // what the default Recorder opened
	projects map[string]*AppProject

	static *diff.StaticSchemas // built-in schemas, shared by every destination
	// life bounds the work the Reconciler does outside a Reconcile call (watch
	// handlers); Close cancels it.
	life     context.Context
	stopLife context.CancelFunc
	resolved *resolveCache

	mu     sync.Mutex
	dests  map[string]*destination // by destination key
	states map[string]*appState    // by Application key
	owners map[string]string       // owner label value -> Application key
	drift  func(appKey string)     // set by Runner: called when a managed object drifts
}

// destination is one cluster's clients and live-object cache.
type destination struct {
	key     string
	dyn     dynamic.Interface
	mapper  meta.ResettableRESTMapper
	cache   ClusterCache
	schemas *diff.DiscoverySchemas // OpenAPI v3 per group-version, static fallback
}

// NewReconciler builds a Reconciler.
func NewReconciler(opts ReconcilerOptions) (*Reconciler, error) {
	if opts.Config == nil {
		return nil, errors.New("gitops: ReconcilerOptions.Config is required")
	}
	if opts.FieldManager == "" {
		opts.FieldManager = apply.DefaultFieldManager
	}
	if opts.Sources == nil {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cache, err := source.NewDiskCache(source.CacheOptions{Dir: filepath.Join(dir, "driftless", "sources")})
		if err != nil {
			return nil, fmt.Errorf("gitops: source cache: %w", err)
		}
		opts.Sources = cache
	}
	fetcher, err := source.NewFetcher(opts.Sources)
	if err != nil {
		return nil, fmt.Errorf("gitops: %w", err)
	}
	r := &Reconciler{
		opts: opts, fetcher: fetcher, renderer: opts.Renderer, recorder: opts.Recorder,
		projects: map[string]*AppProject{DefaultProjectName: DefaultProject()},
		dests:    map[string]*destination{}, states: map[string]*appState{}, owners: map[string]string{},
	}
	if r.renderer == nil {
		r.renderer = render.NewRenderer(render.RendererOptions{})
	}
	r.static = diff.NewStaticSchemas()
	r.life, r.stopLife = context.WithCancel(context.Background())
	if opts.ResolveInterval == 0 {
		opts.ResolveInterval = 2 * time.Second
	}
	r.resolved = newResolveCache(opts.ResolveInterval)
	if r.recorder == nil {
		if err := r.defaultRecorder(opts); err != nil {
			return nil, err
		}
	}
	for _, p := range opts.Projects {
		r.projects[p.Name] = p
	}
	return r, nil
}

// defaultRecorder sets up the default audit trail: History, Events, JSON lines.
func (r *Reconciler) defaultRecorder(opts ReconcilerOptions) error {
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return fmt.Errorf("gitops: event recorder: %w", err)
	}
	r.history = &History{}
	recorders := Recorders{r.history, &EventRecorder{Client: cs}}
	path := opts.HistoryFile
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		path = filepath.Join(dir, "driftless", "history.jsonl")
	}
	if path != "-" {
		jl, closer, err := OpenJSONLines(path)
		if err != nil {
			return fmt.Errorf("gitops: %w", err)
		}
		recorders = append(recorders, jl)
		r.closers = append(r.closers, closer)
	}
	r.recorder = recorders
	return nil
}

// History returns the in-memory audit trail when the Reconciler keeps the default
// Recorder (nil when a Recorder was given).
func (r *Reconciler) History() *History { return r.history }

// Renderer returns the Renderer (for its Stats).
func (r *Reconciler) Renderer() *render.Renderer { return r.renderer }

// OnDrift sets the function told (with the Application key) when a managed object
// drifted from Git; a Runner sets it to queue a selfHeal reconcile. It must not block.
func (r *Reconciler) OnDrift(fn func(appKey string)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drift = fn
}

// SetProject adds or replaces an AppProject.
func (r *Reconciler) SetProject(p *AppProject) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.projects[p.Name] = p
}

func (r *Reconciler) project(name string) (*AppProject, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.projects[name]
	if !ok {
		return nil, fmt.Errorf("project %q not found", name)
	}
	return p, nil
}

// Close stops the cluster caches and the work started by their events.
func (r *Reconciler) Close() {
	r.stopLife()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dests {
		d.cache.Stop()
	}
	r.dests = map[string]*destination{}
	for _, c := range r.closers {
		_ = c.Close()
	}
	r.closers = nil
}

// destinationFor returns (building once) the clients and cache of an Application's
// destination cluster.
func (r *Reconciler) destinationFor(app *Application) (*destination, error) {
	d := app.Spec.Destination
	key := "in-cluster"
	inCluster := (d.Server == "" || d.Server == InClusterServer) && (d.Name == "" || d.Name == "in-cluster")
	if !inCluster {
		key = "server=" + d.Server + ",name=" + d.Name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if dest, ok := r.dests[key]; ok {
		return dest, nil
	}
	cfg := r.opts.Config
	if !inCluster {
		if r.opts.Destinations == nil {
			return nil, fmt.Errorf("destination %s is not configured (only in-cluster destinations are)", describeDestination(d, d.Namespace))
		}
		var err error
		if cfg, err = r.opts.Destinations(d); err != nil {
			return nil, fmt.Errorf("destination %s: %w", describeDestination(d, d.Namespace), err)
		}
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", key, err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", key, err)
	}
	dest := &destination{key: key, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc)),
		schemas: diff.NewDiscoverySchemas(dc.OpenAPIV3(), diff.DiscoveryOptions{Static: r.static})}
	if r.opts.ClusterCache != nil {
		dest.cache = r.opts.ClusterCache(dyn)
	} else {
		dest.cache = NewInformerCache(dyn, InformerCacheOptions{LabelSelector: apply.LabelOwner})
	}
	dest.cache.OnChange(r.onClusterChange)
	r.dests[key] = dest
	return dest, nil
}

// ownerName is the apply Name (the owner label value) of an Application: its key made
// a valid label value, hashed when too long.
func ownerName(app *Application) string {
	n := app.Name
	if app.Namespace != "" {
		n = app.Namespace + "." + app.Name
	}
	if len(validation.IsValidLabelValue(n)) == 0 {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	short := strings.TrimRight(n[:min(len(n), 50)], "-_.")
	return short + "-" + hex.EncodeToString(sum[:])[:12]
}

func (r *Reconciler) registerOwner(app *Application) string {
	name := ownerName(app)
	r.mu.Lock()
	r.owners[name] = app.Key()
	r.mu.Unlock()
	return name
}

// objKey identifies an object of an Application across reconciles.
func objKey(u *unstructured.Unstructured) string { return apply.RefOf(u).Key() }

// ignoreRules converts the Application's ignoreDifferences.
func ignoreRules(app *Application) []diff.IgnoreRule {
	rules := make([]diff.IgnoreRule, 0, len(app.Spec.IgnoreDifferences))
	for _, d := range app.Spec.IgnoreDifferences {
		rules = append(rules, diff.IgnoreRule{Group: d.Group, Kind: d.Kind, Name: d.Name, Namespace: d.Namespace,
			JSONPointers: d.JSONPointers, ManagedFieldsManagers: d.ManagedFieldsManagers})
	}
	return rules
}
