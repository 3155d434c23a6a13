package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
)

// The profile's charts are inline SVG drawn from the report: the page's
// content security policy allows no script and no inline style, so every
// size is an SVG attribute computed here, and colours come from the
// stylesheet. Only what the report holds is drawn: it already withholds
// identifiers and free text and suppresses small counts.

// Chart geometry, in viewBox units (the SVG scales to its box).
const (
	chartW      = 600.0 // width
	chartTop    = 16.0  // room for the count printed above the tallest bar
	chartBase   = 130.0 // the baseline's y
	chartH      = 150.0 // total height, tick labels included
	maxBarTexts = 20    // bars beyond which counts are not printed above them
	maxTicks    = 8     // tick labels at most under a chart
	minBar      = 3.0   // the least height of a drawn bar, so a bar shows
)

type profileView struct {
	Rows       int
	MinCount   int
	Duplicates int
	Columns    []columnView
	Charts     int  // columns with a chart or bars
	Suppressed bool // some count is suppressed: the legend explains
}

type stat struct{ Name, Value string }

type columnView struct {
	ID       string // the anchor of its card
	Name     string
	Type     dataset.Type
	Role     dataset.Role
	Count    int
	Missing  int
	Distinct string
	Withheld string // the reason code, if values are withheld
	Why      string // the reason, in words
	Summary  string // one line for the summary table
	Note     string // e.g. how a quasi-identifier is coarsened
	Stats    []stat
	Chart    *barChart
	BarsName string // what Bars show: counts of true/false, top values
	Bars     []hbar
}

// HasCard reports whether the column has a card with a chart or bars.
func (c columnView) HasCard() bool { return c.Chart != nil || len(c.Bars) > 0 }

// barChart is a histogram or a timeline as vertical bars.
type barChart struct {
	Label   string // the accessible name
	Caption string // bin width, granularity
	Axis    string // what a bar counts: "Bin" or "Period"
	W, H    float64
	Base    float64
	Bars    []vbar
	Ticks   []tick
	Rows    []chartRow // the same counts as a table
}

type vbar struct {
	X, Y, W, H float64
	Title      string // the tooltip: range and count
	Text       string // printed above the bar, if any
	TX, TY     float64
	Suppressed bool
}

type tick struct {
	X     float64
	Text  string
	Align string // SVG text-anchor
}

type chartRow struct {
	Range      string
	Count      string
	Suppressed bool
}

// hbar is a horizontal bar: a boolean count or a frequent value.
type hbar struct {
	Label      string
	Count      string
	Width      float64 // in % of the column's count
	Suppressed bool
}

// withheldWhy explains a profile.Withheld reason.
var withheldWhy = map[string]string{
	profile.WithheldIdentifier:   "identifier: its values are never profiled, only counted",
	profile.WithheldFreeText:     "free text may hold names: only counts and lengths are shown",
	profile.WithheldTooFewValues: "too few values to show any without revealing them",
}

func newProfileView(r *profile.Report) *profileView {
	pv := &profileView{Rows: r.Rows, MinCount: r.MinCount, Duplicates: r.DuplicateRows}
	for i, c := range r.Columns {
		cv := columnView{ID: "col-" + strconv.Itoa(i+1), Name: c.Name, Type: c.Type, Role: c.Role, Count: c.Count, Missing: c.Missing, Distinct: "—", Withheld: c.Withheld}
		if c.Distinct != nil {
			cv.Distinct = count(*c.Distinct)
		}
		if c.Withheld != "" {
			cv.Why = withheldWhy[c.Withheld]
			if cv.Why == "" {
				cv.Why = "values withheld"
			}
		}
		switch {
		case c.Numeric != nil:
			numericView(&cv, c.Numeric, r.MinCount)
		case c.Temporal != nil:
			temporalView(&cv, c.Temporal, r.MinCount)
		case c.Boolean != nil:
			booleanView(&cv, c.Boolean, c.Count, r.MinCount)
		case c.String != nil:
			stringView(&cv, c.String, c.Count)
		}
		if cv.HasCard() {
			pv.Charts++
		}
		if cv.Chart != nil {
			for _, b := range cv.Chart.Bars {
				pv.Suppressed = pv.Suppressed || b.Suppressed
			}
		}
		for _, b := range cv.Bars {
			pv.Suppressed = pv.Suppressed || b.Suppressed
		}
		pv.Columns = append(pv.Columns, cv)
	}
	return pv
}

// opt formats an optional number.
func opt(x *float64) string {
	if x == nil {
		return "—"
	}
	return formatNumber(*x)
}

func optStr(s *string) string {
	if s == nil {
		return "—"
	}
	return *s
}

// cellText is a count as shown: the number, or the suppressed cell's label.
func cellText(c profile.Cell) string {
	if c.Count == nil {
		if c.Label != "" {
			return c.Label
		}
		return "suppressed"
	}
	return count(*c.Count)
}

func numericView(cv *columnView, n *profile.Numeric, k int) {
	q := n.Quantiles
	cv.Stats = []stat{{"min", opt(n.Min)}, {"p25", opt(q.P25)}, {"median", opt(q.P50)}, {"p75", opt(q.P75)}, {"max", opt(n.Max)},
		{"mean", opt(n.Mean)}, {"std", opt(n.Std)}}
	var parts []string
	if n.Min != nil || n.Max != nil {
		parts = append(parts, opt(n.Min)+" – "+opt(n.Max))
	} else if n.Coarsened {
		parts = append(parts, "range hidden (end bins merged)")
	}
	if q.P50 != nil {
		parts = append(parts, "median "+opt(q.P50))
	}
	if n.Mean != nil {
		parts = append(parts, "mean "+opt(n.Mean))
	}
	cv.Summary = strings.Join(parts, " · ")
	if n.Infinite > 0 {
		cv.Stats = append(cv.Stats, stat{"infinite", count(n.Infinite)})
	}
	if n.Coarsened {
		cv.Note = "Quasi-identifier: min, max and quantiles are bin edges, the end bins are merged until each holds at least " + strconv.Itoa(k) + " records."
	}
	if h := n.Histogram; h != nil && len(h.Bins) > 0 {
		cells := make([]profile.Cell, len(h.Bins))
		ranges := make([]string, len(h.Bins))
		for i, b := range h.Bins {
			cells[i] = b.Cell
			switch {
			case b.Lo == nil && b.Hi == nil:
				ranges[i] = "all values"
			case b.Lo == nil:
				ranges[i] = "< " + formatNumber(*b.Hi)
			case b.Hi == nil:
				ranges[i] = "≥ " + formatNumber(*b.Lo)
			default:
				ranges[i] = "[" + formatNumber(*b.Lo) + ", " + formatNumber(*b.Hi) + ")"
			}
		}
		// Integer bins of width 1 hold one value each: name the value.
		single := cv.Type == dataset.TypeInteger && h.Width == 1
		if single {
			for i, b := range h.Bins {
				if b.Lo != nil && b.Hi != nil {
					ranges[i] = formatNumber(*b.Lo)
				}
			}
		}
		c := newBarChart(cells, ranges, k)
		c.Label, c.Axis = "Histogram of "+cv.Name, "Bin"
		c.Caption = "bins of width " + formatNumber(h.Width)
		if single {
			c.Label, c.Axis, c.Caption = "Counts of "+cv.Name, "Value", "one bar per value"
			c.Ticks = centreTicks(ranges)
		} else {
			c.Ticks = edgeTicks(h.Bins)
		}
		cv.Chart = c
	}
	if len(n.Top) > 0 {
		cv.BarsName = "Most frequent values"
		for _, v := range n.Top {
			cv.Bars = append(cv.Bars, topBar(v, cv.Count))
		}
	}
}

func temporalView(cv *columnView, t *profile.Temporal, k int) {
	cv.Stats = []stat{{"first", optStr(t.Min)}, {"last", optStr(t.Max)}}
	cv.Summary = optStr(t.Min) + " → " + optStr(t.Max)
	if t.Min == nil && t.Max == nil {
		cv.Summary = "first and last dates hidden (end periods merged)"
	}
	if t.Coarsened {
		cv.Note = "Quasi-identifier: the end periods are merged until each holds at least " + strconv.Itoa(k) + " records; first and last are period bounds."
	}
	if len(t.Timeline) == 0 {
		return
	}
	cells := make([]profile.Cell, len(t.Timeline))
	periods := make([]string, len(t.Timeline))
	for i, b := range t.Timeline {
		cells[i], periods[i] = b.Cell, b.Period
	}
	c := newBarChart(cells, periods, k)
	c.Label, c.Axis = "Timeline of "+cv.Name, "Period"
	c.Caption = "per " + t.Granularity
	if t.Granularity == "year" && t.Step > 1 {
		c.Caption = "per " + strconv.Itoa(t.Step) + " years"
	}
	c.Ticks = centreTicks(periods)
	cv.Chart = c
}

func booleanView(cv *columnView, b *profile.Boolean, total, k int) {
	cv.Summary = "true " + cellText(b.True) + " · false " + cellText(b.False)
	cv.BarsName = "Counts"
	for _, x := range []struct {
		label string
		c     profile.Cell
	}{{"true", b.True}, {"false", b.False}} {
		cv.Bars = append(cv.Bars, cellBar(x.label, x.c, total, k))
	}
}

func stringView(cv *columnView, s *profile.String, total int) {
	var parts []string
	if cv.Withheld == "" {
		for _, v := range s.Top[:min(3, len(s.Top))] {
			parts = append(parts, valueText(v.Value)+" ("+count(v.Count)+")")
		}
		if len(parts) > 0 {
			cv.Summary = "most frequent: " + strings.Join(parts, ", ")
		}
	}
	if s.Length.Mean != nil {
		if cv.Withheld != "" {
			cv.Summary = "length " + formatNumber(math.Round(*s.Length.Mean*10)/10) + " characters on average"
		}
		cv.Stats = append(cv.Stats, stat{"mean length", formatNumber(math.Round(*s.Length.Mean*10) / 10)})
		if s.Length.Min != nil {
			cv.Stats = append(cv.Stats, stat{"min length", count(*s.Length.Min)})
		}
		if s.Length.Max != nil {
			cv.Stats = append(cv.Stats, stat{"max length", count(*s.Length.Max)})
		}
	}
	if len(s.Top) > 0 {
		cv.BarsName = "Most frequent values"
		for _, v := range s.Top {
			cv.Bars = append(cv.Bars, topBar(v, total))
		}
	}
}

// valueText shows one of the most frequent values.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatNumber(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return fmt.Sprint(v)
}

func topBar(v profile.Value, total int) hbar {
	return hbar{Label: valueText(v.Value), Count: count(v.Count), Width: pct(float64(v.Count), total)}
}

// cellBar is a horizontal bar for a count that may be suppressed: a
// suppressed one is drawn hatched, as wide as k records.
func cellBar(label string, c profile.Cell, total, k int) hbar {
	if c.Count == nil {
		return hbar{Label: label, Count: cellText(c), Width: max(pct(float64(k), total), 2), Suppressed: true}
	}
	return hbar{Label: label, Count: count(*c.Count), Width: pct(float64(*c.Count), total)}
}

func pct(n float64, total int) float64 {
	if total <= 0 {
		return 0
	}
	return round2(min(100, 100*n/float64(total)))
}

// newBarChart lays out cells as vertical bars, labels[i] naming cell i.
// Heights are to scale with the largest shown count; a suppressed cell is
// drawn hatched, as tall as k records (its bound), and says its label.
func newBarChart(cells []profile.Cell, labels []string, k int) *barChart {
	c := &barChart{W: chartW, H: chartH, Base: chartBase}
	top := float64(k)
	for _, x := range cells {
		if x.Count != nil {
			top = max(top, float64(*x.Count))
		}
	}
	scale := (chartBase - chartTop) / top
	slot := chartW / float64(len(cells))
	gap := min(6, max(1, slot*0.14))
	texts := len(cells) <= maxBarTexts
	for i, x := range cells {
		b := vbar{X: round2(float64(i)*slot + gap/2), W: round2(slot - gap)}
		row := chartRow{Range: labels[i], Count: cellText(x)}
		if x.Count == nil {
			b.Suppressed, row.Suppressed = true, true
			b.H = max(minBar, float64(k)*scale)
			b.Title = labels[i] + ": " + cellText(x) + " (suppressed: small count)"
		} else {
			b.H = float64(*x.Count) * scale
			if *x.Count > 0 {
				b.H = max(minBar, b.H)
			}
			b.Title = labels[i] + ": " + count(*x.Count)
		}
		b.H = round2(b.H)
		b.Y = round2(chartBase - b.H)
		if texts {
			b.Text, b.TX, b.TY = cellText(x), round2(float64(i)*slot+slot/2), round2(b.Y-4)
		}
		c.Bars = append(c.Bars, b)
		c.Rows = append(c.Rows, row)
	}
	return c
}

// edgeTicks labels every step-th bin edge (a lower edge, or the last upper
// edge when it falls on a step); open ends have none.
func edgeTicks(bins []profile.Bin) []tick {
	var ts []tick
	nb := len(bins)
	slot := chartW / float64(nb)
	for i := 0; i <= nb; i += tickStep(nb + 1) {
		e := bins[min(i, nb-1)].Lo
		if i == nb {
			e = bins[nb-1].Hi
		}
		if e != nil {
			ts = append(ts, tick{X: round2(float64(i) * slot), Text: formatNumber(*e), Align: anchor(i, nb)})
		}
	}
	return ts
}

// centreTicks labels every step-th bar at its centre, the first one flush
// left and one close to the end flush right.
func centreTicks(labels []string) []tick {
	var ts []tick
	n := len(labels)
	slot := chartW / float64(n)
	for i := 0; i < n; i += tickStep(n) {
		x, align := round2((float64(i)+0.5)*slot), "middle"
		if x < 40 {
			x, align = 0, "start"
		} else if x > chartW-40 {
			x, align = chartW, "end"
		}
		ts = append(ts, tick{X: x, Text: labels[i], Align: align})
	}
	return ts
}

// tickStep is every how many positions a tick is labelled, out of n.
func tickStep(n int) int {
	return max(1, int(math.Ceil(float64(n)/maxTicks)))
}

// anchor aligns tick i of the n+1 bin edges: the ends inside the chart.
func anchor(i, n int) string {
	switch i {
	case 0:
		return "start"
	case n:
		return "end"
	}
	return "middle"
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }
