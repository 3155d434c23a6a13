package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/evaluate"
)

// Card is a model version's model card: what it is for, what it was
// trained and tested on, how well and how uncertainly it performs, what
// the privacy audit found, who signed it off and where it has been.
type Card struct {
	Model       string            `json:"model"`
	Version     int               `json:"version"`
	Project     string            `json:"project"`
	Environment string            `json:"environment"`
	Description string            `json:"description,omitempty"`
	CreatedBy   string            `json:"created_by"`
	CreatedAt   time.Time         `json:"created_at"`
	Learner     string            `json:"learner,omitempty"`
	Task        string            `json:"task,omitempty"`
	Target      string            `json:"target,omitempty"`
	Positive    string            `json:"positive,omitempty"`
	Inputs      []Tensor          `json:"inputs"`
	Dataset     string            `json:"dataset,omitempty"`
	Split       string            `json:"split,omitempty"`
	TrainRows   string            `json:"train_rows,omitempty"`
	TestRows    string            `json:"test_rows,omitempty"`
	RunID       *int64            `json:"run_id,omitempty"`
	Level       string            `json:"confidence_level,omitempty"`
	Metrics     []CardMetric      `json:"metrics"`
	CV          map[string]string `json:"cross_validation,omitempty"`
	Subgroups   []CardSubgroup    `json:"subgroups,omitempty"`
	Audit       string            `json:"privacy_audit"`
	Signoffs    []Signoff         `json:"signoffs"`
	Promotions  []Promotion       `json:"promotions"`
	Cases       []CaseResult      `json:"clinical_cases,omitempty"`
	Limitations []string          `json:"limitations"`
}

// CardMetric is a test metric with its interval.
type CardMetric struct {
	Name     string   `json:"name"`
	Estimate float64  `json:"estimate"`
	Low      *float64 `json:"ci_low,omitempty"`
	High     *float64 `json:"ci_high,omitempty"`
}

// CardSubgroup is one subgroup's headline figures.
type CardSubgroup struct {
	Column      string `json:"column"`
	Group       string `json:"group"`
	Suppressed  bool   `json:"suppressed"`
	N           int    `json:"n,omitempty"`
	ROCAUC      string `json:"roc_auc,omitempty"`
	Sensitivity string `json:"sensitivity,omitempty"`
	Specificity string `json:"specificity,omitempty"`
}

// cardMetrics lists, in order, the metrics a card shows when the run has them.
var cardMetrics = []string{"roc_auc", "average_precision", "sensitivity", "specificity", "ppv", "npv", "ppv_at_prevalence", "npv_at_prevalence",
	"f1", "balanced_accuracy", "accuracy", "brier", "calibration_slope", "calibration_intercept", "mse", "rmse", "mae", "r2"}

// Card assembles a version's model card.
func (s *Service) Card(ctx context.Context, model string, version int) (*Card, error) {
	v, err := s.Version(ctx, model, version)
	if err != nil {
		return nil, err
	}
	c := &Card{Model: model, Version: version, Project: v.Project, Environment: v.Environment, CreatedBy: v.CreatedBy, CreatedAt: v.CreatedAt,
		Inputs: v.Signature.Inputs, RunID: v.RunID}
	if err := s.db.QueryRow(ctx, `SELECT description FROM models WHERE name = ?`, model).Scan(&c.Description); err != nil {
		return nil, err
	}
	if m, err := s.LoadModel(ctx, v); err == nil {
		c.Learner, c.Task, c.Target, c.Positive = m.Learner, m.Task, m.Target, m.Positive
	}
	if v.RunID != nil {
		run, err := s.runs.Get(ctx, *v.RunID)
		if err != nil {
			return nil, err
		}
		c.Dataset, c.Split, c.TrainRows, c.TestRows, c.Level = run.Params["dataset"], run.Params["split"], run.Params["train_rows"], run.Params["test_rows"], run.Params["confidence_level"]
		for _, name := range cardMetrics {
			est, ok := run.Metrics["test_"+name]
			if !ok {
				continue
			}
			m := CardMetric{Name: name, Estimate: est}
			if lo, ok := run.Metrics["test_"+name+"_ci_low"]; ok {
				hi := run.Metrics["test_"+name+"_ci_high"]
				m.Low, m.High = &lo, &hi
			}
			c.Metrics = append(c.Metrics, m)
		}
		for k, val := range run.Metrics {
			if strings.HasPrefix(k, "cv_") && strings.HasSuffix(k, "_mean") {
				name := strings.TrimSuffix(strings.TrimPrefix(k, "cv_"), "_mean")
				if c.CV == nil {
					c.CV = map[string]string{}
				}
				c.CV[name] = fmt.Sprintf("%.3f ± %.3f", val, run.Metrics["cv_"+name+"_sd"])
			}
		}
		if rc, err := s.runs.OpenArtifact(ctx, run.ID, "evaluation/report.json"); err == nil {
			var rep evalReport
			if json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(&rep) == nil {
				cols := make([]string, 0, len(rep.Subgroups))
				for col := range rep.Subgroups {
					cols = append(cols, col)
				}
				sort.Strings(cols)
				for _, col := range cols {
					for _, g := range rep.Subgroups[col].Groups {
						sg := CardSubgroup{Column: col, Group: g.Group, Suppressed: g.Suppressed}
						if g.Metrics != nil {
							sg.N = g.Metrics.N
							sg.ROCAUC, sg.Sensitivity, sg.Specificity = num(g.Metrics.ROCAUC), num(g.Metrics.Sensitivity), num(g.Metrics.Specificity)
						}
						c.Subgroups = append(c.Subgroups, sg)
					}
				}
			}
			rc.Close()
		}
		g, err := s.auditGate(ctx, facts{v: v, run: &run}, &AuditRule{MaxAdvantage: 1})
		if err != nil {
			return nil, err
		}
		c.Audit = g.Value
		if g.Value == "no audit" {
			c.Audit = "not run (" + g.Detail + ")"
		}
	}
	if c.Signoffs, err = s.Signoffs(ctx, model, version); err != nil {
		return nil, err
	}
	all, err := s.Promotions(ctx, model)
	if err != nil {
		return nil, err
	}
	for _, p := range all {
		if p.Version == version {
			c.Promotions = append(c.Promotions, p)
		}
	}
	c.Cases, _ = s.RunCases(ctx, v)
	c.Limitations = limitations(c)
	return c, nil
}

func num(n evaluate.Num) string {
	if math.IsNaN(float64(n)) {
		return "—"
	}
	return fmt.Sprintf("%.3f", float64(n))
}

// limitations states what the card's evidence does not cover.
func limitations(c *Card) []string {
	out := []string{
		"Evaluated retrospectively on data from the project's own source; performance on another hospital, period or population is unknown until monitored there.",
	}
	if c.Dataset == "" {
		out = append(out, "The version's training data is not recorded.")
	}
	if c.Task == "binary" {
		out = append(out, "Probabilities are calibrated to the training prevalence; PPV and NPV change with the prevalence where the model is used.")
	}
	if strings.HasPrefix(c.Audit, "not run") {
		out = append(out, "No membership-inference audit has been run: whether the model leaks its training records is unknown.")
	}
	if len(c.Signoffs) == 0 {
		out = append(out, "No clinician has signed this version off.")
	}
	for _, sg := range c.Subgroups {
		if sg.Suppressed {
			out = append(out, fmt.Sprintf("Some subgroups of %s are too small to report (suppressed).", sg.Column))
			break
		}
	}
	return out
}

// Markdown renders the card for printing or a wiki.
func (c *Card) Markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# Model card: %s version %d\n\n", c.Model, c.Version)
	p("Project %s · environment **%s** · registered by %s on %s\n\n", c.Project, c.Environment, c.CreatedBy, c.CreatedAt.Format("2006-01-02"))
	p("## Intended use\n\n")
	if c.Description != "" {
		p("%s\n\n", c.Description)
	}
	switch c.Task {
	case "binary":
		p("Estimates the probability that **%s** is `%s` (%s, binary classification).\n\n", c.Target, c.Positive, c.Learner)
	case "regression":
		p("Predicts **%s** (%s regression).\n\n", c.Target, c.Learner)
	}
	p("## Inputs\n\n| input | type |\n|---|---|\n")
	for _, in := range c.Inputs {
		p("| %s | %s |\n", in.Name, in.Datatype)
	}
	p("\n## Data and population\n\n")
	if c.Dataset != "" {
		p("- Dataset version: %s\n- Split: %s\n- Training rows: %s; test rows: %s\n", c.Dataset, c.Split, c.TrainRows, c.TestRows)
	}
	if c.RunID != nil {
		p("- Training run: %d\n", *c.RunID)
	}
	p("\n## Performance on the locked test split\n\n")
	if len(c.Metrics) > 0 {
		level := c.Level
		if level == "" {
			level = "0.95"
		}
		p("| metric | estimate | %s CI |\n|---|---|---|\n", level)
		for _, m := range c.Metrics {
			ci := "—"
			if m.Low != nil {
				ci = fmt.Sprintf("%.3f – %.3f", *m.Low, *m.High)
			}
			p("| %s | %.3f | %s |\n", m.Name, m.Estimate, ci)
		}
	} else {
		p("No test metrics recorded.\n")
	}
	if len(c.CV) > 0 {
		names := make([]string, 0, len(c.CV))
		for k := range c.CV {
			names = append(names, k)
		}
		sort.Strings(names)
		p("\nCross-validation on the training split (mean ± sd over folds): ")
		var parts []string
		for _, n := range names {
			parts = append(parts, n+" "+c.CV[n])
		}
		p("%s.\n", strings.Join(parts, "; "))
	}
	if len(c.Subgroups) > 0 {
		p("\n## Subgroups\n\n| column | group | n | ROC AUC | sensitivity | specificity |\n|---|---|---|---|---|---|\n")
		for _, s := range c.Subgroups {
			if s.Suppressed {
				p("| %s | %s | <10 | suppressed | | |\n", s.Column, s.Group)
				continue
			}
			p("| %s | %s | %d | %s | %s | %s |\n", s.Column, s.Group, s.N, s.ROCAUC, s.Sensitivity, s.Specificity)
		}
	}
	p("\n## Privacy audit\n\nMembership inference: %s\n", c.Audit)
	if len(c.Cases) > 0 {
		p("\n## Clinical test cases\n\n| case | predicted | expected | result |\n|---|---|---|---|\n")
		for _, r := range c.Cases {
			res := "pass"
			if !r.Pass {
				res = "**fail**"
			}
			p("| %s | %.3f | %s | %s |\n", r.Name, r.Predicted, r.Expected, res)
		}
	}
	p("\n## Sign-offs\n\n")
	if len(c.Signoffs) == 0 {
		p("None.\n")
	}
	for _, so := range c.Signoffs {
		p("- %s, for %s, on %s: %s\n", so.User, so.Environment, so.At.Format("2006-01-02"), so.Comment)
	}
	p("\n## Promotions\n\n")
	if len(c.Promotions) == 0 {
		p("None.\n")
	}
	for _, pr := range c.Promotions {
		p("- %s: %s → %s, **%s** by %s", pr.At.Format("2006-01-02 15:04"), pr.From, pr.To, pr.Outcome, pr.By)
		if pr.Override != "" {
			p(" (reason: %s)", pr.Override)
		}
		p("\n")
	}
	p("\n## Limitations\n\n")
	for _, l := range c.Limitations {
		p("- %s\n", l)
	}
	return b.String()
}

// SetDescription sets a model's intended use, shown on its cards. The
// principal needs model.write in the model's project.
func (s *Service) SetDescription(ctx context.Context, model, text string) error {
	project, err := s.ProjectOfModel(ctx, model)
	if err != nil {
		return err
	}
	if err := auth.Require(ctx, project, auth.PermModelWrite); err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `UPDATE models SET description = ? WHERE name = ?`, text, model)
	return err
}
