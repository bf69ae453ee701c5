package diff

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.corpus.driftless.dev}
spec:
  group: corpus.driftless.dev
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string, default: small}
              replicas: {type: integer, default: 1}
              cpu: {type: string}
              port: {x-kubernetes-int-or-string: true}
              tags: {type: array, items: {type: string}}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
                    protocol: {type: string, default: TCP}
              config: {type: object, additionalProperties: {type: string}}
              atomicConfig: {type: object, x-kubernetes-map-type: atomic, additionalProperties: {type: string}}
              nested:
                type: object
                default: {}
                properties:
                  mode: {type: string, default: auto}
          status:
            type: object
            x-kubernetes-preserve-unknown-fields: true
`

const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.corpus.driftless.dev}
spec:
  group: corpus.driftless.dev
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget, listKind: GadgetList}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

func widget(name, spec string) string {
	return "apiVersion: corpus.driftless.dev/v1\nkind: Widget\nmetadata: {name: " + name + "}\nspec:\n" + ind(2, spec)
}

func gadget(name, spec string) string {
	return "apiVersion: corpus.driftless.dev/v1\nkind: Gadget\nmetadata: {name: " + name + "}\nspec:\n" + ind(2, spec)
}

func customResourceCases() []corpusCase {
	w, g := widget, gadget
	return []corpusCase{
		// Structural schema with defaults.
		{name: "cr-same", steps: []step{ours(w("w1", "size: large\nreplicas: 2"))}, desired: w("w1", "size: large\nreplicas: 2")},
		{name: "cr-default-omitted", steps: []step{ours(w("w2", "replicas: 2"))}, desired: w("w2", "replicas: 2")},
		{name: "cr-default-removed-was-custom", steps: []step{ours(w("w3", "size: large"))}, desired: w("w3", "replicas: 1"), drift: true},
		{name: "cr-default-removed-was-default", steps: []step{ours(w("w4", "size: small\nreplicas: 2"))}, desired: w("w4", "replicas: 2")},
		{name: "cr-nested-default-removed", steps: []step{ours(w("w5", "nested: {mode: manual}"))}, desired: w("w5", "size: small"), drift: true},
		{name: "cr-nested-default-explicit", steps: []step{ours(w("w6", "size: small"))}, desired: w("w6", "nested: {mode: auto}")},
		{name: "cr-field-changed", steps: []step{ours(w("w7", "replicas: 2"))}, desired: w("w7", "replicas: 3"), drift: true},
		{name: "cr-quantity-string-not-normalized", steps: []step{ours(w("w8", "cpu: '1'"))}, desired: w("w8", "cpu: 1000m"), drift: true},
		{name: "cr-int-or-string-int-vs-string", steps: []step{ours(w("w9", "port: 80"))}, desired: w("w9", "port: '80'"), drift: true},
		{name: "cr-int-or-string-same", steps: []step{ours(w("w10", "port: http"))}, desired: w("w10", "port: http")},
		// Keyed lists (x-kubernetes-list-type: map) with a defaulted field.
		{name: "cr-list-map-item-added", steps: []step{ours(w("w11", "ports: [{name: a, port: 1}]"))},
			desired: w("w11", "ports: [{name: a, port: 1}, {name: b, port: 2}]"), drift: true},
		{name: "cr-list-map-default-omitted", steps: []step{ours(w("w12", "ports: [{name: a, port: 1}]"))},
			desired: w("w12", "ports: [{name: a, port: 1, protocol: TCP}]")},
		{name: "cr-list-map-item-of-other-manager", steps: []step{ours(w("w13", "ports: [{name: a, port: 1}]")),
			applyAs("other", w("w13", "ports: [{name: z, port: 9}]"))}, desired: w("w13", "ports: [{name: a, port: 1}]")},
		// Atomic list and atomic map versus granular map.
		{name: "cr-atomic-list-taken-by-other", steps: []step{ours(w("w14", "tags: [a]")), applyAs("other", w("w14", "tags: [a, x]"))},
			desired: w("w14", "tags: [a]"), drift: true},
		{name: "cr-granular-map-key-of-other", steps: []step{ours(w("w15", "config: {k1: a}")), applyAs("other", w("w15", "config: {k2: b}"))},
			desired: w("w15", "config: {k1: a}")},
		{name: "cr-atomic-map-taken-by-other", steps: []step{ours(w("w16", "atomicConfig: {k1: a}")), applyAs("other", w("w16", "atomicConfig: {k1: a, k2: b}"))},
			desired: w("w16", "atomicConfig: {k1: a}"), drift: true},
		{name: "cr-empty-map-vs-missing", steps: []step{ours(w("w17", "size: small"))}, desired: w("w17", "size: small\nconfig: {}"), drift: true},
		{name: "cr-label-added-by-other", steps: []step{ours(w("w18", "size: small")), mergeAs("kubectl-label", `{"metadata":{"labels":{"team":"x"}}}`)},
			desired: w("w18", "size: small")},
		{name: "cr-status-in-git-ignored", steps: []step{ours(w("w19", "size: small"))},
			desired: w("w19", "size: small") + "status: {ready: true}\n"},
		{name: "cr-empty-labels-vs-missing", steps: []step{ours(w("w20", "size: small"))},
			desired: "apiVersion: corpus.driftless.dev/v1\nkind: Widget\nmetadata: {name: w20, labels: {}}\nspec: {size: small}\n"},

		// x-kubernetes-preserve-unknown-fields.
		{name: "pu-same", steps: []step{ours(g("g1", "a: {b: [1, 2], c: x}"))}, desired: g("g1", "a: {b: [1, 2], c: x}")},
		{name: "pu-nested-change", steps: []step{ours(g("g2", "a: {b: [1, 2], c: x}"))}, desired: g("g2", "a: {b: [1, 3], c: x}"), drift: true},
		{name: "pu-field-removed-we-owned", steps: []step{ours(g("g3", "a: {c: x, d: y}"))}, desired: g("g3", "a: {c: x}"), drift: true},
		{name: "pu-field-of-other-manager", steps: []step{ours(g("g4", "a: {c: x}")), applyAs("other", g("g4", "z: 1"))},
			desired: g("g4", "a: {c: x}")},
		{name: "pu-empty-map-vs-missing", steps: []step{ours(g("g5", "a: {c: x}"))}, desired: g("g5", "a: {c: x}\ne: {}"), drift: true},
		{name: "pu-float-vs-int", steps: []step{ours(g("g6", "n: 1"))}, desired: g("g6", "n: 1.0")},
	}
}
