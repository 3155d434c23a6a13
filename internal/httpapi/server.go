// Package httpapi is hygie's HTTP plumbing and REST API: a route table in
// which every route declares the permission it needs (deny by default), the
// middleware every request goes through (request id, logging, metrics, body
// limit, panic recovery, authentication, authorization), the one mapping of
// error codes to HTTP statuses, and the OpenAPI document generated from the
// route table. Other surfaces (the web UI, the inference protocol) add their
// routes to the same table.
package httpapi

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
)

// Scope says how a route is authorized.
type Scope int

// Route scopes.
const (
	Public        Scope = iota // no credentials needed
	Authenticated              // any signed-in user; the handler filters what it returns
	Instance                   // Perm is an instance permission
	Project                    // Perm in the project named by ProjectOf
)

func (s Scope) String() string {
	return [...]string{"public", "authenticated", "instance", "project"}[s]
}

// HandlerFunc handles a request; a returned error is written by the server.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Route is one endpoint and its access policy.
type Route struct {
	Method  string
	Pattern string // net/http ServeMux pattern path, e.g. /api/v1/projects/{project}
	Summary string
	Tag     string
	Scope   Scope
	Perm    auth.Perm
	// ProjectOf names the project a Project-scoped request acts in; the
	// default reads the {project} path value.
	ProjectOf func(r *http.Request) (string, error)
	// Web routes answer humans: without credentials they redirect to the
	// login page, and errors render as HTML through ErrorPage.
	Web     bool
	Handler HandlerFunc
}

// Server is the HTTP server's handler.
type Server struct {
	auth      *auth.Service
	audit     *audit.Log
	log       *slog.Logger
	maxBody   int64
	routes    []Route
	mux       *http.ServeMux
	metrics   *metrics
	registry  *prometheus.Registry
	readiness []Check
	// ErrorPage renders an error for web routes; set by the web UI.
	ErrorPage func(w http.ResponseWriter, r *http.Request, status int, message string)
}

// Check is a readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Auth            *auth.Service
	Audit           *audit.Log
	Logger          *slog.Logger
	MaxRequestBytes int64
	Readiness       []Check
	Version         string
}

// New returns a server with the health, metrics and OpenAPI routes.
func New(o Options) *Server {
	s := &Server{auth: o.Auth, audit: o.Audit, log: o.Logger, maxBody: o.MaxRequestBytes, mux: http.NewServeMux(), readiness: o.Readiness,
		registry: prometheus.NewRegistry()}
	if s.maxBody <= 0 {
		s.maxBody = 32 << 20
	}
	s.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = newMetrics(s.registry)
	s.Add(
		Route{Method: "GET", Pattern: "/healthz", Summary: "Liveness: the process answers", Tag: "operations", Scope: Public, Handler: s.healthz},
		Route{Method: "GET", Pattern: "/readyz", Summary: "Readiness: database and blob store reachable", Tag: "operations", Scope: Public, Handler: s.readyz},
		Route{Method: "GET", Pattern: "/metrics", Summary: "Prometheus metrics", Tag: "operations", Scope: Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
			return nil
		}},
		Route{Method: "GET", Pattern: "/api/v1/openapi.json", Summary: "This API's OpenAPI document", Tag: "operations", Scope: Public, Handler: func(w http.ResponseWriter, r *http.Request) error {
			return WriteJSON(w, http.StatusOK, s.OpenAPI(o.Version))
		}},
	)
	return s
}

// Registry returns the Prometheus registry, for services' own metrics.
func (s *Server) Registry() *prometheus.Registry { return s.registry }

// Routes returns the route table.
func (s *Server) Routes() []Route { return s.routes }

// Add registers routes.
func (s *Server) Add(routes ...Route) {
	for _, rt := range routes {
		rt := rt
		if rt.Scope == Project && rt.ProjectOf == nil {
			if !strings.Contains(rt.Pattern, "{project}") {
				panic(fmt.Sprintf("route %s %s: project scope needs {project} or ProjectOf", rt.Method, rt.Pattern))
			}
			rt.ProjectOf = func(r *http.Request) (string, error) { return r.PathValue("project"), nil }
		}
		if (rt.Scope == Project || rt.Scope == Instance) && rt.Perm == "" {
			panic(fmt.Sprintf("route %s %s: %s scope needs a permission", rt.Method, rt.Pattern, rt.Scope))
		}
		s.routes = append(s.routes, rt)
		s.mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
	}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id := r.Header.Get("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	// A route's middleware (wrap) takes the request over; unknown paths
	// and methods, which the mux answers 404/405 in plain text, are
	// rewritten as JSON errors.
	rw := &respWriter{ResponseWriter: w, id: id, s: s, r: r}
	rw.idHeader[0] = id
	w.Header()["X-Request-Id"] = rw.idHeader[:]
	s.mux.ServeHTTP(rw, r)
}

// validRequestID accepts 1 to 64 of [A-Za-z0-9._-].
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hexadecimal digits.
func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	var h [16]byte
	hex.Encode(h[:], b[:])
	return string(h[:])
}

// wrap builds the middleware chain of one route. It keeps the per-request
// work small (it runs for every inference): one context for the request id
// and the principal, the log line written without building a logger, the
// route's metrics looked up once.
func (s *Server) wrap(rt Route) http.Handler {
	m := s.metrics.route(rt.Method, rt.Pattern)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw, ok := w.(*respWriter)
		if !ok { // served without ServeHTTP (not through the server's mux)
			id := audit.RequestIDFrom(r.Context())
			if !validRequestID(id) {
				id = newRequestID()
			}
			sw = &respWriter{ResponseWriter: w, id: id}
		}
		sw.routed = true
		ctx := audit.WithRequestID(r.Context(), sw.id)
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("panic", "request_id", sw.id, "route", rt.Pattern, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.writeError(sw, r, rt, errs.E(errs.Internal, "internal error"))
				}
			}
			dur := time.Since(start)
			m.observe(sw.status, dur)
			// The path may hold names (dataset, model); the pattern does not.
			if s.log.Enabled(ctx, slog.LevelInfo) {
				s.log.LogAttrs(ctx, slog.LevelInfo, "request", slog.String("request_id", sw.id), slog.String("method", r.Method),
					slog.String("route", rt.Pattern), slog.Int("status", cmp.Or(sw.status, http.StatusOK)), slog.Int64("duration_ms", dur.Milliseconds()),
					slog.String("user", audit.ActorFrom(r.Context())))
			}
		}()
		p, err := s.authenticate(ctx, r) // reads headers only
		if p != nil {
			ctx = auth.WithPrincipal(ctx, p)
		}
		// Our own copy of the request: the server's is left alone (it
		// checks its body's type to close the connection properly after an
		// oversized body).
		r = r.WithContext(ctx)
		if r.Body != nil {
			r.Body = http.MaxBytesReader(sw, r.Body, s.maxBody)
		}
		if err != nil {
			s.writeError(sw, r, rt, err)
			return
		}
		if err := s.authorize(r, rt, p); err != nil {
			if errs.Is(err, errs.Forbidden) {
				s.auditDenied(r, rt)
			}
			s.writeError(sw, r, rt, err)
			return
		}
		if err := rt.Handler(sw, r); err != nil {
			if sw.status != 0 {
				// The response has started (a streamed export): it cannot
				// turn into an error any more; the client sees it cut short.
				if ctx := r.Context(); ctx.Err() == nil {
					s.log.Warn("response cut short", "request_id", sw.id, "route", rt.Pattern, "error", errs.MessageOf(err))
				}
				return
			}
			s.writeError(sw, r, rt, err)
		}
	})
}

// auditDenied records a refused access: who tried which route in which
// project. The path is not recorded: it may carry names.
func (s *Server) auditDenied(r *http.Request, rt Route) {
	if s.audit == nil {
		return
	}
	project := ""
	if rt.ProjectOf != nil {
		project, _ = rt.ProjectOf(r)
	}
	if err := s.audit.Append(r.Context(), audit.Event{Action: "access.denied", Project: project, Target: rt.Method + " " + rt.Pattern, Outcome: audit.Denied}); err != nil {
		s.log.Error("audit denied access", "request_id", audit.RequestIDFrom(r.Context()), "err", err)
	}
}

// SessionCookie is the web login session cookie.
const SessionCookie = "hygie_session"

// authenticate resolves credentials: Bearer token, HTTP Basic
// (username + token), or the web session cookie. No credentials → nil.
func (s *Server) authenticate(ctx context.Context, r *http.Request) (*auth.Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "bearer":
			return s.auth.Authenticate(ctx, "", strings.TrimSpace(cred))
		case "basic":
			user, tok, ok := r.BasicAuth()
			if !ok {
				return nil, errs.Unauthenticatedf("malformed Basic credentials")
			}
			return s.auth.Authenticate(ctx, user, tok)
		}
		return nil, errs.Unauthenticatedf("unsupported Authorization scheme (use Bearer or Basic)")
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	p, err := s.auth.Authenticate(ctx, "", c.Value)
	if errs.Is(err, errs.Unauthenticated) {
		// An expired or revoked session is a signed-out visitor, so the
		// login page still opens (and clears the cookie).
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Cookies ride along on cross-site requests: refuse unsafe methods
	// that do not come from our own pages.
	if r.Method != http.MethodGet && r.Method != http.MethodHead && !sameOrigin(r) {
		return nil, errs.Forbiddenf("cross-site request refused")
	}
	return p, nil
}

func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = r.Header.Get("Referer")
	}
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

func (s *Server) authorize(r *http.Request, rt Route, p *auth.Principal) error {
	if rt.Scope == Public {
		return nil
	}
	if p == nil {
		return errs.Unauthenticatedf("authentication required: send a token as 'Authorization: Bearer <token>'")
	}
	switch rt.Scope {
	case Instance:
		if !p.Can("", rt.Perm) {
			return errs.Forbiddenf("permission %s required", rt.Perm)
		}
	case Project:
		project, err := rt.ProjectOf(r)
		if err != nil {
			// Do not reveal whether an object exists to someone who may not see it.
			if errs.Is(err, errs.NotFound) && !p.Admin {
				return errs.Forbiddenf("permission %s required", rt.Perm)
			}
			return err
		}
		if !p.Can(project, rt.Perm) {
			return errs.Forbiddenf("permission %s required in project %q", rt.Perm, project)
		}
	}
	return nil
}

// Status maps an error code to its HTTP status: the one place it is done.
func Status(code errs.Code) int {
	switch code {
	case errs.Invalid:
		return http.StatusBadRequest
	case errs.NotFound:
		return http.StatusNotFound
	case errs.Conflict:
		return http.StatusConflict
	case errs.Unauthenticated:
		return http.StatusUnauthorized
	case errs.Forbidden:
		return http.StatusForbidden
	case errs.RateLimited:
		return http.StatusTooManyRequests
	case errs.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// RetryAfterUnavailable is the Retry-After (seconds) of a 503 answered while
// the database is unavailable.
const RetryAfterUnavailable = "5"

// ErrorBody is the JSON shape of every error.
type ErrorBody struct {
	Error struct {
		Code      errs.Code `json:"code"`
		Message   string    `json:"message"`
		RequestID string    `json:"request_id,omitempty"`
	} `json:"error"`
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, rt Route, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		err = &errs.Error{Code: errs.Invalid, Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit)}
		w.Header().Set("Connection", "close")
		writeErrorStatus(w, r, http.StatusRequestEntityTooLarge, errs.Invalid, errs.MessageOf(err))
		return
	}
	code := errs.CodeOf(err)
	status := Status(code)
	switch code {
	case errs.Internal:
		s.log.Error("internal error", "request_id", audit.RequestIDFrom(r.Context()), "route", rt.Pattern, "err", err)
	case errs.Unavailable:
		s.log.Warn("database unavailable", "request_id", audit.RequestIDFrom(r.Context()), "route", rt.Pattern, "err", err)
		w.Header().Set("Retry-After", RetryAfterUnavailable)
	}
	if rt.Web && code == errs.Unauthenticated && r.Method == http.MethodGet {
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	if rt.Web && s.ErrorPage != nil {
		s.ErrorPage(w, r, status, errs.MessageOf(err))
		return
	}
	if code == errs.Unauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hygie"`)
	}
	writeErrorStatus(w, r, status, code, errs.MessageOf(err))
}

func writeErrorStatus(w http.ResponseWriter, r *http.Request, status int, code errs.Code, msg string) {
	var b ErrorBody
	b.Error.Code, b.Error.Message, b.Error.RequestID = code, msg, audit.RequestIDFrom(r.Context())
	_ = WriteJSON(w, status, b)
}

// WriteJSON writes v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // JSON responses are never inlined in HTML
	return enc.Encode(v)
}

// DecodeJSON reads a JSON body into v: the content type must be JSON,
// unknown fields are rejected, and there must be exactly one value.
func DecodeJSON(r *http.Request, v any) error {
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errs.Invalidf("Content-Type must be application/json, got %q", ct)
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return errs.Invalidf("malformed JSON body at byte %d", se.Offset)
		case errors.As(err, &te):
			return errs.Invalidf("JSON body: field %q must be %s", te.Field, te.Type)
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return errs.Invalidf("JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
		}
		return errs.Invalidf("malformed JSON body")
	}
	if dec.More() {
		return errs.Invalidf("JSON body: trailing data after the first value")
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	out := map[string]string{}
	status := http.StatusOK
	for _, c := range s.readiness {
		if err := c.Fn(ctx); err != nil {
			s.log.Warn("readiness check failed", "check", c.Name, "err", err)
			out[c.Name] = "unavailable"
			status = http.StatusServiceUnavailable
		} else {
			out[c.Name] = "ok"
		}
	}
	return WriteJSON(w, status, map[string]any{"status": map[bool]string{true: "ready", false: "not ready"}[status == http.StatusOK], "checks": out})
}

// respWriter remembers the status code written. Until a route's
// middleware takes the request (routed), it turns the mux's plain-text
// 404/405 into JSON errors (or the web UI's error page).
type respWriter struct {
	http.ResponseWriter
	status  int
	id      string // the request id
	routed  bool
	s       *Server
	r       *http.Request
	ignored bool // the mux's own body is dropped
	// idHeader is the X-Request-Id header's value (allocated with the rest).
	idHeader [1]string
}

func (w *respWriter) WriteHeader(code int) {
	if !w.routed && !w.ignored && (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) {
		w.ignored = true
		w.Header().Del("Content-Type")
		w.Header().Del("X-Content-Type-Options")
		msg := "no such endpoint"
		c := errs.NotFound
		if code == http.StatusMethodNotAllowed {
			msg, c = "method not allowed on this endpoint", errs.Invalid
		}
		r := w.r.WithContext(audit.WithRequestID(w.r.Context(), w.id))
		out := &respWriter{ResponseWriter: w.ResponseWriter, id: w.id, routed: true}
		if w.s.ErrorPage != nil && isPagePath(r.URL.Path) {
			w.s.ErrorPage(out, r, code, map[bool]string{true: "This page does not exist.", false: "This action is not allowed here."}[code == http.StatusNotFound])
		} else {
			writeErrorStatus(out, r, code, c, msg)
		}
		w.status = out.status
		return
	}
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.ignored {
		return len(b), nil
	}
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *respWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isPagePath reports whether a path belongs to the web UI rather than to an
// API (which answers in JSON).
func isPagePath(p string) bool {
	for _, api := range []string{"/api/", "/v2", "/healthz", "/readyz", "/metrics"} {
		if strings.HasPrefix(p, api) {
			return false
		}
	}
	return true
}
