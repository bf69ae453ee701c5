package source

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/skeema/knownhosts"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// The kinds of failure a caller can branch on with errors.Is. Every error this package
// returns from a network or repository operation is an *Error whose Kind is one of
// these.
var (
	// ErrUnknownRef: the ref (branch, tag, semver range, ref name, commit) matches
	// nothing in the repository.
	ErrUnknownRef = errors.New("unknown ref")
	// ErrAuth: the server refused the credentials, or wanted some and got none.
	ErrAuth = errors.New("authentication failed")
	// ErrHostKey: the SSH server's host key is not the one known_hosts names for it,
	// or the host is not in known_hosts at all.
	ErrHostKey = errors.New("host key mismatch")
	// ErrNetwork: the server could not be reached or the connection broke (DNS,
	// refused, reset, timeout, TLS).
	ErrNetwork = errors.New("network error")
	// ErrRepositoryNotFound: the server has no repository at that URL.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrInsecure: the request would send credentials over plain http:// and
	// Repository.AllowInsecureHTTP is not set.
	ErrInsecure = errors.New("refusing to send credentials over plain http")
	// ErrVerification: commit signature verification is on and the commit is
	// unsigned, badly signed, or signed by a key outside the keyring.
	ErrVerification = errors.New("signature verification failed")
	// ErrInvalid: the request itself is malformed (bad URL, bad ref, bad option).
	ErrInvalid = errors.New("invalid request")
	// ErrOther: a failure that fits none of the kinds above (for example a corrupt
	// mirror or a full disk).
	ErrOther = errors.New("source error")
)

// Error is the error every operation of this package returns. It names the repository
// (credentials redacted), the ref or revision, the kind of failure and the cause.
// errors.Is(err, ErrAuth) and the other kinds work on it, as does errors.As for the
// cause.
type Error struct {
	// Op is the operation: "resolve", "fetch", "checkout", "verify" or "snapshot".
	Op string
	// Repo is the repository URL with any credentials removed, or a local path.
	Repo string
	// Ref is the ref or revision asked for ("" when none applies).
	Ref string
	// Kind is one of the Err* kinds above.
	Kind error
	// Err is the cause.
	Err error
	// secrets are scrubbed from the cause's message.
	secrets []string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("source: ")
	b.WriteString(e.Op)
	if e.Ref != "" {
		fmt.Fprintf(&b, " %q", e.Ref)
	}
	if e.Repo != "" {
		fmt.Fprintf(&b, " of %s", e.Repo)
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Err != nil && e.Err.Error() != e.Kind.Error() {
		b.WriteString(": ")
		b.WriteString(redactText(e.Err.Error(), e.secrets))
	}
	return b.String()
}

// Unwrap returns the kind and the cause, so errors.Is and errors.As see both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// newError builds an *Error for repo, classifying cause when kind is nil.
func newError(op string, repo *Repository, ref string, kind, cause error) *Error {
	var se *Error
	if errors.As(cause, &se) {
		// Already ours: keep its kind, add what this layer knows.
		if kind == nil {
			kind = se.Kind
		}
		cause = se.Err
	}
	if kind == nil {
		kind = classify(cause)
	}
	e := &Error{Op: op, Ref: ref, Kind: kind, Err: cause}
	if repo != nil {
		e.Repo = RedactURL(repo.URL)
		e.secrets = repo.Auth.secrets()
		if u, err := url.Parse(repo.URL); err == nil && u.User != nil {
			if p, ok := u.User.Password(); ok {
				e.secrets = append(e.secrets, p)
			}
		}
	}
	return e
}

// classify maps a cause from go-git, the network or the SSH layer to a kind.
func classify(err error) error {
	var keyErr *xknownhosts.KeyError
	var unknownAuthority x509.UnknownAuthorityError
	var certInvalid x509.CertificateInvalidError
	var hostnameErr x509.HostnameError
	var netErr net.Error
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var urlErr *url.Error
	switch {
	case err == nil:
		return ErrOther
	case errors.As(err, &keyErr), knownhosts.IsHostKeyChanged(err), knownhosts.IsHostUnknown(err):
		return ErrHostKey
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod):
		return ErrAuth
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return ErrRepositoryNotFound
	case errors.Is(err, transport.ErrEmptyRemoteRepository):
		return ErrUnknownRef
	case errors.As(err, &unknownAuthority), errors.As(err, &certInvalid), errors.As(err, &hostnameErr),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF),
		errors.As(err, &netErr), errors.As(err, &opErr), errors.As(err, &dnsErr), errors.As(err, &urlErr):
		return ErrNetwork
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unable to authenticate"), strings.Contains(msg, "no supported methods remain"):
		return ErrAuth
	case strings.Contains(msg, "knownhosts:"), strings.Contains(msg, "host key mismatch"):
		return ErrHostKey
	case strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"), strings.Contains(msg, "connection refused"),
		strings.Contains(msg, "no such host"), strings.Contains(msg, "i/o timeout"):
		return ErrNetwork
	}
	return ErrOther
}

// RedactURL returns rawURL without its password or token: the user name stays, the
// password becomes "redacted". Strings that do not parse as URLs (scp-like
// user@host:path) are returned with any "user:password@" removed the same way.
func RedactURL(rawURL string) string {
	if !strings.Contains(rawURL, "://") {
		// scp-like [user[:password]@]host:path
		at := strings.LastIndex(rawURL, "@")
		if at < 0 {
			return rawURL
		}
		if user, _, ok := strings.Cut(rawURL[:at], ":"); ok {
			return user + ":redacted" + rawURL[at:]
		}
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		// Unparseable: keep the scheme, drop everything up to the last "@".
		scheme, rest, _ := strings.Cut(rawURL, "://")
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			rest = "redacted" + rest[at:]
		}
		return scheme + "://" + rest
	}
	if u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "redacted")
		}
	}
	// Query parameters may carry tokens too (e.g. ?access_token=).
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}

// redactText replaces each secret in s (and any URL userinfo password) with
// "redacted".
func redactText(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 { // shorter strings would garble the message and reveal little
			s = strings.ReplaceAll(s, sec, "redacted")
		}
	}
	return s
}
