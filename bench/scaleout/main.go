// Command scaleout is the client side of scripts/scaleout.sh, the proof of
// the scale-out deployment (PostgreSQL, S3, Slurm, hygie server, two hygie
// serve replicas behind nginx). Two subcommands:
//
//	scaleout load -url URL -model NAME -token TOKEN -database DSN [-duration 30s -rate 300 -clients 16]
//
// sends Open Inference Protocol requests (one synthetic patient each, built
// from the model's metadata) through the load balancer at a fixed rate,
// each with its own X-Request-Id; then checks the prediction log in the
// database: every answered prediction is there exactly once (one row per
// answered request id, the ids the answers gave) and nothing else carries
// the run's request ids. With -replicas, it then sends one request to each
// replica directly with the same Idempotency-Key (a retry after a crash, as
// nginx would send it): each must answer the same prediction id, logged
// once. It prints a JSON summary (requests, failures, latency percentiles,
// logged rows) and exits 1 on any failed request or log mismatch.
//
//	scaleout s3ls -endpoint HOST:PORT -bucket B [-prefix P]
//
// lists the objects under s3://B/P (credentials from HYGIE_S3_ACCESS_KEY
// and HYGIE_S3_SECRET_KEY), prints their count and bytes per top-level
// folder, and exits 1 when there is none.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/hygie-health/hygie/internal/db"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: scaleout load|s3ls [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "load":
		err = load(os.Args[2:])
	case "s3ls":
		err = s3ls(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q: want load or s3ls", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
}

// Summary is what load prints.
type Summary struct {
	Requests    int            `json:"requests"`
	Answered    int            `json:"answered"`
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures,omitempty"` // by status or error
	DurationS   float64        `json:"duration_s"`
	RatePerS    float64        `json:"rate_per_s"`
	P50MS       float64        `json:"p50_ms"`
	P99MS       float64        `json:"p99_ms"`
	MaxMS       float64        `json:"max_ms"`
	Logged      int            `json:"logged"`                // rows in the log with the run's request ids
	LoggedReqs  int            `json:"logged_request_ids"`    // distinct request ids among them
	Duplicates  int            `json:"duplicate_predictions"` // rows beyond one per request id
	Missing     int            `json:"missing_predictions"`   // answered prediction ids not in the log
	Unanswered  int            `json:"logged_not_answered"`   // logged request ids the client got no answer for
	ByReplica   map[string]int `json:"by_replica,omitempty"`  // answers per X-Served-By
	RunPrefix   string         `json:"request_id_prefix"`
	LogVerified bool           `json:"log_verified"`
	// CrossReplica: one request sent to every replica with the same
	// Idempotency-Key, as a retry after a crash would be.
	CrossReplica *CrossReplica `json:"cross_replica_retry,omitempty"`
}

type result struct {
	reqID   string
	predID  string
	latency time.Duration
	fail    string
	replica string
}

func load(args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:18490", "base URL of the load balancer")
	modelName := fs.String("model", "demo-readmission", "model to call (its version in the replicas' environment)")
	token := fs.String("token", os.Getenv("HYGIE_TOKEN"), "API token allowed to predict [HYGIE_TOKEN]")
	dsn := fs.String("database", os.Getenv("HYGIE_DATABASE"), "database holding the prediction log, to check it [HYGIE_DATABASE]")
	duration := fs.Duration("duration", 30*time.Second, "how long to send requests")
	rate := fs.Float64("rate", 300, "requests per second (fewer if every client is busy)")
	clients := fs.Int("clients", 16, "concurrent clients")
	timeout := fs.Duration("timeout", 15*time.Second, "longest wait for one answer")
	seed := fs.Uint64("seed", 1, "seed of the synthetic inputs")
	replicas := fs.String("replicas", "", "comma-separated base URLs of the replicas: first send one request to each with the same Idempotency-Key and check it is logged once")
	fs.Parse(args)
	if *token == "" || *dsn == "" {
		return errors.New("load: -token and -database are required")
	}
	if *rate <= 0 || *clients <= 0 || *duration <= 0 {
		return errors.New("load: -rate, -clients and -duration must be positive")
	}
	tr := &http.Transport{MaxIdleConns: *clients, MaxIdleConnsPerHost: *clients, IdleConnTimeout: time.Minute}
	hc := &http.Client{Transport: tr, Timeout: *timeout}
	inputs, err := metadata(hc, *base, *modelName, *token)
	if err != nil {
		return err
	}

	b := make([]byte, 6)
	rand.Read(b)
	prefix := "scaleout-" + hex.EncodeToString(b) + "-"
	url := strings.TrimRight(*base, "/") + "/v2/models/" + *modelName + "/infer"
	rng := mrand.New(mrand.NewPCG(*seed, 7))
	type job struct {
		id   string
		body []byte
	}
	jobs := make(chan job, *clients)
	results := make(chan result, 1024)
	var wg sync.WaitGroup
	for range *clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				results <- call(hc, url, *token, j.id, j.body, "")
			}
		}()
	}
	var all []result
	collected := make(chan struct{})
	go func() {
		for r := range results {
			all = append(all, r)
		}
		close(collected)
	}()
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / *rate))
	n := 0
	for time.Since(start) < *duration {
		<-tick.C
		n++
		jobs <- job{id: fmt.Sprintf("%s%06d", prefix, n), body: patient(rng, inputs)}
	}
	tick.Stop()
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	close(results)
	<-collected

	s := Summary{Requests: len(all), Failures: map[string]int{}, ByReplica: map[string]int{}, DurationS: round(elapsed.Seconds()), RunPrefix: prefix}
	var lat []float64
	answered := map[string]string{} // request id → prediction id
	for _, r := range all {
		if r.fail != "" {
			s.Failed++
			s.Failures[r.fail]++
			continue
		}
		s.Answered++
		answered[r.reqID] = r.predID
		lat = append(lat, float64(r.latency.Microseconds())/1000)
		if r.replica != "" {
			s.ByReplica[r.replica]++
		}
	}
	s.RatePerS = round(float64(s.Requests) / elapsed.Seconds())
	sort.Float64s(lat)
	s.P50MS, s.P99MS = round(quantile(lat, 0.5)), round(quantile(lat, 0.99))
	if len(lat) > 0 {
		s.MaxMS = round(lat[len(lat)-1])
	}
	verr := verifyLog(*dsn, prefix, answered, &s)
	if *replicas != "" && verr == nil {
		s.CrossReplica, verr = crossReplica(hc, strings.Split(*replicas, ","), *modelName, *token, *dsn, prefix, patient(rng, inputs))
	}
	s.LogVerified = verr == nil
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(s)
	switch {
	case verr != nil:
		return verr
	case s.Failed > 0:
		return fmt.Errorf("%d of %d requests failed: %v", s.Failed, s.Requests, s.Failures)
	case s.Answered == 0:
		return errors.New("no request was answered")
	}
	return nil
}

// verifyLog checks the prediction log against the answers: one row per
// answered request id, with the prediction id the answer gave, and no
// other row with the run's request ids.
func verifyLog(dsn, prefix string, answered map[string]string, s *Summary) error {
	ctx := context.Background()
	d, err := db.Open(ctx, dsn, os.TempDir())
	if err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	defer d.Close()
	rows, err := d.Query(ctx, `SELECT id, request_id FROM predictions WHERE request_id LIKE ?`, prefix+"%")
	if err != nil {
		return fmt.Errorf("prediction log: %w", err)
	}
	defer rows.Close()
	logged := map[string][]string{} // request id → prediction ids
	for rows.Next() {
		var id, req string
		if err := rows.Scan(&id, &req); err != nil {
			return err
		}
		logged[req] = append(logged[req], id)
		s.Logged++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.LoggedReqs = len(logged)
	for req, ids := range logged {
		s.Duplicates += len(ids) - 1
		if _, ok := answered[req]; !ok {
			s.Unanswered++
		}
	}
	for req, pid := range answered {
		if !slices.Contains(logged[req], pid) {
			s.Missing++
		}
	}
	if s.Duplicates > 0 || s.Missing > 0 || s.Unanswered > 0 || s.Logged != len(answered) {
		return fmt.Errorf("prediction log: %d rows for %d answered requests (%d duplicates, %d answered but missing, %d logged but not answered)",
			s.Logged, len(answered), s.Duplicates, s.Missing, s.Unanswered)
	}
	return nil
}

// CrossReplica is the outcome of one request retried on every replica.
type CrossReplica struct {
	Replicas   int    `json:"replicas"`
	PredID     string `json:"prediction_id"`
	SameAnswer bool   `json:"same_prediction_id"`
	Logged     int    `json:"logged"`
}

// crossReplica sends one request to each replica with the same
// Idempotency-Key and request id: each must answer the same prediction
// id, and the log must hold it once.
func crossReplica(hc *http.Client, replicas []string, model, token, dsn, prefix string, body []byte) (*CrossReplica, error) {
	id := prefix + "retried"
	c := &CrossReplica{Replicas: len(replicas), SameAnswer: true}
	for _, base := range replicas {
		r := call(hc, strings.TrimRight(base, "/")+"/v2/models/"+model+"/infer", token, id, body, "key-"+id)
		if r.fail != "" {
			return c, fmt.Errorf("retry on %s: %s", base, r.fail)
		}
		if c.PredID == "" {
			c.PredID = r.predID
		}
		c.SameAnswer = c.SameAnswer && r.predID == c.PredID
	}
	d, err := db.Open(context.Background(), dsn, os.TempDir())
	if err != nil {
		return c, err
	}
	defer d.Close()
	if err := d.QueryRow(context.Background(), `SELECT COUNT(*) FROM predictions WHERE request_id = ?`, id).Scan(&c.Logged); err != nil {
		return c, err
	}
	if !c.SameAnswer || c.Logged != 1 {
		return c, fmt.Errorf("one request retried on %d replicas with the same Idempotency-Key: same prediction id %v, logged %d times (want true, 1)", len(replicas), c.SameAnswer, c.Logged)
	}
	return c, nil
}

// call sends one request (with an Idempotency-Key if key is not empty)
// and reads its answer.
func call(hc *http.Client, url, token, id string, body []byte, key string) result {
	r := result{reqID: id}
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		r.fail = err.Error()
		return r
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Request-Id", id)
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		r.fail = "transport: " + err.Error()
		return r
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	r.latency = time.Since(start)
	if err != nil {
		r.fail = "read: " + err.Error()
		return r
	}
	if resp.StatusCode != http.StatusOK {
		r.fail = fmt.Sprintf("HTTP %d", resp.StatusCode)
		return r
	}
	var out struct {
		Parameters struct {
			IDs []string `json:"prediction_ids"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Parameters.IDs) != 1 {
		r.fail = "answer without one prediction id"
		return r
	}
	r.predID, r.replica = out.Parameters.IDs[0], resp.Header.Get("X-Served-By")
	return r
}

// input is one input tensor of the model's signature.
type input struct {
	Name     string `json:"name"`
	Datatype string `json:"datatype"`
}

// metadata reads the model's inputs from its OIP metadata.
func metadata(hc *http.Client, base, name, token string) ([]input, error) {
	req, _ := http.NewRequest("GET", strings.TrimRight(base, "/")+"/v2/models/"+name, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("model metadata: %w", err)
	}
	defer resp.Body.Close()
	var md struct {
		Inputs []input `json:"inputs"`
		Error  string  `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&md); err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("model metadata: HTTP %d %s %v", resp.StatusCode, md.Error, err)
	}
	if len(md.Inputs) == 0 {
		return nil, errors.New("model metadata: no inputs")
	}
	return md.Inputs, nil
}

// ranges are plausible values of the demo cohort's features; other
// numeric inputs get values in [0, 1).
var ranges = map[string][2]float64{
	"date_naissance_annee": {1930, 2005},
	"taille_m":             {1.50, 1.95},
	"poids_kg":             {45, 120},
	"imc":                  {17, 40},
	"hba1c":                {4.5, 11},
}

// patient is the request body of one synthetic patient.
func patient(rng *mrand.Rand, inputs []input) []byte {
	type tensor struct {
		Name     string `json:"name"`
		Shape    []int  `json:"shape"`
		Datatype string `json:"datatype"`
		Data     [1]any `json:"data"`
	}
	ts := make([]tensor, len(inputs))
	for i, in := range inputs {
		t := tensor{Name: in.Name, Shape: []int{1}, Datatype: in.Datatype}
		switch {
		case in.Datatype == "BYTES":
			t.Data[0] = []string{"F", "M"}[rng.IntN(2)]
		default:
			r, ok := ranges[in.Name]
			if !ok {
				r = [2]float64{0, 1}
			}
			t.Data[0] = math.Round((r[0]+rng.Float64()*(r[1]-r[0]))*100) / 100
		}
		ts[i] = t
	}
	b, _ := json.Marshal(map[string]any{"inputs": ts})
	return b
}

func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func round(x float64) float64 { return math.Round(x*100) / 100 }

func s3ls(args []string) error {
	fs := flag.NewFlagSet("s3ls", flag.ExitOnError)
	endpoint := fs.String("endpoint", os.Getenv("HYGIE_S3_ENDPOINT"), "S3 endpoint host:port [HYGIE_S3_ENDPOINT]")
	bucket := fs.String("bucket", "", "bucket")
	prefix := fs.String("prefix", "", "key prefix")
	fs.Parse(args)
	if *endpoint == "" || *bucket == "" {
		return errors.New("s3ls: -endpoint and -bucket are required")
	}
	c, err := minio.New(*endpoint, &minio.Options{Creds: credentials.NewStaticV4(os.Getenv("HYGIE_S3_ACCESS_KEY"), os.Getenv("HYGIE_S3_SECRET_KEY"), "")})
	if err != nil {
		return err
	}
	type usage struct {
		Objects int   `json:"objects"`
		Bytes   int64 `json:"bytes"`
	}
	by := map[string]*usage{}
	total := usage{}
	p := strings.TrimSuffix(*prefix, "/")
	if p != "" {
		p += "/"
	}
	for o := range c.ListObjects(context.Background(), *bucket, minio.ListObjectsOptions{Prefix: p, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("s3ls s3://%s/%s: %w", *bucket, p, o.Err)
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(o.Key, p), "/")
		if by[top] == nil {
			by[top] = &usage{}
		}
		by[top].Objects++
		by[top].Bytes += o.Size
		total.Objects++
		total.Bytes += o.Size
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(map[string]any{"bucket": *bucket, "prefix": p, "objects": total.Objects, "bytes": total.Bytes, "by_folder": by})
	if total.Objects == 0 {
		return fmt.Errorf("s3ls: no object under s3://%s/%s", *bucket, p)
	}
	return nil
}
