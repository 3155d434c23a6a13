package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/db/dbtest"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/pipeline"
	"github.com/hygie-health/hygie/internal/train"
)

func TestMain(m *testing.M) {
	train.MainIfJob() // training jobs run this test binary as hygie
	os.Exit(m.Run())
}

// env is an app with a project "pp", a steward-and-scientist "ci" acting,
// an identifying extract "extract" (with names) and a base URL for jobs.
type env struct {
	a   *app.App
	ctx context.Context
	url string
	dir string
}

func newEnv(t *testing.T, postgres bool) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr = "127.0.0.1:0"
	if postgres {
		cfg.Database = dbtest.PostgresURL(t)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, err := a.Projects.Create(ctx, "pp", "P", ""); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"ci", "viewer"} {
		if _, err := a.Auth.CreateUser(ctx, u, u, "", false); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []auth.Role{auth.RoleSteward, auth.RoleScientist} {
		if err := a.Auth.Grant(ctx, "pp", "ci", r); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Auth.Grant(ctx, "pp", "viewer", auth.RoleViewer); err != nil {
		t.Fatal(err)
	}
	pr, _ := a.Auth.PrincipalOf(ctx, "ci")
	e := &env{a: a, ctx: auth.WithPrincipal(ctx, pr), dir: cfg.DataDir}
	url, stop, err := a.TrackingServer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e.url = url
	e.importExtract(t, 1)
	return e
}

// importExtract imports a synthetic identifying extract: names, a
// quasi-identifier and a binary outcome driven by x.
func (e *env) importExtract(t *testing.T, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 9))
	var sb strings.Builder
	sb.WriteString("patient_id,nom,sexe,x,y\n")
	for i := range 300 {
		x := r.NormFloat64()
		y := "non"
		if x+r.NormFloat64()*0.7 > 0.5 {
			y = "oui"
		}
		fmt.Fprintf(&sb, "P%04d,Nom%d,%s,%.3f,%s\n", i, r.IntN(1000), []string{"F", "M"}[r.IntN(2)], x, y)
	}
	_, err := e.a.Datasets.Import(e.ctx, dataset.Stream("x.csv", dataset.FormatCSV, strings.NewReader(sb.String())), dataset.ImportOptions{
		Project: "pp", Dataset: "extract", Level: dataset.Identifying,
		Roles: map[string]dataset.Role{"patient_id": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier, "sexe": dataset.RoleQuasiIdentifier, "x": dataset.RoleFeature, "y": dataset.RoleTarget}})
	if err != nil {
		t.Fatal(err)
	}
}

const file = `pipeline: t
params:
  trees: 10
  min_auc: 0.5
triggers:
  - schedule: "*/5 * * * *"
  - drift: mm
  - dataset: extract
steps:
  - name: src
    type: import
    with: {existing: extract}
  - name: pseudo
    type: pseudonymise
    inputs: {dataset: src}
  - name: train
    type: train
    inputs: {dataset: pseudo}
    with: {target: y, positive: oui, params: {trees: "${params.trees}"}, cv: 2, group: patient_id}
  - name: check
    type: evaluate
    inputs: {run: train}
    retries: 2
    with: {min: {cv_roc_auc_mean: "${params.min_auc}"}}
  - name: reg
    type: register
    inputs: {run: train}
    after: [check]
    with: {model: mm}
`

func (e *env) run(t *testing.T, params map[string]string) (pipeline.RunRecord, error) {
	t.Helper()
	spec, values, err := e.a.Pipelines.Load(e.ctx, "pp", "hygie.yaml", []byte(file), params)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := e.a.Pipelines.Run(e.ctx, "pp", spec, pipeline.RunOptions{Params: values, TrackingURI: e.url})
	return rec, err
}

func states(r pipeline.RunRecord) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, fmt.Sprintf("%s=%s/%d", s.Name, s.State, s.Attempts))
	}
	return strings.Join(out, " ")
}

func eachDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newEnv(t, false)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnv(t, true)) })
}

func TestRunRetriesSkipsAndLineage(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		// An impossible threshold: the evaluate step fails after its two
		// retries, the register step after it is skipped, the run fails.
		rec, err := e.run(t, map[string]string{"min_auc": "1.01"})
		if err == nil || rec.State != pipeline.Failed || !strings.Contains(rec.Error, "step check failed") {
			t.Fatalf("run = %+v, %v", rec, err)
		}
		if got := states(rec); got != "src=succeeded/1 pseudo=succeeded/1 train=succeeded/1 check=failed/3 reg=skipped/0" {
			t.Fatalf("states %s", got)
		}
		// The failed step left no cached outputs; the others are reused.
		rec, err = e.run(t, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := states(rec); got != "src=cached/0 pseudo=cached/0 train=cached/0 check=succeeded/1 reg=succeeded/1" {
			t.Fatalf("states %s", got)
		}
		got, err := e.a.Pipelines.GetRun(e.ctx, "pp", rec.ID)
		if err != nil || got.Steps[2].JobID != nil || !got.Steps[2].Cached || got.Steps[4].Outputs[0].Ref != "mm@1" {
			t.Fatalf("recorded run %+v %v", got, err)
		}
		// The training ran as a job in the first run.
		firstRun, _ := e.a.Pipelines.GetRun(e.ctx, "pp", rec.ID-1)
		if j := firstRun.Steps[2].JobID; j == nil {
			t.Fatalf("first run's training step has no job")
		} else if job, err := e.a.Jobs.Get(e.ctx, *j); err != nil || job.State != jobs.Succeeded || *job.RunID != got.Steps[2].Outputs[0].ID {
			t.Fatalf("training job %+v %v", job, err)
		}
		// Lineage: the model version and the training run lead back to the
		// pipeline runs that produced them.
		if id, err := e.a.Pipelines.RunOf(e.ctx, pipeline.KindModel, "mm@1"); err != nil || id != rec.ID {
			t.Fatalf("model lineage %d %v", id, err)
		}
		if id, _ := e.a.Pipelines.RunOf(e.ctx, pipeline.KindRun, got.Steps[2].Outputs[0].Ref); id != rec.ID-1 {
			t.Fatalf("run lineage %d, want %d", id, rec.ID-1)
		}
		// Audit events of the runs.
		var n int
		e.a.DB.QueryRow(e.ctx, `SELECT COUNT(*) FROM audit_events WHERE action LIKE 'pipeline.run%'`).Scan(&n)
		if n != 4 {
			t.Fatalf("%d pipeline.run audit events, want 4", n)
		}
		// A viewer can read runs but not start one.
		pr, _ := e.a.Auth.PrincipalOf(e.ctx, "viewer")
		vctx := auth.WithPrincipal(context.Background(), pr)
		if rs, err := e.a.Pipelines.Runs(vctx, "pp", "t", 0); err != nil || len(rs) != 2 {
			t.Fatalf("viewer runs %d %v", len(rs), err)
		}
		spec, _, _ := e.a.Pipelines.Load(vctx, "pp", "hygie.yaml", []byte(file), nil)
		if _, _, err := e.a.Pipelines.Run(vctx, "pp", spec, pipeline.RunOptions{}); err == nil || !strings.Contains(err.Error(), "run.write") {
			t.Fatalf("viewer run: %v", err)
		}
	})
}

// TestCancelRun cancels a run while its training job runs: the job is
// cancelled, the step and the run are recorded as cancelled.
func TestCancelRun(t *testing.T) {
	e := newEnv(t, false)
	spec, values, err := e.a.Pipelines.Load(e.ctx, "pp", "hygie.yaml", []byte(file), map[string]string{"trees": "3000"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	started := make(chan int64, 1)
	done := make(chan pipeline.RunRecord, 1)
	go func() {
		rec, _, _ := e.a.Pipelines.Run(ctx, "pp", spec, pipeline.RunOptions{Params: values, TrackingURI: e.url, OnStart: func(id int64) { started <- id }})
		done <- rec
	}()
	id := <-started
	deadline := time.Now().Add(30 * time.Second)
	for {
		js, _ := e.a.Jobs.List(e.ctx, "pp")
		if len(js) > 0 && js[0].State == jobs.Running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the training job never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := e.a.Pipelines.RequestCancel(e.ctx, "pp", id); err != nil {
		t.Fatal(err)
	}
	rec := <-done
	if rec.State != pipeline.Cancelled || !strings.HasPrefix(states(rec), "src=succeeded/1 pseudo=succeeded/1 train=cancelled/1 check=cancelled/0 reg=cancelled/0") {
		t.Fatalf("cancelled run: %s %s", rec.State, states(rec))
	}
	js, _ := e.a.Jobs.List(e.ctx, "pp")
	if len(js) != 1 || js[0].State != jobs.Cancelled {
		t.Fatalf("job %+v", js)
	}
	if _, err := e.a.Pipelines.RequestCancel(e.ctx, "pp", id); err == nil {
		t.Fatal("cancelling an ended run succeeded")
	}
}

func TestTriggers(t *testing.T) {
	eachDB(t, func(t *testing.T, e *env) {
		spec, values, err := e.a.Pipelines.Load(e.ctx, "pp", "hygie.yaml", []byte(file), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Pipelines.Save(e.ctx, "pp", spec); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		o := pipeline.TriggerOptions{Auth: e.a.Auth, TrackingURI: e.url, Log: slog.New(slog.NewTextHandler(&logs, nil))}
		at := func(hhmm string) time.Time {
			tm, _ := time.Parse("2006-01-02 15:04:05", "2026-11-30 "+hhmm)
			return tm
		}
		tick := func(now time.Time) []pipeline.Fire {
			t.Helper()
			fs, err := e.a.Pipelines.Tick(e.ctx, now, o)
			if err != nil {
				t.Fatalf("tick: %v\n%s", err, logs.String())
			}
			return fs
		}
		// The first look records each trigger's value; nothing fires
		// until the schedule comes round.
		for _, hhmm := range []string{"10:01:00", "10:03:00", "10:04:59"} {
			if fs := tick(at(hhmm)); len(fs) != 0 {
				t.Fatalf("%s: fired %+v", hhmm, fs)
			}
		}
		fs := tick(at("10:05:30"))
		if len(fs) != 1 || fs[0].Trigger != "schedule:*/5 * * * *" || fs[0].RunID == nil || fs[0].RunState != pipeline.Succeeded {
			t.Fatalf("schedule: %+v\n%s", fs, logs.String())
		}
		r, err := e.a.Pipelines.GetRun(e.ctx, "pp", *fs[0].RunID)
		if err != nil || r.Trigger != "schedule:*/5 * * * *" || r.CreatedBy != "ci" {
			t.Fatalf("triggered run %+v %v", r, err)
		}
		if fs := tick(at("10:06:00")); len(fs) != 0 {
			t.Fatalf("fired again: %+v", fs)
		}
		// A drift alert on the model the pipeline registered.
		var mvID, pid int64
		e.a.DB.QueryRow(e.ctx, `SELECT mv.id, m.project_id FROM model_versions mv JOIN models m ON m.id = mv.model_id WHERE m.name = 'mm'`).Scan(&mvID, &pid)
		var checkID, ruleID int64
		now := at("10:07:00")
		if err := e.a.DB.QueryRow(e.ctx, `INSERT INTO monitor_checks (model_version_id, at, time_window, report) VALUES (?, ?, '7d', '{}') RETURNING id`, mvID, now).Scan(&checkID); err != nil {
			t.Fatal(err)
		}
		if err := e.a.DB.QueryRow(e.ctx, `INSERT INTO alert_rules (project_id, model, metric, op, threshold, time_window, created_by, created_at) VALUES (?, 'mm', 'dataset_drift_share', '>', 0.3, '7d', 'ci', ?) RETURNING id`, pid, now).Scan(&ruleID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.DB.Exec(e.ctx, `INSERT INTO alerts (rule_id, check_id, at, value, message) VALUES (?, ?, ?, 0.5, 'drift')`, ruleID, checkID, now); err != nil {
			t.Fatal(err)
		}
		fs = tick(at("10:08:00"))
		if len(fs) != 1 || fs[0].Trigger != "drift:mm" || fs[0].RunState != pipeline.Succeeded || !strings.Contains(fs[0].Detail, "drift alert") {
			t.Fatalf("drift: %+v\n%s", fs, logs.String())
		}
		r, _ = e.a.Pipelines.GetRun(e.ctx, "pp", *fs[0].RunID)
		for _, s := range r.Steps {
			if !s.Cached {
				t.Fatalf("the drift-triggered run on unchanged data ran %s", s.Name)
			}
		}
		// A new extract: the dataset trigger fires and the run recomputes.
		e.importExtract(t, 2)
		fs = tick(at("10:09:00"))
		if len(fs) != 1 || fs[0].Trigger != "dataset:extract" {
			t.Fatalf("dataset: %+v", fs)
		}
		r, _ = e.a.Pipelines.GetRun(e.ctx, "pp", *fs[0].RunID)
		if r.State != pipeline.Succeeded || r.Steps[0].Cached || r.Steps[4].Outputs[0].Ref != "mm@2" {
			t.Fatalf("dataset-triggered run %s", states(r))
		}
		all, err := e.a.Pipelines.Fires(e.ctx, "pp", "t", 0)
		if err != nil || len(all) != 3 || all[0].RunID == nil {
			t.Fatalf("fires %+v %v", all, err)
		}
		// Feedback: a second pipeline fires once two new verdicts arrive.
		fb := strings.Replace(strings.Replace(file, "pipeline: t", "pipeline: fb", 1),
			"  - schedule: \"*/5 * * * *\"\n  - drift: mm\n  - dataset: extract\n", "  - feedback: {model: mm, count: 2}\n", 1)
		fspec, _, err := e.a.Pipelines.Load(e.ctx, "pp", "fb.yaml", []byte(fb), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.a.Pipelines.Save(e.ctx, "pp", fspec); err != nil {
			t.Fatal(err)
		}
		var uid int64
		e.a.DB.QueryRow(e.ctx, `SELECT id FROM users WHERE username = 'ci'`).Scan(&uid)
		verdict := func(i int) {
			t.Helper()
			id := fmt.Sprintf("pred-%d", i)
			if _, err := e.a.DB.Exec(e.ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json) VALUES (?, ?, ?, '{}', '{}')`, id, mvID, now); err != nil {
				t.Fatal(err)
			}
			if _, err := e.a.DB.Exec(e.ctx, `INSERT INTO feedback (prediction_id, user_id, verdict, at) VALUES (?, ?, 'correct', ?)`, id, uid, now); err != nil {
				t.Fatal(err)
			}
		}
		onFeedback := func(hhmm string) int {
			n := 0
			for _, f := range tick(at(hhmm)) {
				if f.Pipeline == "fb" {
					n++
				}
			}
			return n
		}
		verdict(1)
		if n := onFeedback("10:10:00"); n != 0 { // first look: records the count
			t.Fatalf("feedback fired on first look")
		}
		verdict(2)
		if n := onFeedback("10:11:00"); n != 0 {
			t.Fatalf("feedback fired after one new item")
		}
		verdict(3)
		if n := onFeedback("10:12:00"); n != 1 {
			t.Fatalf("feedback did not fire after two new items")
		}
		if n := onFeedback("10:13:00"); n != 0 {
			t.Fatalf("feedback fired again without new items")
		}
		_ = values
	})
}

// The pipeline file's relative paths resolve against its directory.
func TestFileImportAndRecipeFile(t *testing.T) {
	e := newEnv(t, false)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("patient_id,x\nP1,1\nP2,2\nP3,3\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("name: r\nsteps:\n  - filter: x >= 2\n"), 0o600)
	f := `pipeline: f
steps:
  - name: a
    type: import
    with: {file: a.csv, dataset: a, level: pseudonymized, roles: {patient_id: patient_id}}
  - name: b
    type: recipe
    inputs: {dataset: a}
    with: {file: r.yaml, output: b}
`
	path := filepath.Join(dir, "hygie.yaml")
	spec, _, err := e.a.Pipelines.Load(e.ctx, "pp", path, []byte(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := e.a.Pipelines.Run(e.ctx, "pp", spec, pipeline.RunOptions{Dir: dir})
	if err != nil || !strings.Contains(rec.Steps[1].Outputs[0].Summary, "2 rows") {
		t.Fatalf("%+v %v", rec, err)
	}
	// The recipe file changes: only b is stale, for its configuration.
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("name: r\nsteps:\n  - filter: x >= 3\n"), 0o600)
	spec, _, _ = e.a.Pipelines.Load(e.ctx, "pp", path, []byte(f), nil)
	plans, err := e.a.Pipelines.Plan(e.ctx, "pp", spec, dir)
	if err != nil || !plans[0].Fresh || plans[1].Fresh || plans[1].Reason != "config changed" {
		t.Fatalf("plans %+v %v", plans, err)
	}
	// The data file changes: a is stale for its input.
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("patient_id,x\nP1,1\nP2,2\nP3,3\nP4,4\n"), 0o600)
	plans, _ = e.a.Pipelines.Plan(e.ctx, "pp", spec, dir)
	if plans[0].Fresh || plans[0].Reason != "input changed" {
		t.Fatalf("plans %+v", plans)
	}
}

// TestAPI stores, validates, runs and reads a pipeline over REST.
func TestAPI(t *testing.T) {
	e := newEnv(t, false)
	srv := httptest.NewServer(e.a.Server)
	defer srv.Close()
	_, tok, err := e.a.Auth.CreateToken(e.ctx, "ci", "t", auth.KindAPI, time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	call := func(method, path, ctype, body string, out any) int {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	const base = "/api/v1/projects/pp/pipelines"
	var bad struct {
		Problems []pipeline.Problem `json:"problems"`
	}
	if code := call("POST", base+"/validate", "application/yaml", strings.Replace(file, "{dataset: pseudo}", "{dataset: src}", 1), &bad); code != 400 ||
		len(bad.Problems) != 1 || bad.Problems[0].Line != 18 || bad.Problems[0].Step != "train" || !strings.Contains(bad.Problems[0].Msg, "identifying data") {
		t.Fatalf("validate = %d %+v", code, bad)
	}
	if code := call("PUT", base+"/other", "application/yaml", file, nil); code != 400 {
		t.Fatalf("put under another name = %d", code)
	}
	// The API's runs report to the configured base URL, where no server
	// listens in this test: the pipeline stops before training.
	dataOnly := file[:strings.Index(file, "  - name: train")]
	if code := call("PUT", base+"/t", "application/yaml", dataOnly, nil); code != 200 {
		t.Fatalf("put = %d", code)
	}
	var st struct {
		Status []pipeline.StepPlan `json:"status"`
	}
	if code := call("GET", base+"/t", "", "", &st); code != 200 || len(st.Status) != 2 || st.Status[0].Fresh {
		t.Fatalf("status = %d %+v", code, st)
	}
	var started struct {
		RunID int64 `json:"run_id"`
	}
	if code := call("POST", base+"/t/runs", "application/json", `{"params": {"trees": "5"}}`, &started); code != 202 || started.RunID == 0 {
		t.Fatalf("run = %d %+v", code, started)
	}
	var rec pipeline.RunRecord
	for range 300 {
		call("GET", fmt.Sprintf("/api/v1/projects/pp/pipeline-runs/%d", started.RunID), "", "", &rec)
		if rec.State != pipeline.Running {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rec.State != pipeline.Succeeded || rec.Trigger != "api" || rec.Params["trees"] != "5" || len(rec.Steps) != 2 || rec.Steps[1].Outputs[0].Ref != "extract_pseudo@1" {
		t.Fatalf("run %+v", rec)
	}
	var runs struct {
		Runs []pipeline.RunRecord `json:"runs"`
	}
	if code := call("GET", base+"/t/runs", "", "", &runs); code != 200 || len(runs.Runs) != 1 {
		t.Fatalf("runs = %d %+v", code, runs)
	}
	if code := call("POST", fmt.Sprintf("/api/v1/projects/pp/pipeline-runs/%d/cancel", started.RunID), "", "", nil); code != 409 {
		t.Fatalf("cancel an ended run = %d", code)
	}
}

// TestPrivacySteps de-identifies a free-text column, anonymises the result
// and gates on its risk: the clinical note's names never reach the output.
func TestPrivacySteps(t *testing.T) {
	e := newEnv(t, false)
	var sb strings.Builder
	sb.WriteString("patient_id,nom,sexe,age,note\n")
	for i := range 60 {
		fmt.Fprintf(&sb, "P%03d,Dupont%d,%s,%d,Mme Dupont%d revue le 12/03/2024 pour son diabète\n", i, i, []string{"F", "M"}[i%2], 40+i%5, i)
	}
	if _, err := e.a.Datasets.Import(e.ctx, dataset.Stream("n.csv", dataset.FormatCSV, strings.NewReader(sb.String())), dataset.ImportOptions{
		Project: "pp", Dataset: "notes", Level: dataset.Identifying,
		Roles: map[string]dataset.Role{"patient_id": dataset.RolePatientID, "nom": dataset.RoleDirectIdentifier, "sexe": dataset.RoleQuasiIdentifier,
			"age": dataset.RoleQuasiIdentifier, "note": dataset.RoleText}}); err != nil {
		t.Fatal(err)
	}
	f := `pipeline: privacy
steps:
  - name: src
    type: import
    with: {existing: notes}
  - name: clean
    type: deid
    inputs: {dataset: src}
    with: {text: mask, output: notes_clean}
  - name: anon
    type: anonymise
    inputs: {dataset: clean}
    with: {k: 5, max_suppression: 0.1, sensitive: []}
  - name: gate
    type: risk
    inputs: {dataset: anon}
    with: {max_prosecutor: 0.2}
`
	spec, _, err := e.a.Pipelines.Load(e.ctx, "pp", "p.yaml", []byte(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := e.a.Pipelines.Run(e.ctx, "pp", spec, pipeline.RunOptions{})
	if err != nil {
		t.Fatalf("%v: %s", err, states(rec))
	}
	clean, err := e.a.Datasets.ByID(e.ctx, rec.Steps[1].Outputs[0].ID)
	if err != nil || clean.Level != dataset.Pseudonymized {
		t.Fatalf("clean %+v %v", clean, err)
	}
	fr, err := e.a.Datasets.ReadFrame(e.ctx, clean)
	if err != nil {
		t.Fatal(err)
	}
	col, err := fr.Col("note")
	if err != nil {
		t.Fatal(err)
	}
	if s := col.String(0); strings.Contains(s, "Dupont") || !strings.Contains(s, "diabète") {
		t.Fatalf("de-identified note %q", s)
	}
	if o := rec.Steps[2].Outputs[0]; !strings.HasPrefix(o.Summary, "anonymized") || !strings.Contains(o.Summary, "5-anonymity") {
		t.Fatalf("anonymise output %+v", o)
	}
	if o := rec.Steps[3].Outputs[0]; o.Kind != pipeline.KindReport || !strings.Contains(o.Summary, "highest prosecutor risk 0.") {
		t.Fatalf("risk output %+v", o)
	}
	// A stricter gate than the data allows fails the step.
	strict, _, _ := e.a.Pipelines.Load(e.ctx, "pp", "p.yaml", []byte(strings.Replace(f, "max_prosecutor: 0.2", "max_prosecutor: 0.01", 1)), nil)
	if rec, _, err := e.a.Pipelines.Run(e.ctx, "pp", strict, pipeline.RunOptions{}); err == nil || !strings.Contains(rec.Error, "above the limit") {
		t.Fatalf("strict gate: %v %s", err, rec.Error)
	}
}

// TestSQLImportAndTrigger imports a warehouse query: its result's hash is
// the import's identity, so a changed row makes it stale and fires a sql
// trigger; an unchanged result does neither.
func TestSQLImportAndTrigger(t *testing.T) {
	e := newEnv(t, false)
	dsn := dbtest.PostgresURL(t)
	wh, err := db.Open(context.Background(), dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Close()
	ctx := context.Background()
	if _, err := wh.Exec(ctx, `CREATE TABLE stays (patient_id TEXT, age INTEGER)`); err != nil {
		t.Fatal(err)
	}
	if _, err := wh.Exec(ctx, `INSERT INTO stays VALUES ('P1', 40), ('P2', 50), ('P3', 60)`); err != nil {
		t.Fatal(err)
	}
	t.Setenv("WAREHOUSE_DSN", dsn)
	f := `pipeline: wh
triggers:
  - sql: extract
steps:
  - name: extract
    type: import
    with: {sql: "SELECT patient_id, age FROM stays ORDER BY patient_id", dsn_env: WAREHOUSE_DSN, dataset: stays, level: pseudonymized, roles: {patient_id: patient_id, age: feature}}
`
	spec, values, err := e.a.Pipelines.Load(e.ctx, "pp", "wh.yaml", []byte(f), nil)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, err := e.a.Pipelines.Run(e.ctx, "pp", spec, pipeline.RunOptions{Params: values})
	if err != nil || rec.Steps[0].Outputs[0].Ref != "stays@1" || !strings.Contains(rec.Steps[0].Outputs[0].Summary, "3 rows") {
		t.Fatalf("sql import %+v %v", rec, err)
	}
	o := pipeline.TriggerOptions{Auth: e.a.Auth, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	if fs, err := e.a.Pipelines.Tick(e.ctx, now, o); err != nil || len(fs) != 0 {
		t.Fatalf("first tick %+v %v", fs, err)
	}
	if plans, _ := e.a.Pipelines.Plan(e.ctx, "pp", spec, "."); !plans[0].Fresh {
		t.Fatalf("unchanged result is stale: %+v", plans[0])
	}
	if _, err := wh.Exec(ctx, `UPDATE stays SET age = 61 WHERE patient_id = 'P3'`); err != nil {
		t.Fatal(err)
	}
	if plans, _ := e.a.Pipelines.Plan(e.ctx, "pp", spec, "."); plans[0].Fresh || plans[0].Reason != "input changed" {
		t.Fatalf("changed result: %+v", plans[0])
	}
	fs, err := e.a.Pipelines.Tick(e.ctx, now.Add(time.Minute), o)
	if err != nil || len(fs) != 1 || fs[0].Trigger != "sql:extract" || fs[0].RunState != pipeline.Succeeded {
		t.Fatalf("sql trigger %+v %v", fs, err)
	}
	r, _ := e.a.Pipelines.GetRun(e.ctx, "pp", *fs[0].RunID)
	if r.Steps[0].Outputs[0].Ref != "stays@2" {
		t.Fatalf("triggered import %+v", r.Steps[0].Outputs)
	}
}
