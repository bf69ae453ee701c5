//go:build !linux

package render

import (
	"io/fs"
	"os"
)

// beneath is the Linux openat2 fast path; elsewhere rootDir uses os.Root alone.
type beneath struct{}

func openBeneath(string) *beneath { return nil }

func (*beneath) close()                                 {}
func (*beneath) readFile(string) ([]byte, error)        { panic("unreachable") }
func (*beneath) stat(string, bool) (fs.FileInfo, error) { panic("unreachable") }
func (*beneath) readlink(string) (string, error)        { panic("unreachable") }
func (*beneath) openDir(string) (*os.File, error)       { panic("unreachable") }
