package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/privacy/anon"
	"github.com/hygie-health/hygie/internal/privacy/risk"
)

// anonymizeReport is the report file: the search's report plus the
// re-identification risk before and after.
type anonymizeReport struct {
	anon.Report
	RiskBefore *risk.Report `json:"risk_before"`
	RiskAfter  *risk.Report `json:"risk_after"`
}

func (e *env) anonymizeCmd() *cobra.Command {
	var (
		in, sep, metric, out, report, lVariant, tHierarchy string
		qis, sensitive                                     []string
		k                                                  int
		l, t, maxSup, sampling                             float64
		heuristic                                          bool
	)
	cmd := &cobra.Command{
		Use:   "anonymize",
		Short: "Anonymise a CSV file: k-anonymity, l-diversity, t-closeness by generalisation and suppression",
		Long: `Anonymise a table by global recoding: each quasi-identifier is generalised to
one level of its hierarchy, and the records that still break the privacy model
are suppressed (at most floor(max-suppression × rows) of them; a suppressed
record keeps its other columns, every quasi-identifier becomes "*", as in
ARX). The transformation minimising the metric is found by an optimal search
of the lattice of levels (a heuristic one when it is too large).

A hierarchy is a file in ARX's CSV format (each row a value then its
generalisations, separated by --sep) or is built on the fly:
  interval:5,10,20   numbers into intervals of width 5, then 10, then 20
  mask[:N]           codes masked from the right, one character per level
  date[:LAYOUT]      dates (Go layout, default 2006-01-02): day, month, year

Columns that are neither quasi-identifiers nor sensitive pass through
unchanged. Nothing is written unless a transformation is found.`,
		Example: `  hygie anonymize --in adult.csv --sep ';' \
    --qi age=adult_hierarchy_age.csv --qi sex=adult_hierarchy_sex.csv \
    --k 5 --max-suppression 0.04 --metric entropy --out out.csv --report report.json
  hygie anonymize --in stays.csv --qi zip=mask --qi birth=date --qi los=interval:5,10 \
    --sensitive diagnosis --k 5 --l 2 --max-suppression 0.02 --metric loss --out a.csv --report r.json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			switch {
			case in == "" || out == "" || report == "":
				return usageError{fmt.Errorf("--in, --out and --report are required")}
			case len(qis) == 0:
				return usageError{fmt.Errorf("give at least one --qi COLUMN=HIERARCHY")}
			case k < 1:
				return usageError{fmt.Errorf("--k must be at least 1")}
			case (cmd.Flags().Changed("l") || cmd.Flags().Changed("t")) && len(sensitive) == 0:
				return usageError{fmt.Errorf("--l and --t need --sensitive COLUMN")}
			case cmd.Flags().Changed("l") && l < 1:
				return usageError{fmt.Errorf("--l must be at least 1")}
			case cmd.Flags().Changed("t") && (t < 0 || t > 1):
				return usageError{fmt.Errorf("--t must be in [0, 1]")}
			case maxSup < 0 || maxSup > 1:
				return usageError{fmt.Errorf("--max-suppression must be a fraction in [0, 1]")}
			case lVariant != "distinct" && lVariant != "entropy":
				return usageError{fmt.Errorf("--l-variant: want distinct or entropy")}
			case k < 2 && !cmd.Flags().Changed("l") && !cmd.Flags().Changed("t"):
				return usageError{fmt.Errorf("no privacy model: give --k 2 or more, --l or --t")}
			}
			m, err := anon.ParseMetric(metric)
			if err != nil {
				return usageError{err}
			}
			type qiSpec struct{ col, hier string }
			var specs []qiSpec
			for _, q := range qis {
				col, h, ok := strings.Cut(q, "=")
				if !ok || col == "" || h == "" {
					return usageError{fmt.Errorf("--qi %q: want COLUMN=HIERARCHY", q)}
				}
				specs = append(specs, qiSpec{col, h})
			}
			table, err := readTable(in, sepRune)
			if err != nil {
				return err
			}
			cfg := anon.Config{K: k, MaxSuppression: maxSup, Metric: m, Sensitive: sensitive, Heuristic: heuristic}
			for _, s := range specs {
				h, err := loadHierarchy(table, s.col, s.hier, sepRune)
				if err != nil {
					return err
				}
				cfg.QIs = append(cfg.QIs, anon.QI{Column: s.col, Hierarchy: h})
			}
			for _, s := range sensitive {
				if table.Column(s) < 0 {
					return errs.Invalidf("%s: no column %q", in, s)
				}
			}
			if cmd.Flags().Changed("l") {
				cfg.L = &anon.LDiversity{L: l, Entropy: lVariant == "entropy"}
			}
			if cmd.Flags().Changed("t") {
				cfg.T = &anon.TCloseness{T: t}
				if tHierarchy != "" {
					h, err := loadHierarchy(table, sensitive[0], tHierarchy, sepRune)
					if err != nil {
						return err
					}
					cfg.T.Hierarchy = h
				}
			}
			res, err := anon.Anonymize(cmd.Context(), table, cfg)
			if err != nil {
				return err
			}
			rep := anonymizeReport{Report: res.Report}
			ro := risk.Options{QuasiIdentifiers: res.Report.QuasiIdentifiers, Sensitive: sensitive, SamplingFraction: sampling, MaxCombination: 4}
			if rep.RiskBefore, err = risk.Assess(table.Header, table.Rows, ro); err != nil {
				return err
			}
			if rep.RiskAfter, err = risk.Assess(res.Table.Header, res.Table.Rows, ro); err != nil {
				return err
			}
			// Write both files, or neither.
			if err := writeAtomic(out, func(w io.Writer) error { return res.Table.WriteCSV(w, sepRune) }); err != nil {
				return err
			}
			if err := writeAtomic(report, func(w io.Writer) error {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}); err != nil {
				os.Remove(out)
				return err
			}
			r := res.Report
			return e.print(r, func(w io.Writer) {
				fmt.Fprintf(w, "anonymised %d rows: levels %v, %d suppressed (limit %d), %s = %.10g\n", r.Rows, r.Transformation, r.Suppressed, r.SuppressionLimit, r.Metric, r.MetricValue)
				fmt.Fprintf(w, "%s search: %d of %.0f transformations checked in %.2fs; wrote %s and %s\n", r.Search, r.NodesChecked, r.LatticeSize, r.Seconds, out, report)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "input CSV file with a header row (required)")
	f.StringVar(&sep, "sep", ",", "field separator of the input, output and hierarchy files")
	f.StringArrayVar(&qis, "qi", nil, "quasi-identifier: COLUMN=HIERARCHY.csv, or COLUMN=interval:W1,W2…|mask[:N]|date[:LAYOUT] (repeatable)")
	f.StringArrayVar(&sensitive, "sensitive", nil, "sensitive column, for l-diversity and t-closeness (repeatable)")
	f.IntVar(&k, "k", 1, "k-anonymity: every class has at least k records")
	f.Float64Var(&l, "l", 0, "l-diversity of the sensitive columns")
	f.StringVar(&lVariant, "l-variant", "distinct", "l-diversity variant: distinct or entropy")
	f.Float64Var(&t, "t", 0, "t-closeness of the sensitive columns (earth mover's distance)")
	f.StringVar(&tHierarchy, "t-hierarchy", "", "hierarchy of the (first) sensitive column: hierarchical distance for --t (default: equal distance)")
	f.Float64Var(&maxSup, "max-suppression", 0, "fraction of records that may be suppressed (limit floor(fraction × rows))")
	f.StringVar(&metric, "metric", "entropy", "metric to minimise: entropy, entropy-nonmonotonic, loss, discernibility, discernibility-monotonic, precision, aecs")
	f.StringVar(&out, "out", "", "anonymised CSV file to write (required)")
	f.StringVar(&report, "report", "", "JSON report to write (required)")
	f.Float64Var(&sampling, "sampling-fraction", 1, "share of the population the input is a sample of (for the risk estimates)")
	f.BoolVar(&heuristic, "heuristic", false, "use the greedy search even when the lattice is small enough for the optimal one")
	return cmd
}

func (e *env) riskCmd() *cobra.Command {
	var (
		in, sep, report     string
		qis, sensitive      []string
		sampling, threshold float64
		small, maxComb      int
		l, t                float64
	)
	cmd := &cobra.Command{
		Use:   "risk",
		Short: "Assess the re-identification risk of a CSV file (JSON)",
		Long: `Assess the re-identification risk of a table for its quasi-identifiers:
equivalence classes and their sizes, prosecutor, journalist and marketer risk,
sample and population uniqueness (Pitman, Zayatz, Dankar's rule), and the
three CNIL / Article 29 criteria — singling out, linkability, inference — each
with a verdict. The report never contains a value of the table.`,
		Example: "  hygie risk --in adult.csv --sep ';' --qi age --qi sex --qi race --sensitive occupation --sampling-fraction 0.01",
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			if in == "" || len(qis) == 0 {
				return usageError{fmt.Errorf("--in and at least one --qi are required")}
			}
			if sampling <= 0 || sampling > 1 {
				return usageError{fmt.Errorf("--sampling-fraction must be in (0, 1]")}
			}
			var cols []string
			for _, q := range qis {
				c, _, _ := strings.Cut(q, "=") // COLUMN=HIERARCHY accepted, hierarchy unused
				cols = append(cols, c)
			}
			table, err := readTable(in, sepRune)
			if err != nil {
				return err
			}
			r, err := risk.Assess(table.Header, table.Rows, risk.Options{QuasiIdentifiers: cols, Sensitive: sensitive,
				SamplingFraction: sampling, Threshold: threshold, SmallClass: small, MaxCombination: maxComb, L: l, T: t})
			if err != nil {
				return err
			}
			write := func(w io.Writer) error {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			if report != "" {
				return writeAtomic(report, write)
			}
			return write(e.stdout)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "input CSV file with a header row (required)")
	f.StringVar(&sep, "sep", ",", "field separator")
	f.StringArrayVar(&qis, "qi", nil, "quasi-identifier column (repeatable)")
	f.StringArrayVar(&sensitive, "sensitive", nil, "sensitive column (repeatable)")
	f.Float64Var(&sampling, "sampling-fraction", 1, "share of the population the input is a sample of")
	f.Float64Var(&threshold, "threshold", 0.2, "per-record risk above which a record is at risk")
	f.IntVar(&small, "small-class", 5, "classes smaller than this single records out")
	f.IntVar(&maxComb, "max-combination", 0, "largest combination of quasi-identifiers examined for linkability (0: all)")
	f.Float64Var(&l, "l", 2, "l-diversity the inference verdict asks for")
	f.Float64Var(&t, "t", 0.2, "t-closeness the inference verdict asks for")
	f.StringVar(&report, "report", "", "write the JSON report to this file instead of standard output")
	return cmd
}

func parseSep(s string) (rune, error) {
	if s == `\t` || s == "tab" {
		return '\t', nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 || size != len(s) || r == '"' || r == '\n' || r == '\r' {
		return 0, usageError{fmt.Errorf("--sep: want one character, got %q", s)}
	}
	return r, nil
}

func readTable(path string, sep rune) (*anon.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "cannot open %s", path)
	}
	defer f.Close()
	return anon.ReadCSV(f, sep, path)
}

// loadHierarchy reads a hierarchy file or builds one from the column's values.
func loadHierarchy(t *anon.Table, col, spec string, sep rune) (*anon.Hierarchy, error) {
	c := t.Column(col)
	if c < 0 {
		return nil, errs.Invalidf("%s: no column %q", t.Source, col)
	}
	if _, err := os.Stat(spec); err != nil && anon.IsBuilderSpec(spec) {
		values := make([]string, len(t.Rows))
		for i, row := range t.Rows {
			values[i] = row[c]
		}
		h, err := anon.BuildHierarchy(spec, values)
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "column %q: %s", col, errs.MessageOf(err))
		}
		return h, nil
	}
	f, err := os.Open(spec)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "column %q: cannot open hierarchy %s", col, spec)
	}
	defer f.Close()
	return anon.ParseHierarchy(f, sep, spec)
}

// writeAtomic writes a file through a temporary file in the same directory,
// so that a failure leaves nothing behind.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "cannot write %s", path)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return errs.Wrap(err, errs.Invalid, "cannot write %s", path)
	}
	if err := tmp.Close(); err != nil {
		return errs.Wrap(err, errs.Invalid, "cannot write %s", path)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errs.Wrap(err, errs.Invalid, "cannot write %s", path)
	}
	return nil
}
