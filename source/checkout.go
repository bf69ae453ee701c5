package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// treeStats is what writing a tree produced.
type treeStats struct {
	digest string
	files  int
	bytes  int64
	linked int      // files taken over from the base snapshot (hard links, symlink copies)
	man    manifest // what was written, for the next build's base
}

// writeGitTree writes the tree of commit into dst (which must not exist), leaving out
// what .sourceignore and extra ignore, and returns the digest of what it kept. The
// written files and directories are made read-only. Files unchanged since base (when
// not nil) are hard-linked from it rather than written.
func writeGitTree(ctx context.Context, commit *object.Commit, dst string, extra []string, base *linkBase) (treeStats, error) {
	tree, err := commit.Tree()
	if err != nil {
		return treeStats{}, fmt.Errorf("read tree of %s: %w", commit.Hash, err)
	}
	var sourceIgnore []byte
	ignoreID := "-"
	if f, err := tree.File(SourceIgnoreFile); err == nil {
		s, err := f.Contents()
		if err != nil {
			return treeStats{}, fmt.Errorf("read %s: %w", SourceIgnoreFile, err)
		}
		sourceIgnore, ignoreID = []byte(s), f.Hash.String()
	} else if !errors.Is(err, object.ErrFileNotFound) {
		return treeStats{}, fmt.Errorf("read %s: %w", SourceIgnoreFile, err)
	}
	w := &treeWriter{
		ctx:    ctx,
		ign:    newIgnorer(sourceIgnore, extra),
		hasher: newContentHasher(),
		buf:    make([]byte, 32<<10),
		base:   base,
		root:   dst,
		man:    newManifest(ignoreID),
	}
	// Whole directories are reused only when the base was cut with the same rules.
	w.reuseDirs = base != nil && base.files.ignore == ignoreID
	if err := w.dirs.mkdir(dst); err != nil {
		return treeStats{}, err
	}
	if err := w.writeTree(tree, "", dst); err != nil {
		return treeStats{}, err
	}
	if err := w.dirs.seal(); err != nil {
		return treeStats{}, err
	}
	return treeStats{digest: digestOf(w.entries), files: len(w.entries), bytes: w.bytes, linked: w.linked, man: w.man}, nil
}

type treeWriter struct {
	ctx       context.Context
	ign       ignorer
	hasher    *contentHasher
	buf       []byte
	entries   []digestEntry
	bytes     int64
	base      *linkBase
	reuseDirs bool
	root      string // the snapshot's tree directory
	man       manifest
	linked    int
	dirs      treeDirs
}

// link hard-links p from the base snapshot when the base has the same blob with the
// same mode there. It reports whether it did.
func (w *treeWriter) link(e object.TreeEntry, p, mode, full string) bool {
	if w.base == nil {
		return false
	}
	old, ok := w.base.files.entries[p]
	if !ok || old.blob != e.Hash || old.mode != mode || mode == modeSymlink {
		return false
	}
	if err := os.Link(filepath.Join(w.base.tree, filepath.FromSlash(p)), full); err != nil {
		return false // evicted meanwhile, or links unsupported: write it
	}
	w.keep(p, old)
	return true
}

// keep records a file or directory taken over unchanged from the base.
func (w *treeWriter) keep(p string, old manifestEntry) {
	w.man.entries[p] = old
	if old.mode == modeDir {
		return
	}
	w.entries = append(w.entries, digestEntry{path: p, mode: old.mode, sum: old.sum})
	w.bytes += old.size
	w.linked++
}

// reuseDir recreates directory p from the base snapshot, without reading its Git
// tree, when the base has the same tree there (and was cut with the same ignore
// rules, so it kept the same files): subdirectories are made, files hard-linked and
// symlinks copied. It reports whether it did; when a step fails (the base was
// evicted meanwhile), what it made is removed and the caller writes p from Git.
func (w *treeWriter) reuseDir(e object.TreeEntry, p, full string) bool {
	if !w.reuseDirs {
		return false
	}
	old, ok := w.base.files.entries[p]
	if !ok || old.mode != modeDir || old.blob != e.Hash {
		return false
	}
	dirs := len(w.dirs)
	if err := w.dirs.mkdir(full); err != nil {
		return false
	}
	under := w.base.under(p)
	for _, q := range under {
		if err := w.copyEntry(q, w.base.files.entries[q]); err != nil {
			_ = removeTree(full)
			w.dirs = w.dirs[:dirs]
			return false
		}
	}
	w.keep(p, old)
	for _, q := range under {
		w.keep(q, w.base.files.entries[q])
	}
	return true
}

// copyEntry makes base entry q in the new tree.
func (w *treeWriter) copyEntry(q string, e manifestEntry) error {
	src := filepath.Join(w.base.tree, filepath.FromSlash(q))
	dst := filepath.Join(w.root, filepath.FromSlash(q))
	switch e.mode {
	case modeDir:
		return w.dirs.mkdir(dst)
	case modeSymlink:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	default:
		return os.Link(src, dst)
	}
}

func (w *treeWriter) writeTree(t *object.Tree, rel, dir string) error {
	for _, e := range t.Entries {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		if err := checkEntryName(e.Name); err != nil {
			return fmt.Errorf("tree entry %q under %q: %w", e.Name, rel, err)
		}
		p := e.Name
		if rel != "" {
			p = rel + "/" + e.Name
		}
		full := filepath.Join(dir, e.Name)
		switch e.Mode {
		case filemode.Dir:
			if w.ign.ignored(p, true) || w.reuseDir(e, p, full) {
				continue
			}
			sub, err := t.Tree(e.Name)
			if err != nil {
				return fmt.Errorf("read tree %s: %w", p, err)
			}
			if err := w.dirs.mkdir(full); err != nil {
				return err
			}
			w.man.entries[p] = manifestEntry{mode: modeDir, blob: e.Hash}
			if err := w.writeTree(sub, p, full); err != nil {
				return err
			}
		case filemode.Submodule:
			// A gitlink names a commit of another repository: not content of this one.
			continue
		case filemode.Regular, filemode.Deprecated, filemode.Executable, filemode.Symlink:
			if w.ign.ignored(p, false) {
				continue
			}
			if err := w.writeBlob(t, e, p, full); err != nil {
				return err
			}
		default:
			return fmt.Errorf("tree entry %s: unsupported mode %s", p, e.Mode)
		}
	}
	return nil
}

func (w *treeWriter) writeBlob(t *object.Tree, e object.TreeEntry, p, full string) error {
	mode := modeRegular
	switch e.Mode {
	case filemode.Executable:
		mode = modeExecutable
	case filemode.Symlink:
		mode = modeSymlink
	}
	if w.link(e, p, mode, full) {
		return nil
	}
	f, err := t.TreeEntryFile(&e)
	if err != nil {
		return fmt.Errorf("read blob %s: %w", p, err)
	}
	r, err := f.Reader()
	if err != nil {
		return fmt.Errorf("read blob %s: %w", p, err)
	}
	defer func() { _ = r.Close() }()
	entry := digestEntry{path: p, mode: modeRegular}
	if e.Mode == filemode.Symlink {
		entry.mode = modeSymlink
		target, err := io.ReadAll(io.LimitReader(r, 4096))
		if err != nil {
			return fmt.Errorf("read symlink %s: %w", p, err)
		}
		entry.sum, _, _ = w.hasher.copy(nil, strings.NewReader(string(target)), w.buf)
		if err := os.Symlink(string(target), full); err != nil {
			return err
		}
		w.entries = append(w.entries, entry)
		w.man.entries[p] = manifestEntry{mode: modeSymlink, blob: e.Hash, sum: entry.sum, size: int64(len(target))}
		return nil
	}
	if e.Mode == filemode.Executable {
		entry.mode = modeExecutable
	}
	sum, n, err := w.hasher.createFile(full, e.Mode == filemode.Executable, r, w.buf)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	entry.sum = sum
	w.entries = append(w.entries, entry)
	w.man.entries[p] = manifestEntry{mode: entry.mode, blob: e.Hash, sum: sum, size: n}
	w.bytes += n
	return nil
}

// checkEntryName refuses names that would escape or confuse the tree on disk.
func checkEntryName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return errors.New("invalid name")
	case strings.ContainsAny(name, "/\\\x00"):
		return errors.New("name contains a path separator")
	case strings.EqualFold(name, ".git"):
		return errors.New(".git is not allowed in a tree")
	case path.Clean(name) != name:
		return errors.New("name is not clean")
	}
	return nil
}

// treeDirs are the directories a snapshot writer made. Files are created read-only
// (or hard-linked from a read-only snapshot), so sealing the directories makes the
// whole tree read-only without walking it again.
type treeDirs []string

// mkdir makes a directory of the tree (writable until seal) and remembers it.
func (d *treeDirs) mkdir(dir string) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	*d = append(*d, dir)
	return nil
}

// seal makes every directory read-only, once everything is in them.
func (d treeDirs) seal() error {
	for _, dir := range d {
		if err := os.Chmod(dir, 0o555); err != nil {
			return err
		}
	}
	return nil
}

// removeTree deletes a sealed tree (write bits are restored on the
// directories first, which a non-root user needs to unlink their entries).
func removeTree(root string) error {
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(root)
}
