//go:build linux

package render

import (
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"
)

// beneath resolves paths with openat2(2) and RESOLVE_BENEATH: the kernel refuses
// (EXDEV) any resolution that leaves the directory, through `..`, an absolute
// symlink or a symlink pointing out, and RESOLVE_NO_MAGICLINKS refuses /proc magic
// links. It uses raw system calls: system calls are the cost of a cache hit.
type beneath struct {
	fd int
}

const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// openBeneath returns nil when the kernel lacks openat2 (before Linux 5.6) or it is
// filtered (some seccomp profiles); os.Root is used then.
func openBeneath(dir string) *beneath {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	b := &beneath{fd: fd}
	probe, err := b.open(".", unix.O_PATH)
	if err != nil {
		b.close()
		return nil
	}
	unix.Close(probe)
	return b
}

func (b *beneath) close() { unix.Close(b.fd) }

func (b *beneath) open(rel string, flags uint64) (int, error) {
	for {
		fd, err := unix.Openat2(b.fd, rel, &unix.OpenHow{Flags: flags | unix.O_CLOEXEC, Resolve: resolveFlags})
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

func pathErr(op, rel string, err error) error {
	return &fs.PathError{Op: op, Path: rel, Err: err}
}

func (b *beneath) readFile(rel string) ([]byte, error) {
	fd, err := b.open(rel, unix.O_RDONLY)
	if err != nil {
		return nil, pathErr("openat2", rel, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, pathErr("fstat", rel, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil, pathErr("read", rel, unix.EISDIR)
	}
	data := make([]byte, 0, int(st.Size)+1)
	for {
		n, err := unix.Read(fd, data[len(data):cap(data)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, pathErr("read", rel, err)
		}
		if n == 0 {
			return data, nil
		}
		data = data[:len(data)+n]
		if len(data) == cap(data) {
			data = append(data, 0)[:len(data)]
		}
	}
}

func (b *beneath) stat(rel string, follow bool) (fs.FileInfo, error) {
	flags := uint64(unix.O_PATH)
	if !follow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := b.open(rel, flags)
	if err != nil {
		return nil, pathErr("openat2", rel, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, pathErr("fstat", rel, err)
	}
	return &statInfo{name: path.Base(rel), st: st}, nil
}

func (b *beneath) readlink(rel string) (string, error) {
	fd, err := b.open(rel, unix.O_PATH|unix.O_NOFOLLOW)
	if err != nil {
		return "", pathErr("openat2", rel, err)
	}
	defer unix.Close(fd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(fd, "", buf)
		if err != nil {
			return "", pathErr("readlink", rel, err)
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

func (b *beneath) openDir(rel string) (*os.File, error) {
	fd, err := b.open(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, pathErr("openat2", rel, err)
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// statInfo is an fs.FileInfo over a raw stat.
type statInfo struct {
	name string
	st   unix.Stat_t
}

func (i *statInfo) Name() string       { return i.name }
func (i *statInfo) Size() int64        { return i.st.Size }
func (i *statInfo) ModTime() time.Time { return time.Unix(i.st.Mtim.Unix()) }
func (i *statInfo) IsDir() bool        { return i.st.Mode&unix.S_IFMT == unix.S_IFDIR }
func (i *statInfo) Sys() any           { return &i.st }
func (i *statInfo) Mode() fs.FileMode {
	m := fs.FileMode(i.st.Mode & 0o777)
	switch i.st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	}
	return m
}
