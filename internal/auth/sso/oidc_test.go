package sso

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso/ssotest"
	"github.com/hygie-health/hygie/internal/config"
	"github.com/hygie-health/hygie/internal/errs"
)

const testRedirect = "http://127.0.0.1:9/login/oidc/callback"

var formID = regexp.MustCompile(`name="id" value="([^"]+)"`)

// authorize runs the browser's part of a sign-in: to the provider, through
// its login form, and back, stopping at the redirect to hygie. It returns
// the flow hygie kept and the query of the redirect.
func authorize(t *testing.T, s *Service, issuer, user, password string) (Flow, url.Values) {
	t.Helper()
	to, f, err := s.StartOIDC(context.Background(), "/projects/sepsis")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	q := u.Query()
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") != f.Nonce || q.Get("state") != f.State {
		t.Fatalf("authorization URL lacks PKCE, nonce or state: %s", to)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), testRedirect) {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(to)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := formID.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no login form at the provider: %d %s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(issuer+"/login/username", url.Values{"username": {user}, "password": {password}, "id": {string(m[1])}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), testRedirect) {
		t.Fatalf("provider did not redirect back: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return f, loc.Query()
}

var (
	opClients = []ssotest.OPClient{{ID: "hygie", Secret: "hygie-client-secret", RedirectURIs: []string{testRedirect}},
		{ID: "other-app", Secret: "other-client-secret", RedirectURIs: []string{testRedirect}}}
	olivia = ssotest.OPUser{ID: "u-olivia", Username: "olivia", Password: "olivia-password-1", FirstName: "Olivia", LastName: "Roux",
		Groups: []string{"/sepsis-scientists", "sepsis-viewers", "unrelated"}}
	badName = ssotest.OPUser{ID: "u-bad", Username: "Not A Username", Password: "bad-password-1"}
)

func oidcOptions(issuer, client, secret, scopes string) Options {
	o := config.Default().OIDC
	o.Name, o.Issuer, o.ClientID, o.ClientSecret, o.Scopes = "Test IdP", issuer, client, secret, scopes
	return Options{OIDC: o, RedirectURL: testRedirect, GroupRoles: []config.GroupRole{
		{Group: "sepsis-scientists", Project: "sepsis", Role: "scientist"},
		{Group: "sepsis-viewers", Project: "*", Role: "viewer"},
	}}
}

func TestOIDCSignIn(t *testing.T) {
	p := ssotest.StartProvider(t, opClients, []ssotest.OPUser{olivia, badName})
	// With the groups scope the ID token carries the groups; without it
	// they come from the userinfo endpoint (the username always does: the
	// provider keeps profile claims out of its ID tokens).
	for _, scopes := range []string{"openid profile groups", "openid profile"} {
		t.Run(scopes, func(t *testing.T) {
			e := newSSOEnv(t, oidcOptions(p.Issuer, "hygie", "hygie-client-secret", scopes))
			ctx := context.Background()
			f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
			pr, err := e.sso.FinishOIDC(ctx, f, q)
			if err != nil {
				t.Fatal(err)
			}
			if pr.Username != "olivia" || !slices.Equal(pr.Roles["sepsis"], []auth.Role{auth.RoleScientist, auth.RoleViewer}) || !slices.Equal(pr.Roles["icu"], []auth.Role{auth.RoleViewer}) {
				t.Fatalf("principal: %+v", pr)
			}
			if u, err := e.auth.UserByName(ctx, "olivia"); err != nil || u.DisplayName != "Olivia Roux" || u.HasPassword {
				t.Fatalf("account: %+v %v", u, err)
			}
			// The code is single-use.
			if _, err := e.sso.FinishOIDC(ctx, f, q); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("code replayed: %v", err)
			}
			// Out of a group at the provider: out of the role at the next sign-in.
			moved := olivia
			moved.Groups = []string{"sepsis-viewers"}
			p.Write(t, opClients, []ssotest.OPUser{moved, badName})
			t.Cleanup(func() { p.Write(t, opClients, []ssotest.OPUser{olivia, badName}) })
			f, q = authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
			pr, err = e.sso.FinishOIDC(ctx, f, q)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pr.Roles["sepsis"], []auth.Role{auth.RoleViewer}) {
				t.Fatalf("after leaving sepsis-scientists: %+v", pr.Roles)
			}
			evs, err := e.audit.List(ctx, audit.Filter{Action: "grant.delete"})
			if err != nil || len(evs) != 1 || !strings.Contains(evs[0].Detail, `"via":"oidc"`) {
				t.Fatalf("grant.delete events: %+v %v", evs, err)
			}
		})
	}
}

func TestOIDCRefusals(t *testing.T) {
	p := ssotest.StartProvider(t, opClients, []ssotest.OPUser{olivia, badName})
	ctx := context.Background()
	e := newSSOEnv(t, oidcOptions(p.Issuer, "hygie", "hygie-client-secret", "openid profile groups"))
	refused := func(t *testing.T, err error, want string) {
		t.Helper()
		if !errs.Is(err, errs.Unauthenticated) && !errs.Is(err, errs.Forbidden) || !strings.Contains(errs.MessageOf(err), want) {
			t.Fatalf("got %v, want refused with %q", err, want)
		}
	}
	t.Run("state", func(t *testing.T) {
		f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		q.Set("state", "forged")
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, "state mismatch")
		// Nor does the flow of another browser fit.
		g, _ := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		q.Set("state", f.State)
		_, err = e.sso.FinishOIDC(ctx, g, q)
		refused(t, err, "state mismatch")
	})
	t.Run("nonce", func(t *testing.T) {
		f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		f.Nonce = "another-nonce"
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, "nonce mismatch")
	})
	t.Run("pkce", func(t *testing.T) {
		f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		f.Verifier = oauth2.GenerateVerifier()
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, "provider could not be reached or its answer was unusable")
	})
	t.Run("flow expired", func(t *testing.T) {
		f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		f.Started = f.Started.Add(-FlowTTL - time.Second)
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, "took too long")
	})
	t.Run("provider error", func(t *testing.T) {
		f, _ := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		_, err := e.sso.FinishOIDC(ctx, f, url.Values{"state": {f.State}, "error": {"access_denied"}, "error_description": {"<script>"}})
		refused(t, err, "refused the sign-in (access_denied)")
	})
	t.Run("unusable username", func(t *testing.T) {
		f, q := authorize(t, e.sso, p.Issuer, badName.Username, badName.Password)
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, `claim "preferred_username"`)
	})
	t.Run("local account", func(t *testing.T) {
		if _, err := e.auth.CreateUser(ctx, "olivia", "Local Olivia", "local-password-123", false); err != nil {
			t.Fatal(err)
		}
		f, q := authorize(t, e.sso, p.Issuer, "olivia", olivia.Password)
		_, err := e.sso.FinishOIDC(ctx, f, q)
		refused(t, err, "does not sign in through this directory")
	})
	t.Run("audience and expiry", func(t *testing.T) {
		// A real ID token issued to another application…
		other := newSSOEnv(t, oidcOptions(p.Issuer, "other-app", "other-client-secret", "openid"))
		f, q := authorize(t, other.sso, p.Issuer, "olivia", olivia.Password)
		c := other.sso.oidc
		pv, err := c.discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := c.oauth2(pv).Exchange(c.ctx(ctx), q.Get("code"), oauth2.VerifierOption(f.Verifier))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if _, err := c.verify(c.ctx(ctx), pv, raw, f.Nonce); err != nil {
			t.Fatalf("the token does not verify for its own audience: %v", err)
		}
		// …is refused by hygie's client,
		h := e.sso.oidc
		hp, err := h.discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.verify(h.ctx(ctx), hp, raw, f.Nonce)
		refused(t, err, "did not verify")
		if strings.Contains(err.Error(), raw) || strings.Contains(errs.MessageOf(err), raw[:20]) {
			t.Fatal("the error quotes the token")
		}
		// and by its own once expired (the provider's ID tokens last an hour).
		c.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
		_, err = c.verify(c.ctx(ctx), pv, raw, f.Nonce)
		refused(t, err, "did not verify")
		if !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired token: %v", err)
		}
	})
}

func TestOIDCProviderDown(t *testing.T) {
	e := newSSOEnv(t, oidcOptions("http://127.0.0.1:1", "hygie", "s", "openid"))
	_, _, err := e.sso.StartOIDC(context.Background(), "/")
	if !errs.Is(err, errs.Unauthenticated) || !strings.Contains(errs.MessageOf(err), "could not be reached") {
		t.Fatalf("provider down: %v", err)
	}
}
