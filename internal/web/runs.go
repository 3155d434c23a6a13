package web

import (
	"context"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
)

// Limits of the run pages.
const (
	maxListRuns    = 100 // runs listed with their key metrics
	maxCompareRuns = 8
	maxRunCharts   = 24 // metric charts on a run page
	// CVPrefix marks metrics logged once per cross-validation fold, with
	// step = the fold's index.
	CVPrefix = "cv_"
)

// runURL is a run's page.
func runURL(project string, id int64) string {
	return "/projects/" + url.PathEscape(project) + "/runs/" + strconv.FormatInt(id, 10)
}

// artifactURL downloads one of a run's artifacts.
func artifactURL(project string, id int64, p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return runURL(project, id) + "/artifacts/" + strings.Join(segs, "/")
}

// projectRun returns run {run} of project {project}; a run of another
// project is not found.
func (u *UI) projectRun(ctx context.Context, project, idText string) (track.Run, error) {
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil || id <= 0 {
		return track.Run{}, errs.Invalidf("run %q: want a positive number", idText)
	}
	run, err := u.d.Runs.Get(ctx, id)
	if errs.Is(err, errs.NotFound) || (err == nil && run.Project != project) {
		return track.Run{}, errs.NotFoundf("no run %d in this project", id)
	}
	return run, err
}

type runsData struct {
	Project  string
	Runs     []runRow
	Total    int
	CanJobs  bool
	Selected map[int64]bool
}

// runsPage lists a project's runs, newest first, with their key metrics
// and a form to compare some of them.
func (u *UI) runsPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	if _, err := u.d.Projects.Get(ctx, name); err != nil {
		return err
	}
	runs, err := u.d.Runs.List(ctx, name)
	if err != nil {
		return err
	}
	gated := map[string]bool{}
	if auth.FromContext(ctx).Can(name, auth.PermModelRead) {
		gates, err := u.d.Registry.Gates(ctx, name)
		if err != nil {
			return err
		}
		for _, g := range gates {
			gated[g.Metric] = true
		}
	}
	d := runsData{Project: name, Total: len(runs), CanJobs: u.d.Jobs != nil}
	for _, run := range runs[:min(len(runs), maxListRuns)] {
		full, err := u.d.Runs.Get(ctx, run.ID)
		if err != nil {
			return err
		}
		d.Runs = append(d.Runs, keyMetrics(full, gated))
	}
	return u.render(w, http.StatusOK, "runs", u.newPage(r, "Runs · "+name, "projects", d))
}

type metricRow struct {
	Name   string
	Value  float64
	Steps  int
	Folds  bool // a cv_ metric: one value per fold
	Mean   string
	SD     string
	Chart  any // template.HTML, or nil
	Anchor string
}

type datasetLink struct {
	Ref   string
	Level dataset.Level
	URL   string // empty: the user may not open the dataset page
}

type runData struct {
	Project   string
	Run       track.Run
	Params    []kvRow
	Tags      []kvRow
	Metrics   []metricRow
	Charts    []metricRow // those with a chart
	MoreChart int         // metrics left without a chart (too many)
	Artifacts []artifactRow
	Dataset   *datasetLink
	Job       *jobs.Job
	JobURL    string
	Eval      *evalView
	EvalErr   string
	Models    []modelVersionRow // model versions registered from the run
}

type artifactRow struct {
	Path string
	Size int64
	URL  string
}

// runPage shows a run: facts, params, tags, metrics with their charts,
// artifacts, lineage (dataset version, job) and its evaluation report.
func (u *UI) runPage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	run, err := u.projectRun(ctx, name, r.PathValue("run"))
	if err != nil {
		return err
	}
	p := auth.FromContext(ctx)
	d := runData{Project: name, Run: run, Params: sortedKV(run.Params), Tags: sortedKV(run.Tags)}
	keys := make([]string, 0, len(run.Metrics))
	for k := range run.Metrics {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row := metricRow{Name: k, Value: run.Metrics[k], Anchor: "metric-" + k}
		hist, err := u.d.Runs.MetricHistory(ctx, run.ID, k)
		if err != nil {
			return err
		}
		row.Steps = len(hist)
		drawable := finitePoints(hist)
		if strings.HasPrefix(k, CVPrefix) && len(hist) > 0 {
			row.Folds = true
			vals := make([]float64, len(hist))
			bars := make([]Bar, len(hist))
			for i, m := range hist {
				vals[i] = m.Value
				bars[i] = Bar{Label: "fold " + strconv.FormatInt(m.Step, 10), Value: m.Value}
			}
			// A NaN or ±Inf fold (a diverged training, logged through
			// MLflow) has no mean with the others: "—", and its bar
			// reads n/a.
			mean, sd := math.NaN(), math.NaN()
			if drawable == len(hist) {
				mean, sd, _ = meanSD(vals)
			}
			row.Mean, row.SD = numText(mean), numText(sd)
			if drawable > 0 && len(d.Charts) < maxRunCharts {
				row.Chart = BarChart{ID: "chart-" + k, Title: k + " by fold", XLabel: "Fold", YLabel: k, Bars: bars, MeanSD: drawable == len(hist)}.SVG()
			}
		} else if drawable > 1 && len(d.Charts) < maxRunCharts {
			// Non-finite values (NaN, ±Inf) are gaps in the line; the
			// table shows them as text.
			pts := make([]Point, len(hist))
			for i, m := range hist {
				pts[i] = Point{X: float64(m.Step), Y: m.Value}
			}
			row.Chart = LineChart{ID: "chart-" + k, Title: k + " by step", XLabel: "Step", YLabel: k, IntegerX: true,
				Series: []Series{{Name: k, Points: pts}}}.SVG()
		} else if drawable > 1 || row.Folds && drawable > 0 {
			d.MoreChart++
		}
		if row.Chart != nil {
			d.Charts = append(d.Charts, row)
		}
		d.Metrics = append(d.Metrics, row)
	}
	for _, a := range run.Artifacts {
		d.Artifacts = append(d.Artifacts, artifactRow{Path: a.Path, Size: a.Size, URL: artifactURL(name, run.ID, a.Path)})
		if a.Path == EvalReportArtifact {
			d.Eval, d.EvalErr = u.evalReport(ctx, run.ID, a.Size)
		}
	}
	if run.DatasetVersionID != nil {
		if v, err := u.d.Datasets.ByID(ctx, *run.DatasetVersionID); err == nil && v.Project == name {
			d.Dataset = &datasetLink{Ref: v.Ref(), Level: v.Level}
			if p.Can(name, auth.PermDatasetRead) {
				d.Dataset.URL = datasetURL(v.Project, v.Dataset, v.Version)
			}
		} else if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
	}
	if u.d.Jobs != nil {
		js, err := u.d.Jobs.List(ctx, name)
		if err != nil {
			return err
		}
		for _, j := range js {
			if j.RunID != nil && *j.RunID == run.ID {
				d.Job, d.JobURL = &j, jobURL(name, j.ID)
				break
			}
		}
	}
	if p.Can(name, auth.PermModelRead) {
		vs, err := u.d.Registry.ListVersions(ctx, name)
		if err != nil {
			return err
		}
		for _, v := range vs {
			if v.RunID != nil && *v.RunID == run.ID {
				d.Models = append(d.Models, u.newVersionRow(p, v))
			}
		}
	}
	title := fmt.Sprintf("Run %d", run.ID)
	if run.Name != "" {
		title += " " + run.Name
	}
	return u.render(w, http.StatusOK, "run", u.newPage(r, title+" · "+name, "projects", d))
}

// evalReport reads and lays out a run's evaluation report.
func (u *UI) evalReport(ctx context.Context, runID, size int64) (*evalView, string) {
	if size > maxReportBytes {
		return nil, fmt.Sprintf("The evaluation report is too large to show here (%s bytes); download it below.", count(size))
	}
	rc, err := u.d.Runs.OpenArtifact(ctx, runID, EvalReportArtifact)
	if err != nil {
		return nil, "The evaluation report could not be read."
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxReportBytes))
	if err != nil {
		return nil, "The evaluation report could not be read."
	}
	return parseEvalReport(data), ""
}

// finitePoints counts the values of a metric history that a chart can
// draw (not NaN nor ±Inf).
func finitePoints(hist []track.Metric) int {
	n := 0
	for _, m := range hist {
		if finite(m.Value) {
			n++
		}
	}
	return n
}

func sortedKV(m map[string]string) []kvRow {
	rows := make([]kvRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, kvRow{k, v})
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows
}

// artifact downloads one of a run's artifacts. It is always an attachment
// of an opaque type: an artifact is never rendered in the page's origin.
func (u *UI) artifact(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	run, err := u.projectRun(ctx, r.PathValue("project"), r.PathValue("run"))
	if err != nil {
		return err
	}
	p := r.PathValue("path")
	if !slices.ContainsFunc(run.Artifacts, func(a track.Artifact) bool { return a.Path == p }) {
		return errs.NotFoundf("run %d has no artifact %q", run.ID, p)
	}
	rc, err := u.d.Runs.OpenArtifact(ctx, run.ID, p)
	if err != nil {
		return err
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	w.WriteHeader(http.StatusOK)
	_, err = io.Copy(w, rc)
	return err
}

// compareRow is one parameter or metric across the compared runs.
type compareRow struct {
	Name   string
	Values []string
	Differ bool
}

type compareData struct {
	Project  string
	Runs     []track.Run
	IDs      string // comma-separated, for the chart form
	Params   []compareRow
	Metrics  []compareRow
	Names    []string // metric names, for the chart form
	Metric   string   // the charted metric
	Chart    any
	NoSeries bool
}

// parseIDs reads run ids from the query: ids=1,2,3 or ids=1&ids=2.
func parseIDs(q url.Values) ([]int64, error) {
	var ids []int64
	for _, v := range q["ids"] {
		for s := range strings.SplitSeq(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			id, err := strconv.ParseInt(s, 10, 64)
			if err != nil || id <= 0 {
				return nil, errs.Invalidf("run id %q: want a positive number", s)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) < 2 {
		return nil, errs.Invalidf("choose at least two runs to compare: tick them in the runs list")
	}
	if len(ids) > maxCompareRuns {
		return nil, errs.Invalidf("compare at most %d runs at a time", maxCompareRuns)
	}
	return ids, nil
}

// comparePage shows runs side by side: parameters and latest metrics,
// rows whose values differ highlighted, and one metric's series overlaid.
func (u *UI) comparePage(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("project")
	ids, err := parseIDs(r.URL.Query())
	if err != nil {
		return err
	}
	d := compareData{Project: name}
	var idText []string
	for _, id := range ids {
		run, err := u.projectRun(ctx, name, strconv.FormatInt(id, 10))
		if err != nil {
			return err
		}
		d.Runs = append(d.Runs, run)
		idText = append(idText, strconv.FormatInt(id, 10))
	}
	d.IDs = strings.Join(idText, ",")
	d.Params = compareRows(d.Runs, func(run track.Run) map[string]string { return run.Params })
	d.Metrics = compareRows(d.Runs, func(run track.Run) map[string]string {
		m := make(map[string]string, len(run.Metrics))
		for k, v := range run.Metrics {
			m[k] = formatNumber(v)
		}
		return m
	})
	for _, row := range d.Metrics {
		d.Names = append(d.Names, row.Name)
	}
	d.Metric = r.URL.Query().Get("metric")
	if !slices.Contains(d.Names, d.Metric) {
		d.Metric = ""
		if len(d.Names) > 0 {
			d.Metric = d.Names[0]
		}
	}
	if d.Metric != "" {
		var series []Series
		points := 0
		for _, run := range d.Runs {
			hist, err := u.d.Runs.MetricHistory(ctx, run.ID, d.Metric)
			if err != nil {
				return err
			}
			s := Series{Name: fmt.Sprintf("run %d", run.ID)}
			for _, m := range hist {
				s.Points = append(s.Points, Point{X: float64(m.Step), Y: m.Value})
			}
			points += len(s.Points)
			series = append(series, s)
		}
		xl := "Step"
		if strings.HasPrefix(d.Metric, CVPrefix) {
			xl = "Fold"
		}
		d.Chart = LineChart{ID: "chart-compare", Title: d.Metric + ", runs overlaid", XLabel: xl, YLabel: d.Metric, IntegerX: true, Series: series}.SVG()
		d.NoSeries = points == 0
	}
	return u.render(w, http.StatusOK, "compare", u.newPage(r, "Compare runs · "+name, "projects", d))
}

// compareRows lines up one map per run by key; a key missing from a run
// shows "—" and counts as a difference.
func compareRows(runs []track.Run, of func(track.Run) map[string]string) []compareRow {
	keys := map[string]bool{}
	for _, run := range runs {
		for k := range of(run) {
			keys[k] = true
		}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	rows := make([]compareRow, 0, len(names))
	for _, k := range names {
		row := compareRow{Name: k}
		for i, run := range runs {
			v, ok := of(run)[k]
			if !ok {
				v = "—"
			}
			row.Values = append(row.Values, v)
			if i > 0 && v != row.Values[0] {
				row.Differ = true
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// runRoutes are the experiment-tracking and job pages.
func (u *UI) runRoutes(tag string) []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Pattern: "/projects/{project}/runs", Summary: "A project's runs with their key metrics, to open or compare", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.runsPage},
		{Method: "GET", Pattern: "/projects/{project}/runs/compare", Summary: "Runs side by side (query: ids=1,2,3, metric)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.comparePage},
		{Method: "GET", Pattern: "/projects/{project}/runs/{run}", Summary: "A run: params, metrics and their charts, artifacts, lineage, evaluation report", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.runPage},
		{Method: "GET", Pattern: "/projects/{project}/runs/{run}/artifacts/{path...}", Summary: "Download a run's artifact", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.artifact},
		{Method: "GET", Pattern: "/projects/{project}/jobs", Summary: "A project's jobs", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.jobsPage},
		{Method: "GET", Pattern: "/projects/{project}/jobs/{job}", Summary: "A job and its output", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunRead, Web: true, Handler: u.jobPage},
		{Method: "POST", Pattern: "/projects/{project}/jobs/{job}/cancel", Summary: "Cancel a job", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunWrite, Web: true, Handler: u.cancelJob},
	}
}
