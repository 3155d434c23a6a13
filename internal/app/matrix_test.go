package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/demo"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// TestRouteRoleMatrix walks every registered route with no credentials,
// with a user holding each single role in the project, with an instance
// administrator and with an outsider, and checks each answer against the
// route's declared policy: 401 (or a redirect to the login page) without
// credentials, 403 without the permission, and neither with it.
func TestRouteRoleMatrix(t *testing.T) {
	a, res := openDemo(t, sqliteConfig(t))
	ctx := context.Background()
	ts := httptest.NewServer(a.Server)
	defer ts.Close()

	principals := []string{"", "admin", "outsider"}
	for _, r := range auth.Roles {
		name := "role-" + strings.ReplaceAll(string(r), "-", "")
		if _, err := a.Auth.CreateUser(ctx, name, "", "", false); err != nil {
			t.Fatal(err)
		}
		if err := a.Auth.Grant(ctx, demo.Project, name, r); err != nil {
			t.Fatal(err)
		}
		principals = append(principals, name)
	}
	if _, err := a.Auth.CreateUser(ctx, "outsider", "", "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Auth.CreateUser(ctx, "dummy", "", "", false); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		"project": demo.Project, "name": demo.Model, "model": demo.Model, "dataset": "cohort_features", "version": "1",
		"run": fmt.Sprint(res.RunID), "id": res.PredictionID, "username": "dummy", "role": "viewer",
	}
	checked := 0
	for _, rt := range a.Server.Routes() {
		path := rt.Pattern
		for k, v := range values {
			path = strings.ReplaceAll(path, "{"+k+"}", v)
		}
		path = strings.ReplaceAll(path, "{$}", "")
		if rt.Pattern == "/api/v1/tokens/{id}" {
			path = "/api/v1/tokens/999999"
		}
		for _, who := range principals {
			var p *auth.Principal
			req, _ := http.NewRequest(rt.Method, ts.URL+path, strings.NewReader(""))
			req.Header.Set("Sec-Fetch-Site", "same-origin") // as a browser on our own pages
			if who != "" {
				_, secret, err := a.Auth.CreateToken(ctx, who, "matrix", auth.KindAPI, time.Hour, "")
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+secret)
				if p, err = a.Auth.PrincipalOf(ctx, who); err != nil {
					t.Fatal(err)
				}
			}
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.StatusCode
			desc := fmt.Sprintf("%s %s as %q: HTTP %d", rt.Method, rt.Pattern, who, got)
			allowed := allowed(rt, p)
			switch {
			case p == nil && rt.Scope != httpapi.Public:
				login := got == http.StatusSeeOther && strings.HasPrefix(resp.Header.Get("Location"), "/login")
				if got != http.StatusUnauthorized && !(rt.Web && login) {
					t.Errorf("%s, want 401 or a redirect to /login", desc)
				}
			case rt.Scope == httpapi.Public:
				// The policy lets everyone through; the handler may still
				// refuse bad credentials (POST /login) with 401.
				if got == http.StatusForbidden || got >= 500 {
					t.Errorf("%s on a public route", desc)
				}
			case allowed:
				if got == http.StatusUnauthorized || got == http.StatusForbidden || got >= 500 {
					t.Errorf("%s, want access (policy: %s %s)", desc, rt.Scope, rt.Perm)
				}
			default:
				if got != http.StatusForbidden {
					t.Errorf("%s, want 403 (policy: %s %s)", desc, rt.Scope, rt.Perm)
				}
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d route × principal pairs checked", checked)
	}
	t.Logf("%d routes × %d principals checked", len(a.Server.Routes()), len(principals))
}

func allowed(rt httpapi.Route, p *auth.Principal) bool {
	switch rt.Scope {
	case httpapi.Public:
		return true
	case httpapi.Authenticated:
		return p != nil
	case httpapi.Instance:
		return p.Can("", rt.Perm)
	}
	return p.Can(demo.Project, rt.Perm)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

var _ = app.Version
