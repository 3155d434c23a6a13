package monitor

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
)

func near(a, b, tol float64) bool {
	if math.IsInf(a, 1) && math.IsInf(b, 1) {
		return true
	}
	return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b))
}

// Reference values from scipy 1.10 (see TestDriftMatchesScipy for the
// live comparison).
func TestStatisticsFixedValues(t *testing.T) {
	a := []float64{0.1, 0.5, 1.2, 2.0, 2.5, 3.1, 4.0, 4.4}
	b := []float64{1.0, 1.5, 2.2, 3.0, 3.5, 4.1, 5.0, 6.0, 7.2}
	chi, chiP := ChiSquareGOF([]float64{30, 50, 20}, []float64{40, 40, 20})
	z, zP := ProportionZTest(30, 100, 45, 100)
	tests := []struct {
		name      string
		got, want float64
	}{
		{"ks statistic", KSStatistic(a, b), 0.3333333333333333},
		{"ks exact p", KSPValue(KSStatistic(a, b), len(a), len(b)), 0.5761003702180173},
		{"wasserstein", WassersteinSorted(a, b), 1.4972222222222222},
		{"wasserstein / sd", WassersteinSorted(a, b) / stdDev(a), 1.0177005517521254},
		{"chi-square statistic", chi, 5.0},
		{"chi-square p", chiP, 0.0820849986238988},
		{"jensen-shannon", JSDistance([]float64{0.5, 0.3, 0.2}, []float64{0.2, 0.3, 0.5}), 0.257709748326061},
		{"jensen-shannon unnormalised", JSDistance([]float64{5, 3, 2}, []float64{2, 3, 5}), 0.257709748326061},
		{"psi", PSIValue([]float64{0.5, 0.3, 0.2}, []float64{0.2, 0.3, 0.5}), 0.549774439124493},
		{"z", z, -2.1908902300206647},
		{"z p", zP, 0.02845973691631055},
		{"ks identical", KSPValue(0, 10, 10), 1},
		{"ks disjoint", KSPValue(1, 3, 3), 0.1}, // 2 / C(6,3)
		{"kolmogorov Q(1)", kolmogorovQ(1), 0.26999967167735456},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !near(tt.got, tt.want, 1e-9) {
				t.Errorf("got %.17g, want %.17g", tt.got, tt.want)
			}
		})
	}
	if s, p := ChiSquareGOF([]float64{1, 2}, []float64{0, 3}); !math.IsInf(s, 1) || p != 0 {
		t.Errorf("new category: chi-square %v, p %v; want +Inf, 0", s, p)
	}
}

func TestSortFloats(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 10, 5000, 100_000} {
		x := make([]float64, n)
		for i := range x {
			switch i % 5 {
			case 0:
				x[i] = r.NormFloat64() * 1e6
			case 1:
				x[i] = -r.Float64()
			case 2:
				x[i] = float64(r.IntN(10))
			case 3:
				x[i] = math.Copysign(0, -1)
			default:
				x[i] = r.ExpFloat64()
			}
		}
		want := slices.Clone(x)
		slices.Sort(want)
		sortFloats(x)
		for i := range x {
			if x[i] != want[i] {
				t.Fatalf("n=%d: x[%d] = %v, want %v", n, i, x[i], want[i])
			}
		}
	}
}

func normal(r *rand.Rand, n int, mean, sd float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = mean + sd*r.NormFloat64()
	}
	return x
}

func cats(r *rand.Rand, n int, probs []float64, names ...string) []string {
	out := make([]string, n)
	for i := range out {
		u, k := r.Float64(), 0
		for k < len(probs)-1 && u >= probs[k] {
			u -= probs[k]
			k++
		}
		out[i] = names[k]
	}
	return out
}

// TestMethodChoice checks Evidently's automatic choice of method and
// threshold and the verdicts on clear cases.
func TestMethodChoice(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	withNaN := normal(r, 500, 0, 1)
	withNaN[3], withNaN[10] = math.NaN(), math.NaN()
	tests := []struct {
		name       string
		ref, cur   Column
		opt        Options
		method     Method
		typ        string
		threshold  float64
		drift      bool
		refMissing int
	}{
		{"small numeric, same: ks", Column{Num: normal(r, 500, 0, 1)}, Column{Num: normal(r, 500, 0, 1)}, Options{}, KS, TypeNumeric, 0.05, false, 0},
		{"small numeric, shifted: ks", Column{Num: normal(r, 500, 0, 1)}, Column{Num: normal(r, 500, 1, 1)}, Options{}, KS, TypeNumeric, 0.05, true, 0},
		{"missing values left out", Column{Num: withNaN}, Column{Num: normal(r, 500, 0, 1)}, Options{}, KS, TypeNumeric, 0.05, false, 2},
		{"large numeric, same: wasserstein", Column{Num: normal(r, 5000, 0, 1)}, Column{Num: normal(r, 5000, 0, 1)}, Options{}, Wasserstein, TypeNumeric, 0.1, false, 0},
		{"large numeric, shifted: wasserstein", Column{Num: normal(r, 5000, 0, 1)}, Column{Num: normal(r, 5000, 0.5, 1)}, Options{}, Wasserstein, TypeNumeric, 0.1, true, 0},
		{"few numeric values: chi-square", Column{Num: []float64{1, 2, 3, 1, 2, 3, 1, 2, 3, 1}}, Column{Num: []float64{1, 2, 3, 1, 2, 3, 1, 2, 3, 2}}, Options{}, ChiSquare, TypeCategorical, 0.05, false, 0},
		{"small categorical: chi-square", Column{Cat: cats(r, 800, []float64{.5, .3, .2}, "a", "b", "c")}, Column{Cat: cats(r, 800, []float64{.2, .3, .5}, "a", "b", "c")}, Options{}, ChiSquare, TypeCategorical, 0.05, true, 0},
		{"small binary: z-test", Column{Cat: cats(r, 800, []float64{.5, .5}, "f", "m")}, Column{Cat: cats(r, 800, []float64{.5, .5}, "f", "m")}, Options{}, ZTest, TypeCategorical, 0.05, false, 0},
		{"large categorical: jensen-shannon", Column{Cat: cats(r, 5000, []float64{.5, .3, .2}, "a", "b", "c")}, Column{Cat: cats(r, 5000, []float64{.2, .3, .5}, "a", "b", "c")}, Options{}, JensenShannon, TypeCategorical, 0.1, true, 0},
		{"psi asked for", Column{Num: normal(r, 5000, 0, 1)}, Column{Num: normal(r, 5000, 0, 1)}, Options{Method: PSI}, PSI, TypeNumeric, 0.1, false, 0},
		{"per-column method and threshold", Column{Name: "x", Num: normal(r, 5000, 0, 1)}, Column{Name: "x", Num: normal(r, 5000, 0.05, 1)},
			Options{Methods: map[string]Method{"x": KS}, Thresholds: map[string]float64{"x": 0.01}}, KS, TypeNumeric, 0.01, false, 0},
		{"smaller small-sample size", Column{Num: normal(r, 500, 0, 1)}, Column{Num: normal(r, 500, 1, 1)}, Options{SmallSample: 100}, Wasserstein, TypeNumeric, 0.1, true, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := DriftColumn(tt.ref, tt.cur, tt.opt)
			if d.Error != "" {
				t.Fatal(d.Error)
			}
			if d.Method != tt.method || d.Type != tt.typ || d.Threshold != tt.threshold || d.Drift != tt.drift || d.RefMissing != tt.refMissing {
				t.Errorf("got %s %s threshold %v drift %v missing %d (statistic %v p %v); want %s %s %v %v %d",
					d.Method, d.Type, d.Threshold, d.Drift, d.RefMissing, d.Statistic, d.PValue, tt.method, tt.typ, tt.threshold, tt.drift, tt.refMissing)
			}
			if (d.PValue != nil) != tt.method.IsTest() {
				t.Errorf("p-value %v for %s", d.PValue, d.Method)
			}
			if d.Hist == nil || len(d.Hist.Ref) != len(d.Hist.Cur) || len(d.Hist.Ref) == 0 {
				t.Errorf("histogram %+v", d.Hist)
			}
		})
	}
}

func TestDriftErrors(t *testing.T) {
	for _, tt := range []struct {
		name     string
		ref, cur Column
		opt      Options
	}{
		{"types differ", Column{Num: []float64{1}}, Column{Cat: []string{"a"}}, Options{}},
		{"no current values", Column{Num: []float64{1, 2}}, Column{Num: []float64{math.NaN()}}, Options{}},
		{"ks on categories", Column{Cat: []string{"a", "b"}}, Column{Cat: []string{"a"}}, Options{Method: KS}},
		{"z-test on three categories", Column{Cat: []string{"a", "b", "c"}}, Column{Cat: []string{"a"}}, Options{Method: ZTest}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if d := DriftColumn(tt.ref, tt.cur, tt.opt); d.Error == "" || d.Drift {
				t.Errorf("got %+v, want an error", d)
			}
		})
	}
	if _, err := DriftDataset(nil, nil, Options{Method: "t-test"}); err == nil {
		t.Error("unknown method accepted")
	}
}

func TestDriftDataset(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var ref, cur []Column
	for i := range 4 {
		name := "x" + strconv.Itoa(i)
		shift := 0.0
		if i < 2 {
			shift = 1
		}
		ref = append(ref, Column{Name: name, Num: normal(r, 3000, 0, 1)})
		cur = append(cur, Column{Name: name, Num: normal(r, 3000, shift, 1)})
	}
	ref = append(ref, Column{Name: "absent", Num: []float64{1, 2, 3}})
	rep, err := DriftDataset(ref, cur, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Drifted != 2 || rep.Share != 0.5 || !rep.DatasetDrift || rep.DriftShare != 0.5 || rep.Columns[4].Error == "" {
		t.Errorf("report: drifted %d share %v dataset drift %v; columns %+v", rep.Drifted, rep.Share, rep.DatasetDrift, rep.Columns)
	}
	rep, _ = DriftDataset(ref, cur, Options{DriftShare: 0.75})
	if rep.DatasetDrift {
		t.Error("dataset drift at share 0.5 with a 0.75 threshold")
	}
}

// TestDriftMatchesScipy compares the statistics with scipy's on random
// samples of several sizes (ks_2samp exact and asymptotic,
// wasserstein_distance, chisquare, jensenshannon). It needs /usr/bin/python3
// with scipy (Debian: python3-scipy): skipped without, except in CI
// (CI=true) where it fails.
func TestDriftMatchesScipy(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import scipy").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with scipy is required in CI: %v", python, err)
		}
		t.Skipf("%s with scipy not available: %v", python, err)
	}
	const script = `
import json, sys
from scipy import stats
from scipy.spatial import distance
out = []
for c in json.load(sys.stdin):
    a, b = c["a"], c["b"]
    out.append({
        "ks": stats.ks_2samp(a, b, method="exact").pvalue if c["exact"] else stats.ks_2samp(a, b, method="asymp").pvalue,
        "d": stats.ks_2samp(a, b).statistic,
        "w": stats.wasserstein_distance(a, b),
        "chi": list(stats.chisquare(c["obs"], c["exp"])),
        "js": float(distance.jensenshannon(c["p"], c["q"])),
    })
json.dump(out, sys.stdout)
`
	type tcase struct {
		A     []float64 `json:"a"`
		B     []float64 `json:"b"`
		Exact bool      `json:"exact"`
		Obs   []float64 `json:"obs"`
		Exp   []float64 `json:"exp"`
		P     []float64 `json:"p"`
		Q     []float64 `json:"q"`
	}
	r := rand.New(rand.NewPCG(11, 12))
	var cases []tcase
	for _, sz := range []struct {
		n, m  int
		exact bool
	}{{5, 7, true}, {30, 30, true}, {100, 250, true}, {1000, 800, true}, {20000, 30000, false}} {
		c := tcase{A: normal(r, sz.n, 0, 1), B: normal(r, sz.m, 0.15, 1.1), Exact: sz.exact}
		// Rounded values make ties.
		if sz.n == 100 {
			for i := range c.A {
				c.A[i] = math.Round(c.A[i]*10) / 10
			}
			for i := range c.B {
				c.B[i] = math.Round(c.B[i]*10) / 10
			}
		}
		k := 2 + r.IntN(6)
		var so, se float64
		for range k {
			o, e := float64(1+r.IntN(100)), float64(1+r.IntN(100))
			c.Obs, c.Exp = append(c.Obs, o), append(c.Exp, e)
			so, se = so+o, se+e
		}
		for i := range c.Exp {
			c.Exp[i] *= so / se // chisquare wants equal sums
		}
		for range k {
			c.P, c.Q = append(c.P, r.Float64()), append(c.Q, r.Float64())
		}
		cases = append(cases, c)
	}
	in, _ := json.Marshal(cases)
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var want []struct {
		KS  float64    `json:"ks"`
		D   float64    `json:"d"`
		W   float64    `json:"w"`
		Chi [2]float64 `json:"chi"`
		JS  float64    `json:"js"`
	}
	if err := json.Unmarshal(outb, &want); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		a, b := slices.Clone(c.A), slices.Clone(c.B)
		sortFloats(a)
		sortFloats(b)
		d := KSStatistic(a, b)
		p := KSPValue(d, len(a), len(b))
		pTol := 1e-7
		if !c.Exact {
			pTol = 5e-3 // Stephens' approximation against scipy's kstwo
		}
		chi, chiP := ChiSquareGOF(c.Obs, c.Exp)
		checks := []struct {
			name      string
			got, want float64
			tol       float64
		}{
			{"ks statistic", d, want[i].D, 1e-12},
			{"ks p-value", p, want[i].KS, pTol},
			{"wasserstein", WassersteinSorted(a, b), want[i].W, 1e-9},
			{"chi-square", chi, want[i].Chi[0], 1e-9},
			{"chi-square p", chiP, want[i].Chi[1], 1e-9},
			{"jensen-shannon", JSDistance(c.P, c.Q), want[i].JS, 1e-9},
		}
		for _, ch := range checks {
			if math.Abs(ch.got-ch.want) > ch.tol*math.Max(1, math.Abs(ch.want)) {
				t.Errorf("case %d (n=%d, m=%d) %s: got %.12g, scipy %.12g", i, len(a), len(b), ch.name, ch.got, ch.want)
			}
		}
	}
}

// BenchmarkDriftDataset: reference and current of the same number of rows
// (100,000 and 1,000,000) × 20 columns (16 numeric: Wasserstein and
// histograms; 4 categorical: Jensen–Shannon).
func BenchmarkDriftDataset(b *testing.B) {
	for _, rows := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(rows), func(b *testing.B) {
			const numeric, categorical = 16, 4
			r := rand.New(rand.NewPCG(5, 6))
			var ref, cur []Column
			for j := range numeric {
				name := "n" + strconv.Itoa(j)
				ref = append(ref, Column{Name: name, Num: normal(r, rows, 0, 1)})
				cur = append(cur, Column{Name: name, Num: normal(r, rows, 0.01*float64(j), 1)})
			}
			for j := range categorical {
				name := "c" + strconv.Itoa(j)
				ref = append(ref, Column{Name: name, Cat: cats(r, rows, []float64{.4, .3, .2, .1}, "a", "b", "c", "d")})
				cur = append(cur, Column{Name: name, Cat: cats(r, rows, []float64{.25, .25, .25, .25}, "a", "b", "c", "d")})
			}
			b.ResetTimer()
			for b.Loop() {
				if _, err := DriftDataset(ref, cur, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
