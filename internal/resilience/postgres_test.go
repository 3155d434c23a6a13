package resilience

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pgServer is a throwaway PostgreSQL server of this test alone, so that it
// can be stopped and started without disturbing the one other tests share.
type pgServer struct {
	bin, dir string
	port     int
	asUser   string // run the tools as this user (initdb refuses root)
}

// newPostgres initialises a PostgreSQL data directory with initdb (the
// Debian package's binaries; scripts/postgres.sh installs them) and starts
// it on a free loopback port. Without the binaries the test is skipped, or
// fails under CI=true or when HYGIE_TEST_POSTGRES is set.
func newPostgres(t *testing.T) *pgServer {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(dirs) == 0 {
		msg := "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): run scripts/postgres.sh"
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci || os.Getenv("HYGIE_TEST_POSTGRES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	slices.Sort(dirs)
	pg := &pgServer{bin: filepath.Dir(dirs[len(dirs)-1])}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := strings.Cut(addr, ":")
	pg.port, _ = strconv.Atoi(port)
	// Under root, the server runs as the postgres user, in a directory it
	// owns and can reach.
	parent, err := os.MkdirTemp("", "hygie-pgrestart-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	pg.dir = filepath.Join(parent, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(parent, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(pg.dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(pg.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.asUser = "postgres"
	}
	pg.run(t, "initdb", "-D", pg.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8")
	pg.start(t)
	t.Cleanup(func() { pg.tool("pg_ctl", "-D", pg.dir, "-m", "immediate", "-w", "stop").Run() })
	return pg
}

func (pg *pgServer) dsn() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

func (pg *pgServer) tool(name string, args ...string) *exec.Cmd {
	path := filepath.Join(pg.bin, name)
	if pg.asUser != "" {
		return exec.Command("runuser", append([]string{"-u", pg.asUser, "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

func (pg *pgServer) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := pg.tool(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func (pg *pgServer) start(t *testing.T) {
	t.Helper()
	pg.run(t, "pg_ctl", "-D", pg.dir, "-l", filepath.Join(pg.dir, "server.log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-h 127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=100", pg.port, pg.dir), "start")
}

// stop is pg_ctl stop -m fast: clients are disconnected, the server shuts
// down cleanly.
func (pg *pgServer) stop(t *testing.T) {
	t.Helper()
	pg.run(t, "pg_ctl", "-D", pg.dir, "-m", "fast", "-w", "stop")
}

// TestPostgresRestartUnderLoad stops the PostgreSQL server under hygie
// while clients send API requests, and checks that hygie says not-ready
// (/readyz 503) within seconds while staying alive (/healthz 200), and that
// once PostgreSQL is back it is ready again and serves every request,
// without being restarted.
func TestPostgresRestartUnderLoad(t *testing.T) {
	pg := newPostgres(t)
	in := start(t, []string{"HYGIE_DATA=" + t.TempDir(), "HYGIE_DATABASE=" + pg.dsn()})
	ctx := context.Background()
	_, runs := createRuns(t, in.admin, "pgrestart", 8)

	// phase: 0 before the stop, 1 while PostgreSQL is down or coming back,
	// 2 once /readyz said ready again.
	var phase atomic.Int32
	var ok, failed [3]atomic.Int64
	var firstErr [3]atomic.Value
	var not503 atomic.Int64 // failures during the outage that were not a 503
	var firstNot503 atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c, run := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for step := 0; ; step++ {
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				var err error
				if c%2 == 0 {
					err = in.admin.Do(ctx, "GET", "/api/v1/projects", nil, nil)
				} else {
					err = in.admin.Do(ctx, "POST", mlflow+"runs/log-metric", map[string]any{"run_id": run, "key": "loss", "value": 1.0 / float64(step+1), "timestamp": time.Now().UnixMilli(), "step": step}, nil)
				}
				if err != nil && phase.Load() == 1 {
					p = 1 // in flight when PostgreSQL stopped
				}
				if err != nil {
					failed[p].Add(1)
					firstErr[p].CompareAndSwap(nil, err.Error())
					if se, isStatus := err.(*StatusError); p == 1 && (!isStatus || se.Code != http.StatusServiceUnavailable) {
						not503.Add(1)
						firstNot503.CompareAndSwap(nil, err.Error())
					}
					if p == 1 {
						time.Sleep(20 * time.Millisecond) // no busy loop while down
					}
				} else {
					ok[p].Add(1)
				}
			}
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()

	time.Sleep(time.Second)
	phase.Store(1)
	time.Sleep(100 * time.Millisecond) // requests of phase 0 are done
	stopped := time.Now()
	pg.stop(t)
	notReady := waitStatus(t, in.URL()+"/readyz", http.StatusServiceUnavailable, 10*time.Second)
	t.Logf("PostgreSQL stopped: /readyz 503 after %s", notReady.Sub(stopped).Round(time.Millisecond))
	for range 3 {
		if code, err := Probe(ctx, in.URL()+"/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz with PostgreSQL down: %d %v", code, err)
		}
		if code, _ := Probe(ctx, in.URL()+"/readyz"); code != http.StatusServiceUnavailable {
			t.Fatalf("/readyz with PostgreSQL down: %d, want 503", code)
		}
		time.Sleep(500 * time.Millisecond)
	}
	checkUnavailable(t, in, runs[0])

	started := time.Now()
	pg.start(t)
	ready := waitStatus(t, in.URL()+"/readyz", http.StatusOK, 30*time.Second)
	t.Logf("PostgreSQL started again: /readyz 200 after %s", ready.Sub(started).Round(time.Millisecond))
	phase.Store(2)
	time.Sleep(2 * time.Second)

	for p, name := range []string{"before the stop", "during the outage", "after recovery"} {
		e, _ := firstErr[p].Load().(string)
		t.Logf("%s: %d requests ok, %d failed %s", name, ok[p].Load(), failed[p].Load(), e)
	}
	if failed[0].Load() > 0 || ok[0].Load() == 0 {
		t.Errorf("before the stop: %d ok, %d failed", ok[0].Load(), failed[0].Load())
	}
	if failed[2].Load() > 0 || ok[2].Load() == 0 {
		t.Errorf("after /readyz said ready again: %d ok, %d failed: hygie did not recover by itself", ok[2].Load(), failed[2].Load())
	}
	if failed[1].Load() == 0 {
		t.Errorf("no request failed while PostgreSQL was down: the test did not take it down")
	}
	if n := not503.Load(); n > 0 {
		e, _ := firstNot503.Load().(string)
		t.Errorf("%d requests failed otherwise than 503 while PostgreSQL was down, first: %s", n, e)
	}
	in.verifyAudit(t)
}

// checkUnavailable asserts that, with the database down, the REST API, the
// MLflow API and the web UI answer 503 with a Retry-After header and say the
// database is unavailable. (An MLflow request fails at authentication, before
// its handler, so in the REST shape; one failing in its handler answers
// TEMPORARILY_UNAVAILABLE, which the load above may see.)
func checkUnavailable(t *testing.T, in *instance, run string) {
	t.Helper()
	for _, c := range []struct {
		name, method, path, body, want string
	}{
		{"REST", "GET", "/api/v1/projects", "", `"code": "unavailable"`},
		{"MLflow", "POST", mlflow + "runs/log-metric", fmt.Sprintf(`{"run_id":%q,"key":"loss","value":1,"timestamp":1,"step":0}`, run), "unavailable"},
		{"MLflow search", "POST", mlflow + "runs/search", `{"experiment_ids":["0"]}`, "unavailable"},
		{"web UI", "GET", "/", "", "Temporarily unavailable"},
	} {
		req, _ := http.NewRequest(c.method, in.URL()+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+in.admin.Token)
		if c.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s with PostgreSQL down: %v", c.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(strings.ToLower(string(body)), strings.ToLower(c.want)) || !strings.Contains(string(body), "database unavailable") {
			t.Errorf("%s with PostgreSQL down: %d, Retry-After %q, body %.300s; want 503, a Retry-After, %s and \"database unavailable\"",
				c.name, resp.StatusCode, resp.Header.Get("Retry-After"), body, c.want)
		}
	}
}

// waitStatus polls url until it answers code, and returns when it did.
func waitStatus(t *testing.T, url string, code int, timeout time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := 0
	for time.Now().Before(deadline) {
		if last, _ = Probe(context.Background(), url); last == code {
			return time.Now()
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("%s still answers %d after %s, want %d", url, last, timeout, code)
	return time.Time{}
}
