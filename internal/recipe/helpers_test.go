package recipe

import (
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
)

// Test frames are built by hand, not read from CSV: the recipe engine must
// not depend on how files are typed.

// vec builds a vector; nil is a missing value, dates and datetimes are
// written as text.
func vec(t dataset.Type, vals ...any) *dataset.Vec {
	v := dataset.NewVec(t, len(vals))
	for _, x := range vals {
		switch x := x.(type) {
		case nil:
			v.AppendNull()
		case int:
			if t == dataset.TypeFloat {
				v.AppendFloat(float64(x))
			} else {
				v.AppendInt(int64(x))
			}
		case float64:
			v.AppendFloat(x)
		case bool:
			if x {
				v.AppendInt(1)
			} else {
				v.AppendInt(0)
			}
		case string:
			switch t {
			case dataset.TypeDate:
				d, err := time.Parse(time.DateOnly, x)
				if err != nil {
					panic(err)
				}
				v.AppendInt(dataset.Days(d))
			case dataset.TypeDatetime:
				d, err := time.Parse(time.RFC3339, x)
				if err != nil {
					panic(err)
				}
				v.AppendInt(d.UnixMicro())
			default:
				v.AppendString(x)
			}
		default:
			panic("vec: unsupported value")
		}
	}
	return v
}

func ints(vals ...any) *dataset.Vec      { return vec(dataset.TypeInteger, vals...) }
func floats(vals ...any) *dataset.Vec    { return vec(dataset.TypeFloat, vals...) }
func strs(vals ...any) *dataset.Vec      { return vec(dataset.TypeString, vals...) }
func texts(vals ...any) *dataset.Vec     { return vec(dataset.TypeText, vals...) }
func bools(vals ...any) *dataset.Vec     { return vec(dataset.TypeBoolean, vals...) }
func dates(vals ...any) *dataset.Vec     { return vec(dataset.TypeDate, vals...) }
func datetimes(vals ...any) *dataset.Vec { return vec(dataset.TypeDatetime, vals...) }

type col struct {
	name string
	role dataset.Role
	v    *dataset.Vec
}

// c is a feature column; cr one with a role.
func c(name string, v *dataset.Vec) col                     { return col{name, dataset.RoleFeature, v} }
func cr(name string, role dataset.Role, v *dataset.Vec) col { return col{name, role, v} }

func frame(cols ...col) *dataset.Frame {
	f := &dataset.Frame{}
	for _, c := range cols {
		f.Columns = append(f.Columns, dataset.Column{Name: c.name, Type: c.v.Type, Role: c.role})
		f.Vecs = append(f.Vecs, c.v)
	}
	if err := f.Validate(); err != nil {
		panic(err)
	}
	return f
}

// base is the frame most tests start from.
func base() *dataset.Frame {
	return frame(
		cr("pid", dataset.RolePatientID, strs("P1", "P1", "P2", "P3")),
		c("h", ints(170, nil, 182, 160)),
		c("w", floats(70.0, 80.5, nil, 55.0)),
		c("sex", strs("M", "F", "F", nil)),
		c("born", dates("1950-03-01", "1980-02-29", nil, "2000-12-31")),
		c("adm", dates("2020-02-29", "2021-02-28", "2022-01-01", "2020-12-31")),
	)
}

// show renders a frame: a header "name:type[:role]" (role when not
// feature), then one line per row, "|" between values, "∅" for missing.
func show(f *dataset.Frame) string {
	var b strings.Builder
	for j, c := range f.Columns {
		if j > 0 {
			b.WriteByte('|')
		}
		b.WriteString(c.Name + ":" + string(c.Type))
		if c.Role != dataset.RoleFeature {
			b.WriteString(":" + string(c.Role))
		}
	}
	b.WriteByte('\n')
	for i := range f.Rows() {
		for j, v := range f.Vecs {
			if j > 0 {
				b.WriteByte('|')
			}
			if missing(v, i) {
				b.WriteString("∅")
			} else {
				b.WriteString(v.String(i))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// rows joins lines into the text show gives.
func rows(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// steps writes a recipe from its steps, one flow mapping each.
func steps(s ...string) string {
	return "name: test\nsteps:\n  - " + strings.Join(s, "\n  - ") + "\n"
}

func deepCopy(f *dataset.Frame) *dataset.Frame {
	out := &dataset.Frame{Columns: append([]dataset.Column(nil), f.Columns...)}
	for _, v := range f.Vecs {
		out.Vecs = append(out.Vecs, cloneVec(v))
	}
	return out
}

// same compares frames exactly, NaN included.
func same(a, b *dataset.Frame) bool {
	if !reflect.DeepEqual(a.Columns, b.Columns) || len(a.Vecs) != len(b.Vecs) {
		return false
	}
	for j, v := range a.Vecs {
		w := b.Vecs[j]
		if v.Type != w.Type || !slices.Equal(v.I, w.I) || !slices.Equal(v.S, w.S) || !slices.Equal(v.Null, w.Null) || len(v.F) != len(w.F) {
			return false
		}
		for i := range v.F {
			if math.Float64bits(v.F[i]) != math.Float64bits(w.F[i]) {
				return false
			}
		}
	}
	return true
}

// apply parses and applies a recipe, checking the contract every Apply
// keeps: the input is untouched, the output valid and its own.
func apply(t *testing.T, f *dataset.Frame, text string) (*dataset.Frame, error) {
	t.Helper()
	r, err := Parse([]byte(text))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	before := deepCopy(f)
	out, err := r.Apply(f)
	if !same(f, before) {
		t.Fatal("Apply changed its input")
	}
	if err != nil {
		if out != nil {
			t.Fatal("Apply returned a frame with an error")
		}
		return nil, err
	}
	if err := out.Validate(); err != nil {
		t.Fatalf("output: %v", err)
	}
	// Scribble over the output: the input must not change.
	for _, v := range out.Vecs {
		for i := range v.I {
			v.I[i] = 1<<62 + 7
		}
		for i := range v.F {
			v.F[i] = -1.25e300
		}
		for i := range v.S {
			v.S[i] = "scribbled"
		}
		for i := range v.Null {
			v.Null[i] = !v.Null[i]
		}
	}
	if !same(f, before) {
		t.Fatal("Apply's output shares memory with its input")
	}
	// Apply again for the caller: the scribbles are gone.
	out, err = r.Apply(f)
	if err != nil {
		t.Fatalf("second Apply: %v", err)
	}
	return out, nil
}
