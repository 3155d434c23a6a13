package monitor

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
)

// DefaultWindow is a check's window when none is given.
const DefaultWindow = 7 * 24 * time.Hour

// MinLabelled is the fewest labelled predictions for live metrics.
const MinLabelled = 20

// PredictionColumn names the prediction in the prediction drift.
const PredictionColumn = "prediction"

// ParseWindow reads a window: "7d", "30d", "24h", "90m" (at most a year).
// "" is DefaultWindow.
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultWindow, nil
	}
	var d time.Duration
	var err error
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		days, err = strconv.Atoi(n)
		if days < 1 || days > 366 { // before multiplying: no overflow
			days = 0
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Minute || d > 366*24*time.Hour {
		return 0, errs.Invalidf("window %q: want a duration between 1m and 366d, e.g. 7d or 24h", s)
	}
	return d, nil
}

// FormatWindow writes a window as ParseWindow reads it.
func FormatWindow(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// CheckReport is one check of a model version over a window. It holds
// aggregates only: statistics and binned proportions, never a prediction.
type CheckReport struct {
	ID              int64        `json:"id"`
	Project         string       `json:"project"`
	Model           string       `json:"model"`
	Version         int          `json:"version"`
	At              time.Time    `json:"at"`
	Window          string       `json:"window"`
	Reference       RefInfo      `json:"reference"`
	Predictions     int          `json:"predictions"`    // logged in the window
	Labelled        int          `json:"labelled"`       // with an outcome from feedback
	LabelledScope   string       `json:"labelled_scope"` // "the window", or the last N labelled predictions
	Drift           *Report      `json:"drift,omitempty"`
	PredictionDrift *ColumnDrift `json:"prediction_drift,omitempty"`
	Performance     *Performance `json:"performance,omitempty"`
	CBPE            *CBPE        `json:"cbpe,omitempty"`
	Alerts          []Alert      `json:"alerts,omitempty"` // raised by this check
	Notes           []string     `json:"notes,omitempty"`
}

// Value is a metric of the check for alert rules (see ValidMetric); false
// when the check has no such value.
func (c *CheckReport) Value(metric string) (float64, bool) {
	ok := func(v float64) (float64, bool) { return v, !math.IsNaN(v) && !math.IsInf(v, 0) }
	switch {
	case metric == "predictions":
		return float64(c.Predictions), true
	case metric == "dataset_drift_share":
		if c.Drift != nil {
			return ok(c.Drift.Share)
		}
	case metric == "prediction_drift":
		if c.PredictionDrift != nil && c.PredictionDrift.Error == "" {
			return ok(c.PredictionDrift.Score())
		}
	case strings.HasPrefix(metric, "drift:"):
		if c.Drift != nil {
			for _, col := range c.Drift.Columns {
				if col.Name == metric[len("drift:"):] && col.Error == "" {
					return ok(col.Score())
				}
			}
		}
	case strings.HasPrefix(metric, "cbpe_"):
		if c.CBPE != nil {
			if v, found := c.CBPE.Metrics[metric[len("cbpe_"):]]; found {
				return ok(float64(v))
			}
		}
	default:
		if c.Performance != nil {
			if iv, found := c.Performance.Metrics[metric]; found {
				return ok(float64(iv.Estimate))
			}
		}
	}
	return math.NaN(), false
}

var columnRE = regexp.MustCompile(`^drift:[A-Za-z0-9_.\-]{1,128}$`)

// ValidMetric reports whether an alert rule may watch metric:
// dataset_drift_share, prediction_drift, drift:<input> (the drift score:
// the distance, or 1 − p for tests), predictions (volume), the live
// metrics (sensitivity, specificity, ppv, npv, accuracy, roc_auc) and their
// CBPE estimates (cbpe_sensitivity, …).
func ValidMetric(m string) bool {
	if m == "dataset_drift_share" || m == "prediction_drift" || m == "predictions" || columnRE.MatchString(m) {
		return true
	}
	return slices.Contains(LiveMetrics, strings.TrimPrefix(m, "cbpe_"))
}

// modelVersion is the version a check watches: the one in production, or
// else the newest.
func (s *Service) modelVersion(ctx context.Context, modelName string) (registry.Version, error) {
	v, err := s.src.Registry.InEnvironment(ctx, modelName, "production")
	if err == nil || !errs.Is(err, errs.NotFound) {
		return v, err
	}
	vs, err := s.src.Registry.Versions(ctx, modelName)
	if err != nil {
		return registry.Version{}, err
	}
	if len(vs) == 0 {
		return registry.Version{}, errs.NotFoundf("model %q not found", modelName)
	}
	return vs[0], nil
}

// Check checks a model's version in production (else its newest version)
// over the last window: drift of each input against the training data,
// prediction drift, live performance where feedback gives outcomes, and
// CBPE; it stores the report and raises the alerts of the rules on this
// window. The caller must be allowed to read the training dataset.
func (s *Service) Check(ctx context.Context, modelName string, win time.Duration) (CheckReport, error) {
	return s.CheckWith(ctx, modelName, CheckOptions{Window: win})
}

// CheckOptions tune a check.
type CheckOptions struct {
	Window time.Duration // predictions logged over the last Window (0 → DefaultWindow)
	// LastLabelled, when positive, computes the live metrics on the last
	// LastLabelled labelled predictions, whenever logged, instead of the
	// labelled predictions of the window (at most MaxLastLabelled).
	LastLabelled int
}

// MaxLastLabelled bounds CheckOptions.LastLabelled.
const MaxLastLabelled = 100_000

// CheckWith is Check with options.
func (s *Service) CheckWith(ctx context.Context, modelName string, o CheckOptions) (CheckReport, error) {
	if o.LastLabelled < 0 || o.LastLabelled > MaxLastLabelled {
		return CheckReport{}, errs.Invalidf("last labelled predictions: want 1 to %d", MaxLastLabelled)
	}
	if s.src.Registry == nil {
		return CheckReport{}, errs.Conflictf("monitoring is not configured on this server")
	}
	v, err := s.modelVersion(ctx, modelName)
	if err != nil {
		return CheckReport{}, err
	}
	return s.checkVersion(ctx, v, o)
}

func (s *Service) checkVersion(ctx context.Context, v registry.Version, o CheckOptions) (CheckReport, error) {
	win := o.Window
	if win <= 0 {
		win = DefaultWindow
	}
	now := s.now().UTC()
	rep := CheckReport{Project: v.Project, Model: v.Model, Version: v.Version, At: now, Window: FormatWindow(win)}
	ref, err := s.reference(ctx, v)
	if err != nil {
		return rep, err
	}
	rep.Reference = ref.info
	cur, err := s.current(ctx, v, ref, now.Add(-win), o.LastLabelled)
	if err != nil {
		return rep, err
	}
	rep.Predictions, rep.Labelled = len(cur.scores), len(cur.y)
	rep.LabelledScope = "the window"
	if o.LastLabelled > 0 {
		rep.LabelledScope = fmt.Sprintf("the last %d labelled predictions", o.LastLabelled)
	}
	if rep.Predictions == 0 {
		rep.Notes = append(rep.Notes, "no prediction logged in the window: nothing to compare")
	} else {
		d, err := DriftDataset(ref.cols, cur.cols, Options{})
		if err != nil {
			return rep, err
		}
		rep.Drift = &d
		pd := DriftColumn(Column{Name: PredictionColumn, Num: ref.scores}, Column{Name: PredictionColumn, Num: cur.scores}, Options{})
		rep.PredictionDrift = &pd
		if ref.model.Task == model.Binary {
			scores := present2(cur.scores)
			if e, err := EstimateCBPE(scores, ref.info.Threshold); err == nil {
				CBPEIntervals(&e, scores, 0.95, 0)
				rep.CBPE = &e
			} else {
				rep.Notes = append(rep.Notes, "CBPE: "+err.Error())
			}
		}
	}
	switch {
	case ref.model.Task != model.Binary:
		rep.Notes = append(rep.Notes, "live performance and CBPE are computed for binary classifiers only")
	case rep.Labelled < MinLabelled:
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d labelled prediction(s) in %s: live metrics need at least %d", rep.Labelled, rep.LabelledScope, MinLabelled))
	default:
		p, err := MeasurePerformance(cur.y, cur.ys, PerfOptions{Threshold: ref.info.Threshold})
		if err != nil {
			rep.Notes = append(rep.Notes, "live performance: "+err.Error())
		} else {
			rep.Performance = &p
		}
	}
	if err := s.store(ctx, v.ID, &rep); err != nil {
		return rep, err
	}
	rules, err := s.Rules(ctx, v.Project, v.Model)
	if err != nil {
		return rep, err
	}
	for _, r := range rules {
		if r.Window != rep.Window {
			continue
		}
		if a, fired, err := s.evaluate(ctx, r, &rep); err != nil {
			return rep, err
		} else if fired {
			rep.Alerts = append(rep.Alerts, a)
		}
	}
	return rep, nil
}

func present2(x []float64) []float64 {
	out, _ := present(x)
	return out
}

func (s *Service) store(ctx context.Context, versionID int64, rep *CheckReport) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	return s.db.QueryRow(ctx, `INSERT INTO monitor_checks (model_version_id, at, time_window, report) VALUES (?, ?, ?, ?) RETURNING id`,
		versionID, rep.At, rep.Window, string(b)).Scan(&rep.ID)
}

// Checks returns a model's stored checks on window ("" for every window),
// newest first, at most limit (1 to 500, default 100).
func (s *Service) Checks(ctx context.Context, modelName, win string, limit int) ([]CheckReport, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	q := `SELECT c.id, c.report FROM monitor_checks c JOIN model_versions mv ON mv.id = c.model_version_id JOIN models m ON m.id = mv.model_id WHERE m.name = ?`
	args := []any{modelName}
	if win != "" {
		q += ` AND c.time_window = ?`
		args = append(args, win)
	}
	q += fmt.Sprintf(` ORDER BY c.at DESC, c.id DESC LIMIT %d`, limit)
	return db.All(ctx, s.db, func(sc db.Scanner) (CheckReport, error) {
		var c CheckReport
		var id int64
		var b string
		if err := sc.Scan(&id, &b); err != nil {
			return c, err
		}
		err := json.Unmarshal([]byte(b), &c)
		c.ID = id
		return c, err
	}, q, args...)
}

// LatestCheck returns a model's latest check on window ("" for any).
func (s *Service) LatestCheck(ctx context.Context, modelName, win string) (CheckReport, error) {
	cs, err := s.Checks(ctx, modelName, win, 1)
	if err != nil {
		return CheckReport{}, err
	}
	if len(cs) == 0 {
		return CheckReport{}, errs.NotFoundf("model %q has no monitoring check yet", modelName)
	}
	return cs[0], nil
}

// AlertRule raises an alert when a check's metric compares to the
// threshold by op, on checks over the rule's window.
type AlertRule struct {
	ID        int64     `json:"id"`
	Project   string    `json:"project"`
	Model     string    `json:"model"`
	Metric    string    `json:"metric"`
	Op        string    `json:"op"` // <, <=, >, >=
	Threshold float64   `json:"threshold"`
	Window    string    `json:"window"`
	Webhook   string    `json:"webhook_url,omitempty"`
	SecretEnv string    `json:"secret_env,omitempty"` // environment variable with the HMAC key
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Firing tells whether the condition held at the last check that had
	// the metric, since FiringSince: the rule alerted then, and will not
	// again until it has cleared (a "resolved" alert).
	Firing      bool       `json:"firing"`
	FiringSince *time.Time `json:"firing_since,omitempty"`
}

func (r AlertRule) String() string {
	return fmt.Sprintf("%s %s %g over %s", r.Metric, r.Op, r.Threshold, r.Window)
}

func (r AlertRule) fires(v float64) bool {
	switch r.Op {
	case "<":
		return v < r.Threshold
	case "<=":
		return v <= r.Threshold
	case ">":
		return v > r.Threshold
	case ">=":
		return v >= r.Threshold
	}
	return false
}

var envRE = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}$`)

// CreateRule adds an alert rule on a model of project (model.promote).
func (s *Service) CreateRule(ctx context.Context, project string, r AlertRule) (AlertRule, error) {
	if err := auth.Require(ctx, project, auth.PermModelPromote); err != nil {
		return AlertRule{}, err
	}
	if !ValidMetric(r.Metric) {
		return AlertRule{}, errs.Invalidf("metric %q: want dataset_drift_share, prediction_drift, drift:<input>, predictions, %s or cbpe_<metric>", r.Metric, strings.Join(LiveMetrics, ", "))
	}
	if !slices.Contains([]string{"<", "<=", ">", ">="}, r.Op) {
		return AlertRule{}, errs.Invalidf("op %q: want <, <=, > or >=", r.Op)
	}
	if math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) {
		return AlertRule{}, errs.Invalidf("threshold must be a finite number")
	}
	w, err := ParseWindow(r.Window)
	if err != nil {
		return AlertRule{}, err
	}
	r.Window = FormatWindow(w)
	if r.Webhook != "" {
		u, err := url.Parse(r.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(r.Webhook) > 2000 {
			return AlertRule{}, errs.Invalidf("webhook_url must be an http or https URL")
		}
	}
	if r.SecretEnv != "" && !envRE.MatchString(r.SecretEnv) {
		return AlertRule{}, errs.Invalidf("secret_env must name an environment variable (A-Z, 0-9, _)")
	}
	owner, err := s.src.Registry.ProjectOfModel(ctx, r.Model)
	if err != nil || owner != project {
		return AlertRule{}, errs.NotFoundf("model %q not found in project %q", r.Model, project)
	}
	r.Project, r.CreatedBy, r.CreatedAt = project, audit.ActorFrom(ctx), s.now().UTC()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO alert_rules (project_id, model, metric, op, threshold, time_window, webhook_url, secret_env, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			pid, r.Model, r.Metric, r.Op, r.Threshold, r.Window, r.Webhook, r.SecretEnv, r.CreatedBy, r.CreatedAt).Scan(&r.ID); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "monitoring.rule.create", Project: project, Target: "model:" + r.Model, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"rule_id": r.ID, "rule": r.String()})})
	})
	return r, err
}

const ruleCols = `r.id, p.name, r.model, r.metric, r.op, r.threshold, r.time_window, r.webhook_url, r.secret_env, r.created_by, r.created_at, r.firing, r.firing_since`

func scanRule(sc db.Scanner) (AlertRule, error) {
	var r AlertRule
	var firing int
	var since sql.NullTime
	err := sc.Scan(&r.ID, &r.Project, &r.Model, &r.Metric, &r.Op, &r.Threshold, &r.Window, &r.Webhook, &r.SecretEnv, &r.CreatedBy, &r.CreatedAt, &firing, &since)
	r.CreatedAt, r.Firing = r.CreatedAt.UTC(), firing != 0
	if since.Valid {
		t := since.Time.UTC()
		r.FiringSince = &t
	}
	return r, err
}

// Rules lists the alert rules on a model of project.
func (s *Service) Rules(ctx context.Context, project, modelName string) ([]AlertRule, error) {
	return db.All(ctx, s.db, scanRule, `SELECT `+ruleCols+` FROM alert_rules r JOIN projects p ON p.id = r.project_id WHERE p.name = ? AND r.model = ? ORDER BY r.id`, project, modelName)
}

// DeleteRule removes an alert rule of a model of project, with its alerts.
func (s *Service) DeleteRule(ctx context.Context, project, modelName string, id int64) error {
	if err := auth.Require(ctx, project, auth.PermModelPromote); err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM alert_rules WHERE id = ? AND model = ? AND project_id = (SELECT id FROM projects WHERE name = ?)`, id, modelName, project)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("alert rule %d not found on model %q", id, modelName)
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "monitoring.rule.delete", Project: project, Target: "model:" + modelName, Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"rule_id": id})})
	})
}

// Alert kinds: a rule's condition started to hold, or cleared.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is an alert a rule raised on a check: when its condition started
// to hold (kind firing), or when it cleared (kind resolved).
type Alert struct {
	ID      int64     `json:"id"`
	RuleID  int64     `json:"rule_id"`
	CheckID int64     `json:"check_id"`
	Metric  string    `json:"metric"`
	Kind    string    `json:"kind"`
	At      time.Time `json:"at"`
	Value   float64   `json:"value"`
	Message string    `json:"message"`
}

// Alerts lists the latest alerts on a model of project, newest first.
func (s *Service) Alerts(ctx context.Context, project, modelName string, limit int) ([]Alert, error) {
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	return db.All(ctx, s.db, func(sc db.Scanner) (Alert, error) {
		var a Alert
		err := sc.Scan(&a.ID, &a.RuleID, &a.CheckID, &a.Metric, &a.Kind, &a.At, &a.Value, &a.Message)
		a.At = a.At.UTC()
		return a, err
	}, `SELECT a.id, a.rule_id, a.check_id, r.metric, a.kind, a.at, a.value, a.message FROM alerts a JOIN alert_rules r ON r.id = a.rule_id JOIN projects p ON p.id = r.project_id
		WHERE p.name = ? AND r.model = ? ORDER BY a.at DESC, a.id DESC`+fmt.Sprintf(` LIMIT %d`, limit), project, modelName)
}

// AlertNotification is the JSON body POSTed to a rule's webhook. It names
// the model, the metric and its value, never patient data.
type AlertNotification struct {
	Event     string    `json:"event"` // monitoring.alert, or monitoring.resolved when the condition cleared
	Project   string    `json:"project"`
	Model     string    `json:"model"`
	Version   int       `json:"version"`
	RuleID    int64     `json:"rule_id"`
	CheckID   int64     `json:"check_id"`
	Metric    string    `json:"metric"`
	Op        string    `json:"op"`
	Threshold float64   `json:"threshold"`
	Value     float64   `json:"value"`
	Window    string    `json:"window"`
	At        time.Time `json:"at"`
	Message   string    `json:"message"`
}

// evaluate updates the rule's state with rep: when its condition starts
// to hold it records a firing alert and calls the webhook (event
// monitoring.alert); while it keeps holding, nothing more; when it clears,
// a resolved alert and a call (event monitoring.resolved). A check without
// the metric leaves the state as it is. The state changes with a
// compare-and-set, so concurrent checks alert once.
func (s *Service) evaluate(ctx context.Context, r AlertRule, rep *CheckReport) (Alert, bool, error) {
	v, ok := rep.Value(r.Metric)
	if !ok {
		return Alert{}, false, nil
	}
	fires := r.fires(v)
	if fires == r.Firing {
		return Alert{}, false, nil
	}
	a := Alert{RuleID: r.ID, CheckID: rep.ID, Metric: r.Metric, Kind: AlertFiring, At: rep.At, Value: v,
		Message: fmt.Sprintf("%s v%d: %s = %s %s %g over %s", rep.Model, rep.Version, r.Metric, strconv.FormatFloat(v, 'g', 4, 64), r.Op, r.Threshold, r.Window)}
	event := "monitoring.alert"
	if !fires {
		a.Kind, event = AlertResolved, "monitoring.resolved"
		a.Message = fmt.Sprintf("resolved: %s v%d: %s = %s, no longer %s %g over %s", rep.Model, rep.Version, r.Metric, strconv.FormatFloat(v, 'g', 4, 64), r.Op, r.Threshold, r.Window)
	}
	changed := false
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		var since any
		if fires {
			since = rep.At
		}
		res, err := tx.Exec(ctx, `UPDATE alert_rules SET firing = ?, firing_since = ? WHERE id = ? AND firing = ?`, boolInt(fires), since, r.ID, boolInt(r.Firing))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil // another check changed the state meanwhile
		}
		changed = true
		return tx.QueryRow(ctx, `INSERT INTO alerts (rule_id, check_id, kind, at, value, message) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			a.RuleID, a.CheckID, a.Kind, a.At, a.Value, a.Message).Scan(&a.ID)
	})
	if err != nil || !changed {
		return a, false, err
	}
	if r.Webhook != "" {
		s.post(ctx, r, AlertNotification{Event: event, Project: rep.Project, Model: rep.Model, Version: rep.Version, RuleID: r.ID, CheckID: rep.ID,
			Metric: r.Metric, Op: r.Op, Threshold: r.Threshold, Value: v, Window: r.Window, At: rep.At, Message: a.Message})
	}
	return a, true, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// post sends an alert to the rule's webhook in the background (see
// internal/webhook: signed when secret_env is set).
func (s *Service) post(ctx context.Context, r AlertRule, n AlertNotification) {
	s.webhooks.Post(ctx, r.Webhook, r.SecretEnv, n.Project, n)
}

// WaitWebhooks waits for the alerts in flight (tests, shutdown).
func (s *Service) WaitWebhooks() { s.webhooks.Wait() }

// SystemUser is the name scheduled checks act under.
const SystemUser = "hygie-monitor"

// systemContext acts as the monitor in project: it reads the training
// data of the project's models (dataset.read) to compare them with the
// predictions; what it stores are aggregates only.
func systemContext(ctx context.Context, project string) context.Context {
	return auth.WithPrincipal(ctx, &auth.Principal{Username: SystemUser, Roles: map[string][]auth.Role{project: {auth.RoleScientist}}})
}

// RunChecks checks every model version in production, over the default
// window and every window an alert rule of the model uses, and raises the
// rules' alerts. It returns the checks made; a model that cannot be
// checked does not stop the others (its error is joined in the result).
func (s *Service) RunChecks(ctx context.Context) ([]CheckReport, error) {
	if s.src.Registry == nil {
		return nil, errs.Conflictf("monitoring is not configured on this server")
	}
	type prod struct {
		id      int64
		project string
		model   string
		version int
	}
	ps, err := db.All(ctx, s.db, func(sc db.Scanner) (prod, error) {
		var p prod
		return p, sc.Scan(&p.id, &p.project, &p.model, &p.version)
	}, `SELECT mv.id, p.name, m.name, mv.version FROM model_versions mv JOIN models m ON m.id = mv.model_id JOIN projects p ON p.id = m.project_id
		WHERE mv.environment = 'production' ORDER BY p.name, m.name`)
	if err != nil {
		return nil, err
	}
	var out []CheckReport
	var errList []error
	for _, p := range ps {
		pctx := systemContext(ctx, p.project)
		v, err := s.src.Registry.Version(pctx, p.model, p.version)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		wins := []string{FormatWindow(DefaultWindow)}
		rules, err := s.Rules(pctx, p.project, p.model)
		if err != nil {
			errList = append(errList, err)
			continue
		}
		for _, r := range rules {
			if !slices.Contains(wins, r.Window) {
				wins = append(wins, r.Window)
			}
		}
		for _, w := range wins {
			d, _ := ParseWindow(w)
			rep, err := s.checkVersion(pctx, v, CheckOptions{Window: d})
			if err != nil {
				errList = append(errList, fmt.Errorf("model %s v%d: %w", p.model, p.version, err))
				continue
			}
			out = append(out, rep)
		}
	}
	return out, errors.Join(errList...)
}

// Schedule runs RunChecks every interval until ctx is done (nothing when
// every ≤ 0). The first run is one interval after the start.
func (s *Service) Schedule(ctx context.Context, every time.Duration, log *slog.Logger) {
	if every <= 0 {
		return
	}
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			start := time.Now()
			reps, err := s.RunChecks(ctx)
			alerts := 0
			for _, r := range reps {
				alerts += len(r.Alerts)
			}
			log.Info("monitoring checks", "checks", len(reps), "alerts", alerts, "duration_ms", time.Since(start).Milliseconds())
			if err != nil && ctx.Err() == nil {
				log.Warn("monitoring checks failed", "error", err.Error())
			}
		}
	}
}
