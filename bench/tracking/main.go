// Command tracking-bench measures the MLflow-compatible tracking API:
// concurrent clients send runs/log-batch requests (10 metrics each by
// default) over loopback HTTP to a full hygie server (authentication,
// authorization, audit, request logging, database transaction per batch),
// and it reports metrics recorded per second. Run from the repository root:
//
//	go run ./bench/tracking                                # SQLite in a temp dir
//	go run ./bench/tracking -postgres "$HYGIE_TEST_POSTGRES" # PostgreSQL (a fresh schema, dropped after)
//	go run ./bench/tracking -clients 20 -metrics 10 -duration 10s -rounds 3
//
// Results are in bench/tracking/README.md.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/db"
)

func main() {
	pg := flag.String("postgres", "", "PostgreSQL URL (default: SQLite in a temporary directory)")
	clients := flag.Int("clients", 20, "concurrent clients, one run each")
	perBatch := flag.Int("metrics", 10, "metrics per log-batch request")
	dur := flag.Duration("duration", 10*time.Second, "how long to send")
	rounds := flag.Int("rounds", 1, "measure this many times (new runs each time) and print the median")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole process (client and server) to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()

	dir, err := os.MkdirTemp("", "tracking-bench-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir = dir
	dialect := "sqlite"
	if *pg != "" {
		dialect = "postgres"
		dsn, drop, err := db.FreshSchema(ctx, *pg, "bench_")
		if err != nil {
			log.Fatal(err)
		}
		defer drop()
		cfg.Database = dsn
	}
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	if _, err := a.Projects.Create(ctx, "bench", "", ""); err != nil {
		log.Fatal(err)
	}
	if _, err := a.Auth.CreateUser(ctx, "sci", "", "", false); err != nil {
		log.Fatal(err)
	}
	if err := a.Auth.Grant(ctx, "bench", "sci", auth.RoleScientist); err != nil {
		log.Fatal(err)
	}
	_, token, err := a.Auth.CreateToken(ctx, "sci", "bench", auth.KindAPI, time.Hour, "")
	if err != nil {
		log.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: a.Server}
	go srv.Serve(l)
	defer srv.Close()
	base := "http://" + l.Addr().String() + "/api/2.0/mlflow/"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2}}
	call := func(path string, body, out any) error {
		data, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	var exp struct {
		ID string `json:"experiment_id"`
	}
	if err := call("experiments/create", map[string]any{"name": "bench/load"}, &exp); err != nil {
		log.Fatal(err)
	}

	var results []float64
	var total int64
	for round := 1; round <= *rounds; round++ {
		r := measure(call, exp.ID, round, *clients, *perBatch, *dur)
		total += r.batches
		fmt.Printf("%-8s clients=%d metrics/batch=%d duration=%s: %d batches ok, %d failed, %.0f batches/s, %.0f metrics/s; latency p50 %s p99 %s\n",
			dialect, *clients, *perBatch, r.elapsed.Round(time.Millisecond), r.batches, r.failures, float64(r.batches)/r.elapsed.Seconds(),
			r.metricsPerSec, r.p50, r.p99)
		if r.firstErr != "" {
			fmt.Println("first error:", r.firstErr)
		}
		results = append(results, r.metricsPerSec)
	}
	var stored int64
	if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM run_metrics`).Scan(&stored); err != nil {
		log.Fatal(err)
	}
	sort.Float64s(results)
	median := (results[(len(results)-1)/2] + results[len(results)/2]) / 2
	fmt.Printf("%-8s median of %d: %.0f metrics/s; %d metrics stored, %d acknowledged\n", dialect, len(results), median, stored, total*int64(*perBatch))
	if stored != total*int64(*perBatch) {
		log.Fatal("stored metrics differ from acknowledged ones")
	}
}

type result struct {
	batches, failures int64
	elapsed           time.Duration
	metricsPerSec     float64
	p50, p99          time.Duration
	firstErr          string
}

// measure runs clients concurrent clients, each on a new run, sending
// log-batch requests of perBatch metrics for dur.
func measure(call func(path string, body, out any) error, experimentID string, round, clients, perBatch int, dur time.Duration) result {
	var (
		requests, failures atomic.Int64
		mu                 sync.Mutex
		latencies          []time.Duration
		wg                 sync.WaitGroup
		firstErr           atomic.Value
	)
	runIDs := make([]string, clients)
	for c := range runIDs {
		var run struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		if err := call("runs/create", map[string]any{"experiment_id": experimentID, "run_name": fmt.Sprint("client-", round, "-", c)}, &run); err != nil {
			log.Fatal(err)
		}
		runIDs[c] = run.Run.Info.RunID
	}
	start := time.Now()
	deadline := start.Add(dur)
	for _, runID := range runIDs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			metrics := make([]map[string]any, perBatch)
			for step := 0; time.Now().Before(deadline); step++ {
				ts := time.Now().UnixMilli()
				for i := range metrics {
					metrics[i] = map[string]any{"key": fmt.Sprint("m", i), "value": float64(step) * 0.001, "timestamp": ts, "step": step}
				}
				t0 := time.Now()
				if err := call("runs/log-batch", map[string]any{"run_id": runID, "metrics": metrics}, nil); err != nil {
					failures.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
				requests.Add(1)
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	pct := func(p float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[int(p*float64(len(latencies)-1))].Round(10 * time.Microsecond)
	}
	n := requests.Load()
	r := result{batches: n, failures: failures.Load(), elapsed: elapsed, metricsPerSec: float64(n*int64(perBatch)) / elapsed.Seconds(), p50: pct(0.5), p99: pct(0.99)}
	if e := firstErr.Load(); e != nil {
		r.firstErr = e.(string)
	}
	return r
}
