package health

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// serviceHealth judges a Service: a LoadBalancer Service is Progressing until the load
// balancer reports an address in status.loadBalancer.ingress; other types are Healthy.
func serviceHealth(obj *unstructured.Unstructured) (Result, error) {
	var svc corev1.Service
	if err := decode(obj, &svc); err != nil {
		return Result{}, err
	}
	typ := svc.Spec.Type
	if typ == "" {
		typ = corev1.ServiceTypeClusterIP
	}
	if typ != corev1.ServiceTypeLoadBalancer {
		return Result{Status: Healthy, Message: "Service of type " + string(typ)}, nil
	}
	var addrs []string
	for _, in := range svc.Status.LoadBalancer.Ingress {
		addrs = append(addrs, joinNonEmpty(" ", in.IP, in.Hostname))
	}
	return loadBalancerResult(addrs)
}

// ingressHealth judges an Ingress (networking.k8s.io or the old extensions group, whose
// status has the same shape): Progressing until an ingress controller reports an
// address in status.loadBalancer.ingress, then Healthy.
func ingressHealth(obj *unstructured.Unstructured) (Result, error) {
	var ing networkingv1.Ingress
	if err := decode(obj, &ing); err != nil {
		return Result{}, err
	}
	var addrs []string
	for _, in := range ing.Status.LoadBalancer.Ingress {
		addrs = append(addrs, joinNonEmpty(" ", in.IP, in.Hostname))
	}
	return loadBalancerResult(addrs)
}

func loadBalancerResult(addrs []string) (Result, error) {
	if len(addrs) == 0 {
		return progressing("waiting for a load balancer address"), nil
	}
	return Result{Status: Healthy, Message: "load balancer at " + strings.Join(addrs, ", ")}, nil
}
