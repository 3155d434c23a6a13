package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/web"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	cases := []struct {
		name       string
		form       url.Values
		origin     string
		wantStatus int
		wantTo     string   // Location on success
		wantBody   []string // on failure
		secret     string   // must not appear in the page
	}{
		{name: "password", form: url.Values{"username": {"alice"}, "password": {password}}, wantStatus: 303, wantTo: "/"},
		{name: "token", form: url.Values{"token": {adminToken}, "next": {"/admin/audit?action=session.%2A"}}, wantStatus: 303, wantTo: "/admin/audit?action=session.%2A"},
		{name: "password to a project page", form: url.Values{"username": {"carla"}, "password": {password}, "next": {"/projects/sepsis"}}, wantStatus: 303, wantTo: "/projects/sepsis"},
		{name: "wrong password", form: url.Values{"username": {"alice"}, "password": {"wrong-password-123"}},
			wantStatus: 401, wantBody: []string{"Invalid credentials", `value="alice"`}, secret: "wrong-password-123"},
		{name: "unknown user", form: url.Values{"username": {"mallory"}, "password": {password}},
			wantStatus: 401, wantBody: []string{"Invalid credentials"}, secret: password},
		{name: "wrong token", form: url.Values{"token": {"hyg_not-a-real-token-at-all"}},
			wantStatus: 401, wantBody: []string{"Invalid credentials"}, secret: "hyg_not-a-real-token-at-all"},
		{name: "token-only account has no password", form: url.Values{"username": {"admin"}, "password": {adminToken}},
			wantStatus: 401, wantBody: []string{"Invalid credentials"}, secret: adminToken},
		{name: "empty form", form: url.Values{}, wantStatus: 401, wantBody: []string{"Invalid credentials"}},
		{name: "open redirect: scheme-relative", form: url.Values{"token": {adminToken}, "next": {"//evil.example/phish"}}, wantStatus: 303, wantTo: "/"},
		{name: "open redirect: absolute", form: url.Values{"token": {adminToken}, "next": {"https://evil.example/"}}, wantStatus: 303, wantTo: "/"},
		{name: "open redirect: backslash", form: url.Values{"token": {adminToken}, "next": {`/\evil.example`}}, wantStatus: 303, wantTo: "/"},
		{name: "open redirect: javascript", form: url.Values{"token": {adminToken}, "next": {"javascript:alert(1)"}}, wantStatus: 303, wantTo: "/"},
		{name: "cross-site login form", form: url.Values{"token": {adminToken}}, origin: "https://evil.example", wantStatus: 403, wantBody: []string{"cross-site"}},
		{name: "login form without origin", form: url.Values{"token": {adminToken}}, origin: "-", wantStatus: 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/login", tc.form, nil, tc.origin)
			if r.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d; body:\n%s", r.StatusCode, tc.wantStatus, r.Body)
			}
			c := sessionCookie(r)
			if tc.wantStatus != 303 {
				if c != nil && c.MaxAge >= 0 {
					t.Errorf("failed sign-in set a session cookie")
				}
				for _, s := range tc.wantBody {
					if !strings.Contains(r.Body, s) {
						t.Errorf("page lacks %q", s)
					}
				}
				if tc.secret != "" && strings.Contains(r.Body, tc.secret) {
					t.Errorf("page echoes the secret that was typed")
				}
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type %q, want HTML", ct)
				}
				return
			}
			if got := r.Header.Get("Location"); got != tc.wantTo {
				t.Errorf("Location %q, want %q", got, tc.wantTo)
			}
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure || c.MaxAge <= 0 {
				t.Errorf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/, not Secure (plain HTTP test), a max age", c)
			}
			if c.Value == adminToken {
				t.Errorf("the API token itself was put in the cookie")
			}
			if home := e.get("/", c); home.StatusCode != 200 || !strings.Contains(home.Body, `id="project-list"`) {
				t.Errorf("GET / with the new session: %d", home.StatusCode)
			}
		})
	}

	t.Run("failed sign-ins are audited without the secret", func(t *testing.T) {
		evs, err := e.audit.List(context.Background(), audit.Filter{Action: "session.login_failed"})
		if err != nil || len(evs) == 0 {
			t.Fatalf("no login_failed event: %v", err)
		}
		for _, ev := range evs {
			if strings.Contains(fmt.Sprint(ev), password) || strings.Contains(fmt.Sprint(ev), "wrong-password-123") || ev.Target == "user:mallory" {
				t.Errorf("audit event leaks a secret or a non-existent username: %+v", ev)
			}
		}
	})
}

func TestSecureCookies(t *testing.T) {
	e := newEnv(t, func(d *web.Deps) { d.SecureCookies = true })
	r := e.do("POST", "/login", url.Values{"token": {adminToken}}, nil, "")
	if c := sessionCookie(r); r.StatusCode != 303 || c == nil || !c.Secure {
		t.Fatalf("status %d, cookie %+v: want a Secure cookie", r.StatusCode, c)
	}
}

func TestLoginPage(t *testing.T) {
	e := newEnv(t)
	r := e.get("/login?next=%2Fprojects%2Fsepsis", nil)
	if r.StatusCode != 200 || !strings.Contains(r.Body, `name="next" value="/projects/sepsis"`) || !strings.Contains(r.Body, `id="token"`) {
		t.Fatalf("login page: %d\n%s", r.StatusCode, r.Body)
	}
	for h, want := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Content-Security-Policy": "default-src 'none'"} {
		if got := r.Header.Get(h); !strings.Contains(got, want) {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
	r = e.get("/login?next=%2F%2Fevil.example", nil)
	if !strings.Contains(r.Body, `name="next" value="/"`) {
		t.Errorf("unsafe next kept in the form")
	}
	// Signed in already: straight on.
	r = e.get("/login?next=%2Fprojects%2Fsepsis", e.session("alice"))
	if r.StatusCode != 303 || r.Header.Get("Location") != "/projects/sepsis" {
		t.Errorf("signed-in GET /login: %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestPagesAndAccess(t *testing.T) {
	e := newEnv(t)
	cookies := map[string]*http.Cookie{"": nil}
	for _, u := range []string{"admin", "alice", "victor", "carla", "nora"} {
		cookies[u] = e.session(u)
	}
	cases := []struct {
		name, as, path string
		status         int
		location       string
		want, not      []string
	}{
		{name: "anonymous home redirects to sign-in", path: "/", status: 303, location: "/login?next=%2F"},
		{name: "anonymous project page redirects", path: "/projects/sepsis?x=1", status: 303, location: "/login?next=%2Fprojects%2Fsepsis%3Fx%3D1"},
		{name: "anonymous admin audit redirects", path: "/admin/audit", status: 303, location: "/login?next=%2Fadmin%2Faudit"},
		{name: "stylesheet is public", path: "/static/style.css", status: 200, want: []string{"--brand"}},

		{name: "member sees their projects", as: "alice", path: "/", status: 200,
			want: []string{`id="project-list"`, "Early sepsis warning", "Heart failure readmission", "scientist", "Alice Martin", `id="logout"`},
			not:  []string{`href="/admin/audit"`}},
		{name: "viewer sees only their project", as: "victor", path: "/", status: 200,
			want: []string{"Early sepsis warning", "viewer"}, not: []string{"Heart failure readmission"}},
		{name: "user without role sees no project", as: "nora", path: "/", status: 200,
			want: []string{"not a member of any project"}, not: []string{"Early sepsis warning"}},
		{name: "admin sees every project and the audit link", as: "admin", path: "/", status: 200,
			want: []string{"Early sepsis warning", "Heart failure readmission", `href="/admin/audit"`}},

		{name: "user without role gets 403 on the project", as: "nora", path: "/projects/sepsis", status: 403,
			want: []string{"Access denied", "project.read", `id="request-id"`}, not: []string{"Early sepsis warning"}},
		{name: "viewer page", as: "victor", path: "/projects/sepsis", status: 200,
			want: []string{`id="members"`, "alice", "clinician-validator", `id="runs"`, "auc", "0.8412", `id="models"`, "sepsis-risk", "auc &gt;= 0.8", ">dev<"},
			not:  []string{`id="datasets"`, `id="predictions"`, `id="project-audit-link"`, rowValue}},
		{name: "scientist: datasets and predictions, no feedback form", as: "alice", path: "/projects/sepsis", status: 200,
			want: []string{`id="datasets"`, "icu_vitals@1", "pseudonymized", "lactate", `id="prediction-table"`, "0.82"},
			not:  []string{rowValue, "PSEUDO-", `name="verdict"`, `id="project-audit-link"`}},
		{name: "clinician: predictions with the feedback form, no datasets", as: "carla", path: "/projects/sepsis", status: 200,
			want: []string{`id="prediction-table"`, `name="verdict"`, `action="/projects/sepsis/predictions/pred-sepsis-0001/feedback"`, "incorrect"},
			not:  []string{`id="datasets"`, `id="runs"`}},
		{name: "admin: audit link, no feedback form", as: "admin", path: "/projects/sepsis", status: 200,
			want: []string{`id="project-audit-link"`, `id="datasets"`, `id="runs"`}, not: []string{`name="verdict"`, rowValue}},
		{name: "unknown project, admin", as: "admin", path: "/projects/nope", status: 404, want: []string{"Not found"}},
		{name: "unknown project, member elsewhere", as: "alice", path: "/projects/nope", status: 403},

		{name: "viewer cannot open the instance audit", as: "victor", path: "/admin/audit", status: 403,
			want: []string{"Access denied", "audit.read_all"}, not: []string{`id="audit-table"`}},
		{name: "scientist cannot open the instance audit", as: "alice", path: "/admin/audit", status: 403},
		{name: "admin opens the instance audit", as: "admin", path: "/admin/audit", status: 200,
			want: []string{`id="chain-status"`, `data-status="ok"`, "Chain verified", `id="audit-table"`, "project.create", "grant.create", "model.promote"}},
		{name: "viewer cannot open the project audit", as: "victor", path: "/projects/sepsis/audit", status: 403},
		{name: "admin opens the project audit", as: "admin", path: "/projects/sepsis/audit", status: 200,
			want: []string{`id="audit-table"`, "dataset.version.create"}, not: []string{"chain-status", `data-action="user.create"`}},
		{name: "project audit filtered by action", as: "admin", path: "/projects/sepsis/audit?action=grant.%2A", status: 200,
			want: []string{`data-action="grant.create"`}, not: []string{`data-action="dataset.version.create"`}},
		{name: "project audit cannot reach another project", as: "admin", path: "/projects/sepsis/audit?project=cardio&action=model.*", status: 200,
			want: []string{"model:sepsis-risk/1"}, not: []string{"model:readmit/1"}},
		{name: "admin audit filters by user and project", as: "admin", path: "/admin/audit?user=alice&project=cardio", status: 200,
			want: []string{"model:readmit/1", `data-action="run.create"`}, not: []string{"model:sepsis-risk/1", `data-action="project.create"`}},
		{name: "admin audit since a future day lists nothing", as: "admin", path: "/admin/audit?since=2999-01-01", status: 200,
			want: []string{"No event matches these filters", `data-status="ok"`}},
		{name: "admin audit until a past day lists nothing", as: "admin", path: "/admin/audit?until=2000-01-01", status: 200,
			want: []string{"No event matches"}},
		{name: "admin audit with a malformed date", as: "admin", path: "/admin/audit?since=01%2F02%2F2026", status: 400,
			want: []string{`id="audit-error"`, "YYYY-MM-DD", `value="01/02/2026"`}},
		{name: "unknown path is not the home page", as: "admin", path: "/nothing-here", status: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := cookies[tc.as]
			if !ok {
				t.Fatalf("no user %q", tc.as)
			}
			r := e.get(tc.path, c)
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d; body:\n%s", r.StatusCode, tc.status, r.Body)
			}
			if tc.location != "" && r.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", r.Header.Get("Location"), tc.location)
			}
			if r.StatusCode >= 400 && tc.path != "/nothing-here" {
				if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					t.Errorf("error Content-Type %q, want an HTML page", ct)
				}
			}
			for _, s := range tc.want {
				if !strings.Contains(r.Body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(r.Body, s) {
					t.Errorf("page shows %q", s)
				}
			}
		})
	}
}

func TestStylesheetCaching(t *testing.T) {
	e := newEnv(t)
	r := e.get("/static/style.css", nil)
	etag := r.Header.Get("ETag")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") || !strings.Contains(r.Header.Get("Cache-Control"), "max-age=") || etag == "" {
		t.Fatalf("stylesheet: %d %v", r.StatusCode, r.Header)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/static/style.css", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", resp.StatusCode)
	}
	home := e.get("/login", nil)
	if !strings.Contains(home.Body, `/static/style.css?v=`+strings.Trim(etag, `"`)) {
		t.Errorf("pages do not link the versioned stylesheet")
	}
}

func TestLogoutRevokesSession(t *testing.T) {
	e := newEnv(t)
	login := e.do("POST", "/login", url.Values{"username": {"victor"}, "password": {password}}, nil, "")
	c := sessionCookie(login)
	if c == nil {
		t.Fatalf("login: %d", login.StatusCode)
	}
	if r := e.get("/", c); r.StatusCode != 200 {
		t.Fatalf("session does not work: %d", r.StatusCode)
	}
	r := e.do("POST", "/logout", nil, c, "")
	if r.StatusCode != 303 || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
	if cleared := sessionCookie(r); cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Errorf("logout does not clear the cookie: %+v", cleared)
	}
	// The old cookie, replayed, no longer works anywhere.
	if r := e.get("/", c); r.StatusCode != 303 || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("GET / after logout: %d → %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := e.get("/projects/sepsis", c); r.StatusCode != 303 {
		t.Errorf("project page after logout: %d", r.StatusCode)
	}
	if _, err := e.auth.Authenticate(context.Background(), "", c.Value); err == nil {
		t.Errorf("the session token is still valid")
	}
	// A form post with the dead cookie: a sign-in-again page that forgets it.
	r = e.do("POST", "/logout", nil, c, "")
	if cleared := sessionCookie(r); r.StatusCode != 401 || !strings.Contains(r.Body, `href="/login"`) || cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("POST with a revoked session: %d, cookie %+v", r.StatusCode, cleared)
	}
	evs, _ := e.audit.List(context.Background(), audit.Filter{Action: "session.*", Actor: "victor"})
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
	}
	if strings.Join(actions, ",") != "session.logout,session.create" {
		t.Errorf("audited session events %v, want logout then create", actions)
	}
}

func TestCrossSitePostsRefused(t *testing.T) {
	e := newEnv(t)
	carla := e.session("carla")
	path := "/projects/sepsis/predictions/" + e.pred + "/feedback"
	form := url.Values{"verdict": {"incorrect"}, "comment": {"lactate was measured after antibiotics"}}
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		origin  string
		headers map[string]string
	}{
		{name: "feedback without Origin", path: path, origin: "-"},
		{name: "feedback from a foreign Origin", path: path, origin: "https://evil.example"},
		{name: "feedback from a foreign site (fetch metadata)", path: path, headers: map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{name: "feedback from a sibling site", path: path, origin: "http://127.0.0.1.evil.example"},
		{name: "logout from a foreign Origin", path: "/logout", origin: "https://evil.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.srv.URL+tc.path, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.origin != "-" && tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			req.AddCookie(carla)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	p, err := e.monitor.Prediction(context.Background(), e.pred)
	if err != nil || len(p.Feedback) != 0 {
		t.Fatalf("a cross-site post recorded feedback: %+v, %v", p.Feedback, err)
	}
	if r := e.get("/", carla); r.StatusCode != 200 {
		t.Errorf("cross-site logout ended the session: %d", r.StatusCode)
	}
}

func TestFeedback(t *testing.T) {
	e := newEnv(t)
	carla, alice := e.session("carla"), e.session("alice")
	form := url.Values{"verdict": {"incorrect"}, "comment": {"onset was earlier"}}
	cases := []struct {
		name     string
		cookie   *http.Cookie
		path     string
		form     url.Values
		status   int
		location string
	}{
		{"clinician records feedback", carla, "/projects/sepsis/predictions/" + e.pred + "/feedback", form, 303, "/projects/sepsis?feedback=recorded#predictions"},
		{"prediction of another project", carla, "/projects/sepsis/predictions/" + e.cardioPr + "/feedback", form, 404, ""},
		{"unknown prediction", carla, "/projects/sepsis/predictions/nope/feedback", form, 404, ""},
		{"invalid verdict", carla, "/projects/sepsis/predictions/" + e.pred + "/feedback", url.Values{"verdict": {"maybe"}}, 400, ""},
		{"scientist may not give feedback", alice, "/projects/sepsis/predictions/" + e.pred + "/feedback", form, 403, ""},
		{"not a member of cardio", carla, "/projects/cardio/predictions/" + e.cardioPr + "/feedback", form, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", tc.path, tc.form, tc.cookie, "")
			if r.StatusCode != tc.status {
				t.Fatalf("status %d, want %d:\n%s", r.StatusCode, tc.status, r.Body)
			}
			if tc.location != "" && r.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", r.Header.Get("Location"), tc.location)
			}
		})
	}
	p, err := e.monitor.Prediction(context.Background(), e.pred)
	if err != nil || len(p.Feedback) != 1 || p.Feedback[0].Verdict != "incorrect" || p.Feedback[0].User != "carla" {
		t.Fatalf("feedback stored: %+v, %v", p.Feedback, err)
	}
	if c, _ := e.monitor.Prediction(context.Background(), e.cardioPr); len(c.Feedback) != 0 {
		t.Fatalf("feedback reached another project's prediction")
	}
	if r := e.get("/projects/sepsis?feedback=recorded", carla); !strings.Contains(r.Body, `id="flash"`) {
		t.Errorf("no confirmation after the redirect")
	}
}

func TestAdminAuditPagingAndTampering(t *testing.T) {
	e := newEnv(t)
	ctx := audit.WithActor(context.Background(), "bob")
	for i := 0; i < 120; i++ {
		if err := e.audit.Append(ctx, audit.Event{Action: "test.event", Target: fmt.Sprintf("n:%d", i), Outcome: audit.Success}); err != nil {
			t.Fatal(err)
		}
	}
	admin := e.session("admin")
	first := e.get("/admin/audit?action=test.event", admin)
	if n := strings.Count(first.Body, `data-action="test.event"`); n != 50 {
		t.Fatalf("first page lists %d events, want 50", n)
	}
	older := between(first.Body, `id="page-older" class="pager-older" href="`, `"`)
	if !strings.Contains(older, "action=test.event") || !strings.Contains(older, "before=") {
		t.Fatalf("older link %q does not keep the filter", older)
	}
	second := e.get(strings.ReplaceAll(older, "&amp;", "&"), admin)
	if n := strings.Count(second.Body, `data-action="test.event"`); n != 50 || !strings.Contains(second.Body, `id="page-newest"`) {
		t.Fatalf("second page lists %d events", n)
	}
	if strings.Contains(second.Body, "n:119") || !strings.Contains(second.Body, "n:69") {
		t.Errorf("second page does not continue where the first stopped")
	}

	// Tamper with an event: the page says so, with the event number.
	if _, err := e.db.Exec(context.Background(), `UPDATE audit_events SET actor = 'mallory' WHERE seq = 3`); err != nil {
		t.Fatal(err)
	}
	r := e.get("/admin/audit", admin)
	for _, s := range []string{`data-status="broken"`, "Chain BROKEN at event 3", "event 3 was changed after it was written", `role="alert"`} {
		if !strings.Contains(r.Body, s) {
			t.Errorf("tampered chain: page lacks %q", s)
		}
	}
}

// between returns the text between the first from and the next to.
func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		return ""
	}
	return s[:j]
}
