package plot

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// TestHBarChart: bars go right of the zero line for positive values and
// left for negative ones, with lengths proportional to the values; the
// chart is accessible and holds no inline style.
func TestHBarChart(t *testing.T) {
	c := HBarChart{ID: "why", Title: "Why this prediction", XLabel: "contribution (log-odds)",
		Bars: []Bar{{"lactate", 0.9}, {"age", -0.45}, {"<script>", math.NaN()}}, PositiveName: "raises the risk", NegativeName: "lowers the risk"}
	s := string(c.SVG())
	if err := Check(s); err != nil {
		t.Fatal(err)
	}
	els := parseSVG(t, s)
	var zero float64
	var bars []svgElement
	for _, e := range els {
		if e.Name == "line" && e.Attr["class"] == "zero" {
			zero, _ = strconv.ParseFloat(e.Attr["x1"], 64)
		}
		if e.Name == "rect" && strings.HasPrefix(e.Attr["class"], "bar ") {
			bars = append(bars, e)
		}
	}
	if len(bars) != 2 {
		t.Fatalf("%d bars, want 2 (the NaN one left out)", len(bars))
	}
	num := func(e svgElement, k string) float64 {
		v, err := strconv.ParseFloat(e.Attr[k], 64)
		if err != nil {
			t.Fatalf("%s=%q", k, e.Attr[k])
		}
		return v
	}
	p, n := bars[0], bars[1]
	if p.Attr["class"] != "bar bar-positive" || num(p, "x") != zero {
		t.Errorf("positive bar %v, zero at %v", p.Attr, zero)
	}
	if n.Attr["class"] != "bar bar-negative" || math.Abs(num(n, "x")+num(n, "width")-zero) > 0.02 {
		t.Errorf("negative bar %v, zero at %v", n.Attr, zero)
	}
	if r := num(p, "width") / num(n, "width"); math.Abs(r-2) > 0.01 {
		t.Errorf("widths ratio %v, want 2", r)
	}
	for _, want := range []string{`role="img"`, `aria-labelledby="why-title why-desc"`, "+0.9", "−0.45", "n/a", "raises the risk", "&lt;script&gt;"} {
		if !strings.Contains(s, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
	if strings.Contains(s, "style=") || strings.Contains(s, "<script>") {
		t.Error("inline style or unescaped label")
	}
	// No bar at all still draws a valid chart.
	if err := Check(string(HBarChart{ID: "empty"}.SVG())); err != nil {
		t.Error(err)
	}
}
