package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/dp"
)

func (e *env) dpCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "dp",
		Short: "Differentially private statistics of datasets, within a privacy budget",
		Long: `Release counts, histograms, bounded sums and means, and quantiles of a
dataset version with differential privacy: exact discrete Laplace or
Gaussian noise (or the exponential mechanism for quantiles) calibrated so
that no release reveals much about any one patient.

Each patient contributes at most --max-rows-per-patient rows (default 1),
read from --patient-column (default: the column with role patient_id).
Everything that shapes the output is declared, never read from the data:
--bounds clamp measured values, --categories and --bins declare the groups
(undeclared values are never shown), --grid-size the quantile grid.

Every release spends ε (and δ, for Gaussian noise) from the dataset's budget,
set by a project manager; a query that does not fit is refused. Releases
need dataset read access and are audited. See docs/dp.md.`,
		Example: `  hygie dp budget set cohort_features -p demo-bmi --epsilon 3 --as admin
  hygie dp query cohort_features@1 -p demo-bmi --as marc --kind count --epsilon 1 \
    --by sexe,date_naissance_annee --categories 'sexe=F,M' \
    --bins 'date_naissance_annee=1930,1950,1970,1990,2006'
  hygie dp query cohort_features@1 -p demo-bmi --as marc --kind mean --column imc \
    --bounds 15,45 --epsilon 0.5
  hygie dp budget show cohort_features -p demo-bmi --as marc`,
	}
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project name (required)")
	cmd.AddCommand(e.dpQueryCmd(&project), e.dpBudgetCmd(&project), e.dpReleasesCmd(&project))
	return cmd
}

// dpFlags are the flags of dp query.
type dpFlags struct {
	kind, epsilon, delta, noise, column, by, bounds, quantiles, patientColumn string
	categories, bins                                                          []string
	maxRows, gridSize                                                         int
}

// query builds and checks the query the flags describe; a mistake in them
// is a usage error (exit code 2).
func (f *dpFlags) query() (dp.Query, error) {
	usage := func(err error) error { return usageError{fmt.Errorf("%s", errs.MessageOf(err))} }
	if f.epsilon == "" {
		return dp.Query{}, usageError{fmt.Errorf("--epsilon is required: the privacy cost of this release")}
	}
	q := dp.Query{Kind: dp.Kind(f.kind), Noise: dp.Noise(f.noise), Column: f.column, PatientColumn: f.patientColumn,
		MaxRowsPerPatient: f.maxRows, GridSize: f.gridSize}
	var err error
	if q.Epsilon, err = dp.ParseDecimal(f.epsilon); err != nil {
		return q, usageError{fmt.Errorf("--epsilon: %s", errs.MessageOf(err))}
	}
	if f.delta != "" {
		if q.Delta, err = dp.ParseDecimal(f.delta); err != nil {
			return q, usageError{fmt.Errorf("--delta: %s", errs.MessageOf(err))}
		}
	}
	if f.bounds != "" {
		lo, hi, ok := strings.Cut(f.bounds, ",")
		if !ok {
			return q, usageError{fmt.Errorf("--bounds: want LO,HI")}
		}
		if q.Lo, err = dp.ParseDecimal(lo); err == nil {
			q.Hi, err = dp.ParseDecimal(hi)
		}
		if err != nil {
			return q, usageError{fmt.Errorf("--bounds: %s", errs.MessageOf(err))}
		}
	}
	if f.quantiles != "" {
		for _, s := range strings.Split(f.quantiles, ",") {
			p, err := dp.ParseDecimal(s)
			if err != nil {
				return q, usageError{fmt.Errorf("--quantiles: %s", errs.MessageOf(err))}
			}
			q.Quantiles = append(q.Quantiles, p)
		}
	}
	var by []string
	if f.by != "" {
		by = strings.Split(f.by, ",")
	}
	if q.By, err = dp.ParseGroups(by, f.categories, f.bins); err != nil {
		return q, usage(err)
	}
	if err := q.Normalize(); err != nil {
		return q, usage(err)
	}
	return q, nil
}

func (e *env) dpQueryCmd(project *string) *cobra.Command {
	var f dpFlags
	cmd := &cobra.Command{
		Use:   "query NAME[@VERSION]",
		Short: "Release a differentially private statistic of a dataset version",
		Long: `Release one differentially private statistic of a dataset version and spend
its ε (and δ) from the dataset's budget.

Kinds:
  count       rows kept (patients, with one row per patient); with --by, a histogram
  histogram   counts by --by columns over declared categories and bins
  sum         sum of --column, values clamped to --bounds, optionally --by
  mean        noisy sum / noisy count (ε split in halves), clamped to --bounds, optionally --by
  quantile    --quantiles of --column by the exponential mechanism over a grid of
              --grid-size steps across --bounds

Noise: laplace (discrete Laplace, pure ε-DP; the default) or gaussian
(discrete Gaussian, needs --delta). Counts are shown clamped at 0.`,
		Example: `  # patients by birth-year band and sex, ε = 1
  hygie dp query cohort_features@1 -p demo-bmi --as marc --kind count --epsilon 1 \
    --by sexe,date_naissance_annee --categories 'sexe=F,M' \
    --bins 'date_naissance_annee=1930,1950,1970,1990,2006'
  # mean BMI by sex with Gaussian noise
  hygie dp query cohort_features -p demo-bmi --as marc --kind mean --column imc --bounds 15,45 \
    --by sexe --categories 'sexe=F,M' --epsilon 1 --noise gaussian --delta 1e-6
  # median and quartiles of height, on a 1 cm grid
  hygie dp query cohort_features -p demo-bmi --as marc --kind quantile --column taille_m \
    --bounds 1.2,2.2 --grid-size 100 --quantiles 0.25,0.5,0.75 --epsilon 0.9`,
		Args: exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := f.query()
			if err != nil {
				return err
			}
			return e.withVersion(cmd, *project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				rel, err := dp.NewService(a.DB, a.Datasets, a.Audit).Release(ctx, v, q)
				if err != nil {
					return err
				}
				return e.print(rel, func(w io.Writer) { printRelease(w, rel) })
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kind, "kind", "count", "count, sum, mean, histogram or quantile")
	fl.StringVar(&f.epsilon, "epsilon", "", "ε spent by this release (required), e.g. 1 or 0.25")
	fl.StringVar(&f.delta, "delta", "", "δ spent by this release (Gaussian noise only), e.g. 1e-6")
	fl.StringVar(&f.noise, "noise", "laplace", "laplace or gaussian")
	fl.StringVar(&f.column, "column", "", "measured column (sum, mean, quantile)")
	fl.StringVar(&f.bounds, "bounds", "", "LO,HI: declared bounds of --column; values are clamped to them")
	fl.StringVar(&f.by, "by", "", "COL1,COL2: group by these columns (each needs --categories or --bins)")
	fl.StringArrayVar(&f.categories, "categories", nil, "COL=V1,V2,…: declared categories of a --by column (repeatable; '\\' escapes , ; =)")
	fl.StringArrayVar(&f.bins, "bins", nil, "COL=E0,E1,…: declared bin edges of a numeric --by column, bins [E0,E1) … [Ek-1,Ek] (repeatable)")
	fl.StringVar(&f.quantiles, "quantiles", "", "quantiles to release, e.g. 0.25,0.5,0.75 (default 0.5; ε is split between them)")
	fl.IntVar(&f.gridSize, "grid-size", 0, fmt.Sprintf("steps of the quantile grid over --bounds (default %d)", dp.DefaultGridSize))
	fl.StringVar(&f.patientColumn, "patient-column", "", "column saying whose rows are whose (default: the column with role patient_id)")
	fl.IntVar(&f.maxRows, "max-rows-per-patient", 1, "rows kept per patient (chosen reproducibly)")
	return cmd
}

func (e *env) dpBudgetCmd(project *string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "budget",
		Short: "Show or set a dataset's privacy budget",
	}
	var epsilon, delta string
	set := &cobra.Command{
		Use:   "set NAME",
		Short: "Set a dataset's total ε (and δ) — project managers only",
		Long: `Set the total privacy budget of a dataset, shared by all its versions. It may
be raised, or lowered down to what is already spent. Needs project.manage.`,
		Example: "  hygie dp budget set cohort_features -p demo-bmi --epsilon 3 --delta 1e-5 --as admin",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if epsilon == "" {
				return usageError{fmt.Errorf("--epsilon is required")}
			}
			eps, err := dp.ParseDecimal(epsilon)
			if err != nil {
				return usageError{fmt.Errorf("--epsilon: %s", errs.MessageOf(err))}
			}
			var del dp.Decimal
			if delta != "" {
				if del, err = dp.ParseDecimal(delta); err != nil {
					return usageError{fmt.Errorf("--delta: %s", errs.MessageOf(err))}
				}
			}
			return e.withDP(cmd, *project, func(ctx context.Context, s *dp.Service) error {
				b, err := s.SetBudget(ctx, *project, args[0], eps, del)
				if err != nil {
					return err
				}
				return e.print(b, func(w io.Writer) {
					fmt.Fprintf(w, "privacy budget of %s set: ε = %s, δ = %s\n", b.Dataset, b.Epsilon, b.Delta)
					printBudget(w, b)
				})
			})
		},
	}
	set.Flags().StringVar(&epsilon, "epsilon", "", "total ε of the dataset (required)")
	set.Flags().StringVar(&delta, "delta", "0", "total δ of the dataset (needed by Gaussian noise)")
	show := &cobra.Command{
		Use:     "show NAME",
		Short:   "Show a dataset's privacy budget: total, spent, remaining",
		Example: "  hygie dp budget show cohort_features -p demo-bmi --as marc",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withDP(cmd, *project, func(ctx context.Context, s *dp.Service) error {
				b, err := s.GetBudget(ctx, *project, args[0])
				if err != nil {
					return err
				}
				return e.print(b, func(w io.Writer) { printBudget(w, b) })
			})
		},
	}
	cmd.AddCommand(set, show)
	return cmd
}

func (e *env) dpReleasesCmd(project *string) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "releases NAME",
		Short:   "List a dataset's differentially private releases, newest first",
		Example: "  hygie dp releases cohort_features -p demo-bmi --as marc",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withDP(cmd, *project, func(ctx context.Context, s *dp.Service) error {
				rs, err := s.Releases(ctx, *project, args[0], limit)
				if err != nil {
					return err
				}
				return e.print(rs, func(w io.Writer) {
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tDATASET\tQUERY\tMECHANISM\tε\tδ\tCREATED\tBY")
					for _, r := range rs {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Dataset, describe(r.Result), r.Result.Mechanism,
							r.Query.Epsilon, r.Query.Delta, r.CreatedAt.Format(time.DateTime), r.CreatedBy)
					}
					tw.Flush()
				})
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many releases")
	return cmd
}

// withDP opens the app and the DP service for the acting user.
func (e *env) withDP(cmd *cobra.Command, project string, fn func(ctx context.Context, s *dp.Service) error) error {
	if project == "" {
		return usageError{fmt.Errorf("--project is required")}
	}
	return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
		ctx, err := e.actAs(ctx, a)
		if err != nil {
			return err
		}
		return fn(ctx, dp.NewService(a.DB, a.Datasets, a.Audit))
	})
}

func describe(r dp.Result) string {
	s := string(r.Kind)
	if r.Column != "" {
		s += " of " + r.Column
	}
	if len(r.By) > 0 {
		s += " by " + strings.Join(r.By, ", ")
	}
	return s
}

var mechanismNames = map[string]string{
	dp.MechDiscreteLaplace:  "discrete Laplace noise",
	dp.MechDiscreteGaussian: "discrete Gaussian noise",
	dp.MechExponential:      "exponential mechanism",
}

func printRelease(w io.Writer, rel dp.Release) {
	r := rel.Result
	rows := "row"
	if r.MaxRowsPerPatient > 1 {
		rows = "rows"
	}
	title := string(r.Kind)
	if r.Column != "" {
		title += " of " + r.Column
	}
	title += " in " + rel.Dataset
	if len(r.By) > 0 {
		title += " by " + strings.Join(r.By, ", ")
	}
	fmt.Fprintf(w, "%s — %s, ε = %s%s, at most %d %s per patient\n", title, mechanismNames[r.Mechanism],
		r.Epsilon, deltaSuffix(r.Delta), r.MaxRowsPerPatient, rows)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	for _, b := range r.By {
		head = append(head, strings.ToUpper(b))
	}
	if r.Kind == dp.KindQuantile {
		head = append(head, "QUANTILE")
	}
	head = append(head, map[dp.Kind]string{dp.KindCount: "COUNT", dp.KindHistogram: "COUNT", dp.KindSum: "SUM", dp.KindMean: "MEAN", dp.KindQuantile: "VALUE"}[r.Kind])
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, c := range r.Cells {
		fields := append([]string(nil), c.Group...)
		if r.Kind == dp.KindQuantile {
			fields = append(fields, c.Quantile)
		}
		fields = append(fields, formatValue(r, c.Value))
		fmt.Fprintln(tw, strings.Join(fields, "\t"))
	}
	tw.Flush()
	switch {
	case r.Kind == dp.KindCount || r.Kind == dp.KindHistogram:
		fmt.Fprintf(w, "noise: standard deviation %.3g per count; counts are clamped at 0\n", r.NoiseStdDev)
	case r.Kind == dp.KindSum:
		fmt.Fprintf(w, "noise: standard deviation %.3g per sum; values on a grid of step 2^%d\n", r.NoiseStdDev, int(math.Log2(r.Granularity)))
	case r.Kind == dp.KindMean:
		fmt.Fprintf(w, "means are noisy sums over noisy counts (ε split in halves), clamped to the bounds\n")
	}
	if b := rel.Budget; b != nil {
		fmt.Fprintf(w, "spent ε = %s%s (release %d); ", rel.Query.Epsilon, deltaSuffix(rel.Query.Delta), rel.ID)
		printBudget(w, *b)
	}
}

func printBudget(w io.Writer, b dp.Budget) {
	fmt.Fprintf(w, "budget of %s: ε %s of %s spent, %s remaining", b.Dataset, b.EpsilonSpent, b.Epsilon, b.EpsilonRemaining)
	if !b.Delta.IsZero() || !b.DeltaSpent.IsZero() {
		fmt.Fprintf(w, "; δ %s of %s spent, %s remaining", b.DeltaSpent, b.Delta, b.DeltaRemaining)
	}
	fmt.Fprintf(w, "; %d release(s)\n", b.Releases)
}

func deltaSuffix(d dp.Decimal) string {
	if d.IsZero() {
		return ""
	}
	return ", δ = " + d.String()
}

func formatValue(r dp.Result, v float64) string {
	switch r.Kind {
	case dp.KindCount, dp.KindHistogram:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case dp.KindQuantile:
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
