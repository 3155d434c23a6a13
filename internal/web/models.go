package web

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/registry"
)

// Limits of the model pages.
const (
	maxVersionReports = 5        // promotion reports shown on a version page
	maxFormText       = 64 << 10 // a policy or cases document, a comment
)

// modelsURL is a project's models page.
func modelsURL(project string) string {
	return "/projects/" + url.PathEscape(project) + "/models"
}

// versionURL is a model version's page.
func versionURL(project, model string, version int) string {
	return modelsURL(project) + "/" + url.PathEscape(model) + "/versions/" + strconv.Itoa(version)
}

// casesURL is a model's clinical cases page.
func casesURL(project, model string) string {
	return modelsURL(project) + "/" + url.PathEscape(model) + "/cases"
}

// nextEnvironment is where a version in env may be promoted, or "".
func nextEnvironment(env string) string {
	i := slices.Index(registry.Environments, env)
	if i < 0 || i == len(registry.Environments)-1 {
		return ""
	}
	return registry.Environments[i+1]
}

// projectVersion returns version {version} of model {model} in project; a
// model of another project is not found.
func (u *UI) projectVersion(ctx context.Context, project, model, versionText string) (registry.Version, error) {
	n, err := strconv.Atoi(versionText)
	if err != nil || n <= 0 {
		return registry.Version{}, errs.Invalidf("version %q: want a positive number", versionText)
	}
	v, err := u.d.Registry.Version(ctx, model, n)
	if errs.Is(err, errs.NotFound) || (err == nil && v.Project != project) {
		return registry.Version{}, errs.NotFoundf("no version %d of model %q in this project", n, model)
	}
	return v, err
}

type modelVersionRow struct {
	registry.Version
	N      int // the version number (.Version is the embedded struct)
	URL    string
	RunURL string // empty: no run, or the user may not open it
}

type modelGroup struct {
	Name     string
	CasesURL string
	Versions []modelVersionRow
}

type modelsData struct {
	Project   string
	Models    []modelGroup
	PolicyURL string
}

func (u *UI) newVersionRow(p *auth.Principal, v registry.Version) modelVersionRow {
	row := modelVersionRow{Version: v, N: v.Version, URL: versionURL(v.Project, v.Model, v.Version)}
	if v.RunID != nil && p.Can(v.Project, auth.PermRunRead) {
		row.RunURL = runURL(v.Project, *v.RunID)
	}
	return row
}

// modelsPage lists a project's models and their versions, newest first.
func (u *UI) modelsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	if _, err := u.d.Projects.Get(ctx, name); err != nil {
		return err
	}
	vs, err := u.d.Registry.ListVersions(ctx, name)
	if err != nil {
		return err
	}
	p := auth.FromContext(ctx)
	d := modelsData{Project: name, PolicyURL: policyURL(name)}
	for _, v := range vs {
		if len(d.Models) == 0 || d.Models[len(d.Models)-1].Name != v.Model {
			d.Models = append(d.Models, modelGroup{Name: v.Model, CasesURL: casesURL(name, v.Model)})
		}
		g := &d.Models[len(d.Models)-1]
		g.Versions = append(g.Versions, u.newVersionRow(p, v))
	}
	return u.render(w, http.StatusOK, "models", u.newPage(r, "Models · "+name, "projects", d))
}

// reportView is a promotion report laid out for a page.
type reportView struct {
	registry.Promotion
	Failed int
}

func newReport(p registry.Promotion) reportView {
	rv := reportView{Promotion: p}
	for _, g := range p.Gates {
		if !g.Pass {
			rv.Failed++
		}
	}
	return rv
}

type versionData struct {
	Project string
	Version modelVersionRow
	Next    string // the environment a promotion would target, or ""
	// NextGates are what a promotion to Next would check: the project's
	// metric rules, then the policy's gates for Next.
	NextGates []string

	Reports  []reportView
	Refusal  *reportView // the report of a promotion just refused
	Error    string      // a form's failure
	ErrorFor string      // which form: signoff, promote, override, rollback
	Flash    string

	Signoffs     []registry.Signoff
	Environments []string // for the sign-off form
	SignoffEnv   string
	Comment      string // the text typed, kept on failure
	Reason       string

	CanSignoff  bool
	CanPromote  bool
	CanOverride bool
	CanRollback bool
	CanCases    bool

	// Live traffic: the model's canary (or shadow), if any, and whether
	// this version may become it (in integration, model.promote).
	Canary       *registry.Canary
	CanaryOfThis bool
	CanaryURL    string // the canary version's page
	CanaryShare  string // its share, as a percentage
	CanCanary    bool
	CanClear     bool
	Share, Mode  string // the canary form's values, kept on failure
	// CanRetrain: run.write and a retraining service.
	CanRetrain bool
	// FeedbackAnnotation is the model's feedback annotation project;
	// FeedbackChoices the projects it may be (model.write and annotation).
	FeedbackAnnotation string
	FeedbackChoices    []annotate.Project
	CanFeedback        bool

	Cases    []registry.CaseResult
	CasesErr string
	CasesURL string
	CardURL  string
}

var versionFlashes = map[string]string{
	"signoff":  "Your sign-off was recorded.",
	"promoted": "The version was promoted: every gate passed.",
	"override": "The version was promoted past its failing gates; the override and its reason are recorded.",
	"rollback": "Production was rolled back to the previous version.",
	"canary":   "The canary is set: its share of the requests that name no version goes to this version.",
	"cleared":  "The canary was ended: the version in production answers every request.",
	"feedback": "The model's feedback annotation project was changed.",
}

// versionPage shows a model version: its facts and signature, its latest
// promotion reports, sign-offs, clinical cases, and the governance forms
// the user may use.
func (u *UI) versionPage(w http.ResponseWriter, r *http.Request) error {
	d, err := u.versionData(r)
	if err != nil {
		return err
	}
	d.Flash = versionFlashes[r.URL.Query().Get("done")]
	return u.renderVersion(w, r, http.StatusOK, d)
}

func (u *UI) renderVersion(w http.ResponseWriter, r *http.Request, status int, d *versionData) error {
	title := fmt.Sprintf("%s version %d · %s", d.Version.Model, d.Version.N, d.Project)
	return u.render(w, status, "version", u.newPage(r, title, "projects", d))
}

// versionData gathers a version page's content.
func (u *UI) versionData(r *http.Request) (*versionData, error) {
	ctx := r.Context()
	name := r.PathValue("project")
	v, err := u.projectVersion(ctx, name, r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	d := &versionData{Project: name, Version: u.newVersionRow(p, v), Next: nextEnvironment(v.Environment),
		Environments: registry.PolicyEnvironments, CasesURL: casesURL(name, v.Model), CardURL: versionURL(name, v.Model, v.Version) + "/card"}
	d.SignoffEnv = d.Next
	if d.SignoffEnv == "" || d.SignoffEnv == "none" {
		d.SignoffEnv = "dev"
	}
	d.CanSignoff = p.Can(name, auth.PermModelSignoff)
	d.CanPromote = d.Next != "" && p.Can(name, auth.PermModelPromote)
	d.CanOverride = d.Next != "" && p.Can(name, auth.PermProjectManage)
	d.CanRollback = v.Environment == "production" && p.Can(name, auth.PermModelPromote)
	d.CanCases = p.Can(name, auth.PermModelSignoff) || p.Can(name, auth.PermModelWrite)
	if c, err := u.d.Registry.Canary(ctx, v.Model); err == nil {
		d.Canary = &c
		d.CanaryOfThis = c.Version.Version == v.Version
		d.CanaryURL = versionURL(name, v.Model, c.Version.Version)
		d.CanaryShare = strconv.FormatFloat(c.Share*100, 'g', 4, 64) + " %"
	} else if !errs.Is(err, errs.NotFound) {
		return nil, err
	}
	d.CanCanary = v.Environment == "integration" && p.Can(name, auth.PermModelPromote)
	d.CanClear = d.Canary != nil && p.Can(name, auth.PermModelPromote)
	d.Share, d.Mode = "0.1", registry.ModeCanary
	d.CanRetrain = u.d.Monitor != nil && v.RunID != nil && p.Can(name, auth.PermRunWrite)
	m, err := u.d.Registry.GetModel(ctx, v.Model)
	if err != nil {
		return nil, err
	}
	d.FeedbackAnnotation = m.FeedbackAnnotation
	if d.CanFeedback = u.d.Annotate != nil && p.Can(name, auth.PermModelWrite); d.CanFeedback {
		if d.FeedbackChoices, err = u.feedbackAnnotations(ctx, name); err != nil {
			return nil, err
		}
	}
	if d.Next != "" {
		rules, err := u.d.Registry.Gates(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, rule := range rules {
			d.NextGates = append(d.NextGates, "metric "+rule.String()+" on the training run")
		}
		pol, err := u.d.Registry.Policy(ctx, name)
		if err != nil {
			return nil, err
		}
		for _, pe := range describePolicy(pol) {
			if pe.Name == d.Next {
				d.NextGates = append(d.NextGates, pe.Gates...)
			}
		}
	}
	reports, err := u.d.Registry.Promotions(ctx, v.Model)
	if err != nil {
		return nil, err
	}
	for _, rep := range reports {
		if rep.Version == v.Version && len(d.Reports) < maxVersionReports {
			d.Reports = append(d.Reports, newReport(rep))
		}
	}
	if d.Signoffs, err = u.d.Registry.Signoffs(ctx, v.Model, v.Version); err != nil {
		return nil, err
	}
	d.Cases, err = u.d.Registry.RunCases(ctx, v)
	if err != nil {
		if errs.CodeOf(err) == errs.Internal {
			return nil, err
		}
		d.CasesErr = errs.MessageOf(err)
	}
	return d, nil
}

// formFailed re-renders the version page with a form's error: the
// refusal report of a promotion the gates refused, or the service's
// message. Internal errors go to the error page.
func (u *UI) formFailed(w http.ResponseWriter, r *http.Request, form string, err error, keep func(*versionData)) error {
	code := errs.CodeOf(err)
	if code == errs.Internal {
		return err
	}
	d, derr := u.versionData(r)
	if derr != nil {
		return derr
	}
	d.ErrorFor, d.Error = form, errs.MessageOf(err)
	var ref *registry.RefusedError
	if errors.As(err, &ref) {
		rv := newReport(ref.Promotion)
		d.Refusal = &rv
		d.Error = fmt.Sprintf("The promotion to %s was refused: %d of %d %s failed.", ref.Promotion.To, rv.Failed, len(rv.Gates), map[bool]string{true: "gate", false: "gates"}[len(rv.Gates) == 1])
	}
	if keep != nil {
		keep(d)
	}
	return u.renderVersion(w, r, httpapi.Status(code), d)
}

// postForm reads a form post.
func postForm(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	return nil
}

// versionDone redirects back to the version page (post/redirect/get).
func versionDone(w http.ResponseWriter, r *http.Request, v registry.Version, done string) {
	http.Redirect(w, r, versionURL(v.Project, v.Model, v.Version)+"?done="+done, http.StatusSeeOther)
}

// signOff records the user's sign-off of a version for an environment.
func (u *UI) signOff(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	env, comment := r.PostForm.Get("environment"), r.PostForm.Get("comment")
	if len(comment) > maxFormText {
		return errs.Invalidf("the comment is too long")
	}
	if _, err := u.d.Registry.SignOff(ctx, v.Model, v.Version, env, strings.TrimSpace(comment)); err != nil {
		return u.formFailed(w, r, "signoff", err, func(d *versionData) {
			d.Comment = comment
			if slices.Contains(registry.PolicyEnvironments, env) {
				d.SignoffEnv = env
			}
		})
	}
	versionDone(w, r, v, "signoff")
	return nil
}

// promote promotes a version to the next environment, checking its gates;
// with a reason and project.manage, past failing gates (override).
func (u *UI) promote(w http.ResponseWriter, r *http.Request) error {
	return u.promoteForm(w, r, false)
}

func (u *UI) override(w http.ResponseWriter, r *http.Request) error {
	return u.promoteForm(w, r, true)
}

func (u *UI) promoteForm(w http.ResponseWriter, r *http.Request, override bool) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	to, reason := r.PostForm.Get("to"), r.PostForm.Get("reason")
	if len(reason) > maxFormText {
		return errs.Invalidf("the reason is too long")
	}
	form, done := "promote", "promoted"
	if override {
		form, done = "override", "override"
		_, err = u.d.Registry.PromoteOverride(ctx, v.Model, v.Version, to, strings.TrimSpace(reason))
	} else {
		_, err = u.d.Registry.Promote(ctx, v.Model, v.Version, to)
	}
	if err != nil {
		return u.formFailed(w, r, form, err, func(d *versionData) { d.Reason = reason })
	}
	versionDone(w, r, v, done)
	return nil
}

// rollback puts back in production the version that was there before this
// one.
func (u *UI) rollback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	reason := r.PostForm.Get("reason")
	if len(reason) > maxFormText {
		return errs.Invalidf("the reason is too long")
	}
	if v.Environment != "production" {
		return u.formFailed(w, r, "rollback", errs.Conflictf("version %d is in %s, not in production: there is nothing to roll back", v.Version, v.Environment), nil)
	}
	p, err := u.d.Registry.Rollback(ctx, v.Model, strings.TrimSpace(reason))
	if err != nil {
		return u.formFailed(w, r, "rollback", err, func(d *versionData) { d.Reason = reason })
	}
	// The page of the version now in production tells what happened.
	v.Version = p.Version
	versionDone(w, r, v, "rollback")
	return nil
}

// pathVersion is the version the request's path names, in its project.
func (u *UI) pathVersion(r *http.Request) (registry.Version, error) {
	return u.projectVersion(r.Context(), r.PathValue("project"), r.PathValue("model"), r.PathValue("version"))
}

// setCanary makes this version the model's canary or shadow.
func (u *UI) setCanary(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	shareText, mode := strings.TrimSpace(r.PostForm.Get("share")), r.PostForm.Get("mode")
	keep := func(d *versionData) { d.Share, d.Mode = shareText, mode }
	share, perr := strconv.ParseFloat(shareText, 64)
	if perr != nil {
		return u.formFailed(w, r, "canary", errs.Invalidf("share %q: want a number such as 0.1", shareText), keep)
	}
	if _, err := u.d.Registry.SetCanary(ctx, v.Model, v.Version, share, mode); err != nil {
		return u.formFailed(w, r, "canary", err, keep)
	}
	versionDone(w, r, v, "canary")
	return nil
}

// clearCanary ends the model's canary or shadow.
func (u *UI) clearCanary(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := u.d.Registry.ClearCanary(ctx, v.Model); err != nil {
		return u.formFailed(w, r, "canary", err, nil)
	}
	versionDone(w, r, v, "cleared")
	return nil
}

// setFeedbackAnnotation sets the annotation project the model's
// predictions flagged incorrect go to by default ("" for none).
func (u *UI) setFeedbackAnnotation(w http.ResponseWriter, r *http.Request) error {
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	annotation := strings.TrimSpace(r.PostForm.Get("annotation"))
	if _, err := u.d.Registry.SetFeedbackAnnotation(r.Context(), v.Model, annotation); err != nil {
		return u.formFailed(w, r, "feedback", err, nil)
	}
	versionDone(w, r, v, "feedback")
	return nil
}

// retrain starts a training job on this version's training set plus the
// adjudicated feedback on the model's predictions, and shows the job.
func (u *UI) retrain(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	res, err := u.d.Monitor.Retrain(ctx, v.Model, monitor.RetrainOptions{Version: v.Version}, nil)
	if err != nil {
		return u.formFailed(w, r, "retrain", err, nil)
	}
	http.Redirect(w, r, jobURL(v.Project, res.Job.ID), http.StatusSeeOther)
	return nil
}

type cardData struct {
	Project    string
	Card       *registry.Card
	VersionURL string
	RunURL     string
	CVNames    []string
	Level      string
}

// cardPage shows a version's model card as a printable page.
func (u *UI) cardPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	v, err := u.projectVersion(ctx, name, r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		return err
	}
	c, err := u.d.Registry.Card(ctx, v.Model, v.Version)
	if err != nil {
		return err
	}
	d := cardData{Project: name, Card: c, VersionURL: versionURL(name, v.Model, v.Version), Level: c.Level}
	if d.Level == "" {
		d.Level = "0.95"
	}
	if c.RunID != nil && auth.FromContext(ctx).Can(name, auth.PermRunRead) {
		d.RunURL = runURL(name, *c.RunID)
	}
	for k := range c.CV {
		d.CVNames = append(d.CVNames, k)
	}
	slices.Sort(d.CVNames)
	return u.render(w, http.StatusOK, "card", u.newPage(r, fmt.Sprintf("Model card: %s version %d", v.Model, v.Version), "projects", d))
}

// cardMarkdown downloads a version's model card in Markdown.
func (u *UI) cardMarkdown(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	v, err := u.pathVersion(r)
	if err != nil {
		return err
	}
	c, err := u.d.Registry.Card(ctx, v.Model, v.Version)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fmt.Sprintf("model-card-%s-v%d.md", v.Model, v.Version)}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write([]byte(c.Markdown()))
	return err
}

type casesData struct {
	Project   string
	Model     string
	Action    string // the form's action: clinicians' or model writers' route
	Cases     []registry.ClinicalCase
	YAML      string
	CanEdit   bool
	Error     string
	Flash     string
	ModelsURL string
	Versions  []modelVersionRow
}

// casesExample is the cases form's text when a model has none yet.
const casesExample = `cases:
  - name: 80-year-old man, HbA1c 9 %
    inputs: {age: 80, hba1c: 9}
    expect: {min: 0.30}
  - name: young woman, normal values
    inputs: {age: 25, hba1c: 5.2}
    expect: {max: 0.10}
`

// casesModel checks that {model} is not another project's model (a model
// may have cases before its first version is registered).
func (u *UI) casesModel(ctx context.Context, project, model string) error {
	owner, err := u.d.Registry.ProjectOfModel(ctx, model)
	switch {
	case errs.Is(err, errs.NotFound):
		return nil
	case err != nil:
		return err
	case owner != project:
		return errs.NotFoundf("no model %q in this project", model)
	}
	return nil
}

func (u *UI) casesData(r *http.Request) (*casesData, error) {
	ctx := r.Context()
	name, model := r.PathValue("project"), r.PathValue("model")
	if err := u.casesModel(ctx, name, model); err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	d := &casesData{Project: name, Model: model, ModelsURL: modelsURL(name), Action: casesURL(name, model)}
	switch {
	case p.Can(name, auth.PermModelSignoff):
		d.CanEdit = true
	case p.Can(name, auth.PermModelWrite):
		d.CanEdit, d.Action = true, d.Action+"/write"
	}
	cases, err := u.d.Registry.Cases(ctx, name, model)
	if err != nil {
		return nil, err
	}
	d.Cases = cases
	if len(cases) > 0 {
		b, err := yaml.Marshal(map[string]any{"cases": cases})
		if err != nil {
			return nil, err
		}
		d.YAML = string(b)
	} else {
		d.YAML = casesExample
	}
	vs, err := u.d.Registry.Versions(ctx, model)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Project == name {
			d.Versions = append(d.Versions, u.newVersionRow(p, v))
		}
	}
	return d, nil
}

// casesPage shows a model's clinical test cases and, to those who may
// write them, a form to replace them.
func (u *UI) casesPage(w http.ResponseWriter, r *http.Request) error {
	d, err := u.casesData(r)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("saved") == "1" {
		d.Flash = "The clinical cases were saved."
	}
	return u.render(w, http.StatusOK, "cases", u.newPage(r, "Clinical cases · "+d.Model, "projects", d))
}

// setCases replaces a model's clinical cases. A document that does not
// parse comes back with its error, the text kept.
func (u *UI) setCases(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, model := r.PathValue("project"), r.PathValue("model")
	if err := postForm(r); err != nil {
		return err
	}
	doc := r.PostForm.Get("cases")
	if len(doc) > maxFormText {
		return errs.Invalidf("the cases document is larger than %d bytes", maxFormText)
	}
	if err := u.casesModel(ctx, name, model); err != nil {
		return err
	}
	if _, err := u.d.Registry.SetCases(ctx, name, model, []byte(doc)); err != nil {
		if errs.CodeOf(err) == errs.Internal || errs.CodeOf(err) == errs.NotFound {
			return err
		}
		d, derr := u.casesData(r)
		if derr != nil {
			return derr
		}
		d.YAML, d.Error = doc, errs.MessageOf(err)
		return u.render(w, httpapi.Status(errs.CodeOf(err)), "cases", u.newPage(r, "Clinical cases · "+model, "projects", d))
	}
	http.Redirect(w, r, casesURL(name, model)+"?saved=1", http.StatusSeeOther)
	return nil
}

// governanceRoutes are the model registry's pages: models, versions and
// their promotion, sign-offs, model cards, clinical cases, the gate
// policy. Reads need model.read; each form's route needs the permission of
// its action, and the registry checks it again (with the rules the route
// cannot see: the author of a model may not sign it off).
func (u *UI) governanceRoutes(tag string) []httpapi.Route {
	const ver = "/projects/{project}/models/{model}/versions/{version}"
	return []httpapi.Route{
		{Method: "GET", Pattern: "/projects/{project}/models", Summary: "A project's models and their versions", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.modelsPage},
		{Method: "GET", Pattern: ver, Summary: "A model version: signature, promotion reports, sign-offs, clinical cases, governance forms", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.versionPage},
		{Method: "POST", Pattern: ver + "/signoff", Summary: "Sign a version off for an environment (form: environment, comment)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelSignoff, Web: true, Handler: u.signOff},
		{Method: "POST", Pattern: ver + "/promote", Summary: "Promote a version to the next environment, checking its gates (form: to)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.promote},
		{Method: "POST", Pattern: ver + "/override", Summary: "Promote a version past failing gates (form: to, reason)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermProjectManage, Web: true, Handler: u.override},
		{Method: "POST", Pattern: ver + "/rollback", Summary: "Roll production back to the previous version (form: reason)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.rollback},
		{Method: "POST", Pattern: ver + "/canary", Summary: "Make this version (in integration) the model's canary or shadow (form: share, mode)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.setCanary},
		{Method: "POST", Pattern: ver + "/canary/clear", Summary: "End the model's canary or shadow", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.clearCanary},
		{Method: "POST", Pattern: ver + "/retrain", Summary: "Retrain: this version's training set plus the adjudicated feedback as a new dataset version, and a training job on it (redirects to the job)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunWrite, Web: true, Handler: u.retrain},
		{Method: "POST", Pattern: ver + "/feedback-annotation", Summary: "Set the annotation project the model's predictions flagged incorrect go to by default (form: annotation, empty for none)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelWrite, Web: true, Handler: u.setFeedbackAnnotation},
		{Method: "GET", Pattern: ver + "/card", Summary: "A version's model card, printable", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.cardPage},
		{Method: "GET", Pattern: ver + "/card.md", Summary: "A version's model card in Markdown (download)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.cardMarkdown},
		{Method: "GET", Pattern: "/projects/{project}/models/{model}/cases", Summary: "A model's clinical test cases", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.casesPage},
		// Clinicians (model.signoff) or scientists (model.write) write the
		// cases. A route holds one permission, so each has its form action;
		// the page picks the user's.
		{Method: "POST", Pattern: "/projects/{project}/models/{model}/cases", Summary: "Replace a model's clinical test cases as a clinician (form: cases, YAML)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelSignoff, Web: true, Handler: u.setCases},
		{Method: "POST", Pattern: "/projects/{project}/models/{model}/cases/write", Summary: "Replace a model's clinical test cases as a model writer (form: cases, YAML)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelWrite, Web: true, Handler: u.setCases},
		{Method: "GET", Pattern: "/projects/{project}/policy", Summary: "A project's gate policy", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelRead, Web: true, Handler: u.policyPage},
		{Method: "POST", Pattern: "/projects/{project}/policy", Summary: "Replace a project's gate policy (form: policy, YAML)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermProjectManage, Web: true, Handler: u.setPolicy},
	}
}
