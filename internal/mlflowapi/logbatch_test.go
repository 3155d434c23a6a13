package mlflowapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/mlflowapi"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/track"
)

// env is an HTTP server with authentication and the MLflow routes, a
// project "proj", a scientist "sci" and a viewer "vic" (run.read only).
type env struct {
	t            testing.TB
	url          string
	auth         *auth.Service
	sci, viewer  string // tokens
	client       *http.Client
	experimentID string
}

func newEnv(t testing.TB, d *db.DB) *env {
	t.Helper()
	ctx := audit.WithActor(context.Background(), "setup")
	al := audit.New(d)
	as := auth.NewService(d, al)
	if _, err := project.NewService(d, al).Create(ctx, "proj", "", ""); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, auth: as}
	for _, u := range []struct {
		name string
		role auth.Role
		tok  *string
	}{{"sci", auth.RoleScientist, &e.sci}, {"vic", auth.RoleViewer, &e.viewer}} {
		if _, err := as.CreateUser(ctx, u.name, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := as.Grant(ctx, "proj", u.name, u.role); err != nil {
			t.Fatal(err)
		}
		_, secret, err := as.CreateToken(ctx, u.name, "t", auth.KindAPI, time.Hour, "")
		if err != nil {
			t.Fatal(err)
		}
		*u.tok = secret
	}
	srv := httpapi.New(httpapi.Options{Auth: as, Audit: al, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.Add(mlflowapi.Routes(track.NewService(d, blob.NewMemory(), al))...)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	e.url = ts.URL + mlflowapi.Prefix
	e.client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(e.client.CloseIdleConnections)
	var exp struct {
		ID string `json:"experiment_id"`
	}
	if status, body := e.call("POST", "experiments/create", e.sci, map[string]any{"name": "proj/load"}, &exp); status != 200 {
		t.Fatalf("create experiment: %d %s", status, body)
	}
	e.experimentID = exp.ID
	return e
}

// call sends a request (a JSON body, or for GET the query in body as
// url.Values-like map) and decodes a 200 answer into out.
func (e *env) call(method, path, token string, body any, out any) (int, string) {
	var rd io.Reader
	if method == "POST" {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	} else if body != nil {
		path += "?" + body.(string)
	}
	req, _ := http.NewRequest(method, e.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s: %v", b, err)
		}
	}
	return resp.StatusCode, string(b)
}

func (e *env) newRun(name string) string {
	var run struct {
		Run struct {
			Info struct {
				RunID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if status, body := e.call("POST", "runs/create", e.sci, map[string]any{"experiment_id": e.experimentID, "run_name": name}, &run); status != 200 {
		e.t.Fatalf("create run: %d %s", status, body)
	}
	return run.Run.Info.RunID
}

func metrics(key string, from, n int, ts int64) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		step := from + i
		out[i] = map[string]any{"key": key, "value": float64(step) + 0.25, "timestamp": ts + int64(step), "step": step}
	}
	return out
}

// TestLogBatchConcurrentRequests sends log-batch requests from many
// clients at once, mixing in requests that must fail: a viewer's
// (PERMISSION_DENIED), a run that does not exist (RESOURCE_DOES_NOT_EXIST)
// and a batch over the limits (INVALID_PARAMETER_VALUE). Each fails alone;
// every metric of the others is in the metric history with its step,
// value and timestamp.
func TestLogBatchConcurrentRequests(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const clients, batches, perBatch = 12, 10, 10
		runs := make([]string, clients)
		for c := range runs {
			runs[c] = e.newRun(fmt.Sprint("c", c))
		}
		const ts = int64(1_764_417_600_000)
		var wg sync.WaitGroup
		var failed atomic.Int32
		for c := 0; c < clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < batches; i++ {
					want, code := 200, ""
					token, run, ms := e.sci, runs[c], metrics("loss", i*perBatch, perBatch, ts)
					switch (c + i) % 9 {
					case 2:
						token, want, code = e.viewer, 403, "PERMISSION_DENIED"
					case 5:
						run, want, code = "999999", 404, "RESOURCE_DOES_NOT_EXIST"
					case 7:
						ms, want, code = metrics("loss", 0, track.MaxBatchMetrics+1, ts), 400, "INVALID_PARAMETER_VALUE"
					}
					status, body := e.call("POST", "runs/log-batch", token, map[string]any{"run_id": run, "metrics": ms}, nil)
					if status != want || !strings.Contains(body, code) {
						failed.Add(1)
						t.Errorf("client %d batch %d: %d %s; want %d %s", c, i, status, body, want, code)
					}
				}
			}()
		}
		wg.Wait()
		if failed.Load() > 0 {
			return
		}
		for c := 0; c < clients; c++ {
			var hist struct {
				Metrics []struct {
					Key       string  `json:"key"`
					Value     float64 `json:"value"`
					Timestamp int64   `json:"timestamp"`
					Step      int64   `json:"step"`
				} `json:"metrics"`
			}
			if status, body := e.call("GET", "metrics/get-history", e.viewer, "run_id="+runs[c]+"&metric_key=loss", &hist); status != 200 {
				t.Fatalf("get-history: %d %s", status, body)
			}
			var want []int64 // steps of the batches that succeeded
			for i := 0; i < batches; i++ {
				if k := (c + i) % 9; k != 2 && k != 5 && k != 7 {
					for j := 0; j < perBatch; j++ {
						want = append(want, int64(i*perBatch+j))
					}
				}
			}
			if len(hist.Metrics) != len(want) {
				t.Fatalf("client %d: %d points, want %d", c, len(hist.Metrics), len(want))
			}
			for k, m := range hist.Metrics {
				if m.Key != "loss" || m.Step != want[k] || m.Value != float64(want[k])+0.25 || m.Timestamp != ts+want[k] {
					t.Fatalf("client %d point %d = %+v, want step %d", c, k, m, want[k])
				}
			}
		}
	})
}

// TestRevokedTokenStopsAtOnce checks that the token cache does not keep a
// revoked token working.
func TestRevokedTokenStopsAtOnce(t *testing.T) {
	d := dbtest.SQLite(t)
	e := newEnv(t, d)
	run := e.newRun("r")
	ctx := context.Background()
	tok, secret, err := e.auth.CreateToken(ctx, "sci", "short", auth.KindAPI, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	body := map[string]any{"run_id": run, "metrics": metrics("m", 0, 1, 1)}
	if status, b := e.call("POST", "runs/log-batch", secret, body, nil); status != 200 {
		t.Fatalf("before revocation: %d %s", status, b)
	}
	if err := e.auth.RevokeToken(ctx, "sci", tok.ID); err != nil {
		t.Fatal(err)
	}
	if status, b := e.call("POST", "runs/log-batch", secret, body, nil); status != 401 {
		t.Fatalf("after revocation: %d %s", status, b)
	}
}

// BenchmarkLogBatch measures runs/log-batch through the HTTP stack
// (authentication, permission check, group commit) with 20 concurrent
// clients, each on its own run, sending 10 metrics per request, as
// bench/tracking does against the whole program. It reports metrics/s
// (ns/op is per request).
//
//	go test ./internal/mlflowapi/ -run '^$' -bench LogBatch -benchtime 20000x
func BenchmarkLogBatch(b *testing.B) {
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			var d *db.DB
			if name == "sqlite" {
				d = dbtest.SQLite(b)
			} else {
				d = dbtest.Postgres(b)
			}
			benchLogBatch(b, newEnv(b, d), 20, 10)
		})
	}
}

func benchLogBatch(b *testing.B, e *env, clients, perBatch int) {
	runs := make([]string, clients)
	for c := range runs {
		runs[c] = e.newRun(fmt.Sprint("c", c))
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ms := make([]map[string]any, perBatch)
			for step := 0; next.Add(1) <= int64(b.N); step++ {
				// Like a training loop: perBatch metrics (m0, m1, ...)
				// at each step.
				ts := time.Now().UnixMilli()
				for i := range ms {
					ms[i] = map[string]any{"key": fmt.Sprint("m", i), "value": float64(step) * 0.001, "timestamp": ts, "step": step}
				}
				body := map[string]any{"run_id": runs[c], "metrics": ms}
				if status, msg := e.call("POST", "runs/log-batch", e.sci, body, nil); status != 200 {
					b.Errorf("log-batch: %d %s", status, msg)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "metrics/s")
}
