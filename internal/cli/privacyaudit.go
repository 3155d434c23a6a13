package cli

// hygie privacy-audit: a membership-inference audit of a training run, run
// as a tracked job; hygie audit-job: the job's own command (hidden).

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

func (e *env) privacyAuditCmd() *cobra.Command {
	var project, experiment string
	var spec train.AuditSpec
	var maxAdvantage float64
	cmd := &cobra.Command{
		Use:   "privacy-audit RUN_ID",
		Short: "Audit a trained model for membership inference, as a tracked job",
		Long: `Attack the model of a training run (one of 'hygie train --dataset') with the
loss-threshold membership-inference attack: the model's per-record loss on
its training records (members) is compared with its loss on the held-out
test records (non-members), found again from the run's locked split.

The report gives the attack's ROC AUC (0.5: chance) and its advantage, the
largest TPR − FPR over thresholds (0: chance, 1: every training record
identified), with bootstrap confidence intervals. The audit is a job with a
run of its own: metrics mia_*, the tag hygie.audit_of_run=RUN_ID and the
report privacy/membership_inference.json as an artifact.

With --max-advantage, the command fails (exit 1) when the upper bound of the
advantage interval exceeds it. See docs/training.md.`,
		Example: `  hygie privacy-audit 42 -p sepsis-icu --as marc
  hygie privacy-audit 42 -p sepsis-icu --as marc --max-advantage 0.1 --output json`,
		Args: exactArgs(1, "RUN_ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id < 1 {
				return usageError{fmt.Errorf("RUN_ID: want a run number, got %q", args[0])}
			}
			if maxAdvantage < 0 || maxAdvantage > 1 {
				return usageError{fmt.Errorf("--max-advantage must be in [0, 1], got %v", maxAdvantage)}
			}
			spec.Project, spec.RunID = project, id
			return e.privacyAudit(cmd, spec, experiment, maxAdvantage, cmd.Flags().Changed("max-advantage"))
		},
	}
	f := cmd.Flags()
	f.StringVarP(&project, "project", "p", "", "the project")
	f.StringVar(&experiment, "experiment", "", "experiment of the audit run (default: the audited run's)")
	f.IntVar(&spec.Resamples, "resamples", 1000, "bootstrap resamples")
	f.Float64Var(&spec.Level, "level", 0.95, "confidence level of the intervals")
	f.Int64Var(&spec.Seed, "seed", 0, "seed of the balancing subsample and the bootstrap")
	f.Float64Var(&maxAdvantage, "max-advantage", 0, "fail when the advantage interval's upper bound exceeds this")
	return cmd
}

// privacyAudit submits the audit job and follows it.
func (e *env) privacyAudit(cmd *cobra.Command, spec train.AuditSpec, experiment string, maxAdvantage float64, gate bool) error {
	return e.builtinJob(cmd, spec.Project, auth.PermRunRead, "privacy audit", func(a *app.App, ctx context.Context, req jobs.Request) (jobs.Job, error) {
		req.Experiment = experiment
		return train.SubmitAudit(ctx, a.Runs, a.Jobs, a.Executable, spec, req)
	}, func(a *app.App, ctx context.Context, ended jobs.Job, run track.Run) error {
		rc, err := a.Runs.OpenArtifact(ctx, run.ID, train.AuditArtifact)
		if err != nil {
			return err
		}
		defer rc.Close()
		var rep train.AuditReport
		if err := json.NewDecoder(rc).Decode(&rep); err != nil {
			return fmt.Errorf("run %d: %s: %w", run.ID, train.AuditArtifact, err)
		}
		out := map[string]any{"job": ended, "run": run, "report": rep}
		pass := true
		if gate {
			pass = rep.Pass(maxAdvantage)
			out["gate"] = map[string]any{"max_advantage": maxAdvantage, "pass": pass}
		}
		err = e.print(out, func(w io.Writer) {
			fmt.Fprintf(w, "run %d: membership-inference audit of run %d (%s %s on %s), report %s\n", run.ID, rep.AuditedRun, rep.Learner, rep.Task, rep.Dataset, train.AuditArtifact)
			fmt.Fprintf(w, "  %d training and %d held-out records (of %d and %d), per-record %s\n", rep.Members, rep.NonMembers, rep.MembersAvailable, rep.NonMembersAvailable, rep.Loss)
			fmt.Fprintf(w, "  %-10s %.4f [%.4f, %.4f]   (chance: 0.5)\n", "AUC", rep.AUC, rep.AUCInterval.Lower, rep.AUCInterval.Upper)
			fmt.Fprintf(w, "  %-10s %.4f [%.4f, %.4f]   (chance reaches up to %.4f)\n", "advantage", rep.Advantage, rep.AdvantageInterval.Lower, rep.AdvantageInterval.Upper, rep.AdvantageChance)
			fmt.Fprintf(w, "  %g%% bootstrap intervals; %s\n", rep.Level*100, rep.Interpretation)
			if gate {
				verdict := "pass"
				if !pass {
					verdict = "FAIL"
				}
				fmt.Fprintf(w, "  gate: advantage upper bound %.4f, maximum %.4f: %s\n", rep.AdvantageInterval.Upper, maxAdvantage, verdict)
			}
		})
		if err == nil && !pass {
			err = fmt.Errorf("privacy gate failed: the advantage's upper bound %.4f exceeds %.4f", float64(rep.AdvantageInterval.Upper), maxAdvantage)
		}
		return err
	})
}
