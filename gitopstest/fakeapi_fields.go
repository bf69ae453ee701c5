package gitopstest

import (
	"fmt"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsac "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/driftless-dev/driftless/internal/fieldmanager"
)

// newFakeScheme knows every built-in type client-go knows plus CustomResourceDefinition;
// the fake uses it for strategic merge patches and the type converters.
func newFakeScheme() (*runtime.Scheme, error) {
	sch := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("gitopstest: build scheme: %w", err)
	}
	if err := apiextensionsv1.AddToScheme(sch); err != nil {
		return nil, fmt.Errorf("gitopstest: build scheme: %w", err)
	}
	return sch, nil
}

// builtinResourceTypes turns the built-in resource table (recorded from a real
// kube-apiserver) into served resource types, each with the schema-backed type converter
// the real server uses for it: client-go's for core kinds, apiextensions' for CRDs, and
// a deduced one (every map granular, every list atomic) for kinds neither library models.
func builtinResourceTypes() ([]*resourceType, error) {
	coreScheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(coreScheme); err != nil {
		return nil, err
	}
	extScheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(extScheme); err != nil {
		return nil, err
	}
	core := clientgoac.NewTypeConverter(coreScheme)
	ext := apiextensionsac.NewTypeConverter(extScheme)
	deduced := managedfields.NewDeducedTypeConverter()

	out := make([]*resourceType, 0, len(builtinResources))
	for _, b := range builtinResources {
		gvk := schema.GroupVersionKind{Group: b.group, Version: b.version, Kind: b.kind}
		rt := &resourceType{
			gvk: gvk, resource: b.resource, listKind: b.kind + "List", namespaced: b.namespaced,
			shortNames: b.shortNames, categories: b.categories, status: b.status,
			generation: generationKinds[gvk.GroupKind()],
		}
		switch {
		case gvk.Group == apiextensionsv1.GroupName && extScheme.Recognizes(gvk):
			rt.converter = ext
		case coreScheme.Recognizes(gvk):
			rt.converter = core
		default:
			rt.converter = deduced
		}
		out = append(out, rt)
	}
	return out, nil
}

// generationKinds are the built-in kinds whose registry strategy maintains
// metadata.generation (custom resources always do).
var generationKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:                                               true,
	{Group: "apps", Kind: "StatefulSet"}:                                              true,
	{Group: "apps", Kind: "DaemonSet"}:                                                true,
	{Group: "apps", Kind: "ReplicaSet"}:                                               true,
	{Kind: "ReplicationController"}:                                                   true,
	{Kind: "Pod"}:                                                                     true,
	{Group: "batch", Kind: "Job"}:                                                     true,
	{Group: "batch", Kind: "CronJob"}:                                                 true,
	{Group: "autoscaling", Kind: "HorizontalPodAutoscaler"}:                           true,
	{Group: "policy", Kind: "PodDisruptionBudget"}:                                    true,
	{Group: "networking.k8s.io", Kind: "Ingress"}:                                     true,
	{Group: "networking.k8s.io", Kind: "NetworkPolicy"}:                               true,
	{Group: "apiextensions.k8s.io", Kind: "CustomResourceDefinition"}:                 true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingWebhookConfiguration"}:   true,
	{Group: "admissionregistration.k8s.io", Kind: "MutatingWebhookConfiguration"}:     true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy"}:        true,
	{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding"}: true,
}

// newFieldManager builds the FieldManager for one kind and subresource with the same
// constructor the diff package predicts with (internal/fieldmanager). Status is a reset field of the main
// resource (and spec one of /status) when the kind has a status subresource, as the
// real registry strategies declare.
func newFieldManager(rt *resourceType, subresource string) (*managedfields.FieldManager, error) {
	var reset []string
	if rt.status {
		reset = []string{"status"}
		if subresource == "status" {
			reset = []string{"spec"}
		}
	}
	fm, err := fieldmanager.New(rt.converter, rt.gvk, subresource, reset, crDefaulter{rt: rt})
	if err != nil {
		return nil, fmt.Errorf("gitopstest: %w", err)
	}
	return fm, nil
}

// crDefaulter applies a custom resource's structural-schema defaults; built-in kinds
// are not defaulted by the fake (see KnownDifferences).
type crDefaulter struct{ rt *resourceType }

func (d crDefaulter) Default(obj runtime.Object) {
	if d.rt.crd == nil {
		return
	}
	if u, ok := obj.(*unstructured.Unstructured); ok {
		d.rt.crd.defaultAndPrune(u.Object)
	}
}
