package sops

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// encValue matches a value SOPS encrypted: ENC[AES256_GCM,data:...,iv:...,tag:...,type:...].
var encValue = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

// macOnlyEncryptedInit starts the MAC of files with mac_only_encrypted, as in SOPS
// (the SHA-256 of "sops"), so the two MAC modes never collide.
var macOnlyEncryptedInit = sha256.Sum256([]byte("sops"))

// comment is a decrypted comment value (SOPS type "comment").
type comment string

// treeDecrypter decrypts one document, walking it in SOPS's order: mapping entries
// and sequence items in document order, the path being the mapping keys from the
// root (sequence positions are not part of it).
type treeDecrypter struct {
	key  []byte
	meta *metadata
	mac  hash.Hash
}

// decrypt decrypts every value of the document in place and returns the MAC SOPS
// would compute over its plaintext (hex, upper case).
func (t *treeDecrypter) decrypt(n *kyaml.Node) (string, error) {
	t.mac = sha512.New()
	if t.meta.MACOnlyEncrypted {
		t.mac.Write(macOnlyEncryptedInit[:])
	}
	if n.Kind == kyaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	if err := t.walk(n, nil, nil); err != nil {
		return "", err
	}
	return fmt.Sprintf("%X", t.mac.Sum(nil)), nil
}

// walk visits n at path; container is the path of the mapping or sequence holding
// it. SOPS files the comments of a scalar under its container and those of a mapping
// or sequence under the node itself, and uses that path as their additional data.
func (t *treeDecrypter) walk(n *kyaml.Node, path, container []string) error {
	if n.Kind == kyaml.ScalarNode || n.Kind == kyaml.AliasNode {
		t.comments(n, container)
	} else {
		t.comments(n, path)
	}
	switch n.Kind {
	case kyaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			t.comments(k, path)
			p := append(path[:len(path):len(path)], k.Value)
			if err := t.walk(v, p, path); err != nil {
				return err
			}
		}
	case kyaml.SequenceNode:
		for _, item := range n.Content {
			if err := t.walk(item, path, path); err != nil {
				return err
			}
		}
	case kyaml.AliasNode:
		if n.Alias != nil {
			return t.walk(n.Alias, path, container)
		}
	case kyaml.ScalarNode:
		return t.leaf(n, path)
	}
	return nil
}

// leaf decrypts one scalar when it is in SOPS's format and should be encrypted, and
// adds its plaintext to the MAC.
func (t *treeDecrypter) leaf(n *kyaml.Node, path []string) error {
	if n.ShortTag() == "!!null" {
		return nil // SOPS skips nulls
	}
	aad := strings.Join(path, ":") + ":"
	isEnc := encValue.MatchString(n.Value)
	encrypted := isEnc && (t.meta.hasCommentRules() || t.meta.pathEncrypted(path))
	if !encrypted {
		if t.meta.MACOnlyEncrypted {
			return nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("sops: value at %s: %w", displayPath(path), err)
		}
		return t.hash(v, path)
	}
	v, err := decryptValue(n.Value, t.key, aad)
	if err != nil {
		return fmt.Errorf("sops: value at %s: %w", displayPath(path), err)
	}
	if err := t.hash(v, path); err != nil {
		return err
	}
	var out kyaml.Node
	if err := out.Encode(plainForYAML(v)); err != nil {
		return fmt.Errorf("sops: value at %s: %w", displayPath(path), err)
	}
	out.HeadComment, out.LineComment, out.FootComment = n.HeadComment, n.LineComment, n.FootComment
	*n = out
	return nil
}

// comments decrypts encrypted comments attached to n (best effort, like SOPS, which
// assumes a comment it cannot decrypt was never encrypted).
func (t *treeDecrypter) comments(n *kyaml.Node, path []string) {
	aad := strings.Join(path, ":") + ":"
	for _, c := range []*string{&n.HeadComment, &n.LineComment, &n.FootComment} {
		if !strings.Contains(*c, "ENC[AES256_GCM,") {
			continue
		}
		lines := strings.Split(*c, "\n")
		for i, l := range lines {
			body := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
			if !encValue.MatchString(body) {
				continue
			}
			if v, err := decryptValue(body, t.key, aad); err == nil {
				if s, ok := v.(comment); ok {
					lines[i] = "#" + string(s)
				}
			}
		}
		*c = strings.Join(lines, "\n")
	}
}

// hash adds a plaintext value to the MAC the way SOPS's ToBytes does.
func (t *treeDecrypter) hash(v any, path []string) error {
	var b []byte
	switch v := v.(type) {
	case nil, comment:
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	case int:
		b = []byte(strconv.Itoa(v))
	case int64:
		b = []byte(strconv.FormatInt(v, 10))
	case uint64:
		b = []byte(strconv.FormatUint(v, 10))
	case float64:
		b = []byte(strconv.FormatFloat(v, 'f', -1, 64))
	case bool:
		b = []byte("False")
		if v {
			b = []byte("True")
		}
	case time.Time:
		b, _ = v.MarshalText()
	default:
		return fmt.Errorf("sops: value at %s: unsupported type %T", displayPath(path), v)
	}
	t.mac.Write(b)
	return nil
}

// verifyMAC compares the MAC of the plaintext with the one stored (encrypted) in the
// metadata.
func (t *treeDecrypter) verifyMAC(computed string) error {
	if t.meta.MAC == "" {
		return fmt.Errorf("sops: the file has no MAC")
	}
	stored, err := decryptValue(t.meta.MAC, t.key, t.meta.lastModified())
	if err != nil {
		return fmt.Errorf("sops: decrypt MAC: %w", err)
	}
	if s, ok := stored.(string); !ok || s != computed {
		return fmt.Errorf("sops: MAC mismatch: the file was changed after encryption (stored %v, computed %s)", stored, computed)
	}
	return nil
}

// decryptValue decrypts one ENC[AES256_GCM,...] value and returns it with its SOPS
// type: string, int, float64, bool, []byte, time.Time or comment.
func decryptValue(s string, key []byte, aad string) (any, error) {
	m := encValue.FindStringSubmatch(s)
	if m == nil {
		return nil, fmt.Errorf("not in SOPS's encrypted format")
	}
	var parts [3][]byte
	for i, field := range []string{"data", "iv", "tag"} {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, fmt.Errorf("base64 %s: %w", field, err)
		}
		parts[i] = b
	}
	data, iv, tag := parts[0], parts[1], parts[2]
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if len(iv) == 0 || len(tag) != 16 {
		return nil, fmt.Errorf("invalid iv or tag length")
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, iv, append(append([]byte(nil), data...), tag...), []byte(aad))
	if err != nil {
		return nil, fmt.Errorf("AES-GCM authentication failed (wrong key, or the value was moved or changed)")
	}
	str := string(plain)
	switch typ := m[4]; typ {
	case "str":
		return str, nil
	case "int":
		return strconv.Atoi(str)
	case "float":
		return strconv.ParseFloat(str, 64)
	case "bool":
		return strconv.ParseBool(str)
	case "bytes":
		return plain, nil
	case "time":
		var tm time.Time
		err := tm.UnmarshalText(plain)
		return tm, err
	case "comment":
		return comment(str), nil
	default:
		return nil, fmt.Errorf("unknown SOPS type %q", typ)
	}
}

// plainForYAML is the value SOPS's YAML store would encode for v.
func plainForYAML(v any) any {
	switch v := v.(type) {
	case comment:
		return string(v)
	case []byte:
		return string(v)
	}
	return v
}

func displayPath(path []string) string {
	if len(path) == 0 {
		return "the document root"
	}
	return strings.Join(path, ".")
}
