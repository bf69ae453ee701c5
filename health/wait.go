package health

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Defaults Wait applies to the zero fields of WaitOptions.
const (
	DefaultWaitInterval    = 2 * time.Second
	DefaultWaitTimeout     = 5 * time.Minute
	DefaultWaitConcurrency = 4
)

// WaitOptions tunes Wait. The zero value polls every 2 s for at most 5 minutes with the
// built-in checks and keeps waiting when an object is Degraded.
type WaitOptions struct {
	// Interval between two checks of the whole set; 0 means DefaultWaitInterval.
	Interval time.Duration
	// Timeout bounds the whole wait; 0 means DefaultWaitTimeout. A deadline on the
	// caller's context that comes earlier wins.
	Timeout time.Duration
	// FailFast returns a *DegradedError as soon as a check finds any object Degraded,
	// instead of waiting for it to recover (a new rollout can heal a Deployment whose
	// progress deadline was exceeded, so this is not the default).
	FailFast bool
	// Checker judges each object; nil means the built-in checks only.
	Checker *Checker
	// Concurrency bounds the Get calls in flight during one check; 0 means
	// DefaultWaitConcurrency.
	Concurrency int
	// OnPoll, when set, is called after every check of the whole set with the result
	// of each object in input order (for progress output). It runs on Wait's goroutine,
	// so Wait does not go on until it returns; it must not modify the slice.
	OnPoll func(results []ObjectResult)
}

// Wait checks the objects refs names, reading them with getter, until all of them are
// Healthy in the same check. It returns the result of every object from the last
// complete check, in input order, and:
//   - nil once all are Healthy;
//   - a *DegradedError when FailFast is set and an object is Degraded;
//   - a *TimeoutError, listing every object not yet Healthy and why, when the timeout
//     or the context's deadline passes first;
//   - an error wrapping context.Canceled when the context is canceled.
//
// A missing object is Missing and Wait keeps waiting for it to appear. An object that
// cannot be read (an API error) is Unknown for that check. Every object is checked on
// every round, so an object that turns unhealthy again is noticed: the set must be
// Healthy at one moment, not each object at some moment.
//
// The checks judge a workload by its controller's status, and judge a status older than
// the object's latest generation as Progressing, so Wait called right after an apply
// does not take the previous rollout's status for the new one.
func Wait(ctx context.Context, getter Getter, refs []Ref, opts WaitOptions) ([]ObjectResult, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	interval := cmpOr(opts.Interval, DefaultWaitInterval)
	timeout := cmpOr(opts.Timeout, DefaultWaitTimeout)
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), 0).Round(time.Millisecond)
	}
	conc := cmpOr(opts.Concurrency, DefaultWaitConcurrency)
	log := logr.FromContextOrDiscard(ctx).WithName("health")

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last []ObjectResult
	for {
		results := checkAll(ctx, log, getter, refs, opts.Checker, conc)
		pending, degraded := notHealthy(results)
		if ctx.Err() != nil && len(pending) > 0 {
			break // the round was cut short and its reads failed for that reason: keep the previous one
		}
		logChanges(log, last, results)
		last = results
		if opts.OnPoll != nil {
			opts.OnPoll(results)
		}
		if len(pending) == 0 {
			return results, nil
		}
		if opts.FailFast && len(degraded) > 0 {
			return results, &DegradedError{Degraded: degraded}
		}
		if !sleep(ctx, interval) {
			break
		}
	}

	if last == nil {
		last = make([]ObjectResult, len(refs))
		for i, ref := range refs {
			last[i] = ObjectResult{Ref: ref, Result: Result{Status: Unknown, Message: "not checked before the deadline"}}
		}
	}
	pending, _ := notHealthy(last)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return last, &TimeoutError{Timeout: timeout, Pending: pending}
	}
	return last, fmt.Errorf("waiting for %d objects to become healthy (%s): %w",
		len(pending), describeAll(pending, true), ctx.Err())
}

// checkAll reads and judges every object, at most conc at a time. Goroutine i writes
// only results[i], so no lock is needed and the order is the input order.
func checkAll(ctx context.Context, log logr.Logger, getter Getter, refs []Ref, checker *Checker, conc int) []ObjectResult {
	results := make([]ObjectResult, len(refs))
	var g errgroup.Group
	g.SetLimit(conc)
	for i, ref := range refs {
		g.Go(func() error {
			results[i] = checkOne(ctx, log, getter, ref, checker)
			return nil
		})
	}
	_ = g.Wait() // the goroutines never fail: a failed read is an Unknown result
	return results
}

// checkOne reads and judges one object.
func checkOne(ctx context.Context, log logr.Logger, getter Getter, ref Ref, checker *Checker) ObjectResult {
	obj, err := getter.Get(ctx, ref)
	switch {
	case apierrors.IsNotFound(err):
		return ObjectResult{Ref: ref, Result: Result{Status: Missing, Message: "not found"}}
	case meta.IsNoMatchError(err):
		return ObjectResult{Ref: ref, Result: Result{Status: Missing, Message: "kind not served by the cluster: " + err.Error()}}
	case err != nil:
		return ObjectResult{Ref: ref, Result: Result{Status: Unknown, Message: "cannot read: " + err.Error()}}
	}
	res, err := checker.Health(obj)
	if err != nil {
		log.V(1).Info("cannot judge health", "object", ref.String(), "error", err.Error())
	}
	return ObjectResult{Ref: ref, Result: res}
}

// notHealthy returns the results that are not Healthy and, among them, the Degraded ones.
func notHealthy(results []ObjectResult) (pending, degraded []ObjectResult) {
	for _, r := range results {
		if r.Status != Healthy {
			pending = append(pending, r)
		}
		if r.Status == Degraded {
			degraded = append(degraded, r)
		}
	}
	return pending, degraded
}

// logChanges logs, at V(1), every object whose result differs from the previous check.
func logChanges(log logr.Logger, prev, cur []ObjectResult) {
	for i, r := range cur {
		if prev != nil && prev[i].Result == r.Result {
			continue
		}
		log.V(1).Info("health", "object", r.Ref.String(), "status", string(r.Status), "message", r.Message)
	}
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// cmpOr returns v, or def when v is not positive.
func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
