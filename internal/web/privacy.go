package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/privacy/anon"
	"github.com/hygie-health/hygie/internal/privacy/dp"
	"github.com/hygie-health/hygie/internal/privacy/risk"
)

func init() {
	// pct shows a fraction as a percentage.
	funcs["pct"] = func(x float64) float64 { return 100 * x }
}

// privacyRoutes are the risk, anonymisation and differential privacy pages.
func (u *UI) privacyRoutes(tag string) []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Pattern: "/projects/{project}/datasets/{dataset}/risk", Summary: "Re-identification risk of a dataset version (query: v, qi) and the anonymisation form", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetRead, Web: true, Handler: u.riskPage},
		{Method: "POST", Pattern: "/projects/{project}/datasets/{dataset}/anonymize", Summary: "Anonymise a dataset version into a new anonymized version (form: version, k, l, t, max_suppression, metric, qi, h.<column>, output)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetWrite, Web: true, Handler: u.anonymize},
		{Method: "GET", Pattern: "/projects/{project}/dp", Summary: "Differential privacy: each dataset's budget and its releases", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetRead, Web: true, Handler: u.dpPage},
		{Method: "POST", Pattern: "/projects/{project}/dp/release", Summary: "A differentially private count or histogram (form: dataset, version, epsilon, by, categories, bins)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermDatasetRead, Web: true, Handler: u.dpRelease},
	}
}

// riskClassBar is one bar of the class size distribution.
type riskClassBar struct {
	Size, Classes, Records int
	Width                  float64 // percent of the largest record count
}

// anonQI is one column of the anonymisation form.
type anonQI struct {
	Column, Type, Role, Hierarchy string
	Checked                       bool
}

// anonForm is the anonymisation form's state.
type anonForm struct {
	K, L, T, MaxSuppression, Metric, Output string
	QIs                                     []anonQI
	Error                                   string
}

type riskData struct {
	Project, Dataset string
	Version          dataset.Version
	DatasetURL       string
	Identifying      bool
	Note             string // why no report is shown
	Err              string
	Report           *risk.Report
	Bars             []riskClassBar
	Criteria         []riskCriterion
	CanAnonymize     bool
	Form             anonForm
	Metrics          []anon.Metric
}

type riskCriterion struct {
	Name    string
	Pass    bool
	Verdict string
}

// riskPage shows the re-identification risk of a version and, to those who
// may write, the form that anonymises it.
func (u *UI) riskPage(w http.ResponseWriter, r *http.Request) error {
	v, err := u.pageVersion(r)
	if err != nil {
		return err
	}
	return u.renderRisk(w, r, http.StatusOK, v, u.defaultAnonForm(v), r.URL.Query().Get("qi"))
}

func (u *UI) pageVersion(r *http.Request) (dataset.Version, error) {
	n := 0
	if s := r.URL.Query().Get("v"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			return dataset.Version{}, errs.Invalidf("version %q: want a positive number", s)
		}
	}
	return u.d.Datasets.Get(r.Context(), r.PathValue("project"), r.PathValue("dataset"), n)
}

func (u *UI) defaultAnonForm(v dataset.Version) anonForm {
	f := anonForm{K: "5", MaxSuppression: "0.04", Metric: string(anon.MetricEntropy), Output: v.Dataset + "_anon"}
	if len(f.Output) > 63 {
		f.Output = ""
	}
	for _, c := range v.Columns {
		if c.Role.Identifying() || c.Role == dataset.RoleText {
			continue
		}
		f.QIs = append(f.QIs, anonQI{Column: c.Name, Type: string(c.Type), Role: string(c.Role),
			Hierarchy: anon.DefaultHierarchy(c.Type), Checked: c.Role == dataset.RoleQuasiIdentifier})
	}
	return f
}

func (u *UI) renderRisk(w http.ResponseWriter, r *http.Request, status int, v dataset.Version, form anonForm, qi string) error {
	ctx := r.Context()
	p := auth.FromContext(ctx)
	d := riskData{Project: v.Project, Dataset: v.Dataset, Version: v, DatasetURL: datasetURL(v.Project, v.Dataset, v.Version),
		Identifying: v.Level == dataset.Identifying, Form: form, Metrics: anon.Metrics}
	mayIdentify := p.Can(v.Project, auth.PermIdentifyingData)
	d.CanAnonymize = p.Can(v.Project, auth.PermDatasetWrite) && (!d.Identifying || mayIdentify)
	switch {
	case d.Identifying && !mayIdentify:
		d.Note = "This version holds identifying data: its risk is assessed only for the project's data stewards."
	case v.Rows*max(1, len(v.Columns)) > maxProfileCells:
		d.Note = "This version is too large to assess in the page (" + strconv.Itoa(v.Rows) + " rows); use the API or the command line."
	default:
		o, err := httpapi.RiskOptions(url.Values{"qi": {qi}})
		if err == nil {
			d.Report, err = risk.OfVersion(ctx, u.d.Datasets, v, o)
		}
		switch {
		case err == nil:
			rep := d.Report
			most := 1
			for _, s := range rep.SizeHistogram {
				most = max(most, s.Records)
			}
			for _, s := range rep.SizeHistogram {
				d.Bars = append(d.Bars, riskClassBar{Size: s.Size, Classes: s.Classes, Records: s.Records, Width: 100 * float64(s.Records) / float64(most)})
			}
			d.Criteria = []riskCriterion{
				{"Singling out", rep.SinglingOut.Pass, rep.SinglingOut.Verdict},
				{"Linkability", rep.Linkability.Pass, rep.Linkability.Verdict},
				{"Inference", rep.Inference.Pass, rep.Inference.Verdict},
			}
		case errs.CodeOf(err) == errs.Internal:
			u.log.Error("risk of a dataset version", "request_id", audit.RequestIDFrom(ctx), "dataset", v.Ref(), "err", err)
			d.Err = "The risk could not be assessed."
		default:
			d.Err = "The risk could not be assessed: " + errs.MessageOf(err)
		}
	}
	return u.render(w, status, "risk", u.newPage(r, "Risk · "+v.Ref()+" · "+v.Project, "projects", d))
}

// anonymize runs the anonymisation form; errors re-render the risk page
// with the form as filled, success goes to the new version's page.
func (u *UI) anonymize(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	f := r.PostForm
	n, err := strconv.Atoi(f.Get("version"))
	if err != nil || n <= 0 {
		return errs.Invalidf("the form names no version to anonymise")
	}
	v, err := u.d.Datasets.Get(ctx, r.PathValue("project"), r.PathValue("dataset"), n)
	if err != nil {
		return err
	}
	form := anonForm{K: f.Get("k"), L: f.Get("l"), T: f.Get("t"), MaxSuppression: f.Get("max_suppression"), Metric: f.Get("metric"), Output: strings.TrimSpace(f.Get("output"))}
	checked := f["qi"]
	cfg := anon.VersionConfig{Metric: form.Metric, Output: form.Output, Sensitive: nil}
	for _, q := range u.defaultAnonForm(v).QIs {
		q.Checked = slices.Contains(checked, q.Column)
		if h := strings.TrimSpace(f.Get("h." + q.Column)); h != "" {
			q.Hierarchy = h
		}
		form.QIs = append(form.QIs, q)
		if q.Checked {
			cfg.QuasiIdentifiers = append(cfg.QuasiIdentifiers, anon.VersionQI{Column: q.Column, Hierarchy: q.Hierarchy})
		}
	}
	fail := func(err error) error {
		switch errs.CodeOf(err) {
		case errs.Invalid, errs.Conflict:
			form.Error = errs.MessageOf(err)
			return u.renderRisk(w, r, httpapi.Status(errs.CodeOf(err)), v, form, "")
		}
		return err
	}
	num := func(name, s string, dst *float64) error {
		if strings.TrimSpace(s) == "" {
			return nil
		}
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return errs.Invalidf("%s: want a number", name)
		}
		*dst = x
		return nil
	}
	var k float64
	for _, e := range []error{num("k", form.K, &k), num("l", form.L, &cfg.L), num("t", form.T, &cfg.T), num("suppression limit", form.MaxSuppression, &cfg.MaxSuppression)} {
		if e != nil {
			return fail(e)
		}
	}
	if k != float64(int(k)) {
		return fail(errs.Invalidf("k: want a whole number"))
	}
	cfg.K = int(k)
	if len(cfg.QuasiIdentifiers) == 0 {
		return fail(errs.Invalidf("tick at least one quasi-identifier"))
	}
	rep, err := anon.AnonymizeVersion(ctx, u.d.Datasets, v, cfg)
	if err != nil {
		return fail(err)
	}
	http.Redirect(w, r, datasetURL(rep.Version.Project, rep.Version.Dataset, rep.Version.Version)+"#top", http.StatusSeeOther)
	return nil
}

// dpBudgetView is one dataset's budget and its latest releases.
type dpBudgetView struct {
	dp.Budget
	Releases []dpReleaseView
}

type dpReleaseView struct {
	dp.Release
	Cells []string // "group: value"
}

type dpData struct {
	Project  string
	Budgets  []dpBudgetView
	Datasets []dataset.Version // latest versions, for the release form
	Flash    string
	Error    string
	Form     dpForm
}

type dpForm struct {
	Dataset, Epsilon, By, Categories, Bins string
}

func (u *UI) dpPage(w http.ResponseWriter, r *http.Request) error {
	flash := ""
	if id := r.URL.Query().Get("released"); id != "" {
		flash = "Release " + id + " was made; its noisy result is at the top of the dataset's history."
	}
	return u.renderDP(w, r, http.StatusOK, dpForm{Epsilon: "0.1"}, flash, "")
}

func (u *UI) renderDP(w http.ResponseWriter, r *http.Request, status int, form dpForm, flash, errMsg string) error {
	ctx := r.Context()
	project := r.PathValue("project")
	if u.d.DP == nil {
		return errs.NotFoundf("differential privacy is not enabled")
	}
	d := dpData{Project: project, Form: form, Flash: flash, Error: errMsg}
	bs, err := u.d.DP.Budgets(ctx, project)
	if err != nil {
		return err
	}
	for _, b := range bs {
		rels, err := u.d.DP.Releases(ctx, project, b.Dataset, 20)
		if err != nil {
			return err
		}
		bv := dpBudgetView{Budget: b}
		for _, rel := range rels {
			rv := dpReleaseView{Release: rel}
			for _, c := range rel.Result.Cells {
				label := strings.Join(c.Group, ", ")
				if c.Quantile != "" {
					label = "q" + c.Quantile
				}
				if label == "" {
					label = string(rel.Result.Kind)
				}
				rv.Cells = append(rv.Cells, fmt.Sprintf("%s: %s", label, strconv.FormatFloat(c.Value, 'g', 8, 64)))
			}
			bv.Releases = append(bv.Releases, rv)
		}
		d.Budgets = append(d.Budgets, bv)
	}
	if d.Datasets, err = u.d.Datasets.List(ctx, project); err != nil {
		return err
	}
	return u.render(w, status, "dp", u.newPage(r, "Differential privacy · "+project, "projects", d))
}

// dpRelease makes a count or histogram release from the form.
func (u *UI) dpRelease(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	project := r.PathValue("project")
	if u.d.DP == nil {
		return errs.NotFoundf("differential privacy is not enabled")
	}
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	f := r.PostForm
	form := dpForm{Dataset: f.Get("dataset"), Epsilon: f.Get("epsilon"), By: f.Get("by"), Categories: f.Get("categories"), Bins: f.Get("bins")}
	fail := func(err error) error {
		switch errs.CodeOf(err) {
		case errs.Invalid, errs.Conflict, errs.Forbidden, errs.NotFound:
			return u.renderDP(w, r, httpapi.Status(errs.CodeOf(err)), form, "", errs.MessageOf(err))
		}
		return err
	}
	name, ver, _ := strings.Cut(form.Dataset, "@")
	n, err := strconv.Atoi(ver)
	if name == "" || err != nil || n <= 0 {
		return fail(errs.Invalidf("choose a dataset version"))
	}
	v, err := u.d.Datasets.Get(ctx, project, name, n)
	if err != nil {
		return fail(err)
	}
	eps, err := dp.ParseDecimal(strings.TrimSpace(form.Epsilon))
	if err != nil {
		return fail(errs.Invalidf("ε: %s", errs.MessageOf(err)))
	}
	q := dp.Query{Kind: dp.KindCount, Epsilon: eps}
	if by := splitComma(form.By); len(by) > 0 {
		var cats, bins []string
		if s := strings.TrimSpace(form.Categories); s != "" {
			cats = []string{s}
		}
		if s := strings.TrimSpace(form.Bins); s != "" {
			bins = []string{s}
		}
		if q.By, err = dp.ParseGroups(by, cats, bins); err != nil {
			return fail(err)
		}
	}
	rel, err := u.d.DP.Release(ctx, v, q)
	if err != nil {
		return fail(err)
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(project)+"/dp?released="+strconv.FormatInt(rel.ID, 10), http.StatusSeeOther)
	return nil
}

func splitComma(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
