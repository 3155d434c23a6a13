// Package web is hygie's server-rendered web UI for clinicians and data
// teams: sign-in, the projects a user belongs to, a project's datasets, runs,
// models and recent predictions (with clinicians' feedback), a dataset
// version's page (versions, schema, lineage, profile, and a form applying a
// recipe), a project's runs (a run's params, metrics charted by step or by
// fold, artifacts, lineage, evaluation report with its curves; several runs
// side by side), its jobs (state, output, cancel), model governance (a
// model version's promotion reports, sign-offs, clinical cases and model
// card; the project's gate policy), and the audit log. It is plain HTML
// forms rendered with html/template, one small embedded stylesheet, charts
// as inline SVG, and no JavaScript, so it works in locked-down hospital
// browsers — except the annotation pages (annotate.go), which load one
// hand-written static script and still work without it.
//
// Its routes join the httpapi route table, so the same per-route policy
// (deny by default), authentication and same-origin checks guard them. Pages
// show metadata only — names, counts, metrics, model inputs that are already
// pseudonymized features, and dataset profiles, which withhold identifiers
// and free text and suppress small counts themselves — never identifying
// values. A profile of an identifying version is computed only for those
// who may read it (stewards), and that read is audited.
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/auth/sso"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/pipeline"
	"github.com/hygie-health/hygie/internal/privacy/dp"
	"github.com/hygie-health/hygie/internal/privacy/vault"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/serve"
	"github.com/hygie-health/hygie/internal/track"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var styleCSS []byte

// DefaultSessionTTL is the web session lifetime when Deps.SessionTTL is
// zero: about one working shift.
const DefaultSessionTTL = 10 * time.Hour

// Deps are the services the UI reads and acts through.
type Deps struct {
	Auth     *auth.Service
	Projects *project.Service
	Audit    *audit.Log
	Datasets *dataset.Service
	Runs     *track.Service
	Registry *registry.Service
	Monitor  *monitor.Service
	// DP is the differential privacy service (optional: without it the
	// differential privacy pages answer 404).
	DP *dp.Service
	// Vault re-identifies pseudonyms (optional: without it the vault page
	// answers 404). It is the pseudonymization service's: Pseudo.Vault().
	Vault *vault.Service
	// Jobs lists and cancels jobs (optional: without it the jobs pages
	// answer 404 and run pages name no job).
	Jobs *jobs.Service
	// Serve lists the prediction log with each prediction's route
	// (optional: without it the predictions page reads the monitoring
	// service's list and shows no route).
	Serve *serve.Service
	// Annotate receives predictions flagged incorrect as annotation tasks
	// (optional: without it the feedback form offers no annotation project),
	// and serves the annotation pages (without it they answer 404).
	Annotate *annotate.Service
	// SSO signs in through the directory (optional: without it only local
	// passwords and tokens sign in).
	SSO *sso.Service
	// Pipelines shows and runs pipelines (optional: without it the
	// pipeline pages answer 404); TrackingURI is where their jobs report.
	Pipelines   *pipeline.Service
	TrackingURI string
	// SessionTTL is how long a web session lasts (DefaultSessionTTL if 0).
	SessionTTL time.Duration
	// SecureCookies marks the session cookie Secure: set it whenever the UI
	// is reached over HTTPS (directly or behind a TLS-terminating proxy).
	SecureCookies bool
	Logger        *slog.Logger
}

// UI serves the web pages.
type UI struct {
	d        Deps
	log      *slog.Logger
	pages    map[string]*template.Template
	cssETag  string
	cssVer   string
	sessions time.Duration
}

// pageNames are the templates under templates/ rendered inside layout.html.
var pageNames = []string{"login", "home", "project", "dataset", "audit", "error", "risk", "dp", "deid", "vault", "runs", "run", "compare", "jobs", "job", "models", "version", "card", "policy", "cases", "monitoring", "predictions", "prediction", "annotate", "annotate_list", "annotate_agreement", "annotate_adjudicate", "annotate_adjudicate_task", "pipelines", "pipeline", "pipeline_run"}

// New parses the embedded templates once and returns the UI.
func New(d Deps) (*UI, error) {
	if d.Auth == nil || d.Projects == nil || d.Audit == nil || d.Datasets == nil || d.Runs == nil || d.Registry == nil || d.Monitor == nil {
		return nil, errors.New("web: every service in Deps is required")
	}
	u := &UI{d: d, log: d.Logger, pages: map[string]*template.Template{}, sessions: d.SessionTTL}
	if u.log == nil {
		u.log = slog.New(slog.DiscardHandler)
	}
	if u.sessions <= 0 {
		u.sessions = DefaultSessionTTL
	}
	sum := sha256.Sum256(styleCSS)
	u.cssVer = hex.EncodeToString(sum[:6])
	u.cssETag = `"` + u.cssVer + `"`
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(templateFS, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", name, err)
		}
		u.pages[name] = t
	}
	// Every template file must belong to a page: a forgotten one is a bug.
	files, _ := fs.Glob(templateFS, "templates/*.html")
	if len(files) != len(pageNames)+1 {
		return nil, fmt.Errorf("web: %d template files for %d pages and the layout", len(files), len(pageNames))
	}
	return u, nil
}

// Routes returns the UI's routes, each with its access policy.
func (u *UI) Routes() []httpapi.Route {
	const tag = "web"
	return append([]httpapi.Route{
		{Method: "GET", Pattern: "/static/style.css", Summary: "Stylesheet", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.style},
		{Method: "GET", Pattern: "/login", Summary: "Sign-in page", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.loginPage},
		{Method: "POST", Pattern: "/login", Summary: "Sign in with a password or an API token", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.login},
		{Method: "GET", Pattern: "/login/oidc", Summary: "Sign in through the OpenID Connect provider (redirects there)", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.oidcStart},
		{Method: "GET", Pattern: "/login/oidc/callback", Summary: "Return from the OpenID Connect provider: open a session", Tag: tag, Scope: httpapi.Public, Web: true, Handler: u.oidcCallback},
		{Method: "POST", Pattern: "/logout", Summary: "Sign out: revoke the session", Tag: tag, Scope: httpapi.Authenticated, Web: true, Handler: u.logout},
		{Method: "GET", Pattern: "/{$}", Summary: "The user's projects", Tag: tag, Scope: httpapi.Authenticated, Web: true, Handler: u.home},
		{Method: "GET", Pattern: "/projects/{project}", Summary: "A project's overview", Tag: tag, Scope: httpapi.Project, Perm: auth.PermProjectRead, Web: true, Handler: u.project},
		{Method: "GET", Pattern: "/projects/{project}/datasets/{dataset}", Summary: "A dataset version (query: v, default the latest): versions, schema, lineage, profile", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetRead, Web: true, Handler: u.datasetPage},
		{Method: "POST", Pattern: "/projects/{project}/datasets/{dataset}/transform", Summary: "Apply a recipe to a dataset version (form: version, recipe, output)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetWrite, Web: true, Handler: u.transform},
		{Method: "POST", Pattern: "/projects/{project}/predictions/{id}/feedback", Summary: "Give feedback on a prediction", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermFeedbackWrite, Web: true, Handler: u.feedback},
		{Method: "GET", Pattern: "/projects/{project}/audit", Summary: "A project's audit events", Tag: tag, Scope: httpapi.Project, Perm: auth.PermAuditRead, Web: true, Handler: u.projectAudit},
		// Like POST /api/v1/projects/{project}/deid, de-identifying a text
		// reads no project data: dataset.write (scientists, stewards).
		{Method: "GET", Pattern: "/projects/{project}/deid", Summary: "De-identify a pasted text: the form", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetWrite, Web: true, Handler: u.deidPage},
		{Method: "POST", Pattern: "/projects/{project}/deid", Summary: "De-identify a pasted text (form: text, mode mask|surrogate|tag): the text with its entities highlighted; nothing is stored or logged", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetWrite, Web: true, Handler: u.deidText},
		{Method: "GET", Pattern: "/projects/{project}/vault", Summary: "Re-identify a pseudonym: the form", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermVaultOpen, Web: true, Handler: u.vaultPage},
		{Method: "POST", Pattern: "/projects/{project}/vault", Summary: "Re-identify a pseudonym (form: pseudonym, reason, domain): the original value, in this answer only; audited with the reason, rate-limited", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermVaultOpen, Web: true, Handler: u.vaultOpen},
		{Method: "GET", Pattern: "/admin/audit", Summary: "All audit events and the chain's verification", Tag: tag, Scope: httpapi.Instance, Perm: auth.PermAuditReadAll, Web: true, Handler: u.adminAudit},
	}, append(append(append(u.privacyRoutes(tag), u.runRoutes(tag)...), u.governanceRoutes(tag)...), append(append(u.monitoringRoutes(tag), u.predictionRoutes(tag)...), append(append(u.annotateRoutes(tag), u.annotateReviewRoutes(tag)...), u.pipelineRoutes(tag)...)...)...)...)
}

// style serves the embedded stylesheet. Pages link it with a content
// version, so it may be cached for a day; the ETag answers revalidations.
func (u *UI) style(w http.ResponseWriter, r *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/css; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", u.cssETag)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "style.css", time.Time{}, bytes.NewReader(styleCSS))
	return nil
}

// page is what every template receives.
type page struct {
	Title      string
	Nav        string // the current section: "projects" or "audit"
	User       *auth.Principal
	UserName   string // display name, or the username
	AuditAll   bool   // may open the instance audit view
	CSSVersion string
	Data       any
}

// newPage fills the layout's fields for the request's principal.
func (u *UI) newPage(r *http.Request, title, nav string, data any) page {
	p := page{Title: title, Nav: nav, CSSVersion: u.cssVer, Data: data}
	if pr := auth.FromContext(r.Context()); pr != nil {
		p.User, p.UserName = pr, pr.Username
		p.AuditAll = pr.Can("", auth.PermAuditReadAll)
		if usr, err := u.d.Auth.UserByName(r.Context(), pr.Username); err == nil && strings.TrimSpace(usr.DisplayName) != "" {
			p.UserName = usr.DisplayName
		}
	}
	return p
}

// render writes a page. It renders into a buffer first, so a template error
// becomes a clean error page instead of half a page.
func (u *UI) render(w http.ResponseWriter, status int, name string, p page) error {
	t, ok := u.pages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("web: render %s: %w", name, err)
	}
	htmlHeaders(w.Header())
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// htmlHeaders sets the headers of every HTML page: pages hold project
// metadata, so no cache keeps them; no script, frame or foreign form target
// is allowed.
func htmlHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// errorData is the error page's content.
type errorData struct {
	Status    int
	Heading   string
	Message   string
	RequestID string
	SignIn    bool
}

// ErrorPage renders an error for a web route: the status, a caller-safe
// message and the request id to quote to the operations team. The server
// calls it (Server.ErrorPage) for every error a web route returns.
func (u *UI) ErrorPage(w http.ResponseWriter, r *http.Request, status int, message string) {
	d := errorData{Status: status, Heading: http.StatusText(status), Message: message, RequestID: audit.RequestIDFrom(r.Context())}
	switch status {
	case http.StatusUnauthorized:
		// An expired or revoked session: forget it, offer to sign in again.
		d.Heading, d.SignIn = "Please sign in again", true
		if _, err := r.Cookie(httpapi.SessionCookie); err == nil {
			http.SetCookie(w, u.sessionCookie("", -1))
		}
	case http.StatusForbidden:
		d.Heading = "Access denied"
	case http.StatusNotFound:
		d.Heading = "Not found"
	}
	if d.Heading == "" {
		d.Heading = "Error"
	}
	switch {
	case status == http.StatusServiceUnavailable:
		d.Heading = "Temporarily unavailable"
	case status >= 500:
		d.Heading = "Something went wrong"
	}
	p := u.newPage(r, d.Heading, "", d)
	if err := u.render(w, status, "error", p); err != nil {
		u.log.Error("render error page", "request_id", d.RequestID, "err", err)
		http.Error(w, fmt.Sprintf("%d %s (request %s)", status, http.StatusText(status), d.RequestID), status)
	}
}
