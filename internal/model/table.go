package model

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// Column is one named column of input data. Exactly one of Num and Text is
// set: Num holds numbers with NaN for a missing value; Text holds cells as
// written, where IsMissing tells the missing ones. A numeric input read
// from a Text column has its cells parsed.
type Column struct {
	Name string
	Num  []float64
	Text []string
}

// Len is the column's number of rows.
func (c *Column) Len() int {
	if c.Num != nil {
		return len(c.Num)
	}
	return len(c.Text)
}

// Table is a set of equally long columns.
type Table struct {
	Cols []Column
}

// Rows is the number of rows (0 for a table without columns).
func (t *Table) Rows() int {
	if len(t.Cols) == 0 {
		return 0
	}
	return t.Cols[0].Len()
}

// Col returns the named column, or nil.
func (t *Table) Col(name string) *Column {
	for i := range t.Cols {
		if t.Cols[i].Name == name {
			return &t.Cols[i]
		}
	}
	return nil
}

// Names lists the columns in order.
func (t *Table) Names() []string {
	out := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		out[i] = c.Name
	}
	return out
}

// Check reports columns of unequal length or duplicated names.
func (t *Table) Check() error {
	seen := map[string]bool{}
	for _, c := range t.Cols {
		if seen[c.Name] {
			return errs.Invalidf("column %q appears twice", c.Name)
		}
		seen[c.Name] = true
		if c.Len() != t.Rows() {
			return errs.Invalidf("column %q has %d rows, column %q %d", c.Name, c.Len(), t.Cols[0].Name, t.Rows())
		}
	}
	return nil
}

// Subset returns the rows idx of t (columns share no memory with t).
func (t *Table) Subset(idx []int) *Table {
	out := &Table{Cols: make([]Column, len(t.Cols))}
	for j, c := range t.Cols {
		nc := Column{Name: c.Name}
		if c.Num != nil {
			nc.Num = make([]float64, len(idx))
			for k, i := range idx {
				nc.Num[k] = c.Num[i]
			}
		} else {
			nc.Text = make([]string, len(idx))
			for k, i := range idx {
				nc.Text[k] = c.Text[i]
			}
		}
		out.Cols[j] = nc
	}
	return out
}

// IsMissing reports the text cells read as a missing value.
func IsMissing(s string) bool {
	switch strings.TrimSpace(s) {
	case "", "NA", "N/A", "?", "null", "NULL":
		return true
	}
	return false
}

// parseNum parses a numeric cell. ok is false for text; bad is true for NaN
// and infinities, which are refused (an empty cell says "missing").
func parseNum(s string) (v float64, ok, bad bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, false, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, true, true
	}
	return v, true, false
}

// numbers returns a column as numbers (NaN for missing), or an error naming
// the first row that is not a finite number.
func (c *Column) numbers() ([]float64, error) {
	if c.Num != nil {
		for i, v := range c.Num {
			if math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d column %q is infinite", i+1, c.Name)
			}
		}
		return c.Num, nil
	}
	out := make([]float64, len(c.Text))
	for i, s := range c.Text {
		if IsMissing(s) {
			out[i] = math.NaN()
			continue
		}
		v, ok, bad := parseNum(s)
		if !ok || bad {
			return nil, errs.Invalidf("row %d column %q: want a finite number", i+1, c.Name)
		}
		out[i] = v
	}
	return out, nil
}

// text returns cell i as a category ("" when missing).
func (c *Column) text(i int) string {
	if c.Num != nil {
		if math.IsNaN(c.Num[i]) {
			return ""
		}
		return strconv.FormatFloat(c.Num[i], 'g', -1, 64)
	}
	if IsMissing(c.Text[i]) {
		return ""
	}
	return strings.TrimSpace(c.Text[i])
}

// InferInput types a column: numeric when it holds numbers (a Num column, or
// a Text column whose every non-missing cell is a finite number),
// categorical otherwise, with its sorted distinct values as categories.
func InferInput(c *Column) (Input, error) {
	in := Input{Name: c.Name, Type: Numeric}
	if c.Num != nil {
		if _, err := c.numbers(); err != nil {
			return in, err
		}
		return in, nil
	}
	numeric := true
	cats := map[string]bool{}
	for i, s := range c.Text {
		if IsMissing(s) {
			continue
		}
		_, ok, bad := parseNum(s)
		if bad {
			return in, errs.Invalidf("row %d column %q is NaN or infinite: leave the cell empty for a missing value", i+1, c.Name)
		}
		numeric = numeric && ok
		cats[strings.TrimSpace(s)] = true
	}
	if numeric {
		return in, nil
	}
	in.Type = Categorical
	for s := range cats {
		in.Categories = append(in.Categories, s)
	}
	sort.Strings(in.Categories)
	return in, nil
}
