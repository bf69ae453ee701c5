package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"sort"
	"time"
)

// Input operations: what the build asked the filesystem. Each observation is part of
// a render's cache key, including the negative ones (a kustomization.yml that does not
// exist, the listing of an autodetected directory), so that a file appearing where the
// previous render found nothing invalidates the entry too.
const (
	opRead    = "read"    // file content (or its absence)
	opStat    = "stat"    // existence and type, following symlinks inside the root
	opLstat   = "lstat"   // existence and type of the path itself
	opResolve = "resolve" // symlink-free path and type
	opList    = "list"    // directory listing: names and types
)

// Input is one observation a render made of its root: an operation on a path
// (relative to the root, slash-separated) and what it found.
type Input struct {
	Op    string
	Path  string
	Value string
}

// InputSet is everything one render read, with the digest that keys its result.
type InputSet struct {
	// Key is the hex SHA-256 of the inputs, the render path and the options.
	Key string
	// Inputs are sorted by path, then operation.
	Inputs []Input
}

// recorder collects the inputs of one render. A nil recorder records nothing.
type recorder struct {
	seen map[[2]string]string
	// uncacheable is set when the render used something the inputs cannot describe
	// (a remote base).
	uncacheable bool
}

func newRecorder() *recorder { return &recorder{seen: map[[2]string]string{}} }

func (r *recorder) add(op, path, value string) {
	if r == nil {
		return
	}
	r.seen[[2]string{op, path}] = value
}

// set returns the recorded inputs, sorted, and their key for the given salt (the
// render path and options digest).
func (r *recorder) set(salt string) *InputSet {
	in := make([]Input, 0, len(r.seen))
	for k, v := range r.seen {
		in = append(in, Input{Op: k[0], Path: k[1], Value: v})
	}
	sort.Slice(in, func(i, j int) bool {
		if in[i].Path != in[j].Path {
			return in[i].Path < in[j].Path
		}
		return in[i].Op < in[j].Op
	})
	return &InputSet{Key: inputsKey(salt, in), Inputs: in}
}

func inputsKey(salt string, in []Input) string {
	h := sha256.New()
	io.WriteString(h, salt)
	for _, i := range in {
		io.WriteString(h, "\x00")
		io.WriteString(h, i.Op)
		io.WriteString(h, "\x00")
		io.WriteString(h, i.Path)
		io.WriteString(h, "\x00")
		io.WriteString(h, i.Value)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Observation values. Errors are reduced to a class so that values compare across
// roots (error texts name absolute paths).
func errValue(err error) string {
	var ce *ConstraintError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "missing"
	case errors.As(err, &ce):
		return "escape"
	default:
		return "error"
	}
}

func readValue(s *sandboxFS, rel string, data []byte, err error) string {
	if err != nil {
		if fi, serr := s.dir.Stat(rel); serr == nil && fi.IsDir() {
			return "dir"
		}
		return errValue(err)
	}
	sum := sha256.Sum256(data)
	return "file:" + hex.EncodeToString(sum[:])
}

func statValue(fi fs.FileInfo, err error) string {
	switch {
	case err != nil:
		return errValue(err)
	case fi.IsDir():
		return "dir"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "link"
	default:
		return "file"
	}
}

func resolveValue(resolved string, fi fs.FileInfo, err error) string {
	if err != nil {
		return errValue(err)
	}
	return resolved + "|" + statValue(fi, nil)
}

func listValue(entries []fs.DirEntry, err error) string {
	if err != nil {
		return errValue(err)
	}
	h := sha256.New()
	for _, e := range entries {
		io.WriteString(h, e.Name())
		io.WriteString(h, "\x00")
		io.WriteString(h, e.Type().String())
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil))
}

// unchangedSlow reports whether every input of set still observes the same value
// under root, reading every file again (content hashes).
func unchangedSlow(root string, set *InputSet) bool {
	s, err := openSandbox(root, nil)
	if err != nil {
		return false
	}
	defer s.Close()
	for _, in := range set.Inputs {
		if observe(s, in.Op, in.Path) != in.Value {
			return false
		}
	}
	return true
}

// observe re-evaluates one input exactly as the recording operation did.
func observe(s *sandboxFS, op, rel string) string {
	switch op {
	case opRead:
		data, err := s.dir.ReadFile(rel)
		if err != nil {
			err = s.explain(op, rel, err)
		}
		return readValue(s, rel, data, err)
	case opStat:
		fi, err := s.dir.Stat(rel)
		if err != nil {
			err = s.explain(op, rel, err)
		}
		return statValue(fi, err)
	case opLstat:
		fi, err := s.dir.Lstat(rel)
		return statValue(fi, err)
	case opResolve:
		resolved, err := s.resolve(op, rel)
		var fi fs.FileInfo
		if err == nil {
			fi, err = s.dir.Lstat(resolved)
		}
		return resolveValue(resolved, fi, err)
	case opList:
		entries, err := s.dir.ReadDir(rel)
		if err != nil {
			err = s.explain(op, rel, err)
		}
		return listValue(entries, err)
	}
	return "unknown-op"
}

// memFile is the read-only filesys.File Open returns.
type memFile struct {
	*bytes.Reader
	name string
	size int64
}

func newMemFile(name string, data []byte) *memFile {
	return &memFile{Reader: bytes.NewReader(data), name: name, size: int64(len(data))}
}

func (f *memFile) Write([]byte) (int, error)  { return 0, ErrReadOnly }
func (f *memFile) Close() error               { return nil }
func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{name: f.name, size: f.size}, nil }
func virtualInfo(name string) fs.FileInfo     { return memInfo{name: name} }
func (i memInfo) Name() string                { return i.name }
func (i memInfo) Size() int64                 { return i.size }
func (i memInfo) Mode() fs.FileMode           { return 0o444 }
func (i memInfo) ModTime() time.Time          { return time.Time{} }
func (i memInfo) IsDir() bool                 { return false }
func (i memInfo) Sys() any                    { return nil }

type memInfo struct {
	name string
	size int64
}
