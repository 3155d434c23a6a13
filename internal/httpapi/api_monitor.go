package httpapi

import (
	"net/http"
	"strconv"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/registry"
)

// AddMonitorAPI registers the model monitoring endpoints: the latest check
// and the history of checks (drift, prediction drift, live and estimated
// performance), running a check now, alert rules and alerts. Reading takes
// monitoring.read; running a check (it reads the training data) and
// changing rules take model.promote.
func (s *Server) AddMonitorAPI(mon *monitor.Service, reg *registry.Service) {
	a := &monitorAPI{mon: mon, reg: reg}
	const tag = "monitoring"
	const base = "/api/v1/projects/{project}/models/{model}"
	s.Add(
		Route{Method: "GET", Pattern: base + "/monitoring", Summary: "The model's latest monitoring check (query: window, e.g. 7d; default any): data drift per input, prediction drift, live performance with intervals, CBPE estimates", Tag: tag, Scope: Project, Perm: auth.PermMonitoringRead, Handler: a.latest},
		Route{Method: "GET", Pattern: base + "/monitoring/checks", Summary: "The model's monitoring checks, newest first (query: window, limit ≤ 500)", Tag: tag, Scope: Project, Perm: auth.PermMonitoringRead, Handler: a.checks},
		Route{Method: "POST", Pattern: base + "/monitoring/check", Summary: "Check the model now over a window (query or body: window, default 7d; last_labelled N: live metrics on the last N labelled predictions instead of the window's); raises the alert rules on that window", Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: a.check},
		Route{Method: "GET", Pattern: base + "/alert-rules", Summary: "The model's alert rules", Tag: tag, Scope: Project, Perm: auth.PermMonitoringRead, Handler: a.rules},
		Route{Method: "POST", Pattern: base + "/alert-rules", Summary: `Add an alert rule (body: {"metric", "op", "threshold", "window", "webhook_url", "secret_env"})`, Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: a.createRule},
		Route{Method: "DELETE", Pattern: base + "/alert-rules/{rule}", Summary: "Delete an alert rule and its alerts", Tag: tag, Scope: Project, Perm: auth.PermModelPromote, Handler: a.deleteRule},
		Route{Method: "GET", Pattern: base + "/alerts", Summary: "The model's latest alerts, newest first (query: limit ≤ 500)", Tag: tag, Scope: Project, Perm: auth.PermMonitoringRead, Handler: a.alerts},
	)
}

type monitorAPI struct {
	mon *monitor.Service
	reg *registry.Service
}

// model returns {model} if it belongs to {project}.
func (a *monitorAPI) model(r *http.Request) (string, error) {
	name := r.PathValue("model")
	if p, err := a.reg.ProjectOfModel(r.Context(), name); err != nil || p != r.PathValue("project") {
		return "", errs.NotFoundf("model %q not found in project %q", name, r.PathValue("project"))
	}
	return name, nil
}

// monWindow reads the window query parameter in its canonical form ("" if none).
func monWindow(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	d, err := monitor.ParseWindow(v)
	if err != nil {
		return "", err
	}
	return monitor.FormatWindow(d), nil
}

func monLimit(r *http.Request) int {
	n, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	return n
}

func (a *monitorAPI) latest(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	win, err := monWindow(r.URL.Query().Get("window"))
	if err != nil {
		return err
	}
	c, err := a.mon.LatestCheck(r.Context(), m, win)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, c)
}

func (a *monitorAPI) checks(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	win, err := monWindow(r.URL.Query().Get("window"))
	if err != nil {
		return err
	}
	cs, err := a.mon.Checks(r.Context(), m, win, monLimit(r))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"checks": orEmpty(cs)})
}

func (a *monitorAPI) check(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	var in struct {
		Window       string `json:"window"`
		LastLabelled int    `json:"last_labelled"`
	}
	if r.ContentLength > 0 {
		if err := DecodeJSON(r, &in); err != nil {
			return err
		}
	}
	q := r.URL.Query()
	if v := q.Get("window"); v != "" {
		in.Window = v
	}
	if v := q.Get("last_labelled"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return errs.Invalidf("last_labelled: want a number of labelled predictions")
		}
		in.LastLabelled = n
	}
	d, err := monitor.ParseWindow(in.Window)
	if err != nil {
		return err
	}
	c, err := a.mon.CheckWith(r.Context(), m, monitor.CheckOptions{Window: d, LastLabelled: in.LastLabelled})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, c)
}

func (a *monitorAPI) rules(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	rs, err := a.mon.Rules(r.Context(), r.PathValue("project"), m)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"rules": orEmpty(rs)})
}

func (a *monitorAPI) createRule(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	var in struct {
		Metric    string   `json:"metric"`
		Op        string   `json:"op"`
		Threshold *float64 `json:"threshold"`
		Window    string   `json:"window"`
		Webhook   string   `json:"webhook_url"`
		SecretEnv string   `json:"secret_env"`
	}
	if err := DecodeJSON(r, &in); err != nil {
		return err
	}
	if in.Threshold == nil {
		return errs.Invalidf("threshold is required")
	}
	rule, err := a.mon.CreateRule(r.Context(), r.PathValue("project"), monitor.AlertRule{Model: m, Metric: in.Metric, Op: in.Op, Threshold: *in.Threshold,
		Window: in.Window, Webhook: in.Webhook, SecretEnv: in.SecretEnv})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, rule)
}

func (a *monitorAPI) deleteRule(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	id, err := pathInt(r, "rule")
	if err != nil {
		return err
	}
	if err := a.mon.DeleteRule(r.Context(), r.PathValue("project"), m, int64(id)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *monitorAPI) alerts(w http.ResponseWriter, r *http.Request) error {
	m, err := a.model(r)
	if err != nil {
		return err
	}
	as, err := a.mon.Alerts(r.Context(), r.PathValue("project"), m, monLimit(r))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"alerts": orEmpty(as)})
}
