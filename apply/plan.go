package apply

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Plan is the order in which a set of objects is applied: waves, each a hook phase and
// a sync-wave number, in order. It is a plain value: print it with String.
type Plan struct {
	// Waves in apply order: PreSync, Sync, PostSync, SyncFail, and inside each phase
	// by sync-wave number. Objects annotated Skip are in a last wave of phase Skip.
	Waves []Wave
}

// Wave is the objects of one hook phase and sync-wave number, in kind order (see the
// package documentation), then by namespace and name.
type Wave struct {
	Phase   Phase
	Wave    int
	Objects []*Object
}

// Object is one object of a plan with what its annotations say.
type Object struct {
	// Ref names the object (its namespace as given: validation fills in the
	// destination namespace).
	Ref Ref
	// Object is the object as given; the plan does not change it.
	Object *unstructured.Unstructured
	// Phase and Wave place the object in the plan.
	Phase Phase
	Wave  int
	// Hook is set for objects with a hook annotation (they are applied every sync,
	// waited for, deleted by their policies, and kept out of the inventory).
	Hook bool
	// DeletePolicies are the hook's delete policies (BeforeHookCreation by default).
	DeletePolicies []HookDeletePolicy
	// Recreate allows delete-and-create when an immutable field changes.
	Recreate bool
	// PruneDisabled is set by the sync option Prune=false.
	PruneDisabled bool

	group, pos int // kind order
}

// hasPolicy reports whether the hook has the delete policy p.
func (o *Object) hasPolicy(p HookDeletePolicy) bool {
	for _, q := range o.DeletePolicies {
		if q == p {
			return true
		}
	}
	return false
}

// PlanError lists every object whose plan annotations cannot be read.
type PlanError struct {
	Problems []error
}

func (e *PlanError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("plan: %d invalid objects: %s", len(e.Problems), strings.Join(msgs, "; "))
}

// Unwrap returns the problems.
func (e *PlanError) Unwrap() []error { return e.Problems }

// NewPlan orders objs into waves: hook phase (PreSync, Sync, PostSync, SyncFail), then
// sync-wave (an integer annotation, default 0), then kind order, then namespace and
// name. A hook listed for several phases appears once in each. It fails with a
// *PlanError when an annotation cannot be read or an object has no kind or name. The
// objects are not copied: do not change them while the plan is in use.
func NewPlan(objs []*unstructured.Unstructured) (*Plan, error) {
	var planned []*Object
	var problems []error
	for i, obj := range objs {
		if obj == nil {
			problems = append(problems, fmt.Errorf("object %d is nil", i))
			continue
		}
		ref := RefOf(obj)
		if ref.Kind == "" || ref.Version == "" {
			problems = append(problems, fmt.Errorf("object %d (%s): no apiVersion or kind", i, ref))
			continue
		}
		if ref.Name == "" {
			problems = append(problems, fmt.Errorf("%s: no metadata.name (generateName is not supported)", ref))
			continue
		}
		o, err := parseObjectOptions(obj)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", ref, err))
			continue
		}
		group, pos := orderOf(ref.GroupKind())
		base := Object{Ref: ref, Object: obj, Wave: o.wave, DeletePolicies: o.deletePolicy,
			Recreate: o.recreate, PruneDisabled: o.pruneDisabled, group: group, pos: pos}
		if len(o.phases) == 0 {
			p := base
			p.Phase = Sync
			planned = append(planned, &p)
			continue
		}
		for _, ph := range o.phases {
			p := base
			p.Phase, p.Hook = ph, ph != Skip
			planned = append(planned, &p)
		}
	}
	if len(problems) > 0 {
		return nil, &PlanError{Problems: problems}
	}
	sort.SliceStable(planned, func(i, j int) bool { return planned[i].less(planned[j]) })
	p := &Plan{}
	for _, o := range planned {
		if n := len(p.Waves); n == 0 || p.Waves[n-1].Phase != o.Phase || p.Waves[n-1].Wave != o.Wave {
			p.Waves = append(p.Waves, Wave{Phase: o.Phase, Wave: o.Wave})
		}
		w := &p.Waves[len(p.Waves)-1]
		w.Objects = append(w.Objects, o)
	}
	return p, nil
}

// less is the plan order.
func (o *Object) less(b *Object) bool {
	if o.Phase != b.Phase {
		return o.Phase.rank() < b.Phase.rank()
	}
	if o.Wave != b.Wave {
		return o.Wave < b.Wave
	}
	if o.group != b.group {
		return o.group < b.group
	}
	if o.pos != b.pos {
		return o.pos < b.pos
	}
	if o.Ref.Group != b.Ref.Group {
		return o.Ref.Group < b.Ref.Group
	}
	if o.Ref.Kind != b.Ref.Kind {
		return o.Ref.Kind < b.Ref.Kind
	}
	if o.Ref.Namespace != b.Ref.Namespace {
		return o.Ref.Namespace < b.Ref.Namespace
	}
	return o.Ref.Name < b.Ref.Name
}

// Objects returns every object of the plan in plan order.
func (p *Plan) Objects() []*Object {
	var out []*Object
	for _, w := range p.Waves {
		out = append(out, w.Objects...)
	}
	return out
}

// Len is the number of planned objects (a hook in two phases counts twice).
func (p *Plan) Len() int {
	n := 0
	for _, w := range p.Waves {
		n += len(w.Objects)
	}
	return n
}

// steps splits a wave into its kind groups, in order.
func (w Wave) steps() [][]*Object {
	var out [][]*Object
	for i, o := range w.Objects {
		if i == 0 || o.group != w.Objects[i-1].group {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], o)
	}
	return out
}

// String prints the plan as a table, one object a line:
//
//	PHASE    WAVE  GROUP       KIND              NAMESPACE  NAME     NOTES
//	PreSync  0     workloads   Job.batch         shop       migrate  hook, delete: BeforeHookCreation
//	Sync     0     namespaces  Namespace                    shop
func (p *Plan) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tWAVE\tGROUP\tKIND\tNAMESPACE\tNAME\tNOTES")
	for _, w := range p.Waves {
		for _, o := range w.Objects {
			kind := o.Ref.Kind
			if o.Ref.Group != "" {
				kind += "." + o.Ref.Group
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", o.Phase, o.Wave, groupName(o.group), kind, o.Ref.Namespace, o.Ref.Name, o.notes())
		}
	}
	_ = tw.Flush()
	return b.String()
}

func (o *Object) notes() string {
	var n []string
	if o.Hook {
		pol := make([]string, len(o.DeletePolicies))
		for i, p := range o.DeletePolicies {
			pol[i] = string(p)
		}
		n = append(n, "hook, delete: "+strings.Join(pol, "+"))
	}
	if o.Recreate {
		n = append(n, "recreate")
	}
	if o.PruneDisabled {
		n = append(n, "prune disabled")
	}
	return strings.Join(n, ", ")
}
