package health

import (
	"context"
	"fmt"
	"time"
)

// TimeoutError is returned by Wait when the objects are not all Healthy in time (its
// own Timeout, or the deadline of the caller's context). errors.Is(err,
// context.DeadlineExceeded) holds.
type TimeoutError struct {
	// Timeout is how long Wait waited.
	Timeout time.Duration
	// Pending are the objects that were not Healthy at the last check, in input order,
	// each with its status and the reason.
	Pending []ObjectResult
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s waiting for %d objects to become healthy: %s",
		e.Timeout, len(e.Pending), describeAll(e.Pending, true))
}

// Unwrap returns context.DeadlineExceeded.
func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

// DegradedError is returned by Wait with FailFast as soon as an object is Degraded.
type DegradedError struct {
	// Degraded are the objects found Degraded, in input order.
	Degraded []ObjectResult
}

func (e *DegradedError) Error() string {
	return fmt.Sprintf("%d objects degraded: %s", len(e.Degraded), describeAll(e.Degraded, false))
}
