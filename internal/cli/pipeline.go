package cli

// hygie pipeline: validate, plan and run pipelines declared in hygie.yaml.

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/pipeline"
)

func (e *env) pipelineCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pipeline",
		Short: "Pipelines as code: validate, plan and run hygie.yaml",
		Long: `A pipeline file (hygie.yaml) declares the lifecycle as named steps —
import, pseudonymise, deid, risk, anonymise, recipe, annotate, train,
evaluate, privacy-audit, register, promote — each taking other steps'
outputs as inputs. hygie validates the whole file before anything runs
(including that no training step receives identifying data), caches each
step by the content of its inputs and configuration, and runs only the
stale steps: train and privacy-audit steps as jobs on the configured
executor (local or Slurm). See docs/pipelines.md.`,
	}
	cmd.AddCommand(e.pipelineValidateCmd(), e.pipelineStatusCmd(), e.pipelineRunCmd(), e.pipelineRunsCmd(), e.pipelineShowCmd(), e.pipelineCancelCmd())
	return cmd
}

type pipelineFlags struct {
	file    string
	project string
	params  []string
}

func (f *pipelineFlags) add(cmd *cobra.Command, projectRequired bool) {
	cmd.Flags().StringVarP(&f.file, "file", "f", pipeline.DefaultFile, "the pipeline file")
	help := "project (resolves existing datasets)"
	if projectRequired {
		help = "project"
	}
	cmd.Flags().StringVarP(&f.project, "project", "p", "", help)
	cmd.Flags().StringArrayVar(&f.params, "param", nil, "override a parameter: NAME=VALUE (repeatable)")
}

func (f *pipelineFlags) read() ([]byte, map[string]string, error) {
	b, err := os.ReadFile(f.file)
	if err != nil {
		return nil, nil, errs.Invalidf("pipeline file %s: %v", f.file, err)
	}
	params, err := pipeline.ParseParams(f.params)
	if err != nil {
		return nil, nil, usageError{err}
	}
	return b, params, nil
}

// load reads, parses and validates the file in the project.
func (f *pipelineFlags) load(ctx context.Context, a *app.App) (*pipeline.Spec, map[string]string, error) {
	b, params, err := f.read()
	if err != nil {
		return nil, nil, err
	}
	return a.Pipelines.Load(ctx, f.project, f.file, b, params)
}

func (e *env) pipelineValidateCmd() *cobra.Command {
	var f pipelineFlags
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check a pipeline file without running anything",
		Long: `Check a pipeline file: its structure, every step's type, inputs and
configuration, the parameters, cycles, and that no path hands identifying data
to a training step. Every error names the file, the line and the step. With
--project, the levels of the existing datasets it imports are looked up too.`,
		Example: `  hygie pipeline validate
  hygie pipeline validate -f pipelines/readmission.yaml -p demo-bmi --as marc --param trees=200`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			report := func(spec *pipeline.Spec) error {
				return e.print(spec, func(w io.Writer) {
					fmt.Fprintf(w, "%s: pipeline %s is valid: %d steps\n", f.file, spec.Name, len(spec.Steps))
					for _, st := range spec.Order() {
						fmt.Fprintf(w, "  %-14s %s\n", st.Name, st.Type)
					}
				})
			}
			if f.project == "" {
				b, params, err := f.read()
				if err != nil {
					return err
				}
				spec, err := pipeline.Parse(f.file, b)
				if err != nil {
					return err
				}
				values, err := spec.Values(params)
				if err != nil {
					return err
				}
				if err := spec.Validate(values, nil); err != nil {
					return err
				}
				return report(spec)
			}
			return e.withProject(cmd, f.project, auth.PermProjectRead, func(a *app.App, ctx context.Context) error {
				spec, _, err := f.load(ctx, a)
				if err != nil {
					return err
				}
				return report(spec)
			})
		},
	}
	f.add(cmd, false)
	return cmd
}

func (e *env) pipelineStatusCmd() *cobra.Command {
	var f pipelineFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show which steps are up to date and why the others are stale",
		Example: `  hygie pipeline status -p demo-bmi --as marc
  hygie pipeline status -p demo-bmi -f hygie.yaml --param obesity=35`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, f.project, auth.PermProjectRead, func(a *app.App, ctx context.Context) error {
				spec, _, err := f.load(ctx, a)
				if err != nil {
					return err
				}
				plans, err := a.Pipelines.Plan(ctx, f.project, spec, filepath.Dir(f.file))
				if err != nil {
					return err
				}
				return e.print(plans, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "STEP\tTYPE\tSTATE\tWHY")
					for _, p := range plans {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Type, p.State(), p.Reason)
					}
					tw.Flush()
				})
			})
		},
	}
	f.add(cmd, true)
	return cmd
}

func (e *env) pipelineRunCmd() *cobra.Command {
	var (
		f      pipelineFlags
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Print the plan, then run the stale steps",
		Long: `Print the plan (each step up to date or stale, and why), then run the stale
steps in dependency order, independent ones in parallel, reusing the recorded
outputs of the others. Train and privacy-audit steps are jobs on the
configured executor ('hygie job list' shows them); Ctrl-C cancels the run and
its jobs. The run is recorded with its parameters and the lineage of
everything it produced.`,
		Example: `  hygie pipeline run -p demo-bmi --as sophie --dry-run
  hygie pipeline run -p demo-bmi --as sophie --param trees=200`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			cmd.SetContext(ctx)
			perm := auth.PermRunWrite
			if dryRun {
				perm = auth.PermProjectRead
			}
			return e.withProject(cmd, f.project, perm, func(a *app.App, ctx context.Context) error {
				spec, values, err := f.load(ctx, a)
				if err != nil {
					return err
				}
				out := e.stdout
				if e.output == "json" {
					out = io.Discard
				}
				url, stopServer := "", func() {}
				if !dryRun {
					if url, stopServer, err = a.TrackingServer(ctx); err != nil {
						return err
					}
				}
				defer stopServer()
				rec, plans, err := a.Pipelines.Run(ctx, f.project, spec, pipeline.RunOptions{Dir: filepath.Dir(f.file), Params: values, DryRun: dryRun, TrackingURI: url, Out: out})
				if dryRun && err == nil {
					return e.print(plans, func(io.Writer) {})
				}
				if err != nil {
					return err
				}
				return e.print(rec, func(io.Writer) {})
			})
		},
	}
	f.add(cmd, true)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan only")
	return cmd
}

func (e *env) pipelineRunsCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "runs [PIPELINE]",
		Short:   "List pipeline runs, newest first",
		Example: `  hygie pipeline runs readmission -p demo-bmi --as marc`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return e.withProject(cmd, project, auth.PermProjectRead, func(a *app.App, ctx context.Context) error {
				runs, err := a.Pipelines.Runs(ctx, project, name, 0)
				if err != nil {
					return err
				}
				return e.print(runs, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
					fmt.Fprintln(tw, "RUN\tPIPELINE\tSTATE\tTRIGGER\tBY\tSTARTED\tDURATION")
					for _, r := range runs {
						d := "-"
						if r.EndedAt != nil {
							d = r.EndedAt.Sub(r.CreatedAt).Round(time.Millisecond).String()
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Pipeline, r.State, r.Trigger, r.CreatedBy, r.CreatedAt.Local().Format(time.DateTime), d)
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project")
	return cmd
}

func printRun(w io.Writer, r pipeline.RunRecord) {
	fmt.Fprintf(w, "pipeline run %d of %s: %s (trigger %s, by %s)\n", r.ID, r.Pipeline, r.State, r.Trigger, r.CreatedBy)
	if r.Error != "" {
		fmt.Fprintf(w, "error: %s\n", r.Error)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTYPE\tSTATE\tCACHED\tJOB\tATTEMPTS\tDURATION\tOUTPUT")
	for _, s := range r.Steps {
		job := "-"
		if s.JobID != nil {
			job = strconv.FormatInt(*s.JobID, 10)
		}
		out := s.Error
		for _, o := range s.Outputs {
			out = string(o.Kind) + " " + o.Ref
		}
		if out == "" {
			out = s.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%d\t%s\t%s\n", s.Name, s.Type, s.State, s.Cached, job, s.Attempts, s.Duration().Round(time.Millisecond), out)
	}
	tw.Flush()
}

// onPipelineRun is a command on one pipeline run: RUN -p PROJECT.
func (e *env) onPipelineRun(use, short, example string, perm auth.Perm, fn func(a *app.App, ctx context.Context, project string, id int64) error) *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use: use, Short: short, Example: example,
		Args: exactArgs(1, "RUN"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usageError{fmt.Errorf("RUN: want a number, got %q", args[0])}
			}
			return e.withProject(cmd, project, perm, func(a *app.App, ctx context.Context) error { return fn(a, ctx, project, id) })
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project")
	return cmd
}

func (e *env) pipelineShowCmd() *cobra.Command {
	return e.onPipelineRun("show RUN", "Show a pipeline run's steps: state, cache, job, attempts, outputs", "  hygie pipeline show 3 -p demo-bmi --as marc", auth.PermProjectRead,
		func(a *app.App, ctx context.Context, project string, id int64) error {
			r, err := a.Pipelines.GetRun(ctx, project, id)
			if err != nil {
				return err
			}
			return e.print(r, func(w io.Writer) { printRun(w, r) })
		})
}

func (e *env) pipelineCancelCmd() *cobra.Command {
	return e.onPipelineRun("cancel RUN", "Cancel a running pipeline run and its jobs", "  hygie pipeline cancel 3 -p demo-bmi --as marc", auth.PermRunWrite,
		func(a *app.App, ctx context.Context, project string, id int64) error {
			r, err := a.Pipelines.RequestCancel(ctx, project, id)
			if err != nil {
				return err
			}
			return e.print(r, func(w io.Writer) { fmt.Fprintf(w, "cancellation of pipeline run %d requested\n", r.ID) })
		})
}
