package render

import (
	"io/fs"
	"os"
	"slices"
	"strings"
)

// rootDir performs file operations beneath one directory, refusing (in the kernel,
// race-free) any path that resolves outside it. It is an os.Root, plus a Linux fast
// path (openat2 with RESOLVE_BENEATH: one system call per operation, where os.Root
// opens every path component in turn), which matters for cache validation.
type rootDir struct {
	root *os.Root
	fast *beneath // nil when unavailable
}

func openRootDir(dir string) (*rootDir, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &rootDir{root: r, fast: openBeneath(dir)}, nil
}

func (d *rootDir) Close() error {
	if d.fast != nil {
		d.fast.close()
	}
	return d.root.Close()
}

// ReadFile reads the file at rel.
func (d *rootDir) ReadFile(rel string) ([]byte, error) {
	if d.fast != nil {
		return d.fast.readFile(rel)
	}
	return d.root.ReadFile(rel)
}

// Stat describes rel, following symbolic links inside the root.
func (d *rootDir) Stat(rel string) (fs.FileInfo, error) {
	if d.fast != nil {
		return d.fast.stat(rel, true)
	}
	return d.root.Stat(rel)
}

// Lstat describes rel itself.
func (d *rootDir) Lstat(rel string) (fs.FileInfo, error) {
	if d.fast != nil {
		return d.fast.stat(rel, false)
	}
	return d.root.Lstat(rel)
}

// Readlink returns the target of the symbolic link rel.
func (d *rootDir) Readlink(rel string) (string, error) {
	if d.fast != nil {
		return d.fast.readlink(rel)
	}
	return d.root.Readlink(rel)
}

// ReadDir lists the directory rel, sorted by name.
func (d *rootDir) ReadDir(rel string) ([]fs.DirEntry, error) {
	var f *os.File
	var err error
	if d.fast != nil {
		f, err = d.fast.openDir(rel)
	} else {
		f, err = d.root.Open(rel)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Open opens rel for reading (for fs.Glob).
func (d *rootDir) Open(rel string) (*os.File, error) { return d.root.Open(rel) }
