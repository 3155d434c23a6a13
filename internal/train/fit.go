package train

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/evaluate"
	"github.com/hygie-health/hygie/internal/model"
)

// Artifact paths written by a training run.
const (
	ModelArtifact  = "model/model.json"
	ReportArtifact = "evaluation/report.json"
)

// Spec defines a training run on a table. It travels to the job as JSON and
// its fields are logged as the run's parameters.
type Spec struct {
	Project  string            `json:"project"`
	Dataset  string            `json:"dataset"` // name@version, for lineage
	Target   string            `json:"target"`
	Positive string            `json:"positive,omitempty"`
	Learner  string            `json:"learner"`
	Params   map[string]string `json:"params,omitempty"`
	Features []string          `json:"features,omitempty"` // empty: the dataset's feature columns
	// Group names the patient column: cross-validation folds and the test
	// split then keep each patient's rows together.
	Group string `json:"group,omitempty"`
	CV    int    `json:"cv"` // folds; 0 or 1: no cross-validation
	// The locked test split: SplitColumn's rows equal to "test" when set
	// (a split made by the dataset's recipe), otherwise TestFraction of
	// the patients (or rows), chosen by a keyed hash of the patient id and
	// SplitSeed, so a patient stays on the same side in every run.
	SplitColumn  string  `json:"split_column,omitempty"`
	TestFraction float64 `json:"test_fraction"`
	SplitSeed    int64   `json:"split_seed"`
	Seed         int64   `json:"seed"`
	// Evaluation.
	Resamples  int      `json:"resamples"`  // bootstrap resamples
	Level      float64  `json:"level"`      // confidence level
	Threshold  float64  `json:"threshold"`  // binary decision threshold
	Prevalence float64  `json:"prevalence"` // stated prevalence for PPV/NPV (0: none)
	Subgroups  []string `json:"subgroups,omitempty"`
}

// Defaults fills unset fields.
func (s *Spec) Defaults() {
	if s.Learner == "" {
		s.Learner = model.GBDT
	}
	if s.TestFraction == 0 && s.SplitColumn == "" {
		s.TestFraction = 0.2
	}
	if s.Resamples == 0 {
		s.Resamples = 1000
	}
	if s.Level == 0 {
		s.Level = 0.95
	}
	if s.Threshold == 0 {
		s.Threshold = 0.5
	}
}

// Check validates the spec's values (not the data).
func (s *Spec) Check() error {
	switch {
	case s.Target == "":
		return errs.Invalidf("a target column is required")
	case s.CV < 0 || s.CV == 1 || s.CV > 20:
		return errs.Invalidf("cv must be 0 (none) or between 2 and 20 folds, got %d", s.CV)
	case s.SplitColumn == "" && !(s.TestFraction > 0 && s.TestFraction < 1):
		return errs.Invalidf("test_fraction must be in (0, 1), got %v", s.TestFraction)
	case s.Resamples < 100 || s.Resamples > 100000:
		return errs.Invalidf("resamples must be between 100 and 100000, got %d", s.Resamples)
	case !(s.Level > 0.5 && s.Level < 1):
		return errs.Invalidf("level must be in (0.5, 1), got %v", s.Level)
	case !(s.Threshold > 0 && s.Threshold < 1):
		return errs.Invalidf("threshold must be in (0, 1), got %v", s.Threshold)
	case !(s.Prevalence >= 0 && s.Prevalence < 1):
		return errs.Invalidf("prevalence must be in [0, 1), got %v", s.Prevalence)
	}
	_, err := model.ParseParams(s.Learner, s.Params)
	return err
}

// Metric is one metric value at a step.
type Metric struct {
	Key   string
	Value float64
	Step  int64
}

// Tracker receives a run's records: the in-process tracking service, or
// the MLflow REST API when training runs as a job.
type Tracker interface {
	LogParams(params map[string]string) error
	LogMetrics(ms []Metric) error
	PutArtifact(path string, data []byte) error
}

// Report is the evaluation/report.json artifact.
type Report struct {
	Task       string                              `json:"task"`
	Binary     *evaluate.Report                    `json:"binary,omitempty"`
	Regression *RegressionReport                   `json:"regression,omitempty"`
	Multiclass *MulticlassReport                   `json:"multiclass,omitempty"`
	Subgroups  map[string]*evaluate.SubgroupReport `json:"subgroups_by,omitempty"`
	CV         *CVReport                           `json:"cv,omitempty"`
	TrainRows  int                                 `json:"train_rows"`
	TestRows   int                                 `json:"test_rows"`
	Split      string                              `json:"split"`
}

// RegressionReport holds a regression's test metrics with their intervals.
type RegressionReport struct {
	Metrics   evaluate.Regression          `json:"metrics"`
	Intervals map[string]evaluate.Interval `json:"intervals"`
}

// CVReport has the metrics of each cross-validation fold.
type CVReport struct {
	Folds   int                       `json:"folds"`
	Grouped bool                      `json:"grouped"`
	Metrics map[string][]evaluate.Num `json:"metrics"` // name → one value per fold
	Mean    map[string]evaluate.Num   `json:"mean"`
	SD      map[string]evaluate.Num   `json:"sd"`
}

// Outcome is a finished training.
type Outcome struct {
	Model   *model.Model
	Metrics map[string]float64 // test_*, test_*_ci_low/high, cv_*_mean/sd
	Report  *Report
}

// Fit runs a training on t: locked test split, optional cross-validation
// on the training part, final fit on the whole training part, evaluation
// on the test split with bootstrap intervals, and everything recorded in
// tr. Progress lines go to log.
func Fit(t *model.Table, spec Spec, tr Tracker, log io.Writer) (*Outcome, error) {
	spec.Defaults()
	if err := spec.Check(); err != nil {
		return nil, err
	}
	p, err := model.ParseParams(spec.Learner, spec.Params)
	if err != nil {
		return nil, err
	}
	if p.Learner == model.GBDT && spec.Params["seed"] == "" {
		p.GBDT.Seed = spec.Seed
	}
	exclude := map[string]bool{spec.Group: true, spec.SplitColumn: true}
	features := spec.Features
	if len(features) == 0 {
		for _, n := range t.Names() {
			if n != spec.Target && !exclude[n] {
				features = append(features, n)
			}
		}
	}
	for _, f := range features {
		if f != "" && exclude[f] {
			return nil, errs.Invalidf("column %q is the patient or split column: it cannot be a feature", f)
		}
	}
	pb, err := model.Prepare(t, spec.Target, spec.Positive, features, p)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	trainRows, testRows, how, err := LockedSplit(t, spec)
	if err != nil {
		return nil, err
	}
	binary := pb.Target.Task == model.Binary
	if binary {
		if err := bothClasses(pb.Target.Y, testRows, "test split"); err != nil {
			return nil, err
		}
		if err := bothClasses(pb.Target.Y, trainRows, "training split"); err != nil {
			return nil, err
		}
	}
	multi := pb.Target.Task == model.Multiclass
	if multi {
		for _, side := range []struct {
			rows []int
			what string
		}{{trainRows, "training split"}, {testRows, "test split"}} {
			if err := everyClass(pb.Target.Y, side.rows, pb.Target.Classes, side.what); err != nil {
				return nil, err
			}
		}
	}
	params := map[string]string{
		"learner": spec.Learner, "target": spec.Target, "task": pb.Target.Task, "dataset": spec.Dataset,
		"features": strings.Join(features, ","), "cv": strconv.Itoa(spec.CV), "group": spec.Group,
		"split": how, "seed": strconv.FormatInt(spec.Seed, 10), "train_rows": strconv.Itoa(len(trainRows)),
		"test_rows": strconv.Itoa(len(testRows)), "bootstrap_resamples": strconv.Itoa(spec.Resamples),
		"confidence_level": strconv.FormatFloat(spec.Level, 'g', -1, 64),
		// The split's inputs, so that an audit can find the training rows again (LockedSplit).
		"split_seed": strconv.FormatInt(spec.SplitSeed, 10), "split_column": spec.SplitColumn,
	}
	if spec.SplitColumn == "" {
		params["test_fraction"] = strconv.FormatFloat(spec.TestFraction, 'g', -1, 64)
	}
	if binary {
		params["positive"] = pb.Target.Positive
		params["threshold"] = strconv.FormatFloat(spec.Threshold, 'g', -1, 64)
		if spec.Prevalence > 0 {
			params["prevalence"] = strconv.FormatFloat(spec.Prevalence, 'g', -1, 64)
		}
	}
	for k, v := range spec.Params {
		params["param."+k] = v
	}
	for k, v := range params {
		if v == "" {
			delete(params, k)
		}
	}
	if err := tr.LogParams(params); err != nil {
		return nil, fmt.Errorf("logging parameters: %w", err)
	}
	fmt.Fprintf(log, "training %s (%s) on %s: %d training rows, %d test rows (%s)\n", spec.Learner, pb.Target.Task, orDefault(spec.Dataset, "the table"), len(trainRows), len(testRows), how)

	rep := &Report{Task: pb.Target.Task, TrainRows: len(trainRows), TestRows: len(testRows), Split: how}
	out := &Outcome{Metrics: map[string]float64{}, Report: rep}
	var logged []Metric
	if spec.CV >= 2 {
		cv, err := crossValidate(pb, t, spec, trainRows, log)
		if err != nil {
			return nil, err
		}
		rep.CV = cv
		names := sortedKeys(cv.Metrics)
		for _, name := range names {
			for k, v := range cv.Metrics[name] {
				if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
					logged = append(logged, Metric{Key: "cv_" + name, Value: f, Step: int64(k)})
				}
			}
			out.Metrics["cv_"+name+"_mean"] = float64(cv.Mean[name])
			out.Metrics["cv_"+name+"_sd"] = float64(cv.SD[name])
		}
	}

	m, err := pb.Fit(trainRows)
	if err != nil {
		return nil, err
	}
	out.Model = m
	score, err := m.PredictRaw(pick(pb.Raw, testRows))
	if err != nil {
		return nil, err
	}
	yTest := pickF(pb.Target.Y, testRows)
	boot := evaluate.BootstrapOptions{Resamples: spec.Resamples, Level: spec.Level, Method: evaluate.BCa, Seed: uint64(spec.Seed)}
	if multi {
		proba, err := m.PredictProbaRaw(pick(pb.Raw, testRows))
		if err != nil {
			return nil, err
		}
		mr, err := multiclassReport(labels(yTest), proba, pb.Target.Classes, boot)
		if err != nil {
			return nil, err
		}
		rep.Multiclass = mr
		for name, v := range mr.Metrics {
			out.Metrics["test_"+name] = float64(v)
		}
		for name, iv := range mr.Intervals {
			out.Metrics["test_"+name+"_ci_low"] = float64(iv.Lower)
			out.Metrics["test_"+name+"_ci_high"] = float64(iv.Upper)
		}
	} else if binary {
		y := labels(yTest)
		r, err := evaluate.Evaluate(y, score, evaluate.ReportOptions{Threshold: spec.Threshold, TargetPrevalence: spec.Prevalence,
			Bootstrap: &boot, Stratified: true})
		if err != nil {
			return nil, err
		}
		moreIntervals(r, y, score, spec, boot)
		rep.Binary = r
		for name, v := range binaryPoints(r.Metrics) {
			out.Metrics["test_"+name] = v
		}
		for name, iv := range r.Intervals {
			out.Metrics["test_"+name+"_ci_low"] = float64(iv.Lower)
			out.Metrics["test_"+name+"_ci_high"] = float64(iv.Upper)
		}
		if len(spec.Subgroups) > 0 {
			rep.Subgroups = map[string]*evaluate.SubgroupReport{}
			for _, col := range spec.Subgroups {
				c := t.Col(col)
				if c == nil {
					return nil, errs.Invalidf("subgroup column %q is not a column", col)
				}
				groups := make([]string, len(testRows))
				for k, i := range testRows {
					groups[k] = cellText(c, i)
				}
				sg, err := evaluate.SubgroupMetrics(y, score, groups, spec.Threshold, spec.Prevalence, 0)
				if err != nil {
					return nil, err
				}
				rep.Subgroups[col] = &sg
			}
		}
	} else {
		rr, err := regressionReport(yTest, score, boot)
		if err != nil {
			return nil, err
		}
		rep.Regression = rr
		for name, v := range map[string]evaluate.Num{"mse": rr.Metrics.MSE, "rmse": rr.Metrics.RMSE, "mae": rr.Metrics.MAE, "r2": rr.Metrics.R2} {
			out.Metrics["test_"+name] = float64(v)
		}
		for name, iv := range rr.Intervals {
			out.Metrics["test_"+name+"_ci_low"] = float64(iv.Lower)
			out.Metrics["test_"+name+"_ci_high"] = float64(iv.Upper)
		}
	}
	out.Metrics["train_seconds"] = time.Since(start).Seconds()
	for _, k := range sortedKeys(out.Metrics) {
		if v := out.Metrics[k]; !math.IsNaN(v) && !math.IsInf(v, 0) {
			logged = append(logged, Metric{Key: k, Value: v})
		}
	}
	if err := tr.LogMetrics(logged); err != nil {
		return nil, fmt.Errorf("logging metrics: %w", err)
	}
	mb, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if err := tr.PutArtifact(ModelArtifact, mb); err != nil {
		return nil, fmt.Errorf("saving the model: %w", err)
	}
	rb, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := tr.PutArtifact(ReportArtifact, rb); err != nil {
		return nil, fmt.Errorf("saving the evaluation report: %w", err)
	}
	plots := plotFiles(rep)
	for _, name := range sortedKeys(plots) {
		if err := tr.PutArtifact(name, plots[name]); err != nil {
			return nil, fmt.Errorf("saving %s: %w", name, err)
		}
	}
	summary(log, out, binary, spec.Level)
	return out, nil
}

func summary(w io.Writer, o *Outcome, binary bool, level float64) {
	names := []string{"mse", "rmse", "mae", "r2", "accuracy", "balanced_accuracy", "macro_f1", "log_loss"}
	if binary {
		names = []string{"roc_auc", "average_precision", "sensitivity", "specificity", "ppv", "npv", "brier"}
	}
	fmt.Fprintf(w, "test metrics (%g%% bootstrap BCa intervals):\n", level*100)
	for _, n := range names {
		v, ok := o.Metrics["test_"+n]
		if !ok {
			continue
		}
		if lo, ok := o.Metrics["test_"+n+"_ci_low"]; ok {
			fmt.Fprintf(w, "  %-18s %.4f [%.4f, %.4f]\n", n, v, lo, o.Metrics["test_"+n+"_ci_high"])
		} else {
			fmt.Fprintf(w, "  %-18s %.4f\n", n, v)
		}
	}
}

// LockedSplit returns the training and test rows of t under spec (after
// spec.Defaults): the same rows for the same spec and data, which is how an
// audit finds the records a run trained on and the ones it never saw.
func LockedSplit(t *model.Table, spec Spec) (trainRows, testRows []int, how string, err error) {
	n := t.Rows()
	if spec.SplitColumn != "" {
		c := t.Col(spec.SplitColumn)
		if c == nil {
			return nil, nil, "", errs.Invalidf("split column %q is not a column", spec.SplitColumn)
		}
		for i := range n {
			switch v := strings.ToLower(cellText(c, i)); v {
			case "test":
				testRows = append(testRows, i)
			case "train", "training":
				trainRows = append(trainRows, i)
			default:
				return nil, nil, "", errs.Invalidf("row %d: split column %q must hold train or test", i+1, spec.SplitColumn)
			}
		}
		how = "column " + spec.SplitColumn
	} else {
		var g *model.Column
		if spec.Group != "" {
			if g = t.Col(spec.Group); g == nil {
				return nil, nil, "", errs.Invalidf("group column %q is not a column", spec.Group)
			}
		}
		for i := range n {
			key := strconv.Itoa(i)
			if g != nil {
				key = cellText(g, i)
				if key == "" {
					return nil, nil, "", errs.Invalidf("row %d: the group column %q is empty", i+1, spec.Group)
				}
			}
			if unitHash(spec.SplitSeed, key) < spec.TestFraction {
				testRows = append(testRows, i)
			} else {
				trainRows = append(trainRows, i)
			}
		}
		unit := "rows"
		if g != nil {
			unit = "patients by " + spec.Group
		}
		how = fmt.Sprintf("hash of %s, %g%% test, split seed %d", unit, spec.TestFraction*100, spec.SplitSeed)
	}
	if len(testRows) < 10 || len(trainRows) < 10 {
		return nil, nil, "", errs.Invalidf("the split leaves %d training and %d test rows: need at least 10 of each", len(trainRows), len(testRows))
	}
	return trainRows, testRows, how, nil
}

// unitHash maps (seed, key) to [0, 1) with SHA-256 (uniform even for keys
// that differ in one character): deterministic across runs, machines and
// versions of hygie.
func unitHash(seed int64, key string) float64 {
	h := sha256.Sum256(fmt.Appendf(nil, "%d\x00%s", seed, key))
	return float64(binary.BigEndian.Uint64(h[:8])>>11) / float64(uint64(1)<<53)
}

func bothClasses(y []float64, rows []int, what string) error {
	var pos int
	for _, i := range rows {
		if y[i] == 1 {
			pos++
		}
	}
	if pos == 0 || pos == len(rows) {
		return errs.Invalidf("the %s has only one class (%d positives in %d rows): too few cases to evaluate", what, pos, len(rows))
	}
	return nil
}

// crossValidate fits the learner k times on the training rows.
func crossValidate(pb *model.Problem, t *model.Table, spec Spec, trainRows []int, log io.Writer) (*CVReport, error) {
	var folds []evaluate.Fold
	var err error
	grouped := spec.Group != ""
	if grouped {
		g := t.Col(spec.Group)
		groups := make([]string, len(trainRows))
		for k, i := range trainRows {
			groups[k] = cellText(g, i)
		}
		folds, err = evaluate.GroupKFold(groups, spec.CV, uint64(spec.Seed))
	} else {
		strata := make([]int, len(trainRows))
		if pb.Target.Task == model.Binary {
			for k, i := range trainRows {
				strata[k] = int(pb.Target.Y[i])
			}
		}
		folds, err = evaluate.StratifiedKFold(strata, spec.CV, uint64(spec.Seed))
	}
	if err != nil {
		return nil, errs.Invalidf("cross-validation: %v", err)
	}
	cv := &CVReport{Folds: spec.CV, Grouped: grouped, Metrics: map[string][]evaluate.Num{}, Mean: map[string]evaluate.Num{}, SD: map[string]evaluate.Num{}}
	for k, f := range folds {
		fitRows, evalRows := make([]int, len(f.Train)), make([]int, len(f.Test))
		for j, i := range f.Train {
			fitRows[j] = trainRows[i]
		}
		for j, i := range f.Test {
			evalRows[j] = trainRows[i]
		}
		m, err := pb.Fit(fitRows)
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", k+1, err)
		}
		score, err := m.PredictRaw(pick(pb.Raw, evalRows))
		if err != nil {
			return nil, fmt.Errorf("fold %d: %w", k+1, err)
		}
		y := pickF(pb.Target.Y, evalRows)
		var vals map[string]float64
		if pb.Target.Task == model.Multiclass {
			proba, err := m.PredictProbaRaw(pick(pb.Raw, evalRows))
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k+1, err)
			}
			vals = multiclassMetrics(labels(y), proba, len(pb.Target.Classes), nil)
		} else if pb.Target.Task == model.Binary {
			bm, err := evaluate.ComputeBinary(labels(y), score, spec.Threshold, 0)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k+1, err)
			}
			vals = binaryPoints(bm)
			for _, count := range []string{"n", "positives", "tp", "fp", "tn", "fn", "prevalence"} {
				delete(vals, count) // the fold's size, not its performance
			}
		} else {
			r, err := evaluate.RegressionMetrics(y, score)
			if err != nil {
				return nil, fmt.Errorf("fold %d: %w", k+1, err)
			}
			vals = map[string]float64{"mse": float64(r.MSE), "rmse": float64(r.RMSE), "mae": float64(r.MAE), "r2": float64(r.R2)}
		}
		for name, v := range vals {
			cv.Metrics[name] = append(cv.Metrics[name], evaluate.Num(v))
		}
		headline := map[string]string{model.Binary: "roc_auc", model.Multiclass: "balanced_accuracy", model.Regression: "rmse"}[pb.Target.Task]
		fmt.Fprintf(log, "fold %d/%d: %d rows fitted, %d evaluated, %s %.4f\n", k+1, spec.CV, len(fitRows), len(evalRows), headline, vals[headline])
	}
	for name, vs := range cv.Metrics {
		mean, sd := meanSD(vs)
		cv.Mean[name], cv.SD[name] = evaluate.Num(mean), evaluate.Num(sd)
	}
	return cv, nil
}

// binaryPoints are the point metrics logged for a binary classifier.
func binaryPoints(m evaluate.BinaryMetrics) map[string]float64 {
	out := map[string]float64{
		"roc_auc": float64(m.ROCAUC), "average_precision": float64(m.AveragePrecision), "brier": float64(m.Brier),
		"sensitivity": float64(m.Sensitivity), "specificity": float64(m.Specificity), "ppv": float64(m.PPV), "npv": float64(m.NPV),
		"f1": float64(m.F1), "accuracy": float64(m.Accuracy), "balanced_accuracy": float64(m.BalancedAccuracy),
		"jaccard": float64(m.Jaccard), "calibration_slope": float64(m.CalibrationSlope), "calibration_intercept": float64(m.CalibrationInt),
		"prevalence": float64(m.Prevalence), "n": float64(m.N), "positives": float64(m.Positives),
		"tp": float64(m.Confusion.TP), "fp": float64(m.Confusion.FP), "tn": float64(m.Confusion.TN), "fn": float64(m.Confusion.FN),
	}
	if m.TargetPrevalence > 0 {
		out["ppv_at_prevalence"] = float64(m.PPVAtTarget)
		out["npv_at_prevalence"] = float64(m.NPVAtTarget)
	}
	return out
}

// moreIntervals adds bootstrap intervals for the threshold metrics the
// evaluate report does not bootstrap itself.
func moreIntervals(r *evaluate.Report, y []int, score []float64, spec Spec, boot evaluate.BootstrapOptions) {
	th := spec.Threshold
	ms := map[string]func(evaluate.Confusion) float64{
		"ppv": evaluate.Confusion.PPV, "npv": evaluate.Confusion.NPV, "f1": evaluate.Confusion.F1,
		"accuracy": evaluate.Confusion.Accuracy, "balanced_accuracy": evaluate.Confusion.BalancedAccuracy,
		"jaccard": evaluate.Confusion.Jaccard,
	}
	if p := spec.Prevalence; p > 0 {
		ms["ppv_at_prevalence"] = func(c evaluate.Confusion) float64 {
			return evaluate.PPVAtPrevalence(c.Sensitivity(), c.Specificity(), p)
		}
		ms["npv_at_prevalence"] = func(c evaluate.Confusion) float64 {
			return evaluate.NPVAtPrevalence(c.Sensitivity(), c.Specificity(), p)
		}
	}
	if r.Intervals == nil {
		r.Intervals = map[string]evaluate.Interval{}
	}
	for _, name := range sortedKeys(ms) {
		iv, err := evaluate.BootstrapBinary(y, score, evaluate.ThresholdMetric(th, ms[name]), true, boot)
		if err != nil {
			r.Notes = append(r.Notes, name+" interval: "+err.Error())
			continue
		}
		r.Intervals[name] = iv
	}
}

func regressionReport(y, pred []float64, boot evaluate.BootstrapOptions) (*RegressionReport, error) {
	m, err := evaluate.RegressionMetrics(y, pred)
	if err != nil {
		return nil, err
	}
	rr := &RegressionReport{Metrics: m, Intervals: map[string]evaluate.Interval{}}
	by, bp := make([]float64, 0, len(y)), make([]float64, 0, len(y))
	for _, name := range []string{"mse", "rmse", "mae", "r2"} {
		stat := func(idx []int) (float64, error) {
			by, bp = by[:0], bp[:0]
			for _, i := range idx {
				by, bp = append(by, y[i]), append(bp, pred[i])
			}
			r, err := evaluate.RegressionMetrics(by, bp)
			if err != nil {
				return math.NaN(), err
			}
			return float64(map[string]evaluate.Num{"mse": r.MSE, "rmse": r.RMSE, "mae": r.MAE, "r2": r.R2}[name]), nil
		}
		iv, err := evaluate.Bootstrap(len(y), stat, boot)
		if err != nil {
			return nil, fmt.Errorf("bootstrap of %s: %w", name, err)
		}
		rr.Intervals[name] = iv
	}
	return rr, nil
}

func cellText(c *model.Column, i int) string {
	if c.Num != nil {
		if math.IsNaN(c.Num[i]) {
			return ""
		}
		return strconv.FormatFloat(c.Num[i], 'g', -1, 64)
	}
	if model.IsMissing(c.Text[i]) {
		return ""
	}
	return strings.TrimSpace(c.Text[i])
}

func pick(raw [][]float64, rows []int) [][]float64 {
	out := make([][]float64, len(rows))
	for k, i := range rows {
		out[k] = raw[i]
	}
	return out
}

func pickF(v []float64, rows []int) []float64 {
	out := make([]float64, len(rows))
	for k, i := range rows {
		out[k] = v[i]
	}
	return out
}

func labels(y []float64) []int {
	out := make([]int, len(y))
	for i, v := range y {
		out[i] = int(v)
	}
	return out
}

func meanSD(vs []evaluate.Num) (mean, sd float64) {
	var n float64
	v := make([]float64, len(vs))
	for i, x := range vs {
		v[i] = float64(x)
	}
	for _, x := range v {
		if !math.IsNaN(x) {
			mean += x
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	mean /= n
	if n < 2 {
		return mean, math.NaN()
	}
	for _, x := range v {
		if !math.IsNaN(x) {
			sd += (x - mean) * (x - mean)
		}
	}
	return mean, math.Sqrt(sd / (n - 1))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
