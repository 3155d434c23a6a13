package web

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/pipeline"
)

func (u *UI) pipelineRoutes(tag string) []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Pattern: "/projects/{project}/pipelines", Summary: "A project's pipelines and their latest runs", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermProjectRead, Web: true, Handler: u.pipelinesPage},
		{Method: "GET", Pattern: "/projects/{project}/pipelines/{pipeline}", Summary: "A pipeline: its graph with each step's state, its runs, a Run button", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermProjectRead, Web: true, Handler: u.pipelinePage},
		{Method: "POST", Pattern: "/projects/{project}/pipelines/{pipeline}/run", Summary: "Run a stored pipeline (its stale steps), then show the run", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermRunWrite, Web: true, Handler: u.runPipeline},
		{Method: "GET", Pattern: "/projects/{project}/pipeline-runs/{run}", Summary: "A pipeline run: each step's state, cache, job and logs, outputs", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermProjectRead, Web: true, Handler: u.pipelineRunPage},
	}
}

func (u *UI) pipelines() (*pipeline.Service, error) {
	if u.d.Pipelines == nil {
		return nil, errs.NotFoundf("pipelines are not enabled on this server")
	}
	return u.d.Pipelines, nil
}

func pipelineURL(project, name string) string {
	return "/projects/" + url.PathEscape(project) + "/pipelines/" + url.PathEscape(name)
}

func pipelineRunURL(project string, id int64) string {
	return "/projects/" + url.PathEscape(project) + "/pipeline-runs/" + strconv.FormatInt(id, 10)
}

type pipelineRow struct {
	pipeline.Pipeline
	URL  string
	Last *pipeline.RunRecord
	LURL string
}

func (u *UI) pipelinesPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.pipelines()
	if err != nil {
		return err
	}
	ctx, project := r.Context(), r.PathValue("project")
	ps, err := svc.List(ctx, project)
	if err != nil {
		return err
	}
	var rows []pipelineRow
	for _, p := range ps {
		row := pipelineRow{Pipeline: p, URL: pipelineURL(project, p.Name)}
		if rs, err := svc.Runs(ctx, project, p.Name, 1); err == nil && len(rs) == 1 {
			row.Last, row.LURL = &rs[0], pipelineRunURL(project, rs[0].ID)
		}
		rows = append(rows, row)
	}
	return u.render(w, http.StatusOK, "pipelines", u.newPage(r, "Pipelines · "+project, "projects", map[string]any{"Project": project, "Pipelines": rows}))
}

// graphNode is a step placed in the graph.
type graphNode struct {
	Name, Type, State, Detail string
	Layer, Row                int
	Deps                      []string
	Href                      string
}

// Graph geometry (user units).
const (
	nodeW, nodeH   = 150, 44
	layerGap, rowH = 60, 62
	graphPad       = 10
)

// layout places steps in layers (the longest path from a step with no
// dependency) and rows (file order within a layer).
func layout(spec *pipeline.Spec) []graphNode {
	layer := map[string]int{}
	for _, st := range spec.Order() { // dependencies first
		l := 0
		for _, d := range stepDeps(st) {
			l = max(l, layer[d]+1)
		}
		layer[st.Name] = l
	}
	rows := map[int]int{}
	var out []graphNode
	for _, st := range spec.Steps {
		l := layer[st.Name]
		out = append(out, graphNode{Name: st.Name, Type: st.Type, Layer: l, Row: rows[l], Deps: stepDeps(st)})
		rows[l]++
	}
	return out
}

func stepDeps(st *pipeline.Step) []string {
	var out []string
	for _, ref := range st.Inputs {
		out = append(out, ref.Step)
	}
	out = append(out, st.After...)
	sort.Strings(out)
	return out
}

// stateClass maps a step state to the graph's colour class; the state
// is always written in the node too.
func stateClass(s string) string {
	switch s {
	case "up to date", pipeline.Cached, pipeline.Succeeded:
		return "ok"
	case "stale", pipeline.Pending, pipeline.Running:
		return "warn"
	case pipeline.Failed, pipeline.Cancelled:
		return "danger"
	}
	return "info"
}

// graphSVG draws the pipeline as boxes in layers, left to right, with an
// arrow from each dependency; server-side, no script.
func graphSVG(nodes []graphNode) template.HTML {
	pos := map[string]graphNode{}
	width, height := 0, 0
	for _, n := range nodes {
		pos[n.Name] = n
		width = max(width, graphPad*2+(n.Layer+1)*nodeW+n.Layer*layerGap)
		height = max(height, graphPad*2+n.Row*rowH+nodeH)
	}
	x := func(n graphNode) int { return graphPad + n.Layer*(nodeW+layerGap) }
	y := func(n graphNode) int { return graphPad + n.Row*rowH }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="pipeline-graph" id="pipeline-graph" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="Pipeline graph">`, width, height, width, height)
	b.WriteString(`<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#6b7280"/></marker></defs>`)
	for _, n := range nodes {
		for _, d := range n.Deps {
			f := pos[d]
			x1, y1, x2, y2 := x(f)+nodeW, y(f)+nodeH/2, x(n), y(n)+nodeH/2
			mx := (x1 + x2) / 2
			fmt.Fprintf(&b, `<path class="edge" data-from="%s" data-to="%s" d="M %d %d C %d %d, %d %d, %d %d" fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#arrow)"/>`,
				html.EscapeString(d), html.EscapeString(n.Name), x1, y1, mx, y1, mx, y2, x2, y2)
		}
	}
	fill := map[string]string{"ok": "#e6f4ea", "warn": "#fff4e0", "danger": "#fde8e8", "info": "#eef2ff"}
	stroke := map[string]string{"ok": "#1e7b34", "warn": "#a15c00", "danger": "#b42318", "info": "#3b5bdb"}
	for _, n := range nodes {
		c := stateClass(n.State)
		fmt.Fprintf(&b, `<g class="node state-%s" data-step="%s" data-state="%s">`, c, html.EscapeString(n.Name), html.EscapeString(n.State))
		if n.Href != "" {
			fmt.Fprintf(&b, `<a href="%s">`, html.EscapeString(n.Href))
		}
		fmt.Fprintf(&b, `<title>%s (%s): %s%s</title>`, html.EscapeString(n.Name), html.EscapeString(n.Type), html.EscapeString(n.State), html.EscapeString(n.Detail))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>`, x(n), y(n), nodeW, nodeH, fill[c], stroke[c])
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="13" font-weight="600" font-family="system-ui, sans-serif">%s</text>`, x(n)+8, y(n)+18, html.EscapeString(n.Name))
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="11" font-family="system-ui, sans-serif" fill="#374151">%s · %s</text>`, x(n)+8, y(n)+35, html.EscapeString(n.Type), html.EscapeString(n.State))
		if n.Href != "" {
			b.WriteString(`</a>`)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value above is escaped
}

type pipelinePageData struct {
	Project, Name string
	Pipeline      pipeline.Pipeline
	Graph         template.HTML
	Plan          []pipeline.StepPlan
	Runs          []pipelineRunRow
	Fires         []pipeline.Fire
	CanRun        bool
	Triggers      []pipeline.Trigger
	Error         string
}

type pipelineRunRow struct {
	pipeline.RunRecord
	URL      string
	Duration string
}

func newPipelineRunRow(project string, r pipeline.RunRecord) pipelineRunRow {
	row := pipelineRunRow{RunRecord: r, URL: pipelineRunURL(project, r.ID), Duration: "—"}
	if r.EndedAt != nil {
		row.Duration = r.EndedAt.Sub(r.CreatedAt).Round(time.Millisecond).String()
	}
	return row
}

func (u *UI) pipelinePage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.pipelines()
	if err != nil {
		return err
	}
	ctx, project, name := r.Context(), r.PathValue("project"), r.PathValue("pipeline")
	p, err := svc.Get(ctx, project, name)
	if err != nil {
		return err
	}
	d := pipelinePageData{Project: project, Name: name, Pipeline: p, CanRun: auth.FromContext(ctx).Can(project, auth.PermRunWrite)}
	spec, _, err := svc.LoadStored(ctx, project, name, nil)
	if err != nil {
		d.Error = errs.MessageOf(err)
	} else {
		d.Triggers = spec.Triggers
		nodes := layout(spec)
		if d.Plan, err = svc.Plan(ctx, project, spec, "."); err != nil {
			d.Error = errs.MessageOf(err)
		}
		state := map[string]pipeline.StepPlan{}
		for _, pl := range d.Plan {
			state[pl.Name] = pl
		}
		for i := range nodes {
			if pl, ok := state[nodes[i].Name]; ok {
				nodes[i].State, nodes[i].Detail = pl.State(), ": "+pl.Reason
			} else {
				nodes[i].State = "unknown"
			}
		}
		d.Graph = graphSVG(nodes)
	}
	rs, err := svc.Runs(ctx, project, name, 20)
	if err != nil {
		return err
	}
	for _, rr := range rs {
		d.Runs = append(d.Runs, newPipelineRunRow(project, rr))
	}
	if d.Fires, err = svc.Fires(ctx, project, name, 10); err != nil {
		return err
	}
	return u.render(w, http.StatusOK, "pipeline", u.newPage(r, "Pipeline "+name+" · "+project, "projects", d))
}

// runPipeline starts a run of the stored pipeline as the signed-in user
// and shows it (post/redirect/get).
func (u *UI) runPipeline(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.pipelines()
	if err != nil {
		return err
	}
	project, name := r.PathValue("project"), r.PathValue("pipeline")
	id, _, err := httpapi.StartPipeline(r.Context(), svc, project, name, nil, false, "web", u.d.TrackingURI)
	if err != nil {
		return err
	}
	http.Redirect(w, r, pipelineRunURL(project, id), http.StatusSeeOther)
	return nil
}

type stepRow struct {
	pipeline.StepRecord
	JobURL   string
	Duration string
	Outputs  []outputLink
}

type outputLink struct {
	pipeline.Output
	URL string
}

func (u *UI) outputLink(project string, o pipeline.Output) outputLink {
	l := outputLink{Output: o}
	switch o.Kind {
	case pipeline.KindDataset:
		l.URL = refURL(project, o.Ref)
	case pipeline.KindRun:
		l.URL = runURL(project, o.ID)
	case pipeline.KindModel:
		name, _, _ := strings.Cut(o.Ref, "@")
		l.URL = "/projects/" + url.PathEscape(project) + "/models/" + url.PathEscape(name) + "/versions/" + strconv.FormatInt(o.ID, 10)
	}
	return l
}

func (u *UI) pipelineRunPage(w http.ResponseWriter, r *http.Request) error {
	svc, err := u.pipelines()
	if err != nil {
		return err
	}
	ctx, project := r.Context(), r.PathValue("project")
	id, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil {
		return errs.NotFoundf("pipeline run %q not found", r.PathValue("run"))
	}
	rec, err := svc.GetRun(ctx, project, id)
	if err != nil {
		return err
	}
	d := map[string]any{"Project": project, "Run": newPipelineRunRow(project, rec), "PipelineURL": pipelineURL(project, rec.Pipeline)}
	var steps []stepRow
	byName := map[string]pipeline.StepRecord{}
	for _, s := range rec.Steps {
		row := stepRow{StepRecord: s, Duration: "—"}
		if s.JobID != nil {
			row.JobURL = jobURL(project, *s.JobID)
		}
		if s.EndedAt != nil {
			row.Duration = s.Duration().Round(time.Millisecond).String()
		}
		for _, o := range s.Outputs {
			row.Outputs = append(row.Outputs, u.outputLink(project, o))
		}
		steps = append(steps, row)
		byName[s.Name] = s
	}
	d["Steps"] = steps
	// The graph of the pipeline as it was run, coloured by this run.
	if p, err := svc.Get(ctx, project, rec.Pipeline); err == nil && p.Digest == rec.SpecDigest {
		if spec, _, err := svc.LoadStored(ctx, project, rec.Pipeline, rec.Params); err == nil {
			nodes := layout(spec)
			for i := range nodes {
				s := byName[nodes[i].Name]
				nodes[i].State = s.State
				if s.Cached {
					nodes[i].Detail = " (outputs reused)"
				}
				if s.JobID != nil {
					nodes[i].Href = jobURL(project, *s.JobID)
				}
			}
			d["Graph"] = graphSVG(nodes)
		}
	}
	return u.render(w, http.StatusOK, "pipeline_run", u.newPage(r, fmt.Sprintf("Pipeline run %d · %s", rec.ID, project), "projects", d))
}
