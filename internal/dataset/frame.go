package dataset

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// Additional column types (see Type).
const (
	TypeDatetime Type = "datetime"
	TypeText     Type = "text" // free text: a string column that may hold names
)

// Vec holds one column's values, typed. Exactly one of I, F, S is used:
//   - integer: I; boolean: I (0 or 1); date: I (days since 1970-01-01);
//     datetime: I (microseconds since the Unix epoch, UTC)
//   - float: F
//   - string, text: S
//
// Null[i] marks a missing value (its slot holds the zero value). Null may be
// nil when no value is missing.
type Vec struct {
	Type Type
	I    []int64
	F    []float64
	S    []string
	Null []bool
}

// NewVec returns an empty vector of type t with room for n values.
func NewVec(t Type, n int) *Vec {
	v := &Vec{Type: t}
	switch t.storage() {
	case 'i':
		v.I = make([]int64, 0, n)
	case 'f':
		v.F = make([]float64, 0, n)
	default:
		v.S = make([]string, 0, n)
	}
	return v
}

// storage says which slice a type uses: 'i', 'f' or 's'.
func (t Type) storage() byte {
	switch t {
	case TypeInteger, TypeBoolean, TypeDate, TypeDatetime:
		return 'i'
	case TypeFloat:
		return 'f'
	}
	return 's'
}

// Len returns the number of values.
func (v *Vec) Len() int {
	switch v.Type.storage() {
	case 'i':
		return len(v.I)
	case 'f':
		return len(v.F)
	}
	return len(v.S)
}

// IsNull reports whether value i is missing.
func (v *Vec) IsNull(i int) bool { return v.Null != nil && v.Null[i] }

// AppendNull appends a missing value.
func (v *Vec) AppendNull() {
	n := v.Len()
	if v.Null == nil {
		v.Null = make([]bool, n, cap(v.I)+cap(v.F)+cap(v.S)+1)
	}
	switch v.Type.storage() {
	case 'i':
		v.I = append(v.I, 0)
	case 'f':
		v.F = append(v.F, 0)
	default:
		v.S = append(v.S, "")
	}
	v.Null = append(v.Null, true)
}

func (v *Vec) markValid() {
	if v.Null != nil {
		v.Null = append(v.Null, false)
	}
}

// AppendInt appends to an integer-backed vector (integer, boolean, date, datetime).
func (v *Vec) AppendInt(x int64) { v.I = append(v.I, x); v.markValid() }

// AppendFloat appends to a float vector.
func (v *Vec) AppendFloat(x float64) { v.F = append(v.F, x); v.markValid() }

// AppendString appends to a string or text vector.
func (v *Vec) AppendString(x string) { v.S = append(v.S, x); v.markValid() }

// Float returns value i as a float64 (numeric, boolean, date and datetime
// types), and false if it is missing or not numeric.
func (v *Vec) Float(i int) (float64, bool) {
	if v.IsNull(i) {
		return 0, false
	}
	switch v.Type {
	case TypeFloat:
		return v.F[i], !math.IsNaN(v.F[i])
	case TypeInteger, TypeBoolean, TypeDate, TypeDatetime:
		return float64(v.I[i]), true
	}
	return 0, false
}

// String formats value i as text ("" when missing): integers in decimal,
// floats shortest round-trip with '.', booleans true/false, dates
// YYYY-MM-DD, datetimes RFC 3339 UTC.
func (v *Vec) String(i int) string {
	if v.IsNull(i) {
		return ""
	}
	switch v.Type {
	case TypeInteger:
		return strconv.FormatInt(v.I[i], 10)
	case TypeFloat:
		return strconv.FormatFloat(v.F[i], 'f', -1, 64)
	case TypeBoolean:
		return strconv.FormatBool(v.I[i] != 0)
	case TypeDate:
		return DateFromDays(v.I[i]).Format(time.DateOnly)
	case TypeDatetime:
		return time.UnixMicro(v.I[i]).UTC().Format(time.RFC3339Nano)
	}
	return v.S[i]
}

// Days converts a date to days since 1970-01-01.
func Days(t time.Time) int64 {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

// DateFromDays converts days since 1970-01-01 to a UTC date.
func DateFromDays(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// Frame is a typed, columnar table: the in-memory form of a dataset version.
type Frame struct {
	Columns []Column
	Vecs    []*Vec
}

// Rows returns the number of rows.
func (f *Frame) Rows() int {
	if len(f.Vecs) == 0 {
		return 0
	}
	return f.Vecs[0].Len()
}

// Index returns the position of a column, or -1.
func (f *Frame) Index(name string) int {
	for i, c := range f.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

// Col returns a column's vector or an Invalid error naming it.
func (f *Frame) Col(name string) (*Vec, error) {
	i := f.Index(name)
	if i < 0 {
		return nil, errs.Invalidf("unknown column %q", name)
	}
	return f.Vecs[i], nil
}

// Validate checks that every vector matches its column's type and that all
// have the same length.
func (f *Frame) Validate() error {
	if len(f.Columns) == 0 || len(f.Columns) != len(f.Vecs) {
		return errs.Invalidf("frame has %d columns and %d vectors", len(f.Columns), len(f.Vecs))
	}
	n := f.Vecs[0].Len()
	for i, v := range f.Vecs {
		if v.Type != f.Columns[i].Type {
			return errs.Invalidf("column %q: vector of type %s, column of type %s", f.Columns[i].Name, v.Type, f.Columns[i].Type)
		}
		if v.Len() != n || (v.Null != nil && len(v.Null) != n) {
			return errs.Invalidf("column %q has %d values, want %d", f.Columns[i].Name, v.Len(), n)
		}
	}
	return nil
}

// Floats returns a numeric column as float64s; a missing or non-numeric
// value is an error naming the row (never the value).
func (f *Frame) Floats(name string) ([]float64, error) {
	v, err := f.Col(name)
	if err != nil {
		return nil, err
	}
	out := make([]float64, v.Len())
	for i := range out {
		x, ok := v.Float(i)
		if !ok {
			return nil, errs.Invalidf("row %d, column %q: missing or not a number", i+1, name)
		}
		out[i] = x
	}
	return out, nil
}

// String describes the frame's shape.
func (f *Frame) String() string {
	return fmt.Sprintf("frame(%d rows × %d columns)", f.Rows(), len(f.Columns))
}
