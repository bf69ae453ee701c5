package apply

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// Inventory records which objects a sync applied, so the next sync can prune those
// that left the set.
type Inventory interface {
	// ID identifies the inventory; it is set as AnnotationInventory on every applied
	// object, and prune only deletes objects that carry it.
	ID() string
	// Load returns the recorded objects in the order they were stored (none, and no
	// error, when nothing was recorded yet).
	Load(ctx context.Context) ([]Ref, error)
	// Store replaces the record.
	Store(ctx context.Context, refs []Ref) error
}

// inventoryKey is the ConfigMap data key holding the objects.
const inventoryKey = "objects"

// ConfigMapInventory keeps the inventory in a ConfigMap: data["objects"] is a JSON
// array of {group, version, kind, namespace, name}, one object a line, in plan order.
type ConfigMapInventory struct {
	Client    dynamic.Interface
	Namespace string
	Name      string
	// FieldManager writes the ConfigMap (server-side apply); "" means "driftless".
	FieldManager string
}

var _ Inventory = (*ConfigMapInventory)(nil)

var configMaps = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

// ID is "NAMESPACE/NAME".
func (c *ConfigMapInventory) ID() string { return c.Namespace + "/" + c.Name }

// Load reads the ConfigMap; a missing one is an empty inventory.
func (c *ConfigMapInventory) Load(ctx context.Context) ([]Ref, error) {
	if c.Namespace == "" {
		return nil, fmt.Errorf("inventory ConfigMap %s: no namespace (set Options.Namespace)", c.Name)
	}
	cm, err := c.Client.Resource(configMaps).Namespace(c.Namespace).Get(ctx, c.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read inventory ConfigMap %s: %w", c.ID(), err)
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", inventoryKey)
	if data == "" {
		return nil, nil
	}
	var refs []Ref
	if err := json.Unmarshal([]byte(data), &refs); err != nil {
		return nil, fmt.Errorf("inventory ConfigMap %s: data[%s] is not a JSON list of objects: %w", c.ID(), inventoryKey, err)
	}
	return refs, nil
}

// Store writes the ConfigMap with server-side apply (creating it when missing).
func (c *ConfigMapInventory) Store(ctx context.Context, refs []Ref) error {
	if c.Namespace == "" {
		return fmt.Errorf("inventory ConfigMap %s: no namespace (set Options.Namespace)", c.Name)
	}
	data := encodeRefs(refs)
	cm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": c.Name, "namespace": c.Namespace,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "driftless"}},
		"data": map[string]any{inventoryKey: data},
	}}
	body, err := cm.MarshalJSON()
	if err != nil {
		return err
	}
	fm := c.FieldManager
	if fm == "" {
		fm = DefaultFieldManager
	}
	force := true // the inventory is ours alone
	_, err = c.Client.Resource(configMaps).Namespace(c.Namespace).Patch(ctx, c.Name, types.ApplyPatchType, body,
		metav1.PatchOptions{FieldManager: fm, Force: &force})
	if err != nil {
		return fmt.Errorf("write inventory ConfigMap %s: %w", c.ID(), err)
	}
	return nil
}

// encodeRefs renders refs as a JSON array with one object a line.
func encodeRefs(refs []Ref) string {
	if len(refs) == 0 {
		return "[]"
	}
	b := []byte("[\n")
	for i, r := range refs {
		line, _ := json.Marshal(r) // a struct of strings always encodes
		b = append(b, line...)
		if i < len(refs)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	return string(append(b, ']'))
}

// sameRefs reports whether a and b list the same objects in the same order.
func sameRefs(a, b []Ref) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// inventoryRefs are the plain objects of the plan (no hooks, no skipped objects), in
// plan order.
func (r *run) inventoryRefs() []*target {
	var out []*target
	for _, t := range r.targets {
		if !t.Hook && t.Phase == Sync {
			out = append(out, t)
		}
	}
	return out
}

// ensureInventory records, before the first write of a sync, the old inventory plus
// every object of the new set, so that a sync that stops half-way still knows what it
// may have created. When the inventory's namespace is created by this sync and does
// not exist yet, it tries again before the next kind group.
func (r *run) ensureInventory(ctx context.Context) error {
	if r.invStored || r.a.opts.DryRun {
		return nil
	}
	union := append([]Ref(nil), r.oldInventory...)
	seen := map[string]bool{}
	for _, ref := range union {
		seen[ref.Key()] = true
	}
	for _, t := range r.inventoryRefs() {
		if !seen[t.ref.Key()] {
			seen[t.ref.Key()] = true
			union = append(union, t.ref)
		}
	}
	if sameRefs(union, r.storedInventory) {
		r.invStored = true
		return nil
	}
	err := r.a.inv.Store(ctx, union)
	if err == nil {
		r.invStored = true
		r.storedInventory = union
		return nil
	}
	if apierrors.IsNotFound(err) && r.namespacePending() {
		return nil // its namespace is created by a later kind group
	}
	return err
}

// namespacePending reports whether a Namespace of the set has not been applied yet.
func (r *run) namespacePending() bool {
	for _, t := range r.namespaces[Sync] {
		if e := r.entryOf(t); e != nil && e.Action == "" {
			return true
		}
	}
	return false
}

// storeFinalInventory records what the sync leaves under its management: the objects
// of the new set that exist (applied, or failed but recorded before), and the old
// entries prune did not remove (prune off, not reached, or a failed delete). Nothing
// is written when that equals the stored inventory.
func (r *run) storeFinalInventory(ctx context.Context) error {
	wasRecorded := map[string]bool{}
	for _, ref := range r.oldInventory {
		wasRecorded[ref.Key()] = true
	}
	var refs []Ref
	inNew := map[string]bool{}
	for _, t := range r.inventoryRefs() {
		inNew[t.ref.Key()] = true
		switch r.entryOf(t).Action {
		case Created, Configured, Unchanged:
			refs = append(refs, t.ref)
		default:
			if wasRecorded[t.ref.Key()] {
				refs = append(refs, t.ref)
			}
		}
	}
	for _, ref := range r.oldInventory {
		if !inNew[ref.Key()] && !r.pruneDropped[ref.Key()] {
			refs = append(refs, ref)
		}
	}
	if sameRefs(refs, r.storedInventory) {
		return nil
	}
	if err := r.a.inv.Store(ctx, refs); err != nil {
		return fmt.Errorf("apply: record inventory %s: %w", r.a.inv.ID(), err)
	}
	r.storedInventory = refs
	return nil
}
