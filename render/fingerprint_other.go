//go:build !unix

package render

import "errors"

var errNoFingerprint = errors.New("render: file fingerprints need a Unix stat")

// lstatFingerprint is unavailable here: cache validation re-reads every input.
func lstatFingerprint(string) (fingerprint, string, error) {
	return fingerprint{}, "", errNoFingerprint
}

func isNotExist(error) bool { return false }
