package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserGovernance drives model governance as its three actors would:
// a clinician goes from the project to a model version and signs it off;
// a scientist tries to promote it and gets the refusal report with its
// failing gate; a project admin relaxes the gate policy and promotes it.
// The refusal, the policy and the model card are left as screenshots.
func TestBrowserGovernance(t *testing.T) {
	ctx := newBrowser(t, 90*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text := d.step, d.text
	e := newEnv(t)
	g := e.seedGovernance()
	url := e.srv.URL

	signIn := func(user string) {
		t.Helper()
		step("sign in as "+user,
			chromedp.Navigate(url+"/login"),
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), user),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#login-submit")),
			chromedp.WaitVisible(chromedp.CSS("#project-list")),
		)
	}
	signOut := func() {
		t.Helper()
		step("sign out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#username")))
	}

	signIn("carla")
	step("open the project's models, then the version",
		chromedp.Click(chromedp.CSS(`#project-list a[href="/projects/sepsis"]`)),
		chromedp.WaitVisible(chromedp.CSS("#project-models-link")),
		chromedp.Click(chromedp.CSS("#project-models-link")),
		chromedp.WaitVisible(chromedp.CSS("#models-title")),
		chromedp.Click(chromedp.CSS(`a[href="`+g.base+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#signoff-form")),
	)
	step("sign it off for dev",
		chromedp.SetValue(chromedp.CSS("#signoff-env"), "dev"),
		chromedp.SendKeys(chromedp.CSS("#signoff-comment"), "Calibration and typical ICU patients reviewed"),
		chromedp.Click(chromedp.CSS("#signoff-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := text("#signoff-list"); !strings.Contains(got, "Calibration and typical ICU patients reviewed") || !strings.Contains(got, "carla") {
		t.Errorf("sign-offs %q", got)
	}
	signOut()

	signIn("alice")
	step("promote to dev: refused",
		chromedp.Navigate(url+g.base),
		chromedp.WaitVisible(chromedp.CSS("#promote-form")),
		chromedp.Click(chromedp.CSS("#promote-submit")),
		chromedp.WaitVisible(chromedp.CSS("#refusal")),
	)
	if got := text("#form-error"); !strings.Contains(got, "refused") {
		t.Errorf("refusal %q", got)
	}
	if got := text("#refusal tr.gate-row-fail"); !strings.Contains(got, "roc_auc") || !strings.Contains(got, "FAIL") {
		t.Errorf("failing gate row %q", got)
	}
	if got := text("#version-env"); got != "none" {
		t.Errorf("a refused version moved to %q", got)
	}
	screenshot(t, ctx, "promotion-refused.png")
	signOut()

	signIn("ada")
	step("relax the policy",
		chromedp.Navigate(url+"/projects/sepsis/policy"),
		chromedp.WaitVisible(chromedp.CSS("#policy-form")),
		chromedp.SetValue(chromedp.CSS("#policy-text"), strings.Replace(govPolicy, "min: 0.7", "min: 0.6", 1)),
		chromedp.Click(chromedp.CSS("#policy-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := text("#policy-summary"); !strings.Contains(got, "roc_auc ≥ 0.6") {
		t.Errorf("policy summary %q", got)
	}
	screenshot(t, ctx, "policy.png")
	step("promote again: success",
		chromedp.Navigate(url+g.base),
		chromedp.WaitVisible(chromedp.CSS("#promote-form")),
		chromedp.Click(chromedp.CSS("#promote-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := text("#version-env"); got != "dev" {
		t.Errorf("after promotion the version is in %q", got)
	}
	if got := text("#reports .report"); !strings.Contains(got, "success") {
		t.Errorf("latest report %q", got)
	}
	step("open the model card", chromedp.Click(chromedp.CSS("#card-link")), chromedp.WaitVisible(chromedp.CSS("#model-card")))
	if got := text("#card-signoffs"); !strings.Contains(got, "carla") {
		t.Errorf("card sign-offs %q", got)
	}
	screenshot(t, ctx, "model-card.png")
}
