package sops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/go-logr/logr"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/driftless-dev/driftless/render"
)

// Options configure a Decryptor.
type Options struct {
	// Identities are the age identities (private keys) that may unwrap a file's data
	// key. At least one is required.
	Identities []age.Identity

	// VerifyMAC checks SOPS's message authentication code, which covers every value
	// of the file (or every encrypted value, with mac_only_encrypted). Off by
	// default, as in Flux's kustomize-controller: kustomize changes the objects it
	// builds (namespace, labels, name prefixes, hash suffixes), so the MAC of an
	// encrypted Secret rarely survives a build. Each encrypted value is still
	// authenticated on its own (AES-GCM, bound to its path in the document).
	VerifyMAC bool
}

// Decryptor decrypts SOPS-encrypted Secrets with age identities. It is safe for
// concurrent use.
type Decryptor struct {
	ids         []age.Identity
	verifyMAC   bool
	fingerprint string
}

var (
	_ render.Decryptor     = (*Decryptor)(nil)
	_ render.Fingerprinter = (*Decryptor)(nil)
)

// New returns a Decryptor for the identities in o.
func New(o Options) (*Decryptor, error) {
	if len(o.Identities) == 0 {
		return nil, errors.New("sops: no age identity configured")
	}
	d := &Decryptor{ids: append([]age.Identity(nil), o.Identities...), verifyMAC: o.VerifyMAC}
	d.fingerprint = fingerprint(d.ids, o.VerifyMAC)
	return d, nil
}

// ParseIdentities reads age identities (AGE-SECRET-KEY-1... lines; # comments and
// blank lines ignored), as in an age key file or SOPS_AGE_KEY.
func ParseIdentities(r io.Reader) ([]age.Identity, error) {
	ids, err := age.ParseIdentities(r)
	if err != nil {
		return nil, fmt.Errorf("sops: parse age identities: %w", err)
	}
	return ids, nil
}

// IdentitiesFromEnv reads age identities the way the SOPS CLI does: from the
// SOPS_AGE_KEY variable and the file named by SOPS_AGE_KEY_FILE. It returns no
// identities (and no error) when neither is set.
func IdentitiesFromEnv() ([]age.Identity, error) {
	var ids []age.Identity
	if k := os.Getenv("SOPS_AGE_KEY"); k != "" {
		parsed, err := ParseIdentities(strings.NewReader(k))
		if err != nil {
			return nil, fmt.Errorf("SOPS_AGE_KEY: %w", err)
		}
		ids = append(ids, parsed...)
	}
	if f := os.Getenv("SOPS_AGE_KEY_FILE"); f != "" {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("sops: SOPS_AGE_KEY_FILE: %w", err)
		}
		parsed, err := ParseIdentities(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("SOPS_AGE_KEY_FILE %s: %w", f, err)
		}
		ids = append(ids, parsed...)
	}
	return ids, nil
}

// Fingerprint identifies what the Decryptor's output depends on (the public keys of
// its identities and VerifyMAC), for render's cache key. It reveals no private key.
func (d *Decryptor) Fingerprint() string { return d.fingerprint }

func fingerprint(ids []age.Identity, verifyMAC bool) string {
	var pubs []string
	for _, id := range ids {
		switch id := id.(type) {
		case *age.X25519Identity:
			pubs = append(pubs, id.Recipient().String())
		case *age.HybridIdentity:
			pubs = append(pubs, id.Recipient().String())
		default:
			// An identity without a public form: fall back to its address, which
			// is stable for the Decryptor's lifetime.
			pubs = append(pubs, fmt.Sprintf("%T@%p", id, id))
		}
	}
	sort.Strings(pubs)
	h := sha256.New()
	fmt.Fprintf(h, "mac=%t\n%s", verifyMAC, strings.Join(pubs, "\n"))
	return hex.EncodeToString(h.Sum(nil))
}

// Decrypt implements render.Decryptor: when secret carries SOPS metadata it
// unwraps the data key with the Decryptor's age identities, decrypts every
// ENC[AES256_GCM,...] value (and encrypted comment), optionally verifies the MAC,
// and removes the metadata. Values not in SOPS's format are kept as they are
// (kustomize adds some to the objects it builds). On error secret is unchanged.
func (d *Decryptor) Decrypt(ctx context.Context, secret *kyaml.RNode) (bool, error) {
	f := secret.Field("sops")
	if f == nil || f.Value.YNode().Kind != kyaml.MappingNode {
		return false, nil
	}
	meta, err := parseMetadata(f.Value.YNode())
	if err != nil {
		return false, err
	}
	key, err := d.dataKey(meta)
	if err != nil {
		return false, err
	}
	doc := secret.Copy()
	if _, err := doc.Pipe(kyaml.Clear("sops")); err != nil {
		return false, fmt.Errorf("sops: remove metadata: %w", err)
	}
	t := &treeDecrypter{key: key, meta: meta}
	mac, err := t.decrypt(doc.YNode())
	if err != nil {
		return false, err
	}
	if d.verifyMAC {
		if err := t.verifyMAC(mac); err != nil {
			return false, err
		}
	}
	secret.SetYNode(doc.YNode())
	logr.FromContextOrDiscard(ctx).V(1).Info("decrypted SOPS secret", "name", secret.GetName(), "namespace", secret.GetNamespace())
	return true, nil
}

// dataKey unwraps the file's data key with the first age recipient one of the
// identities matches.
func (d *Decryptor) dataKey(meta *metadata) ([]byte, error) {
	keys, err := meta.ageKeys()
	if err != nil {
		return nil, err
	}
	var recipients []string
	var errs []error
	for _, k := range keys {
		recipients = append(recipients, k.Recipient)
		r, err := age.Decrypt(armor.NewReader(strings.NewReader(k.Enc)), d.ids...)
		if err != nil {
			var noMatch *age.NoIdentityMatchError
			if !errors.As(err, &noMatch) {
				errs = append(errs, fmt.Errorf("recipient %s: %w", k.Recipient, err))
			}
			continue
		}
		key, err := io.ReadAll(r)
		if err != nil {
			errs = append(errs, fmt.Errorf("recipient %s: %w", k.Recipient, err))
			continue
		}
		if len(key) != 32 {
			errs = append(errs, fmt.Errorf("recipient %s: data key is %d bytes, want 32", k.Recipient, len(key)))
			continue
		}
		return key, nil
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("sops: cannot unwrap the data key: %w", errors.Join(errs...))
	}
	return nil, fmt.Errorf("sops: no configured age identity matches the file's recipients (%s)", strings.Join(recipients, ", "))
}
