package cli

import (
	"fmt"
	"io"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/demo"
)

func (e *env) demoCmd() *cobra.Command {
	var (
		serveAfter bool
		patients   int
		seed       int64
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole lifecycle end to end on a synthetic cohort",
		Long: `Run the walking skeleton of the lifecycle on a synthetic cohort (no real
patient): import an identifying extract, pseudonymize it, convert units by a
recipe, train and evaluate a linear regression, register the model and
promote it through the validation gate to production, serve it over the Open
Inference Protocol, and record a clinician's feedback. Every stage acts as a
user with the right role and is audited. With --serve the server keeps
running so you can open the UI and call the model.`,
		Example: `  hygie demo --serve
  hygie demo --data /tmp/hygie-demo --addr 127.0.0.1:0 --output json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			a, ctx, err := e.open(ctx, true)
			if err != nil {
				return err
			}
			defer a.Close()
			l, err := a.Listen()
			if err != nil {
				return err
			}
			text := e.stdout
			if e.output == "json" {
				text = io.Discard
			}
			res, stopServer, err := demo.Run(ctx, a, text, demo.Options{Patients: patients, Seed: seed, Listener: l, Progress: e.stderr})
			if stopServer != nil {
				defer stopServer()
			}
			if err != nil {
				return err
			}
			if err := e.print(res, func(w io.Writer) {
				fmt.Fprintf(w, "\nDone. The web UI is at %s/ — sign in as admin with the token:\n  %s\n", res.BaseURL, res.AdminToken)
				fmt.Fprintf(w, "Call the model as the clinician:\n%s\n", res.Curl)
			}); err != nil {
				return err
			}
			if serveAfter {
				fmt.Fprintf(e.stderr, "\nServing on %s; press Ctrl-C to stop.\n", res.BaseURL)
				<-ctx.Done()
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&serveAfter, "serve", false, "keep the server running after the demo")
	cmd.Flags().IntVar(&patients, "patients", 2000, "size of the synthetic cohort")
	cmd.Flags().Int64Var(&seed, "seed", 42, "random seed of the cohort and the split")
	return cmd
}
