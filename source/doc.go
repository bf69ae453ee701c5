// Package source fetches desired state from Git. It resolves a Ref (branch, tag, semver
// range, commit, or remote HEAD) to a commit with one ls-remote round trip, keeps one bare
// mirror per repository updated by incremental fetch, and hands the next stage a Snapshot:
// a read-only tree of one revision with a content digest. A local directory source offers
// the same Snapshot contract for development.
package source
