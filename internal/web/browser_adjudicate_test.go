package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-health/hygie/internal/annotate"
)

// TestBrowserAdjudicate: two annotators answered a note differently
// (through the service); the administrator, who manages and adjudicates,
// signs in, opens the agreement report (a kappa-like figure per pair and
// the disagreed task), follows the task's link, takes bruno's answer into
// the gold field, saves it, and the gold is found through the service.
func TestBrowserAdjudicate(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text, location := d.step, d.text, d.location
	e := newAnnotEnv(t)
	labels := []annotate.Label{{Name: "sepsis", Color: "#e6194b"}, {Name: "no_sepsis", Color: "#3cb44b"}}
	q := e.reviewProject("triage", annotate.KindClassification, labels, []string{"Fièvre à 39,5, lactates à 4.", "Pas de fièvre.", "Frissons, TA basse."},
		[][2]*annotate.Result{{choice("sepsis"), choice("sepsis")}, {choice("no_sepsis"), choice("no_sepsis")}, {choice("no_sepsis"), choice("sepsis")}})
	url := e.srv.URL
	id := itoa(q[2].ID)

	step("sign in as the administrator",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS("#token-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the agreement report",
		chromedp.Navigate(url+"/projects/sepsis/annotate/triage/agreement"),
		chromedp.WaitVisible(chromedp.CSS("#matrix-kappa")),
	)
	rep, err := e.svc.Agreement(e.as("alice"), "sepsis", "triage")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := text("#matrix-kappa"), rep.Pairs[0].Kappa.String(); !strings.Contains(got, want) {
		t.Errorf("kappa matrix %q lacks %s", got, want)
	}
	if got := text("#agreement-warnings"); !strings.Contains(got, "fewer than 30") {
		t.Errorf("warnings %q", got)
	}
	if got := text("#disagreed"); !strings.Contains(got, "Frissons") || strings.Contains(got, "Pas de fièvre") {
		t.Errorf("disagreed tasks %q", got)
	}
	screenshot(t, ctx, "agreement.png")

	step("open the disagreed task",
		chromedp.Click(chromedp.CSS(`#disagreed tr[data-task="`+id+`"] a`)),
		chromedp.WaitVisible(chromedp.CSS("#answers")),
	)
	if got := text("#answers"); !strings.Contains(got, "anna") || !strings.Contains(got, "bruno") || !strings.Contains(got, "no_sepsis") || !strings.Contains(got, "sepsis") {
		t.Errorf("answers side by side %q", got)
	}
	step("take bruno's answer",
		chromedp.Click(chromedp.CSS(`a[data-take="bruno"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.adj-column.chosen[data-annotator="bruno"]`)),
	)
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('answer').value`))
	if err != nil || v != `{"choices":["sepsis"]}` {
		t.Fatalf("gold field %q %v", v, err)
	}
	screenshot(t, ctx, "adjudicate.png")
	step("save it as gold",
		chromedp.Click(chromedp.CSS("#gold-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := location(); !strings.HasSuffix(got, "/projects/sepsis/annotate/triage/adjudicate/"+itoa(q[0].ID)+"?done=1") {
		t.Errorf("after saving: at %s", got)
	}
	g := e.gold("triage", q[2].ID)
	if g == nil || g.Adjudicator != "admin" || len(g.Result.Choices) != 1 || g.Result.Choices[0] != "sepsis" {
		t.Fatalf("gold %+v", g)
	}
}
