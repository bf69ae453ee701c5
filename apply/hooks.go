package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/driftless-dev/driftless/health"
)

// applyHook creates one hook object. With the BeforeHookCreation policy (the default)
// a previous incarnation is deleted first and waited for; otherwise the hook is
// applied like any object (an unchanged, completed Job then counts as run again).
func (r *run) applyHook(ctx context.Context, t *target) Entry {
	opts := r.a.opts
	if opts.DryRun && t.ref.Namespace != "" && r.dryCreated["Namespace/"+t.ref.Namespace] {
		return Entry{Action: Created, Message: fmt.Sprintf("hook would run (not sent: its namespace %s is created by this sync)", t.ref.Namespace)}
	}
	live, err := r.get(ctx, t)
	if err != nil {
		return Entry{Action: Failed, Err: err}
	}
	var notes []string
	if live != nil && t.hasPolicy(BeforeHookCreation) {
		if opts.DryRun {
			return Entry{Action: Created, Message: "hook would run (the previous one deleted first: BeforeHookCreation)"}
		}
		how, err := r.deleteAndWait(ctx, t, live)
		if err != nil {
			return Entry{Action: Failed, Message: "deleting the previous hook (BeforeHookCreation)", Err: err}
		}
		notes = append(notes, "previous hook deleted ("+how+")")
		live = nil
	}
	if _, err := r.ssa(ctx, t, t.desired, opts.Force); err != nil {
		if fields, ok := immutableFields(err); ok && live != nil {
			if t.Recreate || opts.Recreate {
				return r.recreate(ctx, t, t.desired, live, fields)
			}
			return Entry{Action: Failed, Err: &ImmutableError{Ref: t.ref, Fields: fields, Err: err}}
		}
		return Entry{Action: Failed, Err: &ObjectError{Ref: t.ref, Op: "apply hook", Err: err}}
	}
	action := Created
	if live != nil {
		action = Configured
	}
	if opts.DryRun {
		notes = append(notes, "hook would run")
	}
	return Entry{Action: action, Message: strings.Join(notes, "; ")}
}

// finishHooks waits until every hook of a wave that was created has succeeded (its
// health is Healthy: a Job is Complete) or failed (Degraded: a Job Failed), or until
// HookTimeout, then applies the HookSucceeded and HookFailed delete policies. It
// returns an error per hook that did not succeed.
func (r *run) finishHooks(ctx context.Context, hooks []*target) []error {
	if r.a.opts.DryRun {
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	var running []*target
	for _, t := range hooks {
		if e := r.entryOf(t); e.Action == Created || e.Action == Configured {
			running = append(running, t)
		}
	}
	if len(running) == 0 {
		return nil
	}
	outcome := r.waitHooks(ctx, running)
	var errs []error
	for i, t := range running {
		e := r.entryOf(t)
		res := outcome[i]
		succeeded := res.Status == health.Healthy
		var msgs []string
		if e.Message != "" {
			msgs = append(msgs, e.Message)
		}
		if succeeded {
			msgs = append(msgs, "hook succeeded")
		} else {
			err := &ObjectError{Ref: t.ref, Op: "hook", Err: fmt.Errorf("did not succeed: %s", res)}
			e.Action, e.Err = Failed, err
			errs = append(errs, err)
		}
		if (succeeded && t.hasPolicy(HookSucceeded)) || (!succeeded && t.hasPolicy(HookFailed) && res.Status == health.Degraded) {
			policy := HookSucceeded
			if !succeeded {
				policy = HookFailed
			}
			if err := r.deleteHook(ctx, t); err != nil {
				msgs = append(msgs, fmt.Sprintf("delete (%s) failed: %v", policy, err))
			} else {
				msgs = append(msgs, fmt.Sprintf("deleted (%s)", policy))
			}
		}
		e.Message = strings.Join(msgs, "; ")
		log.V(1).Info("hook finished", "object", t.ref.String(), "health", res.String())
	}
	return errs
}

// waitHooks polls the hooks until each is Healthy or Degraded, or HookTimeout passes.
// It returns the last result of each hook, in input order.
func (r *run) waitHooks(ctx context.Context, hooks []*target) []health.Result {
	out := make([]health.Result, len(hooks))
	done := make([]bool, len(hooks))
	ctx, cancel := context.WithTimeout(ctx, r.a.opts.HookTimeout)
	defer cancel()
	for {
		pending := 0
		for i, t := range hooks {
			if done[i] {
				continue
			}
			obj, err := r.get(ctx, t)
			switch {
			case err != nil:
				out[i] = health.Result{Status: health.Unknown, Message: err.Error()}
			case obj == nil:
				out[i], done[i] = health.Result{Status: health.Missing, Message: "hook object disappeared"}, true
			default:
				res, err := r.a.opts.Checker.Health(obj)
				out[i] = res
				if err == nil && (res.Status == health.Healthy || res.Status == health.Degraded) {
					done[i] = true
				}
			}
			if !done[i] {
				pending++
			}
		}
		if pending == 0 {
			return out
		}
		timer := time.NewTimer(r.a.opts.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			for i := range hooks {
				if !done[i] {
					out[i].Message = fmt.Sprintf("not finished after %s (last: %s)", r.a.opts.HookTimeout, out[i])
					if errors.Is(ctx.Err(), context.Canceled) {
						out[i].Message = "canceled (last: " + out[i].String() + ")"
					}
					if out[i].Status == health.Healthy || out[i].Status == "" {
						out[i].Status = health.Unknown
					}
				}
			}
			return out
		case <-timer.C:
		}
	}
}

// deleteHook deletes a finished hook (background propagation: a Job's Pods follow).
func (r *run) deleteHook(ctx context.Context, t *target) error {
	policy := metav1.DeletePropagationBackground
	err := r.a.resource(t.mapping, t.ref.Namespace).Delete(ctx, t.ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
