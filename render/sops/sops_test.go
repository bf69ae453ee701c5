package sops

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/driftless-dev/driftless/internal/testtools"
)

const plainSecret = `apiVersion: v1
kind: Secret
metadata:
  name: db # the database
  namespace: prod
  labels:
    app: db
type: Opaque
# credentials below
stringData:
  password: hunter2 # line comment
  port: 5432
  enabled: true
  ratio: 1.5
  big: 12345678901
  empty: ""
  nothing: null
  unicode: "pässwörd ✓ 密码"
  multiline: |
    line one
    line two
  list:
  - a
  - 2
  - nested:
      deep: value
data:
  token: c2VjcmV0LXRva2Vu
`

// encrypt runs the real SOPS CLI on plaintext (as name, in its own directory, with
// an optional .sops.yaml) and returns the encrypted file.
func encrypt(t *testing.T, bin, name, plaintext, config string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(plaintext), 0o600))
	if config != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, ".sops.yaml"), []byte(config), 0o600))
	}
	cmd := exec.Command(bin, append(append([]string{"--encrypt"}, args...), name)...)
	cmd.Dir = dir
	cmd.Env = sopsEnv()
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("sops --encrypt: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	return out
}

// sopsDecrypt runs `sops --decrypt` with the identity, the reference result.
func sopsDecrypt(t *testing.T, bin string, id *age.X25519Identity, name string, encrypted []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), encrypted, 0o600))
	cmd := exec.Command(bin, "--decrypt", name)
	cmd.Dir = dir
	cmd.Env = append(sopsEnv(), "SOPS_AGE_KEY="+id.String())
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		t.Fatalf("sops --decrypt: %v\n%s", err, ee.Stderr)
	}
	require.NoError(t, err)
	return out
}

// sopsEnv is the environment without SOPS settings of the machine.
func sopsEnv() []string {
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "SOPS_") {
			env = append(env, e)
		}
	}
	return env
}

func newIdentity(t *testing.T) *age.X25519Identity {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	return id
}

func newDecryptor(t *testing.T, verifyMAC bool, ids ...age.Identity) *Decryptor {
	t.Helper()
	d, err := New(Options{Identities: ids, VerifyMAC: verifyMAC})
	require.NoError(t, err)
	return d
}

// normalize re-serializes YAML with kyaml, without comments, so that formatting
// differences between SOPS's emitter and ours do not matter. (SOPS's decrypt turns
// line comments into head comments; this package leaves them where they were.)
func normalize(t *testing.T, y []byte) string {
	t.Helper()
	n, err := kyaml.Parse(string(y))
	require.NoError(t, err)
	stripComments(n.YNode())
	s, err := n.String()
	require.NoError(t, err)
	return s
}

func stripComments(n *kyaml.Node) {
	n.HeadComment, n.LineComment, n.FootComment = "", "", ""
	for _, c := range n.Content {
		stripComments(c)
	}
}

func TestDecryptMatchesSOPS(t *testing.T) {
	bin := testtools.Sops.Find(t)
	id := newIdentity(t)
	other := newIdentity(t)
	recipient := id.Recipient().String()
	cases := []struct {
		name   string
		args   []string
		config string
	}{
		{name: "data and stringData (Flux's convention)", args: []string{"--age", recipient, "--encrypted-regex", "^(data|stringData)$"}},
		{name: "everything encrypted", args: []string{"--age", recipient}},
		{name: "unencrypted regex", args: []string{"--age", recipient, "--unencrypted-regex", "^(apiVersion|kind|metadata|type)$"}},
		{name: "encrypted suffix", args: []string{"--age", recipient, "--encrypted-suffix", "Data"}},
		{name: "MAC over encrypted values only", args: []string{"--age", recipient, "--encrypted-regex", "^(data|stringData)$", "--mac-only-encrypted"}},
		{name: "several recipients, ours second", args: []string{"--age", other.Recipient().String() + "," + recipient, "--encrypted-regex", "^(data|stringData)$"}},
		{name: "single key group from .sops.yaml", config: `creation_rules:
- encrypted_regex: ^(data|stringData)$
  key_groups:
  - age:
    - ` + recipient + "\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			enc := encrypt(t, bin, "secret.yaml", plainSecret, tc.config, tc.args...)
			require.Contains(t, string(enc), "ENC[AES256_GCM,")
			require.NotContains(t, string(enc), "hunter2")
			want := normalize(t, sopsDecrypt(t, bin, id, "secret.yaml", enc))

			node, err := kyaml.Parse(string(enc))
			require.NoError(t, err)
			ok, err := newDecryptor(t, true, id).Decrypt(context.Background(), node)
			require.NoError(t, err)
			assert.True(t, ok)
			withComments, err := node.String()
			require.NoError(t, err)
			assert.Contains(t, withComments, "password: hunter2 # line comment", "encrypted comments are decrypted in place")
			assert.Contains(t, withComments, "name: db # the database")
			assert.Nil(t, node.Field("sops"))
			got, err := node.String()
			require.NoError(t, err)
			assert.Equal(t, want, normalize(t, []byte(got)))
		})
	}
}

func TestDecryptErrors(t *testing.T) {
	bin := testtools.Sops.Find(t)
	id := newIdentity(t)
	enc := encrypt(t, bin, "secret.yaml", plainSecret, "", "--age", id.Recipient().String(), "--encrypted-regex", "^(data|stringData)$")
	twoGroups := encrypt(t, bin, "secret.yaml", plainSecret, `creation_rules:
- shamir_threshold: 2
  key_groups:
  - age: [`+id.Recipient().String()+`]
  - age: [`+newIdentity(t).Recipient().String()+`]
`)
	cases := []struct {
		name      string
		doc       string
		ids       []age.Identity
		verifyMAC bool
		wantErr   string
	}{
		{name: "no matching identity", doc: string(enc), ids: []age.Identity{newIdentity(t)}, wantErr: "no configured age identity matches the file's recipients (" + id.Recipient().String() + ")"},
		{name: "values swapped between keys", doc: swapValues(t, string(enc), "password", "multiline"), ids: []age.Identity{id}, wantErr: "value at stringData.password: AES-GCM authentication failed"},
		{name: "plaintext changed, MAC checked", doc: strings.Replace(string(enc), "app: db", "app: evil", 1), ids: []age.Identity{id}, verifyMAC: true, wantErr: "MAC mismatch"},
		{name: "Shamir key groups", doc: string(twoGroups), ids: []age.Identity{id}, wantErr: "2 key groups (Shamir)"},
		{name: "other key source only", doc: replaceSopsKeys(t, string(enc)), ids: []age.Identity{id}, wantErr: "encrypted for kms only"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			node, err := kyaml.Parse(tc.doc)
			require.NoError(t, err)
			before, err := node.String()
			require.NoError(t, err)
			ok, err := newDecryptor(t, tc.verifyMAC, tc.ids...).Decrypt(context.Background(), node)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.False(t, ok)
			after, err := node.String()
			require.NoError(t, err)
			assert.Equal(t, before, after, "a failed decryption leaves the object unchanged")
		})
	}
	t.Run("plaintext changed, MAC not checked", func(t *testing.T) {
		node, err := kyaml.Parse(strings.Replace(string(enc), "app: db", "app: changed-by-kustomize", 1))
		require.NoError(t, err)
		ok, err := newDecryptor(t, false, id).Decrypt(context.Background(), node)
		require.NoError(t, err)
		assert.True(t, ok)
	})
}

// swapValues exchanges the encrypted values of two stringData keys.
func swapValues(t *testing.T, doc, a, b string) string {
	node, err := kyaml.Parse(doc)
	require.NoError(t, err)
	sd := node.Field("stringData").Value
	va, vb := sd.Field(a).Value.YNode(), sd.Field(b).Value.YNode()
	va.Value, vb.Value = vb.Value, va.Value
	s, err := node.String()
	require.NoError(t, err)
	return s
}

// replaceSopsKeys turns the age entry of the metadata into a KMS one.
func replaceSopsKeys(t *testing.T, doc string) string {
	node, err := kyaml.Parse(doc)
	require.NoError(t, err)
	meta := node.Field("sops").Value
	require.NoError(t, meta.PipeE(kyaml.Clear("age")))
	kms, err := kyaml.Parse("- arn: arn:aws:kms:eu-north-1:111:key/x\n  enc: AAAA\n")
	require.NoError(t, err)
	require.NoError(t, meta.PipeE(kyaml.SetField("kms", kms)))
	s, err := node.String()
	require.NoError(t, err)
	return s
}

func TestDecryptIgnoresPlainObjects(t *testing.T) {
	node, err := kyaml.Parse(plainSecret)
	require.NoError(t, err)
	before, _ := node.String()
	ok, err := newDecryptor(t, true, newIdentity(t)).Decrypt(context.Background(), node)
	require.NoError(t, err)
	assert.False(t, ok)
	after, _ := node.String()
	assert.Equal(t, before, after)
}

func TestFingerprint(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	fa := newDecryptor(t, false, a).Fingerprint()
	assert.Equal(t, fa, newDecryptor(t, false, a).Fingerprint(), "same keys, same fingerprint")
	assert.NotEqual(t, fa, newDecryptor(t, false, b).Fingerprint())
	assert.NotEqual(t, fa, newDecryptor(t, true, a).Fingerprint())
	assert.Equal(t, newDecryptor(t, false, a, b).Fingerprint(), newDecryptor(t, false, b, a).Fingerprint())
	assert.NotContains(t, fa, strings.ToLower(a.String()))
	_, err := New(Options{})
	assert.Error(t, err)
}

func TestIdentitiesFromEnv(t *testing.T) {
	a, b := newIdentity(t), newIdentity(t)
	file := filepath.Join(t.TempDir(), "keys.txt")
	require.NoError(t, os.WriteFile(file, []byte("# created: today\n"+b.String()+"\n"), 0o600))
	t.Setenv("SOPS_AGE_KEY", a.String())
	t.Setenv("SOPS_AGE_KEY_FILE", file)
	ids, err := IdentitiesFromEnv()
	require.NoError(t, err)
	require.Len(t, ids, 2)
	assert.Equal(t, a.Recipient().String(), ids[0].(*age.X25519Identity).Recipient().String())
	assert.Equal(t, b.Recipient().String(), ids[1].(*age.X25519Identity).Recipient().String())

	t.Setenv("SOPS_AGE_KEY", "not a key")
	_, err = IdentitiesFromEnv()
	assert.Error(t, err)
}

func FuzzDecryptValue(f *testing.F) {
	f.Add("ENC[AES256_GCM,data:m0oehsb0ig==,iv:dolXvGzT1Zo3y0Nuujh2GEuh5GFgD/LlhD5AzK2C1tY=,tag:q1VFX/Cz7efFX0X9OE5t/Q==,type:str]", "a:")
	f.Add("ENC[AES256_GCM,data:,iv:,tag:,type:int]", "")
	f.Add("plain", ":")
	key := make([]byte, 32)
	f.Fuzz(func(t *testing.T, s, aad string) {
		_, _ = decryptValue(s, key, aad)
	})
}
