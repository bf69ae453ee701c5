package gitopstest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/watch"
)

// writeOptions are the parameters shared by every write.
type writeOptions struct {
	manager string
	dryRun  bool
	force   bool
}

var errModified = errors.New("the object has been modified; please apply your changes to the latest version and try again")

func (s *APIServer) get(req request) (map[string]any, error) {
	s.store.mu.RLock()
	defer s.store.mu.RUnlock()
	obj := s.store.get(req.rt.gvr(), req.namespace, req.name)
	if obj == nil {
		return nil, apierrors.NewNotFound(req.rt.gvr().GroupResource(), req.name)
	}
	return runtime.DeepCopyJSON(obj), nil
}

func (s *APIServer) list(req request, q map[string][]string) (map[string]any, error) {
	match, err := listSelector(first(q["labelSelector"]), first(q["fieldSelector"]))
	if err != nil {
		return nil, err
	}
	s.store.mu.RLock()
	items, rv := s.store.list(req.rt.gvr(), req.namespace, match)
	s.store.mu.RUnlock()
	anyItems := make([]any, len(items))
	for i := range items {
		anyItems[i] = items[i]
	}
	return map[string]any{
		"apiVersion": req.rt.gvk.GroupVersion().String(),
		"kind":       req.rt.listKind,
		"metadata":   map[string]any{"resourceVersion": fmt.Sprint(rv)},
		"items":      anyItems,
	}, nil
}

// listSelector supports label selectors and the field selectors every resource has:
// metadata.name and metadata.namespace.
func listSelector(labelSel, fieldSel string) (func(map[string]any) bool, error) {
	ls, err := labels.Parse(labelSel)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid labelSelector %q: %v", labelSel, err))
	}
	fs, err := fields.ParseSelector(fieldSel)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid fieldSelector %q: %v", fieldSel, err))
	}
	for _, r := range fs.Requirements() {
		if r.Field != "metadata.name" && r.Field != "metadata.namespace" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
		}
	}
	return func(obj map[string]any) bool {
		u := unstructured.Unstructured{Object: obj}
		return ls.Matches(labels.Set(u.GetLabels())) &&
			fs.Matches(fields.Set{"metadata.name": u.GetName(), "metadata.namespace": u.GetNamespace()})
	}, nil
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// create handles POST, and apply of an object that does not exist yet (applied != nil:
// obj is then the apply configuration).
func (s *APIServer) create(req request, obj map[string]any, opts writeOptions) (map[string]any, error) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	return s.createLocked(req, obj, opts, false)
}

func (s *APIServer) createLocked(req request, obj map[string]any, opts writeOptions, apply bool) (map[string]any, error) {
	rt := req.rt
	if req.subresource != "" {
		return nil, apierrors.NewMethodNotSupported(rt.gvr().GroupResource(), "create "+req.subresource)
	}
	u := &unstructured.Unstructured{Object: obj}
	if err := checkKind(rt, u); err != nil {
		return nil, err
	}
	if u.GetName() == "" && u.GetGenerateName() != "" && !apply {
		u.SetName(u.GetGenerateName() + rand.String(5))
	}
	if req.name != "" && u.GetName() != req.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", u.GetName(), req.name))
	}
	if err := s.checkNamespace(req, u); err != nil {
		return nil, err
	}
	if err := validateName(rt, u); err != nil {
		return nil, err
	}
	if u.GetResourceVersion() != "" {
		if apply {
			return nil, apierrors.NewNotFound(rt.gvr().GroupResource(), u.GetName())
		}
		return nil, apierrors.NewBadRequest("resourceVersion should not be set on objects to be created")
	}
	if s.store.get(rt.gvr(), u.GetNamespace(), u.GetName()) != nil {
		return nil, apierrors.NewAlreadyExists(rt.gvr().GroupResource(), u.GetName())
	}
	for _, f := range []string{"uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "selfLink"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	if rt.status {
		delete(u.Object, "status")
	}
	if !apply {
		// A decoded request body is pruned and defaulted before the field manager sees
		// it; an apply configuration is not (unknown fields are errors, and defaults are
		// applied to the merged result without becoming the applier's).
		rt.crd.defaultAndPrune(u.Object)
	}

	fm, err := s.fieldManager(rt, "")
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	empty := &unstructured.Unstructured{}
	empty.SetGroupVersionKind(rt.gvk)
	var out runtime.Object
	if apply {
		out, err = fm.Apply(empty, u, opts.manager, opts.force)
	} else {
		out, err = fm.Update(empty, u, opts.manager)
	}
	if err != nil {
		return nil, applyError(rt, u.GetName(), err)
	}
	created := out.(*unstructured.Unstructured)
	if err := canonicalize(rt, created.Object); err != nil {
		return nil, invalid(rt, created.GetName(), field.Invalid(field.NewPath("metadata"), "", err.Error()))
	}
	created.SetUID(uuid.NewUUID())
	created.SetCreationTimestamp(s.now())
	if rt.generation {
		created.SetGeneration(1)
	}
	if rt.status {
		delete(created.Object, "status")
	}
	switch rt.gvr() {
	case nsGVR:
		_ = unstructured.SetNestedField(created.Object, "Active", "status", "phase")
	case crdGVR:
		types, err := crdResourceTypes(created.Object)
		if err != nil {
			return nil, invalid(rt, created.GetName(), field.Invalid(field.NewPath("spec"), "", err.Error()))
		}
		crdStatus(created.Object, s.now())
		if !opts.dryRun {
			s.registerCRD(types)
		}
	}
	if opts.dryRun {
		return created.Object, nil
	}
	s.store.put(rt.gvr(), created.GetNamespace(), created.GetName(), created.Object, watch.Added)
	return runtime.DeepCopyJSON(created.Object), nil
}

// update handles PUT on an object or its status.
func (s *APIServer) update(req request, obj map[string]any, opts writeOptions) (map[string]any, error) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	old := s.store.get(req.rt.gvr(), req.namespace, req.name)
	if old == nil {
		return nil, apierrors.NewNotFound(req.rt.gvr().GroupResource(), req.name)
	}
	u := &unstructured.Unstructured{Object: obj}
	if err := checkKind(req.rt, u); err != nil {
		return nil, err
	}
	if u.GetName() != req.name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", u.GetName(), req.name))
	}
	if err := s.checkNamespace(req, u); err != nil {
		return nil, err
	}
	return s.updateLocked(req, old, u, opts)
}

// updateLocked records managed fields for a non-apply change and commits it.
func (s *APIServer) updateLocked(req request, old map[string]any, u *unstructured.Unstructured, opts writeOptions) (map[string]any, error) {
	if rv := u.GetResourceVersion(); rv != "" && rv != resourceVersionOf(old) {
		return nil, apierrors.NewConflict(req.rt.gvr().GroupResource(), req.name, errModified)
	}
	fm, err := s.fieldManager(req.rt, req.subresource)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	req.rt.crd.defaultAndPrune(u.Object)
	liveObj := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(old)}
	out, err := fm.Update(liveObj, u, opts.manager)
	if err != nil {
		return nil, applyError(req.rt, req.name, err)
	}
	return s.commitLocked(req, old, out.(*unstructured.Unstructured).Object, opts)
}

// commitLocked finishes an update of an existing object the way the registry does:
// server-owned metadata and (for the main resource) status come from the stored
// object, immutable fields are checked, generation is bumped on spec changes, and an
// update that changes nothing writes nothing (resourceVersion unchanged).
func (s *APIServer) commitLocked(req request, old, next map[string]any, opts writeOptions) (map[string]any, error) {
	rt := req.rt
	oldU := &unstructured.Unstructured{Object: old}
	var nu *unstructured.Unstructured
	if req.subresource == "status" {
		nu = &unstructured.Unstructured{Object: runtime.DeepCopyJSON(old)}
		nextU := unstructured.Unstructured{Object: next}
		if st, ok := next["status"]; ok {
			nu.Object["status"] = st
		} else {
			delete(nu.Object, "status")
		}
		nu.SetManagedFields(nextU.GetManagedFields())
	} else {
		nu = &unstructured.Unstructured{Object: next}
		if rt.status {
			if st, ok := old["status"]; ok {
				nu.Object["status"] = runtime.DeepCopyJSONValue(st)
			} else {
				delete(nu.Object, "status")
			}
		}
		if err := checkImmutable(rt, oldU, nu); err != nil {
			return nil, err
		}
	}
	if err := canonicalize(rt, nu.Object); err != nil {
		return nil, invalid(rt, nu.GetName(), field.Invalid(field.NewPath("metadata"), "", err.Error()))
	}
	nu.SetUID(oldU.GetUID())
	nu.SetCreationTimestamp(oldU.GetCreationTimestamp())
	nu.SetDeletionTimestamp(oldU.GetDeletionTimestamp())
	nu.SetDeletionGracePeriodSeconds(oldU.GetDeletionGracePeriodSeconds())
	nu.SetGeneration(oldU.GetGeneration())
	nu.SetResourceVersion(oldU.GetResourceVersion())
	if nu.GetDeletionTimestamp() != nil && len(nu.GetFinalizers()) > len(oldU.GetFinalizers()) {
		return nil, apierrors.NewForbidden(rt.gvr().GroupResource(), req.name, errors.New("no new finalizers can be added if the object is being deleted"))
	}
	if rt.generation && !equality.Semantic.DeepEqual(specOf(rt, old), specOf(rt, nu.Object)) {
		nu.SetGeneration(oldU.GetGeneration() + 1)
	}
	if rt.gvr() == crdGVR && req.subresource == "" {
		types, err := crdResourceTypes(nu.Object)
		if err != nil {
			return nil, invalid(rt, nu.GetName(), field.Invalid(field.NewPath("spec"), "", err.Error()))
		}
		crdStatus(nu.Object, s.now())
		if st, ok := old["status"]; ok && equality.Semantic.DeepEqual(withoutTimes(st), withoutTimes(nu.Object["status"])) {
			nu.Object["status"] = runtime.DeepCopyJSONValue(st)
		}
		defer func() {
			if !opts.dryRun {
				s.registerCRD(types)
			}
		}()
	}
	if equality.Semantic.DeepEqual(old, nu.Object) {
		return runtime.DeepCopyJSON(old), nil
	}
	if opts.dryRun {
		return nu.Object, nil
	}
	if nu.GetDeletionTimestamp() != nil && len(nu.GetFinalizers()) == 0 {
		final := nu.Object
		s.store.put(rt.gvr(), nu.GetNamespace(), nu.GetName(), final, watch.Modified)
		s.removeLocked(rt, nu.GetNamespace(), nu.GetName())
		return runtime.DeepCopyJSON(final), nil
	}
	s.store.put(rt.gvr(), nu.GetNamespace(), nu.GetName(), nu.Object, watch.Modified)
	return runtime.DeepCopyJSON(nu.Object), nil
}

// canonicalize does what the real server's round trip through Go types does to every
// object: metadata is re-encoded from ObjectMeta (empty maps and lists dropped), and a
// Secret's stringData is folded into data.
func canonicalize(rt *resourceType, obj map[string]any) error {
	if md, ok := obj["metadata"].(map[string]any); ok {
		var om metav1.ObjectMeta
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(md, &om); err != nil {
			return err
		}
		back, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&om)
		if err != nil {
			return err
		}
		delete(back, "creationTimestamp") // set by the server, never null
		if ts, ok := md["creationTimestamp"]; ok && ts != nil {
			back["creationTimestamp"] = ts
		}
		obj["metadata"] = back
	}
	if rt.gvk.Group == "" && rt.gvk.Kind == "Secret" {
		if sd, ok := obj["stringData"].(map[string]any); ok {
			data, _ := obj["data"].(map[string]any)
			if data == nil {
				data = map[string]any{}
			}
			for k, v := range sd {
				data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
			}
			obj["data"] = data
		}
		delete(obj, "stringData")
	}
	return nil
}

// specOf is what generation tracks: everything but metadata, and but status when status
// is a subresource.
func specOf(rt *resourceType, obj map[string]any) map[string]any {
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if k == "metadata" || k == "apiVersion" || k == "kind" || (k == "status" && (rt.status || !rt.custom)) {
			continue
		}
		out[k] = v
	}
	return out
}

func withoutTimes(status any) any {
	st, ok := runtime.DeepCopyJSONValue(status).(map[string]any)
	if !ok {
		return status
	}
	conds, _ := st["conditions"].([]any)
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok {
			delete(m, "lastTransitionTime")
		}
	}
	return st
}

func resourceVersionOf(obj map[string]any) string {
	v, _, _ := unstructured.NestedString(obj, "metadata", "resourceVersion")
	return v
}

func checkKind(rt *resourceType, u *unstructured.Unstructured) error {
	if u.GetAPIVersion() == "" && u.GetKind() == "" {
		u.SetGroupVersionKind(rt.gvk)
		return nil
	}
	if u.GroupVersionKind() != rt.gvk {
		return apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) and kind (%s) do not match the resource (%s/%s, Kind=%s)",
			u.GetAPIVersion(), u.GetKind(), rt.gvk.GroupVersion(), rt.resource, rt.gvk.Kind))
	}
	return nil
}

// checkNamespace enforces the namespace rules: a namespaced object lands in the URL's
// namespace, which must exist and not be terminating; a cluster-scoped object has none.
func (s *APIServer) checkNamespace(req request, u *unstructured.Unstructured) error {
	if !req.rt.namespaced {
		u.SetNamespace("")
		return nil
	}
	if req.namespace == "" {
		return apierrors.NewBadRequest(fmt.Sprintf("%s %q: a namespace is required", req.rt.gvk.Kind, u.GetName()))
	}
	if ns := u.GetNamespace(); ns != "" && ns != req.namespace {
		return apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	u.SetNamespace(req.namespace)
	nsObj := s.store.get(nsGVR, "", req.namespace)
	if nsObj == nil {
		return apierrors.NewNotFound(nsGVR.GroupResource(), req.namespace)
	}
	return nil
}

func (s *APIServer) registerCRD(types []*resourceType) {
	for _, rt := range types {
		s.forgetFieldManagers(rt.gvk)
	}
	if len(types) > 0 {
		for _, gone := range s.catalog.removeCustom(types[0].gvk.Group, types[0].resource) {
			s.forgetFieldManagers(gone.gvk)
		}
	}
	for _, rt := range types {
		s.catalog.add(rt)
	}
}

// applyError turns a FieldManager error into the API error the real server returns:
// conflicts stay 409 with their causes, schema errors become 400/422.
func applyError(rt *resourceType, name string, err error) error {
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return err
	}
	msg := err.Error()
	if strings.Contains(msg, "field not declared in schema") || strings.Contains(msg, "failed to create typed") || strings.Contains(msg, "expected") {
		return apierrors.NewBadRequest(fmt.Sprintf("%s %q: %s", rt.gvk.Kind, name, msg))
	}
	return apierrors.NewInternalError(fmt.Errorf("%s %q: %w", rt.gvk.Kind, name, err))
}

// deleteOptions reads DeleteOptions from the body and query.
func deleteOptions(r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	if r.ContentLength != 0 {
		body, err := decodeBody(r)
		if err == nil {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(body, &opts); err != nil {
				return opts, apierrors.NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
			}
		}
	}
	q := r.URL.Query()
	if p := q.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &pp
	}
	if isDryRun(q) {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts, nil
}
