package diff

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaskPair(t *testing.T) {
	live := parseObj(t, secret("s", "data: {same: "+b64("x")+", changed: "+b64("old")+", gone: "+b64("g")+"}"), "ns").Object
	pred := parseObj(t, secret("s", "data: {same: "+b64("x")+", changed: "+b64("new")+", added: "+b64("a")+"}"), "ns").Object
	maskPair(live, pred)
	assert.Equal(t, map[string]any{"same": Mask, "changed": Mask, "gone": Mask}, live["data"])
	assert.Equal(t, map[string]any{"same": Mask, "changed": MaskChanged, "added": Mask}, pred["data"])

	// stringData compares by value with data, as the server folds it.
	live = parseObj(t, secret("s", "data: {k: "+b64("v")+"}"), "ns").Object
	pred = parseObj(t, secret("s", "stringData: {k: v}"), "ns").Object
	maskPair(live, pred)
	assert.Equal(t, map[string]any{"k": Mask}, pred["stringData"])

	// kubectl's last-applied annotation holds the values too.
	withAnn := parseObj(t, secret("s", "data: {k: "+b64("v")+"}"), "ns")
	withAnn.SetAnnotations(map[string]string{lastApplied: `{"data":{"k":"dg=="}}`, "other": "kept"})
	masked := maskedObject(withAnn, nil)
	assert.Equal(t, Mask, masked.GetAnnotations()[lastApplied])
	assert.Equal(t, "kept", masked.GetAnnotations()["other"])
	assert.Equal(t, b64("v"), withAnn.Object["data"].(map[string]any)["k"], "the input is not modified")

	notSecret := parseObj(t, cm("c", "data: {k: v}"), "ns")
	assert.Same(t, notSecret, maskedObject(notSecret, nil))
}

func TestMaskError(t *testing.T) {
	s := parseObj(t, secret("s", "stringData: {long: hunter22, short: ab}"), "ns")
	err := fmt.Errorf("wrapped: %w", errors.New(`invalid "ab" and hunter22 and aGVsbG8= and `+b64("hunter22")+`; label ab stays`))
	masked := maskError(err, s)
	msg := masked.Error()
	assert.NotContains(t, msg, "hunter22")
	assert.NotContains(t, msg, b64("hunter22"))
	assert.NotContains(t, msg, `"ab"`)
	assert.Contains(t, msg, "label ab stays", "short values are masked only where quoted")
	assert.True(t, errors.Is(masked, errors.Unwrap(err)), "the original error stays reachable")
	var me *MaskedError
	require.ErrorAs(t, masked, &me)

	plain := errors.New("no secrets here")
	assert.Same(t, plain, maskError(plain, parseObj(t, cm("c", "data: {k: v}"), "ns")))
	assert.NoError(t, maskError(nil, s))
}
