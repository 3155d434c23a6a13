package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
)

// evalReport is an evaluation report as training attaches it to a run
// (evaluate.Report's JSON, wrapped under "binary").
const evalReport = `{"binary": {
  "metrics": {"n": 200, "positives": 50, "threshold": 0.5, "prevalence": 0.25, "sensitivity": 0.8, "specificity": 0.8667,
    "roc_auc": 0.8412, "average_precision": 0.71, "brier": 0.1187, "calibration_slope": null,
    "confusion": {"tp": 40, "fp": 20, "tn": 130, "fn": 10}},
  "roc": [{"threshold": null, "x": 0, "y": 0}, {"threshold": 0.8, "x": 0.05, "y": 0.4}, {"threshold": 0.5, "x": 0.1333, "y": 0.8}, {"threshold": 0.1, "x": 1, "y": 1}],
  "pr": [{"threshold": 0.8, "x": 0.4, "y": 0.8}, {"threshold": 0.5, "x": 0.8, "y": 0.6667}, {"threshold": 0.1, "x": 1, "y": 0.25}],
  "calibration_curve": [{"lower": 0, "upper": 0.5, "count": 130, "mean_predicted": 0.15, "observed_rate": 0.1},
    {"lower": 0.5, "upper": 1, "count": 70, "mean_predicted": 0.68, "observed_rate": 0.57}],
  "intervals": {"roc_auc": {"estimate": 0.8412, "lower": 0.7803, "upper": 0.8951, "level": 0.95, "method": "bca", "resamples": 1000}},
  "subgroups": {"min_size": 10, "suppressed": 1, "note": "subgroups with fewer than 10 rows are suppressed",
    "groups": [{"group": "F", "suppressed": false, "metrics": {"n": 104, "positives": 27, "roc_auc": 0.83, "sensitivity": 0.78}},
               {"group": "unknown", "suppressed": true, "note": "n < 10"}]},
  "notes": ["bootstrap: 1000 resamples, stratified"]
}}`

// trackedRuns are two runs of "sepsis" made for the run pages, and a run
// of "cardio".
type trackedRuns struct {
	a, b, cardio int64
}

// seedRuns records, as alice: run a (params, a two-step loss, five
// cross-validation folds, the input dataset, an evaluation report) and
// run b (another learning rate, another loss).
func (e *env) seedRuns() trackedRuns {
	t := e.t
	t.Helper()
	ctx := e.as("alice")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	ds, err := e.datasets.Get(ctx, "sepsis", "icu_vitals", 0)
	must(err)
	a, err := e.runs.StartRun(ctx, "sepsis", "gbdt", "gbdt-lr0.1", &ds.ID)
	must(err)
	must(e.runs.LogParam(ctx, a.ID, "learning_rate", "0.1"))
	must(e.runs.LogParam(ctx, a.ID, "learner", "gbdt"))
	must(e.runs.LogMetric(ctx, a.ID, "loss", 0.69, 0))
	must(e.runs.LogMetric(ctx, a.ID, "loss", 0.41, 1))
	must(e.runs.LogMetric(ctx, a.ID, "auc", 0.8412, 0))
	for fold, v := range []float64{0.82, 0.85, 0.80, 0.86, 0.84} {
		must(e.runs.LogMetric(ctx, a.ID, "cv_auc", v, int64(fold)))
	}
	must(e.runs.PutArtifact(ctx, a.ID, "evaluation/report.json", strings.NewReader(evalReport)))
	must(e.runs.PutArtifact(ctx, a.ID, "model.json", strings.NewReader(`{"trees":[]}`)))
	must(e.runs.End(ctx, a.ID, track.Finished))

	b, err := e.runs.StartRun(ctx, "sepsis", "gbdt", "gbdt-lr0.01", &ds.ID)
	must(err)
	must(e.runs.LogParam(ctx, b.ID, "learning_rate", "0.01"))
	must(e.runs.LogParam(ctx, b.ID, "learner", "gbdt"))
	must(e.runs.LogMetric(ctx, b.ID, "loss", 0.69, 0))
	must(e.runs.LogMetric(ctx, b.ID, "loss", 0.55, 1))
	must(e.runs.LogMetric(ctx, b.ID, "auc", 0.79, 0))
	must(e.runs.End(ctx, b.ID, track.Finished))

	cardio, err := e.runs.List(ctx, "cardio")
	must(err)
	if len(cardio) == 0 {
		t.Fatal("no cardio run")
	}
	return trackedRuns{a: a.ID, b: b.ID, cardio: cardio[0].ID}
}

func TestRunPages(t *testing.T) {
	e := newEnv(t)
	runs := e.seedRuns()
	alice, victor, carla, nora := e.session("alice"), e.session("victor"), e.session("carla"), e.session("nora")
	runA := fmt.Sprintf("/projects/sepsis/runs/%d", runs.a)
	compare := fmt.Sprintf("/projects/sepsis/runs/compare?ids=%d,%d", runs.a, runs.b)
	cases := []struct {
		name    string
		path    string
		as      string
		status  int
		want    []string
		notWant []string
	}{
		{name: "runs list", path: "/projects/sepsis/runs", as: "alice", status: 200,
			want: []string{`id="run-list"`, fmt.Sprintf(`name="ids" value="%d"`, runs.a), "gbdt-lr0.01", `id="compare-submit"`, `href="/projects/sepsis/jobs"`}},
		{name: "runs list, viewer", path: "/projects/sepsis/runs", as: "victor", status: 200, want: []string{"gbdt-lr0.1"}},
		{name: "runs list, clinician without run.read", path: "/projects/sepsis/runs", as: "carla", status: 403},
		{name: "runs list, outsider", path: "/projects/sepsis/runs", as: "nora", status: 403},
		{name: "runs list, signed out", path: "/projects/sepsis/runs", status: 303},
		{name: "run page", path: runA, as: "alice", status: 200, want: []string{
			`id="run-title"`, "gbdt-lr0.1", `<span class="badge badge-ok" id="run-status">finished</span>`,
			"learning_rate",                   // params
			`id="chart-loss"`, "loss by step", // a metric with two steps has a chart
			`id="chart-cv_auc"`, "cv_auc by fold", "mean 0.834 ± ", // folds with mean ± sd
			`id="chart-roc"`, `id="chart-pr"`, `id="chart-calibration"`, // the evaluation report
			`data-cell="tp">40`, `data-cell="fn">10`,
			`<td class="num mono">0.7803</td>`, // the interval of roc_auc
			"bca", "unknown", "suppressed (n &lt; 10)", "bootstrap: 1000 resamples",
			`href="/projects/sepsis/datasets/icu_vitals?v=1"`, "icu_vitals@1", // lineage
			fmt.Sprintf(`href="/projects/sepsis/runs/%d/artifacts/evaluation/report.json"`, runs.a),
		}, notWant: []string{`id="chart-auc"`}}, // one step: no chart
		{name: "run page, viewer sees the dataset without a link", path: runA, as: "victor", status: 200,
			want: []string{"icu_vitals@1", `<span class="lineage-box" id="run-dataset">`}, notWant: []string{`href="/projects/sepsis/datasets/icu_vitals?v=1"`}},
		{name: "run page, clinician", path: runA, as: "carla", status: 403},
		{name: "run page, outsider", path: runA, as: "nora", status: 403},
		{name: "another project's run", path: fmt.Sprintf("/projects/sepsis/runs/%d", runs.cardio), as: "alice", status: 404},
		{name: "no such run", path: "/projects/sepsis/runs/999999", as: "alice", status: 404},
		{name: "bad run id", path: "/projects/sepsis/runs/abc", as: "alice", status: 400},
		{name: "compare", path: compare, as: "alice", status: 200, want: []string{
			`id="compare-table"`, `<tr class="differs" data-param="learning_rate">`, `<tr data-param="learner">`,
			`<tr class="differs" data-metric="auc">`, `id="chart-compare"`, fmt.Sprintf("run %d", runs.b)}},
		{name: "compare, repeated ids and a chosen metric", path: fmt.Sprintf("/projects/sepsis/runs/compare?ids=%d&ids=%d&metric=loss", runs.a, runs.b), as: "victor", status: 200,
			want: []string{`<option value="loss" selected>`, "loss by step, runs overlaid"}},
		{name: "compare one run", path: fmt.Sprintf("/projects/sepsis/runs/compare?ids=%d", runs.a), as: "alice", status: 400, want: []string{"at least two runs"}},
		{name: "compare with another project's run", path: fmt.Sprintf("/projects/sepsis/runs/compare?ids=%d,%d", runs.a, runs.cardio), as: "alice", status: 404},
		{name: "compare, clinician", path: compare, as: "carla", status: 403},
		{name: "project page links", path: "/projects/sepsis", as: "alice", status: 200,
			want: []string{`id="project-runs-link"`, `id="project-jobs-link"`, fmt.Sprintf(`href="/projects/sepsis/runs/%d"`, runs.a)}},
		{name: "project page, clinician: no runs link", path: "/projects/sepsis", as: "carla", status: 200, notWant: []string{`id="project-runs-link"`}},
	}
	cookies := map[string]*http.Cookie{"alice": alice, "victor": victor, "carla": carla, "nora": nora}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r response
			if tc.as == "" {
				r = e.get(tc.path, nil)
			} else {
				r = e.get(tc.path, cookies[tc.as])
			}
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.Body)
			}
			for _, s := range tc.want {
				if !strings.Contains(r.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(r.Body, s) {
					t.Errorf("page has %q", s)
				}
			}
			if strings.Contains(r.Body, "style=") {
				t.Errorf("inline style attribute: the Content Security Policy blocks it")
			}
		})
	}
}

func TestRunArtifactDownload(t *testing.T) {
	e := newEnv(t)
	runs := e.seedRuns()
	alice := e.session("alice")
	r := e.get(fmt.Sprintf("/projects/sepsis/runs/%d/artifacts/evaluation/report.json", runs.a), alice)
	if r.StatusCode != 200 || r.Body != evalReport {
		t.Fatalf("status %d, body %.80q", r.StatusCode, r.Body)
	}
	if cd := r.Header.Get("Content-Disposition"); cd != `attachment; filename=report.json` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/octet-stream" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("Content-Type %q: an artifact must never render in the page's origin", ct)
	}
	for _, tc := range []struct {
		path   string
		as     *http.Cookie
		status int
	}{
		{fmt.Sprintf("/projects/sepsis/runs/%d/artifacts/nope.txt", runs.a), alice, 404},
		{fmt.Sprintf("/projects/sepsis/runs/%d/artifacts/model.json", runs.cardio), alice, 404},
		{fmt.Sprintf("/projects/sepsis/runs/%d/artifacts/model.json", runs.a), e.session("carla"), 403},
		{fmt.Sprintf("/projects/sepsis/runs/%d/artifacts/model.json", runs.a), e.session("victor"), 200},
	} {
		if r := e.get(tc.path, tc.as); r.StatusCode != tc.status {
			t.Errorf("GET %s: status %d, want %d", tc.path, r.StatusCode, tc.status)
		}
	}
}

// submit runs a shell command as a job of sepsis, as alice.
func (e *env) submit(script string) jobs.Job {
	e.t.Helper()
	j, err := e.jobs.Submit(e.as("alice"), jobs.Request{Project: "sepsis", Experiment: "jobs", Command: []string{"/bin/sh", "-c", script}})
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func TestJobPages(t *testing.T) {
	e := newEnv(t)
	alice, victor, carla := e.session("alice"), e.session("victor"), e.session("carla")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := e.submit("echo hello-from-stdout; echo oops-on-stderr >&2; exit 3")
	done, err := e.jobs.Wait(ctx, done.ID)
	if err != nil || done.State != jobs.Failed {
		t.Fatalf("job: %+v, %v", done, err)
	}
	long := e.submit("sleep 30")
	jobPage := func(id int64) string { return fmt.Sprintf("/projects/sepsis/jobs/%d", id) }

	r := e.get("/projects/sepsis/jobs", victor)
	if r.StatusCode != 200 {
		t.Fatalf("jobs page: %d\n%s", r.StatusCode, r.Body)
	}
	for _, want := range []string{`id="job-list"`, fmt.Sprintf(`data-job="%d"`, done.ID), fmt.Sprintf(`data-job="%d"`, long.ID),
		"/bin/sh -c &#39;sleep 30&#39;", "local", ">3<", fmt.Sprintf(`href="/projects/sepsis/runs/%d"`, *done.RunID)} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("jobs page lacks %q", want)
		}
	}
	if r := e.get("/projects/sepsis/jobs", carla); r.StatusCode != 403 {
		t.Errorf("jobs page as a clinician: %d, want 403", r.StatusCode)
	}

	r = e.get(jobPage(done.ID), victor)
	if r.StatusCode != 200 {
		t.Fatalf("job page: %d\n%s", r.StatusCode, r.Body)
	}
	for _, want := range []string{"hello-from-stdout", "oops-on-stderr", `id="log-stdout"`, `id="log-stderr"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("job page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, `id="cancel-job"`) {
		t.Errorf("an ended job offers Cancel")
	}
	// The run page names its job.
	if r := e.get(fmt.Sprintf("/projects/sepsis/runs/%d", *done.RunID), victor); !strings.Contains(r.Body, fmt.Sprintf(`href="/projects/sepsis/jobs/%d" id="run-job"`, done.ID)) {
		t.Errorf("run page lacks the job link:\n%s", r.Body)
	}

	// Cancel: offered to alice (run.write), not to victor (viewer).
	waitState(t, e, long.ID, jobs.Running)
	if r := e.get(jobPage(long.ID), victor); strings.Contains(r.Body, `id="cancel-job"`) || !strings.Contains(r.Body, "its output is attached to its run when it ends") {
		t.Errorf("viewer's page of a running job:\n%s", r.Body)
	}
	if r := e.get(jobPage(long.ID), alice); !strings.Contains(r.Body, `id="cancel-job"`) {
		t.Errorf("alice is not offered Cancel")
	}
	cancelPath := jobPage(long.ID) + "/cancel"
	if r := e.do("POST", cancelPath, url.Values{}, victor, ""); r.StatusCode != 403 {
		t.Errorf("viewer cancels: %d, want 403", r.StatusCode)
	}
	if r := e.do("POST", cancelPath, url.Values{}, alice, "https://evil.example"); r.StatusCode != 403 {
		t.Errorf("cross-site cancel: %d, want 403", r.StatusCode)
	}
	r = e.do("POST", cancelPath, url.Values{}, alice, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != jobPage(long.ID)+"?cancelled=1" {
		t.Fatalf("cancel: %d to %q\n%s", r.StatusCode, r.Header.Get("Location"), r.Body)
	}
	r = e.get(jobPage(long.ID)+"?cancelled=1", alice)
	if !strings.Contains(r.Body, `id="flash"`) || !strings.Contains(r.Body, `id="job-state">cancelled<`) || strings.Contains(r.Body, `id="cancel-job"`) {
		t.Errorf("after cancel:\n%s", r.Body)
	}
	if r := e.do("POST", cancelPath, url.Values{}, alice, ""); r.StatusCode != 409 {
		t.Errorf("cancel an ended job: %d, want 409", r.StatusCode)
	}
	// A job id of another project, or none at all.
	if r := e.get("/projects/cardio/jobs/"+fmt.Sprint(done.ID), alice); r.StatusCode != 404 {
		t.Errorf("sepsis job under cardio: %d, want 404", r.StatusCode)
	}
	if r := e.get("/projects/sepsis/jobs/999999", alice); r.StatusCode != 404 {
		t.Errorf("no such job: %d, want 404", r.StatusCode)
	}
}

// waitState waits until a job reaches state.
func waitState(t *testing.T, e *env, id int64, state string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := e.jobs.Get(e.as("alice"), id)
		if err == nil && j.State == state {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d: %+v, %v; want %s", id, j, err, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
