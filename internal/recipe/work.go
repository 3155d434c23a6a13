package recipe

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// work is the frame a recipe is working on. Steps replace whole vectors
// and never write into one, so the input's vectors can be shared until the
// end of Apply.
type work struct {
	cols []dataset.Column
	vecs []*dataset.Vec
	// origin maps each current row to its 0-based position in the input
	// frame, so that errors name the row the user can find (filters
	// remove rows).
	origin []int
}

func (w *work) rows() int { return len(w.origin) }

// pos is row i's 1-based position in the input frame.
func (w *work) pos(i int) int { return w.origin[i] + 1 }

func (w *work) index(name string) int {
	return slices.IndexFunc(w.cols, func(c dataset.Column) bool { return c.Name == name })
}

// col returns a column's position or an error naming it and the columns
// there are.
func (w *work) col(name string) (int, error) {
	if i := w.index(name); i >= 0 {
		return i, nil
	}
	names := make([]string, 0, min(len(w.cols), 30))
	for _, c := range w.cols[:min(len(w.cols), 30)] {
		names = append(names, c.Name)
	}
	more := ""
	if len(w.cols) > 30 {
		more = fmt.Sprintf(", and %d more", len(w.cols)-30)
	}
	return -1, errs.Invalidf("unknown column %q (columns: %s%s)", name, strings.Join(names, ", "), more)
}

// put stores a step's result for source column j: in its place, or right
// after it when keep is set. The name must not be taken by another column.
func (w *work) put(j int, c dataset.Column, v *dataset.Vec, keep bool) error {
	if k := w.index(c.Name); k >= 0 && (keep || k != j) {
		return errs.Invalidf("column %q already exists", c.Name)
	}
	if keep {
		w.cols = slices.Insert(w.cols, j+1, c)
		w.vecs = slices.Insert(w.vecs, j+1, v)
		return nil
	}
	w.cols[j], w.vecs[j] = c, v
	return nil
}

// add appends a new column.
func (w *work) add(c dataset.Column, v *dataset.Vec) error {
	if w.index(c.Name) >= 0 {
		return errs.Invalidf("column %q already exists", c.Name)
	}
	w.cols = append(w.cols, c)
	w.vecs = append(w.vecs, v)
	return nil
}

// keepRows keeps the rows listed, in that order.
func (w *work) keepRows(idx []int) {
	for j, v := range w.vecs {
		w.vecs[j] = take(v, idx)
	}
	origin := make([]int, len(idx))
	for k, i := range idx {
		origin[k] = w.origin[i]
	}
	w.origin = origin
}

// missing reports whether value i is missing: null, or a float NaN.
func missing(v *dataset.Vec, i int) bool {
	return v.IsNull(i) || (v.Type == dataset.TypeFloat && math.IsNaN(v.F[i]))
}

// Value storage by type, as in dataset.Vec.
func storage(t dataset.Type) byte {
	switch t {
	case dataset.TypeInteger, dataset.TypeBoolean, dataset.TypeDate, dataset.TypeDatetime:
		return 'i'
	case dataset.TypeFloat:
		return 'f'
	}
	return 's'
}

var types = []dataset.Type{dataset.TypeInteger, dataset.TypeFloat, dataset.TypeBoolean, dataset.TypeDate, dataset.TypeDatetime, dataset.TypeString, dataset.TypeText}

func validType(t dataset.Type) bool { return slices.Contains(types, t) }

func parseType(s string) (dataset.Type, error) {
	t := dataset.Type(s)
	if !validType(t) {
		names := make([]string, len(types))
		for i, t := range types {
			names[i] = string(t)
		}
		return "", errs.Invalidf("unknown type %q (types: %s)", s, strings.Join(names, ", "))
	}
	return t, nil
}

func parseRole(s string, def dataset.Role) (dataset.Role, error) {
	if s == "" {
		return def, nil
	}
	r := dataset.Role(s)
	if !slices.Contains(dataset.Roles, r) {
		names := make([]string, len(dataset.Roles))
		for i, r := range dataset.Roles {
			names[i] = string(r)
		}
		return "", errs.Invalidf("unknown role %q (roles: %s)", s, strings.Join(names, ", "))
	}
	return r, nil
}

func numeric(t dataset.Type) bool { return t == dataset.TypeInteger || t == dataset.TypeFloat }

// lit is one value, stored as its type requires.
type lit struct {
	i int64
	f float64
	s string
}

// appendLit appends a value to a vector of any type.
func appendLit(v *dataset.Vec, l lit) {
	switch storage(v.Type) {
	case 'i':
		v.AppendInt(l.i)
	case 'f':
		v.AppendFloat(l.f)
	default:
		v.AppendString(l.s)
	}
}

// litAt returns value i of v.
func litAt(v *dataset.Vec, i int) lit {
	switch storage(v.Type) {
	case 'i':
		return lit{i: v.I[i]}
	case 'f':
		return lit{f: v.F[i]}
	}
	return lit{s: v.S[i]}
}

// appendFrom appends value i of src (missing included) to dst, of the
// same type.
func appendFrom(dst, src *dataset.Vec, i int) {
	if missing(src, i) {
		dst.AppendNull()
		return
	}
	appendLit(dst, litAt(src, i))
}

// format writes a value of type t as dataset.Vec.String does.
func format(t dataset.Type, l lit) string {
	v := dataset.NewVec(t, 1)
	appendLit(v, l)
	return v.String(0)
}

func take(v *dataset.Vec, idx []int) *dataset.Vec {
	out := dataset.NewVec(v.Type, len(idx))
	for _, i := range idx {
		appendFrom(out, v, i)
	}
	return out
}

func cloneVec(v *dataset.Vec) *dataset.Vec {
	return &dataset.Vec{Type: v.Type, I: slices.Clone(v.I), F: slices.Clone(v.F), S: slices.Clone(v.S), Null: slices.Clone(v.Null)}
}

// reader parses text into values of a type.
type reader struct {
	layout  string         // Go layout for dates and datetimes; "" reads ISO 8601
	loc     *time.Location // zone of datetimes written without one; nil is UTC
	decimal string         // "," reads 1,5 as 1.5
}

// isoDatetime are the layouts a datetime is read with by default; one
// without a zone is in the reader's zone.
var isoDatetime = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02T15:04", "2006-01-02 15:04", time.DateOnly}

// read parses s as a value of type t.
func (r reader) read(t dataset.Type, s string) (lit, bool) {
	if t == dataset.TypeString || t == dataset.TypeText {
		return lit{s: s}, true
	}
	s = strings.TrimSpace(s)
	switch t {
	case dataset.TypeInteger:
		x, err := strconv.ParseInt(s, 10, 64)
		return lit{i: x}, err == nil
	case dataset.TypeFloat:
		if r.decimal == "," {
			s = strings.Replace(s, ",", ".", 1)
		}
		x, err := strconv.ParseFloat(s, 64)
		return lit{f: x}, err == nil && !math.IsInf(x, 0) && !math.IsNaN(x)
	case dataset.TypeBoolean:
		switch strings.ToLower(s) {
		case "true", "t", "yes", "y", "1", "oui", "vrai":
			return lit{i: 1}, true
		case "false", "f", "no", "n", "0", "non", "faux":
			return lit{i: 0}, true
		}
		return lit{}, false
	case dataset.TypeDate:
		layout := r.layout
		if layout == "" {
			layout = time.DateOnly
		}
		d, err := time.Parse(layout, s)
		return lit{i: dataset.Days(d)}, err == nil
	case dataset.TypeDatetime:
		loc := r.loc
		if loc == nil {
			loc = time.UTC
		}
		layouts := isoDatetime
		if r.layout != "" {
			layouts = []string{r.layout}
		}
		for _, l := range layouts {
			if d, err := time.ParseInLocation(l, s, loc); err == nil {
				return lit{i: d.UnixMicro()}, true
			}
		}
	}
	return lit{}, false
}

// canon returns a literal of the recipe in the form values of type t are
// formatted in (so "1.0" matches the float 1), or false if it does not fit.
func canon(t dataset.Type, s string) (string, bool) {
	l, ok := reader{}.read(t, s)
	if !ok {
		return "", false
	}
	return format(t, l), true
}

// rowList formats 1-based row positions: all of them up to 20, else the
// first 20 and the count.
func rowList(pos []int) string {
	shown := pos[:min(len(pos), 20)]
	s := make([]string, len(shown))
	for i, p := range shown {
		s[i] = strconv.Itoa(p)
	}
	switch {
	case len(pos) == 1:
		return "row " + s[0]
	case len(pos) <= 20:
		return "rows " + strings.Join(s, ", ")
	}
	return fmt.Sprintf("rows %s, … (%d rows in all)", strings.Join(s, ", "), len(pos))
}

// names checks a list of column names: at least one, none empty, none
// repeated.
func names(list []string, field string) error {
	if len(list) == 0 {
		return errs.Invalidf("%s: at least one column is required", field)
	}
	seen := map[string]bool{}
	for _, n := range list {
		if n == "" {
			return errs.Invalidf("%s: empty column name", field)
		}
		if seen[n] {
			return errs.Invalidf("%s: column %q given twice", field, n)
		}
		seen[n] = true
	}
	return nil
}

// oneOrMany returns the columns of a step that takes "column" or
// "columns", exactly one of them.
func oneOrMany(column string, columns []string) ([]string, error) {
	switch {
	case column != "" && columns != nil:
		return nil, errs.Invalidf("give column or columns, not both")
	case column != "":
		return []string{column}, nil
	case columns == nil:
		return nil, errs.Invalidf("column or columns is required")
	}
	return columns, names(columns, "columns")
}

func quoted(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
