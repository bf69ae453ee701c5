//go:build unix

package render

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// lstatFingerprint returns the identity of path itself (symbolic links are not
// followed) and its kind: "dir", "link" or "file".
func lstatFingerprint(path string) (fingerprint, string, error) {
	var st unix.Stat_t
	for {
		err := unix.Lstat(path, &st)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fingerprint{}, "", err
		}
		break
	}
	fp := fingerprint{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		size:  uint64(st.Size),
		mode:  uint64(st.Mode),
		mtime: st.Mtim.Nano(),
		ctime: st.Ctim.Nano(),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return fp, "dir", nil
	case unix.S_IFLNK:
		return fp, "link", nil
	default:
		return fp, "file", nil
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
