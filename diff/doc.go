// Package diff compares rendered objects with their live state three ways (desired
// config, live object, managed fields) using structured-merge-diff, predicting what a
// server-side apply would produce. It hands apply a per-object verdict (create, drift,
// in sync, prune candidate) with changed field paths and a masked unified diff.
package diff
