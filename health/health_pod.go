package health

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// podHealth judges a Pod:
//   - Succeeded: Healthy (it ran to completion);
//   - Failed: Degraded, with the pod's reason and message or the first failed container;
//   - a container or init container waiting for a reason that does not fix itself
//     (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, CreateContainerConfigError, ...):
//     Degraded, whatever the restart policy (the kubelet retries image pulls for
//     restartPolicy Never pods too, and they stay Pending meanwhile);
//   - PodScheduled condition False with reason Unschedulable: Degraded;
//   - Running with restartPolicy Always: Healthy when the Ready condition is True,
//     Progressing otherwise;
//   - Running with restartPolicy OnFailure or Never: Progressing even when ready, since
//     such a pod is done only when it has Succeeded;
//   - Pending (or no phase yet): Progressing; phase Unknown: Unknown.
func podHealth(obj *unstructured.Unstructured) (Result, error) {
	var p corev1.Pod
	if err := decode(obj, &p); err != nil {
		return Result{}, err
	}
	st := p.Status
	switch st.Phase {
	case corev1.PodSucceeded:
		return Result{Status: Healthy, Message: "Pod completed"}, nil
	case corev1.PodFailed:
		return Result{Status: Degraded, Message: "Pod failed: " + podFailure(&p)}, nil
	}
	if msg := containerTrouble(st.InitContainerStatuses, st.ContainerStatuses); msg != "" {
		return Result{Status: Degraded, Message: msg}, nil
	}
	for _, c := range st.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
			return Result{Status: Degraded, Message: joinNonEmpty(": ", "Unschedulable", c.Message)}, nil
		}
	}
	switch st.Phase {
	case corev1.PodRunning:
		if policy := p.Spec.RestartPolicy; policy != "" && policy != corev1.RestartPolicyAlways {
			return progressing("Pod is running (restartPolicy %s: healthy once it has completed)", policy), nil
		}
		for _, c := range st.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				return Result{Status: Healthy, Message: "Pod is running and ready"}, nil
			}
		}
		var notReady []string
		for _, cs := range st.ContainerStatuses {
			if !cs.Ready {
				notReady = append(notReady, cs.Name)
			}
		}
		if len(notReady) > 0 {
			return progressing("Pod is running; containers not ready: %s", strings.Join(notReady, ", ")), nil
		}
		return progressing("Pod is running, not ready yet"), nil
	case corev1.PodPending, "":
		if p.Spec.NodeName == "" {
			return progressing("Pod is pending: waiting to be scheduled"), nil
		}
		return Result{Status: Progressing, Message: joinNonEmpty(": ", "Pod is pending", st.Reason, st.Message)}, nil
	default:
		return Result{Status: Unknown, Message: joinNonEmpty(": ", fmt.Sprintf("Pod phase is %s", st.Phase), st.Reason, st.Message)}, nil
	}
}

// degradedWaitReasons are the container waiting reasons that do not resolve by waiting.
func degradedWaitReason(reason string) bool {
	switch reason {
	case "CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "InvalidImageName",
		"CreateContainerConfigError", "CreateContainerError", "RunContainerError",
		"PreStartHookError", "PostStartHookError":
		return true
	}
	return false
}

// containerTrouble describes the containers stuck in a degraded waiting state, or "".
func containerTrouble(statuses ...[]corev1.ContainerStatus) string {
	var msgs []string
	for _, list := range statuses {
		for _, cs := range list {
			if w := cs.State.Waiting; w != nil && degradedWaitReason(w.Reason) {
				msgs = append(msgs, joinNonEmpty(": ", fmt.Sprintf("container %q", cs.Name), w.Reason, w.Message))
			}
		}
	}
	return strings.Join(msgs, "; ")
}

// podFailure says why a Failed pod failed.
func podFailure(p *corev1.Pod) string {
	if msg := joinNonEmpty(": ", p.Status.Reason, p.Status.Message); msg != "" {
		return msg
	}
	for _, list := range [][]corev1.ContainerStatus{p.Status.InitContainerStatuses, p.Status.ContainerStatuses} {
		for _, cs := range list {
			if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
				return joinNonEmpty(": ", fmt.Sprintf("container %q exited with code %d", cs.Name, t.ExitCode), t.Reason, t.Message)
			}
		}
	}
	return "no reason given"
}
