package gitops

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/driftless-dev/driftless/health"
)

// Result is what one reconcile found and did.
type Result struct {
	App      string
	Revision string
	// Sync compares the cluster with Git after the reconcile (Synced when an automated
	// sync succeeded).
	Sync SyncStatus
	// Health is the worst health of the Application's objects, with a message.
	Health        health.Status
	HealthMessage string
	// Objects has one entry per rendered object (in apply plan order) and per object
	// pruned or left to prune.
	Objects []ObjectResult
	// Conditions are the problems found (invalid spec, policy, source, render, sync).
	Conditions []Condition
	// Synced reports whether this reconcile wrote to the cluster (automated sync ran).
	SyncRan bool
	// Cached reports that nothing changed (same revision, same render, no drift): no
	// render, no diff and no API request was made.
	Cached bool
	// Timings per stage: source, render, diff, apply, health, total.
	Timings map[string]time.Duration
	Trigger Trigger
}

// ObjectResult is one object's state after the reconcile.
type ObjectResult struct {
	// Ref names the object: Kind/namespace/name (Kind/name when cluster-scoped).
	Ref string
	// Action is what the sync did (created, configured, unchanged, deleted, skipped,
	// failed) or, without automated sync, what it would do (create, update, prune).
	Action string
	// Paths are the changed field paths the diff found (for OutOfSync objects).
	Paths []string
	// Diff is the masked unified diff (Secret values never appear).
	Diff          string
	Health        health.Status
	HealthMessage string
	Error         string

	key string // group/kind/namespace/name, as apply.Ref.Key
}

// Err joins the Result's conditions into an error (nil when there are none).
func (r *Result) Err() error {
	if len(r.Conditions) == 0 {
		return nil
	}
	msgs := make([]string, len(r.Conditions))
	for i, c := range r.Conditions {
		msgs[i] = c.Type + ": " + c.Message
	}
	return fmt.Errorf("application %s: %s", r.App, strings.Join(msgs, "; "))
}

// Print writes a human summary: one line for the Application and a table of objects.
func (r *Result) Print(w io.Writer) {
	fmt.Fprintf(w, "%s  revision %s  %s  health %s", r.App, shortRev(r.Revision), r.Sync, r.Health)
	if r.HealthMessage != "" {
		fmt.Fprintf(w, " (%s)", r.HealthMessage)
	}
	if r.Cached {
		fmt.Fprint(w, "  [no change: nothing rendered, diffed or requested]")
	}
	fmt.Fprintln(w)
	for _, c := range r.Conditions {
		fmt.Fprintf(w, "  %s: %s\n", c.Type, c.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, o := range r.Objects {
		detail := strings.Join(o.Paths, ", ")
		if o.Error != "" {
			detail = o.Error
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", o.Ref, o.Action, o.Health, detail)
	}
	_ = tw.Flush()
}

// Condition types.
const (
	ConditionInvalidSpec     = "InvalidSpecError"
	ConditionPolicy          = "PolicyViolation"
	ConditionSource          = "SourceError"
	ConditionRender          = "RenderError"
	ConditionComparison      = "ComparisonError"
	ConditionSync            = "SyncError"
	ConditionStaleRevision   = "StaleRevision"
	ConditionOrphanedObjects = "PruneRequired"
)

func (r *Result) addCondition(typ, format string, args ...any) {
	r.Conditions = append(r.Conditions, Condition{Type: typ, Message: fmt.Sprintf(format, args...)})
}

func (r *Result) time(stage string, start time.Time) {
	if r.Timings == nil {
		r.Timings = map[string]time.Duration{}
	}
	r.Timings[stage] += time.Since(start)
}

// aggregateHealth sets the Result's health from its objects.
func (r *Result) aggregateHealth() {
	worst := health.Healthy
	var bad []string
	for _, o := range r.Objects {
		if o.Health == "" {
			continue
		}
		if o.Health.Worse(worst) {
			worst, bad = o.Health, nil
		}
		if o.Health == worst && worst != health.Healthy {
			bad = append(bad, o.Ref+": "+o.HealthMessage)
		}
	}
	sort.Strings(bad)
	if len(bad) > 3 {
		bad = append(bad[:3], fmt.Sprintf("and %d more", len(bad)-3))
	}
	r.Health, r.HealthMessage = worst, strings.Join(bad, "; ")
}
