package gitopstest

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// delete handles DELETE of one object. An object with finalizers is only marked
// (deletionTimestamp set) until an update removes the last finalizer. The fake also
// plays the garbage collector and the namespace controller: owned objects are deleted
// with their owner (background and foreground alike; orphan unlinks them), and a
// namespace goes away with its contents.
func (s *APIServer) delete(req request, r *http.Request) (any, error) {
	if req.subresource != "" {
		return nil, apierrors.NewMethodNotSupported(req.rt.gvr().GroupResource(), "delete "+req.subresource)
	}
	opts, err := deleteOptions(r)
	if err != nil {
		return nil, err
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	gr := req.rt.gvr().GroupResource()
	old := s.store.get(req.rt.gvr(), req.namespace, req.name)
	if old == nil {
		return nil, apierrors.NewNotFound(gr, req.name)
	}
	u := &unstructured.Unstructured{Object: old}
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != u.GetUID() {
			return nil, apierrors.NewConflict(gr, req.name, fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, u.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != u.GetResourceVersion() {
			return nil, apierrors.NewConflict(gr, req.name, fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, u.GetResourceVersion()))
		}
	}
	status := &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: req.name, Group: gr.Group, Kind: req.rt.resource, UID: u.GetUID()},
	}
	if len(opts.DryRun) > 0 {
		return status, nil
	}
	orphan := opts.PropagationPolicy != nil && *opts.PropagationPolicy == metav1.DeletePropagationOrphan
	if obj := s.deleteLocked(req.rt, req.namespace, req.name, orphan); obj != nil {
		return obj, nil
	}
	return status, nil
}

// deleteLocked deletes or marks one object and cascades. It returns the object when it
// was only marked for deletion (finalizers pending), else nil.
func (s *APIServer) deleteLocked(rt *resourceType, ns, name string, orphan bool) map[string]any {
	old := s.store.get(rt.gvr(), ns, name)
	if old == nil {
		return nil
	}
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(old)}
	if rt.gvr() == nsGVR {
		return s.deleteNamespaceLocked(u)
	}
	if len(u.GetFinalizers()) > 0 {
		if u.GetDeletionTimestamp() == nil {
			now := s.now()
			var zero int64
			u.SetDeletionTimestamp(&now)
			u.SetDeletionGracePeriodSeconds(&zero)
			s.store.put(rt.gvr(), ns, name, u.Object, watch.Modified)
		}
		return runtime.DeepCopyJSON(u.Object)
	}
	s.removeLocked(rt, ns, name)
	s.cascadeLocked(u.GetUID(), orphan)
	return nil
}

// removeLocked removes an object for good, and what hangs off it: a CRD's resources and
// objects, a terminating namespace once it is empty.
func (s *APIServer) removeLocked(rt *resourceType, ns, name string) {
	final := s.store.remove(rt.gvr(), ns, name)
	if final == nil {
		return
	}
	if rt.gvr() == crdGVR {
		group, _, _ := unstructured.NestedString(final, "spec", "group")
		plural, _, _ := unstructured.NestedString(final, "spec", "names", "plural")
		for _, gone := range s.catalog.removeCustom(group, plural) {
			objs, _ := s.store.list(gone.gvr(), "", nil)
			for _, o := range objs {
				ou := unstructured.Unstructured{Object: o}
				s.store.remove(gone.gvr(), ou.GetNamespace(), ou.GetName())
			}
			s.store.dropResource(gone.gvr())
			s.forgetFieldManagers(gone.gvk)
		}
	}
	if ns != "" {
		s.finishNamespaceLocked(ns)
	}
}

// cascadeLocked deletes (or, orphaning, unlinks) the objects an owner's uid owns.
func (s *APIServer) cascadeLocked(owner types.UID, orphan bool) {
	for _, rt := range s.catalog.all() {
		objs, _ := s.store.list(rt.gvr(), "", nil)
		for _, o := range objs {
			u := &unstructured.Unstructured{Object: o}
			refs := u.GetOwnerReferences()
			kept := refs[:0]
			for _, ref := range refs {
				if ref.UID != owner {
					kept = append(kept, ref)
				}
			}
			if len(kept) == len(refs) {
				continue
			}
			if orphan || len(kept) > 0 {
				u.SetOwnerReferences(kept)
				s.store.put(rt.gvr(), u.GetNamespace(), u.GetName(), u.Object, watch.Modified)
				continue
			}
			s.deleteLocked(rt, u.GetNamespace(), u.GetName(), false)
		}
	}
}

// deleteNamespaceLocked marks a namespace Terminating, deletes everything in it, and
// removes it once nothing (no object waiting on a finalizer) is left.
func (s *APIServer) deleteNamespaceLocked(ns *unstructured.Unstructured) map[string]any {
	if ns.GetDeletionTimestamp() == nil {
		now := s.now()
		var zero int64
		ns.SetDeletionTimestamp(&now)
		ns.SetDeletionGracePeriodSeconds(&zero)
		_ = unstructured.SetNestedField(ns.Object, "Terminating", "status", "phase")
		s.store.put(nsGVR, "", ns.GetName(), ns.Object, watch.Modified)
	}
	for _, rt := range s.catalog.all() {
		if !rt.namespaced {
			continue
		}
		objs, _ := s.store.list(rt.gvr(), ns.GetName(), nil)
		for _, o := range objs {
			u := unstructured.Unstructured{Object: o}
			s.deleteLocked(rt, u.GetNamespace(), u.GetName(), false)
		}
	}
	if s.finishNamespaceLocked(ns.GetName()) {
		return nil
	}
	return runtime.DeepCopyJSON(s.store.get(nsGVR, "", ns.GetName()))
}

// finishNamespaceLocked removes a terminating namespace that has become empty.
func (s *APIServer) finishNamespaceLocked(name string) bool {
	nsObj := s.store.get(nsGVR, "", name)
	if nsObj == nil {
		return true
	}
	if (&unstructured.Unstructured{Object: nsObj}).GetDeletionTimestamp() == nil {
		return false
	}
	for _, rt := range s.catalog.all() {
		if !rt.namespaced {
			continue
		}
		if objs, _ := s.store.list(rt.gvr(), name, nil); len(objs) > 0 {
			return false
		}
	}
	s.store.remove(nsGVR, "", name)
	return true
}
