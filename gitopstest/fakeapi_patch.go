package gitopstest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"
)

// patch handles PATCH: server-side apply (application/apply-patch+yaml), JSON patch,
// JSON merge patch and, for built-in kinds, strategic merge patch.
func (s *APIServer) patch(req request, r *http.Request, manager string) (map[string]any, int, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("read patch: %v", err))
	}
	q := r.URL.Query()
	opts := writeOptions{manager: manager, dryRun: isDryRun(q), force: q.Get("force") == "true"}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch types.PatchType(ct) {
	case types.ApplyYAMLPatchType:
		opts.manager = q.Get("fieldManager")
		return s.apply(req, body, opts)
	case types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType:
		if opts.force {
			return nil, 0, apierrors.NewBadRequest("force: Forbidden: may not be specified for non-apply patch")
		}
		out, err := s.patchObject(req, types.PatchType(ct), body, opts)
		return out, http.StatusOK, err
	default:
		return nil, 0, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", req.rt.gvr().GroupResource(), req.name,
			fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: %s, %s, %s, %s",
				types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, types.ApplyYAMLPatchType), 0, false)
	}
}

func (s *APIServer) patchObject(req request, pt types.PatchType, patch []byte, opts writeOptions) (map[string]any, error) {
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	gr := req.rt.gvr().GroupResource()
	old := s.store.get(req.rt.gvr(), req.namespace, req.name)
	if old == nil {
		return nil, apierrors.NewNotFound(gr, req.name)
	}
	oldJSON, err := json.Marshal(old)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	var patched []byte
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err == nil {
			patched, err = p.Apply(oldJSON)
		}
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "patch", gr, req.name, err.Error(), 0, false)
		}
	case types.MergePatchType:
		if patched, err = jsonpatch.MergePatch(oldJSON, patch); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	case types.StrategicMergePatchType:
		if req.rt.custom {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", gr, req.name,
				"strategic merge patch is not supported for custom resources; use a JSON merge patch or server-side apply", 0, false)
		}
		typed, err := s.scheme.New(req.rt.gvk)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "patch", gr, req.name,
				fmt.Sprintf("strategic merge patch is not supported for %s", req.rt.gvk), 0, false)
		}
		if patched, err = strategicpatch.StrategicMergePatch(oldJSON, patch, typed); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(patched, &obj); err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("decode patched object: %v", err))
	}
	u := &unstructured.Unstructured{Object: obj}
	if err := checkKind(req.rt, u); err != nil {
		return nil, err
	}
	if u.GetName() != req.name || u.GetNamespace() != req.namespace {
		return nil, apierrors.NewBadRequest("a patch may not change metadata.name or metadata.namespace")
	}
	return s.updateLocked(req, old, u, opts)
}

// apply is server-side apply: the configuration is merged into the live object (or a
// new one) by the FieldManager under opts.manager, with conflicts unless forced.
func (s *APIServer) apply(req request, body []byte, opts writeOptions) (map[string]any, int, error) {
	gr := req.rt.gvr().GroupResource()
	if opts.manager == "" {
		return nil, 0, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("PatchOptions").GroupKind(), "", field.ErrorList{
			field.Required(field.NewPath("fieldManager"), "is required for apply patch"),
		})
	}
	var cfg map[string]any
	js, err := yaml.YAMLToJSON(body)
	if err == nil {
		err = utiljson.Unmarshal(js, &cfg)
	}
	if err != nil {
		return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("error decoding YAML: %v", err))
	}
	if cfg == nil {
		return nil, 0, apierrors.NewBadRequest("the apply configuration is empty")
	}
	u := &unstructured.Unstructured{Object: cfg}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return nil, 0, apierrors.NewBadRequest("apiVersion and kind must be set in an apply configuration")
	}
	if err := checkKind(req.rt, u); err != nil {
		return nil, 0, err
	}
	if u.GetName() == "" {
		u.SetName(req.name)
	}
	if u.GetName() != req.name {
		return nil, 0, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", u.GetName(), req.name))
	}
	s.store.mu.Lock()
	defer s.store.mu.Unlock()
	if err := s.checkNamespace(req, u); err != nil {
		return nil, 0, err
	}
	old := s.store.get(req.rt.gvr(), req.namespace, req.name)
	if old == nil {
		if req.subresource != "" {
			return nil, 0, apierrors.NewNotFound(gr, req.name)
		}
		out, err := s.createLocked(req, u.Object, opts, true)
		return out, http.StatusCreated, err
	}
	if rv := u.GetResourceVersion(); rv != "" && rv != resourceVersionOf(old) {
		return nil, 0, apierrors.NewConflict(gr, req.name, errModified)
	}
	fm, err := s.fieldManager(req.rt, req.subresource)
	if err != nil {
		return nil, 0, apierrors.NewInternalError(err)
	}
	live := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(old)}
	out, err := fm.Apply(live, u, opts.manager, opts.force)
	if err != nil {
		return nil, 0, applyError(req.rt, req.name, err)
	}
	res, err := s.commitLocked(req, old, out.(*unstructured.Unstructured).Object, opts)
	return res, http.StatusOK, err
}
