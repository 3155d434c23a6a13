package resilience

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/db/dbtest"
)

// bin is the hygie binary the tests run, built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hygie-resilience-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	bin, err = Build(ctx, dir)
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// engines runs fn once on SQLite and once on PostgreSQL (a fresh schema of
// HYGIE_TEST_POSTGRES; skipped without it, failed in CI), with the
// configuration of a fresh instance.
func engines(t *testing.T, fn func(t *testing.T, env []string)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, []string{"HYGIE_DATA=" + t.TempDir()})
	})
	t.Run("postgres", func(t *testing.T) {
		fn(t, []string{"HYGIE_DATA=" + t.TempDir(), "HYGIE_DATABASE=" + dbtest.PostgresURL(t)})
	})
}

// instance is a hygie server process and an administrator's client.
type instance struct {
	*Server
	admin *Client
}

// start starts hygie server on a fresh instance configured by env, with an
// administrator (bootstrap token) and a project "crash". The process is
// killed when the test ends; its log is printed if the test failed.
func start(t *testing.T, env []string) *instance {
	t.Helper()
	token := rand.Text()
	s, err := NewServer(bin, append(env, "HYGIE_BOOTSTRAP_TOKEN="+token)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			t.Logf("hygie's log:\n%s", s.Log())
		}
	})
	in := &instance{Server: s, admin: &Client{Base: s.URL(), Token: token, HTTP: &http.Client{Timeout: 2 * time.Minute}}}
	in.restart(t)
	ctx := context.Background()
	if err := in.admin.Do(ctx, "POST", "/api/v1/projects", map[string]any{"name": "crash"}, nil); err != nil {
		t.Fatal(err)
	}
	for _, role := range []string{"admin", "steward", "scientist"} {
		if err := in.admin.Do(ctx, "POST", "/api/v1/projects/crash/members", map[string]any{"username": "admin", "role": role}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return in
}

// restart starts the (stopped or killed) server again.
func (in *instance) restart(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := in.Start(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Logf("hygie ready in %s", time.Since(start).Round(time.Millisecond))
}

// kill kills the server with SIGKILL.
func (in *instance) kill(t *testing.T) {
	t.Helper()
	if err := in.Kill(); err != nil {
		t.Fatal(err)
	}
}

// verifyAudit checks the whole audit chain through the API.
func (in *instance) verifyAudit(t *testing.T) int64 {
	t.Helper()
	var rep struct {
		OK      bool   `json:"ok"`
		Events  int64  `json:"events"`
		Problem string `json:"problem"`
	}
	if err := in.admin.Do(context.Background(), "GET", "/api/v1/audit/verify", nil, &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Events == 0 {
		t.Fatalf("audit chain after the crash: %d events, ok %v: %s", rep.Events, rep.OK, rep.Problem)
	}
	return rep.Events
}

// seed returns a random seed, logged so that a failing run can be replayed
// with HYGIE_RESILIENCE_SEED.
func seed(t *testing.T) int64 {
	var s int64
	if v := os.Getenv("HYGIE_RESILIENCE_SEED"); v != "" {
		fmt.Sscan(v, &s)
	} else {
		s = time.Now().UnixNano()
	}
	t.Logf("seed %d (replay with HYGIE_RESILIENCE_SEED=%d)", s, s)
	return s
}
