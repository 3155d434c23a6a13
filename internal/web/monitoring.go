package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/httpapi"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/plot"
)

// The monitoring dashboard of a model: the latest check's drift per input
// (method, statistic, threshold, verdict, reference vs current histogram),
// prediction drift, live metrics with their intervals and CBPE estimates,
// time series of the checks, the alert rules and the recent alerts; a
// "Run check now" form and the rule forms for those who may
// (model.promote). It shows aggregates only.

// monitoringURL is a model's monitoring dashboard.
func monitoringURL(project, model string) string {
	return modelsURL(project) + "/" + url.PathEscape(model) + "/monitoring"
}

// monitorWindows are the windows the page offers.
var monitorWindows = []string{"1d", "7d", "30d", "90d"}

type driftRow struct {
	Name      string
	Type      string
	Method    string
	Statistic string
	PValue    string
	Threshold string
	Drift     bool
	Error     string
	Counts    string // values and missing, reference → current
	Chart     template.HTML
}

type liveRow struct {
	Name                   string
	Estimate, Lower, Upper string
	CBPE                   string
	CBPELower, CBPEUpper   string // the estimate's sampling interval ("" without)
}

type monitoringData struct {
	Project, Model string
	ModelsURL      string
	URL            string
	Window         string
	Windows        []string
	Check          *monitor.CheckReport
	Columns        []driftRow
	Prediction     *driftRow
	Live           []liveRow
	HasLive        bool
	LiveNote       string
	CBPECaveat     string
	ShareChart     template.HTML
	LiveChart      template.HTML
	Checks         int
	Rules          []monitor.AlertRule
	Alerts         []monitor.Alert
	Metrics        []string // suggestions for the rule form
	CanCheck       bool
	Error          string
	Flash          string
}

var monitoringFlashes = map[string]string{
	"checked":      "Check done: the dashboard shows it.",
	"rule-added":   "Alert rule added.",
	"rule-deleted": "Alert rule deleted.",
}

func (u *UI) monitoringRoutes(tag string) []httpapi.Route {
	const base = "/projects/{project}/models/{model}/monitoring"
	return []httpapi.Route{
		{Method: "GET", Pattern: base, Summary: "A model's monitoring dashboard (query: window): drift per input with histograms, prediction drift, live and estimated performance, time series, alert rules and alerts", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermMonitoringRead, Web: true, Handler: u.monitoringPage},
		{Method: "POST", Pattern: base + "/check", Summary: "Run a monitoring check now (form: window)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.monitoringCheck},
		{Method: "POST", Pattern: base + "/rules", Summary: "Add an alert rule (form: metric, op, threshold, window, webhook_url)", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.monitoringAddRule},
		{Method: "POST", Pattern: base + "/rules/{rule}/delete", Summary: "Delete an alert rule", Tag: tag,
			Scope: httpapi.Project, Perm: auth.PermModelPromote, Web: true, Handler: u.monitoringDeleteRule},
	}
}

// projectModel returns {model} if it belongs to {project}.
func (u *UI) projectModel(r *http.Request) (string, error) {
	name := r.PathValue("model")
	if p, err := u.d.Registry.ProjectOfModel(r.Context(), name); err != nil || p != r.PathValue("project") {
		return "", errs.NotFoundf("model %q not found in project %q", name, r.PathValue("project"))
	}
	return name, nil
}

func (u *UI) monitoringPage(w http.ResponseWriter, r *http.Request) error {
	d, err := u.monitoringData(r, r.URL.Query().Get("window"))
	if err != nil {
		return err
	}
	d.Flash = monitoringFlashes[r.URL.Query().Get("done")]
	return u.renderMonitoring(w, r, http.StatusOK, d)
}

func (u *UI) renderMonitoring(w http.ResponseWriter, r *http.Request, status int, d *monitoringData) error {
	return u.render(w, status, "monitoring", u.newPage(r, "Monitoring "+d.Model+" · "+d.Project, "projects", d))
}

func (u *UI) monitoringData(r *http.Request, win string) (*monitoringData, error) {
	ctx := r.Context()
	project := r.PathValue("project")
	model, err := u.projectModel(r)
	if err != nil {
		return nil, err
	}
	wd, err := monitor.ParseWindow(win)
	if err != nil {
		return nil, err
	}
	d := &monitoringData{Project: project, Model: model, ModelsURL: modelsURL(project), URL: monitoringURL(project, model),
		Window: monitor.FormatWindow(wd), Windows: monitorWindows, CBPECaveat: monitor.CBPECaveat,
		CanCheck: auth.FromContext(ctx).Can(project, auth.PermModelPromote)}
	if !slices.Contains(d.Windows, d.Window) {
		d.Windows = append(slices.Clone(d.Windows), d.Window)
	}
	checks, err := u.d.Monitor.Checks(ctx, model, d.Window, 100)
	if err != nil {
		return nil, err
	}
	d.Checks = len(checks)
	if len(checks) > 0 {
		c := checks[0]
		d.Check = &c
		d.fill(&c)
		d.series(checks)
	}
	if d.Rules, err = u.d.Monitor.Rules(ctx, project, model); err != nil {
		return nil, err
	}
	if d.Alerts, err = u.d.Monitor.Alerts(ctx, project, model, 20); err != nil {
		return nil, err
	}
	d.Metrics = []string{"dataset_drift_share", "prediction_drift", "predictions"}
	for _, m := range monitor.LiveMetrics {
		d.Metrics = append(d.Metrics, m, "cbpe_"+m)
	}
	if d.Check != nil && d.Check.Drift != nil {
		for _, c := range d.Check.Drift.Columns {
			d.Metrics = append(d.Metrics, "drift:"+c.Name)
		}
	}
	return d, nil
}

func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	if math.IsInf(v, 1) {
		return "∞"
	}
	return formatNumber(v)
}

func newDriftRow(i int, c monitor.ColumnDrift) driftRow {
	row := driftRow{Name: c.Name, Type: c.Type, Method: string(c.Method), Statistic: fmtNum(float64(c.Statistic)), Threshold: formatNumber(c.Threshold),
		Drift: c.Drift, Error: c.Error, PValue: "—",
		Counts: fmt.Sprintf("%d → %d values, %d → %d missing", c.RefN, c.CurN, c.RefMissing, c.CurMissing)}
	if c.PValue != nil {
		row.PValue = fmtNum(float64(*c.PValue))
		row.Threshold = "p < " + row.Threshold
	} else if c.Error == "" {
		row.Threshold = "≥ " + row.Threshold
	}
	if c.Hist != nil {
		row.Chart = histChart(fmt.Sprintf("hist-%d", i), c.Name, c.Hist)
	}
	return row
}

// fill lays out the latest check.
func (d *monitoringData) fill(c *monitor.CheckReport) {
	if c.Drift != nil {
		for i, col := range c.Drift.Columns {
			d.Columns = append(d.Columns, newDriftRow(i, col))
		}
	}
	if c.PredictionDrift != nil {
		row := newDriftRow(len(d.Columns), *c.PredictionDrift)
		d.Prediction = &row
	}
	if c.Performance == nil && c.CBPE == nil {
		return
	}
	for _, m := range monitor.LiveMetrics {
		row := liveRow{Name: m, Estimate: "—", Lower: "—", Upper: "—", CBPE: "—"}
		if c.Performance != nil {
			if iv, ok := c.Performance.Metrics[m]; ok {
				row.Estimate, row.Lower, row.Upper = fmtNum(float64(iv.Estimate)), fmtNum(float64(iv.Lower)), fmtNum(float64(iv.Upper))
				d.HasLive = true
			}
		}
		if c.CBPE != nil {
			if v, ok := c.CBPE.Metrics[m]; ok {
				row.CBPE = fmtNum(float64(v))
			}
			if iv, ok := c.CBPE.Intervals[m]; ok {
				row.CBPELower, row.CBPEUpper = fmtNum(float64(iv.Lower)), fmtNum(float64(iv.Upper))
			}
		}
		d.Live = append(d.Live, row)
	}
}

// series draws the checks over time: the dataset drift share, and each
// live metric with its interval bounds and its CBPE estimate.
func (d *monitoringData) series(checks []monitor.CheckReport) {
	if len(checks) < 2 {
		return
	}
	first := checks[len(checks)-1].At
	x := func(c monitor.CheckReport) float64 { return c.At.Sub(first).Hours() / 24 }
	xl := "Days since " + first.UTC().Format("2006-01-02 15:04") + " UTC"
	var share []plot.Point
	for i := len(checks) - 1; i >= 0; i-- {
		c := checks[i]
		if c.Drift != nil {
			share = append(share, plot.Point{X: x(c), Y: c.Drift.Share})
		}
	}
	lo, hi := plot.Unit()
	if len(share) > 0 {
		d.ShareChart = plot.LineChart{ID: "chart-drift-share", Title: "Share of drifting inputs", XLabel: xl, YLabel: "share", YMin: lo, YMax: hi,
			Series: []plot.Series{{Name: "dataset drift share", Points: share}}}.SVG()
	}
	var est, lower, upper, cbpe []plot.Point
	metric := "roc_auc"
	if c := checks[0]; c.Performance != nil {
		if _, ok := c.Performance.Metrics[metric]; !ok {
			metric = "accuracy"
		}
	}
	for i := len(checks) - 1; i >= 0; i-- {
		c := checks[i]
		if c.Performance != nil {
			if iv, ok := c.Performance.Metrics[metric]; ok {
				est = append(est, plot.Point{X: x(c), Y: float64(iv.Estimate)})
				lower = append(lower, plot.Point{X: x(c), Y: float64(iv.Lower)})
				upper = append(upper, plot.Point{X: x(c), Y: float64(iv.Upper)})
			}
		}
		if c.CBPE != nil {
			if v, ok := c.CBPE.Metrics[metric]; ok {
				cbpe = append(cbpe, plot.Point{X: x(c), Y: float64(v)})
			}
		}
	}
	if len(est)+len(cbpe) > 0 {
		var ss []plot.Series
		if len(est) > 0 {
			ss = append(ss, plot.Series{Name: metric + " (feedback)", Points: est}, plot.Series{Name: "95% interval, lower", Points: lower}, plot.Series{Name: "95% interval, upper", Points: upper})
		}
		if len(cbpe) > 0 {
			ss = append(ss, plot.Series{Name: metric + " (CBPE estimate)", Points: cbpe})
		}
		d.LiveChart = plot.LineChart{ID: "chart-live", Title: "Live " + metric, XLabel: xl, YLabel: metric, YMin: lo, YMax: hi, Series: ss}.SVG()
	}
}

// histChart draws the reference and current proportions per bin as
// grouped bars (reference solid blue, current hatched orange-red), with a
// title and a description for screen readers.
func histChart(id, name string, h *monitor.Hist) template.HTML {
	const w, ht, left, right, top, bottom = 480.0, 220.0, 46.0, 12.0, 26.0, 40.0
	n := len(h.Ref)
	labels := h.Labels
	if labels == nil {
		labels = make([]string, n)
		for i := range n {
			labels[i] = formatNumber(h.Edges[i])
		}
	}
	ymax := 0.0
	for i := range n {
		ymax = math.Max(ymax, math.Max(h.Ref[i], h.Cur[i]))
	}
	if ymax == 0 {
		ymax = 1
	}
	ymax = math.Ceil(ymax*10) / 10
	yat := func(v float64) float64 { return ht - bottom - (ht-bottom-top)*v/ymax }
	slot := (w - left - right) / float64(max(n, 1))
	var b strings.Builder
	esc := template.HTMLEscapeString
	desc := fmt.Sprintf("Histogram of %s: proportion of the reference (training) and current values in %d %s.", name, n, map[bool]string{true: "categories", false: "bins"}[h.Labels != nil])
	fmt.Fprintf(&b, `<svg class="hist-chart" width="100%%" viewBox="0 0 %g %g" role="img" aria-labelledby="%s-title %s-desc" id="%s">`, w, ht, id, id, id)
	fmt.Fprintf(&b, `<title id="%s-title">%s: reference vs current</title><desc id="%s-desc">%s</desc>`, id, esc(name), id, esc(desc))
	fmt.Fprintf(&b, `<defs><pattern id="%s-hatch" width="4" height="4" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="4" height="4" fill="#d55e00"/><line x1="0" y1="0" x2="0" y2="4" stroke="#fff" stroke-width="1.5"/></pattern></defs>`, id)
	// Axes and y ticks.
	fmt.Fprintf(&b, `<g font-size="10" fill="#5b6674">`)
	for _, t := range []float64{0, ymax / 2, ymax} {
		fmt.Fprintf(&b, `<line x1="%g" y1="%.1f" x2="%g" y2="%.1f" stroke="#dde2e8"/><text x="%g" y="%.1f" text-anchor="end">%s</text>`, left, yat(t), w-right, yat(t), left-4, yat(t)+3, esc(formatNumber(t)))
	}
	fmt.Fprintf(&b, `</g>`)
	bw := math.Max(1, (slot-2)/2)
	for i := range n {
		x := left + float64(i)*slot + 1
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#0072b2"><title>%s, reference: %s</title></rect>`, x, yat(h.Ref[i]), bw, ht-bottom-yat(h.Ref[i]), esc(labels[i]), esc(formatNumber(h.Ref[i])))
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="url(#%s-hatch)" stroke="#d55e00" stroke-width="0.5"><title>%s, current: %s</title></rect>`, x+bw, yat(h.Cur[i]), bw, ht-bottom-yat(h.Cur[i]), id, esc(labels[i]), esc(formatNumber(h.Cur[i])))
		if n <= 12 || i%int(math.Ceil(float64(n)/8)) == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%g" font-size="10" text-anchor="middle" fill="#5b6674">%s</text>`, x+slot/2, ht-bottom+13, esc(shorten(labels[i], 8)))
		}
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#5b6674"/>`, left, ht-bottom, w-right, ht-bottom)
	fmt.Fprintf(&b, `<g font-size="11" fill="#1b2430"><rect x="%g" y="6" width="10" height="10" fill="#0072b2"/><text x="%g" y="15">reference</text><rect x="%g" y="6" width="10" height="10" fill="url(#%s-hatch)"/><text x="%g" y="15">current</text></g>`,
		left, left+14, left+90, id, left+104)
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11" text-anchor="middle" fill="#1b2430">%s</text>`, (left+w-right)/2, ht-6, esc(name))
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// monitoringFailed re-renders the dashboard with the error of a form.
func (u *UI) monitoringFailed(w http.ResponseWriter, r *http.Request, win string, err error) error {
	code := errs.CodeOf(err)
	if code != errs.Invalid && code != errs.NotFound && code != errs.Conflict {
		return err
	}
	d, derr := u.monitoringData(r, win)
	if derr != nil {
		return derr
	}
	d.Error = errs.MessageOf(err)
	return u.renderMonitoring(w, r, http.StatusUnprocessableEntity, d)
}

func (u *UI) monitoringCheck(w http.ResponseWriter, r *http.Request) error {
	model, err := u.projectModel(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	win := r.PostForm.Get("window")
	wd, err := monitor.ParseWindow(win)
	if err != nil {
		return u.monitoringFailed(w, r, "", err)
	}
	if _, err := u.d.Monitor.Check(r.Context(), model, wd); err != nil {
		return u.monitoringFailed(w, r, win, err)
	}
	http.Redirect(w, r, monitoringURL(r.PathValue("project"), model)+"?window="+monitor.FormatWindow(wd)+"&done=checked", http.StatusSeeOther)
	return nil
}

func (u *UI) monitoringAddRule(w http.ResponseWriter, r *http.Request) error {
	model, err := u.projectModel(r)
	if err != nil {
		return err
	}
	if err := postForm(r); err != nil {
		return err
	}
	f := r.PostForm
	th, err := strconv.ParseFloat(strings.TrimSpace(f.Get("threshold")), 64)
	if err != nil {
		return u.monitoringFailed(w, r, "", errs.Invalidf("threshold must be a number"))
	}
	rule := monitor.AlertRule{Model: model, Metric: strings.TrimSpace(f.Get("metric")), Op: f.Get("op"), Threshold: th,
		Window: strings.TrimSpace(f.Get("window")), Webhook: strings.TrimSpace(f.Get("webhook_url"))}
	if _, err := u.d.Monitor.CreateRule(r.Context(), r.PathValue("project"), rule); err != nil {
		return u.monitoringFailed(w, r, "", err)
	}
	http.Redirect(w, r, monitoringURL(r.PathValue("project"), model)+"?done=rule-added", http.StatusSeeOther)
	return nil
}

func (u *UI) monitoringDeleteRule(w http.ResponseWriter, r *http.Request) error {
	model, err := u.projectModel(r)
	if err != nil {
		return err
	}
	id, err := strconv.ParseInt(r.PathValue("rule"), 10, 64)
	if err != nil {
		return errs.NotFoundf("alert rule %q not found", r.PathValue("rule"))
	}
	if err := u.d.Monitor.DeleteRule(r.Context(), r.PathValue("project"), model, id); err != nil {
		return err
	}
	http.Redirect(w, r, monitoringURL(r.PathValue("project"), model)+"?done=rule-deleted", http.StatusSeeOther)
	return nil
}
