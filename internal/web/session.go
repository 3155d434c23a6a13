package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
)

// loginData is the sign-in page's content. It never carries the password
// or token that was typed.
type loginData struct {
	Next     string
	Username string
	Error    string
	// OIDC names the OpenID Connect provider of the "Sign in with" button
	// (empty: no such sign-in); LDAP tells that directory passwords work.
	OIDC string
	LDAP bool
}

// newLoginData fills the sign-in page's settings.
func (u *UI) newLoginData(next, username, msg string) loginData {
	d := loginData{Next: next, Username: username, Error: msg, LDAP: u.d.SSO.LDAPEnabled()}
	if u.d.SSO.OIDCEnabled() {
		d.OIDC = u.d.SSO.OIDCName()
	}
	return d
}

// errLogin is the one message of every failed sign-in, whatever failed, so
// the page tells nothing about which usernames exist.
const errLogin = "Invalid credentials. Check your username and password, or your token, and try again."

// loginPage shows the sign-in form; someone already signed in goes on.
func (u *UI) loginPage(w http.ResponseWriter, r *http.Request) error {
	next := safeNext(r.URL.Query().Get("next"))
	if auth.FromContext(r.Context()) != nil {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return nil
	}
	if c, err := r.Cookie(httpapi.SessionCookie); err == nil && c.Value != "" {
		// A session cookie that did not authenticate: forget it.
		http.SetCookie(w, u.sessionCookie("", -1))
	}
	return u.render(w, http.StatusOK, "login", u.newPage(r, "Sign in", "", u.newLoginData(next, "", "")))
}

// login checks a username and password, or an API token, and opens a web
// session: a fresh session token in an HttpOnly, SameSite=Strict cookie. The
// API token itself never goes into the cookie.
func (u *UI) login(w http.ResponseWriter, r *http.Request) error {
	// Refuse forms posted from other sites (login CSRF: being signed in to
	// someone else's account). The server checks this only when a session
	// cookie comes along.
	if !sameOrigin(r) {
		return errs.Forbiddenf("cross-site request refused")
	}
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	ctx := r.Context()
	next := safeNext(r.PostForm.Get("next"))
	username := strings.TrimSpace(r.PostForm.Get("username"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	method := "password"
	var (
		p   *auth.Principal
		err error
	)
	switch {
	case token != "":
		method, username = "token", ""
		p, err = u.d.Auth.Authenticate(ctx, "", token)
	case username != "" && r.PostForm.Get("password") != "":
		if until, locked := u.throttle().locked(username); locked {
			// Refused before the password is even checked, so guessing
			// goes no faster for a correct guess.
			u.auditThrottledLogin(r, username)
			msg := fmt.Sprintf("Too many failed sign-ins for this account: try again after %s UTC, or ask an administrator.", until.UTC().Format("15:04"))
			w.Header().Set("Retry-After", strconv.Itoa(int(time.Until(until).Seconds())+1))
			return u.render(w, http.StatusTooManyRequests, "login", u.newPage(r, "Sign in", "", u.newLoginData(next, username, msg)))
		}
		if u.d.SSO != nil {
			// Local accounts first, then the directory (LDAP).
			p, method, err = u.d.SSO.CheckPassword(ctx, username, r.PostForm.Get("password"))
		} else {
			p, err = u.d.Auth.CheckPassword(ctx, username, r.PostForm.Get("password"))
		}
		if err == nil {
			u.throttle().succeed(username)
		}
	default:
		err = errs.Unauthenticatedf("no credentials")
	}
	if err != nil {
		var unavailable *sso.UnavailableError
		if errors.As(err, &unavailable) {
			// The directory is down: not the user's fault, not counted.
			u.log.Warn("directory sign-in unavailable", "request_id", audit.RequestIDFrom(ctx), "err", err)
			return u.render(w, http.StatusServiceUnavailable, "login", u.newPage(r, "Sign in", "", u.newLoginData(next, username,
				"The hospital directory cannot be reached at the moment: try again later, or ask an administrator.")))
		}
		if !errs.Is(err, errs.Unauthenticated) {
			return err
		}
		if method != "token" {
			u.throttle().fail(username)
		}
		u.auditFailedLogin(r, username, method)
		return u.render(w, http.StatusUnauthorized, "login", u.newPage(r, "Sign in", "", u.newLoginData(next, username, errLogin)))
	}
	if err := u.openSession(w, r, p, method); err != nil {
		return err
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
	return nil
}

// openSession starts a web session for p after a successful sign-in: a
// fresh session token in an HttpOnly, SameSite=Strict cookie (replacing
// the browser's previous session). Directory sign-ins (ldap, oidc) are
// audited as session.login with their method.
func (u *UI) openSession(w http.ResponseWriter, r *http.Request, p *auth.Principal, method string) error {
	ctx := auth.WithPrincipal(r.Context(), p)
	if old, err := r.Cookie(httpapi.SessionCookie); err == nil && old.Value != "" {
		// Signing in again replaces the previous session of this browser.
		if err := u.d.Auth.RevokeSecret(ctx, old.Value); err != nil {
			return err
		}
	}
	_, secret, err := u.d.Auth.CreateToken(ctx, p.Username, "web session ("+method+")", auth.KindSession, u.sessions, "")
	if err != nil {
		return err
	}
	if method == "ldap" || method == "oidc" {
		if err := u.d.Audit.Append(ctx, audit.Event{Action: "session.login", Target: "user:" + p.Username, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"method": method})}); err != nil {
			return err
		}
	}
	http.SetCookie(w, u.sessionCookie(secret, u.cookieMaxAge()))
	return nil
}

// oidcCookie keeps an OpenID Connect sign-in's state, nonce and PKCE
// verifier in the browser between leaving for the provider and coming
// back. SameSite=Lax, not Strict: the provider's redirect back is a
// cross-site navigation, on which a Strict cookie is not sent.
const oidcCookie = "hygie_oidc"

func (u *UI) flowCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: oidcCookie, Value: value, Path: "/login/oidc", MaxAge: maxAge,
		HttpOnly: true, Secure: u.d.SecureCookies, SameSite: http.SameSiteLaxMode}
}

// oidcStart sends the browser to the OpenID Connect provider.
func (u *UI) oidcStart(w http.ResponseWriter, r *http.Request) error {
	if !u.d.SSO.OIDCEnabled() {
		return errs.NotFoundf("sign-in through OpenID Connect is not configured")
	}
	next := safeNext(r.URL.Query().Get("next"))
	to, flow, err := u.d.SSO.StartOIDC(r.Context(), next)
	if err != nil {
		return u.oidcFailed(w, r, next, err)
	}
	http.SetCookie(w, u.flowCookie(flow.Encode(), int(sso.FlowTTL/time.Second)))
	http.Redirect(w, r, to, http.StatusFound)
	return nil
}

// oidcCallback finishes an OpenID Connect sign-in and opens a session.
func (u *UI) oidcCallback(w http.ResponseWriter, r *http.Request) error {
	if !u.d.SSO.OIDCEnabled() {
		return errs.NotFoundf("sign-in through OpenID Connect is not configured")
	}
	http.SetCookie(w, u.flowCookie("", -1)) // one use only
	c, err := r.Cookie(oidcCookie)
	if err != nil {
		return u.oidcFailed(w, r, "/", errs.Unauthenticatedf("the sign-in state was not found (expired, or cookies are blocked): start again from the sign-in page"))
	}
	flow, err := sso.DecodeFlow(c.Value)
	if err != nil {
		return u.oidcFailed(w, r, "/", err)
	}
	p, err := u.d.SSO.FinishOIDC(r.Context(), flow, r.URL.Query())
	if err != nil {
		return u.oidcFailed(w, r, safeNext(flow.Next), err)
	}
	if err := u.openSession(w, r, p, "oidc"); err != nil {
		return err
	}
	// The session cookie is SameSite=Strict and this request comes from the
	// provider's site: a redirect would still count as cross-site and the
	// cookie would not be sent. A page of ours that moves on does.
	next := template.HTMLEscapeString(safeNext(flow.Next))
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, err = fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=%s"><title>Signed in</title></head><body><p>Signed in. <a href="%s" id="continue">Continue</a></p></body></html>`, next, next)
	return err
}

// oidcFailed shows the sign-in page with what went wrong (never a token)
// and audits the failure. The log gets the cause too (the provider's
// error code, what did not verify), for the operators: never a token, a
// code or a username.
func (u *UI) oidcFailed(w http.ResponseWriter, r *http.Request, next string, err error) error {
	if errs.CodeOf(err) == errs.Internal {
		return err
	}
	u.log.Info("oidc sign-in failed", "request_id", audit.RequestIDFrom(r.Context()), "err", err)
	e := audit.Event{Actor: "anonymous", Action: "session.login_failed", Outcome: audit.Denied,
		Detail: audit.MarshalDetail(map[string]any{"method": "oidc", "reason": errs.MessageOf(err)})}
	if aerr := u.d.Audit.Append(r.Context(), e); aerr != nil {
		u.log.Error("audit failed login", "request_id", audit.RequestIDFrom(r.Context()), "err", aerr)
	}
	status := http.StatusUnauthorized
	if errs.CodeOf(err) == errs.Forbidden {
		status = http.StatusForbidden
	}
	return u.render(w, status, "login", u.newPage(r, "Sign in", "", u.newLoginData(next, "", "Sign-in with "+u.d.SSO.OIDCName()+" failed: "+errs.MessageOf(err))))
}

// auditFailedLogin records a refused sign-in. The username is recorded only
// when it names an existing account: a password typed in the wrong field
// must not end up in the audit log.
func (u *UI) auditFailedLogin(r *http.Request, username, method string) {
	e := audit.Event{Actor: "anonymous", Action: "session.login_failed", Outcome: audit.Denied,
		Detail: audit.MarshalDetail(map[string]any{"method": method})}
	if username != "" {
		if _, err := u.d.Auth.UserByName(r.Context(), username); err == nil {
			e.Target = "user:" + username
		}
	}
	if err := u.d.Audit.Append(r.Context(), e); err != nil {
		u.log.Error("audit failed login", "request_id", audit.RequestIDFrom(r.Context()), "err", err)
	}
}

// auditThrottledLogin records a sign-in refused by the throttle, with the
// same care as auditFailedLogin (no secret, no unknown username).
func (u *UI) auditThrottledLogin(r *http.Request, username string) {
	e := audit.Event{Actor: "anonymous", Action: "session.login_throttled", Outcome: audit.Denied,
		Detail: audit.MarshalDetail(map[string]any{"method": "password", "max_failures": maxFailedLogins, "window": failedLoginWindow.String()})}
	if _, err := u.d.Auth.UserByName(r.Context(), username); err == nil {
		e.Target = "user:" + username
	}
	if err := u.d.Audit.Append(r.Context(), e); err != nil {
		u.log.Error("audit throttled login", "request_id", audit.RequestIDFrom(r.Context()), "err", err)
	}
}

// Login throttling: after maxFailedLogins failed password sign-ins for one
// username within failedLoginWindow, further attempts for that username are
// refused (429) for loginLockout, whatever the password. The counts live in
// the memory of the process: each hygie server process throttles on its
// own, and a restart forgets them. Token sign-ins are not throttled by
// username (tokens are long random secrets).
const (
	maxFailedLogins   = 5
	failedLoginWindow = 15 * time.Minute
	loginLockout      = 15 * time.Minute
	// maxThrottled bounds the usernames remembered; beyond it, those with
	// no recent failure and no lockout are forgotten first.
	maxThrottled = 10000
)

// loginThrottle counts failed sign-ins per username.
type loginThrottle struct {
	now   func() time.Time
	mu    sync.Mutex
	users map[string]*loginFailures
}

type loginFailures struct {
	failures    []time.Time // within the window, oldest first
	lockedUntil time.Time
}

func newLoginThrottle(now func() time.Time) *loginThrottle {
	return &loginThrottle{now: now, users: map[string]*loginFailures{}}
}

// throttles holds each UI's throttle (a UI lives as long as its server).
var throttles sync.Map // *UI → *loginThrottle

func (u *UI) throttle() *loginThrottle {
	if t, ok := throttles.Load(u); ok {
		return t.(*loginThrottle)
	}
	t, _ := throttles.LoadOrStore(u, newLoginThrottle(time.Now))
	return t.(*loginThrottle)
}

func throttleKey(username string) string { return strings.ToLower(strings.TrimSpace(username)) }

// locked reports whether sign-ins for username are refused, and until when.
func (t *loginThrottle) locked(username string) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.users[throttleKey(username)]
	if f == nil || !t.now().Before(f.lockedUntil) {
		return time.Time{}, false
	}
	return f.lockedUntil, true
}

// fail counts a failed sign-in and locks the username at the limit.
func (t *loginThrottle) fail(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	key := throttleKey(username)
	f := t.users[key]
	if f == nil {
		if len(t.users) >= maxThrottled {
			t.prune(now)
		}
		f = &loginFailures{}
		t.users[key] = f
	}
	f.failures = append(recent(f.failures, now), now)
	if len(f.failures) >= maxFailedLogins {
		f.lockedUntil, f.failures = now.Add(loginLockout), nil
	}
}

// succeed forgets the failures of a username after a correct password.
func (t *loginThrottle) succeed(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.users, throttleKey(username))
}

// prune forgets usernames with no failure in the window and no lockout;
// the caller holds mu.
func (t *loginThrottle) prune(now time.Time) {
	for k, f := range t.users {
		if len(recent(f.failures, now)) == 0 && !now.Before(f.lockedUntil) {
			delete(t.users, k)
		}
	}
}

// recent drops the failures older than the window.
func recent(failures []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(failures) && now.Sub(failures[i]) >= failedLoginWindow {
		i++
	}
	return failures[i:]
}

// logout revokes the session, forgets the cookie and returns to sign-in.
func (u *UI) logout(w http.ResponseWriter, r *http.Request) error {
	c, err := r.Cookie(httpapi.SessionCookie)
	if err == nil && c.Value != "" {
		if err := u.d.Auth.RevokeSecret(r.Context(), c.Value); err != nil {
			return err
		}
		p := auth.FromContext(r.Context())
		if err := u.d.Audit.Append(r.Context(), audit.Event{Action: "session.logout", Target: "user:" + p.Username, Outcome: audit.Success}); err != nil {
			return err
		}
	}
	http.SetCookie(w, u.sessionCookie("", -1))
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

// sessionCookie builds the session cookie; maxAge < 0 deletes it.
func (u *UI) sessionCookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: httpapi.SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: u.d.SecureCookies, SameSite: http.SameSiteStrictMode}
}

// cookieMaxAge lets the browser drop the cookie a little before the server
// expires the session, so an expired cookie is rarely sent.
func (u *UI) cookieMaxAge() int {
	ttl := u.sessions
	if ttl > 2*time.Minute {
		ttl -= time.Minute
	}
	return int(ttl / time.Second)
}

// safeNext returns where to go after signing in: next if it is a path on
// this site, else "/". It refuses absolute URLs, scheme-relative "//host"
// and the "/\host" form that browsers read as "//host", control
// characters, and the sign-in page itself.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return "/"
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return "/"
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	v, err := url.Parse(next)
	if err != nil || v.Scheme != "" || v.Host != "" || v.User != nil || v.Path == "/login" || v.Path == "/logout" || !strings.HasPrefix(v.Path, "/") {
		return "/"
	}
	return next
}

// sameOrigin reports whether a form post comes from this site's pages:
// Sec-Fetch-Site where the browser sends it, else Origin or Referer.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" || origin == "null" {
		return false
	}
	o, err := url.Parse(origin)
	return err == nil && o.Host == r.Host
}
