package cli

// hygie job: run any command as a tracked job (local or Slurm executor).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/jobs"
)

// parseBytes reads a memory size: a number with an optional K, M, G or T
// suffix (powers of 1024, an optional trailing B or iB).
func parseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'K':
			mult = 1 << 10
		case 'M':
			mult = 1 << 20
		case 'G':
			mult = 1 << 30
		case 'T':
			mult = 1 << 40
		}
		if mult > 1 {
			t = t[:n-1]
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return 0, fmt.Errorf("memory %q: want a size such as 512M or 4G", s)
	}
	return v * mult, nil
}

func (e *env) jobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Jobs: run any command as a tracked run",
		Long: `A job runs a command as a tracked run, on this machine (local executor) or
on a Slurm cluster (HYGIE_JOBS_EXECUTOR=slurm): its stdout and stderr are
saved as the run's artifacts logs/stdout.txt and
logs/stderr.txt, and the command finds MLFLOW_TRACKING_URI,
MLFLOW_TRACKING_TOKEN (a token for the --as user, revoked when the job ends),
MLFLOW_EXPERIMENT_ID, MLFLOW_RUN_ID and HYGIE_JOB_ID in its environment, so
MLflow clients log to the run. The job's exit code decides its state.

Local executor: each job runs in its own process group; --time kills the
group (SIGTERM, then SIGKILL). 'hygie job cancel' signals the group of a job
run by another hygie process on the same machine.

Slurm executor: hygie submits a batch script with sbatch asking for
--cpus, --mem, --gpus, --time (rounded up to minutes) and --partition
(default HYGIE_SLURM_PARTITION), follows it with squeue and copies its
output into the run as it comes. The spool directory <data>/slurm must be on
a filesystem shared with the compute nodes. 'hygie job cancel' runs scancel
on the job's Slurm id (shown by 'hygie job show'), from any host.`,
	}
	cmd.AddCommand(e.jobSubmitCmd(), e.jobListCmd(), e.jobShowCmd(), e.jobCancelCmd())
	return cmd
}

func (e *env) jobSubmitCmd() *cobra.Command {
	var (
		project, experiment, mem string
		partition                string
		cpus, gpus               int
		limit                    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit -p PROJECT [flags] -- COMMAND [ARGS...]",
		Short: "Run a command as a tracked job, streaming its output",
		Long: `Run a command as a tracked job and wait for it, streaming its output to the
terminal. hygie exits with 0 if the job succeeded, 1 otherwise (the job id
is printed). Interrupting hygie cancels the job.`,
		Example: `  hygie job submit -p sepsis-icu --as marc --experiment baseline --time 2h -- python train.py --lr 0.1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("%s needs a command to run after --", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			var res jobs.Resources
			res.CPUs, res.GPUs, res.TimeLimit = cpus, gpus, limit
			if mem != "" {
				b, err := parseBytes(mem)
				if err != nil {
					return usageError{err}
				}
				res.MemoryBytes = b
			}
			if cpus < 0 || gpus < 0 || limit < 0 {
				return usageError{fmt.Errorf("--cpus, --gpus and --time must not be negative")}
			}
			// The job runs in its own process group, so the terminal's Ctrl-C
			// does not reach it: hygie catches it and cancels the job.
			sctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
			defer stop()
			cmd.SetContext(sctx)
			// The job's output and hygie's messages share the terminal.
			var mu sync.Mutex
			stdout, stderr := &lockedWriter{mu: &mu, w: e.stdout}, &lockedWriter{mu: &mu, w: e.stderr}
			return e.withProject(cmd, project, auth.PermRunWrite, func(a *app.App, ctx context.Context) error {
				j, err := a.Jobs.Submit(ctx, jobs.Request{Project: project, Experiment: experiment, Command: args, Resources: res,
					Partition: partition, Stdout: stdout, Stderr: stderr})
				if err != nil {
					return err
				}
				if jobs.Terminal(j.State) {
					return jobError(j)
				}
				fmt.Fprintf(stderr, "hygie: job %d submitted (run %d)\n", j.ID, *j.RunID)
				ended, err := a.Jobs.Wait(ctx, j.ID)
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					fmt.Fprintf(stderr, "hygie: interrupted: cancelling job %d\n", j.ID)
					ended, err = a.Jobs.Cancel(context.WithoutCancel(ctx), j.ID, 5*time.Second)
				}
				if err != nil {
					return err
				}
				return jobError(ended)
			})
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVarP(&project, "project", "p", "", "project name (required)")
	f.StringVar(&experiment, "experiment", "", "experiment of the job's run (default: default)")
	f.IntVar(&cpus, "cpus", 0, "CPUs requested (recorded; enforced by cluster executors)")
	f.StringVar(&mem, "mem", "", "memory requested, e.g. 4G (recorded; enforced by cluster executors)")
	f.IntVar(&gpus, "gpus", 0, "GPUs requested (recorded; enforced by cluster executors)")
	f.DurationVar(&limit, "time", 0, "time limit, e.g. 2h: the job is killed when it runs longer (Slurm: rounded up to minutes)")
	f.StringVar(&partition, "partition", "", "Slurm partition (default: HYGIE_SLURM_PARTITION, else the cluster's default; ignored by the local executor)")
	return cmd
}

// lockedWriter serializes writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// jobError is nil for a succeeded job and an error naming the job otherwise.
func jobError(j jobs.Job) error {
	if j.State == jobs.Succeeded {
		return nil
	}
	msg := j.Message
	if msg == "" {
		msg = j.State
	}
	return fmt.Errorf("job %d %s: %s", j.ID, j.State, msg)
}

func jobCode(j jobs.Job) string {
	if j.ExitCode == nil {
		return "-"
	}
	return strconv.Itoa(*j.ExitCode)
}

func jobRun(j jobs.Job) string {
	if j.RunID == nil {
		return "-"
	}
	return strconv.FormatInt(*j.RunID, 10)
}

func (e *env) jobListCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:     "list -p PROJECT",
		Short:   "List a project's jobs, newest first",
		Example: "  hygie job list -p sepsis-icu --as marc",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermRunRead, func(a *app.App, ctx context.Context) error {
				js, err := a.Jobs.List(ctx, project)
				if err != nil {
					return err
				}
				if js == nil {
					js = []jobs.Job{}
				}
				return e.print(js, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tSTATE\tEXIT\tRUN\tUSER\tCREATED\tCOMMAND")
					for _, j := range js {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.State, jobCode(j), jobRun(j), j.CreatedBy,
							j.CreatedAt.Format(time.RFC3339), strings.Join(j.Command, " "))
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	return cmd
}

func parseJobID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usageError{fmt.Errorf("job id %q: want a positive integer", s)}
	}
	return id, nil
}

func (e *env) withJob(cmd *cobra.Command, arg string, fn func(a *app.App, ctx context.Context, id int64) error) error {
	id, err := parseJobID(arg)
	if err != nil {
		return err
	}
	return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
		ctx, err := e.actAs(ctx, a)
		if err != nil {
			return err
		}
		return fn(a, ctx, id)
	})
}

func (e *env) printJob(j jobs.Job) error {
	return e.print(j, func(w io.Writer) {
		fmt.Fprintf(w, "job %d (%s, %s executor)\n", j.ID, j.State, j.Executor)
		fmt.Fprintf(w, "  project:  %s\n  run:      %s\n  command:  %s\n  exit:     %s\n  user:     %s\n",
			j.Project, jobRun(j), strings.Join(j.Command, " "), jobCode(j), j.CreatedBy)
		r := j.Resources
		fmt.Fprintf(w, "  requests: cpus=%d mem=%d gpus=%d time=%s\n", r.CPUs, r.MemoryBytes, r.GPUs, r.TimeLimit)
		fmt.Fprintf(w, "  created:  %s\n", j.CreatedAt.Format(time.RFC3339))
		if j.StartedAt != nil {
			fmt.Fprintf(w, "  started:  %s (host %s, pid %d)\n", j.StartedAt.Format(time.RFC3339), j.Host, j.PID)
		}
		if j.ExternalID != "" {
			fmt.Fprintf(w, "  external: %s (%s job id)\n", j.ExternalID, j.Executor)
		}
		if j.EndedAt != nil {
			fmt.Fprintf(w, "  ended:    %s\n", j.EndedAt.Format(time.RFC3339))
		}
		if j.Message != "" {
			fmt.Fprintf(w, "  message:  %s\n", j.Message)
		}
	})
}

func (e *env) jobShowCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "show ID",
		Short:   "Show a job",
		Example: "  hygie job show 12 --as marc",
		Args:    exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withJob(cmd, args[0], func(a *app.App, ctx context.Context, id int64) error {
				j, err := a.Jobs.Get(ctx, id)
				if err != nil {
					return err
				}
				return e.printJob(j)
			})
		},
	}
}

func (e *env) jobCancelCmd() *cobra.Command {
	var grace time.Duration
	cmd := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job",
		Long: `Cancel a queued or running job. A Slurm job run by another hygie process is
cancelled with scancel (from any host with the Slurm client tools); a local
job run by another hygie process on this machine has its process group sent
SIGTERM, then SIGKILL after --grace. The process that runs the job records
the end. Local jobs on other machines must be cancelled there.`,
		Example: "  hygie job cancel 12 --as marc",
		Args:    exactArgs(1, "ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withJob(cmd, args[0], func(a *app.App, ctx context.Context, id int64) error {
				j, err := a.Jobs.Cancel(ctx, id, grace)
				if err != nil {
					return err
				}
				return e.print(j, func(w io.Writer) { fmt.Fprintf(w, "job %d: %s\n", j.ID, j.State) })
			})
		},
	}
	cmd.Flags().DurationVar(&grace, "grace", 5*time.Second, "time between SIGTERM and SIGKILL")
	return cmd
}
