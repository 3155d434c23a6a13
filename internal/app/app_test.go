package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/blob/blobtest"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/demo"
	"github.com/hygie-health/hygie/internal/demo/cohort"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// TestMain stops the MinIO blobtest may start for the S3 tests.
func TestMain(m *testing.M) {
	train.MainIfJob() // training jobs run this binary as hygie
	os.Exit(blobtest.Main(m))
}

func sqliteConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	return cfg
}

func postgresConfig(t *testing.T) config.Config {
	cfg := sqliteConfig(t)
	cfg.Database = dbtest.PostgresURL(t)
	return cfg
}

// postgresS3Config is postgresConfig with the artifacts in a fresh bucket
// of the test MinIO.
func postgresS3Config(t *testing.T) config.Config {
	cfg := postgresConfig(t)
	s3 := blobtest.S3(t)
	cfg.Artifacts = "s3://" + blobtest.Bucket(t) + "/hygie"
	cfg.S3Endpoint, cfg.S3AccessKey, cfg.S3SecretKey, cfg.S3Region, cfg.S3UseSSL = s3.Endpoint, s3.AccessKey, s3.SecretKey, s3.Region, s3.UseSSL
	return cfg
}

// demoPatients is the demo cohort's size in tests: enough for the risk
// model to pass the demo's gate (the lower bound of its test AUC interval).
const demoPatients = 2000

// openDemo opens an app on cfg and runs the demo on it.
func openDemo(t *testing.T, cfg config.Config) (*app.App, demo.Result) {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res, stop, err := demo.Run(ctx, a, &out, demo.Options{Patients: demoPatients, Seed: 7, Listener: l})
	if stop != nil {
		t.Cleanup(func() { stop() })
	}
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	return a, res
}

func TestDemoEndToEnd(t *testing.T) {
	for name, cfg := range map[string]func(*testing.T) config.Config{
		"sqlite+local":   sqliteConfig,
		"postgres+local": postgresConfig,
		"postgres+s3":    postgresS3Config,
	} {
		t.Run(name, func(t *testing.T) {
			c := cfg(t)
			a, res := openDemo(t, c)
			ctx := context.Background()
			m := res.TestMetrics
			if m["test_roc_auc"] < 0.7 || m["test_roc_auc_ci_low"] >= m["test_roc_auc"] || m["test_roc_auc_ci_high"] <= m["test_roc_auc"] ||
				m["cv_roc_auc_mean"] < 0.7 || m["cv_roc_auc_sd"] <= 0 || m["test_sensitivity_ci_low"] <= 0 {
				t.Fatalf("test metrics implausible: %v", m)
			}
			if res.Prediction <= 0 || res.Prediction >= 1 {
				t.Fatalf("prediction %v is not a probability", res.Prediction)
			}
			if res.Explained != 6 {
				t.Fatalf("the explanation covers %d inputs, want the model's 6", res.Explained)
			}
			// A month of older patients: the birth year drifts, and the
			// outcomes fed back give live performance with an interval.
			mon := res.Monitoring
			if mon == nil || mon.Drift == nil || mon.Performance == nil || mon.Performance.N < 400 {
				t.Fatalf("monitoring check after a month: %+v", mon)
			}
			birth := false
			for _, c := range mon.Drift.Columns {
				birth = birth || c.Name == "date_naissance_annee" && c.Drift
			}
			if auc, ok := mon.Performance.Metrics["roc_auc"]; !birth || !ok || auc.Lower >= auc.Upper || auc.Estimate < 0.6 {
				t.Fatalf("drift on the birth year %v, live AUC %+v", birth, mon.Performance.Metrics["roc_auc"])
			}
			run, err := a.Runs.Get(ctx, res.RunID)
			if err != nil || run.Status != track.Finished || run.Params["group"] != "patient_id" || run.Params["cv"] != "5" || run.DatasetVersionID == nil {
				t.Fatalf("training run = %+v, %v", run, err)
			}
			for _, art := range []string{"model/model.json", "evaluation/report.json", "logs/stdout.txt"} {
				rc, err := a.Runs.OpenArtifact(ctx, res.RunID, art)
				if err != nil {
					t.Fatalf("artifact %s: %v", art, err)
				}
				rc.Close()
			}
			v, err := a.Registry.InEnvironment(ctx, demo.Model, "production")
			if err != nil || v.Version != res.ModelVersion {
				t.Fatalf("production version = %+v, %v", v, err)
			}
			// The governed promotion: the refusal for want of clinical cases,
			// then four passes, with two sign-offs per gated environment.
			reports, err := a.Registry.Promotions(ctx, demo.Model)
			if err != nil || len(reports) != 5 || reports[3].Outcome != "denied" || reports[0].To != "production" {
				t.Fatalf("promotion reports = %d %v", len(reports), err)
			}
			refusal := strings.Join(reports[3].Checks, "\n")
			if !strings.Contains(refusal, "FAIL clinical test cases: none") || !strings.Contains(refusal, "pass roc_auc (lower bound of the 95% CI)") {
				t.Fatalf("refusal report:\n%s", refusal)
			}
			if so, _ := a.Registry.Signoffs(ctx, demo.Model, res.ModelVersion); len(so) != 4 {
				t.Fatalf("%d sign-offs", len(so))
			}
			card, err := a.Registry.Card(ctx, demo.Model, res.ModelVersion)
			if err != nil || !strings.Contains(card.Audit, "audit run") || len(card.Cases) != 2 || !card.Cases[0].Pass {
				t.Fatalf("model card: %+v %v", card, err)
			}
			p, err := a.Monitor.Prediction(ctx, res.PredictionID)
			if err != nil || len(p.Feedback) != 1 || p.Feedback[0].User != "claire" || p.Feedback[0].Verdict != "correct" {
				t.Fatalf("feedback not recorded: %+v, %v", p, err)
			}
			feat, err := a.Datasets.Get(ctx, demo.Project, "cohort_features", 0)
			if err != nil {
				t.Fatal(err)
			}
			lin, err := a.Datasets.Lineage(ctx, feat)
			if err != nil || len(lin) != 3 || lin[2].Level != "identifying" || lin[1].Level != "pseudonymized" || !lin[2].Encrypted {
				t.Fatalf("lineage = %+v, %v", lin, err)
			}
			rep, err := a.Audit.Verify(ctx)
			if err != nil || !rep.OK || rep.Events < 20 {
				t.Fatalf("audit = %+v, %v", rep, err)
			}
			// The demo's pipeline: every step ran the first time, none the
			// second, only the release recipe's after its change.
			if len(res.Pipeline) != 3 {
				t.Fatalf("%d pipeline runs", len(res.Pipeline))
			}
			for i, want := range []string{"", "extract,pseudo,risk,anon,release,features,train,evaluate,audit,register,dev", "extract,pseudo,risk,anon,features,train,evaluate,audit,register,dev"} {
				var cached []string
				for _, st := range res.Pipeline[i].Steps {
					if st.Cached {
						cached = append(cached, st.Name)
					} else if st.State != "succeeded" {
						t.Fatalf("run %d step %s: %s", i, st.Name, st.State)
					}
				}
				if got := strings.Join(cached, ","); got != want || len(res.Pipeline[i].Steps) != 11 {
					t.Fatalf("pipeline run %d cached %q, want %q", i, got, want)
				}
			}
			// Running the demo again on the same cohort recomputes nothing:
			// the same versions and the same model version, still in production.
			l, _ := net.Listen("tcp", "127.0.0.1:0")
			res2, stop, err := demo.Run(ctx, a, io.Discard, demo.Options{Patients: demoPatients, Seed: 7, Listener: l})
			if stop != nil {
				defer stop()
			}
			if err != nil || res2.ModelVersion != res.ModelVersion || res2.Dataset != res.Dataset || res2.RunID != res.RunID {
				t.Fatalf("second demo: %+v, %v", res2, err)
			}
			for _, r := range res2.Pipeline {
				for _, st := range r.Steps {
					if !st.Cached {
						t.Fatalf("second demo: pipeline run %d ran step %s", r.ID, st.Name)
					}
				}
			}
			if v, _ := a.Registry.Version(ctx, demo.Model, res.ModelVersion); v.Environment != "production" {
				t.Fatalf("the version is %s after the second demo, want production", v.Environment)
			}
		})
	}
}

// TestNoIdentifierLeavesTheVault scans everything the demo wrote outside
// the database (blobs, keys) and the database file itself for the synthetic
// patients' names and NIRs: identifying versions must be encrypted at rest.
func TestNoIdentifierLeavesTheVault(t *testing.T) {
	cfg := sqliteConfig(t)
	var logs bytes.Buffer
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	var out bytes.Buffer
	_, stop, err := demo.Run(ctx, a, &out, demo.Options{Patients: demoPatients, Seed: 11, Listener: l})
	if err != nil {
		t.Fatal(err)
	}
	stop()
	a.Close()
	patients := cohort.Generate(demoPatients, 11)
	var needles [][]byte
	for _, p := range patients[:50] {
		needles = append(needles, []byte(p.NIR), []byte(p.PatientID+","))
	}
	sources := map[string][]byte{"logs": logs.Bytes(), "demo output": out.Bytes()}
	filepath.WalkDir(cfg.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(path)
			sources[path] = b
		}
		return nil
	})
	if len(sources) < 4 {
		t.Fatalf("only %d files scanned", len(sources))
	}
	for src, b := range sources {
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Fatalf("identifier %q found in %s", n, src)
			}
		}
	}
}

func TestAPIBadInput(t *testing.T) {
	a, res := openDemo(t, sqliteConfig(t))
	ctx := context.Background()
	logged, _ := a.Monitor.Predictions(ctx, demo.Project, 1000)
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	_, secret, _ := a.Auth.CreateToken(ctx, "marc", "t", auth.KindAPI, time.Hour, "")
	tok, revoked, _ := a.Auth.CreateToken(ctx, "marc", "r", auth.KindAPI, time.Hour, "")
	a.Auth.RevokeToken(ctx, "marc", tok.ID)
	_, expiring, _ := a.Auth.CreateToken(ctx, "marc", "e", auth.KindAPI, time.Nanosecond, "")
	time.Sleep(2 * time.Millisecond)
	infer := ts.URL + "/v2/models/" + demo.Model + "/infer"
	big := `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"FP64","data":[` + strings.Repeat("1,", 20<<20) + `1]}]}`
	cases := []struct {
		name, method, url, ctype, body, token string
		status                                int
		code, msg                             string
	}{
		{"unknown route", "GET", ts.URL + "/api/v1/nope", "", "", secret, 404, "not_found", "no such endpoint"},
		// The inference protocol's errors are {"error": "message"}: no code.
		{"malformed JSON", "POST", infer, "application/json", `{"inputs": [`, secret, 400, "", "malformed JSON"},
		{"wrong content type", "POST", infer, "text/plain", `{}`, secret, 400, "", "Content-Type"},
		{"unknown field", "POST", infer, "application/json", `{"inputz": []}`, secret, 400, "", "unknown field"},
		{"missing input", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"FP64","data":[1.7]}]}`, secret, 400, "", `"sexe" is missing`},
		{"shape mismatch", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[2],"datatype":"FP64","data":[1.7]},{"name":"poids_kg","shape":[1],"datatype":"FP64","data":[70]}]}`, secret, 400, "", "shape"},
		{"string data", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"BYTES","data":["x"]}]}`, secret, 400, "", "not numeric"},
		{"fraction in INT32", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"INT32","data":[1.5]}]}`, secret, 400, "", "whole number"},
		{"unknown datatype", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"COMPLEX64","data":[1]}]}`, secret, 400, "", "unknown datatype"},
		{"NaN as a string", "POST", infer, "application/json", `{"inputs":[{"name":"taille_m","shape":[1],"datatype":"FP64","data":["NaN"]}]}`, secret, 400, "", "array of numbers"},
		{"unknown output", "POST", infer, "application/json", `{"inputs":[],"outputs":[{"name":"nope"}]}`, secret, 400, "", "not an output"},
		{"unknown model", "POST", ts.URL + "/v2/models/nope/infer", "application/json", `{"inputs":[]}`, secret, 404, "", "not found"},
		{"unknown version", "POST", ts.URL + "/v2/models/" + demo.Model + "/versions/99/infer", "application/json", `{"inputs":[]}`, secret, 404, "", "not found"},
		{"unknown model metadata", "GET", ts.URL + "/v2/models/nope", "", "", secret, 404, "", "not found"},
		{"oversize body", "POST", infer, "application/json", big, secret, 413, "", "larger than"},
		{"revoked token", "GET", ts.URL + "/api/v1/me", "", "", revoked, 401, "unauthenticated", "revoked"},
		{"expired token", "GET", ts.URL + "/api/v1/me", "", "", expiring, 401, "unauthenticated", "expired"},
		{"bad version", "GET", ts.URL + "/api/v1/projects/" + demo.Project + "/datasets/cohort/versions/x", "", "", secret, 400, "invalid", "positive integer"},
		{"feedback by a scientist", "POST", ts.URL + "/api/v1/projects/" + demo.Project + "/predictions/" + res.PredictionID + "/feedback", "application/json", `{"verdict":"maybe"}`, secret, 403, "forbidden", "feedback.write"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			req.Header.Set("Authorization", "Bearer "+tc.token)
			before, _ := a.Audit.Verify(ctx)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var raw struct {
				Error json.RawMessage `json:"error"`
			}
			json.NewDecoder(resp.Body).Decode(&raw)
			var body struct {
				Error struct{ Code, Message, RequestID string }
			}
			if strings.HasPrefix(tc.url, ts.URL+"/v2/") {
				json.Unmarshal(raw.Error, &body.Error.Message)
			} else {
				json.Unmarshal(raw.Error, &body.Error)
			}
			if resp.StatusCode != tc.status || body.Error.Code != tc.code || !strings.Contains(body.Error.Message, tc.msg) {
				t.Fatalf("HTTP %d %+v, want %d %s %q", resp.StatusCode, body.Error, tc.status, tc.code, tc.msg)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no request id")
			}
			after, _ := a.Audit.Verify(ctx)
			if tc.status != 403 && after.Events != before.Events {
				t.Fatalf("a refused request changed state (%d → %d audit events)", before.Events, after.Events)
			}
		})
	}
	n, _ := a.Monitor.Predictions(ctx, demo.Project, 1000)
	if len(n) != len(logged) || len(logged) == 0 {
		t.Fatalf("bad requests logged predictions: %d before, %d after", len(logged), len(n))
	}
}

func TestOperationalEndpoints(t *testing.T) {
	a, _ := openDemo(t, sqliteConfig(t))
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, b := get("/healthz"); c != 200 || !strings.Contains(b, "ok") {
		t.Fatalf("healthz %d %s", c, b)
	}
	if c, b := get("/readyz"); c != 200 || !strings.Contains(b, `"database": "ok"`) || !strings.Contains(b, `"blobs": "ok"`) {
		t.Fatalf("readyz %d %s", c, b)
	}
	c, b := get("/metrics")
	if c != 200 || !strings.Contains(b, `hygie_http_requests_total{method="GET",route="/readyz",status="200"}`) {
		t.Fatalf("metrics %d: missing request counter", c)
	}
	// Only the inference metrics name models (project-chosen identifiers,
	// never patient data); no other label carries an object's name.
	for _, line := range strings.Split(b, "\n") {
		if !strings.HasPrefix(line, "hygie_inference_") && (strings.Contains(line, demo.Model) || strings.Contains(line, "cohort")) {
			t.Fatalf("metrics labels carry object names: %s", line)
		}
	}
	if !strings.Contains(b, `hygie_inference_requests_total{model="`+demo.Model+`",outcome="success",version="1"}`) || !strings.Contains(b, "hygie_models_loaded 1") {
		t.Fatalf("metrics: missing the inference counters:\n%s", b)
	}
	c, b = get("/api/v1/openapi.json")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if c != 200 || json.Unmarshal([]byte(b), &doc) != nil || doc.OpenAPI == "" {
		t.Fatalf("openapi %d", c)
	}
	for _, rt := range a.Server.Routes() {
		if rt.Web {
			continue
		}
		if _, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]; !ok {
			t.Errorf("route %s %s missing from the OpenAPI document", rt.Method, rt.Pattern)
		}
	}
	// The readiness check fails when the database is gone.
	a.DB.Close()
	if c, _ := get("/readyz"); c != 503 {
		t.Fatalf("readyz with a closed database: %d", c)
	}
}

func TestGracefulShutdown(t *testing.T) {
	cfg := sqliteConfig(t)
	a, err := app.Open(context.Background(), cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	l, _ := a.Listen()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, l) }()
	if resp, err := http.Get("http://" + l.Addr().String() + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("server not answering: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if _, err := http.Get("http://" + l.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestOpenRefusesBadSetup(t *testing.T) {
	ctx := context.Background()
	quiet := app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	cfg := sqliteConfig(t)
	// Unmigrated schema: only migrating commands may open it.
	if _, err := app.Open(ctx, cfg, quiet); err == nil || !strings.Contains(err.Error(), "hygie migrate") {
		t.Fatalf("unmigrated database: %v", err)
	}
	// An unwritable data directory is named.
	ro := sqliteConfig(t)
	os.WriteFile(filepath.Join(ro.DataDir, "file"), nil, 0o600)
	ro.DataDir = filepath.Join(ro.DataDir, "file", "sub")
	if _, err := app.Open(ctx, ro, quiet); err == nil || !strings.Contains(err.Error(), "setting data") {
		t.Fatalf("bad data dir: %v", err)
	}
	// A missing master key file configured explicitly is an error, not a new key.
	mk := sqliteConfig(t)
	mk.MasterKeyFile = filepath.Join(t.TempDir(), "absent.key")
	quiet.Migrate = true
	if _, err := app.Open(ctx, mk, quiet); err == nil || !strings.Contains(err.Error(), "master key") {
		t.Fatalf("missing master key: %v", err)
	}
}

func TestStaleSessionAndUnknownPages(t *testing.T) {
	a, _ := openDemo(t, sqliteConfig(t))
	ctx := context.Background()
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	tok, secret, err := a.Auth.CreateToken(ctx, "claire", "web", auth.KindSession, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	a.Auth.RevokeToken(ctx, "claire", tok.ID)
	req, _ := http.NewRequest("GET", ts.URL+"/login", nil)
	req.AddCookie(&http.Cookie{Name: "hygie_session", Value: secret})
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("login page with a revoked session cookie: HTTP %d, want 200", resp.StatusCode)
	}
	for path, ctype := range map[string]string{"/no/such/page": "text/html", "/api/v1/no/such": "application/json"} {
		resp, err := http.Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) {
			t.Errorf("GET %s: %d %s, want 404 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), ctype)
		}
	}
}

func TestBasicAuthWithToken(t *testing.T) {
	a, _ := openDemo(t, sqliteConfig(t))
	ts := httptest.NewServer(a.Server)
	defer ts.Close()
	_, secret, err := a.Auth.CreateToken(context.Background(), "marc", "mlflow-client", auth.KindAPI, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user   string
		status int
	}{{"marc", 200}, {"claire", 401}, {"", 200}} { // no username: the token alone decides
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/me", nil)
		req.SetBasicAuth(tc.user, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me auth.Principal
		json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 200 && me.Username != "marc") {
			t.Errorf("Basic as %q: HTTP %d (%s), want %d", tc.user, resp.StatusCode, me.Username, tc.status)
		}
	}
}
