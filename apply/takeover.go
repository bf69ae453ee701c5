package apply

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// ManagerMatch selects managedFields entries by manager name and operation.
type ManagerMatch struct {
	// Manager is the exact field manager name.
	Manager string
	// Operation is Apply or Update.
	Operation metav1.ManagedFieldsOperationType
}

// DefaultTakeOverManagers are the field managers Options.TakeOver hands over to our
// field manager: kubectl's client-side apply, edit, create, replace and patch (Update
// operations), kubectl's server-side apply (manager "kubectl", Apply), and
// "before-first-apply", the manager the API server gives the fields of an object
// created before server-side apply tracked it. Managers of controllers (an HPA's
// scale, a mutating webhook) are never taken over by default.
func DefaultTakeOverManagers() []ManagerMatch {
	up, ap := metav1.ManagedFieldsOperationUpdate, metav1.ManagedFieldsOperationApply
	return []ManagerMatch{
		{"kubectl-client-side-apply", up}, {"kubectl-edit", up}, {"kubectl-create", up},
		{"kubectl-replace", up}, {"kubectl-patch", up}, {"before-first-apply", up}, {"kubectl", ap},
	}
}

// jsonPatchOp is one RFC 6902 operation.
type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// takeOverPatch builds a JSON patch that moves the fields owned by the matching
// managers (main resource only, not subresources) into our Apply entry and drops
// kubectl's last-applied annotation, guarded by a test of the resourceVersion so a
// concurrent change makes it fail rather than lose the change. It returns nil when
// there is nothing to take over, and the names of the managers taken over.
func takeOverPatch(live *unstructured.Unstructured, managers []ManagerMatch, fieldManager, apiVersion string) ([]byte, []string, error) {
	entries, taken, changed, err := mergeManagers(live.GetManagedFields(), managers, fieldManager, apiVersion)
	if err != nil {
		return nil, nil, err
	}
	_, hasLastApplied := live.GetAnnotations()[lastAppliedAnnotation]
	if !changed && !hasLastApplied {
		return nil, nil, nil
	}
	ops := []jsonPatchOp{{Op: "test", Path: "/metadata/resourceVersion", Value: live.GetResourceVersion()}}
	if changed {
		ops = append(ops, jsonPatchOp{Op: "replace", Path: "/metadata/managedFields", Value: entries})
	}
	if hasLastApplied {
		ops = append(ops, jsonPatchOp{Op: "remove", Path: "/metadata/annotations/" + strings.ReplaceAll(lastAppliedAnnotation, "/", "~1")})
		taken = append(taken, "annotation "+lastAppliedAnnotation)
	}
	data, err := json.Marshal(ops)
	if err != nil {
		return nil, nil, err
	}
	return data, taken, nil
}

// takeOverLocally returns a copy of live as the take-over patch would leave it (for
// dry runs, where the patch cannot be sent).
func takeOverLocally(live *unstructured.Unstructured, managers []string, fieldManager, apiVersion string) *unstructured.Unstructured {
	out := live.DeepCopy()
	var match []ManagerMatch
	for _, e := range out.GetManagedFields() {
		for _, m := range managers {
			if e.Manager == m {
				match = append(match, ManagerMatch{Manager: e.Manager, Operation: e.Operation})
			}
		}
	}
	if entries, _, changed, err := mergeManagers(out.GetManagedFields(), match, fieldManager, apiVersion); err == nil && changed {
		out.SetManagedFields(entries)
	}
	if anns := out.GetAnnotations(); anns != nil {
		delete(anns, lastAppliedAnnotation)
		out.SetAnnotations(anns)
	}
	return out
}

// mergeManagers returns entries with the matching managers' field sets united into
// fieldManager's Apply entry (created when missing), whether anything matched, and
// the names of the managers taken over (sorted).
func mergeManagers(entries []metav1.ManagedFieldsEntry, managers []ManagerMatch, fieldManager, apiVersion string) ([]metav1.ManagedFieldsEntry, []string, bool, error) {
	matches := func(e metav1.ManagedFieldsEntry) bool {
		if e.Subresource != "" || e.Manager == fieldManager {
			return false
		}
		for _, m := range managers {
			if e.Manager == m.Manager && e.Operation == m.Operation {
				return true
			}
		}
		return false
	}
	union := &fieldpath.Set{}
	var kept []metav1.ManagedFieldsEntry
	takenSet := map[string]bool{}
	ours := -1
	for _, e := range entries {
		if !matches(e) {
			if e.Manager == fieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == "" {
				ours = len(kept)
			}
			kept = append(kept, e)
			continue
		}
		set, err := decodeFields(e.FieldsV1)
		if err != nil {
			return nil, nil, false, fmt.Errorf("managed fields of %s: %w", e.Manager, err)
		}
		union = union.Union(set)
		takenSet[e.Manager] = true
	}
	if len(takenSet) == 0 {
		return entries, nil, false, nil
	}
	if ours >= 0 {
		set, err := decodeFields(kept[ours].FieldsV1)
		if err != nil {
			return nil, nil, false, fmt.Errorf("managed fields of %s: %w", fieldManager, err)
		}
		union = union.Union(set)
	}
	raw, err := union.ToJSON()
	if err != nil {
		return nil, nil, false, err
	}
	entry := metav1.ManagedFieldsEntry{
		Manager: fieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: apiVersion,
		Time: ptrNow(), FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: raw},
	}
	if ours >= 0 {
		entry.APIVersion = kept[ours].APIVersion
		kept[ours] = entry
	} else {
		kept = append(kept, entry)
	}
	taken := make([]string, 0, len(takenSet))
	for m := range takenSet {
		taken = append(taken, m)
	}
	sort.Strings(taken)
	return kept, taken, true, nil
}

func decodeFields(f *metav1.FieldsV1) (*fieldpath.Set, error) {
	set := &fieldpath.Set{}
	if f == nil || len(f.Raw) == 0 {
		return set, nil
	}
	if err := set.FromJSON(bytes.NewReader(f.Raw)); err != nil {
		return nil, err
	}
	return set, nil
}

func ptrNow() *metav1.Time {
	t := metav1.Now().Rfc3339Copy()
	return &t
}
