// Package plot draws charts as SVG, for the web pages (inline) and for
// files attached to runs: metric series (value by step),
// ROC, precision–recall and calibration curves, and bars (a metric over
// cross-validation folds). Each chart has a <title> and a <desc> for screen
// readers, labelled axes, and draws series in both a colour and a dash
// pattern, so that colour is never the only signal, in print too. Styling
// is by presentation attributes and classes: the pages' Content Security
// Policy forbids inline style attributes.
package plot

import (
	"encoding/xml"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
)

// Chart geometry, in viewBox units.
const (
	plotW      = 480.0
	plotH      = 300.0
	plotLeft   = 58.0
	plotRight  = 16.0
	plotTop    = 16.0
	plotBottom = 46.0
	maxMarkers = 60 // series with more points are drawn without markers
)

// seriesStyles are the series' colours (Okabe–Ito, readable by colour-blind
// readers) and dash patterns.
var seriesStyles = []struct{ Color, Dash string }{
	{"#0072b2", ""}, {"#d55e00", "6 3"}, {"#009e73", "2 3"}, {"#cc79a7", "8 3 2 3"},
	{"#e69f00", "4 4"}, {"#56b4e9", "10 4"}, {"#000000", "1 2"},
}

// Point is one (x, y) of a series; a NaN or infinite coordinate is a gap.
type Point struct{ X, Y float64 }

// Series is a named line.
type Series struct {
	Name   string
	Points []Point
}

// LineChart is a chart of one or more series.
type LineChart struct {
	ID     string // unique in the page: prefixes the title's and desc's ids
	Title  string
	Desc   string // a sentence for screen readers; a default says what is drawn
	XLabel string
	YLabel string
	Series []Series
	// Fixed domains (both ends set): ROC and PR use [0, 1].
	XMin, XMax, YMin, YMax *float64
	// Diagonal draws the y = x reference line (calibration, ROC chance).
	Diagonal      bool
	DiagonalLabel string
	// Steps: x values are integers (metric steps, folds): ticks on integers.
	IntegerX bool
}

// Unit is [0, 1], the domain of rates.
func Unit() (*float64, *float64) { lo, hi := 0.0, 1.0; return &lo, &hi }

// scale maps a data interval onto a pixel interval.
type scale struct{ d0, d1, p0, p1 float64 }

func (s scale) at(v float64) float64 {
	if s.d1 == s.d0 {
		return (s.p0 + s.p1) / 2
	}
	// Divide first: (v-d0) and (d1-d0) may each overflow on their own.
	return s.p0 + (v/2-s.d0/2)/(s.d1/2-s.d0/2)*(s.p1-s.p0)
}

func Finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// domain returns the range of finite values, widened when empty or flat.
func domain(vals []float64, fixLo, fixHi *float64) (float64, float64) {
	if fixLo != nil && fixHi != nil {
		return *fixLo, *fixHi
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if Finite(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	switch {
	case lo > hi: // no finite value
		lo, hi = 0, 1
	case lo == hi:
		pad := math.Abs(lo) * 0.1
		if pad == 0 {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	return lo, hi
}

// niceTicks returns about n round tick values covering [lo, hi], and the
// domain widened to the outer ticks.
func niceTicks(lo, hi float64, n int, integer bool) (ticks []float64, dlo, dhi float64) {
	span := hi - lo
	if !Finite(span) || span <= 0 {
		// Values at the ends of float64: no round ticks, just the ends.
		return []float64{lo, hi}, lo, hi
	}
	raw := span / float64(max(1, n))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	if integer {
		step = max(1, math.Ceil(step))
	}
	dlo, dhi = math.Floor(lo/step)*step, math.Ceil(hi/step)*step
	for i := 0; ; i++ {
		v := dlo + float64(i)*step
		if v > dhi+step/1e6 || i > 50 {
			break
		}
		// Tame binary fractions: 0.30000000000000004 → 0.3.
		v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
		ticks = append(ticks, v)
	}
	return ticks, dlo, dhi
}

// svgBuilder writes SVG text; every string it is given is escaped.
type svgBuilder struct{ strings.Builder }

func (b *svgBuilder) printf(format string, args ...any) { fmt.Fprintf(&b.Builder, format, args...) }

func esc(s string) string { return html.EscapeString(s) }

// f formats a coordinate: two decimals at most.
func coord(v float64) string {
	if !Finite(v) {
		v = 0 // only reachable with values near the float64 limits
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// open starts the SVG with its accessible name and description.
func (b *svgBuilder) open(id, class, title, desc string) {
	b.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="plot %s" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-title %s-desc" id="%s">`,
		esc(class), coord(plotW), coord(plotH), esc(id), esc(id), esc(id))
	b.printf(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(id), esc(title), esc(id), esc(desc))
}

// axes draws the frame, grid lines, tick labels and axis labels.
func (b *svgBuilder) axes(xs, ys scale, xticks, yticks []float64, xlabel, ylabel string) {
	x0, x1, y0, y1 := plotLeft, plotW-plotRight, plotH-plotBottom, plotTop
	b.printf(`<g class="grid" stroke="#e1e5ea" stroke-width="1">`)
	for _, t := range yticks {
		y := ys.at(t)
		b.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, coord(x0), coord(y), coord(x1), coord(y))
	}
	b.printf(`</g><g class="axis" stroke="#6b7683" stroke-width="1"><line x1="%s" y1="%s" x2="%s" y2="%s"/><line x1="%s" y1="%s" x2="%s" y2="%s"/></g>`,
		coord(x0), coord(y0), coord(x1), coord(y0), coord(x0), coord(y0), coord(x0), coord(y1))
	b.printf(`<g class="tick" font-size="11" fill="#5b6674">`)
	for _, t := range xticks {
		b.printf(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, coord(xs.at(t)), coord(y0+15), esc(FormatNumber(t)))
	}
	for _, t := range yticks {
		b.printf(`<text x="%s" y="%s" text-anchor="end">%s</text>`, coord(x0-6), coord(ys.at(t)+4), esc(FormatNumber(t)))
	}
	b.printf(`</g>`)
	b.printf(`<text class="axis-label" x="%s" y="%s" text-anchor="middle" font-size="12" fill="#1b2430">%s</text>`, coord((x0+x1)/2), coord(plotH-8), esc(xlabel))
	b.printf(`<text class="axis-label" x="14" y="%s" text-anchor="middle" font-size="12" fill="#1b2430" transform="rotate(-90 14 %s)">%s</text>`,
		coord((y0+y1)/2), coord((y0+y1)/2), esc(ylabel))
}

// legend names the series at the top right, each with its colour and dash.
func (b *svgBuilder) legend(names []string) {
	if len(names) < 2 {
		return
	}
	b.printf(`<g class="legend" font-size="11" fill="#1b2430">`)
	for i, n := range names {
		st := seriesStyles[i%len(seriesStyles)]
		y := plotTop + 6 + float64(i)*14
		x := plotW - plotRight - 130
		b.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s/>`, coord(x), coord(y), coord(x+22), coord(y), st.Color, dashAttr(st.Dash))
		b.printf(`<text x="%s" y="%s">%s</text>`, coord(x+27), coord(y+4), esc(Shorten(n, 18)))
	}
	b.printf(`</g>`)
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return ` stroke-dasharray="` + d + `"`
}

// SVG draws the chart.
func (c LineChart) SVG() template.HTML {
	var xv, yv []float64
	points := 0
	for _, s := range c.Series {
		for _, p := range s.Points {
			if Finite(p.X) && Finite(p.Y) {
				xv, yv = append(xv, p.X), append(yv, p.Y)
				points++
			}
		}
	}
	xlo, xhi := domain(xv, c.XMin, c.XMax)
	ylo, yhi := domain(yv, c.YMin, c.YMax)
	xticks, xlo, xhi := niceTicks(xlo, xhi, 6, c.IntegerX)
	yticks, ylo, yhi := niceTicks(ylo, yhi, 5, false)
	xs := scale{xlo, xhi, plotLeft, plotW - plotRight}
	ys := scale{ylo, yhi, plotH - plotBottom, plotTop}

	desc := c.Desc
	if desc == "" {
		desc = fmt.Sprintf("Line chart of %s against %s: %d %s, %d points.", c.YLabel, c.XLabel, len(c.Series), plural(len(c.Series), "series", "series"), points)
	}
	var b svgBuilder
	b.open(c.ID, "line-chart", c.Title, desc)
	b.axes(xs, ys, xticks, yticks, c.XLabel, c.YLabel)
	if c.Diagonal {
		lo, hi := max(xlo, ylo), min(xhi, yhi)
		if lo < hi {
			b.printf(`<line class="reference" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#9aa4b1" stroke-width="1" stroke-dasharray="4 4"><title>%s</title></line>`,
				coord(xs.at(lo)), coord(ys.at(lo)), coord(xs.at(hi)), coord(ys.at(hi)), esc(c.DiagonalLabel))
		}
	}
	names := make([]string, len(c.Series))
	for i, s := range c.Series {
		names[i] = s.Name
		st := seriesStyles[i%len(seriesStyles)]
		b.printf(`<g class="series" data-series="%s">`, esc(s.Name))
		// A NaN breaks the line: draw each run of finite points.
		var seg []string
		flush := func() {
			if len(seg) > 1 {
				b.printf(`<polyline fill="none" stroke="%s" stroke-width="2"%s stroke-linejoin="round" points="%s"/>`, st.Color, dashAttr(st.Dash), strings.Join(seg, " "))
			}
			seg = seg[:0]
		}
		for _, p := range s.Points {
			if !Finite(p.X) || !Finite(p.Y) {
				flush()
				continue
			}
			seg = append(seg, coord(xs.at(p.X))+","+coord(ys.at(p.Y)))
		}
		flush()
		if len(s.Points) <= maxMarkers {
			for _, p := range s.Points {
				if Finite(p.X) && Finite(p.Y) {
					b.printf(`<circle class="point" cx="%s" cy="%s" r="3" fill="%s"><title>%s: %s = %s, %s = %s</title></circle>`,
						coord(xs.at(p.X)), coord(ys.at(p.Y)), st.Color, esc(s.Name), esc(c.XLabel), esc(FormatNumber(p.X)), esc(c.YLabel), esc(FormatNumber(p.Y)))
				}
			}
		}
		b.printf(`</g>`)
	}
	b.legend(names)
	b.printf(`</svg>`)
	return template.HTML(b.String())
}

// Bar is one bar of a bar chart.
type Bar struct {
	Label string
	Value float64
}

// BarChart is a vertical bar chart, optionally with a mean line and a
// ± one standard deviation band (a metric over folds).
type BarChart struct {
	ID     string
	Title  string
	Desc   string
	XLabel string
	YLabel string
	Bars   []Bar
	// MeanSD draws the bars' mean and the band mean ± sd (sample sd).
	MeanSD bool
}

// MeanSD returns the mean and the sample standard deviation of the finite
// values, and how many there are.
func MeanSD(vals []float64) (mean, sd float64, n int) {
	for _, v := range vals {
		if Finite(v) {
			mean += v
			n++
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN(), 0
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN(), n
	}
	for _, v := range vals {
		if Finite(v) {
			sd += (v - mean) * (v - mean)
		}
	}
	return mean, math.Sqrt(sd / float64(n-1)), n
}

// SVG draws the chart. Bars start at zero; a NaN bar is left out (its
// label stays, marked "n/a").
func (c BarChart) SVG() template.HTML {
	vals := []float64{0}
	raw := make([]float64, len(c.Bars))
	for i, bar := range c.Bars {
		vals = append(vals, bar.Value)
		raw[i] = bar.Value
	}
	mean, sd, n := MeanSD(raw)
	if c.MeanSD && Finite(sd) {
		vals = append(vals, mean+sd, mean-sd)
	}
	ylo, yhi := domain(vals, nil, nil)
	yticks, ylo, yhi := niceTicks(ylo, yhi, 5, false)
	ys := scale{ylo, yhi, plotH - plotBottom, plotTop}
	x0, x1 := plotLeft, plotW-plotRight
	slot := (x1 - x0) / float64(max(1, len(c.Bars)))
	desc := c.Desc
	if desc == "" {
		desc = fmt.Sprintf("Bar chart of %s by %s: %d bars.", c.YLabel, c.XLabel, len(c.Bars))
		if c.MeanSD && n > 0 {
			desc += fmt.Sprintf(" Mean %s", FormatNumber(mean))
			if Finite(sd) {
				desc += fmt.Sprintf(", standard deviation %s", FormatNumber(sd))
			}
			desc += "."
		}
	}
	var b svgBuilder
	b.open(c.ID, "bar-chart", c.Title, desc)
	b.axes(scale{0, 1, x0, x1}, ys, nil, yticks, c.XLabel, c.YLabel)
	if c.MeanSD && Finite(sd) {
		b.printf(`<rect class="sd-band" x="%s" y="%s" width="%s" height="%s" fill="#0072b2" fill-opacity="0.12"><title>mean ± sd: %s to %s</title></rect>`,
			coord(x0), coord(ys.at(mean+sd)), coord(x1-x0), coord(ys.at(mean-sd)-ys.at(mean+sd)), esc(FormatNumber(mean-sd)), esc(FormatNumber(mean+sd)))
	}
	zero := ys.at(max(0, ylo))
	gap := min(8, slot*0.2)
	b.printf(`<g class="bars" fill="#4a7bb0">`)
	for i, bar := range c.Bars {
		cx := x0 + (float64(i)+0.5)*slot
		b.printf(`<text class="tick" x="%s" y="%s" text-anchor="middle" font-size="11" fill="#5b6674">%s</text>`, coord(cx), coord(plotH-plotBottom+15), esc(Shorten(bar.Label, 10)))
		if !Finite(bar.Value) {
			b.printf(`<text x="%s" y="%s" text-anchor="middle" font-size="11" fill="#5b6674">n/a</text>`, coord(cx), coord(zero-4))
			continue
		}
		y := ys.at(bar.Value)
		top, h := min(y, zero), math.Abs(zero-y)
		b.printf(`<rect class="bar" x="%s" y="%s" width="%s" height="%s"><title>%s: %s</title></rect>`,
			coord(x0+float64(i)*slot+gap/2), coord(top), coord(slot-gap), coord(h), esc(bar.Label), esc(FormatNumber(bar.Value)))
	}
	b.printf(`</g>`)
	if c.MeanSD && n > 0 {
		b.printf(`<line class="mean" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#d55e00" stroke-width="2" stroke-dasharray="6 3"><title>mean: %s</title></line>`,
			coord(x0), coord(ys.at(mean)), coord(x1), coord(ys.at(mean)), esc(FormatNumber(mean)))
	}
	b.printf(`</svg>`)
	return template.HTML(b.String())
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Check reports whether s is a well-formed SVG document: XML with a single
// <svg> root element.
func Check(s string) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("plot: not well-formed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if t.Name.Local != "svg" {
					return fmt.Errorf("plot: root element <%s>, want <svg>", t.Name.Local)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	if roots != 1 {
		return fmt.Errorf("plot: %d root elements, want one <svg>", roots)
	}
	return nil
}

// File returns a chart as a standalone SVG file.
func File(svg template.HTML) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + string(svg) + "\n")
}
