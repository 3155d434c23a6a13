package app_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso/ssotest"
	"github.com/hygie-health/hygie/internal/config"
)

// ssoApp starts hygie configured by cfg on a listener chosen beforehand
// (its URL must be registered at the provider before it starts), with a
// project "sepsis".
func ssoApp(t *testing.T, ln net.Listener, cfg config.Config, log io.Writer) (*app.App, *httptest.Server) {
	t.Helper()
	a, err := app.Open(context.Background(), cfg, app.Options{Migrate: true, Logger: slog.New(slog.NewTextHandler(log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	admin := auth.WithPrincipal(context.Background(), &auth.Principal{Username: "admin", Admin: true})
	if _, err := a.Projects.Create(admin, "sepsis", "Sepsis", ""); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(a.Server)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	t.Cleanup(ts.Close)
	return a, ts
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var providerFormID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// TestOIDCWebSignIn signs in through the sign-in page's button and a real
// provider, with a browser-like client (cookie jar, following redirects).
func TestOIDCWebSignIn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	users := []ssotest.OPUser{{ID: "u1", Username: "olivia", Password: "olivia-password-1", FirstName: "Olivia", LastName: "Roux", Groups: []string{"sepsis-scientists"}}}
	clients := []ssotest.OPClient{{ID: "hygie", Secret: "hygie-client-secret", RedirectURIs: []string{base + "/login/oidc/callback"}}}
	p := ssotest.StartProvider(t, clients, users)
	secretFile := t.TempDir() + "/oidc-secret"
	if err := os.WriteFile(secretFile, []byte("hygie-client-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sqliteConfig(t)
	cfg.PublicURL = base
	cfg.OIDC.Name, cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecretFile = "Hospital IdP", p.Issuer, "hygie", secretFile
	cfg.OIDC.Scopes = "openid profile groups"
	cfg.GroupRoles = []config.GroupRole{{Group: "sepsis-scientists", Project: "sepsis", Role: "scientist"}}
	var logs ssotest.SyncBuffer
	a, ts := ssoApp(t, ln, cfg, &logs)

	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	_, page := get(t, c, ts.URL+"/login?next=/projects/sepsis")
	if !strings.Contains(page, `href="/login/oidc?next=%2fprojects%2fsepsis"`) || !strings.Contains(page, "Sign in with Hospital IdP") {
		t.Fatalf("no OIDC button on the sign-in page:\n%s", page)
	}
	resp, page := get(t, c, ts.URL+"/login/oidc?next=/projects/sepsis")
	m := providerFormID.FindStringSubmatch(page)
	if m == nil || !strings.HasPrefix(resp.Request.URL.String(), p.Issuer) {
		t.Fatalf("not at the provider's login form: %s\n%s", resp.Request.URL, page)
	}
	u, _ := url.Parse(ts.URL + "/login/oidc")
	flowCookie := func() bool {
		for _, c := range jar.Cookies(u) {
			if c.Name == "hygie_oidc" {
				return true
			}
		}
		return false
	}
	if !flowCookie() {
		t.Fatalf("no flow cookie: %v", jar.Cookies(u))
	}
	resp, err = c.PostForm(p.Issuer+"/login/username", url.Values{"username": {"olivia"}, "password": {"olivia-password-1"}, "id": {m[1]}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/login/oidc/callback" || !strings.Contains(string(b), `content="0;url=/projects/sepsis"`) {
		t.Fatalf("callback: %d %s\n%s", resp.StatusCode, resp.Request.URL, b)
	}
	if strings.Contains(resp.Request.URL.String(), "id_token") || strings.Contains(string(b), "code=") {
		t.Fatal("a token or code on the page")
	}
	if flowCookie() {
		t.Fatal("the flow cookie outlived the sign-in")
	}
	resp, page = get(t, c, ts.URL+"/projects/sepsis")
	if resp.StatusCode != 200 || resp.Request.URL.Path != "/projects/sepsis" {
		t.Fatalf("project page after sign-in: %d %s", resp.StatusCode, resp.Request.URL)
	}
	ctx := context.Background()
	pr, err := a.Auth.PrincipalOf(ctx, "olivia")
	if err != nil || len(pr.Roles["sepsis"]) != 1 || pr.Roles["sepsis"][0] != auth.RoleScientist {
		t.Fatalf("olivia: %+v %v", pr, err)
	}
	evs, err := a.Audit.List(ctx, audit.Filter{Action: "session.login"})
	if err != nil || len(evs) != 1 || evs[0].Target != "user:olivia" || !strings.Contains(evs[0].Detail, `"method":"oidc"`) {
		t.Fatalf("session.login events: %+v %v", evs, err)
	}

	// A callback that this browser did not start is refused and audited.
	fresh := &http.Client{Timeout: 10 * time.Second}
	resp, page = get(t, fresh, ts.URL+"/login/oidc/callback?state=forged&code=stolen")
	if resp.StatusCode != 401 || !strings.Contains(page, "sign-in state was not found") || strings.Contains(page, "stolen") {
		t.Fatalf("forged callback: %d\n%s", resp.StatusCode, page)
	}
	evs, err = a.Audit.List(ctx, audit.Filter{Action: "session.login_failed"})
	if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, `"method":"oidc"`) {
		t.Fatalf("session.login_failed events: %+v %v", evs, err)
	}
	// The log tells operators why, and carries no code, token or name.
	log := logs.String()
	if !strings.Contains(log, "oidc sign-in failed") {
		t.Fatalf("failure not logged:\n%s", log)
	}
	for _, secret := range []string{"stolen", "olivia-password-1", "Olivia", "Roux", "hygie-client-secret"} {
		if strings.Contains(log, secret) {
			t.Fatalf("the log shows %q:\n%s", secret, log)
		}
	}
}
