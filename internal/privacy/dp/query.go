package dp

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Kind is what a query releases.
type Kind string

// Query kinds.
const (
	KindCount     Kind = "count"     // number of rows (of patients, with one row per patient), optionally by group
	KindSum       Kind = "sum"       // sum of a column clamped to the declared bounds, optionally by group
	KindMean      Kind = "mean"      // noisy sum / noisy count, each with half of ε (or of ρ), optionally by group
	KindHistogram Kind = "histogram" // count by declared groups (a count with --by)
	KindQuantile  Kind = "quantile"  // quantiles of a column by the exponential mechanism over a declared grid
)

// Kinds lists the query kinds.
var Kinds = []Kind{KindCount, KindSum, KindMean, KindHistogram, KindQuantile}

// Noise is the noise distribution of a count, sum or mean.
type Noise string

// Noise distributions.
const (
	Laplace  Noise = "laplace"  // discrete Laplace: pure ε-DP, δ = 0
	Gaussian Noise = "gaussian" // discrete Gaussian: (ε, δ)-DP through zCDP, needs δ > 0
)

// Limits on declared queries.
const (
	MaxCells             = 100_000 // cells of a grouped release
	MaxCategories        = 10_000  // declared categories or bins of one column
	MaxRowsPerPatient    = 10_000
	MaxQuantiles         = 20
	MaxGridSize          = 100_000
	DefaultGridSize      = 100
	maxCategoryBytes     = 200
	maxEpsilonPlaces     = 6
	maxDeclarationsBytes = 1 << 20
)

// Limits on ε and δ of one query.
var (
	MaxEpsilon = DecimalInt(100)
	MaxDelta   = MustDecimal("0.01")
)

// Query declares a differentially private release. Everything in it is
// declared by the analyst, never derived from the data: bounds, categories,
// bins and the quantile grid decide the output space and the noise.
type Query struct {
	Kind    Kind    `json:"kind"`
	Epsilon Decimal `json:"epsilon"`
	Delta   Decimal `json:"delta"`
	Noise   Noise   `json:"noise"`
	// Column is the measured column (sum, mean, quantile).
	Column string `json:"column,omitempty"`
	// Lo and Hi bound the measured column (sum, mean, quantile): values are
	// clamped to [Lo, Hi].
	Lo Decimal `json:"lo"`
	Hi Decimal `json:"hi"`
	// By groups a count, sum or mean (and is required by a histogram).
	By []Group `json:"by,omitempty"`
	// Quantiles in (0, 1) (quantile), and the number of steps of the grid
	// of candidate answers over [Lo, Hi].
	Quantiles []Decimal `json:"quantiles,omitempty"`
	GridSize  int       `json:"grid_size,omitempty"`
	// PatientColumn says whose rows are whose (default: the column with
	// role patient_id); at most MaxRowsPerPatient rows of each patient are
	// kept (default 1).
	PatientColumn     string `json:"patient_column,omitempty"`
	MaxRowsPerPatient int    `json:"max_rows_per_patient"`
}

// Group is one grouping column with its declared output space: either
// categories (values compared as text) or bin edges (numeric columns: bins
// [e0, e1), [e1, e2), …, [e_{k−1}, e_k], the last one closed). Rows whose
// value is missing, undeclared or outside the bins are left out of every
// cell: an undeclared category is never revealed, and a declared category
// absent from the data is released as 0 + noise like any other.
type Group struct {
	Column     string    `json:"column"`
	Categories []string  `json:"categories,omitempty"`
	Edges      []Decimal `json:"edges,omitempty"`
}

// Labels returns the group's cell labels in order.
func (g Group) Labels() []string {
	if len(g.Edges) == 0 {
		return g.Categories
	}
	out := make([]string, len(g.Edges)-1)
	for i := range out {
		closing := ")"
		if i == len(out)-1 {
			closing = "]"
		}
		out[i] = "[" + g.Edges[i].String() + "," + g.Edges[i+1].String() + closing
	}
	return out
}

// Normalize fills defaults and checks the query without looking at data.
func (q *Query) Normalize() error {
	if q.Kind == KindHistogram && len(q.By) == 0 {
		return errs.Invalidf("a histogram needs --by columns with declared categories or bins")
	}
	if q.Kind == KindCount && len(q.By) > 0 {
		q.Kind = KindHistogram
	}
	if !slices.Contains(Kinds, q.Kind) {
		return errs.Invalidf("query kind %q: want count, sum, mean, histogram or quantile", q.Kind)
	}
	if q.Noise == "" {
		q.Noise = Laplace
	}
	if q.Noise != Laplace && q.Noise != Gaussian {
		return errs.Invalidf("noise %q: want laplace or gaussian", q.Noise)
	}
	if q.Epsilon.Sign() <= 0 || q.Epsilon.Cmp(MaxEpsilon) > 0 {
		return errs.Invalidf("ε must be in (0, %s], got %s", MaxEpsilon, q.Epsilon)
	}
	if p := q.Epsilon.Places(); p < 0 || p > maxEpsilonPlaces {
		return errs.Invalidf("ε must have at most %d digits after the decimal point", maxEpsilonPlaces)
	}
	switch {
	case q.Kind == KindQuantile && q.Noise == Gaussian:
		return errs.Invalidf("quantiles use the exponential mechanism (pure ε-DP): --noise gaussian does not apply")
	case q.Noise == Gaussian && (q.Delta.Sign() <= 0 || q.Delta.Cmp(MaxDelta) > 0):
		return errs.Invalidf("Gaussian noise needs δ in (0, %s], got %s", MaxDelta, q.Delta)
	case q.Noise == Laplace && !q.Delta.IsZero():
		return errs.Invalidf("δ is only for --noise gaussian: Laplace noise and the exponential mechanism are pure ε-DP (δ = 0)")
	case q.Noise == Gaussian && q.Delta.Places() > 30:
		return errs.Invalidf("δ has too many digits")
	}
	if q.MaxRowsPerPatient == 0 {
		q.MaxRowsPerPatient = 1
	}
	if q.MaxRowsPerPatient < 1 || q.MaxRowsPerPatient > MaxRowsPerPatient {
		return errs.Invalidf("max rows per patient must be in [1, %d]", MaxRowsPerPatient)
	}
	measured := q.Kind == KindSum || q.Kind == KindMean || q.Kind == KindQuantile
	switch {
	case measured && q.Column == "":
		return errs.Invalidf("a %s needs --column", q.Kind)
	case !measured && q.Column != "":
		return errs.Invalidf("a %s counts rows: --column does not apply", q.Kind)
	case measured && q.Lo.Cmp(q.Hi) >= 0:
		return errs.Invalidf("a %s needs declared --bounds lo,hi with lo < hi", q.Kind)
	case !measured && (!q.Lo.IsZero() || !q.Hi.IsZero()):
		return errs.Invalidf("a %s counts rows: --bounds does not apply", q.Kind)
	case measured && (q.Lo.Abs().Cmp(maxBound) > 0 || q.Hi.Abs().Cmp(maxBound) > 0):
		return errs.Invalidf("bounds must be within ±%s", maxBound)
	}
	if q.Kind == KindQuantile {
		if len(q.By) > 0 {
			return errs.Invalidf("quantiles cannot be grouped (--by)")
		}
		if len(q.Quantiles) == 0 {
			q.Quantiles = []Decimal{MustDecimal("0.5")}
		}
		if len(q.Quantiles) > MaxQuantiles {
			return errs.Invalidf("at most %d quantiles per query", MaxQuantiles)
		}
		for _, p := range q.Quantiles {
			if p.Sign() <= 0 || p.Cmp(DecimalInt(1)) >= 0 || p.Places() > 6 {
				return errs.Invalidf("quantile %s: want a number in (0, 1) with at most 6 decimals", p)
			}
		}
		if q.GridSize == 0 {
			q.GridSize = DefaultGridSize
		}
		if q.GridSize < 1 || q.GridSize > MaxGridSize {
			return errs.Invalidf("grid size must be in [1, %d]", MaxGridSize)
		}
	} else if len(q.Quantiles) > 0 || q.GridSize != 0 {
		return errs.Invalidf("--quantiles and --grid-size are for quantile queries")
	}
	cells := 1
	seen := map[string]bool{}
	for _, g := range q.By {
		if g.Column == "" {
			return errs.Invalidf("a --by column has an empty name")
		}
		if seen[g.Column] {
			return errs.Invalidf("column %q is grouped twice", g.Column)
		}
		seen[g.Column] = true
		if (len(g.Categories) == 0) == (len(g.Edges) == 0) {
			return errs.Invalidf("--by column %q needs declared categories (--categories '%s=A,B') or bins (--bins '%s=0,10,20'), not both", g.Column, g.Column, g.Column)
		}
		if err := checkCategories(g.Column, g.Categories); err != nil {
			return err
		}
		if len(g.Edges) > 0 {
			if len(g.Edges) < 2 {
				return errs.Invalidf("bins of %q need at least two edges", g.Column)
			}
			if len(g.Edges)-1 > MaxCategories {
				return errs.Invalidf("column %q: at most %d bins", g.Column, MaxCategories)
			}
			for i := 1; i < len(g.Edges); i++ {
				if g.Edges[i].Cmp(g.Edges[i-1]) <= 0 {
					return errs.Invalidf("bin edges of %q must increase strictly", g.Column)
				}
			}
			for _, e := range g.Edges {
				if e.Abs().Cmp(maxBound) > 0 {
					return errs.Invalidf("bin edges must be within ±%s", maxBound)
				}
			}
		}
		cells *= len(g.Labels())
		if cells > MaxCells {
			return errs.Invalidf("the groups declare more than %d cells", MaxCells)
		}
	}
	return nil
}

// maxBound keeps declared numbers in the range where float64 comparisons and
// the power-of-two grid stay exact enough.
var maxBound = MustDecimal("1e15")

func checkCategories(col string, cats []string) error {
	if len(cats) > MaxCategories {
		return errs.Invalidf("column %q: at most %d categories", col, MaxCategories)
	}
	seen := make(map[string]bool, len(cats))
	for _, c := range cats {
		switch {
		case c == "":
			return errs.Invalidf("column %q: empty category", col)
		case len(c) > maxCategoryBytes || !utf8.ValidString(c):
			return errs.Invalidf("column %q: a category is longer than %d bytes or not UTF-8", col, maxCategoryBytes)
		case seen[c]:
			return errs.Invalidf("column %q: category declared twice", col)
		}
		seen[c] = true
	}
	return nil
}

// Declaration is one "COLUMN=V1,V2,…" of --categories or --bins.
type Declaration struct {
	Column string
	Values []string
}

// ParseDeclarations parses "COL=V1,V2[;COL2=W1,W2…]". A backslash escapes
// the next character, so values may hold ',', ';', '=' or '\' themselves;
// spaces around names and values are dropped. Columns and values must not
// be empty or repeated.
func ParseDeclarations(s string) ([]Declaration, error) {
	if len(s) > maxDeclarationsBytes {
		return nil, errs.Invalidf("declaration longer than %d bytes", maxDeclarationsBytes)
	}
	if !utf8.ValidString(s) {
		return nil, errs.Invalidf("declaration is not UTF-8")
	}
	var (
		out  []Declaration
		cur  strings.Builder
		decl *Declaration
		seen = map[string]bool{}
	)
	flushValue := func() error {
		v := strings.TrimSpace(cur.String())
		cur.Reset()
		if decl == nil {
			return errs.Invalidf("declaration %q: want COLUMN=V1,V2,…", truncate(s))
		}
		if v == "" {
			return errs.Invalidf("column %q: empty value in declaration (write COLUMN=V1,V2,…)", decl.Column)
		}
		decl.Values = append(decl.Values, v)
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, errs.Invalidf("declaration ends with a lone backslash")
			}
			i++
			cur.WriteByte(s[i])
		case c == '=' && decl == nil:
			name := strings.TrimSpace(cur.String())
			cur.Reset()
			if name == "" {
				return nil, errs.Invalidf("declaration %q: empty column name", truncate(s))
			}
			if seen[name] {
				return nil, errs.Invalidf("column %q declared twice", name)
			}
			seen[name] = true
			out = append(out, Declaration{Column: name})
			decl = &out[len(out)-1]
		case c == ',' && decl != nil:
			if err := flushValue(); err != nil {
				return nil, err
			}
		case c == ';':
			if decl == nil && strings.TrimSpace(cur.String()) == "" {
				continue // tolerate empty declarations: "a=1;;b=2;"
			}
			if err := flushValue(); err != nil {
				return nil, err
			}
			decl = nil
		default:
			cur.WriteByte(c)
		}
	}
	if decl != nil || strings.TrimSpace(cur.String()) != "" {
		if err := flushValue(); err != nil {
			return nil, err
		}
	}
	for _, d := range out {
		if err := checkCategories(d.Column, d.Values); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FormatDeclarations writes declarations back in the syntax
// ParseDeclarations reads.
func FormatDeclarations(ds []Declaration) string {
	esc := strings.NewReplacer(`\`, `\\`, `,`, `\,`, `;`, `\;`, `=`, `\=`)
	parts := make([]string, len(ds))
	for i, d := range ds {
		vals := make([]string, len(d.Values))
		for j, v := range d.Values {
			vals[j] = esc.Replace(v)
		}
		parts[i] = esc.Replace(d.Column) + "=" + strings.Join(vals, ",")
	}
	return strings.Join(parts, ";")
}

func truncate(s string) string {
	if len(s) <= 40 {
		return s
	}
	for i := 40; i > 0; i-- {
		if utf8.RuneStart(s[i]) {
			return s[:i] + "…"
		}
	}
	return ""
}

// ParseGroups builds the --by groups from column names and the
// --categories and --bins declarations (each flag may be repeated, each
// value may hold several declarations separated by ';'). Every --by column
// needs exactly one declaration, and every declaration a --by column.
func ParseGroups(by []string, categories, bins []string) ([]Group, error) {
	decl := map[string]Group{}
	add := func(specs []string, numeric bool) error {
		for _, spec := range specs {
			ds, err := ParseDeclarations(spec)
			if err != nil {
				return err
			}
			for _, d := range ds {
				if _, dup := decl[d.Column]; dup {
					return errs.Invalidf("column %q declared twice", d.Column)
				}
				g := Group{Column: d.Column}
				if numeric {
					for _, v := range d.Values {
						e, err := ParseDecimal(v)
						if err != nil {
							return errs.Invalidf("bins of %q: %s", d.Column, errs.MessageOf(err))
						}
						g.Edges = append(g.Edges, e)
					}
				} else {
					g.Categories = d.Values
				}
				decl[d.Column] = g
			}
		}
		return nil
	}
	if err := add(categories, false); err != nil {
		return nil, err
	}
	if err := add(bins, true); err != nil {
		return nil, err
	}
	var out []Group
	for _, col := range by {
		col = strings.TrimSpace(col)
		g, ok := decl[col]
		if !ok {
			return nil, errs.Invalidf("--by column %q has no declared output space: add --categories '%s=A,B' or --bins '%s=0,10,20'", col, col, col)
		}
		delete(decl, col)
		out = append(out, g)
	}
	for col := range decl {
		return nil, errs.Invalidf("column %q is declared but not in --by", col)
	}
	return out, nil
}

// describe is a short human description of the query, for messages.
func (q Query) describe() string {
	s := string(q.Kind)
	if q.Column != "" {
		s += " of " + q.Column
	}
	if len(q.By) > 0 {
		cols := make([]string, len(q.By))
		for i, g := range q.By {
			cols[i] = g.Column
		}
		s += " by " + strings.Join(cols, ", ")
	}
	return s + fmt.Sprintf(" (ε = %s", q.Epsilon) + deltaText(q.Delta) + ")"
}

func deltaText(d Decimal) string {
	if d.IsZero() {
		return ""
	}
	return ", δ = " + d.String()
}
