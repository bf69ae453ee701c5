// Command controller is an example GitOps controller built on driftless: it watches
// Argo CD-style Application and AppProject objects (install config/crds.yaml; the
// seed's Application manifests apply as they are), keeps each Application synced with
// a gitops.Runner, and writes the outcome back to the Application's status (sync
// status, revision, health, conditions, last sync). The audit trail goes to Kubernetes
// Events on each Application and, with --history, to a JSON-lines file.
//
//	kubectl apply -f examples/controller/config/crds.yaml
//	go run ./examples/controller --kubeconfig ~/.kube/config
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/driftless-dev/driftless/gitops"
)

// options are the controller's flags.
type options struct {
	kubeconfig   string
	namespace    string
	history      string
	concurrency  int
	interval     time.Duration
	metricsAddr  string
	leaderElect  bool
	leaseNS      string
	identity     string
	verbose      int
	sourcesCache string
}

func main() {
	// A FlagSet of our own: controller-runtime (linked through client-go helpers in
	// tests) registers a global --kubeconfig flag.
	fs := flag.NewFlagSet("controller", flag.ExitOnError)
	var o options
	fs.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG)")
	fs.StringVar(&o.namespace, "namespace", "", "watch Applications in this namespace only (default: all)")
	fs.StringVar(&o.history, "history", "", "append the audit trail to this JSON-lines file")
	fs.IntVar(&o.concurrency, "concurrency", 4, "Applications reconciled at once")
	fs.DurationVar(&o.interval, "interval", 3*time.Minute, "poll interval of Applications that set none")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this address (e.g. :8080)")
	fs.BoolVar(&o.leaderElect, "leader-elect", false, "run only while holding a Lease (for several replicas)")
	fs.StringVar(&o.leaseNS, "leader-elect-namespace", "default", "namespace of the leader election Lease")
	fs.StringVar(&o.identity, "identity", "", "leader election identity (default: hostname)")
	fs.IntVar(&o.verbose, "v", 0, "log verbosity")
	fs.StringVar(&o.sourcesCache, "cache-dir", "", "Git mirror cache (default: the user cache dir)")
	_ = fs.Parse(os.Args[1:])

	log := funcr.New(func(prefix, args string) { fmt.Fprintln(os.Stderr, prefix, args) }, funcr.Options{Verbosity: o.verbose})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	ctx = logr.NewContext(ctx, log)
	err := start(ctx, o)
	stop()
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error(err, "controller failed")
		os.Exit(1)
	}
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
}

// start runs the controller, under leader election when asked.
func start(ctx context.Context, o options) error {
	cfg, err := restConfig(o.kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	if !o.leaderElect {
		return run(ctx, cfg, o)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	id := o.identity
	if id == "" {
		id, _ = os.Hostname()
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, o.leaseNS, "driftless-controller", cs.CoreV1(), cs.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: id})
	if err != nil {
		return err
	}
	var runErr error
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true,
		LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) { runErr = run(ctx, cfg, o) },
			OnStoppedLeading: func() {},
		},
	})
	return runErr
}

// run is the controller proper: it returns when ctx is done.
func run(ctx context.Context, cfg *rest.Config, o options) error {
	log := logr.FromContextOrDiscard(ctx)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	history := &gitops.History{}
	recorders := gitops.Recorders{history, &gitops.EventRecorder{Client: cs, Component: "driftless-controller"}}
	if o.history != "" {
		jl, closer, err := gitops.OpenJSONLines(o.history)
		if err != nil {
			return err
		}
		defer closeQuietly(closer)
		recorders = append(recorders, jl)
	}
	metrics := gitops.NewMetrics()
	ropts := gitops.ReconcilerOptions{Config: cfg, Recorder: recorders, Metrics: metrics}
	if o.sourcesCache != "" {
		if ropts.Sources, err = newDiskCache(o.sourcesCache); err != nil {
			return err
		}
	}
	rec, err := gitops.NewReconciler(ropts)
	if err != nil {
		return err
	}
	defer rec.Close()
	c := &controller{dyn: dyn, rec: rec, namespace: o.namespace, log: log}
	c.runner = gitops.NewRunner(rec, gitops.RunnerOptions{Concurrency: o.concurrency, Interval: o.interval,
		OnResult: func(app *gitops.Application, res *gitops.Result, _ error) {
			var last *gitops.SyncRecord
			if recs := history.Records(app.Key()); len(recs) > 0 {
				last = &recs[len(recs)-1]
			}
			c.writeStatus(ctx, app, res, last)
		}})
	if o.metricsAddr != "" {
		reg := prometheus.NewRegistry()
		reg.MustRegister(metrics)
		srv := &http.Server{Addr: o.metricsAddr, Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.ListenAndServe() }()
		defer closeQuietly(srv)
	}
	if err := c.watch(ctx); err != nil {
		return err
	}
	log.Info("controller started", "namespace", o.namespace)
	return c.runner.Run(ctx)
}

func closeQuietly(c io.Closer) { _ = c.Close() }
