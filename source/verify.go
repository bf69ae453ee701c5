package source

import (
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing/object"
)

// verifyCommit checks commit's OpenPGP signature against the armored keyring. An
// unsigned commit, a signature that does not match the commit, and a signature by a
// key outside the keyring are all failures.
func verifyCommit(commit *object.Commit, keyring string) error {
	if commit.PGPSignature == "" {
		return fmt.Errorf("commit %s is not signed", commit.Hash)
	}
	entity, err := commit.Verify(keyring)
	if err != nil {
		return fmt.Errorf("commit %s: %w", commit.Hash, err)
	}
	if entity == nil {
		return errors.New("no key of the keyring signed commit " + commit.Hash.String())
	}
	return nil
}
