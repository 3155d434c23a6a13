package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-health/hygie/internal/pipeline"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/web"
)

const vitalsPipeline = `pipeline: vitals
params:
  min_age: 60
steps:
  - name: src
    type: import
    with: {existing: icu_vitals}
  - name: older
    type: recipe
    inputs: {dataset: src}
    with:
      output: icu_older
      recipe: |
        steps:
          - filter: age >= ${params.min_age}
  - name: younger
    type: recipe
    inputs: {dataset: src}
    with:
      output: icu_younger
      recipe: |
        steps:
          - filter: age < ${params.min_age}
`

// TestBrowserPipelines drives the pipeline pages: a scientist opens the
// stored pipeline, sees its graph with every step stale, presses Run, sees
// the run's steps succeed, then the graph up to date, and a second run
// reusing every output. A viewer sees no Run button and may not post one.
func TestBrowserPipelines(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text := d.step, d.text
	ps := pipeline.NewService(pipeline.Deps{})
	e := newEnv(t, func(deps *web.Deps) { deps.Pipelines = ps })
	ps.DB, ps.Audit, ps.Datasets, ps.Pseudo, ps.Deps.Runs, ps.Jobs = e.db, e.audit, e.datasets, e.pseudo, e.runs, e.jobs
	ps.Registry = registry.NewService(e.db, e.runs, e.audit)
	alice := e.as("alice")
	spec, _, err := ps.Load(alice, "sepsis", "vitals.yaml", []byte(vitalsPipeline), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Save(alice, "sepsis", spec); err != nil {
		t.Fatal(err)
	}
	url := e.srv.URL
	attr := func(sel, name string) []string {
		t.Helper()
		attrs, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll(sel)))
		if err != nil {
			t.Fatalf("nodes %s: %v", sel, err)
		}
		var out []string
		for _, a := range attrs {
			out = append(out, a[name])
		}
		return out
	}
	waitRun := func() {
		t.Helper()
		for range 100 {
			if s := text("#pipeline-run-state"); s != "running" {
				return
			}
			time.Sleep(100 * time.Millisecond)
			step("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#pipeline-run-state")))
		}
		t.Fatal("the run did not end")
	}

	step("sign in as a scientist",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the project's pipelines, then the pipeline",
		chromedp.Navigate(url+"/projects/sepsis"),
		chromedp.WaitVisible(chromedp.CSS("#project-pipelines-link")),
		chromedp.Click(chromedp.CSS("#project-pipelines-link")),
		chromedp.WaitVisible(chromedp.CSS("#pipeline-list")),
		chromedp.Click(chromedp.CSS(`#pipeline-list a[href="/projects/sepsis/pipelines/vitals"]`)),
		chromedp.WaitVisible(chromedp.CSS("#pipeline-graph")),
	)
	if got := strings.Join(attr("#pipeline-graph g.node", "data-state"), ","); got != "stale,stale,stale" {
		t.Fatalf("graph states before any run: %s", got)
	}
	// Two edges from src, and the two recipes in the second layer.
	if got := strings.Join(attr("#pipeline-graph path.edge", "data-to"), ","); got != "older,younger" {
		t.Fatalf("edges to %s", got)
	}
	screenshot(t, ctx, "pipeline.png")

	step("run it", chromedp.Click(chromedp.CSS("#run-pipeline")), chromedp.WaitVisible(chromedp.CSS("#pipeline-steps")))
	waitRun()
	if s := text("#pipeline-run-state"); s != "succeeded" {
		t.Fatalf("first run %s", s)
	}
	if got := strings.Join(attr("#pipeline-steps tbody tr", "data-cached"), ","); got != "false,false,false" {
		t.Fatalf("first run cached flags %s", got)
	}
	if got := text(`#pipeline-steps tr[data-step="older"]`); !strings.Contains(got, "icu_older@1") {
		t.Fatalf("older step row %q", got)
	}
	screenshot(t, ctx, "pipeline_run.png")

	step("back to the pipeline", chromedp.Navigate(url+"/projects/sepsis/pipelines/vitals"), chromedp.WaitVisible(chromedp.CSS("#pipeline-runs")))
	if got := strings.Join(attr("#pipeline-graph g.node", "data-state"), ","); got != "up to date,up to date,up to date" {
		t.Fatalf("graph states after a run: %s", got)
	}
	step("run it again", chromedp.Click(chromedp.CSS("#run-pipeline")), chromedp.WaitVisible(chromedp.CSS("#pipeline-steps")))
	waitRun()
	if got := strings.Join(attr("#pipeline-steps tbody tr", "data-state"), ","); got != "cached,cached,cached" {
		t.Fatalf("second run states %s", got)
	}

	// A viewer reads but cannot run.
	rs, _ := ps.Runs(alice, "sepsis", "vitals", 0)
	if len(rs) != 2 || rs[0].Trigger != "web" || rs[0].CreatedBy != "alice" {
		t.Fatalf("recorded runs %+v", rs)
	}
	victor := e.session("victor")
	page := e.do("GET", "/projects/sepsis/pipelines/vitals", nil, victor, "")
	if page.StatusCode != http.StatusOK || strings.Contains(page.Body, "run-pipeline") || !strings.Contains(page.Body, "pipeline-graph") {
		t.Fatalf("viewer page %d", page.StatusCode)
	}
	if resp := e.do("POST", "/projects/sepsis/pipelines/vitals/run", nil, victor, ""); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer run = %d", resp.StatusCode)
	}
	if rs, _ := ps.Runs(alice, "sepsis", "vitals", 0); len(rs) != 2 {
		t.Fatal(fmt.Sprint("the viewer started a run: ", len(rs)))
	}
}
