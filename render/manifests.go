package render

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
)

// Manifests are the objects a render produced.
//
// Objects keep kustomize's output order (the order `kustomize build` prints: its
// legacy kind order, Namespaces and CRDs first, then the kustomization's own order),
// which is deterministic for given inputs; Sorted gives them in a canonical order
// independent of the kustomization. Manifests returned by a Renderer may be shared
// with its cache: treat them as read-only (DeepCopy before changing).
type Manifests struct {
	// Objects are the rendered objects, in kustomize's output order.
	Objects []*unstructured.Unstructured
	// Digest is "sha256:" and the hex SHA-256 of YAML().
	Digest string

	stream []byte
	docs   [][]byte
}

// YAML returns the YAML stream, byte for byte what `kustomize build` prints (when
// neither substitution nor decryption changed an object). Do not modify it.
func (m *Manifests) YAML() []byte { return m.stream }

// ObjectYAML returns the YAML of Objects[i], as it appears in the stream.
func (m *Manifests) ObjectYAML(i int) []byte { return m.docs[i] }

// Sorted returns the objects ordered by API group, kind, namespace and name (a new
// slice; the objects are shared).
func (m *Manifests) Sorted() []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), m.Objects...)
	sort.SliceStable(out, func(i, j int) bool { return objectKey(out[i]) < objectKey(out[j]) })
	return out
}

// DeepCopy returns a copy the caller may change.
func (m *Manifests) DeepCopy() *Manifests {
	c := &Manifests{Digest: m.Digest, stream: m.stream, docs: m.docs}
	c.Objects = make([]*unstructured.Unstructured, len(m.Objects))
	for i, o := range m.Objects {
		c.Objects[i] = o.DeepCopy()
	}
	return c
}

// size estimates the memory the Manifests hold, for the cache's byte bound.
func (m *Manifests) size() int64 { return int64(len(m.stream)) * 4 }

func objectKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "\x00" + gvk.Kind + "\x00" + u.GetNamespace() + "\x00" + u.GetName()
}

// postProcess runs substitution, decryption and validation on kustomize's result and
// converts it.
func postProcess(ctx context.Context, m resmap.ResMap, opts Options) (*Manifests, error) {
	resources := m.Resources()
	for _, res := range resources {
		if opts.Substitution != nil && !substitutionDisabled(res.GetAnnotations()) {
			if err := substituteResource(res, opts.Substitution); err != nil {
				return nil, err
			}
		}
		if err := decryptResource(ctx, res, opts.Decryptor); err != nil {
			return nil, err
		}
	}
	if err := validate(resources); err != nil {
		return nil, err
	}
	return toManifests(resources)
}

// toManifests serializes the resources the way kustomize's ResMap.AsYaml does and
// converts each to an unstructured object.
func toManifests(resources []*resource.Resource) (*Manifests, error) {
	var buf bytes.Buffer
	bounds := make([][2]int, len(resources))
	objs := make([]*unstructured.Unstructured, len(resources))
	for i, res := range resources {
		y, err := res.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("render: serialize %s: %w", describe(res), err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		start := buf.Len()
		buf.Write(y)
		bounds[i] = [2]int{start, buf.Len()}
		u, err := toUnstructured(res)
		if err != nil {
			return nil, fmt.Errorf("render: convert %s: %w", describe(res), err)
		}
		objs[i] = u
	}
	stream := buf.Bytes()
	docs := make([][]byte, len(resources))
	for i, b := range bounds {
		docs[i] = stream[b[0]:b[1]:b[1]]
	}
	sum := sha256.Sum256(stream)
	return &Manifests{
		Objects: objs,
		Digest:  "sha256:" + hex.EncodeToString(sum[:]),
		stream:  stream,
		docs:    docs,
	}, nil
}

// describe names a resource in errors: kind namespace/name.
func describe(res *resource.Resource) string {
	if ns := res.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", res.GetKind(), ns, res.GetName())
	}
	return fmt.Sprintf("%s %s", res.GetKind(), res.GetName())
}
