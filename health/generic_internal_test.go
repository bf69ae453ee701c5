package health

import (
	"testing"

	"github.com/stretchr/testify/assert"
	kstatus "sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// TestFromKstatus covers the kstatus values Compute does not produce for the objects
// the generic check sees (deletion and absence are decided before kstatus is asked).
func TestFromKstatus(t *testing.T) {
	for in, want := range map[kstatus.Status]Status{
		kstatus.CurrentStatus:     Healthy,
		kstatus.InProgressStatus:  Progressing,
		kstatus.TerminatingStatus: Progressing,
		kstatus.FailedStatus:      Degraded,
		kstatus.NotFoundStatus:    Missing,
		kstatus.UnknownStatus:     Unknown,
		kstatus.Status("Other"):   Unknown,
	} {
		assert.Equal(t, want, fromKstatus(in), "kstatus %s", in)
	}
}
