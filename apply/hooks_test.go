package apply_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/driftless-dev/driftless/apply"
	"github.com/driftless-dev/driftless/gitopstest"
	"github.com/driftless-dev/driftless/health"
)

// job is a hook Job for phase with delete policies (empty: the default).
func job(name, phase, policies string) *unstructured.Unstructured {
	ann := []string{apply.AnnotationHook, phase}
	if policies != "" {
		ann = append(ann, "argocd.argoproj.io/hook-delete-policy", policies)
	}
	u := obj("batch/v1", "Job", "", name, ann...)
	u.Object["spec"] = map[string]any{
		"backoffLimit": int64(0),
		"template": map[string]any{"spec": map[string]any{
			"restartPolicy": "Never",
			"containers":    []any{map[string]any{"name": "run", "image": "busybox:1.36", "command": []any{"true"}}},
		}},
	}
	return u
}

// jobStatus is a finished Job's status as the Job controller writes it.
func jobStatus(succeeded bool) map[string]any {
	now := metav1.Now().Rfc3339Copy().UTC().Format(time.RFC3339)
	cond := func(typ, reason string) map[string]any {
		return map[string]any{"type": typ, "status": "True", "reason": reason, "lastProbeTime": now, "lastTransitionTime": now}
	}
	if succeeded {
		return map[string]any{"startTime": now, "completionTime": now, "succeeded": int64(1),
			"conditions": []any{cond("SuccessCriteriaMet", "CompletionsReached"), cond("Complete", "CompletionsReached")}}
	}
	return map[string]any{"startTime": now, "failed": int64(1),
		"conditions": []any{cond("FailureTarget", "BackoffLimitExceeded"), cond("Failed", "BackoffLimitExceeded")}}
}

// finishJobs plays the Job controller: it waits for each named Job (a new incarnation:
// not one of the UIDs in skip) and writes a finished status through /status.
func finishJobs(t *testing.T, e *env, outcome map[string]bool, skip map[types.UID]bool) chan error {
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	errs := make(chan error, len(outcome))
	for name, ok := range outcome {
		go func() {
			errs <- e.updateStatus(ctx, t, obj("batch/v1", "Job", e.ns, name), jobStatus(ok), skip)
		}()
	}
	go func() {
		defer cancel()
		var first error
		for range outcome {
			if err := <-errs; err != nil && first == nil {
				first = err
			}
		}
		done <- first
	}()
	return done
}

func entriesByName(cs *apply.ChangeSet) map[string]apply.Entry {
	out := map[string]apply.Entry{}
	for _, en := range cs.Entries {
		out[string(en.Phase)+"/"+en.Ref.Name] = en
	}
	return out
}

func TestHooksAndDeletePolicies(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		objs := []*unstructured.Unstructured{
			cm("", "app", map[string]any{"k": "v"}),
			job("migrate", "PreSync", "HookSucceeded"),
			job("smoke", "PostSync", ""), // BeforeHookCreation by default
			job("report", "PostSync", "HookFailed"),
			job("cleanup", "SyncFail", ""),
		}
		jobs := finishJobs(t, e, map[string]bool{"migrate": true, "smoke": true, "report": true}, nil)
		cs, err := e.applier(apply.Options{}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		require.NoError(t, <-jobs)
		got := entriesByName(cs)
		require.Len(t, got, 4, "SyncFail hooks do not run: %s", cs)
		assert.Equal(t, apply.Created, got["PreSync/migrate"].Action)
		assert.Contains(t, got["PreSync/migrate"].Message, "hook succeeded; deleted (HookSucceeded)")
		assert.Equal(t, apply.Created, got["Sync/app"].Action)
		assert.Equal(t, apply.Created, got["PostSync/smoke"].Action)
		assert.Equal(t, "hook succeeded", got["PostSync/smoke"].Message)
		assert.Equal(t, "hook succeeded", got["PostSync/report"].Message, "HookFailed: kept after success")

		assert.Nil(t, e.get(t, obj("batch/v1", "Job", e.ns, "migrate")), "HookSucceeded deleted it")
		smoke := e.get(t, obj("batch/v1", "Job", e.ns, "smoke"))
		require.NotNil(t, smoke)
		assert.NotNil(t, e.get(t, obj("batch/v1", "Job", e.ns, "report")))
		assert.Nil(t, e.get(t, obj("batch/v1", "Job", e.ns, "cleanup")))

		inv, err := e.applier(apply.Options{}).Inventory().Load(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"app"}, names(inv), "hooks stay out of the inventory")

		// Second sync: smoke's previous run is deleted first (BeforeHookCreation), then it
		// runs again; report (HookFailed only) exists and is unchanged, so it counts as run.
		report := e.get(t, obj("batch/v1", "Job", e.ns, "report"))
		jobs = finishJobs(t, e, map[string]bool{"migrate": true, "smoke": true}, map[types.UID]bool{smoke.GetUID(): true})
		cs, err = e.applier(apply.Options{}).Apply(ctx, objs)
		require.NoError(t, err, "%s", cs)
		require.NoError(t, <-jobs)
		got = entriesByName(cs)
		assert.Contains(t, got["PostSync/smoke"].Message, "previous hook deleted (background propagation: it has no dependents)")
		newSmoke := e.get(t, obj("batch/v1", "Job", e.ns, "smoke"))
		require.NotNil(t, newSmoke)
		assert.NotEqual(t, smoke.GetUID(), newSmoke.GetUID())
		assert.Equal(t, report.GetUID(), e.get(t, obj("batch/v1", "Job", e.ns, "report")).GetUID())
		assert.Equal(t, apply.Unchanged, got["Sync/app"].Action)
	})
}

func TestFailingPostSyncHookRunsSyncFail(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		objs := []*unstructured.Unstructured{
			cm("", "app", map[string]any{"k": "v"}),
			job("smoke", "PostSync", "HookFailed"),
			job("notify", "SyncFail", "HookSucceeded"),
			job("later", "PostSync", ""),
		}
		objs[3].SetAnnotations(map[string]string{apply.AnnotationHook: "PostSync", apply.AnnotationSyncWave: "1"})
		jobs := finishJobs(t, e, map[string]bool{"smoke": false, "notify": true}, nil)
		cs, err := e.applier(apply.Options{}).Apply(ctx, objs)
		require.NoError(t, <-jobs)
		var se *apply.SyncError
		require.ErrorAs(t, err, &se, "%s", cs)
		assert.Equal(t, apply.PostSync, se.Phase)
		got := entriesByName(cs)
		assert.Equal(t, apply.Created, got["Sync/app"].Action)
		assert.Equal(t, apply.Failed, got["PostSync/smoke"].Action)
		assert.Contains(t, got["PostSync/smoke"].Err.Error(), "Job failed")
		assert.Contains(t, got["PostSync/smoke"].Message, "deleted (HookFailed)")
		assert.Equal(t, apply.Skipped, got["PostSync/later"].Action)
		assert.Equal(t, apply.Created, got["SyncFail/notify"].Action, "%s", cs)
		assert.Contains(t, got["SyncFail/notify"].Message, "hook succeeded; deleted (HookSucceeded)")
		assert.Nil(t, e.get(t, obj("batch/v1", "Job", e.ns, "smoke")))
		assert.Nil(t, e.get(t, obj("batch/v1", "Job", e.ns, "notify")))
		assert.Nil(t, e.get(t, obj("batch/v1", "Job", e.ns, "later")))
	})
}

func TestFailingPreSyncHookStopsTheSync(t *testing.T) {
	e := newEnv(t, "fake", gitopstest.NewCluster(t))
	objs := []*unstructured.Unstructured{
		cm("", "app", map[string]any{"k": "v"}),
		job("migrate", "PreSync", ""),
		job("rollback", "SyncFail", ""),
	}
	jobs := finishJobs(t, e, map[string]bool{"migrate": false, "rollback": true}, nil)
	cs, err := e.applier(apply.Options{}).Apply(context.Background(), objs)
	require.NoError(t, <-jobs)
	var se *apply.SyncError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, apply.PreSync, se.Phase)
	got := entriesByName(cs)
	assert.Equal(t, apply.Failed, got["PreSync/migrate"].Action)
	assert.Equal(t, apply.Skipped, got["Sync/app"].Action)
	assert.Equal(t, apply.Created, got["SyncFail/rollback"].Action)
	assert.Nil(t, e.get(t, cm(e.ns, "app", nil)))
	assert.NotNil(t, e.get(t, obj("batch/v1", "Job", e.ns, "migrate")), "no HookFailed policy: kept for inspection")
}

func TestHealthGatingWithTheHealthPackage(t *testing.T) {
	for _, tc := range []struct {
		name      string
		succeeded bool
	}{{"healthy wave lets the next one start", true}, {"degraded wave stops the sync", false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "fake", gitopstest.NewCluster(t))
			migrate := job("migrate", "Sync", "")
			migrate.SetAnnotations(nil) // a plain object in wave 0, not a hook
			objs := []*unstructured.Unstructured{migrate, cm("", "after", nil)}
			objs[1].SetAnnotations(map[string]string{apply.AnnotationSyncWave: "1"})
			gate := apply.NewHealthWait(e.client, e.c.Mapper, health.WaitOptions{Interval: 50 * time.Millisecond, Timeout: 20 * time.Second, FailFast: true})
			jobs := finishJobs(t, e, map[string]bool{"migrate": tc.succeeded}, nil)
			cs, err := e.applier(apply.Options{Health: gate}).Apply(context.Background(), objs)
			require.NoError(t, <-jobs)
			if tc.succeeded {
				require.NoError(t, err, "%s", cs)
				assert.NotNil(t, e.get(t, cm(e.ns, "after", nil)))
				return
			}
			var de *health.DegradedError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, apply.Skipped, cs.Entries[1].Action)
			assert.Nil(t, e.get(t, cm(e.ns, "after", nil)))
		})
	}
}
