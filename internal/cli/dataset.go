package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
)

// parseRef splits "name@version" (version 0 = latest when absent).
func parseRef(ref string) (string, int, error) {
	name, ver, found := strings.Cut(ref, "@")
	if name == "" {
		return "", 0, usageError{fmt.Errorf("dataset reference %q: want NAME or NAME@VERSION", ref)}
	}
	if !found {
		return name, 0, nil
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n <= 0 {
		return "", 0, usageError{fmt.Errorf("dataset reference %q: version must be a positive integer", ref)}
	}
	return name, n, nil
}

// actAs loads the principal a data command acts as (--as or HYGIE_USER):
// access rules and the audit log apply to offline commands as to the API.
func (e *env) actAs(ctx context.Context, a *app.App) (context.Context, error) {
	name := e.as
	if name == "" {
		name = e.getenv("HYGIE_USER")
	}
	if name == "" {
		return ctx, usageError{fmt.Errorf("this command reads or writes project data: say who you act as with --as USER (or HYGIE_USER)")}
	}
	p, err := a.Auth.PrincipalOf(ctx, name)
	if err != nil {
		return ctx, err
	}
	return auth.WithPrincipal(ctx, p), nil
}

func (e *env) datasetCmd() *cobra.Command {
	var project string
	cmd := &cobra.Command{
		Use:   "dataset",
		Short: "Datasets: immutable versions with lineage, roles and privacy levels",
		Long: `Datasets hold immutable, content-addressed versions. Each version records
its schema (typed columns with roles), row count, privacy level (identifying,
pseudonymized, anonymized, aggregate), its parent and the recipe that made it.
Commands act as a user (--as): identifying versions are for stewards only,
and every read of one is audited.`,
	}
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project name (required)")
	list := &cobra.Command{
		Use:     "list",
		Short:   "List a project's datasets (latest versions)",
		Example: "  hygie dataset list -p demo-bmi --as marc",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermDatasetRead, func(a *app.App, ctx context.Context) error {
				vs, err := a.Datasets.List(ctx, project)
				if err != nil {
					return err
				}
				return e.print(vs, func(w io.Writer) { versionTable(w, vs) })
			})
		},
	}
	versions := &cobra.Command{
		Use:     "versions NAME",
		Short:   "List every version of a dataset",
		Example: "  hygie dataset versions cohort -p demo-bmi --as sophie",
		Args:    exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withProject(cmd, project, auth.PermDatasetRead, func(a *app.App, ctx context.Context) error {
				vs, err := a.Datasets.Versions(ctx, project, args[0])
				if err != nil {
					return err
				}
				if len(vs) == 0 {
					return fmt.Errorf("dataset %q not found in project %q", args[0], project)
				}
				return e.print(vs, func(w io.Writer) { versionTable(w, vs) })
			})
		},
	}
	show := &cobra.Command{
		Use:     "show NAME[@VERSION]",
		Short:   "Show a version: schema with roles, level, lineage",
		Example: "  hygie dataset show cohort_features@1 -p demo-bmi --as marc",
		Args:    exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withVersion(cmd, project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				return e.print(v, func(w io.Writer) {
					fmt.Fprintf(w, "%s  level %s  %d rows  created %s by %s\n", v.Ref(), v.Level, v.Rows, v.CreatedAt.Format(time.DateTime), v.CreatedBy)
					if v.Parent != "" {
						fmt.Fprintf(w, "parent %s\n", v.Parent)
					}
					if v.Encrypted {
						fmt.Fprintln(w, "content encrypted at rest")
					}
					tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "COLUMN\tTYPE\tROLE")
					for _, c := range v.Columns {
						fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Name, c.Type, c.Role)
					}
					tw.Flush()
					if v.Recipe != "" {
						fmt.Fprintf(w, "recipe:\n%s\n", indent(v.Recipe))
					}
				})
			})
		},
	}
	lineage := &cobra.Command{
		Use:     "lineage NAME[@VERSION]",
		Short:   "Show the ancestry of a version, newest first",
		Example: "  hygie dataset lineage cohort_features@1 -p demo-bmi --as marc",
		Args:    exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withVersion(cmd, project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				chain, err := a.Datasets.Lineage(ctx, v)
				if err != nil {
					return err
				}
				return e.print(chain, func(w io.Writer) {
					for i, x := range chain {
						prefix := strings.Repeat("  ", i)
						if i > 0 {
							prefix = strings.Repeat("  ", i-1) + "└─ "
						}
						how := "imported"
						if x.Recipe != "" {
							how = "made by: " + firstLine(x.Recipe)
						}
						fmt.Fprintf(w, "%s%s  [%s, %d rows]  %s\n", prefix, x.Ref(), x.Level, x.Rows, how)
					}
				})
			})
		},
	}
	prof := &cobra.Command{
		Use:   "profile NAME[@VERSION]",
		Short: "Profile a version: statistics per column, privacy-aware",
		Long: `Profile a version: count, missing, distinct, and by type min/max/mean/std,
quantiles, histogram, most frequent values, timelines; correlations and
duplicates. Values of identifier and free-text columns are never listed, and
any value or bin held by fewer than 5 records shows as "<5".`,
		Example: "  hygie dataset profile cohort_features -p demo-bmi --as marc --output json",
		Args:    exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withVersion(cmd, project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				rep, err := profile.OfVersion(ctx, a.Datasets, v)
				if err != nil {
					return err
				}
				return e.print(rep, func(w io.Writer) { profileText(w, v, rep) })
			})
		},
	}
	cmd.AddCommand(list, versions, show, lineage, prof,
		e.datasetImportCmd(&project), e.datasetExportCmd(&project), e.datasetTransformCmd(&project),
		e.datasetPseudonymizeCmd(&project))
	return cmd
}

// withProject opens the app, acts as the --as user, and checks that user
// holds perm in project before running fn.
func (e *env) withProject(cmd *cobra.Command, project string, perm auth.Perm, fn func(a *app.App, ctx context.Context) error) error {
	if project == "" {
		return usageError{fmt.Errorf("--project is required")}
	}
	return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
		ctx, err := e.actAs(ctx, a)
		if err != nil {
			return err
		}
		if err := auth.Require(ctx, project, perm); err != nil {
			return err
		}
		return fn(a, ctx)
	})
}

// withVersion resolves NAME[@VERSION] in project for the acting user.
func (e *env) withVersion(cmd *cobra.Command, project, ref string, fn func(a *app.App, ctx context.Context, v dataset.Version) error) error {
	name, n, err := parseRef(ref)
	if err != nil {
		return err
	}
	return e.withProject(cmd, project, auth.PermDatasetRead, func(a *app.App, ctx context.Context) error {
		v, err := a.Datasets.Get(ctx, project, name, n)
		if err != nil {
			return err
		}
		return fn(a, ctx, v)
	})
}

func versionTable(w io.Writer, vs []dataset.Version) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DATASET\tLEVEL\tROWS\tCOLUMNS\tPARENT\tCREATED\tBY")
	for _, v := range vs {
		parent := v.Parent
		if parent == "" {
			parent = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\n", v.Ref(), v.Level, v.Rows, len(v.Columns), parent, v.CreatedAt.Format(time.DateTime), v.CreatedBy)
	}
	tw.Flush()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(l) > 80 {
		l = l[:77] + "..."
	}
	return l
}

// profileText prints one line per column; --output json gives everything.
func profileText(w io.Writer, v dataset.Version, rep *profile.Report) {
	fmt.Fprintf(w, "%s: %d rows, %d duplicate rows; cells under %d records are suppressed\n", v.Ref(), rep.Rows, rep.DuplicateRows, rep.MinCount)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COLUMN\tTYPE\tROLE\tCOUNT\tMISSING\tDISTINCT\tSUMMARY")
	num := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return strconv.FormatFloat(*p, 'g', 5, 64)
	}
	str := func(p *string) string {
		if p == nil {
			return "–"
		}
		return *p
	}
	for _, c := range rep.Columns {
		distinct := "–"
		if c.Distinct != nil {
			distinct = strconv.Itoa(*c.Distinct)
		}
		summary := ""
		switch {
		case c.Withheld != "":
			summary = "values withheld (" + c.Withheld + ")"
		case c.Numeric != nil:
			n := c.Numeric
			summary = fmt.Sprintf("min %s  p50 %s  max %s  mean %s  std %s", num(n.Min), num(n.Quantiles.P50), num(n.Max), num(n.Mean), num(n.Std))
		case c.Temporal != nil:
			summary = fmt.Sprintf("%s → %s (by %s)", str(c.Temporal.Min), str(c.Temporal.Max), c.Temporal.Granularity)
		case c.Boolean != nil:
			summary = fmt.Sprintf("true %s  false %s", cell(c.Boolean.True), cell(c.Boolean.False))
		case c.String != nil:
			var tops []string
			for i, t := range c.String.Top {
				if i == 3 {
					break
				}
				tops = append(tops, fmt.Sprintf("%v (%d)", t.Value, t.Count))
			}
			summary = "top: " + strings.Join(tops, ", ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%s\n", c.Name, c.Type, c.Role, c.Count, c.Missing, distinct, summary)
	}
	tw.Flush()
}

func cell(c profile.Cell) string {
	if c.Count == nil {
		return c.Label
	}
	return strconv.FormatInt(*c.Count, 10)
}
