package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserMonitoring: a scientist goes from the model version to its
// monitoring dashboard, runs a check, and reads the drift table, the
// histograms and the live metrics; the dashboard is left as a screenshot.
func TestBrowserMonitoring(t *testing.T) {
	ctx := newBrowser(t, 90*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text := d.step, d.text
	e := newEnv(t)
	page := e.seedMonitoring()
	url := e.srv.URL
	step("sign in",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the dashboard from the version page",
		chromedp.Navigate(url+"/projects/sepsis/models/sepsis-watch/versions/1"),
		chromedp.WaitVisible(chromedp.CSS("#monitoring-link")),
		chromedp.Click(chromedp.CSS("#monitoring-link")),
		chromedp.WaitVisible(chromedp.CSS("#no-check")),
	)
	step("run a check now",
		chromedp.Click(chromedp.CSS("#check-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
		chromedp.WaitVisible(chromedp.CSS("#drift-table")),
	)
	if got := text(`#drift-table tr[data-column="age"]`); !strings.Contains(got, "ks") || !strings.Contains(got, "drift") {
		t.Errorf("age row %q", got)
	}
	if got := text("#check-predictions"); !strings.Contains(got, "120") || !strings.Contains(got, "40") {
		t.Errorf("predictions %q", got)
	}
	if got := text(`#live-table tr[data-metric="accuracy"]`); !strings.Contains(got, "–") {
		t.Errorf("accuracy row %q, want an interval", got)
	}
	step("histograms drawn", chromedp.WaitVisible(chromedp.CSS("#histograms svg.hist-chart")))
	if !strings.HasSuffix(page, "/monitoring") {
		t.Fatal(page)
	}
	screenshot(t, ctx, "monitoring.png")
}
