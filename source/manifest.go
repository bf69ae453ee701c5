package source

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
)

// A snapshot's manifest lists its files with the Git blob each came from, and its
// directories with their Git tree. The next snapshot of the same repository (same
// ignore options) hard-links every file whose path, mode and blob are unchanged
// instead of decoding and writing it again, and copies a whole directory whose tree
// is unchanged from the manifest without reading a single Git object under it
// (when the .sourceignore is the same too), so a commit that touches two files of
// two thousand reads the few trees on their paths and writes two files. Creating a
// file costs a metadata-heavy open/write/close (about 1 ms each on this project's
// disks); a link is some forty times cheaper, and snapshots are read-only, so
// sharing inodes between them is safe.

// modeDir marks a directory in a manifest (never in a digest: directories have none).
const modeDir = "040000"

// manifestEntry is one file or directory of a snapshot.
type manifestEntry struct {
	mode string        // digest mode: 100644, 100755 or 120000; or modeDir
	blob plumbing.Hash // Git blob ID, or tree ID for a directory
	sum  [sha256.Size]byte
	size int64
}

// manifest lists a snapshot's entries.
type manifest struct {
	// ignore is the blob ID of the .sourceignore the snapshot was cut with, "-" when
	// it had none, "" when unknown: directories are reused only under the same rules.
	ignore  string
	entries map[string]manifestEntry // by slash-separated path
}

func newManifest(ignore string) manifest {
	return manifest{ignore: ignore, entries: map[string]manifestEntry{}}
}

// writeManifest stores m at path: a "# sourceignore <blob>" line, then one line per
// entry in path order: <mode> <blob> <sha256> <size> <quoted path>.
func writeManifest(path string, m manifest) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if m.ignore != "" {
		fmt.Fprintf(w, "# sourceignore %s\n", m.ignore)
	}
	for _, p := range m.sortedPaths() {
		e := m.entries[p]
		blob := e.blob.String()
		if e.blob.IsZero() {
			blob = "-"
		}
		fmt.Fprintf(w, "%s %s %s %d %s\n", e.mode, blob, hex.EncodeToString(e.sum[:]), e.size, strconv.Quote(p))
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// readManifest loads a manifest written by writeManifest. It runs before every new
// snapshot, so it allocates little beyond the paths themselves.
func readManifest(path string) (manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return manifest{}, err
	}
	defer func() { _ = f.Close() }()
	m := newManifest("")
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if ignore, ok := bytes.CutPrefix(line, []byte("# sourceignore ")); ok && n == 1 {
			m.ignore = string(ignore)
			continue
		}
		p, e, err := parseManifestLine(line)
		if err != nil {
			return manifest{}, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		m.entries[p] = e
	}
	return m, sc.Err()
}

// parseManifestLine parses "<mode> <blob> <sha256> <size> <quoted path>".
func parseManifestLine(line []byte) (string, manifestEntry, error) {
	var f [4][]byte
	for i := range f {
		var ok bool
		if f[i], line, ok = bytes.Cut(line, []byte(" ")); !ok {
			return "", manifestEntry{}, errors.New("malformed line")
		}
	}
	var e manifestEntry
	for _, mode := range [...]string{modeRegular, modeExecutable, modeSymlink, modeDir} {
		if string(f[0]) == mode {
			e.mode = mode // a constant: no allocation per line
		}
	}
	if e.mode == "" {
		return "", e, errors.New("malformed mode")
	}
	if string(f[1]) != "-" {
		if len(f[1]) != 2*len(e.blob) {
			return "", e, errors.New("malformed object ID")
		}
		if _, err := hex.Decode(e.blob[:], f[1]); err != nil {
			return "", e, errors.New("malformed object ID")
		}
	}
	if len(f[2]) != 2*sha256.Size {
		return "", e, errors.New("malformed checksum")
	}
	if _, err := hex.Decode(e.sum[:], f[2]); err != nil {
		return "", e, errors.New("malformed checksum")
	}
	var err error
	if e.size, err = strconv.ParseInt(string(f[3]), 10, 64); err != nil {
		return "", e, errors.New("malformed size")
	}
	p, err := strconv.Unquote(string(line))
	if err != nil {
		return "", e, errors.New("malformed path")
	}
	return p, e, nil
}

// sortedPaths returns the entries' paths in byte order: a directory comes before
// everything under it, and everything under it is one contiguous run.
func (m manifest) sortedPaths() []string {
	keys := make([]string, 0, len(m.entries))
	for k := range m.entries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// linkBase is an earlier snapshot a build may hard-link unchanged files from.
type linkBase struct {
	tree  string // its tree directory
	files manifest
	paths []string // files.sortedPaths()
}

// under returns the paths in the base below directory p, in order.
func (b *linkBase) under(p string) []string {
	prefix := p + "/"
	i := sort.SearchStrings(b.paths, prefix)
	j := i
	for j < len(b.paths) && strings.HasPrefix(b.paths[j], prefix) {
		j++
	}
	return b.paths[i:j]
}
