package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-logr/logr"
)

// Repository is a Git repository to fetch from: its URL, credentials and options. The
// zero value of every option is the safe default: host keys verified, no credentials
// over plain http://, full history, no signature check.
type Repository struct {
	// URL is a file://, http://, https:// or ssh:// URL (scp-like user@host:path is
	// accepted too). Credentials in the URL's userinfo are used as basic auth when
	// Auth carries none, and are redacted from every error and log line.
	URL string
	// Auth holds the credentials.
	Auth Auth
	// CABundle is PEM certificates trusted for https:// in addition to the system pool.
	CABundle []byte
	// AllowInsecureHTTP permits sending credentials over plain http://. Without it such
	// a request fails with ErrInsecure before anything is sent.
	AllowInsecureHTTP bool
	// Shallow fetches only the wanted commit (depth 1) instead of mirroring every
	// branch and tag with full history: for huge repositories.
	Shallow bool
	// VerifyKeyring, when set, is an armored OpenPGP keyring: Checkout then fails with
	// ErrVerification unless the commit carries a good signature by one of its keys.
	VerifyKeyring string
	// Ignore holds extra ignore patterns (gitignore syntax), applied to the snapshot
	// after those of the .sourceignore file at the tree's root.
	Ignore []string
}

// Auth is a repository's credentials. Set the fields of one method.
type Auth struct {
	// Username and Password: HTTP basic auth. Username alone with SSHKey names the SSH
	// user (default: the URL's user, else "git").
	Username, Password string
	// BearerToken: HTTP "Authorization: Bearer" auth.
	BearerToken string
	// SSHKey is a PEM private key (OpenSSH, PKCS#1/8 or EC), SSHKeyPassphrase its
	// passphrase if it is encrypted.
	SSHKey           []byte
	SSHKeyPassphrase string
	// KnownHosts is known_hosts content (hashed hosts and @cert-authority lines work)
	// against which the SSH server's host key is checked.
	KnownHosts []byte
	// InsecureIgnoreHostKey accepts any SSH host key. Never the default.
	InsecureIgnoreHostKey bool
}

// hasHTTPCredentials reports whether any HTTP credential is set.
func (a Auth) hasHTTPCredentials() bool {
	return a.Username != "" || a.Password != "" || a.BearerToken != ""
}

// secrets lists the values that must never appear in an error or a log line.
func (a Auth) secrets() []string {
	var s []string
	for _, v := range []string{a.Password, a.BearerToken, a.SSHKeyPassphrase} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// Revision is a commit ID (40 or 64 lowercase hex digits) for a Git source, or the
// content digest for a local directory source.
type Revision string

func (r Revision) String() string { return string(r) }

// Snapshot is a read-only tree of one revision. Dir must not be written to. Close it
// when done: the cache may remove the tree once no holder is left.
type Snapshot struct {
	// Revision is the commit the tree was taken from.
	Revision Revision
	// Dir is the root of the tree (files and directories are read-only).
	Dir string
	// Digest is "sha256:<hex>" over the kept files' paths, modes and contents, in path
	// order: the same tree yields the same digest on every machine and from every
	// source (see digest.go).
	Digest string

	release  func() error
	manifest string // the tree's index (see Files); "" when there is none
}

// Close releases the snapshot. Dir may disappear afterwards (at eviction).
func (s *Snapshot) Close() error {
	if s == nil || s.release == nil {
		return nil
	}
	r := s.release
	s.release = nil
	return r()
}

// SourceCache produces snapshots, fetching from the remote only what it lacks. The
// default implementation is DiskCache; an embedder may swap in its own.
type SourceCache interface {
	// Checkout returns a snapshot of commit rev of repo. ref, when not empty, is the
	// full name of a remote ref known to reach rev (as Resolve found it), which the
	// cache may fetch when rev is not reachable from branches and tags.
	Checkout(ctx context.Context, repo Repository, rev Revision, ref string) (*Snapshot, error)
	// CheckoutDir returns a snapshot of the local directory dir (see LocalOptions).
	CheckoutDir(ctx context.Context, dir string, opts LocalOptions) (*Snapshot, error)
}

var _ SourceCache = (*DiskCache)(nil)

// Fetcher resolves refs and hands out snapshots. It is safe for concurrent use.
type Fetcher struct {
	cache SourceCache
}

// NewFetcher returns a Fetcher over cache.
func NewFetcher(cache SourceCache) (*Fetcher, error) {
	if cache == nil {
		return nil, errors.New("source: NewFetcher: nil cache")
	}
	return &Fetcher{cache: cache}, nil
}

// Resolve resolves ref to a commit with one ls-remote round trip (an exact commit
// needs none): no clone, no pack.
func (f *Fetcher) Resolve(ctx context.Context, repo Repository, ref Ref) (Revision, error) {
	res, err := resolve(ctx, repo, ref)
	if err != nil {
		return "", err
	}
	return res.rev, nil
}

// Checkout returns a read-only snapshot of commit rev. When the cache already holds the
// commit this makes no network call at all; otherwise it fetches only missing objects.
func (f *Fetcher) Checkout(ctx context.Context, repo Repository, rev Revision) (*Snapshot, error) {
	return f.cache.Checkout(ctx, repo, rev, "")
}

// Fetch resolves ref and checks it out: the poll of a GitOps loop. When the remote has
// not changed it costs one ls-remote round trip and no pack.
func (f *Fetcher) Fetch(ctx context.Context, repo Repository, ref Ref) (*Snapshot, error) {
	res, err := resolve(ctx, repo, ref)
	if err != nil {
		return nil, err
	}
	logr.FromContextOrDiscard(ctx).V(1).Info("resolved", "repo", RedactURL(repo.URL), "ref", ref.String(), "revision", res.rev)
	return f.cache.Checkout(ctx, repo, res.rev, res.refName)
}

// Local returns a snapshot of a local directory with the same contract as a Git
// snapshot (read-only tree, content digest), for development.
func (f *Fetcher) Local(ctx context.Context, dir string, opts LocalOptions) (*Snapshot, error) {
	return f.cache.CheckoutDir(ctx, dir, opts)
}

// normalized is a repository's URL split into what go-git is given: the URL without
// credentials, and the credentials.
type normalized struct {
	url    string
	scheme string // file, http, https, ssh
	user   string // SSH user or basic-auth user from the URL
	pass   string // basic-auth password from the URL
}

// normalize validates repo.URL and applies the transport policy: no credentials over
// plain http:// unless AllowInsecureHTTP.
func normalize(repo Repository) (normalized, error) {
	raw := strings.TrimSpace(repo.URL)
	if raw == "" {
		return normalized{}, newError("resolve", &repo, "", ErrInvalid, errors.New("empty repository URL"))
	}
	var n normalized
	if !strings.Contains(raw, "://") {
		// scp-like: [user@]host:path
		host, path, ok := strings.Cut(raw, ":")
		if !ok || path == "" || strings.HasPrefix(raw, "/") {
			return n, newError("resolve", &repo, "", ErrInvalid, fmt.Errorf("unsupported URL %q: want file://, http(s):// or ssh://", RedactURL(raw)))
		}
		user, h, hasUser := strings.Cut(host, "@")
		if !hasUser {
			user, h = "", host
		}
		return normalized{url: "ssh://" + joinUser(user, h) + "/" + strings.TrimPrefix(path, "/"), scheme: "ssh", user: user}, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return n, newError("resolve", &repo, "", ErrInvalid, fmt.Errorf("parse URL: %w", errors.Unwrap(err)))
	}
	n.scheme = strings.ToLower(u.Scheme)
	switch n.scheme {
	case "file", "http", "https", "ssh":
	default:
		return n, newError("resolve", &repo, "", ErrInvalid, fmt.Errorf("unsupported URL scheme %q: want file, http, https or ssh", u.Scheme))
	}
	if u.User != nil {
		n.user = u.User.Username()
		n.pass, _ = u.User.Password()
		if n.scheme == "ssh" {
			u.User = url.User(n.user)
		} else {
			u.User = nil
		}
	}
	n.url = u.String()
	if n.scheme == "http" && !repo.AllowInsecureHTTP && (repo.Auth.hasHTTPCredentials() || n.user != "" || n.pass != "") {
		return n, newError("resolve", &repo, "", ErrInsecure, errors.New("use https:// or set AllowInsecureHTTP"))
	}
	return n, nil
}

func joinUser(user, host string) string {
	if user == "" {
		return host
	}
	return user + "@" + host
}

// mirrorKeyURL is the cache key of a repository: its URL without credentials, so
// every credential set for one repository shares one mirror.
func mirrorKeyURL(repo Repository) (string, error) {
	n, err := normalize(repo)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(n.url, "/"), nil
}
