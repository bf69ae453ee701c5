package diff

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/openapi"
	"k8s.io/client-go/rest"
	"k8s.io/kube-openapi/pkg/spec3"
)

// DiscoveryOptions tune a DiscoverySchemas. The zero value is usable.
type DiscoveryOptions struct {
	// Static answers for built-in kinds when the server does not publish a group-version
	// (or cannot be reached). Nil: NewStaticSchemas().
	Static *StaticSchemas
	// MinRefreshInterval is the least time between two reads of the server's OpenAPI
	// index caused by a kind it did not list (a CRD being established, say). Default 5s.
	MinRefreshInterval time.Duration
	// Now is the clock (tests). Nil: time.Now.
	Now func() time.Time
}

// DiscoverySchemas is the SchemaSource of a live API server: it reads the server's
// OpenAPI v3 (/openapi/v3) lazily, one group-version document at a time, the first
// time a kind of that group-version is diffed, and keeps it. Invalidate (call it when a
// CRD changes) re-reads the index; only documents whose hash changed are downloaded
// again. Built-in kinds fall back to the static schemas when the server publishes no
// document for them. Safe for concurrent use.
type DiscoverySchemas struct {
	client openapi.ClientWithContext
	opts   DiscoveryOptions

	mu        sync.Mutex
	paths     map[string]openapi.GroupVersionWithContext // nil: not read (or invalidated)
	pathsRead time.Time
	gvs       map[string]*gvSchemas // by path ("apis/apps/v1")
}

var _ SchemaSource = (*DiscoverySchemas)(nil)
var _ SchemaDefaulter = (*DiscoverySchemas)(nil)

// gvSchemas is one downloaded group-version document.
type gvSchemas struct {
	load  sync.Mutex
	url   string // ServerRelativeURL (with hash) it was read from
	kinds map[schema.GroupVersionKind]*kindSchema
	err   error
}

// NewDiscoverySchemas reads schemas through client (discovery.OpenAPIV3()).
func NewDiscoverySchemas(client openapi.Client, opts DiscoveryOptions) *DiscoverySchemas {
	if opts.Static == nil {
		opts.Static = NewStaticSchemas()
	}
	if opts.MinRefreshInterval == 0 {
		opts.MinRefreshInterval = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &DiscoverySchemas{client: openapi.ToClientWithContext(client), opts: opts, gvs: map[string]*gvSchemas{}}
}

// NewDiscoverySchemasForConfig is NewDiscoverySchemas over a discovery client for cfg.
func NewDiscoverySchemasForConfig(cfg *rest.Config, opts DiscoveryOptions) (*DiscoverySchemas, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("diff: discovery client for %s: %w", cfg.Host, err)
	}
	return NewDiscoverySchemas(dc.OpenAPIV3(), opts), nil
}

// Invalidate drops every cached schema: the next lookup of a kind re-reads the
// server's OpenAPI index and that kind's group-version document. Call it when CRDs
// change (InvalidateGroup is cheaper when the group is known). The index's per-document
// hash is not enough on its own: kube-apiserver 1.37 keeps listing the old hash after a
// CRD's schema changed (and redirects a request for it to the new document).
func (d *DiscoverySchemas) Invalidate() {
	d.mu.Lock()
	d.paths = nil
	d.gvs = map[string]*gvSchemas{}
	d.mu.Unlock()
}

// InvalidateGroup drops the cached schemas of one API group (a CRD's spec.group).
func (d *DiscoverySchemas) InvalidateGroup(group string) {
	d.mu.Lock()
	d.paths = nil
	prefix := gvPath(schema.GroupVersion{Group: group}) // "apis/<group>/", "api/" for core
	for path := range d.gvs {
		if strings.HasPrefix(path, prefix) {
			delete(d.gvs, path)
		}
	}
	d.mu.Unlock()
}

// TypeConverter implements SchemaSource.
func (d *DiscoverySchemas) TypeConverter(ctx context.Context, gvk schema.GroupVersionKind) (managedfields.TypeConverter, error) {
	ks, err := d.kind(ctx, gvk)
	if err != nil {
		return nil, err
	}
	return ks.converter, nil
}

// Defaulter implements SchemaDefaulter.
func (d *DiscoverySchemas) Defaulter(ctx context.Context, gvk schema.GroupVersionKind) (DefaultFunc, error) {
	ks, err := d.kind(ctx, gvk)
	if err != nil {
		return nil, nil //nolint:nilerr // no schema, no defaults: TypeConverter reports the error
	}
	return ks.defaulter, nil
}

func gvPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

func (d *DiscoverySchemas) kind(ctx context.Context, gvk schema.GroupVersionKind) (*kindSchema, error) {
	b, err := loadBuiltins()
	if err != nil {
		return nil, err
	}
	fallback := func(reason string) (*kindSchema, error) {
		if tc := b.converter(gvk); tc != nil {
			return &kindSchema{converter: tc}, nil
		}
		return nil, &UnknownSchemaError{GVK: gvk, Reason: reason}
	}
	path := gvPath(gvk.GroupVersion())
	gv, err := d.lookup(ctx, path)
	if err != nil {
		return fallback(err.Error())
	}
	if gv == nil {
		return fallback("the server publishes no OpenAPI v3 for " + path)
	}
	entry := d.entry(path)
	entry.load.Lock()
	defer entry.load.Unlock()
	if url := gv.ServerRelativeURL(); entry.url != url || entry.err != nil {
		entry.url = url
		entry.kinds, entry.err = readGroupVersion(ctx, gv, b)
	}
	if entry.err != nil {
		return fallback(entry.err.Error())
	}
	if ks := entry.kinds[gvk]; ks != nil {
		return ks, nil
	}
	return fallback("the server's OpenAPI v3 for " + path + " has no schema for " + gvk.Kind)
}

func (d *DiscoverySchemas) entry(path string) *gvSchemas {
	d.mu.Lock()
	defer d.mu.Unlock()
	e := d.gvs[path]
	if e == nil {
		e = &gvSchemas{}
		d.gvs[path] = e
	}
	return e
}

// lookup returns the index entry for path, reading the index when it has not been read,
// was invalidated, or does not list path and was read more than MinRefreshInterval ago.
func (d *DiscoverySchemas) lookup(ctx context.Context, path string) (openapi.GroupVersionWithContext, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if gv, ok := d.paths[path]; ok {
		return gv, nil
	}
	if d.paths != nil && d.opts.Now().Sub(d.pathsRead) < d.opts.MinRefreshInterval {
		return nil, nil
	}
	paths, err := d.client.PathsWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("read the server's OpenAPI v3 index: %w", err)
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("read OpenAPI v3 index", "groupVersions", len(paths))
	d.paths, d.pathsRead = paths, d.opts.Now()
	return paths[path], nil
}

// readGroupVersion downloads one group-version document and builds its kinds' type
// converter (and, for custom resources, their schema defaulters).
func readGroupVersion(ctx context.Context, gv openapi.GroupVersionWithContext, b *builtins) (map[schema.GroupVersionKind]*kindSchema, error) {
	raw, err := gv.SchemaWithContext(ctx, "application/json")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", gv.ServerRelativeURL(), err)
	}
	var doc spec3.OpenAPI
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("parse %s: %w", gv.ServerRelativeURL(), err)
	}
	if doc.Components == nil || len(doc.Components.Schemas) == 0 {
		return nil, fmt.Errorf("%s has no component schemas", gv.ServerRelativeURL())
	}
	schemas := doc.Components.Schemas
	tc, err := managedfields.NewTypeConverter(schemas, false)
	if err != nil {
		return nil, fmt.Errorf("build type converter from %s: %w", gv.ServerRelativeURL(), err)
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("read OpenAPI v3", "url", gv.ServerRelativeURL(), "schemas", len(schemas))
	out := map[schema.GroupVersionKind]*kindSchema{}
	for gvk, root := range indexKinds(schemas) {
		ks := &kindSchema{converter: tc}
		if !b.isBuiltin(gvk) {
			ks.defaulter = newSchemaDefaulter(root)
		}
		out[gvk] = ks
	}
	return out, nil
}
