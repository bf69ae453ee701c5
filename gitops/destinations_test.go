package gitops

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const twoClusters = `apiVersion: v1
kind: Config
clusters:
- name: oslo
  cluster: {server: "https://oslo.example.com:6443"}
- name: bergen
  cluster: {server: "https://bergen.example.com:6443"}
contexts:
- name: prod-oslo
  context: {cluster: oslo, user: u}
- name: staging-bergen
  context: {cluster: bergen, user: u}
users:
- name: u
  user: {token: t0ken}
current-context: prod-oslo
`

func TestKubeconfigDestinations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	require.NoError(t, os.WriteFile(path, []byte(twoClusters), 0o600))
	resolve := KubeconfigDestinations(path)

	cfg, err := resolve(Destination{Name: "staging-bergen"})
	require.NoError(t, err)
	assert.Equal(t, "https://bergen.example.com:6443", cfg.Host)
	assert.Equal(t, "t0ken", cfg.BearerToken)

	cfg, err = resolve(Destination{Server: "https://oslo.example.com:6443"})
	require.NoError(t, err)
	assert.Equal(t, "https://oslo.example.com:6443", cfg.Host)

	_, err = resolve(Destination{Server: "https://elsewhere:6443"})
	assert.ErrorContains(t, err, "no context for server https://elsewhere:6443")
	_, err = resolve(Destination{Name: "nope"})
	assert.ErrorContains(t, err, `no context "nope"`)
}
