package web

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/dataset/profile"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/recipe"
)

// The form's help lists every step kind the engine knows, in its order, and
// each example parses.
func TestRecipeHelpListsEveryStep(t *testing.T) {
	_, err := recipe.Parse([]byte("steps:\n  - no_such_step: {}\n"))
	msg := errs.MessageOf(err)
	_, list, ok := strings.Cut(msg, "(steps: ")
	if !ok {
		t.Fatalf("the engine's error no longer lists the steps: %q", msg)
	}
	want := strings.Split(strings.TrimSuffix(list, ")"), ", ")
	var got []string
	for _, g := range recipeSteps {
		for _, s := range g.Steps {
			got = append(got, s.Kind)
			if !strings.HasPrefix(s.Example, s.Kind+":") {
				t.Errorf("example of %s is another step: %s", s.Kind, s.Example)
			}
			if _, err := recipe.Parse([]byte("steps:\n  - " + s.Example + "\n")); err != nil {
				t.Errorf("example of %s does not parse: %v", s.Kind, err)
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("help lists %v,\nthe engine knows %v", got, want)
	}
	if _, err := recipe.Parse([]byte(exampleRecipe)); err != nil {
		t.Errorf("the prefilled recipe does not parse: %v", err)
	}
}

func i64(n int64) *int64     { return &n }
func f64(x float64) *float64 { return &x }

func TestHistogramBars(t *testing.T) {
	shown := func(n int64) profile.Cell { return profile.Cell{Count: &n} }
	bins := []profile.Bin{
		{Lo: nil, Hi: f64(10), Cell: shown(6)},
		{Lo: f64(10), Hi: f64(20), Cell: profile.Cell{Suppressed: true, Label: "<5"}},
		{Lo: f64(20), Hi: f64(30), Cell: shown(40)},
		{Lo: f64(30), Hi: f64(40), Cell: profile.Cell{Suppressed: true, Label: "≥5"}},
		{Lo: f64(40), Hi: nil, Cell: shown(0)},
	}
	rep := &profile.Report{Rows: 60, MinCount: 5, Columns: []profile.ColumnProfile{
		{Name: "age", Type: dataset.TypeInteger, Role: dataset.RoleQuasiIdentifier, Count: 60,
			Numeric: &profile.Numeric{Mean: f64(24.5), Histogram: &profile.Histogram{Width: 10, Bins: bins}, Coarsened: true}},
		{Name: "nom", Type: dataset.TypeString, Role: dataset.RoleDirectIdentifier, Count: 60, Withheld: profile.WithheldIdentifier},
	}}
	pv := newProfileView(rep)
	if !pv.Suppressed || pv.Charts != 1 {
		t.Fatalf("suppressed %v, charts %d", pv.Suppressed, pv.Charts)
	}
	c := pv.Columns[0].Chart
	if c == nil || len(c.Bars) != 5 {
		t.Fatalf("chart %+v", c)
	}
	scale := (chartBase - chartTop) / 40
	for i, want := range []struct {
		h          float64
		suppressed bool
		text       string
		title      string
	}{
		{6 * scale, false, "6", "< 10: 6"},
		{5 * scale, true, "<5", "[10, 20): <5 (suppressed: small count)"},
		{40 * scale, false, "40", "[20, 30): 40"},
		{5 * scale, true, "≥5", "[30, 40): ≥5 (suppressed: small count)"},
		{0, false, "0", "≥ 40: 0"},
	} {
		b := c.Bars[i]
		if b.H != round2(want.h) || b.Suppressed != want.suppressed || b.Text != want.text || b.Title != want.title || b.Y != round2(chartBase-b.H) {
			t.Errorf("bar %d: %+v, want height %.2f %+v", i, b, want.h, want)
		}
		if b.X < 0 || b.X+b.W > chartW {
			t.Errorf("bar %d outside the chart: %+v", i, b)
		}
	}
	if c.Rows[1].Count != "<5" || !c.Rows[1].Suppressed {
		t.Errorf("table row %+v", c.Rows[1])
	}
	// Open ends have no tick; the inner edges do.
	var ticks []string
	for _, tk := range c.Ticks {
		ticks = append(ticks, tk.Text)
	}
	if strings.Join(ticks, ",") != "10,20,30,40" {
		t.Errorf("ticks %v", ticks)
	}
	if s := pv.Columns[0].Summary; !strings.Contains(s, "range hidden") || !strings.Contains(s, "mean 24.5") {
		t.Errorf("summary %q", s)
	}
	if nom := pv.Columns[1]; nom.HasCard() || nom.Why == "" || nom.Summary != "" {
		t.Errorf("withheld column %+v", nom)
	}
}

func TestTimelineTicks(t *testing.T) {
	var buckets []profile.Bucket
	for y := 1940; y < 2000; y++ {
		n := int64(y % 7)
		buckets = append(buckets, profile.Bucket{Period: strconv.Itoa(y), Cell: profile.Cell{Count: &n}})
	}
	cv := columnView{Name: "naissance"}
	temporalView(&cv, &profile.Temporal{Granularity: "year", Timeline: buckets}, 5)
	c := cv.Chart
	if len(c.Bars) != 60 || len(c.Ticks) > maxTicks || len(c.Ticks) < 4 {
		t.Fatalf("%d bars, %d ticks", len(c.Bars), len(c.Ticks))
	}
	if c.Ticks[0].Text != "1940" || c.Ticks[0].Align != "start" || c.Ticks[0].X != 0 {
		t.Errorf("first tick %+v", c.Ticks[0])
	}
	for i := 1; i < len(c.Ticks); i++ {
		if c.Ticks[i].X-c.Ticks[i-1].X < 60 {
			t.Errorf("ticks %d and %d overlap: %+v", i-1, i, c.Ticks)
		}
	}
	if c.Bars[0].Text != "" {
		t.Errorf("60 bars print their counts")
	}
	if cv.Summary != "first and last dates hidden (end periods merged)" {
		t.Errorf("summary %q", cv.Summary)
	}
}

func TestMadeBy(t *testing.T) {
	for _, tc := range []struct {
		v    dataset.Version
		want string
	}{
		{dataset.Version{}, "imported"},
		{dataset.Version{Parent: "a@1", Recipe: "\n# units\nname: metres\nsteps: []\n"}, "name: metres"},
		{dataset.Version{Parent: "a@1", Recipe: "pseudonymize: hmac-sha256"}, "pseudonymize: hmac-sha256"},
		{dataset.Version{Parent: "a@1"}, "derived from a@1"},
	} {
		if got := madeBy(tc.v); got != tc.want {
			t.Errorf("madeBy(%+v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := refURL("p", "cohort_v2@12"); got != "/projects/p/datasets/cohort_v2?v=12" {
		t.Errorf("refURL: %s", got)
	}
}

func TestBooleanSuppressed(t *testing.T) {
	cv := columnView{Name: "deces"}
	booleanView(&cv, &profile.Boolean{True: profile.Cell{Suppressed: true, Label: "<5"}, False: profile.Cell{Count: i64(95)}}, 97, 5)
	if len(cv.Bars) != 2 || !cv.Bars[0].Suppressed || cv.Bars[0].Count != "<5" || cv.Bars[1].Count != "95" || cv.Bars[1].Suppressed {
		t.Fatalf("bars %+v", cv.Bars)
	}
	if cv.Summary != "true <5 · false 95" {
		t.Errorf("summary %q", cv.Summary)
	}
}
