package cli

// hygie model retrain: the next training set from clinicians' corrections,
// and a training job on it like the model version's own.

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/monitor"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

func (e *env) modelRetrainCmd() *cobra.Command {
	var project string
	var o monitor.RetrainOptions
	cmd := &cobra.Command{
		Use:   "retrain MODEL -p PROJECT [--version N] [--annotation NAME]",
		Short: "Train again on the version's data plus the adjudicated feedback on its predictions",
		Long: `Retrain a model from the latest gold data. hygie takes the training run of the
version in production (or --version): its dataset version, target, learner
and parameters. It adds one row per prediction of the model that clinicians
marked incorrect, sent to an annotation project and that was adjudicated:
the inputs from the prediction log (pseudonymised as stored) with the gold
label as the target. The result is stored as a new version of the same
dataset (its parent: the version trained on; its recipe names the
annotation projects), and a training job like 'hygie train --dataset'
starts on it. Register the new run with 'hygie model register' once you
have read its evaluation.`,
		Example: "  hygie model retrain sepsis-risk -p sepsis-icu --as marc\n  hygie model retrain sepsis-risk --version 3 --annotation ward-review -p sepsis-icu --as marc",
		Args:    exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Version < 0 {
				return usageError{fmt.Errorf("--version %d: want a positive integer", o.Version)}
			}
			var res monitor.RetrainResult
			return e.builtinJob(cmd, project, auth.PermRunWrite, "training", func(a *app.App, ctx context.Context, req jobs.Request) (jobs.Job, error) {
				var err error
				res, err = a.Monitor.Retrain(ctx, args[0], o, func(ctx context.Context, spec train.Spec, experiment string) (jobs.Job, train.Spec, error) {
					req.Experiment = experiment
					return train.Submit(ctx, a.Datasets, a.Jobs, a.Executable, spec, req)
				})
				if err != nil {
					return jobs.Job{}, err
				}
				fmt.Fprintf(e.stderr, "hygie: %s: %d corrected rows from %s added to %s → %s\n", res.Model, res.Corrected, strings.Join(res.Annotations, ", "), res.Base, res.Dataset.Ref())
				return res.Job, nil
			}, func(a *app.App, ctx context.Context, ended jobs.Job, run track.Run) error {
				res.Job = ended
				return e.print(map[string]any{"retrain": res, "run": run}, func(w io.Writer) {
					fmt.Fprintf(w, "run %d trained on %s (%s version %d's data %s + %d corrected rows)\n", run.ID, res.Dataset.Ref(), res.Model, res.BaseVersion, res.Base, res.Corrected)
					keys := make([]string, 0, len(run.Metrics))
					for k := range run.Metrics {
						if strings.HasPrefix(k, "test_") && !strings.Contains(k, "_ci_") {
							keys = append(keys, k)
						}
					}
					sort.Strings(keys)
					for _, k := range keys {
						fmt.Fprintf(w, "  %-26s %.4f\n", k, run.Metrics[k])
					}
					fmt.Fprintf(w, "register it with: hygie model register %d --name %s -p %s\n", run.ID, res.Model, project)
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().IntVar(&o.Version, "version", 0, "the version whose training is repeated (default: the one in production)")
	cmd.Flags().StringVar(&o.Annotation, "annotation", "", "take the gold of this annotation project only (default: every classification or rows project)")
	cmd.Flags().StringVar(&o.Experiment, "experiment", "", "experiment of the new run (default: the version's run's)")
	return cmd
}
