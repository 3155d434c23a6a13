// Package ssotest helps test single sign-on against real servers: it
// starts an OpenID Connect provider, tools/oidcop (zitadel/oidc's op
// package, its own module), built once per test binary and run on
// loopback; and finds the OpenLDAP server started by scripts/ldap.sh.
package ssotest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// LDAPURL returns the test OpenLDAP server's URL (HYGIE_TEST_LDAP, from
// scripts/ldap.sh), skipping the test without one (failing it in CI).
func LDAPURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HYGIE_TEST_LDAP")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("HYGIE_TEST_LDAP is not set: CI must start OpenLDAP (scripts/ldap.sh)")
		}
		t.Skip("HYGIE_TEST_LDAP not set; run `export HYGIE_TEST_LDAP=$(scripts/ldap.sh | tail -n 1)` to test LDAP sign-in")
	}
	return u
}

// moduleDir is tools/oidcop, found from this file's place in the repository.
func moduleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "tools", "oidcop")
}

// TestProvider is a real OpenID Connect provider for tests: tools/oidcop
// (zitadel/oidc's op package) built and started on loopback.
type TestProvider struct {
	Issuer string
	users  string // its JSON file of clients and users
}

// OPUser and OPClient are entries of the provider's file.
type OPUser struct {
	ID        string   `json:"id"`
	Username  string   `json:"username"`
	Password  string   `json:"password"`
	FirstName string   `json:"first_name"`
	LastName  string   `json:"last_name"`
	Groups    []string `json:"groups"`
}

type OPClient struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirect_uris"`
}

var (
	buildOP    sync.Once
	opBinary   string
	opBuildErr error
)

// StartProvider builds tools/oidcop (once per test binary) and starts it
// with these clients and users; it stops with the test.
func StartProvider(t testing.TB, clients []OPClient, users []OPUser) *TestProvider {
	t.Helper()
	buildOP.Do(func() {
		dir, err := os.MkdirTemp("", "hygie-oidcop-")
		if err != nil {
			opBuildErr = err
			return
		}
		opBinary = filepath.Join(dir, "oidcop")
		cmd := exec.Command("go", "build", "-o", opBinary, ".") // #nosec G204 -- test helper: builds tools/oidcop into its own temporary directory
		cmd.Dir = moduleDir()
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			opBuildErr = &buildError{err: err, out: string(out)}
		}
	})
	if opBuildErr != nil {
		t.Fatalf("build tools/oidcop: %v", opBuildErr)
	}
	p := &TestProvider{users: filepath.Join(t.TempDir(), "users.json")}
	p.Write(t, clients, users)
	cmd := exec.Command(opBinary, "-users", p.users) // #nosec G204 -- test helper: runs the provider it has just built, on a file of the test's
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs SyncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // "signal: killed"
		if t.Failed() {
			t.Logf("oidcop's log:\n%s", logs.String())
		}
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- strings.TrimSpace(s)
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case p.Issuer = <-line:
	case <-time.After(30 * time.Second):
		t.Fatal("oidcop did not start")
	}
	if !strings.HasPrefix(p.Issuer, "http://127.0.0.1:") {
		t.Fatalf("oidcop printed %q", p.Issuer)
	}
	return p
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// Write replaces the provider's clients and users (users are read again at
// each look-up, so group changes apply to the next sign-in).
func (p *TestProvider) Write(t testing.TB, clients []OPClient, users []OPUser) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"clients": clients, "users": users})
	if err := os.WriteFile(p.users+".tmp", b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(p.users+".tmp", p.users); err != nil {
		t.Fatal(err)
	}
}

// SyncBuffer collects a log written from several goroutines (the
// provider's, a server's).
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
