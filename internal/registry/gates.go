package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/hygie-health/hygie/internal/evaluate"
	"github.com/hygie-health/hygie/internal/track"
)

// GateResult is one gate checked for a promotion.
type GateResult struct {
	Gate      string `json:"gate"`      // what is checked, e.g. "sensitivity (lower bound of the 95% CI)"
	Value     string `json:"value"`     // what the version shows
	Threshold string `json:"threshold"` // what the policy asks
	Pass      bool   `json:"pass"`
	Detail    string `json:"detail,omitempty"`
}

func (g GateResult) String() string {
	verdict := "FAIL"
	if g.Pass {
		verdict = "pass"
	}
	s := fmt.Sprintf("%s %s: %s (need %s)", verdict, g.Gate, g.Value, g.Threshold)
	if g.Detail != "" {
		s += " — " + g.Detail
	}
	return s
}

// facts is what the gates of one promotion look at.
type facts struct {
	v       Version
	run     *track.Run
	report  *evalReport
	current *Version // the version now in the target environment
}

// evalReport is the part of a training run's evaluation/report.json the
// gates read.
type evalReport struct {
	Task      string                              `json:"task"`
	TestRows  int                                 `json:"test_rows"`
	Binary    *evaluate.Report                    `json:"binary"`
	Subgroups map[string]*evaluate.SubgroupReport `json:"subgroups_by"`
}

// evaluateGates checks the policy's gates for env (and the project's
// metric rules) against v.
func (s *Service) evaluateGates(ctx context.Context, v Version, env string, pol *Policy, rules []Rule) ([]GateResult, error) {
	f := facts{v: v}
	if v.RunID != nil {
		run, err := s.runs.Get(ctx, *v.RunID)
		if err != nil {
			return nil, err
		}
		f.run = &run
		if rc, err := s.runs.OpenArtifact(ctx, run.ID, "evaluation/report.json"); err == nil {
			var rep evalReport
			if json.NewDecoder(io.LimitReader(rc, 64<<20)).Decode(&rep) == nil {
				f.report = &rep
			}
			rc.Close()
		}
	}
	if cur, err := s.InEnvironment(ctx, v.Model, env); err == nil && cur.ID != v.ID {
		f.current = &cur
	}
	var out []GateResult
	metric := func(name string) (float64, bool) {
		if f.run == nil {
			return 0, false
		}
		x, ok := f.run.Metrics[name]
		return x, ok
	}
	for _, r := range rules {
		got, ok := metric(r.Metric)
		g := GateResult{Gate: "metric " + r.Metric, Threshold: fmt.Sprintf("%s %g", r.Op, r.Threshold), Value: "missing"}
		if ok {
			g.Value = fmt.Sprintf("%.4g", got)
			g.Pass = finite(got) && ((r.Op == "<=" && got <= r.Threshold) || (r.Op == ">=" && got >= r.Threshold))
		} else {
			g.Detail = "the run has no metric " + r.Metric
		}
		out = append(out, g)
	}
	e := pol.Environments[env]
	if e == nil {
		return out, nil
	}
	level := fmt.Sprintf("%g%%", pol.Level*100)
	if f.run != nil && len(e.Metrics) > 0 {
		if got := f.run.Params["confidence_level"]; got != "" && got != strconv.FormatFloat(pol.Level, 'g', -1, 64) {
			out = append(out, GateResult{Gate: "confidence level of the intervals", Value: got, Threshold: strconv.FormatFloat(pol.Level, 'g', -1, 64),
				Detail: "retrain with the policy's confidence level"})
		}
	}
	for _, t := range e.Metrics {
		est, _ := metric("test_" + t.Metric)
		if t.Metric == "ppv_at_prevalence" || t.Metric == "npv_at_prevalence" {
			want := strconv.FormatFloat(pol.Prevalence, 'g', -1, 64)
			got := ""
			if f.run != nil {
				got = f.run.Params["prevalence"]
			}
			if got != want {
				out = append(out, GateResult{Gate: t.Metric + " prevalence", Value: orNone(got), Threshold: want, Detail: "the run was not evaluated at the policy's prevalence"})
				continue
			}
		}
		for _, b := range []struct {
			bound *float64
			end   string
			cmp   string
		}{{t.Min, "lower", "≥"}, {t.Max, "upper", "≤"}} {
			if b.bound == nil {
				continue
			}
			key := "test_" + t.Metric + "_ci_low"
			if b.end == "upper" {
				key = "test_" + t.Metric + "_ci_high"
			}
			got, ok := metric(key)
			g := GateResult{Gate: fmt.Sprintf("%s (%s bound of the %s CI)", t.Metric, b.end, level), Threshold: fmt.Sprintf("%s %g", b.cmp, *b.bound), Value: "missing"}
			if ok {
				g.Value = fmt.Sprintf("%.4g (estimate %.4g)", got, est)
				g.Pass = finite(got) && ((b.end == "lower" && got >= *b.bound) || (b.end == "upper" && got <= *b.bound))
			} else {
				g.Detail = "the run has no interval for " + t.Metric
			}
			out = append(out, g)
		}
	}
	if e.MinTestRows > 0 {
		n, ok := metric("test_n")
		if !ok && f.report != nil {
			n, ok = float64(f.report.TestRows), true
		}
		out = append(out, countGate("test set size", n, ok, e.MinTestRows))
	}
	if e.MinPositives > 0 {
		n, ok := metric("test_positives")
		out = append(out, countGate("positive cases in the test set", n, ok, e.MinPositives))
	}
	if sg := e.Subgroups; sg != nil {
		out = append(out, subgroupGate(f, sg))
	}
	if e.Signoffs > 0 {
		users, err := s.validSignoffs(ctx, v, env)
		if err != nil {
			return nil, err
		}
		g := GateResult{Gate: "clinician sign-offs for " + env, Value: strconv.Itoa(len(users)), Threshold: "≥ " + strconv.Itoa(e.Signoffs), Pass: len(users) >= e.Signoffs}
		if len(users) > 0 {
			g.Detail = fmt.Sprint(users)
		}
		out = append(out, g)
	}
	if a := e.PrivacyAudit; a != nil {
		g, err := s.auditGate(ctx, f, a)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	if e.ClinicalTests {
		res, err := s.RunCases(ctx, v)
		g := GateResult{Gate: "clinical test cases", Threshold: "all pass"}
		switch {
		case err != nil:
			g.Value, g.Detail = "not run", err.Error()
		case len(res) == 0:
			g.Value, g.Detail = "none", "no clinical case is written for "+v.Model
		default:
			failed := 0
			for _, r := range res {
				if !r.Pass {
					failed++
					if g.Detail == "" {
						g.Detail = fmt.Sprintf("%q predicted %.3g, expected %s", r.Name, r.Predicted, r.Expected)
						if r.Error != "" {
							g.Detail = fmt.Sprintf("%q: %s", r.Name, r.Error)
						}
					}
				}
			}
			g.Value, g.Pass = fmt.Sprintf("%d/%d pass", len(res)-failed, len(res)), failed == 0
		}
		out = append(out, g)
	}
	if r := e.NoRegression; r != nil {
		out = append(out, s.regressionGate(ctx, f, r, env))
	}
	return out, nil
}

func countGate(what string, n float64, ok bool, min int) GateResult {
	g := GateResult{Gate: what, Threshold: "≥ " + strconv.Itoa(min), Value: "missing"}
	switch {
	case ok && !finite(n):
		g.Value = fmt.Sprint(n)
	case ok:
		g.Value, g.Pass = strconv.Itoa(int(n)), n >= float64(min)
	}
	return g
}

// finite reports whether a run's metric is a number a bound can be checked
// on: a NaN or ±Inf metric (MLflow clients may log them: a diverged
// training) fails every bound, never passes one.
func finite(x float64) bool {
	return !math.IsNaN(x) && !math.IsInf(x, 0)
}

func subgroupGate(f facts, sg *SubgroupRule) GateResult {
	g := GateResult{Gate: fmt.Sprintf("%s in every subgroup of %s", sg.Metric, sg.Column)}
	switch {
	case sg.Min > 0 && sg.MaxGap > 0:
		g.Threshold = fmt.Sprintf("≥ %g and within %g of the overall value", sg.Min, sg.MaxGap)
	case sg.Min > 0:
		g.Threshold = fmt.Sprintf("≥ %g", sg.Min)
	default:
		g.Threshold = fmt.Sprintf("within %g of the overall value", sg.MaxGap)
	}
	if f.report == nil || f.report.Binary == nil || f.report.Subgroups[sg.Column] == nil {
		g.Value, g.Detail = "missing", fmt.Sprintf("the run has no subgroup report for %s (train with subgroups: [%s])", sg.Column, sg.Column)
		return g
	}
	overall := binaryMetric(f.report.Binary.Metrics, sg.Metric)
	worst, worstGroup, checked := math.Inf(1), "", 0
	g.Pass = true
	for _, grp := range f.report.Subgroups[sg.Column].Groups {
		if grp.Suppressed || grp.Metrics == nil {
			continue
		}
		x := binaryMetric(*grp.Metrics, sg.Metric)
		if math.IsNaN(x) {
			continue
		}
		checked++
		if x < worst {
			worst, worstGroup = x, grp.Group
		}
		bad := (sg.Min > 0 && x < sg.Min) || (sg.MaxGap > 0 && math.Abs(x-overall) > sg.MaxGap)
		if sg.Metric == "brier" {
			bad = (sg.Min > 0 && x > sg.Min) || (sg.MaxGap > 0 && math.Abs(x-overall) > sg.MaxGap)
		}
		if bad {
			g.Pass = false
			g.Detail = fmt.Sprintf("subgroup %q: %.4g (overall %.4g)", grp.Group, x, overall)
		}
	}
	if checked == 0 {
		g.Value, g.Pass, g.Detail = "no subgroup large enough", false, "every subgroup was suppressed (fewer than the minimum rows)"
		return g
	}
	g.Value = fmt.Sprintf("lowest %.4g (%s), overall %.4g, %d subgroups", worst, worstGroup, overall, checked)
	return g
}

// binaryMetric picks a metric of a subgroup's metrics by name.
func binaryMetric(m evaluate.BinaryMetrics, name string) float64 {
	v := map[string]evaluate.Num{"roc_auc": m.ROCAUC, "average_precision": m.AveragePrecision, "sensitivity": m.Sensitivity,
		"specificity": m.Specificity, "ppv": m.PPV, "npv": m.NPV, "f1": m.F1, "accuracy": m.Accuracy,
		"balanced_accuracy": m.BalancedAccuracy, "brier": m.Brier}[name]
	return float64(v)
}

// auditGate looks for the latest finished membership-inference audit of
// the version's training run (a run tagged hygie.audit_of_run).
func (s *Service) auditGate(ctx context.Context, f facts, a *AuditRule) (GateResult, error) {
	g := GateResult{Gate: "membership-inference advantage (upper bound of its CI)", Threshold: fmt.Sprintf("≤ %g", a.MaxAdvantage), Value: "no audit"}
	if f.run == nil {
		g.Detail = "the version has no training run"
		return g, nil
	}
	var auditRun int64
	err := s.db.QueryRow(ctx, `SELECT r.id FROM runs r JOIN run_tags t ON t.run_id = r.id WHERE t.key = 'hygie.audit_of_run' AND t.value = ? AND r.status = ? ORDER BY r.id DESC LIMIT 1`,
		strconv.FormatInt(f.run.ID, 10), track.Finished).Scan(&auditRun)
	if err != nil {
		g.Detail = fmt.Sprintf("run the audit: hygie privacy-audit %d -p %s", f.run.ID, f.v.Project)
		return g, nil
	}
	ar, err := s.runs.Get(ctx, auditRun)
	if err != nil {
		return g, err
	}
	hi, ok := ar.Metrics["mia_advantage_ci_high"]
	if !ok {
		g.Detail = fmt.Sprintf("audit run %d has no advantage interval", auditRun)
		return g, nil
	}
	g.Value = fmt.Sprintf("%.4g (estimate %.4g, attack AUC %.3g; audit run %d)", hi, ar.Metrics["mia_advantage"], ar.Metrics["mia_auc"], auditRun)
	g.Pass = finite(hi) && hi <= a.MaxAdvantage
	return g, nil
}

func (s *Service) regressionGate(ctx context.Context, f facts, r *RegressionRule, env string) GateResult {
	g := GateResult{Gate: fmt.Sprintf("no regression of %s against the version in %s", r.Metric, env), Threshold: fmt.Sprintf("within %g", r.Margin)}
	if f.current == nil || f.current.RunID == nil {
		g.Value, g.Pass, g.Detail = "no version to compare with", true, ""
		return g
	}
	cur, err := s.runs.Get(ctx, *f.current.RunID)
	old, okOld := cur.Metrics["test_"+r.Metric]
	var now float64
	okNew := false
	if f.run != nil {
		now, okNew = f.run.Metrics["test_"+r.Metric]
	}
	if err != nil || !okOld || !okNew {
		g.Value, g.Detail = "missing", "both versions need test_"+r.Metric
		return g
	}
	g.Value = fmt.Sprintf("%.4g vs %.4g (version %d)", now, old, f.current.Version)
	switch {
	case !finite(now) || !finite(old):
		g.Pass = false
	case HigherIsBetter(r.Metric):
		g.Pass = now >= old-r.Margin
	default:
		g.Pass = now <= old+r.Margin
	}
	return g
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
