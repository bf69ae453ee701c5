package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Sentinel causes of a ConstraintError; test them with errors.Is.
var (
	// ErrOutsideRoot: the path (after `..` is applied) lies outside the render root.
	ErrOutsideRoot = errors.New("path is outside the root")
	// ErrSymlinkOutside: a symbolic link inside the root points outside it.
	ErrSymlinkOutside = errors.New("symlink points outside the root")
	// ErrAbsolutePath: a kustomization references an absolute path, or a symbolic link
	// has an absolute target. Everything must be relative to the root.
	ErrAbsolutePath = errors.New("absolute paths are not allowed")
	// ErrRemoteDisabled: a kustomization references a remote base or file (a Git URL
	// or an http(s) URL) and Options.AllowRemoteBases is off.
	ErrRemoteDisabled = errors.New("remote references are disabled; set render.Options.AllowRemoteBases (CLI: --allow-remote) to fetch them")
	// ErrReadOnly: the build tried to write; the render filesystem is read-only.
	ErrReadOnly = errors.New("the render filesystem is read-only")
)

// ConstraintError is returned when a render would read outside its root. It names the
// offending file and the reference that leads out; callers branch with errors.As and
// test the cause with errors.Is (ErrOutsideRoot, ErrSymlinkOutside, ErrAbsolutePath,
// ErrRemoteDisabled, ErrReadOnly).
type ConstraintError struct {
	// Op is the filesystem operation (read, stat, resolve, list) or the kustomization
	// field (resources, components, patches, ...) that made the reference.
	Op string
	// Path is the offending file: the kustomization that holds the reference, the
	// symbolic link, or the path the build asked for. Relative to the root when inside it.
	Path string
	// Ref is the reference as written: the entry in the kustomization, or the target
	// of the symbolic link. Empty when Path itself is the offending reference.
	Ref string
	// Err is the cause.
	Err error
}

func (e *ConstraintError) Error() string {
	switch {
	case e.Ref == "":
		return fmt.Sprintf("render sandbox: %s %s: %v", e.Op, e.Path, e.Err)
	case isFSOp(e.Op):
		// A symbolic link: Path is the link, Ref its target.
		return fmt.Sprintf("render sandbox: %s: symlink %s -> %s: %v", e.Op, e.Path, e.Ref, e.Err)
	default:
		return fmt.Sprintf("render sandbox: %s %q in %s: %v", e.Op, e.Ref, e.Path, e.Err)
	}
}

func isFSOp(op string) bool {
	switch op {
	case opRead, opStat, opLstat, opResolve, opList:
		return true
	}
	return false
}

func (e *ConstraintError) Unwrap() error { return e.Err }

// maxSymlinks bounds symlink resolution, like the kernel's ELOOP limit.
const maxSymlinks = 40

// sandboxFS is the filesystem kustomize sees during one render: a read-only view of
// root that refuses every path outside it, after resolving symbolic links. Reads go
// through an os.Root, so the kernel (openat2 RESOLVE_BENEATH on Linux) enforces the
// boundary even if the tree changes during the build; symlinks are also resolved in
// user space to give kustomize the same symlink-free paths filepath.EvalSymlinks
// would (kustomize relies on them for cycle checks) and to name the offending link
// in errors.
//
// Every operation is recorded as an input of the render (see inputs.go). A sandboxFS
// serves one render from one goroutine: it is not safe for concurrent use.
type sandboxFS struct {
	root string   // absolute, symlink-free
	dir  *rootDir // root opened once
	rec  *recorder
	// virtual holds synthesized files (the kustomization of an autodetected
	// directory), by path relative to root.
	virtual map[string][]byte
	// remote, when set, lets the build read the temporary clones kustomize makes of
	// remote bases (Options.AllowRemoteBases).
	remote *remoteClones
	// onKustomization is called with every kustomization file the build reads.
	onKustomization func(rel string, data []byte) error
	// reads memoizes file contents: the reference scan and kustomize read the same
	// kustomization files.
	reads map[string][]byte
	// dirs memoizes resolved directory prefixes.
	dirs map[string]string
	// fps, when set, receives the fingerprints of the files read (cache validation).
	fps *fingerprints
}

var _ filesys.FileSystem = (*sandboxFS)(nil)

// openSandbox opens root for one render. root must be absolute and symlink-free.
func openSandbox(root string, rec *recorder) (*sandboxFS, error) {
	d, err := openRootDir(root)
	if err != nil {
		return nil, fmt.Errorf("render: open root %s: %w", root, err)
	}
	return &sandboxFS{
		root:  root,
		dir:   d,
		rec:   rec,
		reads: map[string][]byte{},
		dirs:  map[string]string{},
	}, nil
}

func (s *sandboxFS) Close() error { return s.dir.Close() }

// abs turns a path relative to the root into an absolute one.
func (s *sandboxFS) abs(rel string) string {
	if rel == "." {
		return s.root
	}
	return s.root + string(filepath.Separator) + rel
}

// rel maps a path kustomize asks for to a clean path relative to the root. Relative
// paths are taken relative to the root, not to the process's working directory.
// A path outside the root is a ConstraintError, unless it lies in a temporary clone
// of a remote base (then ok is false and the caller delegates to the clone).
func (s *sandboxFS) rel(op, path string) (rel string, inRoot bool, err error) {
	if !filepath.IsAbs(path) {
		path = filepath.Join(s.root, path)
	} else {
		path = filepath.Clean(path)
	}
	r, err := filepath.Rel(s.root, path)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		if s.remote != nil && s.remote.contains(path) {
			return path, false, nil
		}
		return "", false, &ConstraintError{Op: op, Path: path, Err: ErrOutsideRoot}
	}
	return filepath.ToSlash(r), true, nil
}

// resolve returns rel with every symbolic link resolved, relative to the root. A link
// that leads out of the root, or has an absolute target, is a ConstraintError naming
// the link and its target.
func (s *sandboxFS) resolve(op, rel string) (string, error) {
	if rel == "." {
		return ".", nil
	}
	if r, ok := s.dirs[rel]; ok {
		return r, nil
	}
	parts := strings.Split(rel, "/")
	cur := "."
	links := 0
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		switch p {
		case "", ".":
			continue
		case "..":
			if cur == "." {
				return "", &ConstraintError{Op: op, Path: rel, Err: ErrOutsideRoot}
			}
			cur = parentOf(cur)
			continue
		}
		next := joinRel(cur, p)
		if r, ok := s.dirs[next]; ok {
			cur = r
			continue
		}
		// Plain lstat on the absolute path: the prefix is resolved and symlink-free,
		// so this names the same file; resolve only computes paths, every read goes
		// through the kernel-checked rootDir.
		fi, err := os.Lstat(s.abs(next))
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			if i < len(parts)-1 {
				s.dirs[next] = next
			}
			continue
		}
		links++
		if links > maxSymlinks {
			return "", fmt.Errorf("render: resolve %s: too many levels of symbolic links", rel)
		}
		target, err := os.Readlink(s.abs(next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			cause := ErrAbsolutePath
			if r, err := filepath.Rel(s.root, target); err != nil || r == ".." || strings.HasPrefix(r, "../") {
				cause = ErrSymlinkOutside
			}
			return "", &ConstraintError{Op: op, Path: next, Ref: target, Err: cause}
		}
		joined := filepath.ToSlash(filepath.Clean(filepath.Join(cur, target)))
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", &ConstraintError{Op: op, Path: next, Ref: target, Err: ErrSymlinkOutside}
		}
		// Walk the link's target (it may hold further links), then the rest.
		rest := parts[i+1:]
		parts = append(strings.Split(joined, "/"), rest...)
		i = -1
		cur = "."
	}
	if cur != rel {
		s.dirs[rel] = cur
	}
	return cur, nil
}

// explain turns an error from the os.Root into a ConstraintError when the path leads
// out of the root through a symbolic link; other errors pass through.
func (s *sandboxFS) explain(op, rel string, err error) error {
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, rerr := s.resolve(op, rel); rerr != nil {
		var ce *ConstraintError
		if errors.As(rerr, &ce) {
			return ce
		}
	}
	return err
}

// readFile reads a file under the root and records it as an input.
func (s *sandboxFS) readFile(rel string) ([]byte, error) {
	if data, ok := s.virtual[rel]; ok {
		return data, nil
	}
	if data, ok := s.reads[rel]; ok {
		return data, nil
	}
	start := time.Now()
	data, err := s.dir.ReadFile(rel)
	if err != nil {
		err = s.explain("read", rel, err)
	}
	value := readValue(s, rel, data, err)
	s.rec.add(opRead, rel, value)
	if err == nil && s.fps != nil {
		if fp, kind, ferr := lstatFingerprint(s.abs(rel)); ferr == nil && kind == "file" {
			s.fps.put(s.root, rel, opRead, fp, value, start)
		}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: s.abs(rel), Err: unwrapPathError(err)}
	}
	if isKustomizationFile(rel) && s.onKustomization != nil {
		if herr := s.onKustomization(rel, data); herr != nil {
			return nil, herr
		}
	}
	s.reads[rel] = data
	return data, nil
}

// unwrapPathError drops the os.Root's relative *PathError so that the one returned
// names the absolute path, as kustomize's on-disk filesystem does.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	var ce *ConstraintError
	if errors.As(err, &ce) {
		return ce
	}
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// stat reports what rel is (following links inside the root) and records it.
func (s *sandboxFS) stat(rel string) (fs.FileInfo, error) {
	if _, ok := s.virtual[rel]; ok {
		return virtualInfo(filepath.Base(rel)), nil
	}
	fi, err := s.dir.Stat(rel)
	if err != nil {
		err = s.explain("stat", rel, err)
	}
	s.rec.add(opStat, rel, statValue(fi, err))
	return fi, err
}

// ReadFile implements filesys.FileSystem.
func (s *sandboxFS) ReadFile(path string) ([]byte, error) {
	rel, in, err := s.rel("read", path)
	if err != nil {
		return nil, err
	}
	if !in {
		return s.remote.fs.ReadFile(rel)
	}
	return s.readFile(rel)
}

// Exists implements filesys.FileSystem.
func (s *sandboxFS) Exists(path string) bool {
	rel, in, err := s.rel("stat", path)
	if err != nil {
		return false
	}
	if !in {
		return s.remote.fs.Exists(rel)
	}
	_, err = s.stat(rel)
	return err == nil
}

// IsDir implements filesys.FileSystem.
func (s *sandboxFS) IsDir(path string) bool {
	rel, in, err := s.rel("stat", path)
	if err != nil {
		return false
	}
	if !in {
		return s.remote.fs.IsDir(rel)
	}
	fi, err := s.stat(rel)
	return err == nil && fi.IsDir()
}

// CleanedAbs implements filesys.FileSystem like kustomize's on-disk filesystem: the
// path made absolute with symbolic links resolved, split into a directory and a file
// name (empty when the path is a directory).
func (s *sandboxFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	rel, in, err := s.rel("resolve", path)
	if err != nil {
		return "", "", err
	}
	if !in {
		return s.remote.fs.CleanedAbs(rel)
	}
	if _, ok := s.virtual[rel]; ok {
		return filesys.ConfirmedDir(s.abs(parentOf(rel))), filepath.Base(rel), nil
	}
	resolved, err := s.resolve("resolve", rel)
	var fi fs.FileInfo
	if err == nil {
		fi, err = s.dir.Lstat(resolved)
	}
	s.rec.add(opResolve, rel, resolveValue(resolved, fi, err))
	if err != nil {
		var ce *ConstraintError
		if errors.As(err, &ce) {
			return "", "", ce
		}
		return "", "", fmt.Errorf("evalsymlink failure on '%s' : %w", path, err)
	}
	if fi.IsDir() {
		return filesys.ConfirmedDir(s.abs(resolved)), "", nil
	}
	return filesys.ConfirmedDir(s.abs(parentOf(resolved))), filepath.Base(resolved), nil
}

// ReadDir implements filesys.FileSystem: the names in a directory, sorted.
func (s *sandboxFS) ReadDir(path string) ([]string, error) {
	rel, in, err := s.rel("list", path)
	if err != nil {
		return nil, err
	}
	if !in {
		return s.remote.fs.ReadDir(rel)
	}
	entries, err := s.list(rel)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names, nil
}

// list reads a directory under the root, sorted by name, and records its listing.
func (s *sandboxFS) list(rel string) ([]fs.DirEntry, error) {
	entries, err := s.dir.ReadDir(rel)
	if err != nil {
		err = s.explain("list", rel, err)
	}
	s.rec.add(opList, rel, listValue(entries, err))
	return entries, err
}

// Glob implements filesys.FileSystem for patterns inside the root.
func (s *sandboxFS) Glob(pattern string) ([]string, error) {
	rel, in, err := s.rel("list", pattern)
	if err != nil {
		return nil, err
	}
	if !in {
		return s.remote.fs.Glob(rel)
	}
	matches, err := fs.Glob(dirFS{s}, rel)
	if err != nil {
		return nil, err
	}
	for i, m := range matches {
		matches[i] = s.abs(m)
	}
	return matches, nil
}

// Walk implements filesys.FileSystem like filepath.Walk: lexical order, symbolic
// links reported, not followed.
func (s *sandboxFS) Walk(path string, walkFn filepath.WalkFunc) error {
	rel, in, err := s.rel("list", path)
	if err != nil {
		return err
	}
	if !in {
		return s.remote.fs.Walk(rel, walkFn)
	}
	fi, err := s.dir.Lstat(rel)
	if err != nil {
		return walkFn(path, nil, s.explain("list", rel, err))
	}
	err = s.walk(rel, fi, walkFn)
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

func (s *sandboxFS) walk(rel string, fi fs.FileInfo, walkFn filepath.WalkFunc) error {
	s.rec.add(opLstat, rel, statValue(fi, nil))
	if !fi.IsDir() {
		return walkFn(s.abs(rel), fi, nil)
	}
	entries, err := s.list(rel)
	werr := walkFn(s.abs(rel), fi, err)
	if err != nil || werr != nil {
		return werr
	}
	for _, e := range entries {
		child := joinRel(rel, e.Name())
		// Not e.Info(): entries of a directory opened beneath the root carry a
		// relative name.
		cfi, err := s.dir.Lstat(child)
		if err != nil {
			if werr := walkFn(s.abs(child), cfi, err); werr != nil && !errors.Is(werr, filepath.SkipDir) {
				return werr
			}
			continue
		}
		if err := s.walk(child, cfi, walkFn); err != nil {
			if errors.Is(err, filepath.SkipDir) {
				if cfi.IsDir() {
					continue
				}
				return nil
			}
			return err
		}
	}
	return nil
}

// Open implements filesys.FileSystem (read-only).
func (s *sandboxFS) Open(path string) (filesys.File, error) {
	rel, in, err := s.rel("read", path)
	if err != nil {
		return nil, err
	}
	if !in {
		return s.remote.fs.Open(rel)
	}
	// Read through readFile so the content is recorded as an input.
	data, err := s.readFile(rel)
	if err != nil {
		return nil, err
	}
	return newMemFile(filepath.Base(rel), data), nil
}

// Create implements filesys.FileSystem: refused.
func (s *sandboxFS) Create(path string) (filesys.File, error) {
	return nil, &ConstraintError{Op: "create", Path: path, Err: ErrReadOnly}
}

// Mkdir implements filesys.FileSystem: refused.
func (s *sandboxFS) Mkdir(path string) error {
	return &ConstraintError{Op: "mkdir", Path: path, Err: ErrReadOnly}
}

// MkdirAll implements filesys.FileSystem: refused.
func (s *sandboxFS) MkdirAll(path string) error {
	return &ConstraintError{Op: "mkdir", Path: path, Err: ErrReadOnly}
}

// WriteFile implements filesys.FileSystem: refused.
func (s *sandboxFS) WriteFile(path string, _ []byte) error {
	return &ConstraintError{Op: "write", Path: path, Err: ErrReadOnly}
}

// RemoveAll implements filesys.FileSystem: only kustomize's cleanup of its own
// temporary clones of remote bases is allowed.
func (s *sandboxFS) RemoveAll(path string) error {
	if s.remote != nil && s.remote.contains(filepath.Clean(path)) {
		return s.remote.fs.RemoveAll(path)
	}
	return &ConstraintError{Op: "remove", Path: path, Err: ErrReadOnly}
}

// dirFS adapts the sandbox to io/fs for fs.Glob.
type dirFS struct{ s *sandboxFS }

func (d dirFS) Open(name string) (fs.File, error) { return d.s.dir.Open(name) }

func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) { return d.s.list(name) }

// remoteClones lets the build read kustomize's temporary clones of remote bases
// (directories named kustomize-* in the system temporary directory).
type remoteClones struct {
	tmp  string
	fs   filesys.FileSystem
	used bool
}

func newRemoteClones() *remoteClones {
	tmp := os.TempDir()
	if r, err := filepath.EvalSymlinks(tmp); err == nil {
		tmp = r
	}
	return &remoteClones{tmp: tmp, fs: filesys.MakeFsOnDisk()}
}

func (r *remoteClones) contains(path string) bool {
	rel, err := filepath.Rel(r.tmp, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	ok := strings.HasPrefix(rel, "kustomize-")
	if ok {
		r.used = true
	}
	return ok
}

func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func parentOf(rel string) string {
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		return "."
	}
	return rel[:i]
}
