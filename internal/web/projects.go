package web

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/project"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
)

// Limits of the project page: it is an overview, not a browser.
const (
	maxRuns        = 20
	maxPredictions = 20
	maxRunMetrics  = 4
)

type homeProject struct {
	project.Project
	Roles []auth.Role
}

type homeData struct {
	Projects []homeProject
	Admin    bool
}

// home lists the projects the user may open: every project for instance
// administrators (they act as project admins everywhere), else those where
// the user holds a role.
func (u *UI) home(w http.ResponseWriter, r *http.Request) error {
	p := auth.FromContext(r.Context())
	all, err := u.d.Projects.List(r.Context())
	if err != nil {
		return err
	}
	d := homeData{Admin: p.Admin}
	for _, pr := range all {
		roles, member := p.Roles[pr.Name]
		if member || p.Can(pr.Name, auth.PermProjectRead) {
			d.Projects = append(d.Projects, homeProject{Project: pr, Roles: roles})
		}
	}
	return u.render(w, http.StatusOK, "home", u.newPage(r, "Projects", "projects", d))
}

type metric struct {
	Name  string
	Value float64
	Gated bool // a promotion gate checks it
}

type runRow struct {
	track.Run
	KeyMetrics []metric
	More       int // metrics not shown
}

type projectData struct {
	Project project.Project
	Members []auth.Member
	// DirectoryGrants: a member holds a role from a directory group.
	DirectoryGrants bool
	MyRoles         []auth.Role
	CanAudit        bool
	Flash           string

	ShowDatasets bool
	Datasets     []dataset.Version

	ShowRuns  bool
	ShowJobs  bool
	Runs      []runRow
	RunsTotal int

	ShowModels bool
	Models     []registry.Version
	Gates      []registry.Rule

	ShowPredictions bool
	CanFeedback     bool
	Predictions     []monitor.Prediction
	Verdicts        []string
}

// project shows a project's overview. Each section appears only to users
// holding the permission to read what it lists.
func (u *UI) project(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	p := auth.FromContext(ctx)
	pr, err := u.d.Projects.Get(ctx, name)
	if err != nil {
		return err
	}
	d := projectData{Project: pr, MyRoles: p.Roles[name], CanAudit: p.Can(name, auth.PermAuditRead), Verdicts: monitor.Verdicts}
	if r.URL.Query().Get("feedback") == "recorded" {
		d.Flash = "Thank you: your feedback was recorded."
	}
	if d.Members, err = u.d.Auth.Members(ctx, name); err != nil {
		return err
	}
	for _, m := range d.Members {
		for _, g := range m.Grants {
			d.DirectoryGrants = d.DirectoryGrants || g.FromDirectory()
		}
	}
	if d.ShowDatasets = p.Can(name, auth.PermDatasetRead); d.ShowDatasets {
		if d.Datasets, err = u.d.Datasets.List(ctx, name); err != nil {
			return err
		}
	}
	if d.ShowModels = p.Can(name, auth.PermModelRead); d.ShowModels {
		if d.Models, err = u.d.Registry.ListVersions(ctx, name); err != nil {
			return err
		}
		if d.Gates, err = u.d.Registry.Gates(ctx, name); err != nil {
			return err
		}
	}
	if d.ShowRuns = p.Can(name, auth.PermRunRead); d.ShowRuns {
		d.ShowJobs = u.d.Jobs != nil
		runs, err := u.d.Runs.List(ctx, name)
		if err != nil {
			return err
		}
		d.RunsTotal = len(runs)
		gated := map[string]bool{}
		for _, g := range d.Gates {
			gated[g.Metric] = true
		}
		for _, run := range runs[:min(len(runs), maxRuns)] {
			full, err := u.d.Runs.Get(ctx, run.ID)
			if err != nil {
				return err
			}
			d.Runs = append(d.Runs, keyMetrics(full, gated))
		}
	}
	if d.ShowPredictions = p.Can(name, auth.PermPredictionsRead); d.ShowPredictions {
		d.CanFeedback = p.Can(name, auth.PermFeedbackWrite)
		if d.Predictions, err = u.d.Monitor.Predictions(ctx, name, maxPredictions); err != nil {
			return err
		}
	}
	return u.render(w, http.StatusOK, "project", u.newPage(r, pr.Title, "projects", d))
}

// keyMetrics picks the metrics worth a glance: those a gate checks first,
// then the others by name.
func keyMetrics(run track.Run, gated map[string]bool) runRow {
	ms := make([]metric, 0, len(run.Metrics))
	for k, v := range run.Metrics {
		ms = append(ms, metric{Name: k, Value: v, Gated: gated[k]})
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].Gated != ms[j].Gated {
			return ms[i].Gated
		}
		return ms[i].Name < ms[j].Name
	})
	row := runRow{Run: run}
	if len(ms) > maxRunMetrics {
		row.More = len(ms) - maxRunMetrics
		ms = ms[:maxRunMetrics]
	}
	row.KeyMetrics = ms
	return row
}

// feedback records a clinician's verdict on one of the project's
// predictions, then goes back to the project page (post/redirect/get).
func (u *UI) feedback(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, id := r.PathValue("project"), r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return errs.Invalidf("malformed form")
	}
	verdict := r.PostForm.Get("verdict")
	if !slices.Contains(monitor.Verdicts, verdict) {
		return errs.Invalidf("choose a verdict: %s", strings.Join(monitor.Verdicts, ", "))
	}
	// The route checked the permission in {project}: the prediction must
	// belong to it, or the check said nothing about it.
	pred, err := u.d.Monitor.Prediction(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && pred.Project != name) {
		return errs.NotFoundf("no such prediction in this project")
	}
	if err != nil {
		return err
	}
	if _, err := u.d.Monitor.RecordFeedback(ctx, id, verdict, "", strings.TrimSpace(r.PostForm.Get("comment"))); err != nil {
		return err
	}
	http.Redirect(w, r, "/projects/"+url.PathEscape(name)+"?feedback=recorded#predictions", http.StatusSeeOther)
	return nil
}
