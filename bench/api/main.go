// Command api-bench is a bounded load test of hygie's API on loopback. It
// builds hygie, starts it as a separate process on a fresh data directory
// (hygie demo --serve: the server of hygie server, filled by the demo's
// lifecycle — a dataset and its versions, a tracked run, a model in
// production), then runs concurrent clients, each sending a realistic mix
// of authenticated calls for a fixed time, and reports requests, errors and
// latency percentiles per kind of call. It exits non-zero if any request
// failed. Run from the repository root:
//
//	go run ./bench/api                                # 100 clients for 60 s, SQLite
//	go run ./bench/api -clients 100 -duration 10s
//	go run ./bench/api -postgres "$HYGIE_TEST_POSTGRES" # a fresh schema, dropped after
//
// Results are in bench/api/README.md.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/resilience"
)

func main() {
	var o options
	flag.IntVar(&o.clients, "clients", 100, "concurrent clients")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long the clients send requests")
	flag.StringVar(&o.postgres, "postgres", "", "PostgreSQL URL (default: SQLite in a temporary directory)")
	flag.IntVar(&o.patients, "patients", 2000, "size of the demo's synthetic cohort")
	flag.Int64Var(&o.seed, "seed", 1, "seed of the clients' choices of calls")
	flag.Parse()
	rep, err := run(context.Background(), o, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "api-bench:", err)
		os.Exit(1)
	}
	rep.print(os.Stdout)
	if rep.errors() > 0 {
		fmt.Fprintf(os.Stderr, "api-bench: %d requests failed, first: %s\n", rep.errors(), rep.firstError)
		os.Exit(1)
	}
}

type options struct {
	clients  int
	duration time.Duration
	postgres string
	patients int
	seed     int64
}

// A call is one kind of request of the mix.
type call struct {
	kind   string
	weight int
	do     func(ctx context.Context, c *resilience.Client, client int) error
}

// stats are one kind's results.
type stats struct {
	Kind      string          `json:"kind"`
	Requests  int             `json:"requests"`
	Errors    int             `json:"errors"`
	latencies []time.Duration // successful requests
	P50       time.Duration   `json:"p50"`
	P95       time.Duration   `json:"p95"`
	P99       time.Duration   `json:"p99"`
	Max       time.Duration   `json:"max"`
}

type report struct {
	Clients    int           `json:"clients"`
	Duration   time.Duration `json:"duration"`
	Database   string        `json:"database"`
	Kinds      []*stats      `json:"kinds"`
	Total      stats         `json:"total"`
	firstError string
}

func (r *report) errors() int { return r.Total.Errors }

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "%d clients for %s on %s, GOMAXPROCS %d: %d requests (%.0f/s), %d errors\n\n",
		r.Clients, r.Duration.Round(time.Millisecond), r.Database, runtime.GOMAXPROCS(0), r.Total.Requests, float64(r.Total.Requests)/r.Duration.Seconds(), r.Total.Errors)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\trequests\terrors\tp50\tp95\tp99\tmax\t")
	for _, s := range append(slices.Clone(r.Kinds), &r.Total) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", s.Kind, s.Requests, s.Errors, ms(s.P50), ms(s.P95), ms(s.P99), ms(s.Max))
	}
	tw.Flush()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

func (s *stats) summarize() {
	slices.Sort(s.latencies)
	pct := func(p float64) time.Duration {
		if len(s.latencies) == 0 {
			return 0
		}
		return s.latencies[int(p*float64(len(s.latencies)-1))]
	}
	s.P50, s.P95, s.P99, s.Max = pct(0.50), pct(0.95), pct(0.99), pct(1)
}

// demoResult is what hygie demo --output json prints.
type demoResult struct {
	BaseURL      string `json:"base_url"`
	AdminToken   string `json:"admin_token"`
	ClinicianTok string `json:"clinician_token"`
	Dataset      string `json:"dataset"` // NAME@VERSION
	RunID        int64  `json:"run_id"`
	Curl         string `json:"curl"`
}

const project, model = "demo-bmi", "demo-readmission"

// run builds and starts hygie, fills it with the demo, and sends the load;
// progress goes to logw.
func run(ctx context.Context, o options, logw io.Writer) (*report, error) {
	tmp, err := os.MkdirTemp("", "api-bench-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	fmt.Fprintln(logw, "building hygie…")
	bin, err := resilience.Build(ctx, tmp)
	if err != nil {
		return nil, err
	}
	env := []string{"HYGIE_DATA=" + tmp + "/data"}
	rep := &report{Clients: o.clients, Database: "SQLite"}
	if o.postgres != "" {
		dsn, drop, err := db.FreshSchema(ctx, o.postgres, "apibench_")
		if err != nil {
			return nil, err
		}
		defer drop()
		env = append(env, "HYGIE_DATABASE="+dsn)
		rep.Database = "PostgreSQL"
	}
	srv, err := resilience.NewServer(bin, env...)
	if err != nil {
		return nil, err
	}
	srv.Args = []string{"demo", "--serve", "--output", "json", "--patients", fmt.Sprint(o.patients)}
	defer srv.Stop()
	fmt.Fprintf(logw, "running the demo on %s…\n", srv.Addr)
	if err := srv.Start(ctx, 5*time.Minute); err != nil {
		return nil, err
	}
	var res demoResult
	for deadline := time.Now().Add(5 * time.Minute); ; {
		if out := srv.Stdout(); json.Valid([]byte(out)) {
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				return nil, err
			}
			break
		}
		if srv.Exited() {
			return nil, fmt.Errorf("the demo failed:\n%s", srv.Log())
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the demo did not finish in 5 minutes:\n%s", srv.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}
	calls, err := prepare(ctx, o, res)
	if err != nil {
		return nil, fmt.Errorf("prepare the load: %w\n%s", err, srv.Log())
	}
	fmt.Fprintf(logw, "%d clients for %s…\n", o.clients, o.duration)
	load(ctx, o, res, calls, rep)
	if rep.errors() > 0 {
		fmt.Fprintf(logw, "hygie's log:\n%s\n", srv.Log())
	}
	return rep, nil
}

// prepare creates what the clients need (a run each for log-metric) and
// returns the mix of calls.
func prepare(ctx context.Context, o options, res demoResult) ([]call, error) {
	admin := &resilience.Client{Base: res.BaseURL, Token: res.AdminToken}
	for _, role := range []string{"scientist", "steward"} {
		if err := admin.Do(ctx, "POST", "/api/v1/projects/"+project+"/members", map[string]any{"username": "admin", "role": role}, nil); err != nil {
			return nil, err
		}
	}
	var run struct {
		Run struct {
			Info struct {
				ExperimentID string `json:"experiment_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := admin.Do(ctx, "GET", fmt.Sprintf("/api/2.0/mlflow/runs/get?run_id=%d", res.RunID), nil, &run); err != nil {
		return nil, err
	}
	exp := run.Run.Info.ExperimentID
	runs := make([]string, o.clients)
	for i := range runs {
		var err error
		if runs[i], err = admin.CreateRun(ctx, exp, fmt.Sprint("load-", i)); err != nil {
			return nil, err
		}
	}
	// The demo's example inference request (one patient).
	_, body, ok := strings.Cut(res.Curl, "-d '")
	body, _, ok2 := strings.Cut(body, "'")
	if !ok || !ok2 || !json.Valid([]byte(body)) {
		return nil, fmt.Errorf("no example inference request in the demo's result")
	}
	infer := json.RawMessage(body)
	name, version, _ := strings.Cut(res.Dataset, "@")
	versions := "/api/v1/projects/" + project + "/datasets/" + url.PathEscape(name) + "/versions"
	get := func(path string) func(ctx context.Context, c *resilience.Client, i int) error {
		return func(ctx context.Context, c *resilience.Client, i int) error { return c.Do(ctx, "GET", path, nil, nil) }
	}
	step := make([]int, o.clients) // each client's own run and step counter
	return []call{
		{"projects.list", 2, get("/api/v1/projects")},
		{"datasets.list", 2, get("/api/v1/projects/" + project + "/datasets")},
		{"dataset.versions", 2, get(versions)},
		{"dataset.version", 2, get(versions + "/" + version)},
		{"dataset.content", 1, func(ctx context.Context, c *resilience.Client, i int) error {
			return download(ctx, c, versions+"/"+version+"/content?format=csv")
		}},
		{"mlflow.runs.search", 2, func(ctx context.Context, c *resilience.Client, i int) error {
			return c.Do(ctx, "POST", "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{exp}, "max_results": 50}, nil)
		}},
		{"mlflow.log-metric", 3, func(ctx context.Context, c *resilience.Client, i int) error {
			step[i]++
			return c.Do(ctx, "POST", "/api/2.0/mlflow/runs/log-metric", map[string]any{"run_id": runs[i], "key": "loss", "value": 1 / float64(step[i]), "timestamp": time.Now().UnixMilli(), "step": step[i]}, nil)
		}},
		{"models.versions", 2, get("/api/v1/projects/" + project + "/models")},
		{"oip.infer", 4, func(ctx context.Context, c *resilience.Client, i int) error {
			clin := &resilience.Client{Base: c.Base, Token: res.ClinicianTok, HTTP: c.HTTP}
			return clin.Do(ctx, "POST", "/v2/models/"+model+"/infer", infer, nil)
		}},
	}, nil
}

// download reads a whole response body, failing on a status other than 200.
func download(ctx context.Context, c *resilience.Client, path string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", c.Base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || n == 0 {
		return fmt.Errorf("GET %s: %d, %d bytes", path, resp.StatusCode, n)
	}
	return nil
}

// load runs the clients until o.duration has passed and fills rep.
func load(ctx context.Context, o options, res demoResult, calls []call, rep *report) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: 2 * o.clients, MaxIdleConnsPerHost: 2 * o.clients}}
	var total int
	for _, c := range calls {
		total += c.weight
	}
	var mu sync.Mutex
	byKind := map[string]*stats{}
	for _, c := range calls {
		byKind[c.kind] = &stats{Kind: c.kind}
	}
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.duration)
	for i := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(o.seed), uint64(i)))
			admin := &resilience.Client{Base: res.BaseURL, Token: res.AdminToken, HTTP: hc}
			mine := map[string]*stats{}
			var firstErr error
			for time.Now().Before(deadline) {
				n := rng.IntN(total)
				c := calls[0]
				for _, c = range calls {
					if n -= c.weight; n < 0 {
						break
					}
				}
				s := mine[c.kind]
				if s == nil {
					s = &stats{}
					mine[c.kind] = s
				}
				t0 := time.Now()
				err := c.do(ctx, admin, i)
				s.Requests++
				if err != nil {
					s.Errors++
					if firstErr == nil {
						firstErr = fmt.Errorf("%s: %w", c.kind, err)
					}
					continue
				}
				s.latencies = append(s.latencies, time.Since(t0))
			}
			mu.Lock()
			defer mu.Unlock()
			for k, s := range mine {
				all := byKind[k]
				all.Requests += s.Requests
				all.Errors += s.Errors
				all.latencies = append(all.latencies, s.latencies...)
			}
			if firstErr != nil && rep.firstError == "" {
				rep.firstError = firstErr.Error()
			}
		}()
	}
	wg.Wait()
	rep.Duration = time.Since(start)
	rep.Total.Kind = "all"
	for _, c := range calls {
		s := byKind[c.kind]
		s.summarize()
		rep.Kinds = append(rep.Kinds, s)
		rep.Total.Requests += s.Requests
		rep.Total.Errors += s.Errors
		rep.Total.latencies = append(rep.Total.latencies, s.latencies...)
	}
	rep.Total.summarize()
}
