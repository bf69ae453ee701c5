package source

import (
	"crypto/sha256"
	"errors"
	"io/fs"
)

// Files indexes a snapshot's tree: every kept file and directory, with each file's
// content SHA-256, exactly as the tree was written. A Git snapshot's tree never
// changes, so a consumer can answer "what is at this path" from Files without
// touching the disk: the render cache validates a render of a new revision this way,
// for every application whose inputs the commit did not touch.
type Files struct {
	m manifest
}

// FileInfo is one entry of Files.
type FileInfo struct {
	// Mode is the Git mode: "100644", "100755", "120000" (a symlink) or "040000" (a
	// directory).
	Mode string
	// SHA256 is the digest of the content (a symlink's: its target's text); zero for
	// a directory.
	SHA256 [sha256.Size]byte
}

// IsDir reports whether the entry is a directory.
func (fi FileInfo) IsDir() bool { return fi.Mode == modeDir }

// IsSymlink reports whether the entry is a symbolic link.
func (fi FileInfo) IsSymlink() bool { return fi.Mode == modeSymlink }

// Lookup returns the entry at rel (slash-separated, relative to the tree's root; "."
// is the root, a directory). A path that is not in the index is not in the tree.
func (f *Files) Lookup(rel string) (FileInfo, bool) {
	if rel == "." {
		return FileInfo{Mode: modeDir}, true
	}
	e, ok := f.m.entries[rel]
	if !ok {
		return FileInfo{}, false
	}
	return FileInfo{Mode: e.mode, SHA256: e.sum}, true
}

// Files loads the snapshot's file index. It returns nil, and no error, when the
// snapshot has none: a local directory snapshot, or one written by a version that did
// not index directories.
func (s *Snapshot) Files() (*Files, error) {
	if s == nil || s.manifest == "" {
		return nil, nil
	}
	m, err := readManifest(s.manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if m.ignore == "" {
		return nil, nil // written before directories were recorded
	}
	return &Files{m: m}, nil
}
