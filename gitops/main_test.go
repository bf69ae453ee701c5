package gitops

import (
	"os"
	"testing"

	"github.com/driftless-dev/driftless/gitopstest"
)

func TestMain(m *testing.M) { os.Exit(gitopstest.Main(m)) }
