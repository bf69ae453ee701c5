// Package fieldmanager builds what the API server uses to merge server-side applies
// and track managed fields, for unstructured objects: apimachinery's FieldManager (the
// code the server runs) and the type converters the server derives from a
// CustomResourceDefinition. The diff package predicts applies with it, and
// gitopstest's in-memory API server serves them with it, so both merge the same way.
package fieldmanager

import (
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
)

// New returns the FieldManager for unstructured objects of one kind, stored in the
// version they are written in. tc supplies the schema; reset are the top-level fields
// the kind's registry strategy resets and never attributes to the writer ("status" for
// the main resource of a kind with a status subresource, "spec" for its /status);
// defaulter, when not nil, runs on every merged result. subresource is "" or "status".
func New(tc managedfields.TypeConverter, gvk schema.GroupVersionKind, subresource string, reset []string, defaulter runtime.ObjectDefaulter) (*managedfields.FieldManager, error) {
	gv := gvk.GroupVersion()
	var filters map[fieldpath.APIVersion]fieldpath.Filter
	if len(reset) > 0 {
		set := fieldpath.NewSet()
		for _, f := range reset {
			set.Insert(fieldpath.MakePathOrDie(f))
		}
		filters = map[fieldpath.APIVersion]fieldpath.Filter{fieldpath.APIVersion(gv.String()): fieldpath.NewExcludeSetFilter(set)}
	}
	if defaulter == nil {
		defaulter = noDefaults{}
	}
	fm, err := managedfields.NewDefaultCRDFieldManager(tc, sameVersionConverter{}, defaulter, unstructuredCreater{}, gvk, gv, subresource, filters)
	if err != nil {
		return nil, fmt.Errorf("field manager for %s: %w", gvk, err)
	}
	return fm, nil
}

// sameVersionConverter is the object converter of a kind stored in the version it is
// written in: "converting" relabels the apiVersion.
type sameVersionConverter struct{}

func (sameVersionConverter) Convert(in, out, _ any) error {
	src, ok1 := in.(*unstructured.Unstructured)
	dst, ok2 := out.(*unstructured.Unstructured)
	if !ok1 || !ok2 {
		return fmt.Errorf("cannot convert %T to %T", in, out)
	}
	dst.Object = runtime.DeepCopyJSON(src.Object)
	return nil
}

func (sameVersionConverter) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	kind := in.GetObjectKind().GroupVersionKind()
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{kind}); ok {
		in.GetObjectKind().SetGroupVersionKind(target)
	}
	return in, nil
}

func (sameVersionConverter) ConvertFieldLabel(_ schema.GroupVersionKind, label, value string) (string, string, error) {
	return label, value, nil
}

type unstructuredCreater struct{}

func (unstructuredCreater) New(gvk schema.GroupVersionKind) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	return u, nil
}

type noDefaults struct{}

func (noDefaults) Default(runtime.Object) {}
