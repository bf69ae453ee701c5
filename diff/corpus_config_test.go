package diff

import "encoding/base64"

func svc(name, spec string) string {
	return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + "}\nspec:\n  selector: {app: " + name + "}\n" + ind(2, spec)
}

func cm(name, body string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + name + "}\n" + body + "\n"
}

func secret(name, body string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: " + name + "}\n" + body + "\n"
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func serviceConfigCases() []corpusCase {
	port := "ports: [{port: 80, targetPort: 8080}]"
	return []corpusCase{
		// Services: sessionAffinity, type, protocol, clusterIP are defaulted or allocated.
		{name: "svc-same", steps: []step{ours(svc("v1", port))}, desired: svc("v1", port)},
		{name: "svc-targetport-int-to-name", steps: []step{ours(svc("v2", port))},
			desired: svc("v2", "ports: [{port: 80, targetPort: http}]"), drift: true},
		{name: "svc-targetport-removed-equals-port", steps: []step{ours(svc("v3", "ports: [{port: 80, targetPort: 80}]"))},
			desired: svc("v3", "ports: [{port: 80}]")},
		{name: "svc-targetport-removed-differs", steps: []step{ours(svc("v4", port))},
			desired: svc("v4", "ports: [{port: 80}]"), drift: true},
		{name: "svc-session-affinity-removed-was-default", steps: []step{ours(svc("v5", port+"\nsessionAffinity: None"))},
			desired: svc("v5", port)},
		{name: "svc-session-affinity-explicit-default", steps: []step{ours(svc("v6", port))},
			desired: svc("v6", port+"\nsessionAffinity: None")},
		{name: "svc-type-explicit-default", steps: []step{ours(svc("v7", port))}, desired: svc("v7", port+"\ntype: ClusterIP")},
		{name: "svc-type-nodeport", steps: []step{ours(svc("v8", port))}, desired: svc("v8", port+"\ntype: NodePort"), drift: true},
		{name: "svc-port-added", steps: []step{ours(svc("v9", port))},
			desired: svc("v9", "ports: [{name: a, port: 80, targetPort: 8080}, {name: b, port: 443}]"), drift: true},
		{name: "svc-protocol-explicit", steps: []step{ours(svc("v10", port))},
			desired: svc("v10", "ports: [{port: 80, targetPort: 8080, protocol: TCP}]")},
		{name: "svc-label-added-by-other", steps: []step{ours(svc("v11", port)), mergeAs("kubectl-label", `{"metadata":{"labels":{"team":"x"}}}`)},
			desired: svc("v11", port)},

		// ConfigMaps: granular data map, no normalization of values.
		{name: "cm-same", steps: []step{ours(cm("c1", "data: {a: '1', b: two}"))}, desired: cm("c1", "data: {a: '1', b: two}")},
		{name: "cm-value-changed", steps: []step{ours(cm("c2", "data: {a: '1'}"))}, desired: cm("c2", "data: {a: '2'}"), drift: true},
		{name: "cm-key-removed-we-owned", steps: []step{ours(cm("c3", "data: {a: '1', b: '2'}"))}, desired: cm("c3", "data: {a: '1'}"), drift: true},
		{name: "cm-key-added-by-kubectl-edit", steps: []step{ours(cm("c4", "data: {a: '1'}")), mergeAs("kubectl-edit", `{"data":{"z":"9"}}`)},
			desired: cm("c4", "data: {a: '1'}")},
		{name: "cm-our-key-changed-by-kubectl-edit", steps: []step{ours(cm("c5", "data: {a: '1'}")), mergeAs("kubectl-edit", `{"data":{"a":"9"}}`)},
			desired: cm("c5", "data: {a: '1'}"), drift: true},
		{name: "cm-empty-data-vs-missing", steps: []step{ours(cm("c6", ""))}, desired: cm("c6", "data: {}")},
		{name: "cm-quantity-like-value-not-normalized", steps: []step{ours(cm("c7", "data: {cpu: '1'}"))},
			desired: cm("c7", "data: {cpu: 1000m}"), drift: true},
		{name: "cm-binary-data-same", steps: []step{ours(cm("c8", "binaryData: {bin: "+b64("\x00\x01")+"}"))},
			desired: cm("c8", "binaryData: {bin: "+b64("\x00\x01")+"}")},
		{name: "cm-ignored-key-pointer", steps: []step{ours(cm("c9", "data: {a: '1', b: '2'}"))},
			desired: cm("c9", "data: {a: '1', b: '3'}"), rules: []IgnoreRule{{Kind: "ConfigMap", JSONPointers: []string{"/data/b"}}}},

		// Secrets: stringData is folded into data by the server.
		{name: "secret-stringdata-vs-data", steps: []step{ours(secret("x1", "data: {pw: "+b64("hunter2")+"}"))},
			desired: secret("x1", "stringData: {pw: hunter2}")},
		{name: "secret-stringdata-same", steps: []step{ours(secret("x2", "stringData: {pw: hunter2}"))},
			desired: secret("x2", "stringData: {pw: hunter2}")},
		{name: "secret-stringdata-changed", steps: []step{ours(secret("x3", "stringData: {pw: hunter2}"))},
			desired: secret("x3", "stringData: {pw: hunter3}"), drift: true},
		{name: "secret-data-same", steps: []step{ours(secret("x4", "data: {pw: "+b64("hunter2")+"}"))},
			desired: secret("x4", "data: {pw: "+b64("hunter2")+"}")},
		{name: "secret-data-changed", steps: []step{ours(secret("x5", "data: {pw: "+b64("hunter2")+"}"))},
			desired: secret("x5", "data: {pw: "+b64("hunter3")+"}"), drift: true},
		{name: "secret-type-removed-was-default", steps: []step{ours(secret("x6", "type: Opaque\nstringData: {pw: a}"))},
			desired: secret("x6", "stringData: {pw: a}")},
		{name: "secret-data-vs-stringdata-changed", steps: []step{ours(secret("x7", "data: {pw: "+b64("hunter2")+"}"))},
			desired: secret("x7", "stringData: {pw: hunter9}"), drift: true},

		// ServiceAccounts.
		{name: "sa-same", steps: []step{ours("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1}")},
			desired: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa1}"},
		{name: "sa-pull-secret-added", steps: []step{ours("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa2}")},
			desired: "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa2}\nimagePullSecrets: [{name: reg}]", drift: true},
	}
}
