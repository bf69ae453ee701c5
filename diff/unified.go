package diff

import (
	"fmt"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
	yaml "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// unifiedName is kubectl diff's file name for an object: group.version.kind.namespace.name.
func unifiedName(gvk schema.GroupVersionKind, namespace, name string) string {
	parts := []string{}
	if gvk.Group != "" {
		parts = append(parts, gvk.Group)
	}
	parts = append(parts, gvk.Version, gvk.Kind)
	if namespace != "" {
		parts = append(parts, namespace)
	}
	return strings.Join(append(parts, name), ".")
}

// unified renders the kubectl-diff style unified diff of two comparison views (either
// may be nil: a create or a prune). Output is deterministic: YAML keys are sorted and
// the header carries no temporary paths or times. It is empty when the views are equal.
func unified(name string, live, merged map[string]any) (string, error) {
	a, err := toYAML(live)
	if err != nil {
		return "", fmt.Errorf("render live %s: %w", name, err)
	}
	b, err := toYAML(merged)
	if err != nil {
		return "", fmt.Errorf("render predicted %s: %w", name, err)
	}
	if a == b {
		return "", nil
	}
	from, to := "live/"+name, "merged/"+name
	out, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
		A: difflib.SplitLines(a), B: difflib.SplitLines(b),
		FromFile: from, ToFile: to, Context: 3,
	})
	if err != nil {
		return "", fmt.Errorf("diff %s: %w", name, err)
	}
	return "diff -u -N " + from + " " + to + "\n" + out, nil
}

// toYAML renders an unstructured object as YAML with sorted keys (yaml.v2 sorts map
// keys), without the JSON round trip sigs.k8s.io/yaml makes.
func toYAML(obj map[string]any) (string, error) {
	if obj == nil {
		return "", nil
	}
	b, err := yaml.Marshal(obj)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
