package recipe

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Quality checks stop the recipe when the data is not as expected. They
// report the offending rows by position in the recipe's input (1-based),
// never their values. Missing values only fail not_null.

func checkFailed(format string, args ...any) error {
	return errs.Invalidf("check failed: "+format, args...)
}

func columnsText(cols []string) string {
	if len(cols) == 1 {
		return fmt.Sprintf("column %q", cols[0])
	}
	return "columns " + quoted(cols)
}

// not_null: no missing value in these columns.
type notNullStep struct {
	Column  string   `yaml:"column"`
	Columns []string `yaml:"columns"`
	names   []string
}

func parseNotNull(n *yaml.Node) (op, error) {
	s, err := decode[notNullStep](n, "columns")
	if err != nil {
		return nil, err
	}
	s.names, err = oneOrMany(s.Column, s.Columns)
	return s, err
}

func (s *notNullStep) apply(w *work) error {
	var fails []string
	for _, name := range s.names {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		var bad []int
		for i := range w.rows() {
			if missing(w.vecs[j], i) {
				bad = append(bad, w.pos(i))
			}
		}
		if len(bad) > 0 {
			fails = append(fails, fmt.Sprintf("column %q is missing in %s", name, rowList(bad)))
		}
	}
	if len(fails) > 0 {
		return checkFailed("%s", strings.Join(fails, "; "))
	}
	return nil
}

func (s *notNullStep) describe() string { return "not_null " + strings.Join(s.names, ", ") }

// range: values within [min, max] (either may be left out).
type rangeStep struct {
	Column string  `yaml:"column"`
	Min    *string `yaml:"min"`
	Max    *string `yaml:"max"`
}

func parseRange(n *yaml.Node) (op, error) {
	s, err := decode[rangeStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	if s.Min == nil && s.Max == nil {
		return nil, errs.Invalidf("min or max is required")
	}
	for _, b := range []*string{s.Min, s.Max} {
		if b == nil {
			continue
		}
		if _, ok := (reader{}).read(dataset.TypeFloat, *b); ok {
			continue
		}
		if _, ok := (reader{}).read(dataset.TypeDatetime, *b); !ok {
			return nil, errs.Invalidf("bound %q: want a number, a date or a datetime", *b)
		}
	}
	if s.Min != nil && s.Max != nil {
		for _, t := range []dataset.Type{dataset.TypeFloat, dataset.TypeDatetime} {
			lo, ok1 := reader{}.read(t, *s.Min)
			hi, ok2 := reader{}.read(t, *s.Max)
			if ok1 && ok2 && (lo.f > hi.f || lo.i > hi.i) {
				return nil, errs.Invalidf("min is above max")
			}
		}
	}
	return s, nil
}

func (s *rangeStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	v := w.vecs[j]
	var key func(i int) float64
	var bound func(b string) (float64, bool)
	switch v.Type {
	case dataset.TypeInteger, dataset.TypeFloat:
		key = func(i int) float64 { x, _ := v.Float(i); return x }
		bound = func(b string) (float64, bool) {
			l, ok := reader{}.read(dataset.TypeFloat, b)
			return l.f, ok
		}
	case dataset.TypeDate, dataset.TypeDatetime:
		key = func(i int) float64 { return float64(v.I[i]) }
		bound = func(b string) (float64, bool) {
			l, ok := reader{}.read(v.Type, b)
			if !ok && v.Type == dataset.TypeDate { // a datetime bound on dates: its day
				if l, ok = (reader{}).read(dataset.TypeDatetime, b); ok {
					l.i = dataset.Days(time.UnixMicro(l.i).UTC())
				}
			}
			return float64(l.i), ok
		}
	default:
		return errs.Invalidf("column %q is %s: range takes numbers, dates and datetimes", s.Column, v.Type)
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	var ok bool
	if s.Min != nil {
		if lo, ok = bound(*s.Min); !ok {
			return errs.Invalidf("min %q does not fit column %q of type %s", *s.Min, s.Column, v.Type)
		}
	}
	if s.Max != nil {
		if hi, ok = bound(*s.Max); !ok {
			return errs.Invalidf("max %q does not fit column %q of type %s", *s.Max, s.Column, v.Type)
		}
	}
	var bad []int
	for i := range w.rows() {
		if missing(v, i) {
			continue
		}
		if x := key(i); x < lo || x > hi {
			bad = append(bad, w.pos(i))
		}
	}
	if len(bad) > 0 {
		var where string
		switch {
		case s.Min == nil:
			where = "above " + *s.Max
		case s.Max == nil:
			where = "below " + *s.Min
		default:
			where = "outside [" + *s.Min + ", " + *s.Max + "]"
		}
		return checkFailed("column %q is %s in %s", s.Column, where, rowList(bad))
	}
	return nil
}

func (s *rangeStep) describe() string {
	switch {
	case s.Min == nil:
		return fmt.Sprintf("range %s at most %s", s.Column, *s.Max)
	case s.Max == nil:
		return fmt.Sprintf("range %s at least %s", s.Column, *s.Min)
	}
	return fmt.Sprintf("range %s in [%s, %s]", s.Column, *s.Min, *s.Max)
}

// unique: no two rows share a value (a combination, for several columns).
type uniqueStep struct {
	Column  string   `yaml:"column"`
	Columns []string `yaml:"columns"`
	names   []string
}

func parseUnique(n *yaml.Node) (op, error) {
	s, err := decode[uniqueStep](n, "columns")
	if err != nil {
		return nil, err
	}
	s.names, err = oneOrMany(s.Column, s.Columns)
	return s, err
}

func (s *uniqueStep) apply(w *work) error {
	vecs := make([]*dataset.Vec, len(s.names))
	for k, name := range s.names {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		vecs[k] = w.vecs[j]
	}
	keys := make([]string, w.rows())
	count := map[string]int{}
	var b strings.Builder
rows:
	for i := range w.rows() {
		b.Reset()
		for _, v := range vecs {
			if missing(v, i) {
				continue rows // a missing value is never a duplicate
			}
			b.WriteString(strconv.Quote(v.String(i)))
		}
		keys[i] = b.String()
		count[keys[i]]++
	}
	var bad []int
	for i, k := range keys {
		if k != "" && count[k] > 1 {
			bad = append(bad, w.pos(i))
		}
	}
	if len(bad) > 0 {
		return checkFailed("%s not unique: %s share a value with another row", columnsText(s.names), rowList(bad))
	}
	return nil
}

func (s *uniqueStep) describe() string { return "unique " + strings.Join(s.names, ", ") }

// allowed: values among a list.
type allowedStep struct {
	Column string   `yaml:"column"`
	Values []string `yaml:"values"`
}

func parseAllowed(n *yaml.Node) (op, error) {
	s, err := decode[allowedStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	if len(s.Values) == 0 {
		return nil, errs.Invalidf("values is required")
	}
	return s, nil
}

func (s *allowedStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	v := w.vecs[j]
	ok := map[string]bool{}
	for _, a := range s.Values {
		k, fits := canon(v.Type, a)
		if !fits {
			return errs.Invalidf("value %q does not fit column %q of type %s", a, s.Column, v.Type)
		}
		ok[k] = true
	}
	var bad []int
	for i := range w.rows() {
		if !missing(v, i) && !ok[v.String(i)] {
			bad = append(bad, w.pos(i))
		}
	}
	if len(bad) > 0 {
		return checkFailed("column %q has a value not allowed in %s", s.Column, rowList(bad))
	}
	return nil
}

func (s *allowedStep) describe() string {
	return fmt.Sprintf("allowed %s in {%s}", s.Column, strings.Join(s.Values, ", "))
}

// row_count: the number of rows within [min, max].
type rowCountStep struct {
	Min *int `yaml:"min"`
	Max *int `yaml:"max"`
}

func parseRowCount(n *yaml.Node) (op, error) {
	s, err := decode[rowCountStep](n, "")
	if err != nil {
		return nil, err
	}
	switch {
	case s.Min == nil && s.Max == nil:
		return nil, errs.Invalidf("min or max is required")
	case (s.Min != nil && *s.Min < 0) || (s.Max != nil && *s.Max < 0):
		return nil, errs.Invalidf("min and max cannot be negative")
	case s.Min != nil && s.Max != nil && *s.Min > *s.Max:
		return nil, errs.Invalidf("min is above max")
	}
	return s, nil
}

func (s *rowCountStep) apply(w *work) error {
	n := w.rows()
	if s.Min != nil && n < *s.Min {
		return checkFailed("%d rows, want at least %d", n, *s.Min)
	}
	if s.Max != nil && n > *s.Max {
		return checkFailed("%d rows, want at most %d", n, *s.Max)
	}
	return nil
}

func (s *rowCountStep) describe() string {
	switch {
	case s.Min == nil:
		return fmt.Sprintf("row_count at most %d", *s.Max)
	case s.Max == nil:
		return fmt.Sprintf("row_count at least %d", *s.Min)
	}
	return fmt.Sprintf("row_count between %d and %d", *s.Min, *s.Max)
}
