package source

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"sort"
)

// The digest of a snapshot is "sha256:" followed by the hex SHA-256 of one record per
// kept file, in byte order of the slash-separated path:
//
//	<mode> SP <hex SHA-256 of the content> SP <path> NUL
//
// where mode is "100644" (regular), "100755" (executable) or "120000" (symlink, whose
// content is its target). Directories are not recorded (Git has no empty ones), nor
// are submodules, mtimes, owners or anything else a machine or a clone could vary. A
// Git snapshot and a local snapshot of the same files have the same digest.

// File modes recorded in the digest, spelled as Git spells them.
const (
	modeRegular    = "100644"
	modeExecutable = "100755"
	modeSymlink    = "120000"
)

// digestEntry is one kept file.
type digestEntry struct {
	path string // slash-separated, relative to the root
	mode string
	sum  [sha256.Size]byte
}

// digestOf computes the snapshot digest of entries (in any order).
func digestOf(entries []digestEntry) string {
	sorted := append([]digestEntry(nil), entries...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].path < sorted[j].path })
	h := sha256.New()
	var hexSum [2 * sha256.Size]byte
	for _, e := range sorted {
		hex.Encode(hexSum[:], e.sum[:])
		fmt.Fprintf(h, "%s %s %s\x00", e.mode, hexSum[:], e.path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// contentHasher copies content while hashing it.
type contentHasher struct {
	h hash.Hash
}

func newContentHasher() *contentHasher { return &contentHasher{h: sha256.New()} }

// copy writes r to w (when w is not nil) and returns the content's SHA-256.
func (c *contentHasher) copy(w io.Writer, r io.Reader, buf []byte) ([sha256.Size]byte, int64, error) {
	c.h.Reset()
	dst := io.Writer(c.h)
	if w != nil {
		dst = io.MultiWriter(w, c.h)
	}
	n, err := io.CopyBuffer(dst, r, buf)
	var sum [sha256.Size]byte
	copy(sum[:], c.h.Sum(nil))
	return sum, n, err
}

// createFile writes r into a new read-only file dst (executable when exec) and
// returns the content's SHA-256 and size. A file created with no write bit is still
// open for writing.
func (c *contentHasher) createFile(dst string, exec bool, r io.Reader, buf []byte) ([sha256.Size]byte, int64, error) {
	perm := fs.FileMode(0o444)
	if exec {
		perm = 0o555
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return [sha256.Size]byte{}, 0, err
	}
	sum, n, err := c.copy(out, r, buf)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return sum, n, err
}
