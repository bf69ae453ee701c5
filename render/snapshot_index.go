package render

import (
	"encoding/hex"
	"sync"

	"github.com/driftless-dev/driftless/source"
)

// A render of a new source Snapshot (a new revision) whose inputs the commit did not
// touch is validated against the Snapshot's file index (source.Files) instead of the
// disk: every input is answered by a map lookup, so after a commit to one
// application, every other application's render costs no file read and no system
// call. Inputs the index cannot answer (symbolic links, directory listings, errors
// other than "missing") leave the render to Render's own re-check.

// indexMemoSize bounds the file indexes kept by snapshot digest. An index costs
// about 200 bytes per file (20 MB for a 100,000-file monorepo); reloading one is a
// parse of its manifest, once per revision and application at most.
const indexMemoSize = 4

// snapshotIndexes keeps the file indexes of recent snapshots by their digest: the
// Snapshot values of one revision differ per Fetch, the index does not.
type snapshotIndexes struct {
	mu sync.Mutex
	m  map[string]*source.Files // nil value: the snapshot has no index
}

func (s *snapshotIndexes) get(snap *source.Snapshot) *source.Files {
	s.mu.Lock()
	files, ok := s.m[snap.Digest]
	s.mu.Unlock()
	if ok {
		return files
	}
	files, err := snap.Files()
	if err != nil {
		files = nil // unreadable: validate on disk
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m) >= indexMemoSize {
		s.m = map[string]*source.Files{}
	}
	s.m[snap.Digest] = files
	return files
}

// unchangedInIndex reports whether every input of set observes its recorded value in
// files.
func unchangedInIndex(set *InputSet, files *source.Files) bool {
	for _, in := range set.Inputs {
		v, ok := observeIndex(files, in.Op, in.Path)
		if !ok || v != in.Value {
			return false
		}
	}
	return true
}

// observeIndex is observe (inputs.go) answered from a snapshot's file index: the same
// value the sandboxed filesystem gives for a tree that is exactly the index. ok is
// false when the index cannot tell.
func observeIndex(files *source.Files, op, rel string) (string, bool) {
	fi, found := files.Lookup(rel)
	if !found {
		if !missingInIndex(files, rel) {
			return "", false
		}
		switch op {
		case opRead, opStat, opLstat, opResolve, opList:
			return "missing", true
		}
		return "", false
	}
	if fi.IsSymlink() {
		return "", false
	}
	kind := "file"
	if fi.IsDir() {
		kind = "dir"
	}
	switch op {
	case opRead:
		if fi.IsDir() {
			return "dir", true
		}
		return "file:" + hex.EncodeToString(fi.SHA256[:]), true
	case opStat, opLstat:
		return kind, true
	case opResolve:
		return rel + "|" + kind, true
	}
	return "", false // opList: names and types are not kept in this form
}

// missingInIndex reports whether rel, absent from the index, is absent for the plain
// reason (its nearest ancestor in the tree is a directory, so the lookup fails with
// "does not exist"), not because an ancestor is a file or a symlink.
func missingInIndex(files *source.Files, rel string) bool {
	for d := parentOf(rel); ; d = parentOf(d) {
		if fi, ok := files.Lookup(d); ok {
			return fi.IsDir()
		}
	}
}
