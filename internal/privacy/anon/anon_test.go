package anon

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
)

const smallCSV = `age;sex;disease;id
21;M;flu;a
22;M;flu;b
23;F;cold;c
24;F;flu;d
31;M;cancer;e
32;M;cold;f
`

func smallTable(t *testing.T) (*Table, []QI) {
	t.Helper()
	tab, err := ReadCSV(strings.NewReader(smallCSV), ';', "small.csv")
	if err != nil {
		t.Fatal(err)
	}
	age := mustHierarchy(t, "age.csv", "21;20-24;*\n22;20-24;*\n23;20-24;*\n24;20-24;*\n31;30-34;*\n32;30-34;*\n")
	sex := mustHierarchy(t, "sex.csv", "M;*\nF;*\n")
	return tab, []QI{{"age", age}, {"sex", sex}}
}

func mustHierarchy(t *testing.T, name, text string) *Hierarchy {
	t.Helper()
	h, err := ParseHierarchy(strings.NewReader(text), ';', name)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestMetricsByHand checks every metric on transformations computed by hand
// (docs/anonymization.md has the formulas).
func TestMetricsByHand(t *testing.T) {
	tab, qis := smallTable(t)
	log2 := math.Log2
	for _, tc := range []struct {
		name string
		k    int
		sup  float64
		lv   []int
		want map[Metric]float64
	}{
		{"[1,0] k=2", 2, 0, []int{1, 0}, map[Metric]float64{
			MetricEntropy:   4*2 + 2*1, // -log2(1/4) for four ages, -log2(1/2) for two
			MetricEntropyNM: 10,
			// age: (4·4/6 + 2·2/6 − 1) / (6 − 1); sex at level 0: 0
			MetricLoss:                    math.Sqrt(1+(20.0/6-1)/5) - 1,
			MetricDiscernibility:          4 + 4 + 4,
			MetricDiscernibilityMonotonic: 12,
			MetricPrecision:               (0.5 + 0) / 2,
			MetricAECS:                    6.0 / 3,
		}},
		{"[2,0] k=3, two suppressed", 3, 0.34, []int{2, 0}, map[Metric]float64{
			MetricEntropy:                 6 * log2(6),
			MetricEntropyNM:               6 * log2(6), // the two suppressed share "*" and "F": no extra entropy
			MetricLoss:                    math.Sqrt((1+1)*(1+(4*0.5+2-3)/3.0)) - 1,
			MetricDiscernibility:          16 + 6*2,
			MetricDiscernibilityMonotonic: 16 + 4,
			MetricPrecision:               ((4*1.0+2)/6 + (0+2)/6.0) / 2,
			MetricAECS:                    6.0 / 2,
		}},
		{"[0,0] everything suppressed", 2, 1, []int{0, 0}, map[Metric]float64{
			MetricEntropy:        0,
			MetricEntropyNM:      6*log2(6) + 4*log2(6.0/4) + 2*log2(3),
			MetricLoss:           1,
			MetricDiscernibility: 36,
			MetricPrecision:      1,
			MetricAECS:           6,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{QIs: qis, K: tc.k, MaxSuppression: tc.sup}
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			e, err := newEngine(tab, &cfg)
			if err != nil {
				t.Fatal(err)
			}
			var g groups
			e.group(tc.lv, &g)
			if !g.anonymous(e.maxOut) {
				t.Fatalf("not anonymous: %d suppressed, limit %d", g.suppressed, e.maxOut)
			}
			for m, want := range tc.want {
				if got := e.metricValue(m, tc.lv, &g); !near(got, want) {
					t.Errorf("%s = %.12g, want %.12g", m, got, want)
				}
				if lb, ok := e.lowerBound(m, tc.lv); ok && lb > e.metricValue(m, tc.lv, &g)+1e-12 {
					t.Errorf("%s: lower bound %g above value", m, lb)
				}
			}
		})
	}
}

// TestPrivacyModels runs each model on the small table.
func TestPrivacyModels(t *testing.T) {
	tab, qis := smallTable(t)
	disease := mustHierarchy(t, "disease.csv", "flu;respiratory;*\ncold;respiratory;*\ncancer;tumour;*\n")
	for _, tc := range []struct {
		name       string
		cfg        Config
		levels     []int
		suppressed int
		value      float64
	}{
		{"2-anonymity", Config{K: 2, Metric: MetricEntropy}, []int{1, 0}, 0, 10},
		{"3-anonymity, suppression", Config{K: 3, MaxSuppression: 0.34, Metric: MetricLoss}, []int{2, 0}, 2, math.Sqrt(2*(4.0/3)) - 1},
		{"3-anonymity, suppression too low", Config{K: 3, MaxSuppression: 0.33, Metric: MetricLoss}, []int{2, 1}, 0, 1},
		{"distinct 2-diversity", Config{L: &LDiversity{L: 2}, Metric: MetricLoss}, []int{2, 0}, 0, math.Sqrt(2) - 1},
		// [1,1] has a class with entropy 0.81 < log2(2): only [2,0] and [2,1] qualify;
		// [2,0]'s F class has entropy exactly 1.
		{"entropy 2-diversity", Config{L: &LDiversity{L: 2, Entropy: true}, Metric: MetricPrecision}, []int{2, 0}, 0, 0.5},
		{"0.2-closeness, equal distance", Config{T: &TCloseness{T: 0.2}, Metric: MetricEntropy}, []int{2, 0}, 0, 6 * math.Log2(6)},
		{"0.1-closeness, equal distance", Config{T: &TCloseness{T: 0.1}, Metric: MetricEntropy}, []int{2, 1}, 0, 6*math.Log2(6) + 4*math.Log2(1.5) + 2*math.Log2(3)},
		{"0.17-closeness, hierarchical", Config{T: &TCloseness{T: 0.17, Hierarchy: disease}, Metric: MetricEntropy}, []int{2, 0}, 0, 6 * math.Log2(6)},
		{"2-anonymity + distinct 2-diversity", Config{K: 2, L: &LDiversity{L: 2}, MaxSuppression: 0.34, Metric: MetricDiscernibility}, []int{1, 0}, 2, 4 + 4 + 6*2}, // (20-24, M) has only "flu",
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.QIs = qis
			if cfg.L != nil || cfg.T != nil {
				cfg.Sensitive = []string{"disease"}
			}
			res, err := Anonymize(context.Background(), tab, cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := res.Report
			if !reflect.DeepEqual(res.Levels, tc.levels) || r.Suppressed != tc.suppressed || !near(r.MetricValue, tc.value) {
				t.Fatalf("got %v, %d suppressed, %s %.12g; want %v, %d, %.12g", res.Levels, r.Suppressed, r.Metric, r.MetricValue, tc.levels, tc.suppressed, tc.value)
			}
		})
	}
}

func TestHierarchicalEMD(t *testing.T) {
	// Class {flu} against the table (flu 1/2, cold 1/3, cancer 1/6): 1/3 of
	// the mass moves inside "respiratory" (cost 1/2 each), 1/6 across the
	// root (cost 1): 1/6 + 1/6.
	tab, qis := smallTable(t)
	disease := mustHierarchy(t, "disease.csv", "flu;respiratory;*\ncold;respiratory;*\ncancer;tumour;*\n")
	cfg := Config{QIs: qis, Sensitive: []string{"disease"}, T: &TCloseness{T: 1, Hierarchy: disease}}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(tab, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := e.sens[0]
	buf := make([]float64, len(s.values))
	buf[0] = 2 // "flu" is the first value seen
	tree := make([][]float64, len(s.width))
	for l := range tree {
		tree[l] = make([]float64, 2*s.width[l])
	}
	if got := s.hierarchicalEMD(buf, 2, tree); !near(got, 1.0/3) {
		t.Fatalf("EMD = %g, want 1/3", got)
	}
}

func TestOutputAndSuppression(t *testing.T) {
	tab, qis := smallTable(t)
	res, err := Anonymize(context.Background(), tab, Config{QIs: qis, K: 3, MaxSuppression: 0.34, Metric: MetricLoss})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"*", "M", "flu", "a"}, {"*", "M", "flu", "b"}, {"*", "*", "cold", "c"},
		{"*", "*", "flu", "d"}, {"*", "M", "cancer", "e"}, {"*", "M", "cold", "f"},
	}
	if !reflect.DeepEqual(res.Table.Rows, want) || !reflect.DeepEqual(res.Suppressed, []int{2, 3}) {
		t.Fatalf("rows %v suppressed %v", res.Table.Rows, res.Suppressed)
	}
	if res.Report.Levels["age"] != 2 || res.Report.Levels["sex"] != 0 || res.Report.SuppressionLimit != 2 || res.Report.SmallestClass != 4 {
		t.Fatalf("report %+v", res.Report)
	}
}

func TestBadInput(t *testing.T) {
	tab, qis := smallTable(t)
	short := mustHierarchy(t, "age-short.csv", "21;20-24;*\n22;20-24;*\n23;20-24;*\n24;20-24;*\n31;30-34;*\n")
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
	}{
		{"value missing from hierarchy", Config{QIs: []QI{{"age", short}}, K: 2}, []string{"small.csv line 7", `"age"`, `"32"`, "age-short.csv"}},
		{"no such column", Config{QIs: []QI{{"agee", qis[0].Hierarchy}}, K: 2}, []string{`no column "agee"`}},
		{"no solution", Config{QIs: qis, K: 7}, []string{"no transformation satisfies 7-anonymity", "at most 0 suppressed", "would suppress 6 records", "highest achievable k is 6"}},
		{"no model", Config{QIs: qis}, []string{"no privacy model"}},
		{"l without sensitive", Config{QIs: qis, L: &LDiversity{L: 2}}, []string{"sensitive attribute"}},
		{"qi twice", Config{QIs: []QI{qis[0], qis[0]}, K: 2}, []string{"given twice"}},
		{"bad suppression", Config{QIs: qis, K: 2, MaxSuppression: 1.5}, []string{"fraction"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Anonymize(context.Background(), tab, tc.cfg)
			if err == nil || errs.CodeOf(err) != errs.Invalid {
				t.Fatalf("err = %v, want invalid", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs.MessageOf(err), w) {
					t.Errorf("%q does not contain %q", errs.MessageOf(err), w)
				}
			}
		})
	}
}

// TestSearchEqualsBruteForce is the property test of the pruning: on random
// small tables, for random models and every metric, the search finds a
// transformation as good as checking every node, with the same tie-break.
func TestSearchEqualsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	cases := 100
	if testing.Short() {
		cases = 30
	}
	for c := 0; c < cases; c++ {
		d := 2 + rng.IntN(3)
		n := 20 + rng.IntN(60)
		tab := &Table{Source: "random"}
		var qis []QI
		for j := 0; j < d; j++ {
			tab.Header = append(tab.Header, fmt.Sprintf("q%d", j))
		}
		tab.Header = append(tab.Header, "s")
		for i := 0; i < n; i++ {
			row := make([]string, d+1)
			for j := 0; j < d; j++ {
				row[j] = fmt.Sprint(rng.IntN(12 + 4*j))
			}
			row[d] = fmt.Sprint("s", rng.IntN(4))
			tab.Rows = append(tab.Rows, row)
		}
		for j := 0; j < d; j++ {
			vals := make([]string, n)
			for i := range vals {
				vals[i] = tab.Rows[i][j]
			}
			widths := [][]float64{{2}, {2, 4}, {3, 6, 12}}[rng.IntN(3)]
			h, err := IntervalHierarchy(vals, widths)
			if err != nil {
				t.Fatal(err)
			}
			qis = append(qis, QI{tab.Header[j], h})
		}
		cfg := Config{QIs: qis, K: 2 + rng.IntN(3), MaxSuppression: []float64{0, 0.05, 0.2}[rng.IntN(3)], Sensitive: []string{"s"}}
		switch rng.IntN(5) {
		case 1:
			cfg.L = &LDiversity{L: 2}
		case 2:
			cfg.L = &LDiversity{L: 1.5, Entropy: true}
		case 3:
			cfg.T = &TCloseness{T: 0.3}
		}
		for _, m := range Metrics {
			cfg.Metric = m
			res, err := Anonymize(context.Background(), tab, cfg)
			cc := cfg
			if err := cc.validate(); err != nil {
				t.Fatal(err)
			}
			e, _ := newEngine(tab, &cc)
			best, val := bruteForce(t, e)
			if best < 0 {
				if err == nil {
					t.Fatalf("case %d %s: found %v, brute force finds nothing", c, m, res.Levels)
				}
				continue
			}
			if err != nil {
				t.Fatalf("case %d %s (%s, sup %g): %v; brute force finds %g", c, m, cfg.describe(), cfg.MaxSuppression, err, val)
			}
			dims := make([]int, d)
			for j, q := range e.qis {
				dims[j] = q.levels
			}
			lat, _ := newLattice(dims)
			if !near(res.Report.MetricValue, val) || lat.sum(best) != sum(res.Levels) {
				t.Fatalf("case %d %s (%s, sup %g): search %v %.12g, brute force %v %.12g", c, m, cfg.describe(), cfg.MaxSuppression, res.Levels, res.Report.MetricValue, lat.levels(best, nil), val)
			}
		}
	}
}

func sum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

func TestHeuristic(t *testing.T) {
	tab, qis := smallTable(t)
	res, err := Anonymize(context.Background(), tab, Config{QIs: qis, K: 2, Metric: MetricEntropy, Heuristic: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Report.Search != "heuristic" || !reflect.DeepEqual(res.Levels, []int{1, 0}) {
		t.Fatalf("heuristic: %v %s", res.Levels, res.Report.Search)
	}
}

func TestReadCSVErrors(t *testing.T) {
	for _, in := range []string{"", "a;b\n1;2;3\n", "a;a\n1;2\n"} {
		if _, err := ReadCSV(strings.NewReader(in), ';', "x.csv"); err == nil || errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%q: err = %v", in, err)
		}
	}
}

func TestTableFromFrame(t *testing.T) {
	f := &dataset.Frame{
		Columns: []dataset.Column{{Name: "age", Type: dataset.TypeInteger}, {Name: "city", Type: dataset.TypeString}},
		Vecs:    []*dataset.Vec{{Type: dataset.TypeInteger, I: []int64{21, 34}}, {Type: dataset.TypeString, S: []string{"Lyon", "Paris"}, Null: []bool{false, true}}},
	}
	tab, err := TableFromFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tab.Header, []string{"age", "city"}) || !reflect.DeepEqual(tab.Rows, [][]string{{"21", "Lyon"}, {"34", ""}}) {
		t.Fatalf("%+v", tab)
	}
}

func TestCancel(t *testing.T) {
	tab, qis := smallTable(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Anonymize(ctx, tab, Config{QIs: qis, K: 2}); err == nil {
		t.Fatal("want the context's error")
	}
}
