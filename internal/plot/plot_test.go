package plot

import (
	"encoding/xml"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// svgElement is an element of a parsed chart, with its attributes.
type svgElement struct {
	Name  string
	Attr  map[string]string
	Text  string // character data directly inside it
	Depth int
}

// parseSVG checks that s is well-formed XML with one <svg> root, and
// returns its elements in document order.
func parseSVG(t *testing.T, s string) []svgElement {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(s))
	var els []svgElement
	var stack []int
	roots := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if len(stack) == 0 {
				roots++
				if x.Name.Local != "svg" || x.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root element %v, want svg in the SVG namespace", x.Name)
				}
			}
			e := svgElement{Name: x.Name.Local, Attr: map[string]string{}, Depth: len(stack)}
			for _, a := range x.Attr {
				e.Attr[a.Name.Local] = a.Value
			}
			els = append(els, e)
			stack = append(stack, len(els)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				els[stack[len(stack)-1]].Text += string(x)
			}
		}
	}
	if roots != 1 {
		t.Fatalf("%d root elements, want 1", roots)
	}
	return els
}

func num(t *testing.T, e svgElement, attr string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(e.Attr[attr], 64)
	if err != nil {
		t.Fatalf("<%s %s=%q>: %v", e.Name, attr, e.Attr[attr], err)
	}
	return v
}

// inViewBox checks a point lies in the plotting area.
func inViewBox(t *testing.T, what string, x, y float64) {
	t.Helper()
	if x < plotLeft-0.01 || x > plotW-plotRight+0.01 || y < plotTop-0.01 || y > plotH-plotBottom+0.01 {
		t.Errorf("%s at (%g, %g): outside the plotting area", what, x, y)
	}
}

func TestLineChartSVG(t *testing.T) {
	lo, hi := Unit()
	cases := []struct {
		name       string
		chart      LineChart
		polylines  int // drawn line segments
		points     int // markers
		wantTitles []string
	}{
		{name: "metric by step", chart: LineChart{ID: "c1", Title: "loss by step", XLabel: "Step", YLabel: "loss", IntegerX: true,
			Series: []Series{{Name: "loss", Points: []Point{{0, 0.9}, {1, 0.5}, {2, 0.31}, {3, 0.3}}}}},
			polylines: 1, points: 4, wantTitles: []string{"loss by step"}},
		{name: "NaN splits the line and is skipped", chart: LineChart{ID: "c2", Title: "auc", XLabel: "Step", YLabel: "auc",
			Series: []Series{{Name: "auc", Points: []Point{{0, 0.6}, {1, 0.7}, {2, math.NaN()}, {3, 0.8}, {4, 0.82}, {math.Inf(1), 1}}}}},
			polylines: 2, points: 4},
		{name: "ROC with the diagonal, fixed unit domain", chart: LineChart{ID: "c3", Title: "ROC <curve> & \"friends\"", XLabel: "FPR", YLabel: "TPR",
			XMin: lo, XMax: hi, YMin: lo, YMax: hi, Diagonal: true, DiagonalLabel: "chance",
			Series: []Series{{Name: "ROC", Points: []Point{{0, 0}, {0.1, 0.6}, {0.4, 0.9}, {1, 1}}}}},
			polylines: 1, points: 4, wantTitles: []string{`ROC <curve> & "friends"`}},
		{name: "two series overlaid, a legend", chart: LineChart{ID: "c4", Title: "overlay", XLabel: "Step", YLabel: "m",
			Series: []Series{{Name: "run 1", Points: []Point{{0, 1}, {1, 2}}}, {Name: "run 2", Points: []Point{{0, 3}, {1, -1}}}}},
			polylines: 2, points: 4},
		{name: "flat single point", chart: LineChart{ID: "c5", Title: "one", XLabel: "Step", YLabel: "m",
			Series: []Series{{Name: "m", Points: []Point{{0, 5}}}}}, polylines: 0, points: 1},
		{name: "values at the float64 limits", chart: LineChart{ID: "c7", Title: "huge", XLabel: "Step", YLabel: "m",
			Series: []Series{{Name: "m", Points: []Point{{0, -math.MaxFloat64}, {1, math.MaxFloat64}}}}}, polylines: 1, points: 2},
		{name: "no data at all", chart: LineChart{ID: "c6", Title: "empty", XLabel: "x", YLabel: "y",
			Series: []Series{{Name: "m", Points: []Point{{math.NaN(), math.NaN()}}}}}, polylines: 0, points: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := string(tc.chart.SVG())
			els := parseSVG(t, s)
			root := els[0]
			if root.Attr["viewBox"] != "0 0 480 300" || root.Attr["role"] != "img" || root.Attr["aria-labelledby"] != tc.chart.ID+"-title "+tc.chart.ID+"-desc" {
				t.Errorf("root attributes %v", root.Attr)
			}
			if strings.Contains(s, "NaN") || strings.Contains(s, "Inf") || strings.Contains(s, "style=") {
				t.Errorf("chart holds NaN, Inf or an inline style:\n%s", s)
			}
			var polylines, points int
			var title, desc string
			labels := map[string]bool{}
			for _, e := range els {
				switch {
				case e.Name == "title" && e.Depth == 1:
					title = e.Text
				case e.Name == "desc":
					desc = e.Text
				case e.Name == "polyline":
					polylines++
					for _, xy := range strings.Fields(e.Attr["points"]) {
						xs, ys, ok := strings.Cut(xy, ",")
						x, err1 := strconv.ParseFloat(xs, 64)
						y, err2 := strconv.ParseFloat(ys, 64)
						if !ok || err1 != nil || err2 != nil {
							t.Fatalf("polyline point %q", xy)
						}
						inViewBox(t, "polyline point", x, y)
					}
				case e.Name == "circle":
					points++
					inViewBox(t, "marker", num(t, e, "cx"), num(t, e, "cy"))
				case e.Name == "text" && e.Attr["class"] == "axis-label":
					labels[e.Text] = true
				}
			}
			if polylines != tc.polylines || points != tc.points {
				t.Errorf("%d polylines and %d markers, want %d and %d", polylines, points, tc.polylines, tc.points)
			}
			if title != tc.chart.Title || desc == "" {
				t.Errorf("title %q, desc %q", title, desc)
			}
			if !labels[tc.chart.XLabel] || !labels[tc.chart.YLabel] {
				t.Errorf("axis labels %v, want %q and %q", labels, tc.chart.XLabel, tc.chart.YLabel)
			}
		})
	}
}

// TestLineChartScale checks points land where the scale puts them: the
// ROC corners on the plotting area's corners, the diagonal from corner
// to corner.
func TestLineChartScale(t *testing.T) {
	lo, hi := Unit()
	c := LineChart{ID: "roc", Title: "ROC", XLabel: "FPR", YLabel: "TPR", XMin: lo, XMax: hi, YMin: lo, YMax: hi, Diagonal: true,
		Series: []Series{{Name: "ROC", Points: []Point{{0, 0}, {0.5, 0.75}, {1, 1}}}}}
	els := parseSVG(t, string(c.SVG()))
	var circles [][2]float64
	for _, e := range els {
		if e.Name == "circle" {
			circles = append(circles, [2]float64{num(t, e, "cx"), num(t, e, "cy")})
		}
		if e.Name == "line" && e.Attr["class"] == "reference" {
			if num(t, e, "x1") != plotLeft || num(t, e, "y1") != plotH-plotBottom || num(t, e, "x2") != plotW-plotRight || num(t, e, "y2") != plotTop {
				t.Errorf("diagonal %v", e.Attr)
			}
		}
	}
	want := [][2]float64{{plotLeft, plotH - plotBottom}, {plotLeft + 0.5*(plotW-plotLeft-plotRight), plotH - plotBottom - 0.75*(plotH-plotTop-plotBottom)}, {plotW - plotRight, plotTop}}
	if len(circles) != len(want) {
		t.Fatalf("%d markers", len(circles))
	}
	for i := range want {
		if math.Abs(circles[i][0]-want[i][0]) > 0.01 || math.Abs(circles[i][1]-want[i][1]) > 0.01 {
			t.Errorf("marker %d at %v, want %v", i, circles[i], want[i])
		}
	}
}

func TestBarChartSVG(t *testing.T) {
	c := BarChart{ID: "folds", Title: "cv_auc by fold", XLabel: "Fold", YLabel: "cv_auc", MeanSD: true,
		Bars: []Bar{{"fold 0", 0.8}, {"fold 1", 0.7}, {"fold 2", math.NaN()}, {"fold 3", 0.9}}}
	s := string(c.SVG())
	els := parseSVG(t, s)
	bars, means, bands := 0, 0, 0
	for _, e := range els {
		switch e.Attr["class"] {
		case "bar":
			bars++
			x, y, w, h := num(t, e, "x"), num(t, e, "y"), num(t, e, "width"), num(t, e, "height")
			inViewBox(t, "bar top-left", x, y)
			inViewBox(t, "bar bottom-right", x+w, y+h)
			if h <= 0 || w <= 0 {
				t.Errorf("bar %v", e.Attr)
			}
		case "mean":
			means++
		case "sd-band":
			bands++
		}
	}
	if bars != 3 || means != 1 || bands != 1 {
		t.Errorf("%d bars, %d mean lines, %d bands; want 3, 1, 1", bars, means, bands)
	}
	if !strings.Contains(s, "n/a") || strings.Contains(s, "NaN") {
		t.Errorf("a NaN fold must show n/a, not NaN")
	}
	mean, sd, n := MeanSD([]float64{0.8, 0.7, math.NaN(), 0.9})
	if n != 3 || math.Abs(mean-0.8) > 1e-12 || math.Abs(sd-0.1) > 1e-12 {
		t.Errorf("meanSD = %v, %v, %d", mean, sd, n)
	}
}

func TestNiceTicks(t *testing.T) {
	cases := []struct {
		lo, hi  float64
		integer bool
		want    []float64
	}{
		{0, 1, false, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0.31, 0.9, false, []float64{0.2, 0.4, 0.6, 0.8, 1}},
		{0, 3, true, []float64{0, 1, 2, 3}},
		{-1, 3, false, []float64{-1, 0, 1, 2, 3}},
	}
	for _, tc := range cases {
		got, _, _ := niceTicks(tc.lo, tc.hi, 5, tc.integer)
		if len(got) != len(tc.want) {
			t.Errorf("niceTicks(%g, %g) = %v, want %v", tc.lo, tc.hi, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("niceTicks(%g, %g) = %v, want %v", tc.lo, tc.hi, got, tc.want)
				break
			}
		}
	}
}
