// Package render turns a Snapshot directory into Kubernetes objects with Kustomize
// (sigs.k8s.io/kustomize/api) on a filesystem that cannot read outside the snapshot root.
// It hands the next stage Manifests: validated, deterministically ordered objects and a
// digest, cached by the content of the files the build actually read.
package render
