package annotate

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
)

const python = "/usr/bin/python3"

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) != math.IsNaN(want) || (!math.IsNaN(want) && math.Abs(got-want) > tol) {
		t.Errorf("%s = %.6f, want %.6f (±%g)", name, got, want, tol)
	}
}

// Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
// section C: 4 coders, 12 units, nominal data, alpha = 0.743.
func TestKrippendorffAlphaPublishedExample(t *testing.T) {
	const miss = ""
	coders := [][]string{
		{"1", "2", "3", "3", "2", "1", "4", "1", "2", miss, miss, miss},
		{"1", "2", "3", "3", "2", "2", "4", "1", "2", "5", miss, "3"},
		{miss, "3", "3", "3", "2", "3", "4", "2", "2", "5", "1", miss},
		{"1", "2", "3", "3", "2", "4", "4", "1", "2", "5", "1", miss},
	}
	units := make([][]string, 12)
	for _, c := range coders {
		for u, v := range c {
			units[u] = append(units[u], v)
		}
	}
	a, n := KrippendorffAlpha(units)
	near(t, "alpha", a, 0.743, 0.0005)
	if n != 40 {
		t.Errorf("pairable values = %v, want 40", n)
	}
}

// The worked example of Fleiss' kappa (Wikipedia, "Fleiss' kappa"): 10
// subjects, 14 raters, 5 categories; P̄ = 0.378, P̄e = 0.213, κ = 0.210.
func TestFleissKappaWorkedExample(t *testing.T) {
	counts := [][]float64{
		{0, 0, 0, 0, 14}, {0, 2, 6, 4, 2}, {0, 0, 3, 5, 6}, {0, 3, 9, 2, 0}, {2, 2, 8, 1, 1},
		{7, 7, 0, 0, 0}, {3, 2, 6, 3, 0}, {2, 5, 3, 2, 2}, {6, 5, 2, 1, 0}, {0, 2, 2, 3, 7},
	}
	near(t, "kappa", FleissKappaCounts(counts), 0.20993, 0.00001)
}

func TestFleissKappaExcludesIncompleteItems(t *testing.T) {
	items := [][]string{{"a", "a", "b"}, {"a", "a", "a"}, {"b", "b", "b"}, {"a", "b"}, {"a"}}
	k, used, excl := FleissKappa(items)
	if used != 3 || excl != 2 {
		t.Fatalf("used %d, excluded %d; want 3, 2", used, excl)
	}
	want := FleissKappaCounts([][]float64{{2, 1}, {3, 0}, {0, 3}})
	near(t, "kappa", k, want, 1e-12)
}

func TestCohenKappaByHand(t *testing.T) {
	// 2x2 table: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no (n = 50):
	// po = 0.7, pe = 0.5·0.6 + 0.5·0.4 = 0.5, kappa = 0.4.
	var a, b []string
	add := func(x, y string, n int) {
		for range n {
			a, b = append(a, x), append(b, y)
		}
	}
	add("yes", "yes", 20)
	add("yes", "no", 5)
	add("no", "yes", 10)
	add("no", "no", 15)
	add("", "yes", 3) // missing: left out
	k, po, n := CohenKappa(a, b)
	near(t, "kappa", k, 0.4, 1e-12)
	near(t, "observed", po, 0.7, 1e-12)
	if n != 50 {
		t.Errorf("n = %d", n)
	}
	if k, _, _ := CohenKappa([]string{"x", "x"}, []string{"x", "x"}); !math.IsNaN(k) {
		t.Errorf("kappa with a single category = %v, want NaN (as scikit-learn)", k)
	}
}

const refScript = `
import json, sys
import numpy as np
from sklearn.metrics import cohen_kappa_score
d = json.load(sys.stdin)
out = {"cohen": [float(cohen_kappa_score(p[0], p[1])) for p in d["pairs"]]}
try:
    from statsmodels.stats.inter_rater import fleiss_kappa
    out["fleiss"] = [float(fleiss_kappa(np.array(t), method="fleiss")) for t in d["tables"]]
except ImportError:
    pass
json.dump(out, sys.stdout)
`

// TestAgainstReferences compares Cohen's kappa with scikit-learn's
// cohen_kappa_score and Fleiss' kappa with statsmodels' fleiss_kappa on
// random data (skipped where python3 with scikit-learn is missing; the
// Fleiss part where statsmodels is missing).
func TestAgainstReferences(t *testing.T) {
	if err := exec.Command(python, "-c", "import sklearn").Run(); err != nil {
		t.Skipf("%s with sklearn not available: %v", python, err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	cats := []string{"a", "b", "c", "d"}
	var pairs [][2][]string
	for range 20 {
		n := 10 + rng.IntN(60)
		var x, y []string
		for range n {
			v := cats[rng.IntN(len(cats))]
			x = append(x, v)
			if rng.Float64() < 0.6 {
				y = append(y, v)
			} else {
				y = append(y, cats[rng.IntN(len(cats))])
			}
		}
		pairs = append(pairs, [2][]string{x, y})
	}
	var tables [][][]float64
	for range 20 {
		raters := 2 + rng.IntN(6)
		items := 5 + rng.IntN(40)
		tab := make([][]float64, items)
		for i := range tab {
			tab[i] = make([]float64, 3)
			pref := rng.IntN(3)
			for range raters {
				if rng.Float64() < 0.5 {
					tab[i][pref]++
				} else {
					tab[i][rng.IntN(3)]++
				}
			}
		}
		tables = append(tables, tab)
	}
	in, _ := json.Marshal(map[string]any{"pairs": pairs, "tables": tables})
	cmd := exec.Command(python, "-c", refScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var ref struct {
		Cohen  []float64 `json:"cohen"`
		Fleiss []float64 `json:"fleiss"`
	}
	if err := json.Unmarshal(out, &ref); err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		k, _, _ := CohenKappa(p[0], p[1])
		near(t, "cohen", k, ref.Cohen[i], 1e-9)
	}
	if ref.Fleiss == nil {
		t.Log("statsmodels not available: Fleiss' kappa checked against the worked example only")
		return
	}
	for i, tab := range tables {
		near(t, "fleiss", FleissKappaCounts(tab), ref.Fleiss[i], 1e-9)
	}
}

func TestOneVsRest(t *testing.T) {
	got := oneVsRest([][]string{{"A", "B", ""}}, "A")
	if strings.Join(got[0], ",") != "A,other," {
		t.Errorf("got %q", got[0])
	}
}

func TestSpanAgreement(t *testing.T) {
	a := [][]Unit{{{0, 5, "NOM"}, {10, 14, "DATE"}}, {{2, 4, "NOM"}}}
	b := [][]Unit{{{0, 5, "NOM"}, {11, 14, "DATE"}}, {{2, 4, "PRENOM"}, {6, 8, "NOM"}}}
	r := SpanAgreement(a, b, "")
	// exact: 1 match of 3+4 spans: 2/7; overlap: a matched 2 of 3, b 2 of 4.
	near(t, "exact", float64(r.Exact), 2.0/7, 1e-6)
	p, rc := 2.0/4, 2.0/3
	near(t, "overlap", float64(r.Overlap), 2*p*rc/(p+rc), 1e-6)
	r = SpanAgreement(a, b, "DATE")
	near(t, "exact DATE", float64(r.Exact), 0, 1e-9)
	near(t, "overlap DATE", float64(r.Overlap), 1, 1e-9)
	r = SpanAgreement([][]Unit{{}}, [][]Unit{{}}, "")
	if !math.IsNaN(float64(r.Exact)) {
		t.Errorf("no spans: exact = %v, want NaN", r.Exact)
	}
}

// Unitizing alpha, computed by hand from the formula (see UnitizingAlpha):
// L = 10, coder A marks [2,5), coder B [3,5).
// Sections A: gap(0,2) unit(2,3) gap(5,5); B: gap(0,3) unit(3,2) gap(5,5).
// uDo = 2·((2−3)² + (5−5)²) / (2·1·10²) = 0.01.
// uDe: N_c = 2; A's unit (l=3): (1/3)(54−27+3) = 10, plus 9·(5−3+1) for A's
// gap of 5, 9·1 and 9·3 for B's gaps of 3 and 5: 73. B's unit (l=2):
// (1/3)(16−12+2) = 2, plus 4·(1+4) for A's gaps of 2 and 5, 4·(2+4) for
// B's: 46. uDe = (2/10)·119 / (20·19 − (3·2 + 2·1)) = 23.8/372.
// uα = 1 − 0.01·372/23.8 = 0.843697.
func TestUnitizingAlphaByHand(t *testing.T) {
	a := []Unit{{2, 5, "X"}}
	b := []Unit{{3, 5, "X"}}
	near(t, "u-alpha", UnitizingAlpha([][]Unit{a, b}, "X", 10), 1-0.01*372/23.8, 1e-9)
	near(t, "u-alpha same", UnitizingAlpha([][]Unit{a, a}, "X", 10), 1, 1e-12)
	// Other labels are gaps for X.
	near(t, "u-alpha other label", UnitizingAlpha([][]Unit{append(a, Unit{7, 9, "Y"}), b}, "X", 10), 1-0.01*372/23.8, 1e-9)
	if !math.IsNaN(UnitizingAlpha([][]Unit{nil, nil}, "X", 10)) {
		t.Error("no unit: want NaN")
	}
	// A unit of A inside a gap of B, and nothing in B: δ² = l² both ways.
	// L = 4, A: unit [1,3); B: nothing. uDo = 2·4/(2·16) = 0.25.
	// uDe: N_c = 1; unit l=2: 0 + 4·(1 + 2·... ) gaps ≥ 2: A's none (1,1),
	// B's gap of 4: 4·3 = 12. uDe = (2/4)·12/(8·7 − 2) = 6/54.
	// uα = 1 − 0.25·54/6 = −1.25.
	near(t, "u-alpha disjoint", UnitizingAlpha([][]Unit{{{1, 3, "X"}}, nil}, "X", 4), 1-0.25*54/6, 1e-9)
}

func TestAgreementReportWarnings(t *testing.T) {
	var items []Item
	for i := range 12 {
		a, b := "neg", "neg"
		if i == 0 {
			b = "pos"
		}
		items = append(items, Item{ID: int64(i), Answers: map[string]Answer{"ann": {Choices: []string{a}}, "bob": {Choices: []string{b}}}})
	}
	r := Agreement(KindClassification, []string{"neg", "pos"}, items)
	if r.Items != 12 || len(r.Pairs) != 1 {
		t.Fatalf("report %+v", r)
	}
	w := strings.Join(r.Warnings, "\n")
	for _, want := range []string{"fewer than 30", "label pos has a prevalence of 4.2%", "kappa paradox"} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	near(t, "kappa", float64(r.Pairs[0].Kappa), 0, 1e-12)
}

func TestAgreementMultiLabelAndSpans(t *testing.T) {
	items := []Item{
		{ID: 1, Answers: map[string]Answer{"a": {Choices: []string{"x", "y"}}, "b": {Choices: []string{"x"}}}},
		{ID: 2, Answers: map[string]Answer{"a": {Choices: []string{"y"}}, "b": {Choices: []string{"y"}}}},
		{ID: 3, Answers: map[string]Answer{"a": {}, "b": {Choices: []string{"x"}}}},
	}
	r := Agreement(KindMultiLabel, []string{"x", "y"}, items)
	// label x: a = (1,0,0), b = (1,0,1): alpha over 6 binary values.
	want, _ := KrippendorffAlpha([][]string{{"present", "present"}, {"absent", "absent"}, {"absent", "present"}})
	near(t, "alpha x", float64(r.Labels["x"].Alpha), want, 1e-6)
	sp := []Item{
		{ID: 1, Length: 10, Answers: map[string]Answer{"a": {Spans: []Unit{{2, 5, "X"}}}, "b": {Spans: []Unit{{3, 5, "X"}}}}},
	}
	r = Agreement(KindSpan, []string{"X"}, sp)
	near(t, "u-alpha", float64(*r.Labels["X"].UnitizingAlpha), 1-0.01*372/23.8, 1e-6)
	if _, err := json.Marshal(r); err != nil {
		t.Fatal(err)
	}
}

// unitizingAlphaNaive is the formula of UnitizingAlpha summed over every
// pair of sections, the reference for the merge-based implementation.
func unitizingAlphaNaive(coders [][]Unit, label string, L int) float64 {
	m := len(coders)
	secs := make([][]section, m)
	nc := 0
	for i, us := range coders {
		var mine []Unit
		for _, u := range us {
			if u.Label == label {
				mine = append(mine, u)
			}
		}
		secs[i] = sections(mine, L)
		for _, s := range secs[i] {
			if s.v {
				nc++
			}
		}
	}
	do := 0.0
	for i := range secs {
		for j := range secs {
			if i != j {
				for _, g := range secs[i] {
					for _, h := range secs[j] {
						do += delta2(g, h)
					}
				}
			}
		}
	}
	fm, fL := float64(m), float64(L)
	do /= fm * (fm - 1) * fL * fL
	num, sub := 0.0, 0.0
	for i := range secs {
		for _, g := range secs[i] {
			if !g.v {
				continue
			}
			l := float64(g.l)
			t := float64(nc-1) / 3 * (2*l*l*l - 3*l*l + l)
			for j := range secs {
				for _, h := range secs[j] {
					if !h.v && h.l >= g.l {
						t += l * l * float64(h.l-g.l+1)
					}
				}
			}
			num += t
			sub += l * (l - 1)
		}
	}
	return 1 - do/(2/fL*num/(fm*fL*(fm*fL-1)-sub))
}

func randomCoders(rng *rand.Rand, m, L, maxUnits int) [][]Unit {
	coders := make([][]Unit, m)
	for i := range coders {
		pos := 0
		for range rng.IntN(maxUnits + 1) {
			s := pos + rng.IntN(20)
			e := s + 1 + rng.IntN(15)
			if e > L {
				break
			}
			coders[i] = append(coders[i], Unit{s, e, []string{"X", "Y"}[rng.IntN(2)]})
			pos = e
		}
	}
	return coders
}

func TestUnitizingAlphaMatchesNaiveSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 200 {
		m, L := 2+rng.IntN(3), 50+rng.IntN(300)
		coders := randomCoders(rng, m, L, 12)
		got, want := UnitizingAlpha(coders, "X", L), unitizingAlphaNaive(coders, "X", L)
		near(t, "u-alpha", got, want, 1e-9)
	}
}

func BenchmarkUnitizingAlpha(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	L := 200_000 // about 1,000 notes
	coders := randomCoders(rng, 3, L, 10_000)
	b.ResetTimer()
	for range b.N {
		UnitizingAlpha(coders, "X", L)
	}
}

func TestLabelStudioConfig(t *testing.T) {
	span := LabelStudioConfig(Project{Kind: KindSpan, Labels: []Label{{Name: "NOM", Color: "#e6194b", Shortcut: "1"}, {Name: `A"<`, Color: "#000000"}}})
	for _, want := range []string{`<Labels name="label" toName="text">`, `<Label value="NOM" background="#e6194b" hotkey="1"/>`, `<Label value="A&#34;&lt;" background="#000000"/>`, `<Text name="text" value="$text"/>`} {
		if !strings.Contains(span, want) {
			t.Errorf("span config lacks %s:\n%s", want, span)
		}
	}
	multi := LabelStudioConfig(Project{Kind: KindMultiLabel, Labels: []Label{{Name: "x", Color: "#000000", Shortcut: "x"}}})
	if !strings.Contains(multi, `<Choices name="choice" toName="text" choice="multiple">`) || !strings.Contains(multi, `<Choice value="x" hotkey="x"/>`) {
		t.Errorf("multilabel config:\n%s", multi)
	}
}
