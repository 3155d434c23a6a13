package anon

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// Hierarchy is a generalisation hierarchy for one attribute: each row is a
// value (level 0) followed by its generalisations, level by level. Every row
// has the same number of levels, and generalisation is a function: two values
// that share a generalisation at level i share it at every level above i.
type Hierarchy struct {
	Source string     // file (or builder) it came from, for error messages
	Rows   [][]string // Rows[r][level]
	Lines  []int      // source line of each row, when parsed from a file
	index  map[string]int
}

// Levels returns the number of levels (level 0, the original values, included).
func (h *Hierarchy) Levels() int {
	if len(h.Rows) == 0 {
		return 0
	}
	return len(h.Rows[0])
}

// Lookup returns the row of a level-0 value.
func (h *Hierarchy) Lookup(value string) (int, bool) {
	r, ok := h.index[value]
	return r, ok
}

// Generalize returns value generalised to level.
func (h *Hierarchy) Generalize(value string, level int) (string, bool) {
	r, ok := h.index[value]
	if !ok || level < 0 || level >= h.Levels() {
		return "", false
	}
	return h.Rows[r][level], true
}

func (h *Hierarchy) where(r int) string {
	if h.Lines != nil && r < len(h.Lines) {
		return fmt.Sprintf("%s line %d", h.Source, h.Lines[r])
	}
	return fmt.Sprintf("%s row %d", h.Source, r+1)
}

// ParseHierarchy reads a hierarchy in ARX's CSV format: one row per value,
// the value then its generalisations, separated by sep. Empty lines are
// ignored; source names the file in errors.
func ParseHierarchy(r io.Reader, sep rune, source string) (*Hierarchy, error) {
	cr := csv.NewReader(r)
	cr.Comma = sep
	cr.LazyQuotes = true
	cr.FieldsPerRecord = -1
	h := &Hierarchy{Source: source}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "hierarchy %s: %s", source, csvMessage(err))
		}
		line, _ := cr.FieldPos(0)
		if len(h.Rows) == 0 && len(rec) > 0 {
			rec[0] = strings.TrimPrefix(rec[0], "\ufeff")
		}
		h.Rows = append(h.Rows, rec)
		h.Lines = append(h.Lines, line)
	}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// NewHierarchy builds a hierarchy from rows and validates it.
func NewHierarchy(source string, rows [][]string) (*Hierarchy, error) {
	h := &Hierarchy{Source: source, Rows: rows}
	if err := h.validate(); err != nil {
		return nil, err
	}
	return h, nil
}

// validate checks the depths, duplicate values and that generalisation is a
// function of the value below, and builds the index.
func (h *Hierarchy) validate() error {
	if len(h.Rows) == 0 {
		return errs.Invalidf("hierarchy %s: no values", h.Source)
	}
	depth := len(h.Rows[0])
	if depth == 0 {
		return errs.Invalidf("hierarchy %s: empty row", h.where(0))
	}
	h.index = make(map[string]int, len(h.Rows))
	for r, row := range h.Rows {
		if len(row) != depth {
			return errs.Invalidf("hierarchy %s: inconsistent depth: %d levels, but %s has %d", h.where(r), len(row), h.where(0), depth)
		}
		if prev, dup := h.index[row[0]]; dup {
			return errs.Invalidf("hierarchy %s: value %q already defined at %s", h.where(r), row[0], h.where(prev))
		}
		h.index[row[0]] = r
	}
	// parent[l] maps a value at level l to its generalisation at level l+1.
	for l := 1; l+1 < depth; l++ {
		parent := map[string]int{}
		for r, row := range h.Rows {
			if first, ok := parent[row[l]]; ok {
				if h.Rows[first][l+1] != row[l+1] {
					return errs.Invalidf("hierarchy %s: %q generalises to %q at level %d, but to %q at %s",
						h.where(r), row[l], row[l+1], l+1, h.Rows[first][l+1], h.where(first))
				}
				continue
			}
			parent[row[l]] = r
		}
	}
	return nil
}
