// Package examples holds runnable programs built on driftless: the quickstart, an example
// controller for an Application custom resource, and the one-shot CLI driftless. Nothing
// here is imported by the library packages.
package examples
