// Package gitops is the sync engine: a Reconciler that wires source, render, diff, apply
// and health for an Application, behind pluggable caches, with selfHeal, project policy
// and an audit trail. It hands the embedder a Result per reconcile and a Run loop that
// keeps many Applications converged.
package gitops
