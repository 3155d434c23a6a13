package anon

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-health/hygie/internal/errs"
)

// Hierarchies built on the fly from the values of a column. Each ends with a
// level where every value is "*".

// IntervalHierarchy generalises numbers into intervals of the given widths,
// level by level (each width a multiple of the previous one, so that
// intervals nest). Intervals are aligned on multiples of the width: with
// widths 5, 10 the value 23 becomes "20-24" then "20-29" (integers), or
// "[20, 25)" then "[20, 30)" when some value is not an integer.
func IntervalHierarchy(values []string, widths []float64) (*Hierarchy, error) {
	if len(widths) == 0 {
		return nil, errs.Invalidf("interval hierarchy: want at least one width")
	}
	for i, w := range widths {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, errs.Invalidf("interval hierarchy: width %v must be positive", w)
		}
		if i > 0 {
			q := w / widths[i-1]
			if math.Abs(q-math.Round(q)) > 1e-9 || q < 1 {
				return nil, errs.Invalidf("interval hierarchy: width %v is not a multiple of %v, intervals would not nest", w, widths[i-1])
			}
		}
	}
	vals := distinct(values)
	nums := make([]float64, len(vals))
	integers := true
	for i, v := range vals {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, errs.Invalidf("interval hierarchy: %q is not a number", v)
		}
		nums[i] = x
		if x != math.Trunc(x) {
			integers = false
		}
	}
	for _, w := range widths {
		if w != math.Trunc(w) {
			integers = false
		}
	}
	rows := make([][]string, len(vals))
	for i, v := range vals {
		row := []string{v}
		for _, w := range widths {
			lo := math.Floor(nums[i]/w) * w
			if integers {
				row = append(row, fmt.Sprintf("%d-%d", int64(lo), int64(lo+w)-1))
			} else {
				row = append(row, fmt.Sprintf("[%s, %s)", fmtNum(lo), fmtNum(lo+w)))
			}
		}
		rows[i] = append(row, "*")
	}
	return NewHierarchy(fmt.Sprintf("interval:%s", joinNums(widths)), rows)
}

// MaskHierarchy masks characters from the right, one more per level (for
// postcodes, ICD-10 codes): "75013" → "7501*" → "750**" … up to levels masked
// characters, then "*". levels <= 0 masks up to the longest value.
func MaskHierarchy(values []string, levels int) (*Hierarchy, error) {
	vals := distinct(values)
	longest := 0
	for _, v := range vals {
		longest = max(longest, utf8.RuneCountInString(v))
	}
	if levels <= 0 || levels > longest {
		levels = longest
	}
	rows := make([][]string, len(vals))
	for i, v := range vals {
		r := []rune(v)
		row := []string{v}
		for m := 1; m <= levels; m++ {
			keep := max(len(r)-m, 0)
			row = append(row, string(r[:keep])+strings.Repeat("*", len(r)-keep))
		}
		rows[i] = append(row, "*")
	}
	return NewHierarchy(fmt.Sprintf("mask:%d", levels), rows)
}

// DateHierarchy generalises dates (in layout, Go's reference-time format;
// "" means 2006-01-02) from day to month ("2006-01") to year ("2006").
func DateHierarchy(values []string, layout string) (*Hierarchy, error) {
	if layout == "" {
		layout = time.DateOnly
	}
	vals := distinct(values)
	rows := make([][]string, len(vals))
	for i, v := range vals {
		d, err := time.Parse(layout, strings.TrimSpace(v))
		if err != nil {
			return nil, errs.Invalidf("date hierarchy: %q is not a date in layout %s", v, layout)
		}
		rows[i] = []string{v, d.Format("2006-01"), d.Format("2006"), "*"}
	}
	return NewHierarchy("date:"+layout, rows)
}

// BuildHierarchy makes a hierarchy from a spec: "interval:5,10,20",
// "mask" or "mask:3", "date" or "date:02/01/2006".
func BuildHierarchy(spec string, values []string) (*Hierarchy, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "interval":
		var widths []float64
		for _, s := range strings.Split(arg, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, errs.Invalidf("hierarchy %q: width %q is not a number", spec, s)
			}
			widths = append(widths, w)
		}
		return IntervalHierarchy(values, widths)
	case "mask":
		n := 0
		if arg != "" {
			var err error
			if n, err = strconv.Atoi(arg); err != nil || n < 1 {
				return nil, errs.Invalidf("hierarchy %q: want mask:N with N >= 1", spec)
			}
		}
		return MaskHierarchy(values, n)
	case "date":
		return DateHierarchy(values, arg)
	}
	return nil, errs.Invalidf("unknown hierarchy builder %q (want interval:W1,W2…, mask[:N] or date[:LAYOUT])", spec)
}

// IsBuilderSpec reports whether s names an on-the-fly hierarchy.
func IsBuilderSpec(s string) bool {
	k, _, _ := strings.Cut(s, ":")
	return k == "interval" || k == "mask" || k == "date"
}

func distinct(values []string) []string {
	seen := make(map[string]bool, len(values))
	var out []string
	for _, v := range values {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

func joinNums(xs []float64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmtNum(x)
	}
	return strings.Join(s, ",")
}
