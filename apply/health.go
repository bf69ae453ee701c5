package apply

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/dynamic"

	"github.com/driftless-dev/driftless/health"
)

// HealthGate decides when the next wave may start: WaitHealthy returns nil once the
// objects refs names are healthy, or an error when they will not be (in time).
type HealthGate interface {
	WaitHealthy(ctx context.Context, refs []Ref) error
}

// HealthWait is the HealthGate over health.Wait.
type HealthWait struct {
	Getter  health.Getter
	Options health.WaitOptions
}

var _ HealthGate = HealthWait{}

// NewHealthWait returns a HealthWait reading objects with client and mapper.
func NewHealthWait(client dynamic.Interface, mapper meta.RESTMapper, opts health.WaitOptions) HealthWait {
	return HealthWait{Getter: health.DynamicGetter{Client: client, Mapper: mapper}, Options: opts}
}

// WaitHealthy waits with health.Wait (a *health.TimeoutError or *health.DegradedError
// says which objects are not healthy).
func (h HealthWait) WaitHealthy(ctx context.Context, refs []Ref) error {
	hr := make([]health.Ref, len(refs))
	for i, r := range refs {
		hr[i] = r.Health()
	}
	_, err := health.Wait(ctx, h.Getter, hr, h.Options)
	return err
}
