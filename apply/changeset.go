package apply

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
)

// Action is what a sync did (or, in dry-run mode, would do) to one object.
type Action string

const (
	// Created: the object did not exist and was created (hooks: created and run).
	Created Action = "created"
	// Configured: the object existed and was changed (re-created, when the message says so).
	Configured Action = "configured"
	// Unchanged: the object was already as desired; nothing was written.
	Unchanged Action = "unchanged"
	// Deleted: the object was pruned (or a hook removed by its delete policy).
	Deleted Action = "deleted"
	// Skipped: the object was left alone; the message says why.
	Skipped Action = "skipped"
	// Failed: the write (or the hook, or the wait) failed; Err says why.
	Failed Action = "failed"
)

// Entry is what happened to one object.
type Entry struct {
	Ref    Ref
	Action Action
	// Phase and Wave of the object in the plan (Phase is Prune for pruned objects).
	Phase Phase
	Wave  int
	// Hook is set for hook objects.
	Hook bool
	// Paths are the changed field paths the diff found (configured objects).
	Paths []string
	// Message explains the action in a few words (may be empty).
	Message string
	// Err is set for failed entries.
	Err error
}

// ChangeSet is the outcome of one sync: one entry per planned object in plan order,
// then the pruned objects in prune order, then the SyncFail hooks when they ran.
type ChangeSet struct {
	// DryRun is set when nothing was persisted: the entries say what would happen.
	DryRun  bool
	Entries []Entry
}

// Count returns the number of entries with action a.
func (c *ChangeSet) Count(a Action) int {
	n := 0
	for _, e := range c.Entries {
		if e.Action == a {
			n++
		}
	}
	return n
}

// Err joins the errors of the failed entries (nil when none failed).
func (c *ChangeSet) Err() error {
	var errs []error
	for _, e := range c.Entries {
		if e.Err != nil {
			errs = append(errs, e.Err)
		}
	}
	return errors.Join(errs...)
}

// Entry returns the first entry for the object key names (Ref.Key) in phase p, and
// whether there is one.
func (c *ChangeSet) Entry(ref Ref, p Phase) (Entry, bool) {
	for _, e := range c.Entries {
		if e.Ref.Key() == ref.Key() && e.Phase == p {
			return e, true
		}
	}
	return Entry{}, false
}

// Summary renders "3 created, 1 configured, 10 unchanged" (actions with a count only).
func (c *ChangeSet) Summary() string {
	var parts []string
	for _, a := range []Action{Created, Configured, Unchanged, Deleted, Skipped, Failed} {
		if n := c.Count(a); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, a))
		}
	}
	if len(parts) == 0 {
		return "nothing to do"
	}
	s := strings.Join(parts, ", ")
	if c.DryRun {
		s += " (dry run)"
	}
	return s
}

// String prints the change set as a table, one entry a line, then the summary.
func (c *ChangeSet) String() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tWAVE\tOBJECT\tACTION\tMESSAGE")
	for _, e := range c.Entries {
		msg := e.Message
		if e.Err != nil {
			if msg != "" {
				msg += ": "
			}
			msg += e.Err.Error()
		}
		if len(e.Paths) > 0 && e.Action == Configured {
			if msg != "" {
				msg += "; "
			}
			msg += "changed " + strings.Join(limit(e.Paths, 5), ", ")
		}
		wave := fmt.Sprint(e.Wave)
		if e.Phase == Prune {
			wave = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Phase, wave, e.Ref, e.Action, oneLine(msg))
	}
	_ = tw.Flush()
	b.WriteString(c.Summary())
	b.WriteString("\n")
	return b.String()
}

func limit(s []string, n int) []string {
	if len(s) <= n {
		return s
	}
	return append(append([]string(nil), s[:n]...), fmt.Sprintf("... (%d more)", len(s)-n))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
