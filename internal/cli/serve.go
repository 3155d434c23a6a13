package cli

import (
	"context"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/serve"
)

func (e *env) serveCmd() *cobra.Command {
	var (
		o      serve.Options
		budget int64
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a stateless model-serving replica (Open Inference Protocol)",
		Long: `Serve models over the Open Inference Protocol (KServe v2 REST) under /v2,
with /healthz, /readyz and /metrics, and nothing else: no API, no web UI.

The replica reads the model registry from the configured database and the
artifacts from the configured store; it keeps no state of its own, so
several replicas on one PostgreSQL and S3 store can stand behind any load
balancer. A model name without a version resolves to the version deployed in
--environment, re-read every few seconds: a promotion or rollback swaps in
without dropping requests. Every prediction is logged in the database.

Requests are batched per model version (--max-batch rows, waiting at most
--max-delay for others to join); a full queue (--queue requests) answers
503, as does a request not answered within --timeout. Models not used
recently are unloaded beyond --memory-budget bytes of artifacts.

The schema must be up to date ('hygie migrate' or 'hygie server' apply
migrations; replicas never do).

SIGTERM or SIGINT stop the replica gracefully: for --shutdown-drain it
keeps serving with /readyz answering 503 and every connection closed after
its answer (load balancers move away without a cut request); then it stops
accepting connections, answers the requests in flight (at most
--shutdown-timeout), writes the pending prediction log and exits 0. A second
signal ends it at once. A load balancer may retry an inference request on another replica: a
request with an Idempotency-Key header (nginx can set one per client
request, see docs/deployment.md) gets prediction ids derived from it, so a
retry answers the same ids and is logged once.`,
		Example: `  hygie serve --environment production --addr 0.0.0.0:9000 \
    --database postgres://hygie@db/hygie --artifacts s3://hygie/prod --s3-endpoint minio:9000`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Once draining, a second signal ends the process at once.
			context.AfterFunc(ctx, stop)
			o.MemoryBudget = budget
			a, err := app.OpenServing(ctx, e.cfg, app.Options{Logger: app.NewLogger(e.cfg, e.stderr)}, o)
			if err != nil {
				return err
			}
			defer a.Close()
			l, err := a.Listen()
			if err != nil {
				return err
			}
			return a.Run(ctx, l)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Environment, "environment", "production", "environment that model names without a version resolve to: dev, test, integration or production")
	f.IntVar(&o.MaxBatch, "max-batch", 64, "most rows predicted in one model call")
	f.DurationVar(&o.MaxDelay, "max-delay", 0, "longest a request waits for others to join its batch (0: only those already queued)")
	f.IntVar(&o.QueueSize, "queue", 1024, "requests waiting per model version before answering 503")
	f.IntVar(&o.Workers, "workers", 0, "concurrent model calls per model version (0: one per CPU)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Second, "longest a request may take before answering 503")
	f.Int64Var(&budget, "memory-budget", 1<<30, "bytes of model artifacts kept loaded; the least recently used are unloaded beyond it")
	return cmd
}
