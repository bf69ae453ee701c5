package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
)

// SubstituteAnnotation opts one object out of post-build substitution when set to
// "disabled" (case-insensitive), like Flux's kustomize.toolkit.fluxcd.io/substitute.
// Use it on objects that carry ${...} for someone else: shell scripts in ConfigMaps,
// Prometheus rules, Grafana dashboards.
const SubstituteAnnotation = "driftless.dev/substitute"

// SubstituteDisabled is the SubstituteAnnotation value that turns substitution off.
const SubstituteDisabled = "disabled"

// Options tune one render. The zero value is the safe default: the build reads only
// under the root, remote bases and plugins are off, no substitution, and an
// encrypted Secret is an error.
type Options struct {
	// AllowRemoteBases lets kustomizations reference remote bases and files (Git URLs,
	// http(s) URLs). kustomize then runs `git` and makes HTTP requests; those inputs
	// are outside the root, so such renders are never cached. Off by default.
	AllowRemoteBases bool

	// LoadRestrictionsNone lets a kustomization load files outside its own directory
	// (still inside the root), like `kustomize build --load-restrictor
	// LoadRestrictionsNone`. Off by default, like the kustomize CLI.
	LoadRestrictionsNone bool

	// Substitution, when set, runs post-build variable substitution on every object
	// (except those annotated SubstituteAnnotation: disabled).
	Substitution *Substitution

	// Decryptor, when set, decrypts every encrypted Secret after the build. Without
	// one, an encrypted Secret is an error: it is never passed on encrypted.
	Decryptor Decryptor
}

// Substitution configures post-build variable substitution: ${VAR} and
// ${VAR:=default} are replaced by Vars[VAR] (or the default when VAR is unset or
// empty); $${VAR} is a literal ${VAR}. Other ${...} forms are left as they are.
type Substitution struct {
	// Vars are the variables' values.
	Vars map[string]string
	// Strict makes a variable that is neither set nor given a default an error;
	// otherwise it is replaced by the empty string.
	Strict bool
}

// Fingerprinter is implemented by Decryptors whose output depends only on a few
// settings (for example the public keys of their identities): the fingerprint goes
// into the render cache key. A Decryptor without it keys the cache by its identity
// (the same Decryptor value), which is always correct but shares less.
type Fingerprinter interface {
	Fingerprint() string
}

// digest is the part of the cache key the options make, never the secrets
// themselves in clear (variable values are hashed). cacheable is false when the
// options cannot be keyed (a Decryptor that is neither a Fingerprinter nor a pointer).
func (o Options) digest() (digest string, cacheable bool) {
	if o == (Options{}) {
		return zeroOptionsDigest, true
	}
	return o.computeDigest()
}

// zeroOptionsDigest is the digest of the default options, computed once.
var zeroOptionsDigest, _ = Options{}.computeDigest()

func (o Options) computeDigest() (digest string, cacheable bool) {
	cacheable = true
	h := sha256.New()
	fmt.Fprintf(h, "remote=%t;norestrict=%t;", o.AllowRemoteBases, o.LoadRestrictionsNone)
	if s := o.Substitution; s != nil {
		fmt.Fprintf(h, "subst;strict=%t;", s.Strict)
		keys := make([]string, 0, len(s.Vars))
		for k := range s.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			io.WriteString(h, k)
			io.WriteString(h, "\x00")
			io.WriteString(h, s.Vars[k])
			io.WriteString(h, "\x00")
		}
	}
	if d := o.Decryptor; d != nil {
		if f, ok := d.(Fingerprinter); ok {
			fmt.Fprintf(h, "decrypt=%T:%s;", d, f.Fingerprint())
		} else if v := reflect.ValueOf(d); v.Kind() == reflect.Pointer {
			fmt.Fprintf(h, "decrypt=%T@%x;", d, v.Pointer())
		} else {
			cacheable = false
		}
	}
	return hex.EncodeToString(h.Sum(nil)), cacheable
}

func substitutionDisabled(annotations map[string]string) bool {
	return strings.EqualFold(annotations[SubstituteAnnotation], SubstituteDisabled)
}
