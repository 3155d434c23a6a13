// Command serve is the serving load test: it starts a complete hygie server
// (the composed app: authentication, authorization, request logging,
// metrics, the prediction log in the database) and a trivial Go HTTP
// handler that returns a fixed JSON body, both on loopback in this
// process, and measures them side by side (see README.md):
//
//   - throughput: -clients concurrent clients send requests back to back
//     for -duration (at most -max-requests each round), alternating trivial
//     and hygie for -rounds rounds; requests/s, the ratio, p50 and p99;
//   - latency at a fixed rate: -rate requests/s for -rate-duration, sent on
//     schedule whatever the answers (open loop: a slow answer does not
//     delay the next request), latency measured from the scheduled time;
//     first on the fresh servers, then again after the throughput test;
//   - batch clients: the same closed loop with -batch rows per request.
//
// hygie serves a gradient-boosted model (100 trees) trained on the adult
// census features (-adult, a ';'-separated CSV; synthetic rows with the
// same columns when the file is missing). At the end the predictions
// logged are counted against the predictions answered.
//
//	go run ./bench/serve
//	go run ./bench/serve -postgres "$HYGIE_TEST_POSTGRES"
package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
)

var features = []string{"sex", "age", "race", "marital-status", "education", "native-country", "workclass", "occupation"}

func main() {
	adult := flag.String("adult", "/work/shared/data/adult/adult.csv", "adult census CSV (';'-separated); synthetic rows when missing")
	pg := flag.String("postgres", "", "PostgreSQL URL (default: SQLite in a temporary directory); a fresh database schema is not created: use an empty database")
	clients := flag.Int("clients", 256, "concurrent clients of the throughput test")
	dur := flag.Duration("duration", 4*time.Second, "length of each throughput round")
	maxReq := flag.Int("max-requests", 200000, "most requests of one throughput round")
	rounds := flag.Int("rounds", 5, "throughput rounds per server (alternating)")
	nSlices := flag.Int("slices", 4, "slices of each round, trivial and hygie alternating")
	rate := flag.Int("rate", 1000, "requests/s of the fixed-rate test")
	rateDur := flag.Duration("rate-duration", 10*time.Second, "length of the fixed-rate test")
	batch := flag.Int("batch", 32, "rows per request of the batch test (0: skip)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole process")
	memprofile := flag.String("memprofile", "", "write an allocation profile of the whole process at the end")
	only := flag.Bool("hygie-only", false, "throughput rounds of hygie only (to profile it)")
	async := flag.Bool("async-log", false, "answer before the prediction is written (serve.Options.AsyncLog)")
	logDelay := flag.Duration("log-delay", 0, "serve.Options.LogDelay (0: the default)")
	flag.Parse()

	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hygie-bench-serve-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Database = *pg
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Serving: serve.Options{AsyncLog: *async, LogDelay: *logDelay}})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	tab, source := loadAdult(*adult)
	token := setup(ctx, a, tab)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: a.Server}
	go srv.Serve(l)
	defer srv.Close()
	hygieURL := "http://" + l.Addr().String() + "/v2/models/adult/infer"

	// The trivial server answers what hygie answers to one row.
	one := body(tab, 0, 1)
	fixed := probe(hygieURL, token, one)
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	tsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(fixed)
	})}
	go tsrv.Serve(tl)
	defer tsrv.Close()
	trivialURL := "http://" + tl.Addr().String() + "/"

	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("machine: %d CPUs (GOMAXPROCS %d), %s, load average %s; database %s; model: gbdt, 100 trees, on %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), loadAverage(), a.DB.Dialect(), source)
	bodies := make([][]byte, 256)
	for i := range bodies {
		bodies[i] = body(tab, i, i+1)
	}
	var answered atomic.Int64 // predictions hygie answered
	// Fixed rate, once before and once after the throughput test: the
	// second run shows what a heavy load leaves behind (the log's backlog).
	fixedPhase := func(when string) {
		if *rate <= 0 {
			return
		}
		for _, target := range []struct{ name, url, token string }{{"trivial", trivialURL, ""}, {"hygie", hygieURL, token}} {
			var count *atomic.Int64
			if target.name == "hygie" {
				count = &answered
			}
			r := fixedRate(target.url, target.token, bodies, *rate, *rateDur, count)
			fmt.Printf("fixed rate %d req/s for %s, %s, %s: %s\n", *rate, *rateDur, when, target.name, r)
		}
	}
	fixedPhase("first")
	var trivialRates, hygieRates, ratios, cpuRatios []float64
	for round := 1; round <= *rounds; round++ {
		// A round alternates trivial and hygie in -slices slices, so that
		// the other load on the machine weighs on both alike.
		t, h := result{rate: math.NaN()}, result{}
		tc, hc := client(*clients), client(*clients)
		for range *nSlices {
			if !*only {
				t = t.merge(closedLoop(tc, trivialURL, "", bodies, *clients, *dur/time.Duration(*nSlices), *maxReq / *nSlices, nil))
			}
			h = h.merge(closedLoop(hc, hygieURL, token, bodies, *clients, *dur/time.Duration(*nSlices), *maxReq / *nSlices, &answered))
		}
		tc.CloseIdleConnections()
		hc.CloseIdleConnections()
		fmt.Printf("round %d, %d clients: trivial %s | hygie %s | ratio %.2f, CPU ratio %.2f\n", round, *clients, t, h, h.rate/t.rate, float64(t.cpu)/float64(h.cpu))
		trivialRates, hygieRates, ratios = append(trivialRates, t.rate), append(hygieRates, h.rate), append(ratios, h.rate/t.rate)
		cpuRatios = append(cpuRatios, float64(t.cpu)/float64(h.cpu))
	}
	if *rounds > 0 {
		fmt.Printf("median of %d rounds: trivial %.0f req/s, hygie %.0f req/s, ratio %.2f; CPU per request (clients included) ratio %.2f\n",
			*rounds, median(trivialRates), median(hygieRates), median(ratios), median(cpuRatios))
		fixedPhase("after the throughput test")
	}

	if *batch > 0 {
		batches := make([][]byte, 16)
		for i := range batches {
			batches[i] = body(tab, i**batch, (i+1)**batch)
		}
		hc := client(*clients)
		single := closedLoop(hc, hygieURL, token, bodies, *clients, *dur, *maxReq, &answered)
		var rows atomic.Int64
		b := closedLoop(hc, hygieURL, token, batches, *clients, *dur, *maxReq, &rows)
		hc.CloseIdleConnections()
		answered.Add(rows.Load())
		fmt.Printf("batch clients: 1 row/request %.0f predictions/s; %d rows/request %.0f predictions/s (%.1fx); %s\n",
			single.rate, *batch, float64(rows.Load())/b.elapsed.Seconds(), float64(rows.Load())/b.elapsed.Seconds()/single.rate, b)
	}

	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	a.Serve.Close() // writes what is pending
	var logged int64
	if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM predictions`).Scan(&logged); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("prediction log: %d predictions answered, %d logged; load average %s\n", answered.Load()+1, logged, loadAverage())
	if logged != answered.Load()+1 { // +1: the probe
		log.Fatal("the prediction log differs from the predictions answered")
	}
}

// loadAdult reads the adult table, or makes a synthetic one.
func loadAdult(path string) (*model.Table, string) {
	f, err := os.Open(path)
	if err != nil {
		return synthetic(30000), "synthetic adult-like rows (" + path + " not found)"
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	recs, err := r.ReadAll()
	if err != nil || len(recs) < 2 {
		log.Fatalf("%s: %v", path, err)
	}
	t := &model.Table{}
	for _, name := range recs[0] {
		t.Cols = append(t.Cols, model.Column{Name: name})
	}
	for _, rec := range recs[1:] {
		for j, v := range rec {
			c := &t.Cols[j]
			if c.Name == "age" {
				x, err := strconv.ParseFloat(v, 64)
				if err != nil {
					x = math.NaN()
				}
				c.Num = append(c.Num, x)
			} else {
				c.Text = append(c.Text, v)
			}
		}
	}
	return t, fmt.Sprintf("the adult table (%d rows)", len(recs)-1)
}

func synthetic(n int) *model.Table {
	cats := map[string][]string{"sex": {"Male", "Female"}, "race": {"White", "Black", "Asian-Pac-Islander", "Other"},
		"marital-status": {"Married-civ-spouse", "Divorced", "Never-married"}, "education": {"Bachelors", "HS-grad", "Masters", "11th"},
		"native-country": {"United-States", "Mexico", "Germany"}, "workclass": {"Private", "Self-emp-inc", "State-gov"},
		"occupation": {"Tech-support", "Sales", "Exec-managerial", "Adm-clerical"}}
	r := rand.New(rand.NewPCG(1, 2))
	t := &model.Table{}
	for _, f := range append(slices.Clone(features), "salary-class") {
		t.Cols = append(t.Cols, model.Column{Name: f})
	}
	for range n {
		score := -1.5
		for j, f := range features {
			if f == "age" {
				x := float64(17 + r.IntN(70))
				t.Cols[j].Num = append(t.Cols[j].Num, x)
				score += (x - 40) / 15
				continue
			}
			k := r.IntN(len(cats[f]))
			t.Cols[j].Text = append(t.Cols[j].Text, cats[f][k])
			score += float64(k) * 0.3
		}
		label := "<=50K"
		if r.Float64() < 1/(1+math.Exp(-score)) {
			label = ">50K"
		}
		t.Cols[len(features)].Text = append(t.Cols[len(features)].Text, label)
	}
	return t
}

// setup trains the model, registers it as "adult", promotes it to
// production and returns a scientist's token.
func setup(ctx context.Context, a *app.App, tab *model.Table) string {
	if _, err := a.Projects.Create(ctx, "bench", "", ""); err != nil {
		log.Fatal(err)
	}
	if _, err := a.Auth.CreateUser(ctx, "sci", "", "", false); err != nil {
		log.Fatal(err)
	}
	if err := a.Auth.Grant(ctx, "bench", "sci", auth.RoleScientist); err != nil {
		log.Fatal(err)
	}
	_, token, err := a.Auth.CreateToken(ctx, "sci", "bench", auth.KindAPI, 24*time.Hour, "")
	if err != nil {
		log.Fatal(err)
	}
	sci := auth.WithPrincipal(ctx, &auth.Principal{Username: "sci", Roles: map[string][]auth.Role{"bench": {auth.RoleScientist}}})
	p, err := model.ParseParams(model.GBDT, map[string]string{"trees": "100", "seed": "1"})
	if err != nil {
		log.Fatal(err)
	}
	pb, err := model.Prepare(tab, "salary-class", ">50K", features, p)
	if err != nil {
		log.Fatal(err)
	}
	m, err := pb.Fit(nil)
	if err != nil {
		log.Fatal(err)
	}
	b, _ := m.Marshal()
	run, err := a.Runs.StartRun(sci, "bench", "serve", "", nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := a.Runs.PutArtifact(sci, run.ID, "model/model.json", bytes.NewReader(b)); err != nil {
		log.Fatal(err)
	}
	if err := a.Runs.End(sci, run.ID, track.Finished); err != nil {
		log.Fatal(err)
	}
	if _, err := a.Registry.Register(sci, "bench", "adult", run.ID, "model/model.json", model.Format, registry.Signature{}); err != nil {
		log.Fatal(err)
	}
	for _, env := range []string{"dev", "test", "integration", "production"} {
		if _, err := a.Registry.Promote(sci, "adult", 1, env); err != nil {
			log.Fatal(err)
		}
	}
	return token
}

// body is the inference request for rows [from, to) of tab.
func body(tab *model.Table, from, to int) []byte {
	n := tab.Rows()
	req := serve.Request{}
	for _, f := range features {
		c := tab.Col(f)
		tn := serve.Tensor{Name: f, Shape: []int64{int64(to - from)}}
		if c.Num != nil {
			var v []float64
			for i := from; i < to; i++ {
				v = append(v, c.Num[i%n])
			}
			tn.Datatype, tn.Data = "FP64", must(json.Marshal(v))
		} else {
			var v []string
			for i := from; i < to; i++ {
				v = append(v, c.Text[i%n])
			}
			tn.Datatype, tn.Data = "BYTES", must(json.Marshal(v))
		}
		req.Inputs = append(req.Inputs, tn)
	}
	return must(json.Marshal(req))
}

func must(b []byte, err error) []byte {
	if err != nil {
		log.Fatal(err)
	}
	return b
}

func probe(url, token string, b []byte) []byte {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		log.Fatalf("probe: HTTP %d %s", resp.StatusCode, out)
	}
	return out
}

type result struct {
	ok, failed int64
	elapsed    time.Duration
	rate       float64
	cpu        time.Duration // process CPU (clients and servers) per request
	cpuTotal   time.Duration
	lat        []time.Duration
	firstErr   string
}

func (r result) String() string {
	s := fmt.Sprintf("%d ok, %d failed, %.0f req/s, CPU %s/req, p50 %s, p99 %s, max %s", r.ok, r.failed, r.rate, r.cpu.Round(100*time.Nanosecond), pct(r.lat, 0.5), pct(r.lat, 0.99), pct(r.lat, 1))
	if r.firstErr != "" {
		s += "; first error: " + r.firstErr
	}
	return s
}

func pct(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(i, 0)].Round(10 * time.Microsecond)
}

func median(x []float64) float64 {
	s := slices.Clone(x)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

func client(n int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxIdleConns: n}}
}

// send posts one request; it returns the predictions answered.
func send(hc *http.Client, url, token string, b []byte) (int, error) {
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("HTTP %d %s", resp.StatusCode, bytes.TrimSpace(out))
	}
	// Both servers' answers are read the same way (the trivial one is
	// hygie's answer to one row), so the clients' work is the same.
	var r struct {
		Outputs []struct{ Data []float64 } `json:"outputs"`
	}
	if err := json.Unmarshal(out, &r); err != nil || len(r.Outputs) != 1 {
		return 0, fmt.Errorf("bad response %s", out)
	}
	return len(r.Outputs[0].Data), nil
}

// closedLoop runs clients sending back to back for dur or maxReq requests.
func closedLoop(hc *http.Client, url, token string, bodies [][]byte, clients int, dur time.Duration, maxReq int, answered *atomic.Int64) result {
	var (
		sent, failed atomic.Int64
		mu           sync.Mutex
		lat          []time.Duration
		firstErr     atomic.Value
		wg           sync.WaitGroup
	)
	cpu0 := cpuTime()
	start := time.Now()
	deadline := start.Add(dur)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for i := c; time.Now().Before(deadline) && sent.Add(1) <= int64(maxReq); i += clients {
				t0 := time.Now()
				n, err := send(hc, url, token, bodies[i%len(bodies)])
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
				if answered != nil {
					answered.Add(int64(n))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	r := result{ok: int64(len(lat)), failed: failed.Load(), elapsed: time.Since(start), lat: lat, cpuTotal: cpuTime() - cpu0}
	if e, ok := firstErr.Load().(string); ok {
		r.firstErr = e
	}
	return r.finish()
}

// finish computes the rate and the CPU per request, and sorts latencies.
func (r result) finish() result {
	if r.ok > 0 {
		r.cpu = r.cpuTotal / time.Duration(r.ok)
	}
	slices.Sort(r.lat)
	r.rate = float64(r.ok) / r.elapsed.Seconds()
	return r
}

// merge adds the requests of b to a.
func (a result) merge(b result) result {
	a.ok, a.failed, a.elapsed, a.cpuTotal = a.ok+b.ok, a.failed+b.failed, a.elapsed+b.elapsed, a.cpuTotal+b.cpuTotal
	a.lat = append(a.lat, b.lat...)
	if a.firstErr == "" {
		a.firstErr = b.firstErr
	}
	return a.finish()
}

// fixedRate sends rate requests/s for dur on schedule, at most 1,000 in
// flight; latency counts from the scheduled time.
func fixedRate(url, token string, bodies [][]byte, rate int, dur time.Duration, answered *atomic.Int64) result {
	hc := client(256)
	defer hc.CloseIdleConnections()
	n := int(float64(rate) * dur.Seconds())
	lat := make([]time.Duration, n)
	var (
		failed   atomic.Int64
		firstErr atomic.Value
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, 1000)
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			k, err := send(hc, url, token, bodies[i%len(bodies)])
			lat[i] = time.Since(at)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				lat[i] = -1
				return
			}
			if answered != nil {
				answered.Add(int64(k))
			}
		}()
	}
	wg.Wait()
	r := result{elapsed: time.Since(start), failed: failed.Load()}
	for _, d := range lat {
		if d >= 0 {
			r.lat = append(r.lat, d)
		}
	}
	r.ok = int64(len(r.lat))
	slices.Sort(r.lat)
	r.rate = float64(r.ok) / r.elapsed.Seconds()
	if e, ok := firstErr.Load().(string); ok {
		r.firstErr = e
	}
	return r
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the machine's load over 1, 5 and 15 minutes (other
// processes share the CPUs), or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
