// Package testtools finds the external tools the tests need: the reference CLIs they
// compare against (kustomize, SOPS), built from the Go module proxy by the hack/
// scripts into a per-machine cache, and system commands (git, ssh). A missing tool
// skips the test, or fails it under DRIFTLESS_REQUIRE_TOOLS=1 (as `make test` runs).
package testtools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireEnv, when "1", turns a missing tool into a test failure instead of a skip
// (and lets the tests build it with its hack/ script).
const RequireEnv = "DRIFTLESS_REQUIRE_TOOLS"

// Tool describes one external tool.
type Tool struct {
	// Name is the tool's name, for messages.
	Name string
	// Env names the variable that may hold the binary's path (set by the Makefile).
	Env string
	// Script is the hack/ script (relative to the repository root) that builds the
	// tool when missing and prints its path; with --print it only prints the path.
	Script string
}

// Kustomize is the kustomize CLI (hack/kustomize.sh).
var Kustomize = Tool{Name: "kustomize", Env: "DRIFTLESS_KUSTOMIZE", Script: "hack/kustomize.sh"}

// Sops is the SOPS CLI (hack/sops.sh).
var Sops = Tool{Name: "sops", Env: "DRIFTLESS_SOPS", Script: "hack/sops.sh"}

// Find returns the tool's binary: $Env, else the binary the script already built.
// When neither exists the test is skipped, or, with DRIFTLESS_REQUIRE_TOOLS=1, the
// script builds it and a failure fails the test.
func (tl Tool) Find(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(tl.Env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s=%s: %v", tl.Env, p, err)
		}
		return p
	}
	script := filepath.Join(RepoRoot(t), tl.Script)
	if out, err := exec.Command(script, "--print").Output(); err == nil {
		p := strings.TrimSpace(string(out))
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(RequireEnv) != "1" {
		t.Skipf("%s CLI not found: set %s or run %s to build it (%s=1 makes this a failure)", tl.Name, tl.Env, tl.Script, RequireEnv)
	}
	cmd := exec.Command(script)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s is required (%s=1) and %s failed: %v", tl.Name, RequireEnv, tl.Script, err)
	}
	return strings.TrimSpace(string(out))
}

// Command returns the path of the system command name (git, ssh). When it is not
// installed the test is skipped, saying why it needs it, or fails with
// DRIFTLESS_REQUIRE_TOOLS=1.
func Command(t testing.TB, name, why string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("%s is required (%s=1): %s: %v", name, RequireEnv, why, err)
	}
	t.Skipf("%s not found (%s): %v (%s=1 makes this a failure)", name, why, err, RequireEnv)
	return ""
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
