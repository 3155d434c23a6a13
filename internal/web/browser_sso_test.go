package web_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-health/hygie/internal/auth/sso"
	"github.com/hygie-health/hygie/internal/auth/sso/ssotest"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/web"
)

// TestBrowserOIDCSignIn signs in through a real OpenID provider in
// Chromium: the button, the provider's form, and back to the page asked
// for. hygie is reached as localhost and the provider as 127.0.0.1, two
// sites, so the return is a cross-site navigation as with a hospital's
// Keycloak: the SameSite=Strict session cookie must still be in use on the
// first page after it.
func TestBrowserOIDCSignIn(t *testing.T) {
	ctx := newBrowser(t, 60*time.Second)
	d := driver{t: t, ctx: ctx}
	step, text, location := d.step, d.text, d.location

	p := ssotest.StartProvider(t,
		[]ssotest.OPClient{{ID: "hygie", Secret: "hygie-client-secret", RedirectURIs: []string{"http://localhost:*/login/oidc/callback"}}},
		[]ssotest.OPUser{{ID: "u1", Username: "olivia", Password: "olivia-password-1", FirstName: "Olivia", LastName: "Roux", Groups: []string{"/sepsis-scientists"}}})
	// The UI holds the service by pointer: it is filled in once the
	// server's address, part of the redirect URL, is known.
	holder := new(sso.Service)
	e := newEnv(t, func(d *web.Deps) { d.SSO = holder })
	base := strings.Replace(e.srv.URL, "127.0.0.1", "localhost", 1)
	o := config.Default().OIDC
	o.Name, o.Issuer, o.ClientID, o.ClientSecret, o.Scopes = "Hospital IdP", p.Issuer, "hygie", "hygie-client-secret", "openid profile groups"
	s, err := sso.New(sso.Options{OIDC: o, RedirectURL: base + "/login/oidc/callback",
		GroupRoles: []config.GroupRole{{Group: "sepsis-scientists", Project: "sepsis", Role: "scientist"}}}, e.auth)
	if err != nil {
		t.Fatal(err)
	}
	*holder = *s

	step("open a project page", chromedp.Navigate(base+"/projects/sepsis"), chromedp.WaitVisible(chromedp.CSS("#login-oidc")))
	if got := text("#login-oidc"); got != "Sign in with Hospital IdP" {
		t.Fatalf("button %q", got)
	}
	step("sign in with the provider", chromedp.Click(chromedp.CSS("#login-oidc")), chromedp.WaitVisible(chromedp.CSS("#username")))
	if got := location(); !strings.HasPrefix(got, p.Issuer+"/login/username") {
		t.Fatalf("not at the provider: %s", got)
	}
	step("type the directory password",
		chromedp.SendKeys(chromedp.CSS("#username"), "olivia"),
		chromedp.SendKeys(chromedp.CSS("#password"), "olivia-password-1"),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#members")),
	)
	if got := location(); got != base+"/projects/sepsis" {
		t.Fatalf("after sign-in at %s, want the project page", got)
	}
	if got := text("#current-user"); !strings.Contains(got, "Olivia Roux") {
		t.Fatalf("header names %q", got)
	}
	if got := text("#members"); !strings.Contains(got, "olivia") || !strings.Contains(got, "scientist") {
		t.Fatalf("members: %q", got)
	}
}
