package registry

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
)

// Policy is a project's gate policy: what a model version must show before
// it enters each environment. It is written in YAML (see docs/registry.md):
//
//	confidence_level: 0.95
//	prevalence: 0.10
//	environments:
//	  integration:
//	    metrics:
//	      - {metric: sensitivity, min: 0.80}   # on the CI's lower bound
//	      - {metric: brier, max: 0.15}         # on the CI's upper bound
//	    min_test_rows: 200
//	    min_positives: 30
//	    subgroups: {column: sexe, metric: roc_auc, min: 0.65, max_gap: 0.10}
//	    signoffs: 1
//	    privacy_audit: {max_advantage: 0.10}
//	    clinical_tests: true
//	    no_regression: {metric: roc_auc, margin: 0.02}
//	webhooks:
//	  - {url: "https://chat.hopital.fr/hooks/models", secret_env: HYGIE_WEBHOOK_SECRET}
type Policy struct {
	// Level is the confidence level the runs' intervals must have been
	// computed at (default 0.95).
	Level float64 `yaml:"confidence_level,omitempty" json:"confidence_level"`
	// Prevalence is the expected prevalence of the target population: runs
	// gated on ppv_at_prevalence or npv_at_prevalence must have been
	// evaluated at it.
	Prevalence   float64               `yaml:"prevalence,omitempty" json:"prevalence,omitempty"`
	Environments map[string]*EnvPolicy `yaml:"environments,omitempty" json:"environments,omitempty"`
	Webhooks     []Webhook             `yaml:"webhooks,omitempty" json:"webhooks,omitempty"`
}

// EnvPolicy are the gates of one environment.
type EnvPolicy struct {
	Metrics       []Threshold     `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	MinTestRows   int             `yaml:"min_test_rows,omitempty" json:"min_test_rows,omitempty"`
	MinPositives  int             `yaml:"min_positives,omitempty" json:"min_positives,omitempty"`
	Subgroups     *SubgroupRule   `yaml:"subgroups,omitempty" json:"subgroups,omitempty"`
	Signoffs      int             `yaml:"signoffs,omitempty" json:"signoffs,omitempty"`
	PrivacyAudit  *AuditRule      `yaml:"privacy_audit,omitempty" json:"privacy_audit,omitempty"`
	ClinicalTests bool            `yaml:"clinical_tests,omitempty" json:"clinical_tests,omitempty"`
	NoRegression  *RegressionRule `yaml:"no_regression,omitempty" json:"no_regression,omitempty"`
}

// Threshold bounds a test metric: Min on the lower end of its confidence
// interval, Max on the upper end.
type Threshold struct {
	Metric string   `yaml:"metric" json:"metric"`
	Min    *float64 `yaml:"min,omitempty" json:"min,omitempty"`
	Max    *float64 `yaml:"max,omitempty" json:"max,omitempty"`
}

// SubgroupRule: in every (unsuppressed) subgroup of Column, Metric is at
// least Min and within MaxGap of the overall value (either may be 0: off).
type SubgroupRule struct {
	Column string  `yaml:"column" json:"column"`
	Metric string  `yaml:"metric" json:"metric"`
	Min    float64 `yaml:"min,omitempty" json:"min,omitempty"`
	MaxGap float64 `yaml:"max_gap,omitempty" json:"max_gap,omitempty"`
}

// AuditRule: a membership-inference audit of the version's training run
// whose advantage (upper end of its interval) is at most MaxAdvantage.
type AuditRule struct {
	MaxAdvantage float64 `yaml:"max_advantage" json:"max_advantage"`
}

// RegressionRule: Metric may not be worse than the version currently in
// the target environment by more than Margin (point estimates).
type RegressionRule struct {
	Metric string  `yaml:"metric" json:"metric"`
	Margin float64 `yaml:"margin" json:"margin"`
}

// Webhook is notified of promotions and refusals. SecretEnv names an
// environment variable of the server holding the HMAC key (the secret
// itself is never stored in the policy).
type Webhook struct {
	URL       string `yaml:"url" json:"url"`
	SecretEnv string `yaml:"secret_env,omitempty" json:"secret_env,omitempty"`
}

// Metric names a policy may use, and whether higher is better.
var policyMetrics = map[string]bool{
	"roc_auc": true, "average_precision": true, "sensitivity": true, "specificity": true, "ppv": true, "npv": true,
	"f1": true, "accuracy": true, "balanced_accuracy": true, "jaccard": true, "ppv_at_prevalence": true, "npv_at_prevalence": true,
	"brier": false, "mse": false, "rmse": false, "mae": false, "r2": true,
}

// subgroupMetrics are the metrics subgroup reports carry.
var subgroupMetrics = []string{"roc_auc", "average_precision", "sensitivity", "specificity", "ppv", "npv", "f1", "accuracy", "balanced_accuracy", "brier"}

// HigherIsBetter reports a policy metric's direction.
func HigherIsBetter(metric string) bool { return policyMetrics[metric] }

// PolicyEnvironments are the environments a policy may set gates for.
var PolicyEnvironments = []string{"dev", "test", "integration", "production"}

func knownMetrics() string {
	names := make([]string, 0, len(policyMetrics))
	for m := range policyMetrics {
		names = append(names, m)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ParsePolicy reads and checks a YAML (or JSON) policy. Errors name the
// environment and field, with the line where YAML gives one.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && !errors.Is(err, io.EOF) { // empty: no gates
		return nil, errs.Invalidf("gate policy: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	return &p, nil
}

// Check validates a policy and fills defaults.
func (p *Policy) Check() error {
	if p.Level == 0 {
		p.Level = 0.95
	}
	if !(p.Level > 0.5 && p.Level < 1) {
		return errs.Invalidf("gate policy: confidence_level must be in (0.5, 1), got %v", p.Level)
	}
	if !(p.Prevalence >= 0 && p.Prevalence < 1) {
		return errs.Invalidf("gate policy: prevalence must be in [0, 1), got %v", p.Prevalence)
	}
	for env, e := range p.Environments {
		where := "gate policy: environments." + env
		if !slices.Contains(PolicyEnvironments, env) {
			return errs.Invalidf("%s: unknown environment (want %s)", where, strings.Join(PolicyEnvironments, ", "))
		}
		if e == nil {
			p.Environments[env] = &EnvPolicy{}
			continue
		}
		for i, t := range e.Metrics {
			w := fmt.Sprintf("%s.metrics[%d]", where, i)
			if _, ok := policyMetrics[t.Metric]; !ok {
				return errs.Invalidf("%s: unknown metric %q (known: %s)", w, t.Metric, knownMetrics())
			}
			if t.Min == nil && t.Max == nil {
				return errs.Invalidf("%s: %s needs min or max", w, t.Metric)
			}
			for _, v := range []*float64{t.Min, t.Max} {
				if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0)) {
					return errs.Invalidf("%s: %s bound must be a finite number", w, t.Metric)
				}
			}
			if (t.Metric == "ppv_at_prevalence" || t.Metric == "npv_at_prevalence") && p.Prevalence == 0 {
				return errs.Invalidf("%s: %s needs the policy's prevalence", w, t.Metric)
			}
		}
		if e.MinTestRows < 0 || e.MinPositives < 0 || e.Signoffs < 0 {
			return errs.Invalidf("%s: min_test_rows, min_positives and signoffs must not be negative", where)
		}
		if s := e.Subgroups; s != nil {
			if s.Column == "" || !slices.Contains(subgroupMetrics, s.Metric) {
				return errs.Invalidf("%s.subgroups: want a column and a metric among %s", where, strings.Join(subgroupMetrics, ", "))
			}
			if s.Min == 0 && s.MaxGap == 0 || s.MaxGap < 0 {
				return errs.Invalidf("%s.subgroups: set min, max_gap (≥ 0) or both", where)
			}
		}
		if a := e.PrivacyAudit; a != nil && !(a.MaxAdvantage > 0 && a.MaxAdvantage <= 1) {
			return errs.Invalidf("%s.privacy_audit: max_advantage must be in (0, 1], got %v", where, a.MaxAdvantage)
		}
		if r := e.NoRegression; r != nil {
			if _, ok := policyMetrics[r.Metric]; !ok {
				return errs.Invalidf("%s.no_regression: unknown metric %q (known: %s)", where, r.Metric, knownMetrics())
			}
			if !(r.Margin >= 0) {
				return errs.Invalidf("%s.no_regression: margin must be ≥ 0", where)
			}
		}
	}
	for i, w := range p.Webhooks {
		u, err := url.Parse(w.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errs.Invalidf("gate policy: webhooks[%d]: url must be an http(s) URL", i)
		}
	}
	return nil
}

// YAML renders the policy.
func (p *Policy) YAML() []byte {
	b, _ := yaml.Marshal(p)
	return b
}

// SetPolicy replaces a project's gate policy (YAML). The acting principal
// needs project.manage: gates are the clinical team's decision, recorded in
// the audit log with the policy's digest.
func (s *Service) SetPolicy(ctx context.Context, project string, doc []byte) (*Policy, error) {
	if err := auth.Require(ctx, project, auth.PermProjectManage); err != nil {
		return nil, err
	}
	p, err := ParsePolicy(doc)
	if err != nil {
		return nil, err
	}
	text := string(p.YAML())
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		var pid int64
		if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE name = ?`, project).Scan(&pid); err != nil {
			return db.NotFound(err, "project %q not found", project)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM gate_policies WHERE project_id = ?`, pid); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO gate_policies (project_id, policy, updated_at, updated_by) VALUES (?, ?, ?, ?)`,
			pid, text, s.now().UTC(), audit.ActorFrom(ctx)); err != nil {
			return err
		}
		return s.audit.AppendTx(ctx, tx, audit.Event{Action: "gate.policy", Project: project, Target: "policy", Outcome: audit.Success,
			Detail: audit.MarshalDetail(map[string]any{"policy": text})})
	})
	return p, err
}

// Policy returns a project's gate policy (an empty policy when none is set).
func (s *Service) Policy(ctx context.Context, project string) (*Policy, error) {
	var text string
	err := s.db.QueryRow(ctx, `SELECT g.policy FROM gate_policies g JOIN projects p ON p.id = g.project_id WHERE p.name = ?`, project).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		p := &Policy{}
		return p, p.Check()
	}
	if err != nil {
		return nil, err
	}
	return ParsePolicy([]byte(text))
}
