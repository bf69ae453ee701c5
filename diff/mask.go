package diff

import (
	"encoding/base64"
	"errors"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Secret values never leave the package in clear: Result.Unified, Result.Predicted
// and errors show masks. A mask still tells whether a value changed: every value shows
// as Mask, except a predicted value that differs from the live one under the same key,
// which shows as MaskChanged.
const (
	Mask        = "++++++++"
	MaskChanged = "++++++++ (changed)"
)

// lastApplied is kubectl's client-side apply annotation, which holds a copy of a
// Secret's values.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

func isSecret(u *unstructured.Unstructured) bool {
	if u == nil {
		return false
	}
	gvk := u.GroupVersionKind()
	return gvk.Group == "" && gvk.Kind == "Secret"
}

// secretValues returns a Secret's values by key, data decoded from base64, stringData
// taking precedence (as the API server folds it), plus the last-applied annotation.
func secretValues(obj map[string]any) map[string]string {
	out := map[string]string{}
	if data, ok := obj["data"].(map[string]any); ok {
		for k, v := range data {
			s, _ := v.(string)
			if b, err := base64.StdEncoding.DecodeString(s); err == nil {
				out["data/"+k] = string(b)
			} else {
				out["data/"+k] = s
			}
		}
	}
	if sd, ok := obj["stringData"].(map[string]any); ok {
		for k, v := range sd {
			s, _ := v.(string)
			out["data/"+k] = s
		}
	}
	if ann, ok := nestedMap(obj, "metadata", "annotations")[lastApplied].(string); ok {
		out["annotation"] = ann
	}
	return out
}

// maskPair masks the Secret values of a live view and a predicted view (either may be
// nil) in place: predicted values differing from live ones are MaskChanged.
func maskPair(live, pred map[string]any) {
	var lv map[string]string
	if live != nil {
		lv = secretValues(live)
		maskValues(live, func(string) string { return Mask })
	}
	if pred != nil {
		pv := secretValues(pred)
		maskValues(pred, func(key string) string {
			if old, ok := lv[key]; ok && old != pv[key] {
				return MaskChanged
			}
			return Mask
		})
	}
}

func maskValues(obj map[string]any, mask func(key string) string) {
	for _, field := range []string{"data", "stringData"} {
		if m, ok := obj[field].(map[string]any); ok {
			for k := range m {
				m[k] = mask("data/" + k)
			}
		}
	}
	if ann := nestedMap(obj, "metadata", "annotations"); ann != nil {
		if _, ok := ann[lastApplied]; ok {
			ann[lastApplied] = mask("annotation")
		}
	}
}

// maskedObject returns a copy of u with Secret values masked (u itself when it is not
// a Secret), against live when given.
func maskedObject(u, live *unstructured.Unstructured) *unstructured.Unstructured {
	if !isSecret(u) {
		return u
	}
	out := u.DeepCopy()
	var lv map[string]any
	if live != nil {
		lv = live.DeepCopy().Object
	}
	maskPair(lv, out.Object)
	return out
}

// MaskedError is an error whose message has had Secret values removed. Unwrap still
// reaches the original error (for errors.Is/As), whose own message is not masked.
type MaskedError struct {
	msg string
	err error
}

func (e *MaskedError) Error() string { return e.msg }
func (e *MaskedError) Unwrap() error { return e.err }

// maskError replaces in err's message every value of the Secrets among objs (clear and
// base64). Values shorter than 4 bytes are only replaced where quoted, so that masking
// "1" does not garble the message.
func maskError(err error, objs ...*unstructured.Unstructured) error {
	if err == nil {
		return nil
	}
	var secrets []string
	for _, o := range objs {
		if !isSecret(o) {
			continue
		}
		for _, v := range secretValues(o.Object) {
			if v != "" {
				secrets = append(secrets, v, base64.StdEncoding.EncodeToString([]byte(v)))
			}
		}
		if data, ok := o.Object["data"].(map[string]any); ok {
			for _, raw := range data {
				if s, ok := raw.(string); ok && s != "" {
					secrets = append(secrets, s)
				}
			}
		}
	}
	if len(secrets) == 0 {
		return err
	}
	// Longest first, so a value containing another is replaced whole.
	sort.Slice(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	msg := err.Error()
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, Mask)
			continue
		}
		for _, q := range []string{`"`, `'`, "`"} {
			msg = strings.ReplaceAll(msg, q+s+q, q+Mask+q)
		}
		msg = strings.ReplaceAll(msg, `\"`+s+`\"`, `\"`+Mask+`\"`)
	}
	var me *MaskedError
	if errors.As(err, &me) && me.msg == msg {
		return err
	}
	return &MaskedError{msg: msg, err: err}
}
