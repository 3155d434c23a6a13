package recipe

import (
	"fmt"
	"math"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// select: keep these columns, in this order.
type selectStep struct {
	Columns []string `yaml:"columns"`
}

func parseSelect(n *yaml.Node) (op, error) {
	s, err := decode[selectStep](n, "columns")
	if err != nil {
		return nil, err
	}
	return s, names(s.Columns, "columns")
}

func (s *selectStep) apply(w *work) error {
	cols := make([]dataset.Column, len(s.Columns))
	vecs := make([]*dataset.Vec, len(s.Columns))
	for k, name := range s.Columns {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		cols[k], vecs[k] = w.cols[j], w.vecs[j]
	}
	w.cols, w.vecs = cols, vecs
	return nil
}

func (s *selectStep) describe() string { return "select " + strings.Join(s.Columns, ", ") }

// drop: remove these columns.
type dropStep struct {
	Columns []string `yaml:"columns"`
}

func parseDrop(n *yaml.Node) (op, error) {
	s, err := decode[dropStep](n, "columns")
	if err != nil {
		return nil, err
	}
	return s, names(s.Columns, "columns")
}

func (s *dropStep) apply(w *work) error {
	del := map[int]bool{}
	for _, name := range s.Columns {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		del[j] = true
	}
	if len(del) == len(w.cols) {
		return errs.Invalidf("would drop every column")
	}
	var cols []dataset.Column
	var vecs []*dataset.Vec
	for j := range w.cols {
		if !del[j] {
			cols = append(cols, w.cols[j])
			vecs = append(vecs, w.vecs[j])
		}
	}
	w.cols, w.vecs = cols, vecs
	return nil
}

func (s *dropStep) describe() string { return "drop " + strings.Join(s.Columns, ", ") }

// rename: old → new, all at once (so a: b, b: a swaps).
type renameStep struct {
	pairs [][2]string
}

func parseRename(n *yaml.Node) (op, error) {
	p, null, err := pairs(n, "rename")
	if err != nil {
		return nil, err
	}
	to := map[string]bool{}
	for k, kv := range p {
		if kv[0] == "" || kv[1] == "" || null[k] {
			return nil, errs.Invalidf("empty column name")
		}
		if to[kv[1]] {
			return nil, errs.Invalidf("two columns renamed to %q", kv[1])
		}
		to[kv[1]] = true
	}
	return &renameStep{pairs: p}, nil
}

func (s *renameStep) apply(w *work) error {
	cols := append([]dataset.Column(nil), w.cols...)
	for _, kv := range s.pairs {
		j, err := w.col(kv[0])
		if err != nil {
			return err
		}
		cols[j].Name = kv[1]
	}
	seen := map[string]bool{}
	for _, c := range cols {
		if seen[c.Name] {
			return errs.Invalidf("column %q already exists", c.Name)
		}
		seen[c.Name] = true
	}
	w.cols = cols
	return nil
}

func (s *renameStep) describe() string {
	parts := make([]string, len(s.pairs))
	for i, kv := range s.pairs {
		parts[i] = kv[0] + " → " + kv[1]
	}
	return "rename " + strings.Join(parts, ", ")
}

// cast: change columns' types; a value that does not fit is an error.
type castStep struct {
	Column   string   `yaml:"column"`
	Columns  []string `yaml:"columns"`
	To       string   `yaml:"to"`
	Format   string   `yaml:"format"`   // Go layout of dates/datetimes read from text
	Timezone string   `yaml:"timezone"` // zone of datetimes read without one
	Decimal  string   `yaml:"decimal"`  // "," to read 1,5
	names    []string
	to       dataset.Type
	rd       reader
}

func parseCast(n *yaml.Node) (op, error) {
	s, err := decode[castStep](n, "")
	if err != nil {
		return nil, err
	}
	if s.names, err = oneOrMany(s.Column, s.Columns); err != nil {
		return nil, err
	}
	if s.To == "" {
		return nil, errs.Invalidf("to is required")
	}
	if s.to, err = parseType(s.To); err != nil {
		return nil, err
	}
	if s.Format != "" {
		if s.to != dataset.TypeDate && s.to != dataset.TypeDatetime {
			return nil, errs.Invalidf("format applies to casts to date or datetime")
		}
		if !strings.Contains(s.Format, "06") {
			return nil, errs.Invalidf("format %q: want a Go layout of the reference date, e.g. 02/01/2006 or 02/01/2006 15:04", s.Format)
		}
		s.rd.layout = s.Format
	}
	if s.Timezone != "" {
		if s.to != dataset.TypeDatetime && s.to != dataset.TypeDate {
			return nil, errs.Invalidf("timezone applies to casts to date or datetime")
		}
		loc, err := time.LoadLocation(s.Timezone)
		if err != nil || s.Timezone == "Local" {
			return nil, errs.Invalidf("unknown time zone %q (want an IANA name such as Europe/Paris)", s.Timezone)
		}
		s.rd.loc = loc
	}
	switch s.Decimal {
	case "", ".":
	case ",":
		if s.to != dataset.TypeFloat {
			return nil, errs.Invalidf("decimal applies to casts to float")
		}
		s.rd.decimal = ","
	default:
		return nil, errs.Invalidf("decimal: want \".\" or \",\"")
	}
	return s, nil
}

// castable says which types a type can be cast to.
func castable(from, to dataset.Type) bool {
	switch to {
	case dataset.TypeString, dataset.TypeText:
		return true
	case dataset.TypeInteger, dataset.TypeFloat, dataset.TypeBoolean:
		return from != dataset.TypeDate && from != dataset.TypeDatetime
	case dataset.TypeDate, dataset.TypeDatetime:
		return from == dataset.TypeDate || from == dataset.TypeDatetime || from == dataset.TypeString || from == dataset.TypeText
	}
	return false
}

func (s *castStep) apply(w *work) error {
	for _, name := range s.names {
		j, err := w.col(name)
		if err != nil {
			return err
		}
		src := w.vecs[j]
		if src.Type == s.to {
			continue
		}
		if !castable(src.Type, s.to) {
			return errs.Invalidf("cannot cast column %q from %s to %s", name, src.Type, s.to)
		}
		out := dataset.NewVec(s.to, src.Len())
		for i := range src.Len() {
			if missing(src, i) {
				out.AppendNull()
				continue
			}
			if storage(src.Type) == 's' && s.to != dataset.TypeString && s.to != dataset.TypeText && strings.TrimSpace(src.S[i]) == "" {
				out.AppendNull() // blank text is a missing value
				continue
			}
			l, ok := s.value(src, i)
			if !ok {
				return errs.Invalidf("row %d, column %q: value does not fit type %s", w.pos(i), name, s.to)
			}
			appendLit(out, l)
		}
		c := w.cols[j]
		c.Type = s.to
		w.cols[j], w.vecs[j] = c, out
	}
	return nil
}

// value converts value i of src to the step's type, false if it does not
// fit.
func (s *castStep) value(src *dataset.Vec, i int) (lit, bool) {
	to := s.to
	if to == dataset.TypeString || to == dataset.TypeText {
		return lit{s: src.String(i)}, true
	}
	switch src.Type {
	case dataset.TypeString, dataset.TypeText:
		return s.rd.read(to, src.S[i])
	case dataset.TypeFloat:
		x := src.F[i]
		switch to {
		case dataset.TypeInteger:
			// ±2^63 is not an int64; every float below it in magnitude is.
			ok := x == math.Trunc(x) && x >= -(1<<63) && x < 1<<63
			return lit{i: int64(x)}, ok
		case dataset.TypeBoolean:
			return lit{i: int64(x)}, x == 0 || x == 1
		}
	case dataset.TypeInteger, dataset.TypeBoolean:
		x := src.I[i]
		switch to {
		case dataset.TypeInteger:
			return lit{i: x}, true
		case dataset.TypeFloat:
			return lit{f: float64(x)}, true
		case dataset.TypeBoolean:
			return lit{i: x}, x == 0 || x == 1
		}
	case dataset.TypeDate:
		if to == dataset.TypeDatetime {
			d := dataset.DateFromDays(src.I[i])
			loc := s.rd.loc
			if loc == nil {
				loc = time.UTC
			}
			y, m, day := d.Date()
			return lit{i: time.Date(y, m, day, 0, 0, 0, 0, loc).UnixMicro()}, true
		}
	case dataset.TypeDatetime:
		if to == dataset.TypeDate {
			t := time.UnixMicro(src.I[i]).UTC()
			if s.rd.loc != nil {
				t = t.In(s.rd.loc)
			}
			return lit{i: dataset.Days(t)}, true
		}
	}
	return lit{}, false
}

func (s *castStep) describe() string {
	d := fmt.Sprintf("cast %s to %s", strings.Join(s.names, ", "), s.to)
	if s.Format != "" {
		d += " (format " + s.Format + ")"
	}
	if s.Timezone != "" {
		d += " (time zone " + s.Timezone + ")"
	}
	if s.Decimal == "," {
		d += " (decimal comma)"
	}
	return d
}
