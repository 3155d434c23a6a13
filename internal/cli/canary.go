package cli

// hygie model canary: show, set or clear a model's canary (or shadow)
// version.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/registry"
)

func (e *env) modelCanaryCmd() *cobra.Command {
	var project, mode string
	var version int
	var share float64
	var clear bool
	cmd := &cobra.Command{
		Use:   "canary MODEL -p PROJECT [--version N --share S [--mode canary|shadow] | --clear]",
		Short: "Show, set or clear the version tried on a share of live traffic (canary or shadow)",
		Long: `Without flags, show the model's canary. With --version and --share, send that
share (more than 0, at most 0.5) of the requests that name no version to the
version, which must be in integration: in canary mode it answers them, in
shadow mode it predicts in the background and the production version still
answers; its predictions are logged with their route. --clear ends it.
Setting and clearing take model.promote and are audited.`,
		Example: `  hygie model canary sepsis-risk --version 4 --share 0.1 -p sepsis-icu --as marc
  hygie model canary sepsis-risk --version 4 --share 0.5 --mode shadow -p sepsis-icu --as marc
  hygie model canary sepsis-risk --clear -p sepsis-icu --as marc`,
		Args: exactArgs(1, "MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			set := cmd.Flags().Changed("version") || cmd.Flags().Changed("share") || cmd.Flags().Changed("mode")
			switch {
			case clear && set:
				return usageError{fmt.Errorf("--clear takes no --version, --share or --mode")}
			case set && (version < 1 || !cmd.Flags().Changed("share")):
				return usageError{fmt.Errorf("setting a canary needs --version (a positive integer) and --share")}
			}
			perm := auth.PermModelRead
			if set || clear {
				perm = auth.PermModelPromote
			}
			return e.withProject(cmd, project, perm, func(a *app.App, ctx context.Context) error {
				if p, err := a.Registry.ProjectOfModel(ctx, args[0]); err != nil || p != project {
					return errs.NotFoundf("model %q not found in project %q", args[0], project)
				}
				switch {
				case clear:
					if err := a.Registry.ClearCanary(ctx, args[0]); err != nil {
						return err
					}
					return e.print(map[string]any{"model": args[0], "canary": nil}, func(w io.Writer) {
						fmt.Fprintf(w, "%s has no canary: the version in production answers every request\n", args[0])
					})
				case set:
					c, err := a.Registry.SetCanary(ctx, args[0], version, share, mode)
					if err != nil {
						return err
					}
					return e.print(c, func(w io.Writer) { printCanary(w, c) })
				}
				c, err := a.Registry.Canary(ctx, args[0])
				if err != nil {
					return err
				}
				return e.print(c, func(w io.Writer) { printCanary(w, c) })
			})
		},
	}
	cmd.Flags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.Flags().IntVar(&version, "version", 0, "the candidate version (in integration)")
	cmd.Flags().Float64Var(&share, "share", 0, "share of the unversioned requests, in (0, 0.5]")
	cmd.Flags().StringVar(&mode, "mode", registry.ModeCanary, "canary (the candidate answers) or shadow (it predicts in the background)")
	cmd.Flags().BoolVar(&clear, "clear", false, "end the canary or shadow")
	return cmd
}

func printCanary(w io.Writer, c registry.Canary) {
	fmt.Fprintf(w, "%s version %d takes %g%% of the traffic in %s mode (set by %s at %s)\n", c.Model, c.Version.Version, c.Share*100, c.Mode, c.SetBy, c.SetAt.Format(time.RFC3339))
}
