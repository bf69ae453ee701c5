package render

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/api/resource"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// SubstitutionError reports variables a strict substitution could not resolve, or an
// object that is no longer valid YAML after substitution.
type SubstitutionError struct {
	// Object names the object (kind namespace/name).
	Object string
	// Undefined lists the variables that were neither set nor defaulted (strict mode).
	Undefined []string
	// Err is the YAML error after substitution, if any.
	Err error
}

func (e *SubstitutionError) Error() string {
	if len(e.Undefined) > 0 {
		return fmt.Sprintf("render: substitute %s: undefined variable(s) %s (strict mode; set them, give a default with ${VAR:=default}, or annotate the object %s: %s)",
			e.Object, strings.Join(e.Undefined, ", "), SubstituteAnnotation, SubstituteDisabled)
	}
	return fmt.Sprintf("render: substitute %s: result is not valid YAML: %v", e.Object, e.Err)
}

func (e *SubstitutionError) Unwrap() error { return e.Err }

// substituteResource substitutes variables in one object's YAML, like Flux's
// post-build substitution: on the text, so `replicas: ${REPLICAS}` becomes a number,
// then parsed again. An object without "${" is left untouched (its bytes stay those
// kustomize printed).
func substituteResource(res *resource.Resource, sub *Substitution) error {
	y, err := res.AsYAML()
	if err != nil {
		return fmt.Errorf("render: substitute %s: %w", describe(res), err)
	}
	if !bytes.Contains(y, []byte("${")) {
		return nil
	}
	out, undefined := Substitute(string(y), sub.Vars)
	if sub.Strict && len(undefined) > 0 {
		return &SubstitutionError{Object: describe(res), Undefined: undefined}
	}
	if out == string(y) {
		return nil
	}
	node, err := kyaml.Parse(out)
	if err != nil {
		return &SubstitutionError{Object: describe(res), Err: err}
	}
	res.SetYNode(node.YNode())
	return nil
}

// Substitute replaces ${VAR} and ${VAR:=default} in s with values from vars: VAR's
// value, or the default when VAR is unset or empty (${VAR} without a default is
// replaced by the empty string when unset). $${VAR} stands for a literal ${VAR}.
// Variable names are [A-Za-z_][A-Za-z0-9_]*; a default is literal text up to the
// first "}". Any other ${...} form (${1}, ${VAR:-x}, ${VAR#x}) is left as it is, so
// shell snippets survive. undefined lists, sorted and once each, the variables that
// were unset and had no default.
func Substitute(s string, vars map[string]string) (out string, undefined []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	missing := map[string]bool{}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' {
			j := strings.IndexByte(s[i:], '$')
			if j < 0 {
				b.WriteString(s[i:])
				break
			}
			b.WriteString(s[i : i+j])
			i += j
			continue
		}
		// $${ is an escaped ${.
		if strings.HasPrefix(s[i:], "$${") {
			b.WriteString("${")
			i += 3
			continue
		}
		if !strings.HasPrefix(s[i:], "${") {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			b.WriteString(s[i:])
			break
		}
		expr := s[i+2 : i+2+end]
		whole := s[i : i+2+end+1]
		i += 2 + end + 1
		name, rest := splitVarName(expr)
		switch {
		case name == "":
			b.WriteString(whole)
		case rest == "":
			v, ok := vars[name]
			if !ok {
				missing[name] = true
			}
			b.WriteString(v)
		case strings.HasPrefix(rest, ":="):
			if v := vars[name]; v != "" {
				b.WriteString(v)
			} else {
				b.WriteString(rest[2:])
			}
		default:
			b.WriteString(whole)
		}
	}
	for name := range missing {
		undefined = append(undefined, name)
	}
	sort.Strings(undefined)
	return b.String(), undefined
}

// splitVarName splits a leading variable name off expr.
func splitVarName(expr string) (name, rest string) {
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		letter := c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
		digit := c >= '0' && c <= '9'
		if letter || (digit && i > 0) {
			continue
		}
		return expr[:i], expr[i:]
	}
	return expr, ""
}
