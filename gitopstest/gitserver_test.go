package gitopstest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/driftless-dev/driftless/internal/testtools"
)

// The git servers are checked with the git CLI as the client, so they are known to
// speak the real protocols independently of the go-git client the source package uses.

func gitCLI(t *testing.T, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestGitHTTPServerWithGitCLI(t *testing.T) {
	repo := NewRepo(t)
	head := repo.Write("a.yaml", "a: 1\n").Commit("one")
	srv := NewGitHTTPServer(t, repo.Dir(), GitHTTPServerOptions{Username: "u", Password: "p4ss", TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_SSL_CAINFO=" + ca, "GIT_TERMINAL_PROMPT=0"}
	url := strings.Replace(srv.URL(), "https://", "https://u:p4ss@", 1)

	// Protocol v0, as go-git speaks it: ls-remote is one GET and no POST.
	out := gitCLI(t, env, "-c", "protocol.version=0", "ls-remote", url, "refs/heads/main")
	if !strings.HasPrefix(out, head) {
		t.Fatalf("ls-remote = %q, want %s", out, head)
	}
	if got := srv.Advertisements(); got != 1 || srv.UploadPacks() != 0 {
		t.Fatalf("after ls-remote: %d advertisements, %d upload-packs; want 1, 0", got, srv.UploadPacks())
	}
	gitCLI(t, env, "-c", "protocol.version=0", "clone", "-q", "--mirror", url, filepath.Join(t.TempDir(), "m"))
	if srv.UploadPacks() != 1 || srv.UploadPackBytes() == 0 {
		t.Fatalf("after clone: %d upload-packs, %d bytes; want 1 pack", srv.UploadPacks(), srv.UploadPackBytes())
	}

	srv.ResetLog()
	cmd := exec.Command("git", "ls-remote", srv.URL())
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Run(); err == nil {
		t.Fatal("ls-remote without credentials succeeded")
	}
	reqs := srv.Requests()
	if len(reqs) == 0 || reqs[0].Status != http.StatusUnauthorized {
		t.Fatalf("requests = %+v, want a 401", reqs)
	}
}

func TestGitSSHServerWithGitCLI(t *testing.T) {
	testtools.Command(t, "ssh", "the git CLI reaches the SSH server through it")
	repo := NewRepo(t)
	head := repo.Write("a.yaml", "a: 1\n").Commit("one")
	signer, keyPEM := NewSSHKey(t)
	srv := NewGitSSHServer(t, repo.Dir(), GitSSHServerOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	dir := t.TempDir()
	key, known := filepath.Join(dir, "id"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(known, srv.KnownHosts(), 0o600); err != nil {
		t.Fatal(err)
	}
	sshCmd := "ssh -F /dev/null -i " + key + " -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=" + known
	out := gitCLI(t, []string{"GIT_SSH_COMMAND=" + sshCmd}, "ls-remote", srv.URL(), "refs/heads/main")
	if !strings.HasPrefix(out, head) {
		t.Fatalf("ls-remote = %q, want %s", out, head)
	}
	if n := len(srv.Execs()); n != 1 {
		t.Fatalf("execs = %v, want one", srv.Execs())
	}

	// Another host key under this address: the client refuses, nothing runs.
	other := NewGitSSHServer(t, repo.Dir(), GitSSHServerOptions{AuthorizedKeys: []ssh.PublicKey{signer.PublicKey()}})
	line := strings.Replace(string(other.KnownHosts()), other.Addr()[strings.LastIndex(other.Addr(), ":"):], srv.Addr()[strings.LastIndex(srv.Addr(), ":"):], 1)
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("git", "ls-remote", srv.URL())
	cmd.Env = append(os.Environ(), "GIT_SSH_COMMAND="+sshCmd)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("ls-remote with a wrong host key succeeded: %s", out)
	}
	if n := len(srv.Execs()); n != 1 {
		t.Fatalf("execs = %v, want still one", srv.Execs())
	}
}
