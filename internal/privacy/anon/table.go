package anon

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

// Table is an in-memory table of strings: a header and rows of the same width.
// Line[i], when set, is the line of the source file that row i came from (for
// error messages).
type Table struct {
	Header []string
	Rows   [][]string
	Source string
	Line   []int
}

// Column returns the index of the named column, or -1.
func (t *Table) Column(name string) int {
	for i, h := range t.Header {
		if h == name {
			return i
		}
	}
	return -1
}

// where names row i for an error message: "file.csv line 12".
func (t *Table) where(i int) string {
	src := t.Source
	if src == "" {
		src = "input"
	}
	if t.Line != nil && i < len(t.Line) {
		return fmt.Sprintf("%s line %d", src, t.Line[i])
	}
	return fmt.Sprintf("%s row %d", src, i+1)
}

// ReadCSV reads a table with a header row. source names the input in errors.
func ReadCSV(r io.Reader, sep rune, source string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	t := &Table{Source: source}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "%s: %s", source, csvMessage(err))
		}
		line, _ := cr.FieldPos(0)
		if t.Header == nil {
			if len(rec) > 0 {
				rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
			}
			seen := map[string]bool{}
			for _, h := range rec {
				if seen[h] {
					return nil, errs.Invalidf("%s line %d: duplicate column %q", source, line, h)
				}
				seen[h] = true
			}
			t.Header = rec
			continue
		}
		if len(rec) != len(t.Header) {
			return nil, errs.Invalidf("%s line %d: %d fields, the header has %d", source, line, len(rec), len(t.Header))
		}
		t.Rows = append(t.Rows, rec)
		t.Line = append(t.Line, line)
	}
	if t.Header == nil {
		return nil, errs.Invalidf("%s: empty file, want a header row", source)
	}
	return t, nil
}

// csvMessage keeps the position part of a csv parse error (never the data).
func csvMessage(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("line %d, column %d: %v", pe.Line, pe.Column, pe.Err)
	}
	return "cannot read CSV"
}

// WriteCSV writes the table with its header.
func (t *Table) WriteCSV(w io.Writer, sep rune) error {
	cw := csv.NewWriter(w)
	cw.Comma = sep
	if err := cw.Write(t.Header); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// TableFromFrame adapts a typed dataset.Frame: every value is formatted as
// text (dates as YYYY-MM-DD, missing values as "").
func TableFromFrame(f *dataset.Frame) (*Table, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	t := &Table{Source: "frame"}
	for _, c := range f.Columns {
		t.Header = append(t.Header, c.Name)
	}
	n := f.Rows()
	t.Rows = make([][]string, n)
	for i := 0; i < n; i++ {
		row := make([]string, len(f.Vecs))
		for j, v := range f.Vecs {
			row[j] = v.String(i)
		}
		t.Rows[i] = row
	}
	return t, nil
}
