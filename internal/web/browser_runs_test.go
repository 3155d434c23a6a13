package web_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserRunsAndCompare drives the run pages: a scientist signs in,
// goes from the project to its runs, opens a run with a two-step loss,
// per-fold metrics and an evaluation report, and sees its charts drawn;
// then ticks two runs in the list and compares them. Both pages are left
// as screenshots.
func TestBrowserRunsAndCompare(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text := d.step, d.text
	e := newEnv(t)
	runs := e.seedRuns()
	url := e.srv.URL

	nodes := func(sel string) []map[string]string {
		t.Helper()
		attrs, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll(sel)))
		if err != nil {
			t.Fatalf("nodes %s: %v", sel, err)
		}
		return attrs
	}
	// count does not wait: a selector may match nothing.
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
		if err != nil {
			t.Fatalf("count %s: %v", sel, err)
		}
		return n
	}

	step("sign in as a scientist",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the project, then its runs",
		chromedp.Click(chromedp.CSS(`#project-list a[href="/projects/sepsis"]`)),
		chromedp.WaitVisible(chromedp.CSS("#project-runs-link")),
		chromedp.Click(chromedp.CSS("#project-runs-link")),
		chromedp.WaitVisible(chromedp.CSS("#run-list")),
	)
	runA := fmt.Sprintf("/projects/sepsis/runs/%d", runs.a)
	step("open a run",
		chromedp.Click(chromedp.CSS(`#run-list th a[href="`+runA+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#metric-charts")),
	)
	if got := text("#run-title"); !strings.Contains(got, "gbdt-lr0.1") || !strings.Contains(got, "finished") {
		t.Errorf("run title %q", got)
	}
	plots := nodes("svg.plot")
	ids := map[string]bool{}
	for _, p := range plots {
		ids[p["id"]] = true
	}
	for _, want := range []string{"chart-loss", "chart-cv_auc", "chart-roc", "chart-pr", "chart-calibration"} {
		if !ids[want] {
			t.Errorf("no chart %s among %v", want, ids)
		}
	}
	if count("#chart-auc") != 0 {
		t.Errorf("a one-step metric has a chart")
	}
	// The loss line joins its two steps; the folds are five bars.
	if pl := nodes("#chart-loss polyline"); len(pl) != 1 || len(strings.Fields(pl[0]["points"])) != 2 {
		t.Errorf("loss line: %v", pl)
	}
	if n := count("#chart-cv_auc rect.bar"); n != 5 {
		t.Errorf("%d fold bars, want 5", n)
	}
	// Charts are drawn at a readable size.
	w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.getElementById("chart-roc").getBoundingClientRect().width`))
	if err != nil || w < 250 {
		t.Errorf("ROC chart width %v, %v", w, err)
	}
	if got := text("#confusion"); !strings.Contains(got, "40") || !strings.Contains(got, "130") {
		t.Errorf("confusion matrix %q", got)
	}
	if got := text("#run-lineage"); !strings.Contains(got, "icu_vitals@1") {
		t.Errorf("lineage %q", got)
	}
	screenshot(t, ctx, "run.png")

	step("back to the runs, tick two, compare",
		chromedp.Navigate(url+"/projects/sepsis/runs"),
		chromedp.WaitVisible(chromedp.CSS("#run-list")),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#select-%d", runs.a))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf("#select-%d", runs.b))),
		chromedp.Click(chromedp.CSS("#compare-submit")),
		chromedp.WaitVisible(chromedp.CSS("#compare-table")),
	)
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/projects/sepsis/runs/compare?") {
		t.Fatalf("at %s, %v", loc, err)
	}
	if count(`#compare-params tr.differs[data-param="learning_rate"]`) != 1 {
		t.Errorf("learning_rate is not highlighted as differing")
	}
	if count(`#compare-params tr.differs[data-param="learner"]`) != 0 || count(`#compare-params tr[data-param="learner"]`) != 1 {
		t.Errorf("learner is highlighted though equal")
	}
	step("chart the loss",
		chromedp.SetValue(chromedp.CSS("#metric"), "loss"),
		chromedp.Click(chromedp.CSS("#metric-submit")),
		// The new page marks its chosen option; the old one does not.
		chromedp.WaitReady(chromedp.CSS(`#metric option[value="loss"][selected]`)),
		chromedp.WaitVisible(chromedp.CSS("#chart-compare")),
	)
	if got := text("#overlay-heading"); !strings.HasPrefix(got, "loss") {
		t.Errorf("overlay heading %q", got)
	}
	if n := count("#chart-compare polyline"); n != 2 {
		t.Errorf("%d overlaid lines, want 2", n)
	}
	screenshot(t, ctx, "compare.png")
}
