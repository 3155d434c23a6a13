package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserPredictionFeedback: a clinician signs in, opens the project's
// predictions, then one prediction: its inputs and the bar chart of why the
// model gave it; she marks it incorrect with the right answer and a
// comment, sees the confirmation, and the feedback is stored.
func TestBrowserPredictionFeedback(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text, location := d.step, d.text, d.location
	e, x := newExplainedEnv(t)
	url := e.srv.URL
	step("sign in as a clinician",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "carla"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the predictions, then one",
		chromedp.Navigate(url+"/projects/sepsis/predictions"),
		chromedp.WaitVisible(chromedp.CSS("#prediction-list")),
		chromedp.Click(chromedp.CSS(`#prediction-list a[href="`+x.page+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#explanation-chart")),
	)
	if got := text("#input-table"); !strings.Contains(got, "lactate") || !strings.Contains(got, "3.4") || !strings.Contains(got, "71") {
		t.Errorf("inputs %q", got)
	}
	bars, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll("#explanation-chart rect.bar")))
	if err != nil || len(bars) != 3 {
		t.Fatalf("chart bars: %v, %v", bars, err)
	}
	signs := map[string]int{}
	for _, b := range bars {
		signs[b["class"]]++
	}
	if signs["bar bar-positive"] == 0 || signs["bar bar-negative"] == 0 {
		t.Errorf("bars %v: want both directions", signs)
	}
	screenshot(t, ctx, "prediction.png")

	step("mark it incorrect",
		chromedp.Click(chromedp.CSS("#verdict-incorrect")),
		chromedp.SendKeys(chromedp.CSS("#corrected"), "0"),
		chromedp.SendKeys(chromedp.CSS("#comment"), "haemolysed sample"),
		chromedp.Click(chromedp.CSS("#feedback-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := location(); !strings.HasPrefix(got, url+x.page+"?done=recorded") {
		t.Errorf("after feedback: at %s", got)
	}
	if got := text("#feedback-list"); !strings.Contains(got, "incorrect") || !strings.Contains(got, "haemolysed sample") {
		t.Errorf("feedback list %q", got)
	}
	p, err := e.monitor.Prediction(context.Background(), x.pred)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Feedback) != 1 || p.Feedback[0].User != "carla" || p.Feedback[0].Verdict != "incorrect" || p.Feedback[0].Corrected != "0" || p.Feedback[0].Comment != "haemolysed sample" {
		t.Fatalf("stored feedback %+v", p.Feedback)
	}
}
