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
		Long: `Run the whole lifecycle on a synthetic cohort (no real patient): import an
identifying extract, then run the demo pipeline (internal/demo/hygie.yaml):
pseudonymization, risk assessment and anonymization of a release, a recipe
of features, training of a 30-day readmission model through a job,
evaluation, privacy audit and registration. The pipeline runs three times:
once in full, once with nothing recomputed, once after a change of the
release recipe (only the affected step runs). Then the model is promoted
through the validation gates to production, served over the Open Inference
Protocol with explanations, watched for a month of simulated use, and a
clinician's feedback is recorded. Every stage acts as a user with the right
role and is audited. With --serve the server keeps running so you can open
the UI and call the model.
`,
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
