package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/privacy/mia"
	"github.com/hygie-health/hygie/internal/track"
)

// The privacy audit of a training run: a membership-inference attack on
// the run's model (see internal/privacy/mia), run as a job of its own
// whose run records the result.
const (
	// AuditJobCommand is the hygie subcommand an audit job runs.
	AuditJobCommand = "audit-job"
	// AuditArtifact is the audit run's report (an AuditReport).
	AuditArtifact = "privacy/membership_inference.json"
	// AuditTag, set on the audit run, names the audited training run.
	AuditTag = "hygie.audit_of_run"
	// AuditKind is the audit run's kind param.
	AuditKind = "membership_inference"
)

// AuditSpec defines a membership-inference audit of a training run. It
// travels to the job as JSON.
type AuditSpec struct {
	Project   string  `json:"project"`
	RunID     int64   `json:"run_id"`    // the training run
	Resamples int     `json:"resamples"` // bootstrap resamples (default 1000)
	Level     float64 `json:"level"`     // confidence level (default 0.95)
	Seed      int64   `json:"seed"`      // balancing subsample and bootstrap
}

// Defaults fills unset fields.
func (s *AuditSpec) Defaults() {
	if s.Resamples == 0 {
		s.Resamples = 1000
	}
	if s.Level == 0 {
		s.Level = 0.95
	}
}

// Check validates the spec's values.
func (s *AuditSpec) Check() error {
	switch {
	case s.Project == "":
		return errs.Invalidf("a project is required")
	case s.RunID < 1:
		return errs.Invalidf("the training run to audit is required")
	case s.Resamples < 100 || s.Resamples > 100000:
		return errs.Invalidf("resamples must be between 100 and 100000, got %d", s.Resamples)
	case !(s.Level > 0.5 && s.Level < 1):
		return errs.Invalidf("level must be in (0.5, 1), got %v", s.Level)
	}
	return nil
}

// AuditReport is the AuditArtifact: the attack's report with what was
// audited.
type AuditReport struct {
	Kind       string `json:"kind"` // AuditKind
	AuditedRun int64  `json:"audited_run"`
	Dataset    string `json:"dataset"`
	Learner    string `json:"learner"`
	Task       string `json:"task"`
	Loss       string `json:"loss"` // log_loss or squared_error
	Split      string `json:"split"`
	Seed       int64  `json:"seed"`
	mia.Report
}

// RemoteRun is what an audit reads of a run through the MLflow API.
type RemoteRun struct {
	ID           string
	ExperimentID string
	Status       string // MLflow's: RUNNING, FINISHED, FAILED, KILLED
	Params       map[string]string
	Tags         map[string]string
}

// GetRun reads a run (MLflow runs/get).
func (r *Remote) GetRun(runID string) (RemoteRun, error) {
	type kv struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	var resp struct {
		Run struct {
			Info struct {
				RunID        string `json:"run_id"`
				ExperimentID string `json:"experiment_id"`
				Status       string `json:"status"`
			} `json:"info"`
			Data struct {
				Params []kv `json:"params"`
				Tags   []kv `json:"tags"`
			} `json:"data"`
		} `json:"run"`
	}
	if err := r.do("GET", "/api/2.0/mlflow/runs/get?run_id="+url.QueryEscape(runID), nil, "", &resp); err != nil {
		return RemoteRun{}, err
	}
	i := resp.Run.Info
	out := RemoteRun{ID: i.RunID, ExperimentID: i.ExperimentID, Status: i.Status, Params: map[string]string{}, Tags: map[string]string{}}
	for _, p := range resp.Run.Data.Params {
		out.Params[p.Key] = p.Value
	}
	for _, t := range resp.Run.Data.Tags {
		out.Tags[t.Key] = t.Value
	}
	return out, nil
}

// Download reads an artifact of any run the token can read (MLflow
// artifacts API).
func (r *Remote) Download(experimentID, runID, p string) ([]byte, error) {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	var buf bytes.Buffer
	err := r.do("GET", "/api/2.0/mlflow-artifacts/artifacts/"+url.PathEscape(experimentID)+"/"+url.PathEscape(runID)+"/artifacts/"+strings.Join(parts, "/"), nil, "", &buf)
	return buf.Bytes(), err
}

// SetTag sets a tag on the job's run (MLflow runs/set-tag).
func (r *Remote) SetTag(key, value string) error {
	return r.postJSON("/api/2.0/mlflow/runs/set-tag", map[string]string{"run_id": r.RunID, "key": key, "value": value})
}

// splitDesc parses the split description of runs that predate the
// split_seed and test_fraction params.
var splitDesc = regexp.MustCompile(`, ([0-9.eE+-]+)% test, split seed (-?[0-9]+)$`)

// SpecFromParams rebuilds the training spec of a run from its params (as
// Fit logs them), with Defaults applied: enough to recompute its split
// with LockedSplit.
func SpecFromParams(p map[string]string) (Spec, error) {
	s := Spec{Dataset: p["dataset"], Target: p["target"], Positive: p["positive"], Learner: p["learner"], Group: p["group"], SplitColumn: p["split_column"]}
	if s.Dataset == "" || s.Target == "" || s.Learner == "" {
		return s, errs.Invalidf("the run records no dataset, target or learner: only runs of 'hygie train --dataset' can be audited")
	}
	if f := p["features"]; f != "" {
		s.Features = strings.Split(f, ",")
	}
	var err error
	num := func(key string, set func(string) error) {
		if v, ok := p[key]; ok && err == nil {
			if e := set(v); e != nil {
				err = errs.Invalidf("the run's param %s=%q is not a number", key, v)
			}
		}
	}
	num("cv", func(v string) (e error) { s.CV, e = strconv.Atoi(v); return })
	num("seed", func(v string) (e error) { s.Seed, e = strconv.ParseInt(v, 10, 64); return })
	num("split_seed", func(v string) (e error) { s.SplitSeed, e = strconv.ParseInt(v, 10, 64); return })
	num("test_fraction", func(v string) (e error) { s.TestFraction, e = strconv.ParseFloat(v, 64); return })
	if err != nil {
		return s, err
	}
	_, hasSeed := p["split_seed"]
	if s.SplitColumn == "" && (!hasSeed || s.TestFraction == 0) {
		// Older runs: the split's description, "hash of …, 20% test, split seed 0".
		m := splitDesc.FindStringSubmatch(p["split"])
		if m == nil {
			return s, errs.Invalidf("the run does not record its test split (split %q): its training records cannot be found again", p["split"])
		}
		pct, _ := strconv.ParseFloat(m[1], 64)
		s.TestFraction = pct / 100
		s.SplitSeed, _ = strconv.ParseInt(m[2], 10, 64)
	}
	s.Defaults()
	return s, nil
}

// RunAuditJob is the body of an audit job: read the training run, its
// model and its dataset version through the API, find its training
// (member) and test (non-member) records again, attack the model with the
// per-record loss, and record the result in the job's own run: metrics
// mia_*, params audited_run and kind, the tag AuditTag and the report
// AuditArtifact. log receives progress (the job's stdout).
func RunAuditJob(ctx context.Context, spec AuditSpec, log io.Writer) (*mia.Report, error) {
	spec.Defaults()
	if err := spec.Check(); err != nil {
		return nil, err
	}
	rm, err := RemoteFromEnv(ctx)
	if err != nil {
		return nil, err
	}
	runID := strconv.FormatInt(spec.RunID, 10)
	run, err := rm.GetRun(runID)
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", runID, err)
	}
	if run.Status != "FINISHED" {
		return nil, errs.Invalidf("run %s is %s: only finished runs can be audited", runID, strings.ToLower(run.Status))
	}
	// The dataset is read in spec.Project: the run must be one of its runs.
	var exp struct {
		Experiment struct {
			Name string `json:"name"` // project/experiment
		} `json:"experiment"`
	}
	if err := rm.do("GET", "/api/2.0/mlflow/experiments/get?experiment_id="+url.QueryEscape(run.ExperimentID), nil, "", &exp); err != nil {
		return nil, fmt.Errorf("reading the experiment of run %s: %w", runID, err)
	}
	if !strings.HasPrefix(exp.Experiment.Name, spec.Project+"/") {
		return nil, errs.NotFoundf("run %s not found in project %s", runID, spec.Project)
	}
	ts, err := SpecFromParams(run.Params)
	if err != nil {
		return nil, err
	}
	ts.Project = spec.Project
	mb, err := rm.Download(run.ExperimentID, runID, ModelArtifact)
	if err != nil {
		return nil, fmt.Errorf("reading the model of run %s: %w", runID, err)
	}
	m, err := model.Unmarshal(mb)
	if err != nil {
		return nil, fmt.Errorf("the model of run %s: %w", runID, err)
	}
	name, ver, err := ParseRef(ts.Dataset)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "auditing run %s (%s) on %s from %s\n", runID, m, ts.Dataset, rm.BaseURL)
	t, err := rm.Table(spec.Project, name, ver)
	if err != nil {
		return nil, fmt.Errorf("reading dataset %s: %w", ts.Dataset, err)
	}
	members, nonMembers, how, err := auditLosses(t, ts, m, run.Params)
	if err != nil {
		return nil, err
	}
	loss := "log_loss"
	if m.Task != model.Binary {
		loss = "squared_error"
	}
	fmt.Fprintf(log, "%d training records (members), %d test records (non-members), %s; per-record %s\n", len(members), len(nonMembers), how, loss)
	rep, err := mia.Assess(members, nonMembers, mia.Options{Resamples: spec.Resamples, Level: spec.Level, Seed: uint64(spec.Seed)})
	if err != nil {
		return nil, err
	}
	if err := rm.LogParams(map[string]string{"audited_run": runID, "kind": AuditKind, "dataset": ts.Dataset, "loss": loss,
		"attack": rep.Attack, "bootstrap_resamples": strconv.Itoa(spec.Resamples), "confidence_level": strconv.FormatFloat(spec.Level, 'g', -1, 64),
		"seed": strconv.FormatInt(spec.Seed, 10), "members": strconv.Itoa(rep.Members), "non_members": strconv.Itoa(rep.NonMembers)}); err != nil {
		return nil, fmt.Errorf("logging parameters: %w", err)
	}
	var ms []Metric
	for k, v := range map[string]float64{"mia_auc": rep.AUC, "mia_auc_ci_low": float64(rep.AUCInterval.Lower), "mia_auc_ci_high": float64(rep.AUCInterval.Upper),
		"mia_advantage": rep.Advantage, "mia_advantage_ci_low": float64(rep.AdvantageInterval.Lower), "mia_advantage_ci_high": float64(rep.AdvantageInterval.Upper),
		"mia_advantage_chance": rep.AdvantageChance, "mia_tpr": rep.TPR, "mia_fpr": rep.FPR} {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ms = append(ms, Metric{Key: k, Value: v})
		}
	}
	if err := rm.LogMetrics(sortMetrics(ms)); err != nil {
		return nil, fmt.Errorf("logging metrics: %w", err)
	}
	if err := rm.SetTag(AuditTag, runID); err != nil {
		return nil, fmt.Errorf("tagging the audit run: %w", err)
	}
	ar := AuditReport{Kind: AuditKind, AuditedRun: spec.RunID, Dataset: ts.Dataset, Learner: m.Learner, Task: m.Task, Loss: loss, Split: how, Seed: spec.Seed, Report: rep}
	b, err := json.MarshalIndent(ar, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := rm.PutArtifact(AuditArtifact, b); err != nil {
		return nil, fmt.Errorf("saving the report: %w", err)
	}
	fmt.Fprintf(log, "attack AUC %.4f [%.4f, %.4f], advantage %.4f [%.4f, %.4f] (%g%% bootstrap intervals)\n%s\n",
		rep.AUC, rep.AUCInterval.Lower, rep.AUCInterval.Upper, rep.Advantage, rep.AdvantageInterval.Lower, rep.AdvantageInterval.Upper, spec.Level*100, rep.Interpretation)
	return &rep, nil
}

func sortMetrics(ms []Metric) []Metric {
	byKey := map[string]Metric{}
	for _, m := range ms {
		byKey[m.Key] = m
	}
	out := make([]Metric, 0, len(ms))
	for _, k := range sortedKeys(byKey) {
		out = append(out, byKey[k])
	}
	return out
}

// auditLosses recomputes the run's split of t and returns the model's
// per-record losses on its training rows (members) and test rows
// (non-members). params, when they record train_rows and test_rows, must
// agree with the split found: otherwise the data or the split rule
// changed and the audit would compare the wrong records.
func auditLosses(t *model.Table, ts Spec, m *model.Model, params map[string]string) (members, nonMembers []float64, how string, err error) {
	trainRows, testRows, how, err := LockedSplit(t, ts)
	if err != nil {
		return nil, nil, "", err
	}
	for key, n := range map[string]int{"train_rows": len(trainRows), "test_rows": len(testRows)} {
		if v, ok := params[key]; ok && v != strconv.Itoa(n) {
			return nil, nil, "", errs.Invalidf("the split gives %d %s where the run had %s: the dataset or the split rule changed", n, strings.ReplaceAll(key, "_", " "), v)
		}
	}
	pred, err := m.Predict(t)
	if err != nil {
		return nil, nil, "", err
	}
	tg, err := model.ReadTarget(t, m.Target, m.Positive, m.Learner)
	if err != nil {
		return nil, nil, "", err
	}
	lossOf := func(i int) float64 {
		if m.Task == model.Binary {
			return mia.LogLoss(pred[i], tg.Y[i])
		}
		return mia.SquaredError(pred[i], tg.Y[i])
	}
	if m.Task == model.Binary && tg.Task != model.Binary {
		return nil, nil, "", errs.Invalidf("the target %q is no longer binary", m.Target)
	}
	members, nonMembers = make([]float64, len(trainRows)), make([]float64, len(testRows))
	for k, i := range trainRows {
		members[k] = lossOf(i)
	}
	for k, i := range testRows {
		nonMembers[k] = lossOf(i)
	}
	return members, nonMembers, how, nil
}

// SubmitAudit checks that the training run spec.RunID of spec.Project can
// be audited (finished, with a model artifact) and submits the audit as a
// job running `exe audit-job --spec JSON`, in the run's experiment unless
// req names one. The acting principal needs run.read and dataset.read (the
// job reads the run, its model and its data) and run.write (the job's own
// run).
func SubmitAudit(ctx context.Context, runs *track.Service, js *jobs.Service, exe string, spec AuditSpec, req jobs.Request) (jobs.Job, error) {
	spec.Defaults()
	if err := spec.Check(); err != nil {
		return jobs.Job{}, err
	}
	for _, p := range []auth.Perm{auth.PermRunRead, auth.PermDatasetRead, auth.PermRunWrite} {
		if err := auth.Require(ctx, spec.Project, p); err != nil {
			return jobs.Job{}, err
		}
	}
	run, err := runs.Get(ctx, spec.RunID)
	if err == nil && run.Project != spec.Project {
		err = errs.NotFoundf("run %d not found", spec.RunID)
	}
	if err != nil {
		return jobs.Job{}, err
	}
	if run.Status != track.Finished {
		return jobs.Job{}, errs.Invalidf("run %d is %s: only finished runs can be audited", run.ID, run.Status)
	}
	hasModel := false
	for _, a := range run.Artifacts {
		hasModel = hasModel || a.Path == ModelArtifact
	}
	if !hasModel {
		return jobs.Job{}, errs.Invalidf("run %d has no %s artifact: only runs of 'hygie train --dataset' can be audited", run.ID, ModelArtifact)
	}
	if _, err := SpecFromParams(run.Params); err != nil {
		return jobs.Job{}, errs.Invalidf("run %d: %s", run.ID, errs.MessageOf(err))
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return jobs.Job{}, err
	}
	req.Project = spec.Project
	req.Command = []string{exe, AuditJobCommand, "--spec", string(b)}
	if req.Experiment == "" {
		req.Experiment = run.Experiment
	}
	req.DatasetVersionID = run.DatasetVersionID
	return js.Submit(ctx, req)
}
