package dataset

import (
	"strconv"
	"time"

	"github.com/hygie-health/hygie/internal/errs"
)

// ToFrame converts a text table to a typed Frame using its column types.
// (A bridge while versions move from text tables to Frames.)
func (t *Table) ToFrame() (*Frame, error) {
	f := &Frame{Columns: append([]Column(nil), t.Columns...)}
	for j, c := range t.Columns {
		v := NewVec(c.Type, len(t.Rows))
		for r, row := range t.Rows {
			s := row[j]
			if s == "" {
				v.AppendNull()
				continue
			}
			var err error
			switch c.Type {
			case TypeInteger:
				var n int64
				n, err = strconv.ParseInt(s, 10, 64)
				v.AppendInt(n)
			case TypeFloat:
				var x float64
				x, err = strconv.ParseFloat(s, 64)
				v.AppendFloat(x)
			case TypeBoolean:
				var b bool
				b, err = strconv.ParseBool(s)
				v.AppendInt(map[bool]int64{false: 0, true: 1}[b])
			case TypeDate:
				var d time.Time
				d, err = time.Parse(time.DateOnly, s)
				v.AppendInt(Days(d))
			case TypeDatetime:
				var d time.Time
				d, err = time.Parse(time.RFC3339Nano, s)
				v.AppendInt(d.UnixMicro())
			default:
				v.AppendString(s)
			}
			if err != nil {
				return nil, errs.Invalidf("row %d, column %q: not a valid %s", r+1, c.Name, c.Type)
			}
		}
		f.Vecs = append(f.Vecs, v)
	}
	return f, nil
}

// ToTable converts a Frame to a text table.
func (f *Frame) ToTable() *Table {
	t := &Table{Columns: append([]Column(nil), f.Columns...), Rows: make([][]string, f.Rows())}
	for r := range t.Rows {
		row := make([]string, len(f.Vecs))
		for j, v := range f.Vecs {
			row[j] = v.String(r)
		}
		t.Rows[r] = row
	}
	return t
}
