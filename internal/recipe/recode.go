package recipe

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// recode: map values to values.
type recodeStep struct {
	Column       string    `yaml:"column"`
	Map          yaml.Node `yaml:"map"`
	Default      *string   `yaml:"default"`       // value of unmapped values
	KeepUnmapped bool      `yaml:"keep_unmapped"` // unmapped values pass through
	Type         string    `yaml:"type"`          // type of the result
	As           string    `yaml:"as"`
	Keep         bool      `yaml:"keep"`
	pairs        [][2]string
	null         []bool // pairs[k] maps to a missing value
	typ          dataset.Type
}

func parseRecode(n *yaml.Node) (op, error) {
	s, err := decode[recodeStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.Column == "" {
		return nil, errs.Invalidf("column is required")
	}
	if s.Map.Kind == 0 {
		return nil, errs.Invalidf("map is required")
	}
	if s.pairs, s.null, err = pairs(&s.Map, "map"); err != nil {
		return nil, err
	}
	if s.Default != nil && s.KeepUnmapped {
		return nil, errs.Invalidf("give default or keep_unmapped, not both")
	}
	if s.Type != "" {
		if s.typ, err = parseType(s.Type); err != nil {
			return nil, err
		}
	}
	if s.Keep && (s.As == "" || s.As == s.Column) {
		return nil, errs.Invalidf("keep needs as, a new name for the recoded column")
	}
	return s, nil
}

func (s *recodeStep) apply(w *work) error {
	j, err := w.col(s.Column)
	if err != nil {
		return err
	}
	src := w.vecs[j]
	typ := s.typ
	switch {
	case typ != "":
	case s.KeepUnmapped:
		typ = src.Type
	default:
		typ = dataset.TypeString
	}
	type to struct {
		l    lit
		null bool
	}
	m := map[string]to{}
	for k, kv := range s.pairs {
		key, ok := canon(src.Type, kv[0])
		if !ok {
			return errs.Invalidf("map key %q does not fit column %q of type %s", kv[0], s.Column, src.Type)
		}
		if _, dup := m[key]; dup {
			return errs.Invalidf("map key %q repeats another key for type %s", kv[0], src.Type)
		}
		var l lit
		if !s.null[k] {
			if l, ok = (reader{}).read(typ, kv[1]); !ok {
				return errs.Invalidf("map value %q does not fit type %s (set type)", kv[1], typ)
			}
		}
		m[key] = to{l, s.null[k]}
	}
	var def *lit
	if s.Default != nil {
		l, ok := reader{}.read(typ, *s.Default)
		if !ok {
			return errs.Invalidf("default %q does not fit type %s (set type)", *s.Default, typ)
		}
		def = &l
	}
	out := dataset.NewVec(typ, src.Len())
	for i := range src.Len() {
		if missing(src, i) {
			out.AppendNull()
			continue
		}
		t, ok := m[src.String(i)]
		switch {
		case ok && t.null:
			out.AppendNull()
		case ok:
			appendLit(out, t.l)
		case def != nil:
			appendLit(out, *def)
		case !s.KeepUnmapped:
			out.AppendNull()
		case typ == src.Type:
			appendLit(out, litAt(src, i))
		default:
			l, ok := reader{}.read(typ, src.String(i))
			if !ok {
				return errs.Invalidf("row %d, column %q: unmapped value does not fit type %s", w.pos(i), s.Column, typ)
			}
			appendLit(out, l)
		}
	}
	c := w.cols[j]
	c.Type = typ
	if s.As != "" {
		c.Name = s.As
	}
	return w.put(j, c, out, s.Keep)
}

func (s *recodeStep) describe() string {
	d := fmt.Sprintf("recode %s (%d value", s.Column, len(s.pairs))
	if len(s.pairs) > 1 {
		d += "s"
	}
	switch {
	case s.KeepUnmapped:
		d += ", others kept)"
	case s.Default != nil:
		d += fmt.Sprintf(", others %q)", *s.Default)
	default:
		d += ", others missing)"
	}
	if s.As != "" {
		d += " as " + s.As
	}
	return d
}

// impute: fill missing values.
type imputeStep struct {
	Column  string   `yaml:"column"`
	Columns []string `yaml:"columns"`
	Method  string   `yaml:"method"` // constant, mean, median, mode
	Value   *string  `yaml:"value"`  // for constant
	names   []string
}

func parseImpute(n *yaml.Node) (op, error) {
	s, err := decode[imputeStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.names, err = oneOrMany(s.Column, s.Columns); err != nil {
		return nil, err
	}
	switch s.Method {
	case "constant":
		if s.Value == nil {
			return nil, errs.Invalidf("method constant needs value")
		}
	case "mean", "median", "mode":
		if s.Value != nil {
			return nil, errs.Invalidf("value applies to method constant only")
		}
	case "":
		return nil, errs.Invalidf("method is required (constant, mean, median, mode)")
	default:
		return nil, errs.Invalidf("unknown method %q (constant, mean, median, mode)", s.Method)
	}
	return s, nil
}

func (s *imputeStep) apply(w *work) error {
	for _, name := range s.names {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		src := w.vecs[j]
		fill, err := s.fill(src, name)
		if err != nil {
			return err
		}
		out := dataset.NewVec(src.Type, src.Len())
		for i := range src.Len() {
			if missing(src, i) {
				appendLit(out, fill)
			} else {
				appendLit(out, litAt(src, i))
			}
		}
		w.vecs[j] = out
	}
	return nil
}

// fill computes the value missing values of src get.
func (s *imputeStep) fill(src *dataset.Vec, name string) (lit, error) {
	if s.Method == "constant" {
		l, ok := reader{}.read(src.Type, *s.Value)
		if !ok {
			return lit{}, errs.Invalidf("value %q does not fit column %q of type %s", *s.Value, name, src.Type)
		}
		return l, nil
	}
	if s.Method == "mode" {
		count := map[string]int{}
		var first []int // the row each value is first seen in
		for i := range src.Len() {
			if missing(src, i) {
				continue
			}
			k := src.String(i)
			if count[k] == 0 {
				first = append(first, i)
			}
			count[k]++
		}
		if len(first) == 0 {
			return lit{}, errs.Invalidf("column %q has no values to take the mode of", name)
		}
		at := first[0]
		for _, i := range first { // ties: the value seen first
			if count[src.String(i)] > count[src.String(at)] {
				at = i
			}
		}
		return litAt(src, at), nil
	}
	if src.Type == dataset.TypeBoolean || storage(src.Type) == 's' {
		return lit{}, errs.Invalidf("method %s needs a numeric, date or datetime column; %q is %s", s.Method, name, src.Type)
	}
	var xs []float64
	for i := range src.Len() {
		if x, ok := src.Float(i); ok {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return lit{}, errs.Invalidf("column %q has no values to take the %s of", name, s.Method)
	}
	var x float64
	if s.Method == "mean" {
		// Running mean: no overflow on datetimes in microseconds.
		for k, v := range xs {
			x += (v - x) / float64(k+1)
		}
	} else {
		slices.Sort(xs)
		h := len(xs) / 2
		x = xs[h]
		if len(xs)%2 == 0 {
			x = xs[h-1] + (xs[h]-xs[h-1])/2
		}
	}
	if src.Type == dataset.TypeFloat {
		return lit{f: x}, nil
	}
	return lit{i: int64(math.Round(x))}, nil // integers, dates, datetimes keep their type
}

func (s *imputeStep) describe() string {
	d := fmt.Sprintf("impute %s with the %s", strings.Join(s.names, ", "), s.Method)
	if s.Method == "constant" {
		d = fmt.Sprintf("impute %s with %q", strings.Join(s.names, ", "), *s.Value)
	}
	return d
}
