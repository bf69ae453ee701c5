package apply

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// ValidationError lists every problem validation found in the set. When Apply returns
// one, nothing was written.
type ValidationError struct {
	Problems []error
}

func (e *ValidationError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Error()
	}
	return fmt.Sprintf("validation failed, nothing was applied: %s", strings.Join(msgs, "; "))
}

// Unwrap returns the problems.
func (e *ValidationError) Unwrap() []error { return e.Problems }

// ObjectError is the failure of one operation on one object. Unwrap gives the API
// error, so apierrors.IsConflict and friends work on it.
type ObjectError struct {
	Ref Ref
	// Op is what failed: "apply", "dry-run apply", "delete", "wait", "hook", "get".
	Op  string
	Err error
}

func (e *ObjectError) Error() string { return fmt.Sprintf("%s %s: %v", e.Op, e.Ref, e.Err) }

// Unwrap returns the cause.
func (e *ObjectError) Unwrap() error { return e.Err }

// ImmutableError says an apply changed fields the API server refuses to change, and
// the object was not allowed to be re-created (set Options.Recreate or the sync option
// Recreate=true on the object).
type ImmutableError struct {
	Ref Ref
	// Fields are the immutable field paths the server named ("spec.selector").
	Fields []string
	Err    error
}

func (e *ImmutableError) Error() string {
	return fmt.Sprintf("%s: immutable field %s cannot be changed in place; allow re-creating the object "+
		"(Options.Recreate, or annotation %s: Recreate=true) or revert the change: %v",
		e.Ref, strings.Join(e.Fields, ", "), AnnotationSyncOptions, e.Err)
}

// Unwrap returns the API error.
func (e *ImmutableError) Unwrap() error { return e.Err }

// SyncError says the sync did not complete: which phase failed first and the errors.
// The ChangeSet returned beside it tells object by object.
type SyncError struct {
	Phase Phase
	Errs  []error
}

func (e *SyncError) Error() string {
	return fmt.Sprintf("sync failed in phase %s: %v", e.Phase, errors.Join(e.Errs...))
}

// Unwrap returns the errors.
func (e *SyncError) Unwrap() []error { return e.Errs }

// immutableMessage matches the ways the API server (and CEL rules, and webhooks) say a
// field cannot change.
var immutableMessage = regexp.MustCompile(`(?i)(is immutable|immutable field|may not change once set|updates to .* spec for fields other than .* are forbidden)`)

// immutableFields tells whether err is an immutable-field refusal and which fields it
// names. A 422 whose causes do not mention immutability is not one (a plain invalid
// value is the user's to fix).
func immutableFields(err error) ([]string, bool) {
	if !apierrors.IsInvalid(err) {
		return nil, false
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return nil, false
	}
	st := status.Status()
	seen := map[string]bool{}
	var fields []string
	if st.Details != nil {
		for _, c := range st.Details.Causes {
			if immutableMessage.MatchString(c.Message) {
				f := c.Field
				if f == "" {
					f = "(unnamed field)"
				}
				if !seen[f] {
					seen[f] = true
					fields = append(fields, f)
				}
			}
		}
	}
	if len(fields) == 0 {
		if !immutableMessage.MatchString(st.Message) {
			return nil, false
		}
		fields = []string{"(unnamed field)"}
	}
	sort.Strings(fields)
	return fields, true
}
