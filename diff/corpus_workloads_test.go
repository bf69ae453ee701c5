package diff

import "strings"

// ind indents every non-empty line of s by n spaces and ends it with a newline.
func ind(n int, s string) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// depOpts tweak the corpus Deployment: extra YAML under metadata, spec, the pod
// template's metadata and spec, and the "app" container; more containers.
type depOpts struct {
	image, meta, spec, tmplMeta, pod, ctr, more string
}

func dep(name string, o depOpts) string {
	if o.image == "" {
		o.image = "nginx:1.25"
	}
	return "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: " + name + "\n" + ind(2, o.meta) +
		"spec:\n" + ind(2, o.spec) +
		"  selector:\n    matchLabels: {app: " + name + "}\n" +
		"  template:\n    metadata:\n      labels: {app: " + name + "}\n" + ind(6, o.tmplMeta) +
		"    spec:\n" + ind(6, o.pod) +
		"      containers:\n      - name: app\n        image: " + o.image + "\n" + ind(8, o.ctr) + ind(6, o.more)
}

func workloadCases() []corpusCase {
	d := func(name string, o depOpts) string { return dep(name, o) }
	res := func(k, v string) string { return "resources:\n  limits:\n    " + k + ": " + v }
	editImage := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}`
	return []corpusCase{
		// Defaulted fields omitted in Git: the server fills them, nobody owns them.
		{name: "deploy-same-as-applied", steps: []step{ours(d("d1", depOpts{}))}, desired: d("d1", depOpts{})},
		{name: "deploy-strategy-explicit-default", steps: []step{ours(d("d2", depOpts{}))},
			desired: d("d2", depOpts{spec: "strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}}"})},
		{name: "deploy-strategy-removed-was-recreate", steps: []step{ours(d("d3", depOpts{spec: "strategy: {type: Recreate}"}))},
			desired: d("d3", depOpts{}), drift: true},
		{name: "deploy-strategy-removed-was-default", steps: []step{ours(d("d4", depOpts{spec: "strategy: {type: RollingUpdate}"}))},
			desired: d("d4", depOpts{})},
		{name: "deploy-pullpolicy-removed-was-default", steps: []step{ours(d("d5", depOpts{ctr: "imagePullPolicy: IfNotPresent"}))},
			desired: d("d5", depOpts{})},
		{name: "deploy-pullpolicy-removed-was-always", steps: []step{ours(d("d6", depOpts{ctr: "imagePullPolicy: Always"}))},
			desired: d("d6", depOpts{}), drift: true},
		{name: "deploy-pullpolicy-latest-removed", steps: []step{ours(d("d7", depOpts{image: "nginx:latest", ctr: "imagePullPolicy: Always"}))},
			desired: d("d7", depOpts{image: "nginx:latest"})},
		{name: "deploy-termination-path-removed-was-default", steps: []step{ours(d("d8", depOpts{ctr: "terminationMessagePath: /dev/termination-log"}))},
			desired: d("d8", depOpts{})},
		{name: "deploy-termination-path-removed-was-custom", steps: []step{ours(d("d9", depOpts{ctr: "terminationMessagePath: /tmp/msg"}))},
			desired: d("d9", depOpts{}), drift: true},
		{name: "deploy-history-limit-removed-was-default", steps: []step{ours(d("d10", depOpts{spec: "revisionHistoryLimit: 10"}))},
			desired: d("d10", depOpts{})},
		{name: "deploy-replicas-removed-was-three", steps: []step{ours(d("d11", depOpts{spec: "replicas: 3"}))},
			desired: d("d11", depOpts{}), drift: true},
		{name: "deploy-replicas-removed-was-one", steps: []step{ours(d("d12", depOpts{spec: "replicas: 1"}))},
			desired: d("d12", depOpts{})},
		{name: "deploy-replicas-changed", steps: []step{ours(d("d13", depOpts{spec: "replicas: 2"}))},
			desired: d("d13", depOpts{spec: "replicas: 3"}), drift: true},
		{name: "deploy-image-changed", steps: []step{ours(d("d14", depOpts{}))},
			desired: d("d14", depOpts{image: "nginx:1.26"}), drift: true},
		{name: "deploy-security-context-empty", steps: []step{ours(d("d15", depOpts{}))},
			desired: d("d15", depOpts{pod: "securityContext: {}"})},

		// Quantities: the server stores canonical forms.
		{name: "quantity-cpu-1000m-vs-1", steps: []step{ours(d("q1", depOpts{ctr: res("cpu", `"1"`)}))},
			desired: d("q1", depOpts{ctr: res("cpu", "1000m")})},
		{name: "quantity-cpu-1-vs-1000m", steps: []step{ours(d("q2", depOpts{ctr: res("cpu", "1000m")}))},
			desired: d("q2", depOpts{ctr: res("cpu", `"1"`)})},
		{name: "quantity-memory-1Gi-vs-1024Mi", steps: []step{ours(d("q3", depOpts{ctr: res("memory", "1024Mi")}))},
			desired: d("q3", depOpts{ctr: res("memory", "1Gi")})},
		{name: "quantity-memory-1Gi-vs-1000Mi", steps: []step{ours(d("q4", depOpts{ctr: res("memory", "1000Mi")}))},
			desired: d("q4", depOpts{ctr: res("memory", "1Gi")}), drift: true},
		{name: "quantity-cpu-half-vs-500m", steps: []step{ours(d("q5", depOpts{ctr: res("cpu", "500m")}))},
			desired: d("q5", depOpts{ctr: res("cpu", `"0.5"`)})},
		{name: "quantity-cpu-changed", steps: []step{ours(d("q6", depOpts{ctr: res("cpu", "500m")}))},
			desired: d("q6", depOpts{ctr: res("cpu", "600m")}), drift: true},
		{name: "quantity-cpu-integer", steps: []step{ours(d("q7", depOpts{ctr: res("cpu", `"2"`)}))},
			desired: d("q7", depOpts{ctr: res("cpu", "2")})},

		// List merge keys: containers by name, ports by containerPort+protocol, env by name.
		{name: "ports-protocol-omitted", steps: []step{ours(d("p1", depOpts{ctr: "ports: [{containerPort: 80}]"}))},
			desired: d("p1", depOpts{ctr: "ports: [{containerPort: 80}]"})},
		{name: "ports-protocol-explicit-default", steps: []step{ours(d("p2", depOpts{ctr: "ports: [{containerPort: 80}]"}))},
			desired: d("p2", depOpts{ctr: "ports: [{containerPort: 80, protocol: TCP}]"})},
		{name: "ports-added", steps: []step{ours(d("p3", depOpts{ctr: "ports: [{containerPort: 80}]"}))},
			desired: d("p3", depOpts{ctr: "ports: [{containerPort: 80}, {containerPort: 443}]"}), drift: true},
		{name: "ports-udp-same-number-added", steps: []step{ours(d("p4", depOpts{ctr: "ports: [{containerPort: 53}]"}))},
			desired: d("p4", depOpts{ctr: "ports: [{containerPort: 53}, {containerPort: 53, protocol: UDP}]"}), drift: true},
		{name: "env-same", steps: []step{ours(d("e1", depOpts{ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"}))},
			desired: d("e1", depOpts{ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"})},
		{name: "env-added", steps: []step{ours(d("e2", depOpts{ctr: "env: [{name: A, value: '1'}]"}))},
			desired: d("e2", depOpts{ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"}), drift: true},
		{name: "env-reordered", steps: []step{ours(d("e3", depOpts{ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"}))},
			desired: d("e3", depOpts{ctr: "env: [{name: B, value: '2'}, {name: A, value: '1'}]"}), drift: true},
		{name: "env-removed-we-owned", steps: []step{ours(d("e4", depOpts{ctr: "env: [{name: A, value: '1'}, {name: B, value: '2'}]"}))},
			desired: d("e4", depOpts{ctr: "env: [{name: A, value: '1'}]"}), drift: true},
		{name: "env-added-by-kubectl-edit", steps: []step{ours(d("e5", depOpts{ctr: "env: [{name: A, value: '1'}]"})),
			smp("kubectl-edit", `{"spec":{"template":{"spec":{"containers":[{"name":"app","env":[{"name":"C","value":"3"}]}]}}}}`)},
			desired: d("e5", depOpts{ctr: "env: [{name: A, value: '1'}]"})},
		{name: "sidecar-added", steps: []step{ours(d("c1", depOpts{}))},
			desired: d("c1", depOpts{more: "- {name: side, image: busybox:1.36}"}), drift: true},
		{name: "sidecar-removed-we-owned", steps: []step{ours(d("c2", depOpts{more: "- {name: side, image: busybox:1.36}"}))},
			desired: d("c2", depOpts{}), drift: true},

		// Atomic lists.
		{name: "args-same", steps: []step{ours(d("a1", depOpts{ctr: "args: [a, b]"}))}, desired: d("a1", depOpts{ctr: "args: [a, b]"})},
		{name: "args-reordered", steps: []step{ours(d("a2", depOpts{ctr: "args: [a, b]"}))},
			desired: d("a2", depOpts{ctr: "args: [b, a]"}), drift: true},
		{name: "args-changed-by-kubectl-edit", steps: []step{ours(d("a3", depOpts{ctr: "args: [a, b]"})),
			smp("kubectl-edit", `{"spec":{"template":{"spec":{"containers":[{"name":"app","args":["a","b","c"]}]}}}}`)},
			desired: d("a3", depOpts{ctr: "args: [a, b]"}), drift: true},

		// Fields owned by other managers.
		{name: "kubectl-edit-image", steps: []step{ours(d("m1", depOpts{})), smp("kubectl-edit", editImage)},
			desired: d("m1", depOpts{}), drift: true},
		{name: "kubectl-edit-image-ignored-manager", steps: []step{ours(d("m2", depOpts{})), smp("kubectl-edit", editImage)},
			desired: d("m2", depOpts{}), rules: []IgnoreRule{{Group: "apps", Kind: "Deployment", ManagedFieldsManagers: []string{"kubectl-edit"}}}},
		{name: "hpa-scaled-git-sets-replicas", steps: []step{ours(d("h1", depOpts{spec: "replicas: 2"})), scaleAs("hpa-controller", 5)},
			desired: d("h1", depOpts{spec: "replicas: 2"}), drift: true},
		{name: "hpa-scaled-ignored-manager", steps: []step{ours(d("h2", depOpts{spec: "replicas: 2"})), scaleAs("hpa-controller", 5)},
			desired: d("h2", depOpts{spec: "replicas: 2"}), rules: []IgnoreRule{{Kind: "Deployment", Group: "apps", ManagedFieldsManagers: []string{"hpa-controller"}}}},
		{name: "hpa-scaled-git-omits-replicas", steps: []step{ours(d("h3", depOpts{})), scaleAs("hpa-controller", 4)},
			desired: d("h3", depOpts{})},
		{name: "hpa-scaled-pointer-rule", steps: []step{ours(d("h4", depOpts{spec: "replicas: 2"})), scaleAs("hpa-controller", 5)},
			desired: d("h4", depOpts{spec: "replicas: 2"}), rules: []IgnoreRule{{Group: "apps", Kind: "Deployment", Name: "h4", JSONPointers: []string{"/spec/replicas"}}}},
		{name: "hpa-scaled-rule-for-other-name", steps: []step{ours(d("h5", depOpts{spec: "replicas: 2"})), scaleAs("hpa-controller", 5)},
			desired: d("h5", depOpts{spec: "replicas: 2"}), rules: []IgnoreRule{{Group: "apps", Kind: "Deployment", Name: "other", JSONPointers: []string{"/spec/replicas"}}}, drift: true},

		// Labels and annotations: others add theirs, ours are ours.
		{name: "label-added-by-other", steps: []step{ours(d("l1", depOpts{})), mergeAs("kubectl-label", `{"metadata":{"labels":{"team":"x"}}}`)},
			desired: d("l1", depOpts{})},
		{name: "annotation-added-by-other", steps: []step{ours(d("l2", depOpts{})), mergeAs("kubectl-annotate", `{"metadata":{"annotations":{"note":"x"}}}`)},
			desired: d("l2", depOpts{})},
		{name: "label-removed-we-owned", steps: []step{ours(d("l3", depOpts{meta: "labels: {tier: web}"}))},
			desired: d("l3", depOpts{}), drift: true},
		{name: "label-removed-co-owned", steps: []step{ours(d("l4", depOpts{meta: "labels: {tier: web}"})),
			applyAs("other", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: l4, labels: {tier: web}}")},
			desired: d("l4", depOpts{})},
		{name: "template-annotation-added", steps: []step{ours(d("l5", depOpts{}))},
			desired: d("l5", depOpts{tmplMeta: "annotations: {rollout: '2'}"}), drift: true},

		// Empty versus missing maps, nulls.
		{name: "empty-annotations-map", steps: []step{ours(d("n1", depOpts{}))}, desired: d("n1", depOpts{meta: "annotations: {}"})},
		{name: "empty-node-selector", steps: []step{ours(d("n2", depOpts{}))}, desired: d("n2", depOpts{pod: "nodeSelector: {}"})},
		{name: "null-node-selector", steps: []step{ours(d("n3", depOpts{}))}, desired: d("n3", depOpts{pod: "nodeSelector: null"})},
		{name: "null-replicas-was-owned", steps: []step{ours(d("n4", depOpts{spec: "replicas: 3"}))},
			desired: d("n4", depOpts{spec: "replicas: null"}), drift: true},

		// Int-or-string.
		{name: "probe-port-int-to-name", steps: []step{ours(d("i1", depOpts{ctr: "ports: [{name: http, containerPort: 8080}]\nreadinessProbe: {httpGet: {port: 8080}}"}))},
			desired: d("i1", depOpts{ctr: "ports: [{name: http, containerPort: 8080}]\nreadinessProbe: {httpGet: {port: http}}"}), drift: true},
		{name: "max-surge-int-vs-percent", steps: []step{ours(d("i2", depOpts{spec: "strategy: {rollingUpdate: {maxSurge: 1}}"}))},
			desired: d("i2", depOpts{spec: "strategy: {rollingUpdate: {maxSurge: 25%}}"}), drift: true},
		{name: "max-surge-same", steps: []step{ours(d("i3", depOpts{spec: "strategy: {rollingUpdate: {maxSurge: 1}}"}))},
			desired: d("i3", depOpts{spec: "strategy: {rollingUpdate: {maxSurge: 1}}"})},

		// Other workload kinds: their pod templates are defaulted alike.
		{name: "statefulset-same", steps: []step{ours(statefulSet("s1"))}, desired: statefulSet("s1")},
		{name: "daemonset-same", steps: []step{ours(daemonSet("s2", "nginx:1.25"))}, desired: daemonSet("s2", "nginx:1.25")},
		{name: "daemonset-image-changed", steps: []step{ours(daemonSet("s3", "nginx:1.25"))}, desired: daemonSet("s3", "nginx:1.26"), drift: true},
		{name: "cronjob-same", steps: []step{ours(cronJob("s4", "0 * * * *"))}, desired: cronJob("s4", "0 * * * *")},
		{name: "cronjob-schedule-changed", steps: []step{ours(cronJob("s5", "0 * * * *"))}, desired: cronJob("s5", "5 * * * *"), drift: true},
	}
}

func statefulSet(name string) string {
	return `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: ` + name + `}
spec:
  serviceName: ` + name + `
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers: [{name: app, image: nginx:1.25, ports: [{containerPort: 80}]}]
`
}

func daemonSet(name, image string) string {
	return `apiVersion: apps/v1
kind: DaemonSet
metadata: {name: ` + name + `}
spec:
  selector: {matchLabels: {app: ` + name + `}}
  template:
    metadata: {labels: {app: ` + name + `}}
    spec:
      containers: [{name: app, image: "` + image + `"}]
`
}

func cronJob(name, schedule string) string {
	return `apiVersion: batch/v1
kind: CronJob
metadata: {name: ` + name + `}
spec:
  schedule: "` + schedule + `"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: job, image: busybox:1.36, args: [date]}]
`
}
