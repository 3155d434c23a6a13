package dataset

import (
	"slices"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// ToFrame converts a text table to a typed Frame using its column types
// (an empty type is string), reading each cell with the import's text rules
// (see infer.go): "" (or blank, for non-string types) is missing. A cell
// that does not fit its type is an error naming the row and column, never
// the value. (A bridge while versions move from text tables to Frames.)
func (t *Table) ToFrame() (*Frame, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	cols := slices.Clone(t.Columns)
	for i := range cols {
		if cols[i].Type == "" {
			cols[i].Type = TypeString
		}
		if !ValidType(cols[i].Type) {
			return nil, errs.Invalidf("column %q: unknown type %q", cols[i].Name, cols[i].Type)
		}
	}
	f := emptyFrame(cols, len(t.Rows))
	for r, row := range t.Rows {
		for c, cell := range row {
			v := f.Vecs[c]
			if v.Type.storage() == 's' {
				if cell == "" {
					v.AppendNull()
					continue
				}
				if !utf8.ValidString(cell) {
					return nil, errs.Invalidf("row %d, column %q: not valid UTF-8", r+1, cols[c].Name)
				}
				v.AppendString(cell)
				continue
			}
			b := trimSpace([]byte(cell))
			if len(b) == 0 {
				v.AppendNull()
				continue
			}
			if !appendText(v, b, '.') {
				return nil, errs.Invalidf("row %d, column %q: not a valid %s", r+1, cols[c].Name, v.Type)
			}
		}
	}
	return f, nil
}

// ToTable converts a Frame to a text table (see Vec.String).
func (f *Frame) ToTable() *Table {
	t := &Table{Columns: slices.Clone(f.Columns), Rows: make([][]string, f.Rows())}
	for r := range t.Rows {
		row := make([]string, len(f.Vecs))
		for c, v := range f.Vecs {
			row[c] = v.String(r)
		}
		t.Rows[r] = row
	}
	return t
}
