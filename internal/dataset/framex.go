package dataset

import (
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Helpers around Frame and Vec: building, appending, converting to and from
// the text Table.

// NewFrame returns an empty frame with the given columns and room for n
// rows.
func NewFrame(cols []Column, n int) *Frame {
	return emptyFrame(slices.Clone(cols), n)
}

func emptyFrame(cols []Column, n int) *Frame {
	f := &Frame{Columns: cols, Vecs: make([]*Vec, len(cols))}
	for i, c := range cols {
		f.Vecs[i] = NewVec(c.Type, n)
	}
	return f
}

// reset empties the frame, keeping its vectors' memory.
func (f *Frame) reset() {
	for _, v := range f.Vecs {
		v.I, v.F, v.S = v.I[:0], v.F[:0], v.S[:0]
		if v.Null != nil {
			v.Null = v.Null[:0]
		}
	}
}

// Names lists the column names in order.
func (f *Frame) Names() []string {
	out := make([]string, len(f.Columns))
	for i, c := range f.Columns {
		out[i] = c.Name
	}
	return out
}

// Append appends the rows of g, whose vectors must have f's types.
func (f *Frame) Append(g *Frame) {
	for i, v := range f.Vecs {
		v.AppendVec(g.Vecs[i])
	}
}

// AppendVec appends the values of w, of v's type.
func (v *Vec) AppendVec(w *Vec) {
	n := v.Len()
	switch v.Type.storage() {
	case 'i':
		v.I = append(v.I, w.I...)
	case 'f':
		v.F = append(v.F, w.F...)
	default:
		v.S = append(v.S, w.S...)
	}
	switch {
	case w.Null != nil:
		if v.Null == nil {
			v.Null = make([]bool, n, n+len(w.Null))
		}
		v.Null = append(v.Null, w.Null...)
	case v.Null != nil:
		v.Null = append(v.Null, make([]bool, w.Len())...)
	}
}

// SetRoles applies name → role; unknown columns or roles are errors naming
// them.
func (f *Frame) SetRoles(roles map[string]Role) error {
	return setRoles(f.Columns, roles)
}

func setRoles(cols []Column, roles map[string]Role) error {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	for _, name := range sortedKeys(roles) {
		role := roles[name]
		i := slices.Index(names, name)
		if i < 0 {
			return errs.Invalidf("roles: unknown column %q (columns: %s)", name, joinNames(names))
		}
		if !slices.Contains(Roles, role) {
			return errs.Invalidf("column %q: unknown role %q", name, role)
		}
		cols[i].Role = role
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func joinNames(names []string) string {
	const max = 40
	s := ""
	for i, n := range names {
		if i == max {
			return s + fmt.Sprintf(", … (%d more)", len(names)-max)
		}
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// Types lists the column types.
var Types = []Type{TypeInteger, TypeFloat, TypeBoolean, TypeDate, TypeDatetime, TypeString, TypeText}

// ValidType reports whether t is a known column type.
func ValidType(t Type) bool { return slices.Contains(Types, t) }

// checkColumns checks the columns of content to store: names present,
// distinct and valid UTF-8, types and roles known (an empty role becomes
// other).
func checkColumns(cols []Column) error {
	if len(cols) == 0 {
		return errs.Invalidf("table has no columns")
	}
	seen := make(map[string]bool, len(cols))
	for i := range cols {
		c := &cols[i]
		switch {
		case c.Name == "":
			return errs.Invalidf("column %d has no name", i+1)
		case !utf8.ValidString(c.Name):
			return errs.Invalidf("column %d: name is not valid UTF-8", i+1)
		case seen[c.Name]:
			return errs.Invalidf("duplicate column name %q", c.Name)
		case !ValidType(c.Type):
			return errs.Invalidf("column %q: unknown type %q", c.Name, c.Type)
		}
		if c.Role == "" {
			c.Role = RoleOther
		}
		if !slices.Contains(Roles, c.Role) {
			return errs.Invalidf("column %q: unknown role %q", c.Name, c.Role)
		}
		seen[c.Name] = true
	}
	return nil
}
