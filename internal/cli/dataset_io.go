package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/app"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/recipe"
)

// rolesFile is the YAML file given to --roles: column → role, and
// optionally column → type.
type rolesFile struct {
	Roles map[string]dataset.Role `yaml:"roles"`
	Types map[string]dataset.Type `yaml:"types"`
}

func (e *env) datasetImportCmd(project *string) *cobra.Command {
	var (
		name, level, format, sep, enc, dec, rolesPath, sqlText, dsn string
		roleFlags, typeFlags                                        []string
		acceptSuggested                                             bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Import a warehouse extract (CSV, JSON Lines, Parquet or a SQL query) as a new version",
		Long: `Import a table as a new, immutable version. CSV files are read as hospitals
export them: the separator (, ; or tab), the encoding (UTF-8 or Windows-1252)
and a decimal comma are sniffed (override with --sep, --encoding, --decimal).
Large files stream in constant memory, with a progress bar.

Every column gets a role: give them with --role COLUMN=ROLE or a YAML file
(--roles: "roles: {nir: direct_identifier, ...}" and optionally "types:").
hygie suggests roles from column names and prints them; they are applied only
with --accept-suggested. Below the identifying level, a column that looks
like an identifier must have its role confirmed, or the import is refused.`,
		Example: `  hygie dataset import extract.csv --name cohort -p sepsis --level identifying --as sophie --roles roles.yaml
  hygie dataset import - --name labs -p sepsis --level pseudonymized --format jsonl --as marc --role ipp=patient_id < labs.jsonl
  hygie dataset import --sql "select * from sejours where annee = 2024" --dsn postgres://eds@warehouse/eds \
      --name sejours -p sepsis --level identifying --as sophie --accept-suggested`,
		Args: func(cmd *cobra.Command, args []string) error {
			if (sqlText == "") == (len(args) == 0) || len(args) > 1 {
				return usageError{fmt.Errorf("give either one FILE (or - for standard input) or --sql with --dsn")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if *project == "" || name == "" || level == "" {
				return usageError{fmt.Errorf("--project, --name and --level are required")}
			}
			o := dataset.ImportOptions{Project: *project, Dataset: name, Level: dataset.Level(level), Encoding: enc, AcceptSuggested: acceptSuggested,
				Roles: map[string]dataset.Role{}, Types: map[string]dataset.Type{}}
			if rolesPath != "" {
				b, err := os.ReadFile(rolesPath)
				if err != nil {
					return err
				}
				var rf rolesFile
				yd := yaml.NewDecoder(strings.NewReader(string(b)))
				yd.KnownFields(true)
				if err := yd.Decode(&rf); err != nil {
					return fmt.Errorf("%s: %v", rolesPath, err)
				}
				for k, v := range rf.Roles {
					o.Roles[k] = v
				}
				for k, v := range rf.Types {
					o.Types[k] = v
				}
			}
			for _, kv := range roleFlags {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usageError{fmt.Errorf("--role %q: want COLUMN=ROLE", kv)}
				}
				o.Roles[k] = dataset.Role(v)
			}
			for _, kv := range typeFlags {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return usageError{fmt.Errorf("--type %q: want COLUMN=TYPE", kv)}
				}
				o.Types[k] = dataset.Type(v)
			}
			var err error
			if o.Separator, err = sepByte(sep, "--sep"); err != nil {
				return err
			}
			if o.Decimal, err = sepByte(dec, "--decimal"); err != nil {
				return err
			}
			var src dataset.Source
			switch {
			case sqlText != "":
				if dsn == "" {
					return usageError{fmt.Errorf("--sql needs --dsn")}
				}
				src = dataset.Query(dsn, sqlText)
			case args[0] == "-":
				src = dataset.Stream("stdin", format, e.stdin)
			default:
				src = dataset.File(args[0], format)
			}
			return e.withApp(cmd, func(a *app.App, ctx context.Context) error {
				ctx, err := e.actAs(ctx, a)
				if err != nil {
					return err
				}
				var bar *progressbar.ProgressBar
				o.Progress = func(p dataset.Progress) {
					if bar == nil || bar.GetMax64() != p.Total {
						bar = progressbar.NewOptions64(p.Total, progressbar.OptionSetWriter(e.stderr), progressbar.OptionSetDescription(p.Stage),
							progressbar.OptionShowBytes(p.Unit == "bytes"), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100e6))
					}
					_ = bar.Set64(p.Done)
				}
				res, err := a.Datasets.Import(ctx, src, o)
				if bar != nil {
					_ = bar.Finish()
				}
				if err != nil {
					return err
				}
				return e.print(res, func(w io.Writer) {
					v := res.Version
					state := "created"
					if !res.Created {
						state = "same content as an existing version: reused"
					}
					fmt.Fprintf(w, "%s: %d rows, %d columns, level %s (%s)\n", v.Ref(), v.Rows, len(v.Columns), v.Level, state)
					if res.Dialect != nil {
						fmt.Fprintf(w, "read as separator %q, encoding %s, decimal mark %q\n", res.Dialect.Separator, res.Dialect.Encoding, res.Dialect.Decimal)
					}
					if len(res.Suggested) > 0 {
						fmt.Fprintln(w, "suggested roles (not applied; confirm with --role or --accept-suggested):")
						for col, r := range res.Suggested {
							fmt.Fprintf(w, "  %s: %s\n", col, r)
						}
					}
				})
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "dataset name (required)")
	f.StringVar(&level, "level", "", "privacy level: identifying, pseudonymized, anonymized or aggregate (required)")
	f.StringVar(&format, "format", "", "csv, jsonl or parquet (default: from the file name, else csv)")
	f.StringVar(&sep, "sep", "", "CSV separator: , ; or tab (default: sniffed)")
	f.StringVar(&enc, "encoding", "", "utf-8, windows-1252 or latin-1 (default: sniffed)")
	f.StringVar(&dec, "decimal", "", "decimal mark: . or , (default: sniffed)")
	f.StringVar(&rolesPath, "roles", "", "YAML file with roles: and types: maps")
	f.StringArrayVar(&roleFlags, "role", nil, "COLUMN=ROLE (repeatable)")
	f.StringArrayVar(&typeFlags, "type", nil, "COLUMN=TYPE (repeatable)")
	f.BoolVar(&acceptSuggested, "accept-suggested", false, "apply the roles hygie suggests from column names to columns you gave no role")
	f.StringVar(&sqlText, "sql", "", "SQL query to run against a PostgreSQL warehouse (with --dsn)")
	f.StringVar(&dsn, "dsn", "", "warehouse connection URL for --sql")
	return cmd
}

func sepByte(s, flag string) (byte, error) {
	switch s {
	case "":
		return 0, nil
	case "tab", `\t`:
		return '\t', nil
	}
	if len(s) != 1 {
		return 0, usageError{fmt.Errorf("%s %q: want one character", flag, s)}
	}
	return s[0], nil
}

func (e *env) datasetExportCmd(project *string) *cobra.Command {
	var format, out string
	cmd := &cobra.Command{
		Use:     "export NAME[@VERSION]",
		Short:   "Export a version as CSV, JSON Lines or Parquet (identifying versions: stewards only, audited)",
		Example: "  hygie dataset export cohort_features@1 -p demo-bmi --as marc --format parquet --out features.parquet",
		Args:    exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withVersion(cmd, *project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				w := e.stdout
				if out != "" && out != "-" {
					f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
					if err != nil {
						return err
					}
					if err := a.Datasets.Export(ctx, v, format, f); err != nil {
						f.Close()
						os.Remove(out)
						return err
					}
					return f.Close()
				}
				return a.Datasets.Export(ctx, v, format, w)
			})
		},
	}
	cmd.Flags().StringVar(&format, "format", "csv", "csv, jsonl or parquet")
	cmd.Flags().StringVar(&out, "out", "-", "output file (never overwritten; - for standard output)")
	return cmd
}

func (e *env) datasetTransformCmd(project *string) *cobra.Command {
	var recipePath, output string
	cmd := &cobra.Command{
		Use:   "transform NAME[@VERSION] --recipe recipe.yaml",
		Short: "Apply a transformation recipe, creating a new version with lineage",
		Long: `Apply a YAML recipe (see docs/recipes.md: select, drop, rename, cast, convert
units, recode, derive, filter, impute, bin, one_hot, age, split, and quality
checks) to a version. The result is a new version whose parent is the source
and which records the recipe. A failing step or check creates nothing.`,
		Example: "  hygie dataset transform cohort_pseudo@1 -p demo-bmi --as marc --recipe units.yaml --output cohort_features",
		Args:    exactArgs(1, "NAME[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if recipePath == "" {
				return usageError{fmt.Errorf("--recipe is required")}
			}
			text, err := os.ReadFile(recipePath)
			if err != nil {
				return err
			}
			return e.withVersion(cmd, *project, args[0], func(a *app.App, ctx context.Context, v dataset.Version) error {
				nv, created, err := recipe.Transform(ctx, a.Datasets, v, text, output)
				if err != nil {
					return err
				}
				return e.print(map[string]any{"version": nv, "created": created}, func(w io.Writer) {
					fmt.Fprintf(w, "%s: %d rows, %d columns (parent %s)%s\n", nv.Ref(), nv.Rows, len(nv.Columns), nv.Parent, map[bool]string{true: "", false: " — same content as before: existing version reused"}[created])
				})
			})
		},
	}
	cmd.Flags().StringVar(&recipePath, "recipe", "", "recipe YAML file")
	cmd.Flags().StringVar(&output, "output", "", "dataset to create the version in (default: the source's)")
	return cmd
}
