package apply

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// crdServes is what a CRD of the set serves: its scope and served versions.
type crdServes struct {
	target     *target
	namespaced bool
	versions   map[string]bool
}

// validate checks the whole set before anything is written and fills in each target's
// namespace, desired state and mapping:
//   - every kind maps to a resource (through the RESTMapper, or a CRD in the set that
//     serves it and is planned before it, in a version it serves);
//   - a namespaced object without a namespace gets Options.Namespace (it is an error
//     when that is empty); a cluster-scoped object with a namespace is an error;
//   - no object appears twice (group, kind, namespace, name) in one phase, and no plain
//     object is a hook too;
//   - no object sets LabelOwner or AnnotationInventory to someone else's value.
//
// Every problem is reported, each naming its object; on any problem every entry is
// skipped (or failed, for the objects at fault) and a *ValidationError is returned.
func (r *run) validate(ctx context.Context) error {
	crds := map[schema.GroupKind]*crdServes{}
	for _, t := range r.targets {
		if t.ref.Group == "apiextensions.k8s.io" && t.ref.Kind == "CustomResourceDefinition" {
			gk, serves, err := crdOf(t.Object.Object)
			if err != nil {
				continue // reported below with the CRD itself
			}
			serves.target = t
			crds[gk] = serves
		}
	}
	problems := map[*target]error{}
	mappings := map[schema.GroupVersionKind]*meta.RESTMapping{}
	plain := map[string]*target{}
	perPhase := map[string]*target{}
	for _, t := range r.targets {
		if err := r.validateOne(ctx, t, crds, mappings); err != nil {
			problems[t] = err
			continue
		}
		key := string(t.Phase) + "|" + t.ref.Key()
		if prev, dup := perPhase[key]; dup {
			problems[t] = fmt.Errorf("%s: appears twice in phase %s (also as %s)", t.ref, t.Phase, prev.ref.GroupVersionKind())
			continue
		}
		perPhase[key] = t
		if !t.Hook && t.Phase != Skip {
			plain[t.ref.Key()] = t
		}
	}
	for _, t := range r.targets {
		if _, bad := problems[t]; bad || !t.Hook {
			continue
		}
		if p, ok := plain[t.ref.Key()]; ok {
			problems[t] = fmt.Errorf("%s: is a %s hook and a plain object (in phase %s) at once", t.ref, t.Phase, p.Phase)
		}
	}
	if len(problems) == 0 {
		return nil
	}
	var errs []error
	for _, t := range r.targets { // plan order: deterministic
		if err, ok := problems[t]; ok {
			errs = append(errs, err)
			if t.entry >= 0 {
				r.set(t, Entry{Action: Failed, Err: err, Message: "invalid"})
			}
		}
	}
	r.skipAll("not applied: validation of the set failed")
	return &ValidationError{Problems: errs}
}

// validateOne checks one object and fills in its target.
func (r *run) validateOne(ctx context.Context, t *target, crds map[schema.GroupKind]*crdServes, mappings map[schema.GroupVersionKind]*meta.RESTMapping) error {
	gvk := t.ref.GroupVersionKind()
	if t.ref.Group == "apiextensions.k8s.io" && t.ref.Kind == "CustomResourceDefinition" {
		if _, _, err := crdOf(t.Object.Object); err != nil {
			return fmt.Errorf("%s: %w", t.ref, err)
		}
	}
	var namespaced bool
	m, cached := mappings[gvk]
	if !cached {
		var err error
		m, err = r.a.restMapping(ctx, gvk, true)
		if err != nil && !meta.IsNoMatchError(err) {
			return fmt.Errorf("%s: cannot map kind %s: %w", t.ref, gvk, err)
		}
		mappings[gvk] = m // nil when not served (yet)
	}
	if m != nil {
		t.mapping = m
		namespaced = m.Scope.Name() == meta.RESTScopeNameNamespace
	} else {
		c, ok := crds[gvk.GroupKind()]
		if !ok {
			return fmt.Errorf("%s: the cluster does not serve kind %s and no CRD in the set defines it", t.ref, gvk)
		}
		if !c.versions[gvk.Version] {
			return fmt.Errorf("%s: CRD %s does not serve version %s", t.ref, c.target.ref.Name, gvk.Version)
		}
		if !c.target.Object.less(t.Object) {
			return fmt.Errorf("%s: is planned before its CRD %s (phase %s wave %d); give the CRD an earlier sync-wave",
				t.ref, c.target.ref.Name, c.target.Phase, c.target.Wave)
		}
		t.crd = c.target
		namespaced = c.namespaced
	}
	ns := t.ref.Namespace
	switch {
	case namespaced && ns == "":
		if r.a.opts.Namespace == "" {
			return fmt.Errorf("%s: namespaced object without a namespace, and no destination namespace is set", t.ref)
		}
		ns = r.a.opts.Namespace
	case !namespaced && ns != "":
		return fmt.Errorf("%s: kind %s is cluster-scoped but the object has namespace %q", t.ref, t.ref.Kind, ns)
	}
	t.ref.Namespace = ns
	if t.entry >= 0 {
		r.cs.Entries[t.entry].Ref = t.ref
	}
	desired := t.Object.Object.DeepCopy()
	desired.SetNamespace(ns)
	if v, ok := desired.GetLabels()[LabelOwner]; ok && v != r.a.opts.Name {
		return fmt.Errorf("%s: label %s is %q, but this sync is %q", t.ref, LabelOwner, v, r.a.opts.Name)
	}
	if v, ok := desired.GetAnnotations()[AnnotationInventory]; ok && v != r.a.inv.ID() {
		return fmt.Errorf("%s: annotation %s is %q, but this sync records to %q", t.ref, AnnotationInventory, v, r.a.inv.ID())
	}
	setMeta(desired, LabelOwner, r.a.opts.Name, AnnotationInventory, r.a.inv.ID())
	t.desired = desired
	return nil
}

// setMeta sets one label and one annotation.
func setMeta(obj *unstructured.Unstructured, label, labelValue, ann, annValue string) {
	labels := obj.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels[label] = labelValue
	obj.SetLabels(labels)
	anns := obj.GetAnnotations()
	if anns == nil {
		anns = map[string]string{}
	}
	anns[ann] = annValue
	obj.SetAnnotations(anns)
}

// crdOf reads the group and kind a CRD object defines, its scope and served versions.
func crdOf(obj *unstructured.Unstructured) (schema.GroupKind, *crdServes, error) {
	group, _, _ := unstructured.NestedString(obj.Object, "spec", "group")
	kind, _, _ := unstructured.NestedString(obj.Object, "spec", "names", "kind")
	scope, _, _ := unstructured.NestedString(obj.Object, "spec", "scope")
	if group == "" || kind == "" {
		return schema.GroupKind{}, nil, fmt.Errorf("CRD without spec.group or spec.names.kind")
	}
	s := &crdServes{namespaced: scope != "Cluster", versions: map[string]bool{}}
	versions, _, _ := unstructured.NestedSlice(obj.Object, "spec", "versions")
	for _, v := range versions {
		vm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		name, _ := vm["name"].(string)
		if served, _ := vm["served"].(bool); served && name != "" {
			s.versions[name] = true
		}
	}
	if len(s.versions) == 0 {
		return schema.GroupKind{}, nil, fmt.Errorf("CRD serves no version")
	}
	return schema.GroupKind{Group: group, Kind: kind}, s, nil
}

// restMapping maps gvk. When the kind is not found and retry is set, a resettable
// mapper is reset once (the kind may have been registered since discovery was read).
func (a *Applier) restMapping(_ context.Context, gvk schema.GroupVersionKind, retry bool) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err == nil || !retry || !meta.IsNoMatchError(err) {
		return m, err
	}
	if rm, ok := a.mapper.(meta.ResettableRESTMapper); ok {
		rm.Reset()
		return a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	return nil, err
}
