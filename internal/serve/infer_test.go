package serve_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
)

// Concurrent single-row requests are grouped into batches, and a batch
// predicts exactly what each row predicts alone.
func TestBatchingGroupsConcurrentRequests(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{Workers: 1, MaxBatch: 32, MaxDelay: 2 * time.Millisecond})
	m, tab := adultModel(t)
	e.register(t, "adult", m)
	e.promote(t, "adult", 1, allEnvs...)
	const n = 200
	want, err := m.Predict(tab.Subset(seq(n)))
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := e.svc.Infer(context.Background(), "adult", 0, adultRequest(tab, i, i+1))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = resp.Outputs[0].Data[0]
		}()
	}
	wg.Wait()
	for i := range n {
		if got[i] != want[i] {
			t.Fatalf("row %d: batched %v, alone %v", i, got[i], want[i])
		}
	}
	rows, batches := e.metric(t, "hygie_inference_batch_size", map[string]string{"model": "adult"})
	if rows != n || batches >= n {
		t.Fatalf("%v rows in %d batches: requests were not grouped", rows, batches)
	}
	if e.count(t, "") != n {
		t.Fatalf("%d predictions logged, want %d", e.count(t, ""), n)
	}
	if s, _ := e.metric(t, "hygie_inference_requests_total", map[string]string{"model": "adult", "version": "1", "outcome": "success"}); s != n {
		t.Fatalf("success counter %v", s)
	}
	if _, c := e.metric(t, "hygie_inference_queue_seconds", map[string]string{"model": "adult"}); c != n {
		t.Fatalf("queue histogram holds %d requests", c)
	}
	if s, _ := e.metric(t, "hygie_models_loaded", nil); s != 1 {
		t.Fatalf("models loaded %v", s)
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// A full queue answers 503 with the protocol's error, and what was
// refused is not logged.
func TestQueueFull(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{Workers: 1, MaxBatch: 1, QueueSize: 1}, func(s *serve.Service) { serve.SlowPredict(s, 100*time.Millisecond) })
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := e.post(t, "/v2/models/lin/infer", xRequest(1))
			switch {
			case code == 200:
				ok.Add(1)
			case code == 503 && strings.Contains(body["error"].(string), "queue is full"):
				full.Add(1)
			default:
				t.Errorf("HTTP %d %v", code, body)
			}
		}()
	}
	wg.Wait()
	if full.Load() == 0 || ok.Load() == 0 {
		t.Fatalf("%d answered, %d refused: want both", ok.Load(), full.Load())
	}
	if n := e.count(t, ""); n != int(ok.Load()) {
		t.Fatalf("%d predictions logged for %d answers", n, ok.Load())
	}
	if s, _ := e.metric(t, "hygie_inference_requests_total", map[string]string{"outcome": "overloaded"}); s != float64(full.Load()) {
		t.Fatalf("overloaded counter %v", s)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{Timeout: 30 * time.Millisecond}, func(s *serve.Service) { serve.SlowPredict(s, 200*time.Millisecond) })
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	code, body := e.post(t, "/v2/models/lin/infer", xRequest(1))
	if code != 503 || !strings.Contains(body["error"].(string), "timed out") {
		t.Fatalf("HTTP %d %v", code, body)
	}
	time.Sleep(250 * time.Millisecond)
	if n := e.count(t, ""); n != 0 {
		t.Fatalf("a timed-out request logged %d predictions", n)
	}
}

// Clients infer continuously while a new version is promoted to
// production: no request fails, both versions answer, and every answered
// prediction is logged exactly once.
func TestHotSwapUnderLoad(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{ResolveEvery: 20 * time.Millisecond})
	e.register(t, "lin", linear(1))
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	e.promote(t, "lin", 2, "dev", "test", "integration")
	var (
		mu       sync.Mutex
		ids      = map[string]bool{}
		versions = map[string]int{}
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				code, body := e.post(t, "/v2/models/lin/infer", xRequest(3))
				if code != 200 {
					t.Errorf("HTTP %d %v", code, body)
					return
				}
				y := body["outputs"].([]any)[0].(map[string]any)["data"].([]any)[0].(float64)
				v := versionOf(body)
				if (v == "1" && y != 3) || (v == "2" && y != 6) {
					t.Errorf("version %s answered %v", v, y)
				}
				mu.Lock()
				versions[v]++
				for _, id := range body["parameters"].(map[string]any)["prediction_ids"].([]any) {
					ids[id.(string)] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	e.promote(t, "lin", 2, "production")
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if versions["1"] == 0 || versions["2"] == 0 {
		t.Fatalf("answers by version: %v", versions)
	}
	if n := e.count(t, ""); n != len(ids) {
		t.Fatalf("%d predictions logged for %d answered", n, len(ids))
	}
	var v2 int
	e.d.QueryRow(context.Background(), `SELECT COUNT(*) FROM predictions p JOIN model_versions mv ON mv.id = p.model_version_id WHERE mv.version = 2`).Scan(&v2)
	if v2 != versions["2"] {
		t.Fatalf("%d predictions logged for version 2, %d answered", v2, versions["2"])
	}
}

func TestCanaryShare(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{}, func(s *serve.Service) {
		r := rand.New(rand.NewPCG(3, 4))
		var mu sync.Mutex
		serve.SetRand(s, func() float64 { mu.Lock(); defer mu.Unlock(); return r.Float64() })
	})
	e.register(t, "lin", linear(1))
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	e.promote(t, "lin", 2, "dev", "test", "integration")
	if _, err := e.reg.SetCanary(e.ctx, "lin", 2, 0.2, registry.ModeCanary); err != nil {
		t.Fatal(err)
	}
	const n = 1000
	byVersion := map[string]int{}
	for range n {
		resp, err := e.svc.Infer(context.Background(), "lin", 0, mustRequest(xRequest(1)))
		if err != nil {
			t.Fatal(err)
		}
		byVersion[resp.ModelVersion]++
	}
	if share := float64(byVersion["2"]) / n; share < 0.17 || share > 0.23 {
		t.Fatalf("canary share %.3f, want 0.2 ± 0.03 (%v)", share, byVersion)
	}
	if c := e.count(t, serve.RouteCanary); c != byVersion["2"] {
		t.Fatalf("%d predictions logged as canary, %d answered", c, byVersion["2"])
	}
	if c := e.count(t, serve.RoutePrimary); c != byVersion["1"] {
		t.Fatalf("%d predictions logged as primary, %d answered", c, byVersion["1"])
	}
	// An explicit version never goes to the canary.
	if resp, err := e.svc.Infer(context.Background(), "lin", 1, mustRequest(xRequest(1))); err != nil || resp.ModelVersion != "1" {
		t.Fatalf("%+v %v", resp, err)
	}
}

func TestShadow(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{})
	e.register(t, "lin", linear(1))
	e.register(t, "lin", linear(2))
	e.promote(t, "lin", 1, allEnvs...)
	e.promote(t, "lin", 2, "dev", "test", "integration")
	if _, err := e.reg.SetCanary(e.ctx, "lin", 2, 0.5, registry.ModeShadow); err != nil {
		t.Fatal(err)
	}
	const n = 400
	for range n {
		resp, err := e.svc.Infer(context.Background(), "lin", 0, mustRequest(xRequest(5)))
		if err != nil || resp.ModelVersion != "1" || resp.Outputs[0].Data[0] != 5 {
			t.Fatalf("shadow mode answered %+v, %v", resp, err)
		}
	}
	e.svc.Close() // waits for the background predictions
	shadow := e.count(t, serve.RouteShadow)
	if e.count(t, serve.RoutePrimary) != n || shadow < n/2-60 || shadow > n/2+60 {
		t.Fatalf("%d primary and %d shadow predictions logged", e.count(t, serve.RoutePrimary), shadow)
	}
	var out string
	e.d.QueryRow(context.Background(), `SELECT outputs_json FROM predictions WHERE route = 'shadow' LIMIT 1`).Scan(&out)
	if out != `{"y":10}` {
		t.Fatalf("shadow output %s, want the candidate's", out)
	}
}

// Under a memory budget smaller than two models, loading one unloads the
// other; both keep answering.
func TestMemoryBudgetEviction(t *testing.T) {
	m1, _ := linear(1).Marshal()
	e := newEnv(t, dbtest.SQLite(t), serve.Options{MemoryBudget: int64(len(m1)) + 10})
	e.register(t, "lin", linear(1))
	e.register(t, "lin", linear(2))
	for round := range 3 {
		for _, v := range []int{1, 2} {
			resp, err := e.svc.Infer(context.Background(), "lin", v, mustRequest(xRequest(1)))
			if err != nil || resp.Outputs[0].Data[0] != float64(v) {
				t.Fatalf("round %d version %d: %+v %v", round, v, resp, err)
			}
			if n := serve.Loaded(e.svc); n != 1 {
				t.Fatalf("%d models loaded under a one-model budget", n)
			}
		}
	}
}

// Bad requests get the protocol's error with 400 or 404, and nothing is
// logged; a column the model does not list (an identifier) is refused.
func TestBadInputNothingLogged(t *testing.T) {
	e := newEnv(t, dbtest.SQLite(t), serve.Options{})
	e.register(t, "lin", linear(1))
	e.promote(t, "lin", 1, allEnvs...)
	m, _ := adultModel(t)
	e.register(t, "adult", m)
	in := func(name, dtype, shape, data string) string {
		return `{"name":"` + name + `","datatype":"` + dtype + `","shape":` + shape + `,"data":` + data + `}`
	}
	cases := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"wrong shape", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[2]", "[1]") + `]}`, 400, "shape"},
		{"3-d shape", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1,1,1]", "[[[1]]]") + `]}`, 400, "shape"},
		{"wrong datatype", "/v2/models/lin/infer", `{"inputs":[` + in("x", "BYTES", "[1]", `["1"]`) + `]}`, 400, "not numeric"},
		{"out of range", "/v2/models/lin/infer", `{"inputs":[` + in("x", "UINT8", "[1]", "[256]") + `]}`, 400, "out of the range"},
		{"negative unsigned", "/v2/models/lin/infer", `{"inputs":[` + in("x", "UINT16", "[1]", "[-1]") + `]}`, 400, "out of the range"},
		{"not a bool", "/v2/models/lin/infer", `{"inputs":[` + in("x", "BOOL", "[1]", "[1]") + `]}`, 400, "true and false"},
		{"missing input", "/v2/models/lin/infer", `{"inputs":[]}`, 400, "at least one"},
		{"null for a linear model", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1]", "[null]") + `]}`, 400, "missing"},
		{"NaN", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1]", "[NaN]") + `]}`, 400, "malformed JSON"},
		{"identifier column", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1]", "[1]") + `,` + in("nir", "BYTES", "[1]", `["1850175123456"]`) + `]}`, 400, `"nir" is not an input`},
		{"ragged", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[2]", "[1,") + `]}`, 400, "malformed JSON"},
		{"nested too deep", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1]", "[[[[[[[[[[1]]]]]]]]]]") + `]}`, 400, "deeply"},
		{"object in data", "/v2/models/lin/infer", `{"inputs":[` + in("x", "FP64", "[1]", `[{"a":1}]`) + `]}`, 400, "scalars"},
		{"unknown model", "/v2/models/nope/infer", `{"inputs":[]}`, 404, "not found"},
		{"unknown version", "/v2/models/lin/versions/7/infer", `{"inputs":[]}`, 404, "not found"},
		{"no production version", "/v2/models/adult/infer", `{"inputs":[]}`, 404, "no version in production"},
		{"bad version", "/v2/models/lin/versions/x/infer", `{"inputs":[]}`, 400, "positive integer"},
		{"adult: unknown category is fine but a number for a category needs BYTES or numbers", "/v2/models/adult/versions/1/infer", `{"inputs":[` + in("age", "FP64", "[1]", `["x"]`) + `]}`, 400, "array of numbers"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body := e.post(t, tc.path, tc.body)
			msg, _ := body["error"].(string)
			if code != tc.status || !strings.Contains(msg, tc.msg) {
				t.Fatalf("HTTP %d %v, want %d %q", code, body, tc.status, tc.msg)
			}
		})
	}
	if n := e.count(t, ""); n != 0 {
		t.Fatalf("bad requests logged %d predictions", n)
	}
	// A good request logs the model's inputs only, with latency and route.
	code, body := e.post(t, "/v2/models/lin/infer", `{"id":"abc","parameters":{"note":1},"inputs":[`+in("x", "INT32", "[2,1]", "[[4],[5]]")+`]}`)
	if code != 200 || body["id"] != "abc" || body["parameters"].(map[string]any)["note"] != 1.0 {
		t.Fatalf("HTTP %d %v", code, body)
	}
	ps, err := e.svc.Predictions(e.ctx, "proj", serve.Filter{Model: "lin"})
	if err != nil || len(ps) != 2 || string(ps[0].Inputs) != `{"x":4}` && string(ps[0].Inputs) != `{"x":5}` || ps[0].Route != serve.RoutePrimary || ps[0].LatencyMS <= 0 {
		t.Fatalf("logged %+v, %v", ps, err)
	}
}

func mustRequest(s string) serve.Request {
	var r serve.Request
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		panic(err)
	}
	return r
}

func TestRetentionAndQuery(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		clock := now.Add(-48 * time.Hour)
		var mu sync.Mutex
		e := newEnv(t, d, serve.Options{}, func(s *serve.Service) {
			serve.SetNow(s, func() time.Time { mu.Lock(); defer mu.Unlock(); return clock })
		})
		e.register(t, "lin", linear(1))
		e.promote(t, "lin", 1, allEnvs...)
		ctx := context.Background()
		if _, err := e.svc.Infer(ctx, "lin", 0, mustRequest(xRequest(1, 2, 3))); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		clock = now
		mu.Unlock()
		if _, err := e.svc.Infer(ctx, "lin", 0, mustRequest(xRequest(4))); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			f    serve.Filter
			want int
		}{
			{"all", serve.Filter{}, 4},
			{"model", serve.Filter{Model: "lin"}, 4},
			{"other model", serve.Filter{Model: "other"}, 0},
			{"since", serve.Filter{Since: now.Add(-time.Hour)}, 1},
			{"until", serve.Filter{Until: now.Add(-time.Hour)}, 3},
			{"route", serve.Filter{Route: serve.RoutePrimary}, 4},
			{"canary route", serve.Filter{Route: serve.RouteCanary}, 0},
			{"limit", serve.Filter{Limit: 2}, 2},
		} {
			ps, err := e.svc.Predictions(e.ctx, "proj", tc.f)
			if err != nil || len(ps) != tc.want {
				t.Fatalf("%s: %d predictions, %v; want %d", tc.name, len(ps), err, tc.want)
			}
		}
		if _, err := e.svc.Predictions(auth.WithPrincipal(ctx, &auth.Principal{Username: "eve"}), "proj", serve.Filter{}); err == nil {
			t.Fatal("a stranger read the prediction log")
		}
		n, err := e.svc.Prune(ctx, 24*time.Hour)
		if err != nil || n != 3 || e.count(t, "") != 1 {
			t.Fatalf("pruned %d (%v), %d left", n, err, e.count(t, ""))
		}
	})
}
