package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/annotate"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/privacy/anon"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
	"github.com/hygie-health/hygie/internal/privacy/risk"
	"github.com/hygie-health/hygie/internal/recipe"
	"github.com/hygie-health/hygie/internal/registry"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

var getenv = os.Getenv

// perform runs one attempt of a step. Data and registry steps run in this
// process through the services (with the acting principal's permissions);
// train and privacy-audit steps are jobs on the configured executor (local
// or Slurm), awaited here, cancelled with ctx.
func (s *Service) perform(ctx context.Context, project string, st *Step, ins map[string][]Output, o RunOptions, onJob func(jobs.Job)) ([]Output, error) {
	in := func(name string) Output {
		if outs := ins[name]; len(outs) > 0 {
			return outs[0]
		}
		return Output{}
	}
	switch c := st.Config.(type) {
	case *ImportConfig:
		return s.doImport(ctx, project, c, o.Dir)
	case *pseudo.Spec:
		v, err := s.inputVersion(ctx, project, in("dataset"))
		if err != nil {
			return nil, err
		}
		r, err := s.Pseudo.PseudonymizeWith(ctx, v, *c)
		if err != nil {
			return nil, err
		}
		return []Output{versionOut(r.Version, fmt.Sprintf("pseudonymized %d, dropped %d columns", len(r.Pseudonymized), len(r.Dropped)))}, nil
	case *DeidConfig:
		v, err := s.inputVersion(ctx, project, in("dataset"))
		if err != nil {
			return nil, err
		}
		r, err := s.Pseudo.PseudonymizeWith(ctx, v, pseudo.Spec{Text: c.Text, OutputName: c.Output})
		if err != nil {
			return nil, err
		}
		return []Output{versionOut(r.Version, fmt.Sprintf("%d text columns de-identified", len(r.Deidentified)))}, nil
	case *RiskConfig:
		v, err := s.inputVersion(ctx, project, in("dataset"))
		if err != nil {
			return nil, err
		}
		qis, sens := risk.Columns(v)
		if len(c.QuasiIdentifiers) > 0 {
			qis = c.QuasiIdentifiers
		}
		if c.Sensitive != nil {
			sens = c.Sensitive
		}
		if sens == nil {
			sens = []string{}
		}
		r, err := risk.OfVersion(ctx, s.Datasets, v, risk.Options{QuasiIdentifiers: qis, Sensitive: sens, SamplingFraction: c.SamplingFraction, MaxCombination: c.MaxCombination})
		if err != nil {
			return nil, err
		}
		sum := fmt.Sprintf("k = %d, highest prosecutor risk %.3f, records at risk %.1f%%", r.K, r.Prosecutor.Highest, 100*r.Prosecutor.RecordsAtRisk)
		if c.MaxProsecutor > 0 && r.Prosecutor.Highest > c.MaxProsecutor {
			return nil, errs.Invalidf("risk of %s above the limit: highest prosecutor risk %.3f > max_prosecutor %.3f", v.Ref(), r.Prosecutor.Highest, c.MaxProsecutor)
		}
		return []Output{{Kind: KindReport, Ref: "risk:" + v.Ref(), Summary: sum}}, nil
	case *AnonymiseConfig:
		v, err := s.inputVersion(ctx, project, in("dataset"))
		if err != nil {
			return nil, err
		}
		vc := anon.VersionConfig{Sensitive: c.Sensitive, K: c.K, L: c.L, T: c.T, MaxSuppression: c.MaxSuppression, Metric: c.Metric, Output: c.Output}
		if vc.Sensitive == nil {
			vc.Sensitive = []string{}
		}
		if vc.Metric == "" {
			vc.Metric = string(anon.MetricLoss)
		}
		qis := c.QuasiIdentifiers
		if len(qis) == 0 {
			qis, _ = risk.Columns(v)
		}
		for _, q := range qis {
			vc.QuasiIdentifiers = append(vc.QuasiIdentifiers, anon.VersionQI{Column: q})
		}
		r, err := anon.AnonymizeVersion(ctx, s.Datasets, v, vc)
		if err != nil {
			return nil, err
		}
		return []Output{versionOut(r.Version, fmt.Sprintf("%s, %d suppressed", r.PrivacyModel, r.Suppressed))}, nil
	case *RecipeConfig:
		v, err := s.inputVersion(ctx, project, in("dataset"))
		if err != nil {
			return nil, err
		}
		nv, _, err := recipe.Transform(ctx, s.Datasets, v, []byte(c.Recipe), c.Output)
		if err != nil {
			return nil, err
		}
		return []Output{versionOut(nv, fmt.Sprintf("%d columns", len(nv.Columns)))}, nil
	case *AnnotateConfig:
		if s.Annotate == nil {
			return nil, errs.Invalidf("annotation service not available")
		}
		r, n, err := s.Annotate.ExportDataset(ctx, project, c.Project, annotate.ExportOptions{Dataset: c.Dataset, Level: dataset.Level(c.Level)})
		if err != nil {
			return nil, err
		}
		if n < c.MinGold {
			return nil, errs.Invalidf("waiting for gold data: %d adjudicated tasks in %s, min_gold is %d", n, c.Project, c.MinGold)
		}
		return []Output{versionOut(r.Version, fmt.Sprintf("%d gold tasks", n))}, nil
	case *TrainConfig:
		return s.doTrain(ctx, project, c, in("dataset"), o, onJob)
	case *EvaluateConfig:
		r := in("run")
		run, err := s.Deps.Runs.Get(ctx, r.ID)
		if err != nil {
			return nil, err
		}
		var fails, parts []string
		for _, m := range sortedKeys(c.Min) {
			v, ok := run.Metrics[m]
			parts = append(parts, fmt.Sprintf("%s %.3f", m, v))
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v < c.Min[m] { // a NaN or ±Inf metric fails
				fails = append(fails, fmt.Sprintf("%s %.3f < %.3f", m, v, c.Min[m]))
			}
		}
		for _, m := range sortedKeys(c.Max) {
			v, ok := run.Metrics[m]
			parts = append(parts, fmt.Sprintf("%s %.3f", m, v))
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) || v > c.Max[m] {
				fails = append(fails, fmt.Sprintf("%s %.3f > %.3f", m, v, c.Max[m]))
			}
		}
		if len(fails) > 0 {
			return nil, errs.Invalidf("run %d does not meet the thresholds: %s", run.ID, strings.Join(fails, ", "))
		}
		return []Output{{Kind: KindRun, Ref: r.Ref, ID: r.ID, Summary: strings.Join(parts, ", ")}}, nil
	case *AuditConfig:
		r := in("run")
		spec := train.AuditSpec{Project: project, RunID: r.ID, Resamples: c.Resamples, Seed: c.Seed}
		j, err := train.SubmitAudit(ctx, s.Deps.Runs, s.Jobs, s.Executable, spec, jobs.Request{TrackingURI: o.TrackingURI})
		ar, _, err := s.jobRun(ctx, j, err, onJob)
		if err != nil {
			return nil, err
		}
		adv := ar.Metrics["mia_advantage"]
		if c.MaxAdvantage > 0 && adv > c.MaxAdvantage {
			return nil, errs.Invalidf("membership-inference advantage %.3f above max_advantage %.3f", adv, c.MaxAdvantage)
		}
		return []Output{{Kind: KindRun, Ref: strconv.FormatInt(ar.ID, 10), ID: ar.ID, Summary: fmt.Sprintf("attack AUC %.3f, advantage %.3f", ar.Metrics["mia_auc"], adv)}}, nil
	case *RegisterConfig:
		r := in("run")
		mv, err := s.Registry.Register(ctx, project, c.Model, r.ID, train.ModelArtifact, model.Format, registry.Signature{})
		if err != nil {
			return nil, err
		}
		return []Output{{Kind: KindModel, Ref: fmt.Sprintf("%s@%d", c.Model, mv.Version), ID: int64(mv.Version), Summary: "from run " + r.Ref}}, nil
	case *PromoteConfig:
		m := in("model")
		name, _, _ := strings.Cut(m.Ref, "@")
		p, err := s.Registry.Promote(ctx, name, int(m.ID), c.To)
		var ref *registry.RefusedError
		if errors.As(err, &ref) {
			var failing []string
			for _, g := range ref.Promotion.Gates {
				if !g.Pass {
					failing = append(failing, fmt.Sprintf("%s: %s (need %s)", g.Gate, g.Value, g.Threshold))
				}
			}
			return nil, errs.Invalidf("promotion of %s to %s refused by the gates: %s", m.Ref, c.To, strings.Join(failing, "; "))
		}
		if err != nil {
			return nil, err
		}
		return []Output{{Kind: KindModel, Ref: m.Ref, ID: m.ID, Summary: fmt.Sprintf("%s → %s", p.From, p.To)}}, nil
	}
	return nil, errs.Invalidf("step type %s cannot run", st.Type)
}

func versionOut(v dataset.Version, summary string) Output {
	return Output{Kind: KindDataset, Ref: v.Ref(), ID: v.ID, Digest: v.Digest, Summary: fmt.Sprintf("%s, %d rows, %s", v.Level, v.Rows, summary)}
}

func (s *Service) inputVersion(ctx context.Context, project string, o Output) (dataset.Version, error) {
	if o.Kind != KindDataset || o.ID == 0 {
		return dataset.Version{}, errs.Invalidf("input is not a dataset version")
	}
	v, err := s.Datasets.ByID(ctx, o.ID)
	if err != nil {
		return v, err
	}
	if v.Project != project {
		return v, errs.NotFoundf("dataset version %s not found in project %q", o.Ref, project)
	}
	return v, nil
}

func (s *Service) doImport(ctx context.Context, project string, c *ImportConfig, dir string) ([]Output, error) {
	if c.Existing != "" {
		v, err := s.Datasets.Get(ctx, project, c.Existing, 0)
		if err != nil {
			return nil, err
		}
		return []Output{versionOut(v, "existing version")}, nil
	}
	roles := map[string]dataset.Role{}
	for k, r := range c.Roles {
		roles[k] = dataset.Role(r)
	}
	types := map[string]dataset.Type{}
	for k, t := range c.Types {
		types[k] = dataset.Type(t)
	}
	var src dataset.Source
	if c.File != "" {
		src = dataset.File(filepath.Join(dir, c.File), c.Format)
	} else {
		dsn := getenv(c.DSNEnv)
		if dsn == "" {
			return nil, errs.Invalidf("import: environment variable %s (dsn_env) is not set", c.DSNEnv)
		}
		src = dataset.Query(dsn, c.SQL)
	}
	r, err := s.Datasets.Import(ctx, src, dataset.ImportOptions{Project: project, Dataset: c.Dataset, Level: c.level(), Roles: roles, Types: types})
	if err != nil {
		return nil, err
	}
	return []Output{versionOut(r.Version, "imported")}, nil
}

// doTrain submits a training job on the dataset version and waits for it.
// It refuses identifying data at run time too, whatever validation saw.
func (s *Service) doTrain(ctx context.Context, project string, c *TrainConfig, in Output, o RunOptions, onJob func(jobs.Job)) ([]Output, error) {
	v, err := s.inputVersion(ctx, project, in)
	if err != nil {
		return nil, err
	}
	if ids := directIDs(v.Columns); v.Level == dataset.Identifying || len(ids) > 0 {
		return nil, errs.Forbiddenf("refused: %s is %s (direct identifiers: %s); a training step takes pseudonymized or anonymized data only", v.Ref(), v.Level, strings.Join(ids, ", "))
	}
	spec := train.Spec{Project: project, Dataset: v.Ref(), Target: c.Target, Positive: c.Positive, Learner: c.Learner, Params: c.Params, Features: c.Features,
		Group: c.Group, CV: c.CV, SplitColumn: c.SplitColumn, TestFraction: c.TestFraction, SplitSeed: c.SplitSeed, Seed: c.Seed,
		Resamples: c.Resamples, Level: c.Level, Threshold: c.Threshold, Prevalence: c.Prevalence, Subgroups: c.Subgroups}
	j, _, err := train.Submit(ctx, s.Datasets, s.Jobs, s.Executable, spec, jobs.Request{Experiment: c.Experiment, TrackingURI: o.TrackingURI,
		Resources: jobs.Resources{CPUs: c.CPUs}, Partition: c.Partition})
	run, j, err := s.jobRun(ctx, j, err, onJob)
	if err != nil {
		return nil, err
	}
	return []Output{{Kind: KindRun, Ref: strconv.FormatInt(run.ID, 10), ID: run.ID,
		Summary: fmt.Sprintf("job %d, test ROC AUC %.3f [%.3f–%.3f]", j.ID, run.Metrics["test_roc_auc"], run.Metrics["test_roc_auc_ci_low"], run.Metrics["test_roc_auc_ci_high"])}}, nil
}

// jobRun follows a submitted job (err: the submission's) to its end and
// returns its run.
func (s *Service) jobRun(ctx context.Context, j jobs.Job, err error, onJob func(jobs.Job)) (track.Run, jobs.Job, error) {
	if err != nil {
		return track.Run{}, j, err
	}
	onJob(j)
	if j, err = s.await(ctx, j); err != nil {
		return track.Run{}, j, err
	}
	run, err := s.Deps.Runs.Get(ctx, *j.RunID)
	return run, j, err
}

// await waits for a job; when ctx ends first, it cancels the job.
func (s *Service) await(ctx context.Context, j jobs.Job) (jobs.Job, error) {
	bg := context.WithoutCancel(ctx)
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.Jobs.Cancel(bg, j.ID, 0)
		case <-done:
		}
	}()
	j, err := s.Jobs.Wait(bg, j.ID)
	close(done)
	if err != nil {
		return j, err
	}
	if j.State != jobs.Succeeded {
		if ctx.Err() != nil {
			return j, ctx.Err()
		}
		msg := j.Message
		if j.RunID != nil { // the end of its error output says why
			if rc, err := s.Deps.Runs.OpenArtifact(bg, *j.RunID, "logs/stderr.txt"); err == nil {
				b, _ := io.ReadAll(io.LimitReader(rc, 64<<10))
				rc.Close()
				if tail := strings.TrimSpace(string(b)); tail != "" {
					msg += ": " + strings.ToValidUTF8(tail[max(0, len(tail)-300):], "")
				}
			}
		}
		return j, errs.Invalidf("job %d %s: %s", j.ID, j.State, msg)
	}
	return j, nil
}
