package health_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/driftless-dev/driftless/health"
)

func res(kind, name string, s health.Status, msg string) health.ObjectResult {
	ref := health.Ref{Kind: kind, Namespace: "shop", Name: name}
	if kind == "Deployment" || kind == "StatefulSet" {
		ref.Group = "apps"
	}
	return health.ObjectResult{Ref: ref, Result: health.Result{Status: s, Message: msg}}
}

func TestStatusOrder(t *testing.T) {
	order := []health.Status{health.Healthy, health.Suspended, health.Progressing, health.Unknown, health.Missing, health.Degraded}
	for i, a := range order {
		for j, b := range order {
			assert.Equal(t, i > j, a.Worse(b), "%s worse than %s", a, b)
		}
	}
	assert.True(t, health.Status("Bogus").Worse(health.Degraded), "an invalid status is never hidden")
}

func TestAggregate(t *testing.T) {
	web := res("Deployment", "web", health.Healthy, "3/3 replicas available")
	db := res("StatefulSet", "db", health.Progressing, "2/3 replicas ready")
	cfg := res("ConfigMap", "cfg", health.Missing, "not found")
	job := res("Job", "migrate", health.Degraded, "Job failed: BackoffLimitExceeded")
	cron := res("CronJob", "backup", health.Suspended, "CronJob is suspended")
	worker := res("Deployment", "worker", health.Progressing, "1/2 replicas updated")
	widget := res("Widget", "w", health.Unknown, "no status")

	tests := []struct {
		name    string
		in      []health.ObjectResult
		want    health.Summary
		wantStr string
	}{
		{
			name:    "empty set is Healthy",
			want:    health.Summary{Status: health.Healthy},
			wantStr: "Healthy: 0 objects",
		},
		{
			name:    "all healthy lists them all",
			in:      []health.ObjectResult{web},
			want:    health.Summary{Status: health.Healthy, Objects: []health.ObjectResult{web}, Total: 1},
			wantStr: "Healthy: 1/1 objects: Deployment.apps/shop/web: 3/3 replicas available",
		},
		{
			name:    "suspended is worse than healthy",
			in:      []health.ObjectResult{web, cron},
			want:    health.Summary{Status: health.Suspended, Objects: []health.ObjectResult{cron}, Total: 2},
			wantStr: "Suspended: 1/2 objects: CronJob/shop/backup: CronJob is suspended",
		},
		{
			name:    "every progressing object, in input order",
			in:      []health.ObjectResult{db, web, cron, worker},
			want:    health.Summary{Status: health.Progressing, Objects: []health.ObjectResult{db, worker}, Total: 4},
			wantStr: "Progressing: 2/4 objects: StatefulSet.apps/shop/db: 2/3 replicas ready; Deployment.apps/shop/worker: 1/2 replicas updated",
		},
		{
			name: "unknown is worse than progressing",
			in:   []health.ObjectResult{db, widget},
			want: health.Summary{Status: health.Unknown, Objects: []health.ObjectResult{widget}, Total: 2},
		},
		{
			name: "missing is worse than unknown",
			in:   []health.ObjectResult{widget, cfg, db},
			want: health.Summary{Status: health.Missing, Objects: []health.ObjectResult{cfg}, Total: 3},
		},
		{
			name:    "degraded is the worst, wherever it is",
			in:      []health.ObjectResult{cfg, web, job, db, widget},
			want:    health.Summary{Status: health.Degraded, Objects: []health.ObjectResult{job}, Total: 5},
			wantStr: "Degraded: 1/5 objects: Job/shop/migrate: Job failed: BackoffLimitExceeded",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := health.Aggregate(tt.in)
			assert.Equal(t, tt.want, got)
			if tt.wantStr != "" {
				assert.Equal(t, tt.wantStr, got.String())
			}
		})
	}
}

func TestRefString(t *testing.T) {
	assert.Equal(t, "Deployment.apps/shop/web", health.Ref{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "web"}.String())
	assert.Equal(t, "Namespace/shop", health.Ref{Version: "v1", Kind: "Namespace", Name: "shop"}.String())
	assert.Equal(t, "ConfigMap/shop/cfg", health.Ref{Kind: "ConfigMap", Namespace: "shop", Name: "cfg"}.String())
}
