// Package profile computes the "pré-analyses" of a dataset version: per-column
// counts, distributions, ranges and most frequent values, Pearson correlations
// between numeric features and targets, and the number of duplicate rows.
//
// The report is made to be shown and shared (web UI, `--output json`, attached
// to a run), so what it says about a column depends on the column's role, and
// no value, bin or bucket held by fewer than k records (Options.MinCount,
// default 5) is shown with its count. These rules are part of the result, not
// of its display: the JSON never holds what they hide.
//
// # What is shown for each role
//
// Every column, whatever its role: name, type, role, count (non-missing
// values), missing (null, and NaN in float columns) and distinct (distinct
// non-missing values; see Small counts for booleans). These count records or
// values; they name none. For the frame: rows, min_count, duplicate_rows
// (rows equal in every column to another row, all but one of each set).
//
// patient_id, direct_identifier (Role.Identifying), whatever the type: counts
// only; withheld is "identifier". No value, length, range or distribution.
//
// text role, or text type with any other role (free text may hold names):
// counts, and the length of the strings in characters (mean; min and max each
// only when at least k values have that length); never a value. withheld is
// "free_text". A number, boolean or date column in the text role: counts only.
//
// feature, target, sensitive, date, other ("value columns"):
//   - integer, float: exact min, max, mean, standard deviation (n−1) and
//     quantiles p1, p5, p25, p50, p75, p95, p99 (linear interpolation,
//     numpy's default); a histogram on a grid of round edges, width 1, 2, 2.5
//     or 5 × 10ⁿ nearest to the Freedman–Diaconis width 2·IQR/∛n (Sturges
//     when the IQR is 0), integer for integer columns, widened to at most
//     Options.MaxBins bins: no bin edge is a data value unless the value is
//     round; the most frequent values. ±Inf values are counted (infinite) and
//     left out of the statistics.
//   - boolean: the counts of true and false.
//   - string: the most frequent values; lengths as for free text.
//   - date, datetime: exact min and max, and a timeline of counts per UTC
//     calendar day (span under 92 days), month (at most 120 months) or year
//     (in steps of 1, 2, 5, 10… years, at most 120 buckets).
//
// quasi_identifier: as a value column, except that a value of the column is
// shown only as a bin edge or when at least k records hold it:
//   - integer, float: the histogram's end bins are merged, from each end, until
//     the end bin holds at least k records; a merged end bin is open (lo or hi
//     null). min is the first bin's lower edge and max the last bin's upper
//     edge (so min ≤ the true minimum, and the true maximum < max), each
//     shown only when that end bin was not merged, i.e. holds k records on
//     its own, else null. Each quantile is the lower edge of the bin that holds it,
//     shown only when that bin holds at least k records and is not open.
//     Mean and standard deviation are shown. coarsened is true.
//   - date, datetime: the timeline's end buckets are merged the same way; min
//     is the first bucket's start and max the last bucket's end (exclusive),
//     as dates, each only when that bucket was not merged. coarsened is true.
//   - boolean, string: as a value column.
//
// A column with fewer than k non-missing values shows counts only (withheld
// "too_few_values"): the mean of one value is that value.
//
// # Small counts
//
// Most frequent values (at most Options.TopN): only values held by at least k
// records are listed; a rarer value is never written, neither the value nor
// its count. Since count and distinct are published, a reader knows how many
// values are left out and their total: the least frequent listed values are
// dropped until no left-out rare value's count is pinned to one number (one
// rare value left out would be count − listed). In a numeric column a listed
// value is also dropped when its histogram bin is suppressed, or when the
// other records of its bin number 1 to k−1 (bin count − listed counts would
// give a rare value's count: with integer bins, the value too).
//
// Histogram bins, timeline buckets and boolean counts are cells of a partition
// whose total (count) is published:
//   - a cell of fewer than k records, zero included, is written
//     {"count": null, "suppressed": true, "label": "<5"}. Zero is suppressed
//     too, so that "<5" never tells that someone is there;
//   - when the total and the shown cells would prove that suppressed small
//     cells hold at least one record, the smallest shown cells are suppressed
//     too, {"count": null, "suppressed": true, "label": "≥5"}, until that is
//     no longer provable by a reader who knows this algorithm (a small cell
//     holds 0 to k−1, such a complementary cell k to the smallest shown cell).
//     If every cell ends up suppressed, so be it.
//   - a boolean's distinct is null when one value is held by 1 to k−1
//     records: a distinct of 2 would say that the rare value is there.
//
// Correlations: Pearson coefficients between the feature and target columns of
// type integer, float or boolean (0/1) that show values, over the rows where
// both are present, rounded to 12 decimals; null when fewer than k rows have
// both, or one column does not vary over them. Quasi-identifier, sensitive and
// other columns are left out.
//
// Known limits, by choice: count, missing and distinct are exact, so a reader
// who knows a column's whole domain (sex codes, a short list) learns how many
// of its values are present but not listed (not which, and not their counts
// but for the rules above); min, max and quantiles of value columns are exact
// values of records, as the pré-analyses require, sensitive columns included;
// inferences that combine different statistics of a column (quantile ranks
// with suppressed bins) are not modelled beyond the rules above. Integers
// beyond 2⁵³ lose precision in min, max and quantiles (JSON numbers are
// float64).
//
// The result is deterministic: the same frame and options give the same JSON
// bytes. Columns are profiled concurrently (GOMAXPROCS workers). Each column
// is read once into sortable keys (numbers, dates) or hashes (strings), which
// a radix sort orders, and the sorted keys are walked once; strings are
// compared within equal hashes, so counts are exact whatever the hash.
package profile

import (
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Defaults for Options.
const (
	DefaultMinCount = 5
	DefaultTopN     = 10
	DefaultMaxBins  = 50
)

// Options tunes a profile. The zero value is the default.
type Options struct {
	// MinCount is k: a count below it is suppressed, a value held by fewer
	// records is not shown. 0 means DefaultMinCount; it must be at least 2.
	MinCount int
	// TopN is how many most frequent values are listed at most (default 10).
	TopN int
	// MaxBins caps a histogram's bin count (default 50, at least 2).
	MaxBins int
}

func (o Options) withDefaults() (Options, error) {
	if o.MinCount == 0 {
		o.MinCount = DefaultMinCount
	}
	if o.TopN == 0 {
		o.TopN = DefaultTopN
	}
	if o.MaxBins == 0 {
		o.MaxBins = DefaultMaxBins
	}
	if o.MinCount < 2 {
		return o, errs.Invalidf("profile: minimum count must be at least 2, got %d", o.MinCount)
	}
	if o.TopN < 0 {
		return o, errs.Invalidf("profile: top values must be positive (0 for the default), got %d", o.TopN)
	}
	if o.MaxBins < 2 {
		return o, errs.Invalidf("profile: histogram bins must be at least 2, got %d", o.MaxBins)
	}
	return o, nil
}

// Report is the profile of one frame.
type Report struct {
	Rows          int             `json:"rows"`
	MinCount      int             `json:"min_count"`
	DuplicateRows int             `json:"duplicate_rows"`
	Columns       []ColumnProfile `json:"columns"`
	Correlations  *Correlations   `json:"correlations,omitempty"`
}

// Reasons why a column's values are withheld (ColumnProfile.Withheld).
const (
	WithheldIdentifier   = "identifier"
	WithheldFreeText     = "free_text"
	WithheldTooFewValues = "too_few_values"
)

// ColumnProfile is what the report says about one column. At most one of
// Numeric, Boolean, String and Temporal is set, after the column's type.
type ColumnProfile struct {
	Name    string       `json:"name"`
	Type    dataset.Type `json:"type"`
	Role    dataset.Role `json:"role"`
	Count   int          `json:"count"`
	Missing int          `json:"missing"`
	// Distinct is the number of distinct non-missing values; null for a
	// boolean column when one of its two values is held by 1 to k−1 records.
	Distinct *int `json:"distinct"`
	// Withheld says why values are not shown, if they are not.
	Withheld string    `json:"withheld,omitempty"`
	Numeric  *Numeric  `json:"numeric,omitempty"`
	Boolean  *Boolean  `json:"boolean,omitempty"`
	String   *String   `json:"string,omitempty"`
	Temporal *Temporal `json:"temporal,omitempty"`
}

// Cell is a count that may be suppressed. A shown count has Count set; a
// suppressed one has Count null, Suppressed true and Label "<k" (fewer than
// k records, possibly none) or "≥k" (suppressed so that a smaller cell cannot
// be computed back from the total).
type Cell struct {
	Count      *int64 `json:"count"`
	Suppressed bool   `json:"suppressed,omitempty"`
	Label      string `json:"label,omitempty"`
}

// Value is one of the most frequent values: a number (integer and float
// columns) or a string, and the number of records holding it (at least k).
type Value struct {
	Value any   `json:"value"`
	Count int64 `json:"count"`
}

// Numeric describes an integer or float column.
type Numeric struct {
	Min       *float64   `json:"min"`
	Max       *float64   `json:"max"`
	Mean      *float64   `json:"mean"`
	Std       *float64   `json:"std"`
	Quantiles Quantiles  `json:"quantiles"`
	Histogram *Histogram `json:"histogram"`
	Top       []Value    `json:"top"`
	// Infinite counts ±Inf values of a float column, left out of the
	// statistics (they count as present, not missing).
	Infinite int `json:"infinite,omitempty"`
	// Coarsened is true for quasi-identifiers: min, max and quantiles are
	// bin edges.
	Coarsened bool `json:"coarsened,omitempty"`
}

// Quantiles of a numeric column.
type Quantiles struct {
	P1  *float64 `json:"p1"`
	P5  *float64 `json:"p5"`
	P25 *float64 `json:"p25"`
	P50 *float64 `json:"p50"`
	P75 *float64 `json:"p75"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
}

// Histogram is a histogram on a grid of round edges.
type Histogram struct {
	Width float64 `json:"width"`
	Bins  []Bin   `json:"bins"`
}

// Bin counts values in [Lo, Hi). A null Lo or Hi is an open end (merged end
// bins of a quasi-identifier).
type Bin struct {
	Lo *float64 `json:"lo"`
	Hi *float64 `json:"hi"`
	Cell
}

// Boolean describes a boolean column.
type Boolean struct {
	True  Cell `json:"true"`
	False Cell `json:"false"`
}

// String describes a string or text column.
type String struct {
	Top    []Value `json:"top"`
	Length Lengths `json:"length"`
}

// Lengths of strings, in characters. Min and Max are null unless at least k
// values have that length.
type Lengths struct {
	Min  *int     `json:"min"`
	Max  *int     `json:"max"`
	Mean *float64 `json:"mean"`
}

// Temporal describes a date or datetime column.
type Temporal struct {
	Min *string `json:"min"`
	Max *string `json:"max"`
	// Granularity is "day", "month" or "year"; Step is the number of years
	// per bucket when it is "year" (1, 2, 5, 10…).
	Granularity string   `json:"granularity"`
	Step        int      `json:"step,omitempty"`
	Timeline    []Bucket `json:"timeline"`
	Coarsened   bool     `json:"coarsened,omitempty"`
}

// Bucket counts the values of one period, from Start (inclusive) to End
// (exclusive), as dates. A null Start or End is an open end.
type Bucket struct {
	Period string  `json:"period"`
	Start  *string `json:"start"`
	End    *string `json:"end"`
	Cell
}

// Correlations is a symmetric matrix of Pearson coefficients; Pearson[i][j]
// is between Columns[i] and Columns[j], null when undefined or suppressed.
type Correlations struct {
	Columns []string     `json:"columns"`
	Pearson [][]*float64 `json:"pearson"`
}

// treatment is what a column's role allows the report to show.
type treatment int

const (
	showValues treatment = iota // feature, target, sensitive, date, other
	coarse                      // quasi-identifier
	freeText                    // text role or type: counts and lengths
	countsOnly                  // identifiers
)

func treatmentOf(c dataset.Column) treatment {
	switch {
	case c.Role.Identifying():
		return countsOnly
	case c.Role == dataset.RoleText || c.Type == dataset.TypeText:
		return freeText
	case c.Role == dataset.RoleQuasiIdentifier:
		return coarse
	}
	return showValues
}

// Of profiles a frame. A column with an unknown or empty role is an error:
// the report cannot know what it may show of it.
func Of(f *dataset.Frame, opts Options) (*Report, error) {
	if f == nil {
		return nil, errs.Invalidf("profile: no frame")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Rows() > math.MaxInt32 {
		return nil, errs.Invalidf("profile: %d rows, at most %d", f.Rows(), math.MaxInt32)
	}
	for _, c := range f.Columns {
		if !slices.Contains(dataset.Roles, c.Role) {
			return nil, errs.Invalidf("profile: column %q has unknown role %q", c.Name, c.Role)
		}
	}
	r := &Report{Rows: f.Rows(), MinCount: o.MinCount, Columns: make([]ColumnProfile, len(f.Columns))}
	tasks := make([]func(*scratch), 0, len(f.Columns)+1)
	tasks = append(tasks, func(s *scratch) { r.DuplicateRows = duplicateRows(f, s) })
	for i := range f.Columns {
		tasks = append(tasks, func(s *scratch) { r.Columns[i] = profileColumn(f.Columns[i], f.Vecs[i], o, s) })
	}
	parallel(tasks)
	r.Correlations = correlations(f, r.Columns, o)
	return r, nil
}

// parallel runs tasks on GOMAXPROCS goroutines, each with its own scratch
// buffers.
func parallel(tasks []func(*scratch)) {
	workers := min(runtime.GOMAXPROCS(0), len(tasks))
	if workers <= 1 {
		var s scratch
		for _, t := range tasks {
			t(&s)
		}
		return
	}
	next := make(chan func(*scratch))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			var s scratch
			for t := range next {
				t(&s)
			}
		})
	}
	for _, t := range tasks {
		next <- t
	}
	close(next)
	wg.Wait()
}

func profileColumn(c dataset.Column, v *dataset.Vec, o Options, s *scratch) ColumnProfile {
	p := ColumnProfile{Name: c.Name, Type: c.Type, Role: c.Role}
	t := treatmentOf(c)
	switch c.Type {
	case dataset.TypeInteger, dataset.TypeFloat:
		if t == freeText {
			t = countsOnly // a number column in the text role: nothing to measure
		}
		numericColumn(v, t, o, &p, s)
	case dataset.TypeBoolean:
		if t == freeText {
			t = countsOnly
		}
		booleanColumn(v, t, o, &p, s)
	case dataset.TypeDate, dataset.TypeDatetime:
		if t == freeText {
			t = countsOnly
		}
		temporalColumn(v, t, o, &p, s)
	default:
		stringColumn(v, t, o, &p, s)
	}
	switch {
	case c.Role.Identifying():
		p.Withheld = WithheldIdentifier
	case t == countsOnly || t == freeText:
		p.Withheld = WithheldFreeText
	case p.Count < o.MinCount:
		p.Withheld = WithheldTooFewValues
	}
	if t == countsOnly || p.Count < o.MinCount {
		p.Numeric, p.Boolean, p.String, p.Temporal = nil, nil, nil, nil
	}
	return p
}

// ptr returns a pointer to a copy of x.
func ptr[T any](x T) *T { return &x }

// smallLabel and largeLabel are how suppressed cells read: "<5" and "≥5".
func smallLabel(k int) string { return "<" + strconv.Itoa(k) }
func largeLabel(k int) string { return "≥" + strconv.Itoa(k) }
