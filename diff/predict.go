package diff

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"github.com/driftless-dev/driftless/internal/fieldmanager"
)

// The prediction runs apimachinery's managedfields.FieldManager, the code the API
// server runs for every server-side apply, locally: the live object (with its
// managedFields), the desired configuration, our field manager and force. The manager
// is built as the server builds one for an unstructured kind stored in a single
// version: a same-version object converter and status as a reset field.

// fieldManagers caches one FieldManager per kind, rebuilt when the schema source hands
// out a different type converter (after a CRD changed, say).
type fieldManagers struct {
	mu  sync.Mutex
	fms map[schema.GroupVersionKind]*fmEntry
}

type fmEntry struct {
	tc managedfields.TypeConverter
	fm *managedfields.FieldManager
}

func newFieldManagers() *fieldManagers {
	return &fieldManagers{fms: map[schema.GroupVersionKind]*fmEntry{}}
}

func (c *fieldManagers) get(gvk schema.GroupVersionKind, tc managedfields.TypeConverter) (*managedfields.FieldManager, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.fms[gvk]; e != nil && sameConverter(e.tc, tc) {
		return e.fm, nil
	}
	// Defaults are applied after the merge by the Differ (schema defaults for custom
	// resources, builtinDefaults for built-ins), so the FieldManager gets none.
	fm, err := fieldmanager.New(tc, gvk, "", []string{"status"}, nil)
	if err != nil {
		return nil, err
	}
	c.fms[gvk] = &fmEntry{tc: tc, fm: fm}
	return fm, nil
}

// sameConverter compares type converters without panicking on incomparable ones.
func sameConverter(a, b managedfields.TypeConverter) bool {
	ta, tb := reflect.TypeOf(a), reflect.TypeOf(b)
	if ta != tb || ta == nil {
		return false
	}
	if !ta.Comparable() {
		return false
	}
	return a == b
}

// applyOutcome is the merge of one apply.
type applyOutcome struct {
	obj       *unstructured.Unstructured
	conflicts []string // fields a non-forced apply would conflict on, "path (manager)"
}

// mergeApply runs the FieldManager's Apply of cfg onto live as manager, first without
// force (to learn the conflicts a plain apply would hit), then forced when there are
// conflicts. It works on copies.
func mergeApply(fm *managedfields.FieldManager, live, cfg *unstructured.Unstructured, manager string) (applyOutcome, error) {
	out, err := fm.Apply(live.DeepCopy(), cfg.DeepCopy(), manager, false)
	var conflicts []string
	if err != nil {
		var status apierrors.APIStatus
		if !errors.As(err, &status) || status.Status().Reason != metav1.StatusReasonConflict {
			return applyOutcome{}, err
		}
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				conflicts = append(conflicts, c.Field+" ("+strings.TrimPrefix(c.Message, "conflict with ")+")")
			}
		}
		sort.Strings(conflicts)
		if out, err = fm.Apply(live.DeepCopy(), cfg.DeepCopy(), manager, true); err != nil {
			return applyOutcome{}, err
		}
	}
	u, ok := out.(*unstructured.Unstructured)
	if !ok {
		return applyOutcome{}, fmt.Errorf("field manager returned %T", out)
	}
	return applyOutcome{obj: u, conflicts: conflicts}, nil
}

// applyConfig is desired as an apply configuration: without the fields a server
// rejects or ignores in one (managedFields, server-set metadata, status).
func applyConfig(desired *unstructured.Unstructured) *unstructured.Unstructured {
	cfg := desired.DeepCopy()
	if m, ok := cfg.Object["metadata"].(map[string]any); ok {
		for _, f := range serverMetadata {
			delete(m, f)
		}
	}
	return cfg
}
