// Package gitopstest holds test harnesses for driftless and for its embedders: NewCluster,
// an in-memory Kubernetes API server whose server-side apply, managed fields, dry-run and
// watch behave like the real one; StartControlPlane, a real kube-apiserver and etcd, and
// StartWorkloadControlPlane, the same plus kube-controller-manager, kube-scheduler and
// kwok fake nodes so workloads really roll out; NewRepo, a Git repository builder, with
// smart-HTTP and SSH Git servers. Each hands a test what the production code takes: a
// *rest.Config or a repository URL.
//go:generate go run ./internal/genbuiltins zz_generated_builtins.go

package gitopstest
