package cli

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func (e *env) serverCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "server",
		Short: "Serve the REST API, the web UI and models",
		Long: `Serve hygie over HTTP: the REST API under /api/v1 (OpenAPI document at
/api/v1/openapi.json), the web UI at /, the Open Inference Protocol under /v2,
/metrics, /healthz and /readyz. Pending migrations are applied at start; a
database schema newer than this binary is refused. SIGTERM or SIGINT shut
down gracefully (after --shutdown-drain with /readyz failing, requests in
flight are answered within --shutdown-timeout); a second signal ends the
process at once.`,
		Example: `  HYGIE_BOOTSTRAP_TOKEN=$(openssl rand -hex 24) hygie server --addr 127.0.0.1:8080
  hygie server --database postgres://hygie@db/hygie --artifacts s3://hygie/prod --s3-endpoint minio:9000`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Once draining, a second signal ends the process at once.
			context.AfterFunc(ctx, stop)
			a, _, err := e.open(ctx, true)
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
}
