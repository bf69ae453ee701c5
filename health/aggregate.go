package health

import (
	"fmt"
	"strings"
)

// Summary is the health of a set of objects: the worst Status among them and the
// objects that have it.
type Summary struct {
	// Status is the worst status in the order
	// Healthy < Suspended < Progressing < Unknown < Missing < Degraded;
	// Healthy for an empty set.
	Status Status
	// Objects are the objects whose status is Status, in input order.
	Objects []ObjectResult
	// Total is the number of objects aggregated.
	Total int
}

// Aggregate returns the worst status of results and the objects that make it so.
func Aggregate(results []ObjectResult) Summary {
	sum := Summary{Status: Healthy, Total: len(results)}
	for _, r := range results {
		switch {
		case r.Status.Worse(sum.Status):
			sum.Status = r.Status
			sum.Objects = append(sum.Objects[:0], r)
		case r.Status == sum.Status:
			sum.Objects = append(sum.Objects, r)
		}
	}
	return sum
}

// String renders "Degraded: 1/4 objects: Job.batch/shop/migrate: Job failed: ...".
func (s Summary) String() string {
	if len(s.Objects) == 0 {
		return fmt.Sprintf("%s: %d objects", s.Status, s.Total)
	}
	return fmt.Sprintf("%s: %d/%d objects: %s", s.Status, len(s.Objects), s.Total, describeAll(s.Objects, false))
}

// describeAll renders "ref: Status: message; ..." in the order given, or
// "ref: message; ..." without the status when withStatus is false.
func describeAll(results []ObjectResult, withStatus bool) string {
	parts := make([]string, len(results))
	for i, r := range results {
		if withStatus {
			parts[i] = r.String()
		} else {
			parts[i] = r.Ref.String() + ": " + r.Message
		}
	}
	return strings.Join(parts, "; ")
}
