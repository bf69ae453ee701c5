package sops

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/driftless-dev/driftless/internal/testtools"
	"github.com/driftless-dev/driftless/render"
)

// The committed fixture: testdata/secret.sops.yaml was encrypted by the SOPS CLI
// v3.13.3 (hack/sops.sh) for the test-only key in testdata/age.key, from
// testdata/secret.yaml. Regenerate with DRIFTLESS_REGENERATE_SOPS_FIXTURES=1.
const (
	fixturePlain     = "testdata/secret.yaml"
	fixtureEncrypted = "testdata/secret.sops.yaml"
	fixtureKey       = "testdata/age.key"
)

func TestRegenerateFixture(t *testing.T) {
	if os.Getenv("DRIFTLESS_REGENERATE_SOPS_FIXTURES") != "1" {
		t.Skip("set DRIFTLESS_REGENERATE_SOPS_FIXTURES=1 to re-encrypt the committed fixture")
	}
	bin := testtools.Sops.Find(t)
	id := newIdentity(t)
	plain, err := os.ReadFile(fixturePlain)
	require.NoError(t, err)
	enc := encrypt(t, bin, "secret.yaml", string(plain), "", "--age", id.Recipient().String(), "--encrypted-regex", "^(data|stringData)$")
	key := "# test-only age key for render/sops fixtures; it protects nothing\n# public key: " + id.Recipient().String() + "\n" + id.String() + "\n"
	require.NoError(t, os.WriteFile(fixtureKey, []byte(key), 0o644))
	require.NoError(t, os.WriteFile(fixtureEncrypted, enc, 0o644))
}

func fixtureIdentities(t *testing.T) []age.Identity {
	t.Helper()
	f, err := os.Open(fixtureKey)
	require.NoError(t, err)
	defer f.Close()
	ids, err := ParseIdentities(f)
	require.NoError(t, err)
	return ids
}

func TestCommittedFixture(t *testing.T) {
	enc, err := os.ReadFile(fixtureEncrypted)
	require.NoError(t, err)
	require.Contains(t, string(enc), "version: 3.13.3", "made by SOPS v3.13.3")
	plain, err := os.ReadFile(fixturePlain)
	require.NoError(t, err)

	node, err := kyaml.Parse(string(enc))
	require.NoError(t, err)
	d, err := New(Options{Identities: fixtureIdentities(t), VerifyMAC: true})
	require.NoError(t, err)
	ok, err := d.Decrypt(context.Background(), node)
	require.NoError(t, err)
	require.True(t, ok)
	got, err := node.String()
	require.NoError(t, err)
	assert.Equal(t, normalize(t, plain), normalize(t, []byte(got)))
}

// writeApp lays out a kustomization that includes the encrypted fixture and changes
// it the way overlays do (namespace, labels, name prefix).
func writeApp(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	enc, err := os.ReadFile(fixtureEncrypted)
	require.NoError(t, err)
	files := map[string]string{
		"app/secret.sops.yaml": string(enc),
		"app/kustomization.yaml": `namespace: oslo
namePrefix: prod-
labels:
- pairs: {team: payments}
resources:
- secret.sops.yaml
- configmap.yaml
`,
		"app/configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: fast\n",
	}
	for name, content := range files {
		p := filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return root
}

func TestRenderDecryptsSecrets(t *testing.T) {
	root := writeApp(t)
	d, err := New(Options{Identities: fixtureIdentities(t)})
	require.NoError(t, err)
	m, err := render.Render(context.Background(), root, "app", render.Options{Decryptor: d})
	require.NoError(t, err)
	y := string(m.YAML())
	assert.NotContains(t, y, "ENC[")
	assert.NotContains(t, y, "sops:")
	var secret map[string]any
	for _, o := range m.Objects {
		if o.GetKind() == "Secret" {
			secret = o.Object
			assert.Equal(t, "prod-db-credentials", o.GetName())
			assert.Equal(t, "oslo", o.GetNamespace())
			assert.Equal(t, "payments", o.GetLabels()["team"])
		}
	}
	require.NotNil(t, secret, "the Secret is rendered")
	assert.Equal(t, "correct horse battery staple", secret["stringData"].(map[string]any)["password"])
	assert.Equal(t, "c2VjcmV0LXRva2Vu", secret["data"].(map[string]any)["token"])
}

func TestRenderRefusesEncryptedSecrets(t *testing.T) {
	root := writeApp(t)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	wrong, err := New(Options{Identities: []age.Identity{other}})
	require.NoError(t, err)
	withMAC, err := New(Options{Identities: fixtureIdentities(t), VerifyMAC: true})
	require.NoError(t, err)
	cases := []struct {
		name      string
		decryptor render.Decryptor
		want      string
	}{
		{name: "no decryptor", want: "Secret oslo/prod-db-credentials is SOPS-encrypted and no configured Decryptor decrypted it"},
		{name: "wrong key", decryptor: wrong, want: "no configured age identity matches"},
		{name: "MAC checked after kustomize changed the object", decryptor: withMAC, want: "MAC mismatch"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := render.Render(context.Background(), root, "app", render.Options{Decryptor: tc.decryptor})
			require.Error(t, err)
			assert.Nil(t, m, "nothing is rendered")
			var ee *render.EncryptedError
			require.True(t, errors.As(err, &ee), "%T: %v", err, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.False(t, strings.Contains(err.Error(), "correct horse"), "no secret in the error")
		})
	}
}
