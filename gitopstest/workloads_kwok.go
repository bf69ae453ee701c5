package gitopstest

// kwokStages tells kwok how fake nodes and pods move (kwok.x-k8s.io/v1alpha1 Stage
// objects; selectors are jq queries over the object, templates Go templates):
//   - a node turns Ready with room for 110 pods;
//   - a pending pod bound to a fake node runs and turns Ready (PodOutcomeUnready: runs,
//     never Ready);
//   - a running pod owned by a Job succeeds (PodOutcomeFail: any running pod fails);
//   - a pod being deleted is deleted.
//
// PodDelayAnnotation delays each pod step.
var kwokStages = stageNodeReady + "---\n" + stagePodRun + "---\n" + stagePodComplete + "---\n" + stagePodFail + "---\n" + stagePodDelete

const stageNodeReady = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: gitopstest-node-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: NotIn
      values: ["True"]
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      {{ range $t := list "MemoryPressure" "DiskPressure" "PIDPressure" "NetworkUnavailable" }}
      - type: {{ $t }}
        status: "False"
        reason: KwokFake
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      {{ end }}
      - type: Ready
        status: "True"
        reason: KubeletReady
        message: faked by kwok for gitopstest
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $now | Quote }}
      addresses:
      - type: InternalIP
        address: {{ NodeIP | Quote }}
      - type: Hostname
        address: {{ .metadata.name | Quote }}
      allocatable: {cpu: "32", memory: 256Gi, pods: "110"}
      capacity: {cpu: "32", memory: 256Gi, pods: "110"}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        containerRuntimeVersion: kwok
        kernelVersion: kwok
        kubeletVersion: kwok
        kubeProxyVersion: kwok
        osImage: kwok
        machineID: ""
        bootID: ""
        systemUUID: ""
      phase: Running
`

// stagePodRun covers both the normal start (Running and Ready) and PodOutcomeUnready
// (Running, not Ready) with one template.
const stagePodRun = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: gitopstest-pod-run
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ["Pending"]
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.annotations["` + PodDelayAnnotation + `"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $annotations := or .metadata.annotations dict }}
      {{ $ready := ne ( or ( index $annotations "` + PodOutcomeAnnotation + `" ) "" ) "` + PodOutcomeUnready + `" }}
      conditions:
      - type: PodScheduled
        status: "True"
        lastTransitionTime: {{ $now | Quote }}
      - type: Initialized
        status: "True"
        lastTransitionTime: {{ $now | Quote }}
      - type: ContainersReady
        status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
        lastTransitionTime: {{ $now | Quote }}
      - type: Ready
        status: {{ if $ready }}"True"{{ else }}"False"{{ end }}
        lastTransitionTime: {{ $now | Quote }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: {{ $ready }}
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: true
        restartCount: 0
        state:
          terminated:
            exitCode: 0
            reason: Completed
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
      phase: Running
      startTime: {{ $now | Quote }}
`

// stagePodComplete: a running pod owned by a Job succeeds (unless told otherwise).
var stagePodComplete = podTerminatedStage("gitopstest-pod-complete", `
    - key: '.metadata.ownerReferences.[].kind'
      operator: In
      values: ["Job"]
    - key: '.metadata.annotations["`+PodOutcomeAnnotation+`"]'
      operator: NotIn
      values: ["`+PodOutcomeFail+`", "`+PodOutcomeUnready+`"]`, "PodCompleted", "0", "Completed", "", "Succeeded")

// stagePodFail: a running pod annotated PodOutcomeFail fails.
var stagePodFail = podTerminatedStage("gitopstest-pod-fail", `
    - key: '.metadata.annotations["`+PodOutcomeAnnotation+`"]'
      operator: In
      values: ["`+PodOutcomeFail+`"]`, "PodFailed", "1", "Error",
	"failed as asked by the "+PodOutcomeAnnotation+" annotation", "Failed")

// podTerminatedStage is a Stage that ends running pods matching extraSelector (more
// matchExpressions) in phase, their containers terminated with exitCode and reason.
func podTerminatedStage(name, extraSelector, condReason, exitCode, reason, message, phase string) string {
	msg := ""
	if message != "" {
		msg = "\n            message: " + message
	}
	return `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: ` + name + `
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: DoesNotExist
    - key: '.status.phase'
      operator: In
      values: ["Running"]` + extraSelector + `
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.annotations["` + PodDelayAnnotation + `"]'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - type: ContainersReady
        status: "False"
        reason: ` + condReason + `
        lastTransitionTime: {{ $now | Quote }}
      - type: Ready
        status: "False"
        reason: ` + condReason + `
        lastTransitionTime: {{ $now | Quote }}
      containerStatuses:
      {{ range .spec.containers }}
      - name: {{ .name | Quote }}
        image: {{ .image | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          terminated:
            exitCode: ` + exitCode + `
            reason: ` + reason + msg + `
            startedAt: {{ $now | Quote }}
            finishedAt: {{ $now | Quote }}
      {{ end }}
      phase: ` + phase + `
`
}

const stagePodDelete = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: gitopstest-pod-delete
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: Exists
  next:
    delete: true
`
