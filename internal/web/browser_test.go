package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser for end-to-end tests: $HYGIE_CHROMIUM, else
// Debian's chromium. Without one the test is skipped, except in CI where it
// must run.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HYGIE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("HYGIE_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, c := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium not found: .ci/run must install Debian's chromium")
	}
	t.Skip("chromium not found (set HYGIE_CHROMIUM or install Debian's chromium) — skipping the browser test")
	return ""
}

// newBrowser starts a headless Chromium for the test. Its whole life is
// bounded by limit: past it the browser stops and the pending action fails.
func newBrowser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	parent, cancelTimeout := context.WithTimeout(context.Background(), limit)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(parent, opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc(); cancelTimeout() })
	return ctx
}

// TestBrowserSignInToAudit drives the UI as a person would: open hygie, be
// sent to sign-in, sign in with a token, open the project, then the audit
// log and its chain status; and leave a screenshot of that page. Then a
// scientist signs in with her password, opens a dataset from the project
// page, applies the prefilled recipe, and lands on the new version, left as
// a screenshot too.
func TestBrowserSignInToAudit(t *testing.T) {
	ctx := newBrowser(t, 45*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text, location := d.step, d.text, d.location
	e := newEnv(t)
	url := e.srv.URL

	step("open hygie", chromedp.Navigate(url+"/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	if got := location(); got != url+"/login?next=%2F" {
		t.Fatalf("not sent to sign-in: at %s", got)
	}

	step("sign in with a token",
		chromedp.SendKeys(chromedp.CSS("#token"), adminToken),
		chromedp.Click(chromedp.CSS("#token-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	if got := text("#project-list"); !strings.Contains(got, "Early sepsis warning") || !strings.Contains(got, "Heart failure readmission") {
		t.Fatalf("project list: %q", got)
	}
	if got := text("#current-user"); !strings.Contains(got, "Administrator") {
		t.Errorf("header names %q, want the administrator", got)
	}

	step("open the project",
		chromedp.Click(chromedp.CSS(`#project-list a[href="/projects/sepsis"]`)),
		chromedp.WaitVisible(chromedp.CSS("#members")),
	)
	if got := text("#project-title"); got != "Early sepsis warning" {
		t.Errorf("project title %q", got)
	}
	if got := text("#members"); !strings.Contains(got, "alice") || !strings.Contains(got, "clinician-validator") {
		t.Errorf("members: %q", got)
	}

	step("open the audit log",
		chromedp.Click(chromedp.CSS("#nav-audit")),
		chromedp.WaitVisible(chromedp.CSS("#audit-table")),
	)
	status := text("#chain-status")
	if !strings.Contains(status, "verified") {
		t.Errorf("chain status %q, want verified", status)
	}
	table := text("#audit-table")
	for _, want := range []string{"session.create", "project.create", "grant.create", "model.promote"} {
		if !strings.Contains(table, want) {
			t.Errorf("audit table lacks %s", want)
		}
	}

	screenshot(t, ctx, "audit.png")

	step("sign out", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	step("the session is gone", chromedp.Navigate(url+"/admin/audit"), chromedp.WaitVisible(chromedp.CSS("#token")))

	step("sign in as a scientist, with a password",
		chromedp.Navigate(url+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("#login-submit")),
		chromedp.WaitVisible(chromedp.CSS("#project-list")),
	)
	step("open the project, then a dataset",
		chromedp.Click(chromedp.CSS(`#project-list a[href="/projects/sepsis"]`)),
		chromedp.WaitVisible(chromedp.CSS("#datasets")),
		chromedp.Click(chromedp.CSS(`#datasets a[href="/projects/sepsis/datasets/admissions_pseudo"]`)),
		chromedp.WaitVisible(chromedp.CSS("#profile-summary")),
	)
	if got := text("#dataset-title"); !strings.Contains(got, "admissions_pseudo@1") || !strings.Contains(got, "pseudonymized") {
		t.Errorf("dataset title %q", got)
	}
	if got := text("#lineage"); !strings.Contains(got, "admissions@1") || !strings.Contains(got, "imported") {
		t.Errorf("lineage: %q", got)
	}
	step("apply the prefilled recipe",
		chromedp.SendKeys(chromedp.CSS("#output"), "cohort"),
		chromedp.Click(chromedp.CSS("#transform-submit")),
		chromedp.WaitVisible(chromedp.CSS("#flash")),
	)
	if got := location(); got != url+"/projects/sepsis/datasets/cohort?v=1&created=1#top" {
		t.Fatalf("after the recipe: at %s", got)
	}
	lineage := text("#lineage")
	for _, want := range []string{"admissions@1", "admissions_pseudo@1", "cohort@1", "name: height-in-metres"} {
		if !strings.Contains(lineage, want) {
			t.Errorf("lineage lacks %q: %q", want, lineage)
		}
	}
	if got := text("#profile-summary"); !strings.Contains(got, "taille_m") {
		t.Errorf("profile: %q", got)
	}
	bars, err := chromedp.Run(ctx, chromedp.AttributesAll(chromedp.CSSAll("svg.bars rect.bar")))
	if err != nil || len(bars) < 10 {
		t.Errorf("chart bars: %d, %v", len(bars), err)
	}
	for _, b := range bars {
		if h, err := strconv.ParseFloat(b["height"], 64); err != nil || h < 0 || h > 150 {
			t.Errorf("bar %v", b)
		}
	}
	screenshot(t, ctx, "dataset.png")
}

// screenshot saves the whole page as name in a temporary directory, and in
// $HYGIE_SCREENSHOTS when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dirs := []string{t.TempDir()}
	if d := os.Getenv("HYGIE_SCREENSHOTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// driver runs chromedp steps for a browser test, failing it on error.
type driver struct {
	t   *testing.T
	ctx context.Context
}

func (d driver) step(name string, actions ...chromedp.Action[chromedp.Void]) {
	d.t.Helper()
	if err := chromedp.Do(d.ctx, actions...); err != nil {
		d.t.Fatalf("%s: %v", name, err)
	}
}

func (d driver) text(sel string) string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		d.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (d driver) location() string {
	d.t.Helper()
	s, err := chromedp.Run(d.ctx, chromedp.Location())
	if err != nil {
		d.t.Fatal(err)
	}
	return s
}
