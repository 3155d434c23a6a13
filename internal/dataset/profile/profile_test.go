package profile

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hygie-health/hygie/internal/dataset"
)

// col builds a column from Go values: nil is missing; int, float64, bool,
// string; a date as "2006-01-02" for date columns; time.Time for datetime.
type col struct {
	name string
	typ  dataset.Type
	role dataset.Role
	vals []any
}

func frame(t testing.TB, cols ...col) *dataset.Frame {
	t.Helper()
	f := &dataset.Frame{}
	for _, c := range cols {
		v := dataset.NewVec(c.typ, len(c.vals))
		for _, x := range c.vals {
			switch x := x.(type) {
			case nil:
				v.AppendNull()
			case int:
				v.AppendInt(int64(x))
			case float64:
				v.AppendFloat(x)
			case bool:
				b := int64(0)
				if x {
					b = 1
				}
				v.AppendInt(b)
			case time.Time:
				v.AppendInt(x.UnixMicro())
			case string:
				if c.typ == dataset.TypeDate {
					d, err := time.Parse(time.DateOnly, x)
					if err != nil {
						t.Fatal(err)
					}
					v.AppendInt(dataset.Days(d))
				} else {
					v.AppendString(x)
				}
			default:
				t.Fatalf("column %s: unsupported %T", c.name, x)
			}
		}
		f.Columns = append(f.Columns, dataset.Column{Name: c.name, Type: c.typ, Role: c.role})
		f.Vecs = append(f.Vecs, v)
	}
	return f
}

// rep repeats x n times.
func rep(x any, n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = x
	}
	return out
}

func cat(parts ...[]any) []any {
	var out []any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func seq(from, to int) []any {
	var out []any
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func mustProfile(t *testing.T, f *dataset.Frame, o Options) (*Report, []byte) {
	t.Helper()
	r, err := Of(f, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return r, b
}

func approx(t *testing.T, what string, got *float64, want float64) {
	t.Helper()
	if got == nil {
		t.Errorf("%s = null, want %v", what, want)
		return
	}
	if math.Abs(*got-want) > 1e-9*max(1, math.Abs(want)) {
		t.Errorf("%s = %v, want %v", what, *got, want)
	}
}

func isNull(t *testing.T, what string, got *float64) {
	t.Helper()
	if got != nil {
		t.Errorf("%s = %v, want null", what, *got)
	}
}

func count(c Cell) string {
	if c.Suppressed {
		if c.Count != nil {
			return "LEAK"
		}
		return c.Label
	}
	if c.Count == nil {
		return "nil"
	}
	return strconv.FormatInt(*c.Count, 10)
}

func bins(h *Histogram) string {
	if h == nil {
		return "none"
	}
	var b strings.Builder
	for _, x := range h.Bins {
		edge := func(p *float64) string {
			if p == nil {
				return "_"
			}
			return strconv.FormatFloat(*p, 'g', -1, 64)
		}
		b.WriteString("[" + edge(x.Lo) + "," + edge(x.Hi) + "):" + count(x.Cell) + " ")
	}
	return strings.TrimSpace(b.String())
}

func tops(vs []Value) string {
	var b []string
	for _, v := range vs {
		b = append(b, jsonString(v.Value)+":"+strconv.FormatInt(v.Count, 10))
	}
	return strings.Join(b, " ")
}

func jsonString(x any) string {
	b, _ := json.Marshal(x)
	return string(b)
}

func TestNumericStatistics(t *testing.T) {
	tests := []struct {
		name                   string
		typ                    dataset.Type
		vals                   []any
		count, missing, dist   int
		min, max, mean, std    float64
		q                      [7]float64
		hist, top              string
		width                  float64
		wantStdNull, wantEmpty bool
	}{
		{
			// Classic: mean 5, sample variance 32/7. Quantiles by linear
			// interpolation at h = p·(n−1): p25 → 4 + 0.75·0, p50 → 4 + 0.5·1,
			// p75 → 5 + 0.25·2, p1 → 2 + 0.07·2, p99 → 7 + 0.93·2.
			name: "integers", typ: dataset.TypeInteger,
			vals:  cat(rep(2, 5), rep(4, 15), rep(5, 10), rep(7, 5), rep(9, 5)),
			count: 40, dist: 5, min: 2, max: 9, mean: 5, // 200 / 40
			// Σ(x−5)² = 5·9 + 15·1 + 10·0 + 5·4 + 5·16 = 160
			std: math.Sqrt(160.0 / 39),
			// h = p·39 over 2×5, 4×15, 5×10, 7×5, 9×5: p1 .39 → 2; p5 1.95 → 2;
			// p25 9.75 → 4; p50 19.5 → 4 + 0.5·1; p75 29.25 → 5 + 0.25·2;
			// p95 37.05 → 9; p99 38.61 → 9.
			q: [7]float64{2, 2, 4, 4.5, 5.5, 9, 9},
			// IQR 1.5, FD width 2·1.5/∛40 = 0.88, integer → 1: a bin per integer.
			width: 1,
			hist:  "[2,3):5 [3,4):<5 [4,5):15 [5,6):10 [6,7):<5 [7,8):5 [8,9):<5 [9,10):5",
			top:   "4:15 5:10 2:5 7:5 9:5",
		},
		{
			name: "floats with missing and NaN", typ: dataset.TypeFloat,
			vals:  cat([]any{nil, math.NaN()}, rep(1.5, 10), rep(2.5, 10), []any{nil}),
			count: 20, missing: 3, dist: 2, min: 1.5, max: 2.5, mean: 2,
			std: math.Sqrt(20 * 0.25 / 19),
			// h = p·19: p1 .19 → 1.5; p50 9.5 → 1.5 + 0.5·1 = 2; p75 14.25 → 2.5.
			q: [7]float64{1.5, 1.5, 1.5, 2, 2.5, 2.5, 2.5},
			// IQR 1, FD 2/∛20 = 0.737, nearer to 1 than to 0.5.
			width: 1,
			hist:  "[1,2):10 [2,3):10",
			top:   "1.5:10 2.5:10",
		},
		{
			name: "constant", typ: dataset.TypeInteger,
			vals: rep(7, 12), count: 12, dist: 1, min: 7, max: 7, mean: 7, std: 0,
			q: [7]float64{7, 7, 7, 7, 7, 7, 7}, width: 1, hist: "[7,8):12", top: "7:12",
		},
		{
			name: "constant float", typ: dataset.TypeFloat,
			vals: rep(3.7, 6), count: 6, dist: 1, min: 3.7, max: 3.7, mean: 3.7, std: 0,
			q: [7]float64{3.7, 3.7, 3.7, 3.7, 3.7, 3.7, 3.7}, width: 1, hist: "[3,4):6", top: "3.7:6",
		},
		{
			name: "all missing", typ: dataset.TypeFloat,
			vals: rep(nil, 8), missing: 8, wantEmpty: true,
		},
		{
			name: "fewer than k values", typ: dataset.TypeInteger,
			vals: cat(rep(nil, 8), seq(1, 4)), count: 4, missing: 8, dist: 4, wantEmpty: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := mustProfile(t, frame(t, col{"x", tc.typ, dataset.RoleFeature, tc.vals}), Options{})
			c := r.Columns[0]
			if c.Count != tc.count || c.Missing != tc.missing || *c.Distinct != tc.dist {
				t.Errorf("count, missing, distinct = %d, %d, %d, want %d, %d, %d", c.Count, c.Missing, *c.Distinct, tc.count, tc.missing, tc.dist)
			}
			if tc.wantEmpty {
				if c.Numeric != nil || c.Withheld != WithheldTooFewValues {
					t.Errorf("numeric = %+v, withheld %q; want none, too_few_values", c.Numeric, c.Withheld)
				}
				return
			}
			n := c.Numeric
			approx(t, "min", n.Min, tc.min)
			approx(t, "max", n.Max, tc.max)
			approx(t, "mean", n.Mean, tc.mean)
			approx(t, "std", n.Std, tc.std)
			q := n.Quantiles
			for i, got := range []*float64{q.P1, q.P5, q.P25, q.P50, q.P75, q.P95, q.P99} {
				approx(t, "quantile "+strconv.Itoa(i), got, tc.q[i])
			}
			if n.Histogram == nil || n.Histogram.Width != tc.width {
				t.Errorf("histogram width = %+v, want %v", n.Histogram, tc.width)
			}
			if got := bins(n.Histogram); got != tc.hist {
				t.Errorf("histogram\n got %s\nwant %s", got, tc.hist)
			}
			if got := tops(n.Top); got != tc.top {
				t.Errorf("top = %s, want %s", got, tc.top)
			}
		})
	}
}

func TestQuantilesOfFewValues(t *testing.T) {
	// 1..10: h = p·9, p25 → 3.25, p50 → 5.5, p75 → 7.75, p1 → 1.09.
	r, _ := mustProfile(t, frame(t, col{"x", dataset.TypeInteger, dataset.RoleFeature, seq(1, 10)}), Options{})
	n := r.Columns[0].Numeric
	approx(t, "p1", n.Quantiles.P1, 1.09)
	approx(t, "p25", n.Quantiles.P25, 3.25)
	approx(t, "p50", n.Quantiles.P50, 5.5)
	approx(t, "p75", n.Quantiles.P75, 7.75)
	approx(t, "p99", n.Quantiles.P99, 9.91)
	approx(t, "std", n.Std, math.Sqrt(82.5/9))
	if len(n.Top) != 0 {
		t.Errorf("top = %s, want none (every value once)", tops(n.Top))
	}
}

func TestHistogramSuppression(t *testing.T) {
	// Grid of width 10 (IQR 17.5, FD 2·17.5/∛64 = 8.75 → 10): bins of 16,
	// 4, 24 and 20 records. The bin of 4 is suppressed; since the total is
	// published, one more bin (the smallest, 16) is suppressed with it.
	vals := cat(rep(5, 16), rep(15, 4), rep(25, 24), rep(30, 20))
	r, b := mustProfile(t, frame(t, col{"x", dataset.TypeInteger, dataset.RoleFeature, vals}), Options{})
	n := r.Columns[0].Numeric
	if got, want := bins(n.Histogram), "[0,10):≥5 [10,20):<5 [20,30):24 [30,40):20"; got != want {
		t.Errorf("histogram\n got %s\nwant %s", got, want)
	}
	// 15 is held by 4 records: never listed; 5 is in a suppressed bin.
	if got, want := tops(n.Top), "25:24 30:20"; got != want {
		t.Errorf("top = %s, want %s", got, want)
	}
	if bytes.Contains(b, []byte(`"count":4`)) || bytes.Contains(b, []byte(`"count":16`)) {
		t.Errorf("suppressed counts in JSON: %s", b)
	}
	if !bytes.Contains(b, []byte(`{"lo":10,"hi":20,"count":null,"suppressed":true,"label":"\u003c5"}`)) {
		t.Errorf("suppressed bin not written as expected: %s", b)
	}
}

func TestSmallValuesNeverListed(t *testing.T) {
	// "rare" is held by 3 records. Listing A and B would give its count
	// away (count − 10 − 10 = 3, and distinct says one value is left), so B
	// is dropped too.
	vals := cat(rep("alpha", 10), rep("bravo", 10), rep("rare", 3))
	r, b := mustProfile(t, frame(t, col{"s", dataset.TypeString, dataset.RoleFeature, vals}), Options{})
	s := r.Columns[0].String
	if got, want := tops(s.Top), `"alpha":10`; got != want {
		t.Errorf("top = %s, want %s", got, want)
	}
	if bytes.Contains(b, []byte("rare")) {
		t.Errorf("rare value in JSON: %s", b)
	}
	// Lengths: 5 (20 values) and 4 (3 values): min hidden, max shown.
	if s.Length.Min != nil || s.Length.Max == nil || *s.Length.Max != 5 {
		t.Errorf("length = %+v, want min null, max 5", s.Length)
	}
	approx(t, "mean length", s.Length.Mean, (20*5+3*4)/23.0)

	// With k = 3 the same value is listed.
	r, _ = mustProfile(t, frame(t, col{"s", dataset.TypeString, dataset.RoleFeature, vals}), Options{MinCount: 3})
	if got, want := tops(r.Columns[0].String.Top), `"alpha":10 "bravo":10 "rare":3`; got != want {
		t.Errorf("k=3: top = %s, want %s", got, want)
	}
}

func TestBooleanSuppression(t *testing.T) {
	tests := []struct {
		name       string
		vals       []any
		true_, fal string
		distinct   string
	}{
		{"both large", cat(rep(true, 6), rep(false, 30), []any{nil}), "6", "30", "2"},
		// 3 true: suppressed, and false too, else count − false = 3.
		{"one small", cat(rep(true, 3), rep(false, 30)), "<5", "≥5", "null"},
		{"none true", rep(false, 30), "<5", "30", "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, b := mustProfile(t, frame(t, col{"b", dataset.TypeBoolean, dataset.RoleTarget, tc.vals}), Options{})
			c := r.Columns[0]
			if got := count(c.Boolean.True); got != tc.true_ {
				t.Errorf("true = %s, want %s", got, tc.true_)
			}
			if got := count(c.Boolean.False); got != tc.fal {
				t.Errorf("false = %s, want %s", got, tc.fal)
			}
			if got := jsonString(c.Distinct); got != tc.distinct {
				t.Errorf("distinct = %s, want %s", got, tc.distinct)
			}
			if tc.true_ == "<5" && regexp.MustCompile(`"count":[0-4][,}]`).Match(b) {
				t.Errorf("small count in JSON: %s", b)
			}
		})
	}
}

func TestQuasiIdentifierCoarsened(t *testing.T) {
	// Ages 30..69, 6 records each (240), plus 3 records aged 97: the top
	// end is merged into an open bin and no value held by fewer than k
	// records appears anywhere.
	var vals []any
	for a := 30; a < 70; a++ {
		vals = append(vals, rep(a, 6)...)
	}
	vals = append(vals, rep(97, 3)...)
	r, b := mustProfile(t, frame(t, col{"age", dataset.TypeInteger, dataset.RoleQuasiIdentifier, vals}), Options{})
	n := r.Columns[0].Numeric
	if !n.Coarsened {
		t.Error("not coarsened")
	}
	// IQR 20, FD 40/∛243 = 6.4 → 5. Bins [30,35) … [65,70) of 30 records,
	// then [70,75) … [90,95) empty and [95,100) with 3: merged from the top
	// down until 5 records, so the last bin is [65,∞) with 33.
	approx(t, "min", n.Min, 30)
	isNull(t, "max", n.Max)
	want := "[30,35):30 [35,40):30 [40,45):30 [45,50):30 [50,55):30 [55,60):30 [60,65):30 [65,_):33"
	if got := bins(n.Histogram); got != want {
		t.Errorf("histogram\n got %s\nwant %s", got, want)
	}
	// Quantiles are bin edges: p50 (h = 121: age 50) is in [50,55); p99 is
	// in the open bin, so not given.
	approx(t, "p50", n.Quantiles.P50, 50)
	isNull(t, "p99", n.Quantiles.P99)
	for _, v := range leaves(t, b) {
		if v == "97" {
			t.Errorf("97, held by 3 records, appears in %s", b)
		}
	}
	// Each age 30…69 is held by 6 records; their bins hold nothing else.
	if got, want := tops(n.Top), "30:6 31:6 32:6 33:6 34:6 35:6 36:6 37:6 38:6 39:6"; got != want {
		t.Errorf("top = %s, want %s", got, want)
	}
}

func TestQuasiIdentifierTopValues(t *testing.T) {
	// Width-1 bins: a listed value is the whole bin, so it is listed.
	vals := cat(rep(40, 50), rep(41, 30), rep(42, 20), rep(43, 2), rep(44, 10))
	r, _ := mustProfile(t, frame(t, col{"age", dataset.TypeInteger, dataset.RoleQuasiIdentifier, vals}), Options{})
	n := r.Columns[0].Numeric
	if got, want := bins(n.Histogram), "[40,41):50 [41,42):30 [42,43):20 [43,44):<5 [44,45):≥5"; got != want {
		t.Errorf("histogram\n got %s\nwant %s", got, want)
	}
	// 44's bin is suppressed (complement of 43's), so 44 is not listed.
	if got, want := tops(n.Top), "40:50 41:30 42:20"; got != want {
		t.Errorf("top = %s, want %s", got, want)
	}
	approx(t, "min", n.Min, 40)
	approx(t, "max", n.Max, 45)
}

func TestIdentifiersAndTextNeverListed(t *testing.T) {
	ids := []any{}
	names := []any{}
	notes := []any{}
	ipp := []any{}
	nir := []any{}
	for i := range 40 {
		ids = append(ids, "PAT-"+strconv.Itoa(1000+i/8)) // each patient 8 rows
		names = append(names, []string{"Dupontel", "Martineau", "Bernardin", "Thomasset", "Robinet"}[i%5])
		notes = append(notes, []string{"douleur thoracique Mme Lefebvre", "RAS", "suivi Dr Garnier"}[i%3])
		ipp = append(ipp, 880000+i/4)
		nir = append(nir, 1850775123456+i%2)
	}
	f := frame(t,
		col{"patient", dataset.TypeString, dataset.RolePatientID, ids},
		col{"nom", dataset.TypeString, dataset.RoleDirectIdentifier, names},
		col{"note", dataset.TypeText, dataset.RoleText, notes},
		col{"ipp", dataset.TypeInteger, dataset.RolePatientID, ipp},
		col{"nir", dataset.TypeInteger, dataset.RoleDirectIdentifier, nir},
		col{"comment", dataset.TypeText, dataset.RoleFeature, notes},
		col{"remark", dataset.TypeString, dataset.RoleText, names},
	)
	r, b := mustProfile(t, f, Options{})
	all := leaves(t, b)
	for c, vals := range [][]any{ids, names, notes, ipp, nir} {
		for _, v := range vals {
			s := jsonString(v)
			s = strings.Trim(s, `"`)
			for _, l := range all {
				if l == s || (len(s) > 3 && strings.Contains(l, s)) {
					t.Fatalf("column %d: value %s appears in the report: %s", c, s, b)
				}
			}
		}
	}
	want := map[string]struct {
		withheld string
		distinct int
	}{
		"patient": {WithheldIdentifier, 5}, "nom": {WithheldIdentifier, 5}, "note": {WithheldFreeText, 3},
		"ipp": {WithheldIdentifier, 10}, "nir": {WithheldIdentifier, 2}, "comment": {WithheldFreeText, 3},
		"remark": {WithheldFreeText, 5},
	}
	for _, c := range r.Columns {
		w := want[c.Name]
		if c.Withheld != w.withheld || *c.Distinct != w.distinct || c.Count != 40 {
			t.Errorf("%s: withheld %q, distinct %d, count %d; want %q, %d, 40", c.Name, c.Withheld, *c.Distinct, c.Count, w.withheld, w.distinct)
		}
		if c.Role.Identifying() && (c.Numeric != nil || c.String != nil) {
			t.Errorf("%s: identifier profiled beyond counts", c.Name)
		}
		if c.Withheld == WithheldFreeText && (c.String == nil || c.String.Top != nil || c.String.Length.Mean == nil) {
			t.Errorf("%s: free text: want lengths and no values, got %+v", c.Name, c.String)
		}
	}
	if r.Correlations != nil {
		t.Errorf("correlations over identifiers: %+v", r.Correlations)
	}
}

// leaves returns every string and number of a JSON document, object keys
// excluded, as text.
func leaves(t *testing.T, b []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			for _, v := range x {
				walk(v)
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		}
	}
	walk(doc)
	return out
}

func TestCorrelations(t *testing.T) {
	x := seq(1, 10)
	var up, down, half, even []any
	for i := 1; i <= 10; i++ {
		up = append(up, 2*float64(i)+1)
		down = append(down, -3*float64(i)+5)
		if i%3 == 0 {
			half = append(half, nil)
		} else {
			half = append(half, 0.5*float64(i))
		}
		even = append(even, i%2 == 0)
	}
	f := frame(t,
		col{"x", dataset.TypeInteger, dataset.RoleFeature, x},
		col{"up", dataset.TypeFloat, dataset.RoleFeature, up},
		col{"down", dataset.TypeFloat, dataset.RoleTarget, down},
		col{"half", dataset.TypeFloat, dataset.RoleFeature, half},
		col{"flat", dataset.TypeInteger, dataset.RoleFeature, rep(3, 10)},
		col{"even", dataset.TypeBoolean, dataset.RoleTarget, even},
		col{"qi", dataset.TypeInteger, dataset.RoleQuasiIdentifier, x},
	)
	r, _ := mustProfile(t, f, Options{})
	c := r.Correlations
	if got, want := strings.Join(c.Columns, ","), "x,up,down,half,flat,even"; got != want {
		t.Fatalf("columns %s, want %s", got, want)
	}
	at := func(a, b string) *float64 {
		ia, ib := -1, -1
		for i, n := range c.Columns {
			if n == a {
				ia = i
			}
			if n == b {
				ib = i
			}
		}
		return c.Pearson[ia][ib]
	}
	tests := []struct {
		a, b string
		want *float64
	}{
		{"x", "x", ptr(1.0)},
		{"x", "up", ptr(1.0)},
		{"up", "x", ptr(1.0)},
		{"x", "down", ptr(-1.0)},
		{"up", "down", ptr(-1.0)},
		{"x", "half", ptr(1.0)}, // pairwise: the 7 rows where half is present
		{"down", "half", ptr(-1.0)},
		{"x", "flat", nil},
		{"flat", "flat", nil},
		// Σ(x−5.5)(y−0.5) = 0.5·(2.5 + 2.5), Σ(x−5.5)² = 82.5, Σ(y−0.5)² = 2.5:
		// r = 2.5 / √206.25
		{"x", "even", ptr(0.174077655956)},
	}
	for _, tc := range tests {
		got := at(tc.a, tc.b)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("r(%s, %s) = %v, want null", tc.a, tc.b, *got)
		case tc.want != nil && (got == nil || *got != *tc.want):
			t.Errorf("r(%s, %s) = %v, want %v", tc.a, tc.b, jsonString(got), *tc.want)
		}
	}
}

func TestDuplicateRows(t *testing.T) {
	f := frame(t,
		col{"a", dataset.TypeString, dataset.RoleFeature, []any{"x", "x", "y", "x", nil, nil, "x", "z"}},
		col{"b", dataset.TypeFloat, dataset.RoleFeature, []any{1.0, 1.0, 2.0, 1.0, 3.0, 3.0, math.Copysign(0, -1), math.NaN()}},
		col{"c", dataset.TypeInteger, dataset.RoleFeature, []any{7, 7, 7, 7, nil, nil, 7, nil}},
	)
	r, _ := mustProfile(t, f, Options{})
	// Rows 1 and 3 repeat row 0; row 5 repeats row 4 (missing equals missing).
	if r.DuplicateRows != 3 {
		t.Errorf("duplicate rows = %d, want 3", r.DuplicateRows)
	}
	// -0 equals 0, NaN is missing.
	f = frame(t,
		col{"b", dataset.TypeFloat, dataset.RoleFeature, []any{0.0, math.Copysign(0, -1), math.NaN(), nil, 1.0}},
	)
	r, _ = mustProfile(t, f, Options{})
	if r.DuplicateRows != 2 {
		t.Errorf("duplicate rows = %d, want 2", r.DuplicateRows)
	}
}

func TestDuplicateRowsLarge(t *testing.T) {
	// Above the radix sort's cut-over: 1,000 rows, every 10th repeats the
	// one before it.
	var a, b []any
	for i := range 1000 {
		j := i
		if i%10 == 9 {
			j = i - 1
		}
		a = append(a, j)
		b = append(b, "v"+strconv.Itoa(j%7))
	}
	f := frame(t, col{"a", dataset.TypeInteger, dataset.RoleFeature, a}, col{"b", dataset.TypeString, dataset.RoleFeature, b})
	r, _ := mustProfile(t, f, Options{})
	if r.DuplicateRows != 100 {
		t.Errorf("duplicate rows = %d, want 100", r.DuplicateRows)
	}
}

func TestTimeline(t *testing.T) {
	day := func(s string, n int) []any { return rep(s, n) }
	tests := []struct {
		name        string
		c           col
		min, max    string
		granularity string
		step        int
		timeline    string
	}{
		{
			name: "months",
			c: col{"admission", dataset.TypeDate, dataset.RoleDate, cat(
				day("2024-01-05", 4), day("2024-01-31", 6), day("2024-03-10", 3), day("2024-04-20", 12), []any{nil})},
			min: "2024-01-05", max: "2024-04-20", granularity: "month",
			// February (0) and March (3) are suppressed: 0 + 3 could be any
			// split of [0,4]×[0,4], so no complement is needed.
			timeline: "2024-01[2024-01-01,2024-02-01):10 2024-02[2024-02-01,2024-03-01):<5 2024-03[2024-03-01,2024-04-01):<5 2024-04[2024-04-01,2024-05-01):12",
		},
		{
			name: "days",
			c:    col{"d", dataset.TypeDate, dataset.RoleDate, cat(day("2024-02-28", 5), day("2024-03-01", 7))},
			min:  "2024-02-28", max: "2024-03-01", granularity: "day",
			timeline: "2024-02-28[2024-02-28,2024-02-29):5 2024-02-29[2024-02-29,2024-03-01):<5 2024-03-01[2024-03-01,2024-03-02):7",
		},
		{
			name: "years",
			c:    col{"d", dataset.TypeDate, dataset.RoleDate, cat(day("1999-12-31", 5), day("2001-06-01", 5), day("2010-01-01", 8))},
			min:  "1999-12-31", max: "2010-01-01", granularity: "year", step: 1,
			timeline: "1999[1999-01-01,2000-01-01):5 2000[2000-01-01,2001-01-01):<5 2001[2001-01-01,2002-01-01):5 " +
				"2002[2002-01-01,2003-01-01):<5 2003[2003-01-01,2004-01-01):<5 2004[2004-01-01,2005-01-01):<5 2005[2005-01-01,2006-01-01):<5 " +
				"2006[2006-01-01,2007-01-01):<5 2007[2007-01-01,2008-01-01):<5 2008[2008-01-01,2009-01-01):<5 2009[2009-01-01,2010-01-01):<5 " +
				"2010[2010-01-01,2011-01-01):8",
		},
		{
			name: "decades",
			c:    col{"d", dataset.TypeDate, dataset.RoleDate, cat(day("1890-05-01", 6), day("2024-01-01", 6))},
			min:  "1890-05-01", max: "2024-01-01", granularity: "year", step: 2,
			timeline: "", // checked by length below
		},
		{
			name: "datetimes",
			c: col{"t", dataset.TypeDatetime, dataset.RoleDate, cat(
				rep(time.Date(2023, 12, 31, 23, 59, 59, 0, time.UTC), 5), rep(time.Date(2024, 1, 1, 0, 0, 0, 1000, time.UTC), 6))},
			min: "2023-12-31T23:59:59Z", max: "2024-01-01T00:00:00.000001Z", granularity: "day",
			timeline: "2023-12-31[2023-12-31,2024-01-01):5 2024-01-01[2024-01-01,2024-01-02):6",
		},
		{
			name: "quasi-identifier birth dates",
			c: col{"birth", dataset.TypeDate, dataset.RoleQuasiIdentifier, cat(
				day("1931-03-02", 1), day("1940-06-01", 2), day("1941-02-02", 3), day("1950-01-01", 20), day("1960-05-05", 9), day("1975-07-07", 4), day("1979-09-09", 6), day("1980-01-01", 1))},
			// Years 1931…1980; ends merged until 5 records: 1931–1941 (6),
			// 1979–1980 (7), so no min, no max.
			granularity: "year", step: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, b := mustProfile(t, frame(t, tc.c), Options{})
			tp := r.Columns[0].Temporal
			str := func(s *string) string {
				if s == nil {
					return ""
				}
				return *s
			}
			if str(tp.Min) != tc.min || str(tp.Max) != tc.max {
				t.Errorf("range %q…%q, want %q…%q", str(tp.Min), str(tp.Max), tc.min, tc.max)
			}
			if tp.Granularity != tc.granularity || tp.Step != tc.step {
				t.Errorf("granularity %s/%d, want %s/%d", tp.Granularity, tp.Step, tc.granularity, tc.step)
			}
			var got []string
			for _, bk := range tp.Timeline {
				got = append(got, bk.Period+"["+str(bk.Start)+","+str(bk.End)+"):"+count(bk.Cell))
			}
			switch tc.name {
			case "decades":
				// 1890…2024 in 2-year buckets: 1890-1891 … 2024-2025.
				if len(got) != 68 || got[0] != "1890-1891[1890-01-01,1892-01-01):6" || got[67] != "2024-2025[2024-01-01,2026-01-01):6" {
					t.Errorf("timeline %d buckets: %s … %s", len(got), got[0], got[len(got)-1])
				}
			case "quasi-identifier birth dates":
				if !tp.Coarsened {
					t.Error("not coarsened")
				}
				want := "<1942[,1942-01-01):6"
				if got[0] != want || got[len(got)-1] != "≥1979[1979-01-01,):7" {
					t.Errorf("ends %s … %s, want %s … ≥1979[1979-01-01,):7", got[0], got[len(got)-1], want)
				}
				for _, l := range leaves(t, b) {
					if strings.Contains(l, "1931") || strings.Contains(l, "1980") {
						t.Errorf("%q reveals an end of the range", l)
					}
				}
			default:
				if s := strings.Join(got, " "); s != tc.timeline {
					t.Errorf("timeline\n got %s\nwant %s", s, tc.timeline)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	f := benchFrame(20_000, 1)
	_, a := mustProfile(t, f, Options{})
	for range 3 {
		_, b := mustProfile(t, f, Options{})
		if !bytes.Equal(a, b) {
			t.Fatal("two profiles of the same frame differ")
		}
	}
}

func TestOptionsAndErrors(t *testing.T) {
	good := frame(t, col{"x", dataset.TypeInteger, dataset.RoleFeature, seq(1, 10)})
	tests := []struct {
		name string
		f    *dataset.Frame
		o    Options
		ok   bool
	}{
		{"defaults", good, Options{}, true},
		{"k = 1", good, Options{MinCount: 1}, false},
		{"negative k", good, Options{MinCount: -3}, false},
		{"one bin", good, Options{MaxBins: 1}, false},
		{"nil frame", nil, Options{}, false},
		{"unknown role", frame(t, col{"x", dataset.TypeInteger, "secret", seq(1, 10)}), Options{}, false},
		{"empty role", frame(t, col{"x", dataset.TypeInteger, "", seq(1, 10)}), Options{}, false},
		{"no rows", frame(t, col{"x", dataset.TypeInteger, dataset.RoleFeature, nil}), Options{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Of(tc.f, tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err == nil {
				if _, err := json.Marshal(r); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestMinCountOption(t *testing.T) {
	vals := cat(rep(1, 8), rep(2, 12), rep(3, 30))
	r, b := mustProfile(t, frame(t, col{"x", dataset.TypeInteger, dataset.RoleFeature, vals}), Options{MinCount: 11})
	if r.MinCount != 11 {
		t.Errorf("min_count = %d", r.MinCount)
	}
	if got, want := bins(r.Columns[0].Numeric.Histogram), "[1,2):<11 [2,3):≥11 [3,4):30"; got != want {
		t.Errorf("histogram %s, want %s", got, want)
	}
	if bytes.Contains(b, []byte(`"count":8`)) {
		t.Errorf("count 8 < 11 shown: %s", b)
	}
}

func TestInfinities(t *testing.T) {
	vals := cat(rep(1.0, 6), []any{math.Inf(1), math.Inf(-1), math.Inf(1)})
	r, b := mustProfile(t, frame(t, col{"x", dataset.TypeFloat, dataset.RoleFeature, vals}), Options{})
	c := r.Columns[0]
	if c.Count != 9 || *c.Distinct != 3 || c.Numeric.Infinite != 3 {
		t.Errorf("count %d distinct %d infinite %d, want 9 3 3", c.Count, *c.Distinct, c.Numeric.Infinite)
	}
	approx(t, "max", c.Numeric.Max, 1)
	if !json.Valid(b) {
		t.Error("invalid JSON")
	}
}
