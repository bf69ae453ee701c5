package gitops

import (
	"context"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/util/workqueue"
)

// RunnerOptions tune a Runner; zero values take the defaults.
type RunnerOptions struct {
	// Concurrency is the number of Applications reconciled at once (default 4).
	Concurrency int
	// Interval is the poll interval of Applications that set none (default 3 minutes).
	Interval time.Duration
	// Jitter spreads the polls: each wait is Interval plus up to this fraction of it
	// (default 0.1).
	Jitter float64
	// HealBackoff and MaxHealBackoff bound the exponential delay between selfHeal
	// syncs of an Application that keeps drifting (defaults 1s and 5 minutes), so a
	// fight with another controller does not hot-loop.
	HealBackoff, MaxHealBackoff time.Duration
	// OnResult, when set, is called after every reconcile (from a worker goroutine).
	OnResult func(app *Application, res *Result, err error)
}

// Runner keeps many Applications converged: each is reconciled at its interval (with
// jitter), at once on Refresh (a webhook) and, with selfHeal, when a managed object
// drifts (with exponential backoff per Application).
type Runner struct {
	rec   *Reconciler
	opts  RunnerOptions
	queue workqueue.TypedRateLimitingInterface[string]

	mu       sync.Mutex
	apps     map[string]*Application
	triggers map[string]Trigger
	results  map[string]*Result
}

// NewRunner returns a Runner over rec. Only one Runner may use a Reconciler.
func NewRunner(rec *Reconciler, opts RunnerOptions) *Runner {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Interval <= 0 {
		opts.Interval = 3 * time.Minute
	}
	if opts.Jitter <= 0 {
		opts.Jitter = 0.1
	}
	if opts.HealBackoff <= 0 {
		opts.HealBackoff = time.Second
	}
	if opts.MaxHealBackoff <= 0 {
		opts.MaxHealBackoff = 5 * time.Minute
	}
	rn := &Runner{
		rec:  rec,
		opts: opts,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](opts.HealBackoff, opts.MaxHealBackoff),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "driftless"}),
		apps: map[string]*Application{}, triggers: map[string]Trigger{}, results: map[string]*Result{},
	}
	rec.OnDrift(rn.onDrift)
	return rn
}

// Add starts managing an Application (or replaces its spec) and queues a reconcile.
func (rn *Runner) Add(app *Application) {
	rn.mu.Lock()
	rn.apps[app.Key()] = app
	rn.setTrigger(app.Key(), TriggerManual)
	rn.mu.Unlock()
	rn.queue.Add(app.Key())
}

// Remove stops managing an Application (its objects stay in the cluster).
func (rn *Runner) Remove(key string) {
	rn.mu.Lock()
	delete(rn.apps, key)
	delete(rn.results, key)
	rn.mu.Unlock()
	rn.queue.Forget(key)
}

// Refresh reconciles an Application now (what a Git webhook calls). It reports
// whether the Application is managed.
func (rn *Runner) Refresh(key string) bool {
	rn.mu.Lock()
	_, ok := rn.apps[key]
	if ok {
		rn.setTrigger(key, TriggerWebhook)
	}
	rn.mu.Unlock()
	if ok {
		rn.queue.Add(key)
	}
	return ok
}

// Result returns the last Result of an Application (nil before its first reconcile).
func (rn *Runner) Result(key string) *Result {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.results[key]
}

// Keys returns the managed Applications' keys, sorted.
func (rn *Runner) Keys() []string {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	keys := make([]string, 0, len(rn.apps))
	for k := range rn.apps {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// onDrift is called by the Reconciler when a managed object drifted: the Application
// is queued with per-Application exponential backoff.
func (rn *Runner) onDrift(key string) {
	rn.mu.Lock()
	_, ok := rn.apps[key]
	if ok {
		rn.setTrigger(key, TriggerDrift)
	}
	rn.mu.Unlock()
	if ok {
		rn.queue.AddRateLimited(key)
	}
}

// setTrigger keeps the most specific pending trigger. Callers hold mu.
func (rn *Runner) setTrigger(key string, t Trigger) {
	if cur, ok := rn.triggers[key]; ok && cur != TriggerInterval && t == TriggerInterval {
		return
	}
	rn.triggers[key] = t
}

// Run reconciles until ctx is done, then lets in-flight reconciles finish and returns.
func (rn *Runner) Run(ctx context.Context) error {
	log := logr.FromContextOrDiscard(ctx)
	var wg sync.WaitGroup
	for range rn.opts.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rn.work(ctx, log) {
			}
		}()
	}
	<-ctx.Done()
	rn.queue.ShutDownWithDrain()
	wg.Wait()
	return nil
}

func (rn *Runner) work(ctx context.Context, log logr.Logger) bool {
	key, shutdown := rn.queue.Get()
	if shutdown {
		return false
	}
	defer rn.queue.Done(key)
	rn.mu.Lock()
	app, ok := rn.apps[key]
	trigger, has := rn.triggers[key]
	delete(rn.triggers, key)
	rn.mu.Unlock()
	if !ok {
		return true
	}
	if !has {
		trigger = TriggerInterval
	}
	// A reconcile started for shutdown still finishes: it gets its own context.
	rctx := logr.NewContext(context.WithoutCancel(ctx), log)
	res, err := rn.rec.Reconcile(rctx, app, trigger)
	if err != nil {
		log.Error(err, "reconcile", "app", key, "trigger", trigger)
	}
	rn.mu.Lock()
	if _, still := rn.apps[key]; still {
		rn.results[key] = res
	}
	rn.mu.Unlock()
	if trigger != TriggerDrift {
		rn.queue.Forget(key) // a calm reconcile resets the selfHeal backoff
	}
	if rn.opts.OnResult != nil {
		rn.opts.OnResult(app, res, err)
	}
	if ctx.Err() == nil {
		rn.queue.AddAfter(key, rn.jittered(app.IntervalOr(rn.opts.Interval)))
	}
	return true
}

func (rn *Runner) jittered(d time.Duration) time.Duration {
	return d + time.Duration(rand.Float64()*rn.opts.Jitter*float64(d))
}
