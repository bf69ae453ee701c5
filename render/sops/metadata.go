package sops

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// metadata is the `sops` mapping of an encrypted file (SOPS's stores.Metadata).
type metadata struct {
	Age       []ageKey   `yaml:"age"`
	KeyGroups []keyGroup `yaml:"key_groups"`

	// Other key sources: only their presence matters (unsupported).
	KMS     []any `yaml:"kms"`
	GCPKMS  []any `yaml:"gcp_kms"`
	AzureKV []any `yaml:"azure_kv"`
	Vault   []any `yaml:"hc_vault"`
	PGP     []any `yaml:"pgp"`
	HCKMS   []any `yaml:"hckms"`

	LastModified     string `yaml:"lastmodified"`
	MAC              string `yaml:"mac"`
	MACOnlyEncrypted bool   `yaml:"mac_only_encrypted"`
	Version          string `yaml:"version"`

	UnencryptedSuffix       string `yaml:"unencrypted_suffix"`
	EncryptedSuffix         string `yaml:"encrypted_suffix"`
	UnencryptedRegex        string `yaml:"unencrypted_regex"`
	EncryptedRegex          string `yaml:"encrypted_regex"`
	UnencryptedCommentRegex string `yaml:"unencrypted_comment_regex"`
	EncryptedCommentRegex   string `yaml:"encrypted_comment_regex"`

	unencryptedRe, encryptedRe *regexp.Regexp
}

type keyGroup struct {
	Age     []ageKey `yaml:"age"`
	KMS     []any    `yaml:"kms"`
	GCPKMS  []any    `yaml:"gcp_kms"`
	AzureKV []any    `yaml:"azure_kv"`
	Vault   []any    `yaml:"hc_vault"`
	PGP     []any    `yaml:"pgp"`
	HCKMS   []any    `yaml:"hckms"`
}

type ageKey struct {
	Recipient string `yaml:"recipient"`
	Enc       string `yaml:"enc"`
}

func parseMetadata(n *kyaml.Node) (*metadata, error) {
	var m metadata
	if err := n.Decode(&m); err != nil {
		return nil, fmt.Errorf("sops: invalid metadata: %w", err)
	}
	if m.MAC == "" && len(m.Age) == 0 && len(m.KeyGroups) == 0 {
		return nil, fmt.Errorf("sops: invalid metadata: no mac and no keys")
	}
	var err error
	if m.UnencryptedRegex != "" {
		if m.unencryptedRe, err = regexp.Compile(m.UnencryptedRegex); err != nil {
			return nil, fmt.Errorf("sops: unencrypted_regex: %w", err)
		}
	}
	if m.EncryptedRegex != "" {
		if m.encryptedRe, err = regexp.Compile(m.EncryptedRegex); err != nil {
			return nil, fmt.Errorf("sops: encrypted_regex: %w", err)
		}
	}
	return &m, nil
}

// ageKeys returns the age recipients the data key is wrapped for. Files that need
// other key sources, or Shamir secret sharing over several key groups, are errors.
func (m *metadata) ageKeys() ([]ageKey, error) {
	groups := m.KeyGroups
	if len(groups) == 0 {
		groups = []keyGroup{{Age: m.Age, KMS: m.KMS, GCPKMS: m.GCPKMS, AzureKV: m.AzureKV, Vault: m.Vault, PGP: m.PGP, HCKMS: m.HCKMS}}
	}
	if len(groups) > 1 {
		return nil, fmt.Errorf("sops: the file splits its data key over %d key groups (Shamir); only a single key group is supported", len(groups))
	}
	g := groups[0]
	if len(g.Age) > 0 {
		return g.Age, nil
	}
	var others []string
	for _, src := range []struct {
		name string
		keys []any
	}{{"kms", g.KMS}, {"gcp_kms", g.GCPKMS}, {"azure_kv", g.AzureKV}, {"hc_vault", g.Vault}, {"pgp", g.PGP}, {"hckms", g.HCKMS}} {
		if len(src.keys) > 0 {
			others = append(others, src.name)
		}
	}
	if len(others) > 0 {
		return nil, fmt.Errorf("sops: the file is encrypted for %s only; this decryptor supports age keys", strings.Join(others, ", "))
	}
	return nil, fmt.Errorf("sops: the file lists no key to decrypt it")
}

// lastModified is the MAC's additional data: the lastmodified timestamp as SOPS
// re-formats it (RFC 3339).
func (m *metadata) lastModified() string {
	t, err := time.Parse(time.RFC3339, m.LastModified)
	if err != nil {
		return m.LastModified
	}
	return t.Format(time.RFC3339)
}

// pathEncrypted reports whether SOPS's suffix and regex rules say the value at path
// is encrypted (SOPS's Tree.shouldBeEncrypted, without the comment rules).
func (m *metadata) pathEncrypted(path []string) bool {
	encrypted := true
	if m.UnencryptedSuffix != "" {
		for _, p := range path {
			if strings.HasSuffix(p, m.UnencryptedSuffix) {
				encrypted = false
				break
			}
		}
	}
	if m.EncryptedSuffix != "" {
		encrypted = false
		for _, p := range path {
			if strings.HasSuffix(p, m.EncryptedSuffix) {
				encrypted = true
				break
			}
		}
	}
	if m.unencryptedRe != nil {
		for _, p := range path {
			if m.unencryptedRe.MatchString(p) {
				encrypted = false
				break
			}
		}
	}
	if m.encryptedRe != nil {
		encrypted = false
		for _, p := range path {
			if m.encryptedRe.MatchString(p) {
				encrypted = true
				break
			}
		}
	}
	return encrypted
}

// hasCommentRules reports whether the comment regexes decide what is encrypted;
// then the path rules alone cannot tell, and the ENC[] format does.
func (m *metadata) hasCommentRules() bool {
	return m.UnencryptedCommentRegex != "" || m.EncryptedCommentRegex != ""
}
