package cli

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/pseudo"
)

func (e *env) datasetPseudonymizeCmd(project *string) *cobra.Command {
	var specFile string
	cmd := &cobra.Command{
		Use:   "pseudonymize NAME[@VERSION]",
		Short: "Derive a pseudonymized version of an identifying one (stewards)",
		Long: `Derive a pseudonymized version: patient ids become keyed pseudonyms of a
pseudonym domain (recorded in the vault), direct identifiers are dropped (or
pseudonymized), dates are generalized to the year or shifted by a secret
per-patient offset, ages are top-coded and free text is dropped or
de-identified (the row's own identifiers masked wherever they appear).
Options come from a YAML or JSON spec (see pseudo.Spec and docs); any cell
that cannot be processed fails the whole run naming its row and column.`,
		Example: `  hygie dataset pseudonymize cohort@1 -p demo-bmi --as sophie
  hygie dataset pseudonymize notes -p sepsis --as sophie --spec spec.yaml   # dates: shift, text: mask`,
		Args: exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var spec pseudo.Spec
			if specFile != "" {
				b, err := os.ReadFile(specFile)
				if err != nil {
					return errs.Wrap(err, errs.Invalid, "cannot read %s", specFile)
				}
				if spec, err = pseudo.ParseSpec(b); err != nil {
					return err
				}
			}
			return e.withVersion(cmd, *project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				res, err := a.Pseudo.PseudonymizeWith(ctx, v, spec)
				if err != nil {
					return err
				}
				return e.print(res, func(w io.Writer) {
					fmt.Fprintf(w, "%s (parent %s, domain %s, created %v)\n", res.Version.Ref(), res.Version.Parent, res.Domain, res.Created)
					fmt.Fprintf(w, "  pseudonymized %v\n  dropped %v\n  year only %v\n  shifted %v\n  top-coded %v\n  de-identified text %v\n  vault entries %d\n",
						res.Pseudonymized, res.Dropped, res.Generalized, res.Shifted, res.TopCoded, res.Deidentified, res.VaultEntries)
				})
			})
		},
	}
	cmd.Flags().StringVar(&specFile, "spec", "", "YAML or JSON pseudonymization spec (default: the defaults)")
	return cmd
}
