package source

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
)

// transportConfig is what go-git needs to talk to one repository.
type transportConfig struct {
	url      string
	auth     transport.AuthMethod
	caBundle []byte
}

// newTransportConfig turns a Repository into a go-git URL and auth method, applying
// the policy: no credentials over http:// unless allowed, SSH host keys always checked
// against KnownHosts unless InsecureIgnoreHostKey.
func newTransportConfig(repo Repository) (transportConfig, error) {
	n, err := normalize(repo)
	if err != nil {
		return transportConfig{}, err
	}
	tc := transportConfig{url: n.url, caBundle: repo.CABundle}
	a := repo.Auth
	switch n.scheme {
	case "http", "https":
		switch {
		case a.BearerToken != "":
			tc.auth = &githttp.TokenAuth{Token: a.BearerToken}
		case a.Username != "" || a.Password != "":
			tc.auth = &githttp.BasicAuth{Username: a.Username, Password: a.Password}
		case n.user != "" || n.pass != "":
			tc.auth = &githttp.BasicAuth{Username: n.user, Password: n.pass}
		}
		if len(a.SSHKey) > 0 {
			return tc, newError("resolve", &repo, "", ErrInvalid, errors.New("an SSH key was given for an HTTP URL"))
		}
	case "ssh":
		user := n.user
		if a.Username != "" {
			user = a.Username
		}
		if user == "" {
			user = "git"
		}
		if a.Password != "" || a.BearerToken != "" {
			return tc, newError("resolve", &repo, "", ErrInvalid, errors.New("SSH takes a key (Auth.SSHKey), not a password or token"))
		}
		if len(a.SSHKey) == 0 {
			return tc, newError("resolve", &repo, "", ErrInvalid, errors.New("an ssh:// URL needs Auth.SSHKey"))
		}
		pk, err := gitssh.NewPublicKeys(user, a.SSHKey, a.SSHKeyPassphrase)
		if err != nil {
			return tc, newError("resolve", &repo, "", ErrAuth, fmt.Errorf("parse SSH private key: %w", err))
		}
		cb, algos, err := hostKeyCheck(a, n.url)
		if err != nil {
			return tc, newError("resolve", &repo, "", ErrInvalid, err)
		}
		pk.HostKeyCallback = cb
		pk.HostKeyAlgorithms = algos
		tc.auth = pk
	case "file":
		if a.hasHTTPCredentials() || len(a.SSHKey) > 0 {
			return tc, newError("resolve", &repo, "", ErrInvalid, errors.New("file:// URLs take no credentials"))
		}
	}
	return tc, nil
}

// hostKeyCheck builds the SSH host key callback: an exact check against the
// known_hosts content (hashed names and @cert-authority lines included), with the host
// key algorithms restricted to those known_hosts lists for the host, so a server that
// also has a key of another type cannot make the check fail spuriously.
func hostKeyCheck(a Auth, rawURL string) (ssh.HostKeyCallback, []string, error) {
	if a.InsecureIgnoreHostKey {
		return ssh.InsecureIgnoreHostKey(), nil, nil //nolint:gosec // explicit opt-in
	}
	if len(a.KnownHosts) == 0 {
		return nil, nil, errors.New("SSH needs Auth.KnownHosts to verify the host key (or InsecureIgnoreHostKey)")
	}
	// knownhosts parses files only; the content lives in a private temporary file for
	// the duration of the parse.
	f, err := os.CreateTemp("", "driftless-known-hosts-*")
	if err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	if _, err := f.Write(a.KnownHosts); err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, nil, fmt.Errorf("known_hosts: %w", err)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, nil, fmt.Errorf("parse known_hosts: %w", err)
	}
	var algos []string
	if u, err := url.Parse(rawURL); err == nil {
		port := u.Port()
		if port == "" {
			port = strconv.Itoa(gitssh.DefaultPort)
		}
		algos = db.HostKeyAlgorithms(net.JoinHostPort(u.Hostname(), port))
	}
	return db.HostKeyCallback(), algos, nil
}
