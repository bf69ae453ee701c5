package source

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// A snapshot's manifest lists its files with the Git blob each came from. The next
// snapshot of the same repository (same ignore options) hard-links every file whose
// path, mode and blob are unchanged instead of decoding and writing it again, so a
// commit that touches two files of two thousand writes two files. Creating a file
// costs a metadata-heavy open/write/close (about 1 ms each on this project's disks);
// a link is some forty times cheaper, and snapshots are read-only, so sharing inodes
// between them is safe.

// manifestEntry is one file of a snapshot.
type manifestEntry struct {
	mode string // digest mode: 100644, 100755 or 120000
	blob string // Git blob ID ("" for a local snapshot)
	sum  [sha256.Size]byte
	size int64
}

// manifest maps slash-separated paths to entries.
type manifest map[string]manifestEntry

// writeManifest stores m at path, one line per file in path order:
// <mode> <blob> <sha256> <size> <quoted path>.
func writeManifest(path string, m manifest) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, p := range sortedKeys(m) {
		e := m[p]
		blob := e.blob
		if blob == "" {
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

// readManifest loads a manifest written by writeManifest.
func readManifest(path string) (manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	m := manifest{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fields := strings.SplitN(sc.Text(), " ", 5)
		if len(fields) != 5 {
			return nil, fmt.Errorf("%s:%d: malformed line", path, n)
		}
		var e manifestEntry
		e.mode, e.blob = fields[0], fields[1]
		if e.blob == "-" {
			e.blob = ""
		}
		sum, err := hex.DecodeString(fields[2])
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("%s:%d: malformed checksum", path, n)
		}
		copy(e.sum[:], sum)
		if e.size, err = strconv.ParseInt(fields[3], 10, 64); err != nil {
			return nil, fmt.Errorf("%s:%d: malformed size", path, n)
		}
		p, err := strconv.Unquote(fields[4])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: malformed path", path, n)
		}
		m[p] = e
	}
	return m, sc.Err()
}

func sortedKeys(m manifest) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// linkBase is an earlier snapshot a build may hard-link unchanged files from.
type linkBase struct {
	tree  string // its tree directory
	files manifest
}
