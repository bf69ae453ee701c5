package gitopstest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/driftless-dev/driftless/internal/testtools"
)

// GitSSHServerOptions configures NewGitSSHServer.
type GitSSHServerOptions struct {
	// AuthorizedKeys are the client public keys the server accepts. A client whose key
	// is not listed fails authentication. At least one is required.
	AuthorizedKeys []ssh.PublicKey
}

// GitSSHServer is a real SSH server (golang.org/x/crypto/ssh) that serves one
// repository by running the git CLI's git-upload-pack for each "exec" request, with
// public-key authentication. Its host key is generated per server; HostPublicKey and
// KnownHosts let a test build the client's known_hosts.
type GitSSHServer struct {
	t       testing.TB
	dir     string
	name    string
	ln      net.Listener
	hostKey ssh.Signer
	config  *ssh.ServerConfig

	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	execs []string
}

// NewGitSSHServer serves the repository at dir on 127.0.0.1 until the test ends. The
// git CLI must be installed.
func NewGitSSHServer(t testing.TB, dir string, opts GitSSHServerOptions) *GitSSHServer {
	t.Helper()
	if _, err := exec.LookPath("git-upload-pack"); err != nil {
		testtools.Command(t, "git", "gitopstest's SSH server runs git-upload-pack")
	}
	if len(opts.AuthorizedKeys) == 0 {
		t.Fatalf("gitopstest: NewGitSSHServer needs at least one authorized key")
	}
	hostKey, _ := NewSSHKey(t)
	s := &GitSSHServer{t: t, dir: dir, hostKey: hostKey, conns: map[net.Conn]struct{}{}}
	s.name = "/" + filepath.Base(dir)
	if !strings.HasSuffix(s.name, ".git") {
		s.name += ".git"
	}
	authorized := make(map[string]bool, len(opts.AuthorizedKeys))
	for _, k := range opts.AuthorizedKeys {
		authorized[string(k.Marshal())] = true
	}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if authorized[string(key.Marshal())] {
				return &ssh.Permissions{}, nil
			}
			return nil, errors.New("gitopstest: key not authorized")
		},
	}
	s.config.AddHostKey(hostKey)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gitopstest: ssh listen: %v", err)
	}
	s.ln = ln
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.close)
	return s
}

// NewSSHKey generates an ed25519 key pair and returns the signer and the private key
// in OpenSSH PEM form (what a client reads from an identity file).
func NewSSHKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("gitopstest: ssh key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("gitopstest: ssh key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatalf("gitopstest: ssh key: %v", err)
	}
	return signer, pem.EncodeToMemory(block)
}

// Addr is the server's host:port.
func (s *GitSSHServer) Addr() string { return s.ln.Addr().String() }

// URL is the repository's ssh:// URL with user "git".
func (s *GitSSHServer) URL() string { return "ssh://git@" + s.Addr() + s.name }

// HostPublicKey is the server's host key.
func (s *GitSSHServer) HostPublicKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHosts is a known_hosts line for this server's address and host key.
func (s *GitSSHServer) KnownHosts() []byte {
	return []byte(knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostPublicKey()) + "\n")
}

// Execs returns the commands the server ran, oldest first (one per git connection).
func (s *GitSSHServer) Execs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.execs...)
}

func (s *GitSSHServer) close() {
	_ = s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *GitSSHServer) serve() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[conn] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				s.mu.Lock()
				delete(s.conns, conn)
				s.mu.Unlock()
				_ = conn.Close()
			}()
			s.handleConn(conn)
		}()
	}
}

func (s *GitSSHServer) handleConn(conn net.Conn) {
	sconn, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		return // failed handshake or authentication: the client sees the error
	}
	defer func() { _ = sconn.Close() }()
	go ssh.DiscardRequests(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only session channels")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.handleSession(ch, chReqs)
		}()
	}
}

func (s *GitSSHServer) handleSession(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer func() { _ = ch.Close() }()
	for req := range reqs {
		switch req.Type {
		case "env":
			_ = req.Reply(true, nil)
		case "exec":
			var payload struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &payload); err != nil {
				_ = req.Reply(false, nil)
				return
			}
			_ = req.Reply(true, nil)
			status := s.exec(ch, payload.Command)
			_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, status))
			return
		default:
			_ = req.Reply(false, nil)
		}
	}
}

// exec runs git-upload-pack for the served repository; any other command fails.
func (s *GitSSHServer) exec(ch ssh.Channel, command string) uint32 {
	s.mu.Lock()
	s.execs = append(s.execs, command)
	s.mu.Unlock()
	svc, arg, _ := strings.Cut(command, " ")
	arg = strings.Trim(arg, `'"`)
	if svc != "git-upload-pack" || (arg != s.name && arg != strings.TrimPrefix(s.name, "/")) {
		fmt.Fprintf(ch.Stderr(), "gitopstest: unsupported command %q\n", command)
		return 128
	}
	cmd := exec.Command("git", "-c", "safe.directory=*", "upload-pack", s.dir)
	cmd.Stdout = ch
	cmd.Stderr = ch.Stderr()
	// Not cmd.Stdin = ch: Wait would then block on a read from the channel after
	// upload-pack exits, while the client waits for the exit status.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		fmt.Fprintf(ch.Stderr(), "gitopstest: %v\n", err)
		return 128
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(ch.Stderr(), "gitopstest: %v\n", err)
		return 128
	}
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return uint32(exit.ExitCode())
		}
		fmt.Fprintf(ch.Stderr(), "gitopstest: %v\n", err)
		return 128
	}
	return 0
}
