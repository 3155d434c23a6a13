package plot

import (
	"fmt"
	"html/template"
	"math"
)

// HBarChart is a horizontal bar chart of signed values around zero: one
// row per bar, its label on the left, the bar going right for a positive
// value and left for a negative one (an explanation's contributions). The
// bars are drawn in the order given. Positive and negative bars differ in
// colour, in side and in the signed value written at their end, so colour
// is never the only signal.
type HBarChart struct {
	ID     string
	Title  string
	Desc   string // a default says what is drawn
	XLabel string
	Bars   []Bar
	// PositiveName and NegativeName name the two directions in the legend
	// (default "positive" and "negative").
	PositiveName, NegativeName string
}

// Horizontal bar chart geometry, in viewBox units.
const (
	hbarLabelW = 150.0 // the labels' column
	hbarValueW = 56.0  // room for the value written past a bar's end
	hbarRowH   = 22.0
	hbarTop    = 30.0 // the legend
	hbarBottom = 40.0 // ticks and the axis label
)

// Colours of the two directions (Okabe–Ito vermillion and blue).
const (
	hbarPos = "#d55e00"
	hbarNeg = "#0072b2"
)

// signed formats v with an explicit sign: "+0.42", "−0.13".
func signed(v float64) string {
	switch {
	case !Finite(v):
		return "n/a"
	case v > 0:
		return "+" + FormatNumber(v)
	case v < 0:
		return "−" + FormatNumber(-v)
	}
	return "0"
}

// SVG draws the chart. A NaN or infinite bar is left out (its label stays,
// marked "n/a").
func (c HBarChart) SVG() template.HTML {
	pos, neg := c.PositiveName, c.NegativeName
	if pos == "" {
		pos = "positive"
	}
	if neg == "" {
		neg = "negative"
	}
	vals := []float64{0}
	for _, bar := range c.Bars {
		vals = append(vals, bar.Value)
	}
	lo, hi := domain(vals, nil, nil)
	// Symmetric around zero when both signs appear, so that lengths compare.
	if lo < 0 && hi > 0 {
		m := max(-lo, hi)
		lo, hi = -m, m
	}
	ticks, lo, hi := niceTicks(lo, hi, 4, false)
	rows := max(1, len(c.Bars))
	h := hbarTop + float64(rows)*hbarRowH + hbarBottom
	x0, x1 := hbarLabelW+hbarValueW, plotW-hbarValueW
	xs := scale{lo, hi, x0, x1}
	zero := xs.at(0)
	if lo > 0 || hi < 0 {
		zero = xs.at(max(lo, min(hi, 0)))
	}
	yBottom := hbarTop + float64(rows)*hbarRowH

	desc := c.Desc
	if desc == "" {
		np, nn := 0, 0
		for _, bar := range c.Bars {
			switch {
			case bar.Value > 0:
				np++
			case bar.Value < 0:
				nn++
			}
		}
		desc = fmt.Sprintf("Horizontal bar chart of %s: %d bars, %d %s, %d %s.", c.XLabel, len(c.Bars), np, pos, nn, neg)
	}
	var b svgBuilder
	b.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="plot hbar-chart" viewBox="0 0 %s %s" role="img" aria-labelledby="%s-title %s-desc" id="%s">`,
		coord(plotW), coord(h), esc(c.ID), esc(c.ID), esc(c.ID))
	b.printf(`<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, esc(c.ID), esc(c.Title), esc(c.ID), esc(desc))

	// Legend: the two directions.
	b.printf(`<g class="legend" font-size="11" fill="#1b2430">`)
	b.printf(`<rect x="%s" y="8" width="12" height="10" fill="%s"/><text x="%s" y="17">→ %s</text>`, coord(x0), hbarPos, coord(x0+16), esc(Shorten(pos, 24)))
	b.printf(`<rect x="%s" y="8" width="12" height="10" fill="%s"/><text x="%s" y="17">← %s</text>`, coord(x0+150), hbarNeg, coord(x0+166), esc(Shorten(neg, 24)))
	b.printf(`</g>`)

	// Grid, ticks and the zero line.
	b.printf(`<g class="grid" stroke="#e1e5ea" stroke-width="1">`)
	for _, t := range ticks {
		b.printf(`<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, coord(xs.at(t)), coord(hbarTop), coord(xs.at(t)), coord(yBottom))
	}
	b.printf(`</g><g class="tick" font-size="11" fill="#5b6674">`)
	for _, t := range ticks {
		b.printf(`<text x="%s" y="%s" text-anchor="middle">%s</text>`, coord(xs.at(t)), coord(yBottom+14), esc(FormatNumber(t)))
	}
	b.printf(`</g>`)
	b.printf(`<line class="zero" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#6b7683" stroke-width="1"/>`, coord(zero), coord(hbarTop-2), coord(zero), coord(yBottom))
	b.printf(`<text class="axis-label" x="%s" y="%s" text-anchor="middle" font-size="12" fill="#1b2430">%s</text>`, coord((x0+x1)/2), coord(h-6), esc(c.XLabel))

	b.printf(`<g class="bars">`)
	for i, bar := range c.Bars {
		y := hbarTop + float64(i)*hbarRowH
		mid := y + hbarRowH/2
		b.printf(`<text class="tick" x="%s" y="%s" text-anchor="end" font-size="11" fill="#1b2430">%s</text>`, coord(hbarLabelW-6), coord(mid+4), esc(Shorten(bar.Label, 24)))
		if !Finite(bar.Value) {
			b.printf(`<text x="%s" y="%s" font-size="11" fill="#5b6674">n/a</text>`, coord(zero+4), coord(mid+4))
			continue
		}
		end := xs.at(bar.Value)
		left, w := min(end, zero), math.Abs(end-zero)
		color, sign, anchor, tx := hbarPos, "positive", "start", end+4
		if bar.Value < 0 {
			color, sign, anchor, tx = hbarNeg, "negative", "end", end-4
		}
		b.printf(`<rect class="bar bar-%s" data-label="%s" data-value="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s: %s</title></rect>`,
			sign, esc(bar.Label), esc(fmt.Sprint(bar.Value)), coord(left), coord(y+4), coord(w), coord(hbarRowH-8), color, esc(bar.Label), esc(signed(bar.Value)))
		b.printf(`<text class="value" x="%s" y="%s" text-anchor="%s" font-size="11" fill="#1b2430">%s</text>`, coord(tx), coord(mid+4), anchor, esc(signed(bar.Value)))
	}
	b.printf(`</g></svg>`)
	return template.HTML(b.String())
}
