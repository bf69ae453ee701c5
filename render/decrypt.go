package render

import (
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// Decryptor decrypts Secrets after the build. Render calls it on every Secret; an
// implementation for SOPS with age keys is in render/sops.
type Decryptor interface {
	// Decrypt decrypts secret in place when it is encrypted in a format the
	// Decryptor handles, and reports whether it did. It returns an error when the
	// Secret is encrypted but cannot be decrypted (no matching key, tampered data).
	Decrypt(ctx context.Context, secret *kyaml.RNode) (bool, error)
}

// EncryptedError reports an object that is still encrypted after the build: no
// Decryptor was configured, or the configured one did not handle it. Encrypted
// objects are never passed on.
type EncryptedError struct {
	// Object names the object (kind namespace/name).
	Object string
	// Err is the Decryptor's error, if it failed.
	Err error
}

func (e *EncryptedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("render: decrypt %s: %v", e.Object, e.Err)
	}
	return fmt.Sprintf("render: %s is SOPS-encrypted and no configured Decryptor decrypted it (set render.Options.Decryptor, for example sops.New with an age identity)", e.Object)
}

func (e *EncryptedError) Unwrap() error { return e.Err }

// sopsValuePrefix starts every value SOPS encrypts.
const sopsValuePrefix = "ENC[AES256_GCM,"

// IsEncrypted reports whether obj carries SOPS encryption: a top-level sops metadata
// mapping, or (for a Secret) a data or stringData value in SOPS's ENC[...] format.
func IsEncrypted(obj *kyaml.RNode) bool {
	if f := obj.Field("sops"); f != nil && f.Value.YNode().Kind == kyaml.MappingNode {
		return true
	}
	for _, field := range []string{"data", "stringData"} {
		f := obj.Field(field)
		if f == nil || f.Value.YNode().Kind != kyaml.MappingNode {
			continue
		}
		content := f.Value.YNode().Content
		for i := 1; i < len(content); i += 2 {
			if strings.HasPrefix(content[i].Value, sopsValuePrefix) {
				return true
			}
		}
	}
	return false
}

// decryptResource runs the Decryptor on a Secret and refuses any object that is still
// encrypted afterwards.
func decryptResource(ctx context.Context, res *resource.Resource, d Decryptor) error {
	if d != nil && res.GetKind() == "Secret" {
		if _, err := d.Decrypt(ctx, &res.RNode); err != nil {
			return &EncryptedError{Object: describe(res), Err: err}
		}
	}
	if IsEncrypted(&res.RNode) {
		return &EncryptedError{Object: describe(res)}
	}
	return nil
}
