package render

import (
	"sync"
	"time"
)

// Cache validation re-observes every input of a cached render. Reading and hashing
// each file costs a few system calls per file, which on small renders is most of a
// cache hit. fingerprints remembers, per absolute path, the stat identity of a file or
// directory (device, inode, size, mode, mtime, ctime) next to the observation its
// content gave; when a path's identity is unchanged the observation is reused with
// one lstat. ctime cannot be set from user space and changes with every write, so an
// equal identity means equal content, except for a write within the filesystem's
// timestamp granularity of the moment the content was read: an observation is
// trusted only when the file was last changed well before it was read (racyWindow),
// as Git does for its index.
type fingerprints struct {
	mu      sync.Mutex
	entries map[fpKey]fpEntry
	max     int
}

// fpKey names an observation: op on root/rel (rel "." is the root itself). Keeping
// root and rel apart spares a cache hit one string concatenation per input.
type fpKey struct{ root, rel, op string }

// racyWindow is how long before the read a file must have been last changed for its
// fingerprint to be trusted.
const racyWindow = 2 * time.Second

// maxFingerprints bounds the map; it is cleared when full (entries are cheap to
// rebuild: one read each).
const maxFingerprints = 1 << 16

type fingerprint struct {
	dev, ino, size, mode uint64
	mtime, ctime         int64 // nanoseconds
}

type fpEntry struct {
	fp    fingerprint
	value string
}

func newFingerprints() *fingerprints {
	return &fingerprints{entries: map[fpKey]fpEntry{}, max: maxFingerprints}
}

// get returns the observation recorded for op on root/rel when its identity is fp.
func (f *fingerprints) get(root, rel, op string, fp fingerprint) (string, bool) {
	if f == nil {
		return "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.entries[fpKey{root, rel, op}]
	if !ok || e.fp != fp {
		return "", false
	}
	return e.value, true
}

// put remembers an observation of root/rel made at readStart, if the path had not
// changed for racyWindow before that.
func (f *fingerprints) put(root, rel, op string, fp fingerprint, value string, readStart time.Time) {
	if f == nil {
		return
	}
	limit := readStart.Add(-racyWindow).UnixNano()
	if fp.mtime >= limit || fp.ctime >= limit {
		return // racily clean: observe it again next time
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) >= f.max {
		clear(f.entries)
	}
	f.entries[fpKey{root, rel, op}] = fpEntry{fp: fp, value: value}
}

// unchangedFast validates set under root with one lstat per path where it can,
// falling back to full observation (observe) for anything unusual: symbolic links,
// errors other than "does not exist", unknown fingerprints. A "missing" input whose
// directory has not changed since it was last seen needs no system call at all.
func unchangedFast(root string, set *InputSet, fps *fingerprints) bool {
	start := time.Now()
	var s *sandboxFS // opened on first need
	defer func() {
		if s != nil {
			s.Close()
		}
	}()
	abs := func(rel string) string {
		if rel == "." {
			return root
		}
		return root + "/" + rel
	}
	type stat struct {
		path string
		fp   fingerprint
		kind string
		err  error
	}
	// Inputs are sorted by path and directories come before their entries, so a
	// short list of recent results serves as the memo.
	var memo [8]stat
	memoN := 0
	lstat := func(rel string) stat {
		for i := 0; i < memoN && i < len(memo); i++ {
			if memo[i].path == rel {
				return memo[i]
			}
		}
		fp, kind, err := lstatFingerprint(abs(rel))
		st := stat{rel, fp, kind, err}
		memo[memoN%len(memo)] = st
		memoN++
		return st
	}
	slow := func(in Input) bool {
		if s == nil {
			var err error
			if s, err = openSandbox(root, nil); err != nil {
				return false
			}
		}
		t := time.Now()
		v := observe(s, in.Op, in.Path)
		if v == in.Value && (in.Op == opRead || in.Op == opList) {
			if fp, kind, err := lstatFingerprint(abs(in.Path)); err == nil && kind != "link" {
				fps.put(root, in.Path, in.Op, fp, v, t)
			}
		}
		return v == in.Value
	}
	// Every directory on the way to an input must still be a real directory (not a
	// symlink): then each input path names a file physically under the root, and a
	// plain lstat of it is as good as a sandboxed one.
	// A directory checked here had its own ancestors checked before it, and sorted
	// inputs share their directories, so the walk up stops at the last one checked.
	var checked [4]string
	checkedN := 0
	isChecked := func(d string) bool {
		for i := 0; i < checkedN && i < len(checked); i++ {
			if checked[i] == d {
				return true
			}
		}
		return false
	}
	for _, in := range set.Inputs {
		if in.Path == "." {
			continue
		}
		for d := parentOf(in.Path); d != "." && !isChecked(d); d = parentOf(d) {
			if st := lstat(d); st.err != nil || st.kind != "dir" {
				return unchangedSlow(root, set)
			}
			checked[checkedN%len(checked)] = d
			checkedN++
		}
	}
	// A path confirmed missing while its directory had the identity it has now is
	// still missing (adding an entry changes the directory's mtime and ctime).
	stillMissing := func(rel string) bool {
		st := lstat(parentOf(rel))
		if st.err != nil || st.kind != "dir" {
			return false
		}
		_, ok := fps.get(root, rel, opMissing, st.fp)
		return ok
	}
	var confirmedMissing []string
	for _, in := range set.Inputs {
		if in.Value == "missing" && in.Path != "." && stillMissing(in.Path) {
			continue
		}
		st := lstat(in.Path)
		switch {
		case st.err != nil && isNotExist(st.err):
			if in.Value != "missing" {
				return false
			}
			confirmedMissing = append(confirmedMissing, in.Path)
			continue
		case st.err != nil || st.kind == "link":
			if !slow(in) {
				return false
			}
			continue
		}
		switch in.Op {
		case opStat, opLstat:
			if in.Value != st.kind {
				return false
			}
		case opResolve:
			if in.Value != in.Path+"|"+st.kind {
				return false
			}
		case opRead, opList:
			if in.Op == opRead && st.kind == "dir" {
				if in.Value != "dir" {
					return false
				}
				continue
			}
			if v, ok := fps.get(root, in.Path, in.Op, st.fp); ok {
				if v != in.Value {
					return false
				}
				continue
			}
			if !slow(in) {
				return false
			}
		default:
			return false
		}
	}
	for _, rel := range confirmedMissing {
		if st := lstat(parentOf(rel)); st.err == nil && st.kind == "dir" {
			fps.put(root, rel, opMissing, st.fp, "", start)
		}
	}
	return true
}

// opMissing keys, for a path found missing, the fingerprint its directory had then.
const opMissing = "missing"
