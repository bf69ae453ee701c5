package source

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Ref names what to fetch. Set at most one field; the zero Ref means the remote's HEAD
// (its default branch).
type Ref struct {
	// Branch is a branch name ("main"), resolved as refs/heads/<Branch>.
	Branch string
	// Tag is a tag name ("v1.2.0"), resolved as refs/tags/<Tag>; an annotated tag
	// resolves to the commit it points at.
	Tag string
	// SemVer is a semantic version range (">=1.2.0 <2", "~1.4", "1.x") matched against
	// the tags that parse as versions ("v1.2.3" or "1.2.3"); the highest match wins.
	// Pre-releases match only a range that names one, as in Masterminds/semver.
	SemVer string
	// Commit is a full commit ID (40 or 64 hex digits).
	Commit string
	// Name is any ref name, resolved like git does: as given ("refs/pull/7/head",
	// "HEAD"), then under refs/, refs/tags/, refs/heads/, refs/remotes/.
	Name string
}

// String is a short human form: "branch main", "tag v1", "semver ~1.2", "commit
// abc...", "ref refs/x" or "HEAD".
func (r Ref) String() string {
	switch {
	case r.Branch != "":
		return "branch " + r.Branch
	case r.Tag != "":
		return "tag " + r.Tag
	case r.SemVer != "":
		return "semver " + r.SemVer
	case r.Commit != "":
		return "commit " + r.Commit
	case r.Name != "":
		return "ref " + r.Name
	}
	return "HEAD"
}

// Validate checks that at most one field is set and that the set one is well formed.
func (r Ref) Validate() error {
	n := 0
	for _, v := range []string{r.Branch, r.Tag, r.SemVer, r.Commit, r.Name} {
		if v != "" {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("ref sets %d of branch, tag, semver, commit, name: set at most one", n)
	}
	if r.SemVer != "" {
		if _, err := semver.NewConstraint(r.SemVer); err != nil {
			return fmt.Errorf("semver range %q: %w", r.SemVer, err)
		}
	}
	if r.Commit != "" && !isCommitID(r.Commit) {
		return fmt.Errorf("commit %q: want a full commit ID (40 or 64 hex digits)", r.Commit)
	}
	for _, v := range []string{r.Branch, r.Tag, r.Name} {
		if strings.ContainsAny(v, " \t\n~^:?*[\\") || strings.Contains(v, "..") {
			return fmt.Errorf("ref name %q is not a valid git ref name", v)
		}
	}
	return nil
}

// ParseRef reads the --ref form of the CLI: "branch:NAME", "tag:NAME", "semver:RANGE",
// "commit:SHA" or "ref:NAME" say the kind; a bare full commit ID is a commit; a bare
// string that parses as a semver range with an operator ("^1.2", ">=1 <2", "1.x") is
// a semver range; anything else is a ref name resolved like git does; "" is HEAD.
func ParseRef(s string) (Ref, error) {
	s = strings.TrimSpace(s)
	var r Ref
	if kind, val, ok := strings.Cut(s, ":"); ok {
		switch kind {
		case "branch":
			r.Branch = val
		case "tag":
			r.Tag = val
		case "semver":
			r.SemVer = val
		case "commit":
			r.Commit = strings.ToLower(val)
		case "ref", "name":
			r.Name = val
		default:
			return Ref{}, fmt.Errorf("ref %q: unknown kind %q (want branch, tag, semver, commit or ref)", s, kind)
		}
		if val == "" {
			return Ref{}, fmt.Errorf("ref %q: empty %s", s, kind)
		}
		return r, r.Validate()
	}
	switch {
	case s == "":
	case isCommitID(s):
		r.Commit = strings.ToLower(s)
	case looksLikeRange(s):
		r.SemVer = s
	default:
		r.Name = s
	}
	return r, r.Validate()
}

// looksLikeRange reports whether s is a semver range rather than a plain version or
// a ref name: it parses as a constraint and contains an operator or a wildcard.
func looksLikeRange(s string) bool {
	if !strings.ContainsAny(s, "<>=~^*xX, |") {
		return false
	}
	if strings.ContainsAny(s, "/") {
		return false
	}
	_, err := semver.NewConstraint(s)
	if err != nil {
		return false
	}
	// "fix-x" parses as nothing useful; require a digit too.
	return strings.ContainsAny(s, "0123456789")
}

func isCommitID(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// advertised is the remote's ref list as ls-remote reports it.
type advertised struct {
	// refs maps a full ref name to the object it points at (a tag object for an
	// annotated tag).
	refs map[string]string
	// peeled maps an annotated tag's full name to the commit it points at.
	peeled map[string]string
	// head is the ref HEAD points at ("" when the server did not say), headHash the
	// commit HEAD resolves to.
	head, headHash string
}

// commitOf returns the commit a ref name resolves to (peeling annotated tags).
func (a *advertised) commitOf(name string) (string, bool) {
	if h, ok := a.peeled[name]; ok {
		return h, true
	}
	h, ok := a.refs[name]
	return h, ok
}

// match resolves ref against the advertisement: it returns the commit and the full
// ref name that reaches it ("" for an exact commit).
func (a *advertised) match(ref Ref) (commit, name string, err error) {
	switch {
	case ref.Branch != "":
		name = "refs/heads/" + strings.TrimPrefix(ref.Branch, "refs/heads/")
	case ref.Tag != "":
		name = "refs/tags/" + strings.TrimPrefix(ref.Tag, "refs/tags/")
	case ref.SemVer != "":
		return a.matchSemVer(ref.SemVer)
	case ref.Commit != "":
		return strings.ToLower(ref.Commit), "", nil
	case ref.Name != "" && ref.Name != "HEAD":
		for _, cand := range dwim(ref.Name) {
			if h, ok := a.commitOf(cand); ok {
				return h, cand, nil
			}
		}
		return "", "", errors.New("no ref by that name")
	default:
		if a.headHash == "" {
			return "", "", errors.New("remote has no HEAD (empty repository or detached without symref)")
		}
		return a.headHash, a.head, nil
	}
	h, ok := a.commitOf(name)
	if !ok {
		return "", "", fmt.Errorf("remote has no %s", name)
	}
	return h, name, nil
}

// dwim lists the full names git tries for a short ref name, in git's order.
func dwim(name string) []string {
	if strings.HasPrefix(name, "refs/") {
		return []string{name}
	}
	return []string{
		name,
		"refs/" + name,
		"refs/tags/" + name,
		"refs/heads/" + name,
		"refs/remotes/" + name,
		"refs/remotes/" + name + "/HEAD",
	}
}

// matchSemVer picks the highest tag matching the range. Ties between tags of equal
// version ("v1.0.0" and "1.0.0") go to the lexically smaller name, so the choice is
// deterministic.
func (a *advertised) matchSemVer(rng string) (string, string, error) {
	c, err := semver.NewConstraint(rng)
	if err != nil {
		return "", "", fmt.Errorf("semver range %q: %w", rng, err)
	}
	type cand struct {
		v    *semver.Version
		name string
	}
	var cands []cand
	for name := range a.refs {
		tag, ok := strings.CutPrefix(name, "refs/tags/")
		if !ok {
			continue
		}
		v, err := semver.NewVersion(tag)
		if err != nil || !c.Check(v) {
			continue
		}
		cands = append(cands, cand{v, name})
	}
	if len(cands) == 0 {
		return "", "", fmt.Errorf("no tag matches semver range %q", rng)
	}
	sort.Slice(cands, func(i, j int) bool {
		if d := cands[i].v.Compare(cands[j].v); d != 0 {
			return d > 0
		}
		return cands[i].name < cands[j].name
	})
	best := cands[0].name
	h, _ := a.commitOf(best)
	return h, best, nil
}
