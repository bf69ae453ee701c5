package source

import (
	"strings"

	"github.com/go-git/go-git/v5/plumbing/format/gitignore"
)

// SourceIgnoreFile is the name of the ignore file read at the root of a tree. Its
// patterns (gitignore syntax) and the caller's extra patterns decide which files a
// snapshot keeps; the digest covers only those.
const SourceIgnoreFile = ".sourceignore"

// ignorer decides which paths a snapshot leaves out.
type ignorer struct {
	m gitignore.Matcher // nil when there is no pattern
}

// newIgnorer builds an ignorer from the .sourceignore content (may be empty) followed
// by the extra patterns, so that an extra pattern can override the file (a later
// "!keep.yaml" re-includes what the file excluded), as in gitignore.
func newIgnorer(sourceIgnore []byte, extra []string) ignorer {
	var ps []gitignore.Pattern
	lines := strings.Split(string(sourceIgnore), "\n")
	lines = append(lines, extra...)
	for _, line := range lines {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ps = append(ps, gitignore.ParsePattern(line, nil))
	}
	if len(ps) == 0 {
		return ignorer{}
	}
	return ignorer{m: gitignore.NewMatcher(ps)}
}

// ignored reports whether the slash-separated path (relative to the root) is left
// out. A left-out directory is not descended into.
func (i ignorer) ignored(path string, isDir bool) bool {
	if i.m == nil {
		return false
	}
	return i.m.Match(strings.Split(path, "/"), isDir)
}
