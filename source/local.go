package source

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LocalOptions configures a local directory snapshot.
type LocalOptions struct {
	// Ignore holds extra ignore patterns (gitignore syntax), applied after those of
	// the directory's .sourceignore. A .git entry is always left out.
	Ignore []string
}

// writeLocalTree copies the kept files of src into dst (which must not exist),
// read-only, and returns their digest: the same digest a Git snapshot of the same
// files has. Symlinks are copied as symlinks; other special files are refused.
func writeLocalTree(ctx context.Context, src, dst string, opts LocalOptions) (treeStats, error) {
	info, err := os.Stat(src)
	if err != nil {
		return treeStats{}, err
	}
	if !info.IsDir() {
		return treeStats{}, fmt.Errorf("%s is not a directory", src)
	}
	sourceIgnore, err := os.ReadFile(filepath.Join(src, SourceIgnoreFile))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return treeStats{}, fmt.Errorf("read %s: %w", SourceIgnoreFile, err)
	}
	w := &localWriter{
		ctx:    ctx,
		ign:    newIgnorer(sourceIgnore, opts.Ignore),
		hasher: newContentHasher(),
		buf:    make([]byte, 32<<10),
	}
	if err := w.dirs.mkdir(dst); err != nil {
		return treeStats{}, err
	}
	if err := w.copyDir(src, "", dst); err != nil {
		return treeStats{}, err
	}
	if err := w.dirs.seal(); err != nil {
		return treeStats{}, err
	}
	return treeStats{digest: digestOf(w.entries), files: len(w.entries), bytes: w.bytes}, nil
}

type localWriter struct {
	ctx     context.Context
	ign     ignorer
	hasher  *contentHasher
	buf     []byte
	entries []digestEntry
	bytes   int64
	dirs    treeDirs
}

func (w *localWriter) copyDir(srcDir, rel, dstDir string) error {
	des, err := os.ReadDir(srcDir)
	if err != nil {
		return err
	}
	sort.Slice(des, func(i, j int) bool { return des[i].Name() < des[j].Name() })
	for _, de := range des {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		name := de.Name()
		if strings.EqualFold(name, ".git") {
			continue
		}
		p := name
		if rel != "" {
			p = rel + "/" + name
		}
		src, dst := filepath.Join(srcDir, name), filepath.Join(dstDir, name)
		switch t := de.Type(); {
		case t.IsDir():
			if w.ign.ignored(p, true) {
				continue
			}
			if err := w.dirs.mkdir(dst); err != nil {
				return err
			}
			if err := w.copyDir(src, p, dst); err != nil {
				return err
			}
		case t&fs.ModeSymlink != 0:
			if w.ign.ignored(p, false) {
				continue
			}
			target, err := os.Readlink(src)
			if err != nil {
				return err
			}
			sum, _, _ := w.hasher.copy(nil, strings.NewReader(filepath.ToSlash(target)), w.buf)
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			w.entries = append(w.entries, digestEntry{path: p, mode: modeSymlink, sum: sum})
		case t.IsRegular():
			if w.ign.ignored(p, false) {
				continue
			}
			if err := w.copyFile(src, p, dst); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported file type %s", p, t)
		}
	}
	return nil
}

func (w *localWriter) copyFile(src, p, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	exec := info.Mode().Perm()&0o111 != 0
	mode := modeRegular
	if exec {
		mode = modeExecutable
	}
	sum, n, err := w.hasher.createFile(dst, exec, in, w.buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", p, err)
	}
	w.entries = append(w.entries, digestEntry{path: p, mode: mode, sum: sum})
	w.bytes += n
	return nil
}
