package gitopstest

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func invalid(rt *resourceType, name string, errs ...*field.Error) error {
	return apierrors.NewInvalid(rt.gvk.GroupKind(), name, errs)
}

// dnsLabelKinds are the kinds whose names must be DNS labels rather than subdomains.
var dnsLabelKinds = map[schema.GroupKind]bool{
	{Kind: "Namespace"}: true,
	{Kind: "Service"}:   true,
}

// validateName checks metadata.name the way the real server's generic validation does.
func validateName(rt *resourceType, u *unstructured.Unstructured) error {
	name := u.GetName()
	path := field.NewPath("metadata", "name")
	if name == "" {
		return invalid(rt, name, field.Required(path, "name or generateName is required"))
	}
	check := validation.IsDNS1123Subdomain
	if dnsLabelKinds[rt.gvk.GroupKind()] {
		check = validation.IsDNS1123Label
	}
	if rt.gvk.Group == "rbac.authorization.k8s.io" {
		check = func(n string) []string {
			if strings.ContainsAny(n, "/%") || n == "." || n == ".." {
				return []string{`may not contain '/' or '%' and may not be '.' or '..'`}
			}
			return nil
		}
	}
	if msgs := check(name); len(msgs) > 0 {
		return invalid(rt, name, field.Invalid(path, name, strings.Join(msgs, "; ")))
	}
	return nil
}

// immutableRule names a field the real server refuses to change after creation.
type immutableRule struct {
	path []string
	// unlessEmpty: the field may be set once when it was empty (Service clusterIP).
	unlessEmpty bool
}

// immutableFields are the immutable fields of built-in kinds that GitOps users hit most.
var immutableFields = map[schema.GroupKind][]immutableRule{
	{Group: "apps", Kind: "Deployment"}: {{path: []string{"spec", "selector"}}},
	{Group: "apps", Kind: "ReplicaSet"}: {{path: []string{"spec", "selector"}}},
	{Group: "apps", Kind: "DaemonSet"}:  {{path: []string{"spec", "selector"}}},
	{Group: "apps", Kind: "StatefulSet"}: {
		{path: []string{"spec", "selector"}}, {path: []string{"spec", "serviceName"}},
		{path: []string{"spec", "volumeClaimTemplates"}}, {path: []string{"spec", "podManagementPolicy"}},
	},
	{Group: "batch", Kind: "Job"}: {{path: []string{"spec", "selector"}}, {path: []string{"spec", "template"}}},
	{Kind: "Service"}:             {{path: []string{"spec", "clusterIP"}, unlessEmpty: true}},
}

// checkImmutable rejects changes to immutable fields with the real server's 422.
func checkImmutable(rt *resourceType, old, next *unstructured.Unstructured) error {
	if rt.custom {
		return nil
	}
	var errs field.ErrorList
	for _, rule := range immutableFields[rt.gvk.GroupKind()] {
		ov, oldFound, _ := unstructured.NestedFieldNoCopy(old.Object, rule.path...)
		nv, _, _ := unstructured.NestedFieldNoCopy(next.Object, rule.path...)
		if rule.unlessEmpty && (!oldFound || ov == "") {
			continue
		}
		if !equality.Semantic.DeepEqual(ov, nv) {
			errs = append(errs, field.Invalid(field.NewPath(rule.path[0], rule.path[1:]...), nv, "field is immutable"))
		}
	}
	if rt.gvk.Group == "" && (rt.gvk.Kind == "ConfigMap" || rt.gvk.Kind == "Secret") {
		if immutable, _, _ := unstructured.NestedBool(old.Object, "immutable"); immutable {
			for _, f := range []string{"data", "binaryData", "stringData"} {
				if !equality.Semantic.DeepEqual(old.Object[f], next.Object[f]) {
					errs = append(errs, field.Forbidden(field.NewPath(f), "field is immutable when `immutable` is set"))
				}
			}
			if v, _, _ := unstructured.NestedBool(next.Object, "immutable"); !v {
				errs = append(errs, field.Forbidden(field.NewPath("immutable"), "field is immutable when `immutable` is set"))
			}
		}
	}
	if len(errs) > 0 {
		return invalid(rt, old.GetName(), errs...)
	}
	return nil
}
