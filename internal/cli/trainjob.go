package cli

// hygie train --dataset: built-in training on a dataset version, run as a
// tracked job; hygie train-job: the job's own command (hidden).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/jobs"
	"github.com/hygie-health/hygie/internal/track"
	"github.com/hygie-health/hygie/internal/train"
)

// trainDataset submits a training job on a dataset version and follows it.
func (e *env) trainDataset(cmd *cobra.Command, project, ref, experiment, target, positive, learner string, params, features []string, group string, cv int) error {
	if target == "" {
		return usageError{fmt.Errorf("--target is required")}
	}
	p, err := trainParams(learner, params)
	if err != nil {
		return err
	}
	spec := train.Spec{Project: project, Dataset: ref, Target: target, Positive: positive, Learner: learner,
		Params: p.Set, Features: features, Group: group, CV: cv}
	if _, _, err := train.ParseRef(ref); err != nil {
		return usageError{fmt.Errorf("--dataset: %s", strings.TrimPrefix(err.Error(), "invalid: "))}
	}
	if len(spec.Params) == 0 {
		spec.Params = nil
	}
	return e.builtinJob(cmd, project, auth.PermRunWrite, "training", func(a *app.App, ctx context.Context, req jobs.Request) (jobs.Job, error) {
		req.Experiment = experiment
		j, submitted, err := train.Submit(ctx, a.Datasets, a.Jobs, a.Executable, spec, req)
		spec = submitted
		return j, err
	}, func(a *app.App, ctx context.Context, ended jobs.Job, run track.Run) error {
		return e.print(map[string]any{"job": ended, "run": run, "spec": spec}, func(w io.Writer) {
			fmt.Fprintf(w, "run %d: model artifact %s, evaluation %s\n", run.ID, train.ModelArtifact, train.ReportArtifact)
			keys := make([]string, 0, len(run.Metrics))
			for k := range run.Metrics {
				if strings.HasPrefix(k, "cv_") && strings.HasSuffix(k, "_mean") {
					keys = append(keys, k)
				}
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(w, "  %-26s %.4f ± %.4f\n", k, run.Metrics[k], run.Metrics[strings.TrimSuffix(k, "_mean")+"_sd"])
			}
		})
	})
}

// builtinJob runs one of hygie's own jobs (training, audit) from the
// command line: it serves the API on loopback when no server answers,
// submits through submit, streams the job's output, cancels the job on
// Ctrl-C, and hands the finished run to report. what names the job in
// messages.
func (e *env) builtinJob(cmd *cobra.Command, project string, perm auth.Perm, what string,
	submit func(a *app.App, ctx context.Context, req jobs.Request) (jobs.Job, error),
	report func(a *app.App, ctx context.Context, ended jobs.Job, run track.Run) error) error {
	sctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	cmd.SetContext(sctx)
	var mu sync.Mutex
	stdout, stderr := &lockedWriter{mu: &mu, w: e.stdout}, &lockedWriter{mu: &mu, w: e.stderr}
	if e.output == "json" {
		stdout = &lockedWriter{mu: &mu, w: io.Discard}
	}
	return e.withProject(cmd, project, perm, func(a *app.App, ctx context.Context) error {
		url, stopServer, err := a.TrackingServer(ctx)
		if err != nil {
			return err
		}
		defer stopServer()
		j, err := submit(a, ctx, jobs.Request{TrackingURI: url, Stdout: stdout, Stderr: stderr})
		if err != nil {
			return err
		}
		if !jobs.Terminal(j.State) {
			fmt.Fprintf(stderr, "hygie: %s job %d submitted (run %d, executor %s)\n", what, j.ID, *j.RunID, j.Executor)
		}
		ended, err := e.follow(ctx, a, j, stderr)
		if err != nil {
			return err
		}
		if ended.State != jobs.Succeeded {
			return jobError(ended)
		}
		run, err := a.Runs.Get(ctx, *ended.RunID)
		if err != nil {
			return err
		}
		return report(a, ctx, ended, run)
	})
}

// follow waits for a job run by this process; an interrupt cancels it.
func (e *env) follow(ctx context.Context, a *app.App, j jobs.Job, stderr io.Writer) (jobs.Job, error) {
	if jobs.Terminal(j.State) {
		return j, nil
	}
	ended, err := a.Jobs.Wait(ctx, j.ID)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintf(stderr, "hygie: interrupted: cancelling job %d\n", j.ID)
		ended, err = a.Jobs.Cancel(context.WithoutCancel(ctx), j.ID, 5*time.Second)
	}
	return ended, err
}

// workerCmds are the hidden commands hygie's own jobs run: `hygie NAME
// --spec JSON` for each of train.Workers.
func (e *env) workerCmds() []*cobra.Command {
	var cmds []*cobra.Command
	for name, w := range train.Workers {
		var spec string
		cmd := &cobra.Command{
			Use:    name + " --spec JSON",
			Short:  w.Short + " (started by hygie's job system)",
			Hidden: true,
			Args:   exactArgs(0, ""),
			RunE: func(cmd *cobra.Command, args []string) error {
				err := w.Run(cmd.Context(), []byte(spec), e.stdout)
				if errs.CodeOf(err) == errs.Invalid && strings.HasPrefix(errs.MessageOf(err), "--spec") {
					return usageError{err}
				}
				return err
			},
		}
		cmd.Flags().StringVar(&spec, "spec", "", "the job's spec (JSON)")
		cmds = append(cmds, cmd)
	}
	return cmds
}
