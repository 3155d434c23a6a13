package monitor

// Retraining from clinicians' corrections: the training set of a model
// version plus the adjudicated feedback on its predictions becomes a new
// dataset version, and a training job like the version's own starts on it.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/train"
)

// RetrainOptions choose what a retraining starts from.
type RetrainOptions struct {
	// Version is the model version whose training is repeated; 0 means
	// the version in production.
	Version int `json:"version,omitempty"`
	// Annotation restricts the gold to one annotation project; "" takes
	// every classification and rows annotation project of the project.
	Annotation string `json:"annotation,omitempty"`
	// Experiment of the new run; "" keeps the base run's.
	Experiment string `json:"experiment,omitempty"`
}

// RetrainResult is a started retraining.
type RetrainResult struct {
	Model       string          `json:"model"`
	BaseVersion int             `json:"base_version"`
	BaseRun     int64           `json:"base_run"`
	Base        string          `json:"base_dataset"` // name@version the version was trained on
	Dataset     dataset.Version `json:"dataset"`      // the new training set
	Reused      bool            `json:"reused"`       // an identical version existed already
	Corrected   int             `json:"corrected"`    // feedback rows added
	Annotations []string        `json:"annotation_projects"`
	// Missing counts gold answers whose prediction is no longer in the log
	// (pruned by the retention period): they cannot be added.
	Missing    int        `json:"missing_predictions"`
	Spec       train.Spec `json:"spec"`
	Job        jobs.Job   `json:"job"`
	Experiment string     `json:"experiment"`
}

// RetrainSubmit submits the training job of a retraining.
type RetrainSubmit func(ctx context.Context, spec train.Spec, experiment string) (jobs.Job, train.Spec, error)

// Retrain starts a training job from the latest gold data. It takes the
// training run of a version of modelName (the one in production unless
// o.Version is set): its dataset version, target, learner and parameters;
// it builds the next training set, that dataset version plus one row per
// prediction of the model whose feedback task was adjudicated (inputs from
// the prediction log, pseudonymised as stored; the gold label as the
// target), stores it as a new version of the same dataset (parent: the
// base version; the recipe names the annotation projects), and submits a
// training job on it as 'hygie train --dataset' does, through submit (nil:
// Sources.Train). The principal needs run.write, annotation.manage (the
// gold), predictions.read and dataset.write; the retraining is audited.
func (s *Service) Retrain(ctx context.Context, modelName string, o RetrainOptions, submit RetrainSubmit) (RetrainResult, error) {
	res := RetrainResult{Model: modelName}
	if s.src.Registry == nil || s.src.Runs == nil || s.src.Datasets == nil {
		return res, errs.Conflictf("retraining is not configured on this server")
	}
	if submit == nil {
		submit = s.src.Train
	}
	if submit == nil {
		return res, errs.Conflictf("training jobs are not configured on this server")
	}
	project, err := s.src.Registry.ProjectOfModel(ctx, modelName)
	if err != nil {
		return res, err
	}
	refuse := func(err error) (RetrainResult, error) {
		if c := errs.CodeOf(err); c == errs.Forbidden || c == errs.Invalid || c == errs.Conflict {
			s.audit.AppendRefusal(ctx, audit.Event{Action: "model.retrain", Project: project, Target: "model:" + modelName, Outcome: audit.Denied,
				Detail: audit.MarshalDetail(map[string]any{"reason": errs.MessageOf(err)})})
		}
		return res, err
	}
	for _, p := range []auth.Perm{auth.PermRunWrite, auth.PermPredictionsRead, auth.PermAnnotationManage, auth.PermDatasetWrite} {
		if err := auth.Require(ctx, project, p); err != nil {
			return refuse(err)
		}
	}
	var v registry.Version
	if o.Version > 0 {
		v, err = s.src.Registry.Version(ctx, modelName, o.Version)
	} else if v, err = s.src.Registry.InEnvironment(ctx, modelName, "production"); errs.Is(err, errs.NotFound) {
		err = errs.Invalidf("model %s has no version in production: name the version to retrain", modelName)
	}
	if err != nil {
		return refuse(err)
	}
	res.BaseVersion = v.Version
	if v.RunID == nil {
		return refuse(errs.Invalidf("model %s version %d has no training run to repeat", modelName, v.Version))
	}
	run, err := s.src.Runs.Get(ctx, *v.RunID)
	if err != nil {
		return res, err
	}
	res.BaseRun = run.ID
	spec, err := retrainSpec(run.Params)
	if err != nil {
		return refuse(errs.Invalidf("model %s version %d: run %d: %s", modelName, v.Version, run.ID, errs.MessageOf(err)))
	}
	res.Base = spec.Dataset
	name, ver, err := train.ParseRef(spec.Dataset)
	if err != nil {
		return refuse(err)
	}
	base, err := s.src.Datasets.Get(ctx, project, name, ver)
	if err != nil {
		return res, err
	}
	gold, err := s.annotations().FeedbackGold(ctx, project, o.Annotation)
	if err != nil {
		return refuse(err)
	}
	t, err := s.src.Datasets.Read(ctx, base)
	if err != nil {
		return res, err
	}
	targetCol, err := t.MustColumn(spec.Target)
	if err != nil {
		return refuse(errs.Invalidf("%s: the target: %s", base.Ref(), errs.MessageOf(err)))
	}
	known := map[string]bool{}
	for _, r := range t.Rows {
		known[r[targetCol]] = true
	}
	classifier := run.Params["task"] != model.Regression
	var added [][]string
	var ids []string
	annotations := map[string]bool{}
	for _, g := range gold {
		pred, err := s.Prediction(ctx, g.PredictionID)
		if errs.Is(err, errs.NotFound) {
			res.Missing++
			continue
		}
		if err != nil {
			return res, err
		}
		if pred.Model != modelName || pred.Project != project {
			continue
		}
		label := g.Label
		if t.Columns[targetCol].Type == dataset.TypeBoolean {
			// A boolean target was imported from words (oui/non, yes/no…):
			// the label is stored as the column's true or false.
			if b, ok := boolLabel(label); ok {
				label = b
			}
		}
		if classifier && !known[label] {
			return refuse(errs.Invalidf("annotation project %s, prediction %s: the gold label %q is not a value of %s's target %s (values: %s)",
				g.Annotation, g.PredictionID, g.Label, base.Ref(), spec.Target, strings.Join(slices.Sorted(maps.Keys(known)), ", ")))
		}
		if !classifier {
			if _, err := strconv.ParseFloat(g.Label, 64); err != nil {
				return refuse(errs.Invalidf("annotation project %s, prediction %s: the gold label %q is not a number (target %s of a regression)", g.Annotation, g.PredictionID, g.Label, spec.Target))
			}
		}
		row := make([]string, len(t.Columns))
		for j, c := range t.Columns {
			switch {
			case j == targetCol:
				row[j] = label
			case c.Name == spec.SplitColumn:
				row[j] = "train" // corrected cases join the training side
			default:
				row[j] = Cell(pred.Inputs[c.Name])
				if row[j] == "" && c.Name == spec.Group {
					row[j] = "feedback:" + pred.ID // its own group: a pseudonymous key
				}
			}
		}
		added = append(added, row)
		ids = append(ids, pred.ID)
		annotations[g.Annotation] = true
	}
	res.Corrected, res.Annotations = len(added), slices.Sorted(maps.Keys(annotations))
	if len(added) == 0 {
		return refuse(errs.Invalidf("no adjudicated feedback on the predictions of %s: nothing to add to %s (send predictions marked incorrect to an annotation project and adjudicate them first)", modelName, base.Ref()))
	}
	next := &dataset.Table{Columns: t.Columns, Rows: append(slices.Clip(t.Rows), added...)}
	recipe := fmt.Sprintf("# retraining of model %s version %d (run %d)\nbase: %s\nannotation_projects: [%s]\nfeedback_rows: %d\npredictions: [%s]\n",
		modelName, v.Version, run.ID, base.Ref(), strings.Join(res.Annotations, ", "), len(added), strings.Join(ids, ", "))
	nv, reused, err := s.src.Datasets.Create(ctx, dataset.NewVersion{Project: project, Dataset: name, Table: next, Level: base.Level, Parent: &base, Recipe: recipe})
	if err != nil {
		return refuse(err)
	}
	res.Dataset, res.Reused = nv, reused
	spec.Project, spec.Dataset = project, nv.Ref()
	res.Experiment = o.Experiment
	if res.Experiment == "" {
		res.Experiment = run.Experiment
	}
	job, submitted, err := submit(ctx, spec, res.Experiment)
	if err != nil {
		return refuse(err)
	}
	res.Job, res.Spec = job, submitted
	jobID := job.ID
	err = s.audit.Append(ctx, audit.Event{Action: "model.retrain", Project: project, Target: fmt.Sprintf("model:%s/%d", modelName, v.Version), Outcome: audit.Success,
		Detail: audit.MarshalDetail(map[string]any{"base_run": run.ID, "base_dataset": base.Ref(), "dataset": nv.Ref(), "feedback_rows": len(added),
			"annotation_projects": res.Annotations, "job": jobID, "missing_predictions": res.Missing})})
	return res, err
}

// retrainSpec rebuilds the training spec of a run made by 'hygie train
// --dataset' from its params: the split, the learner and its parameters,
// and the evaluation settings.
func retrainSpec(p map[string]string) (train.Spec, error) {
	spec, err := train.SpecFromParams(p)
	if err != nil {
		return spec, errs.Invalidf("it was not made by 'hygie train --dataset' (%s)", strings.TrimPrefix(errs.MessageOf(err), "the run records "))
	}
	for k, v := range p {
		if name, ok := strings.CutPrefix(k, "param."); ok {
			if spec.Params == nil {
				spec.Params = map[string]string{}
			}
			spec.Params[name] = v
		}
	}
	num := func(key string, set func(float64)) error {
		if s, ok := p[key]; ok {
			x, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return errs.Invalidf("param %s=%q is not a number", key, s)
			}
			set(x)
		}
		return nil
	}
	for _, f := range []struct {
		key string
		set func(float64)
	}{
		{"threshold", func(x float64) { spec.Threshold = x }},
		{"prevalence", func(x float64) { spec.Prevalence = x }},
		{"confidence_level", func(x float64) { spec.Level = x }},
		{"bootstrap_resamples", func(x float64) { spec.Resamples = int(x) }},
	} {
		if err := num(f.key, f.set); err != nil {
			return spec, err
		}
	}
	return spec, spec.Check()
}

// boolLabel maps the words a boolean column is imported from (see
// internal/dataset), and 1/0, to "true" or "false".
func boolLabel(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "vrai", "oui", "yes", "1":
		return "true", true
	case "false", "faux", "non", "no", "0":
		return "false", true
	}
	return "", false
}
