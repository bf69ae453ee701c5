package gitopstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/driftless-dev/driftless/internal/testtools"
)

// GitHTTPServerOptions configures NewGitHTTPServer. The zero value serves the repository
// over plain http:// without authentication.
type GitHTTPServerOptions struct {
	// Username and Password, when Username is set, accept HTTP basic auth with these
	// credentials.
	Username, Password string
	// BearerToken, when set, accepts "Authorization: Bearer <token>".
	// When any credential is configured, a request without a matching one gets 401.
	BearerToken string
	// TLS serves https:// with a server certificate signed by a CA generated for this
	// server; CAPEM returns that CA for the client's trust bundle.
	TLS bool
}

// GitRequest is one request the server answered.
type GitRequest struct {
	Method string
	// Path is the URL path, e.g. /repo.git/info/refs.
	Path string
	// Service is the git service named by the request (git-upload-pack,
	// git-receive-pack), or "" for other paths.
	Service string
	// Status is the HTTP status code of the response.
	Status int
	// Bytes is the size of the response body.
	Bytes int64
}

// IsAdvertisement reports whether the request is a ref advertisement (what ls-remote
// and the first leg of a fetch send), answered or not.
func (r GitRequest) IsAdvertisement() bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/info/refs")
}

// IsUploadPack reports whether the request is a POST to git-upload-pack: in protocol
// v0/v1 (what go-git speaks) a pack negotiation, the leg where a pack travels; in
// protocol v2 (the git CLI's default) also the ls-refs command.
func (r GitRequest) IsUploadPack() bool {
	return r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/git-upload-pack")
}

// OK reports whether the request was answered with a 2xx status.
func (r GitRequest) OK() bool { return r.Status >= 200 && r.Status < 300 }

// GitHTTPServer is a real smart-HTTP Git server (the git CLI's `git http-backend`
// behind net/http/cgi) serving one repository, for tests of code that fetches over
// http:// or https://. It logs every request so a test can prove what traveled, e.g.
// that a poll of an unchanged remote cost one ref advertisement and no pack.
type GitHTTPServer struct {
	t      testing.TB
	srv    *httptest.Server
	opts   GitHTTPServerOptions
	caPEM  []byte
	prefix string

	mu  sync.Mutex
	log []GitRequest
}

// NewGitHTTPServer serves the repository at dir (bare or with a working tree, e.g.
// Repo.Dir()) until the test ends. The git CLI must be installed.
func NewGitHTTPServer(t testing.TB, dir string, opts GitHTTPServerOptions) *GitHTTPServer {
	t.Helper()
	gitBin := testtools.Command(t, "git", "gitopstest's HTTP server runs git http-backend")
	s := &GitHTTPServer{t: t, opts: opts, prefix: "/" + filepath.Base(dir)}
	if !strings.HasSuffix(s.prefix, ".git") {
		s.prefix += ".git"
	}
	backend := &cgi.Handler{
		Path: gitBin,
		Args: []string{"http-backend"},
		Root: s.prefix,
		Env: []string{
			"GIT_PROJECT_ROOT=" + dir,
			"GIT_HTTP_EXPORT_ALL=1",
			// http-backend refuses a repository owned by another user unless told.
			"GIT_CONFIG_COUNT=1",
			"GIT_CONFIG_KEY_0=safe.directory",
			"GIT_CONFIG_VALUE_0=*",
		},
		// cgi.Handler sets REMOTE_USER only from basic auth; http-backend needs none.
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			s.record(GitRequest{
				Method:  r.Method,
				Path:    r.URL.Path,
				Service: serviceOf(r),
				Status:  rec.status,
				Bytes:   rec.n,
			})
		}()
		if r.URL.Path != s.prefix && !strings.HasPrefix(r.URL.Path, s.prefix+"/") {
			http.NotFound(rec, r)
			return
		}
		if !s.authorized(r) {
			rec.Header().Set("WWW-Authenticate", `Basic realm="gitopstest"`)
			http.Error(rec, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(rec, r)
	})
	s.srv = httptest.NewUnstartedServer(handler)
	// A client that rejects the certificate (as tests of trust do) is not news.
	s.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.TLS {
		cert, caPEM := newTestCertificate(t)
		s.caPEM = caPEM
		s.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.srv.StartTLS()
	} else {
		s.srv.Start()
	}
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the repository's URL, e.g. http://127.0.0.1:PORT/NAME.git.
func (s *GitHTTPServer) URL() string { return s.srv.URL + s.prefix }

// CAPEM is the PEM certificate of the CA that signed the server's certificate (nil
// without TLS).
func (s *GitHTTPServer) CAPEM() []byte { return s.caPEM }

// Requests returns a copy of the request log, oldest first.
func (s *GitHTTPServer) Requests() []GitRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GitRequest(nil), s.log...)
}

// ResetLog forgets the requests logged so far.
func (s *GitHTTPServer) ResetLog() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = nil
}

// Advertisements counts the ref advertisements (GET .../info/refs) served with a 2xx
// status; a 401 challenge is not counted (Requests has it).
func (s *GitHTTPServer) Advertisements() int {
	return s.count(func(r GitRequest) bool { return r.OK() && r.IsAdvertisement() })
}

// UploadPacks counts the POSTs to git-upload-pack served with a 2xx status (see
// GitRequest.IsUploadPack).
func (s *GitHTTPServer) UploadPacks() int {
	return s.count(func(r GitRequest) bool { return r.OK() && r.IsUploadPack() })
}

// UploadPackBytes is the total size of the upload-pack responses: the packs sent.
func (s *GitHTTPServer) UploadPackBytes() int64 {
	var n int64
	for _, r := range s.Requests() {
		if r.IsUploadPack() {
			n += r.Bytes
		}
	}
	return n
}

func (s *GitHTTPServer) count(pred func(GitRequest) bool) int {
	n := 0
	for _, r := range s.Requests() {
		if pred(r) {
			n++
		}
	}
	return n
}

func (s *GitHTTPServer) record(r GitRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.log = append(s.log, r)
}

func (s *GitHTTPServer) authorized(r *http.Request) bool {
	if s.opts.Username == "" && s.opts.BearerToken == "" {
		return true
	}
	if s.opts.Username != "" {
		if u, p, ok := r.BasicAuth(); ok && equal(u, s.opts.Username) && equal(p, s.opts.Password) {
			return true
		}
	}
	if s.opts.BearerToken != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && equal(tok, s.opts.BearerToken) {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

func serviceOf(r *http.Request) string {
	if svc := r.URL.Query().Get("service"); svc != "" {
		return svc
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
		return "git-upload-pack"
	case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
		return "git-receive-pack"
	}
	return ""
}

// countingWriter records the status and body size of a response.
type countingWriter struct {
	http.ResponseWriter
	status      int
	n           int64
	wroteHeader bool
}

func (w *countingWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// newTestCertificate generates a CA and a server certificate it signs for 127.0.0.1,
// ::1 and localhost. It returns the server's key pair and the CA certificate in PEM.
func newTestCertificate(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("gitopstest: CA key: %v", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gitopstest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("gitopstest: CA certificate: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("gitopstest: CA certificate: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("gitopstest: server key: %v", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "gitopstest server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatalf("gitopstest: server certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}
