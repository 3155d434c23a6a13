package risk

import (
	"math"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// Six records in three classes: {a,a,a}, {b,b}, {c}.
var header = []string{"zip", "sex", "diag"}
var rows = [][]string{
	{"75001", "F", "flu"}, {"75001", "F", "flu"}, {"75001", "F", "cold"},
	{"75002", "M", "flu"}, {"75002", "M", "flu"},
	{"75003", "F", "cancer"},
}

func TestAssessByHand(t *testing.T) {
	r, err := Assess(header, rows, Options{QuasiIdentifiers: []string{"zip", "sex"}, Sensitive: []string{"diag"}, SmallClass: 3, Threshold: 0.4})
	if err != nil {
		t.Fatal(err)
	}
	if r.Classes != 3 || r.K != 1 || !near(r.AverageClass, 2) {
		t.Fatalf("classes %d k %d avg %g", r.Classes, r.K, r.AverageClass)
	}
	if len(r.SizeHistogram) != 3 || r.SizeHistogram[0] != (SizeCount{1, 1, 1}) || r.SizeHistogram[2] != (SizeCount{3, 1, 3}) {
		t.Fatalf("histogram %+v", r.SizeHistogram)
	}
	if r.SmallClasses.Records != 3 || r.SmallClasses.Classes != 2 {
		t.Fatalf("small %+v", r.SmallClasses)
	}
	// Prosecutor: highest 1/min = 1, average = classes/rows = 3/6, at risk
	// (> 0.4): the classes of 1 and 2 → 3 of 6 records.
	p := r.Prosecutor
	if !near(p.Highest, 1) || !near(p.Average, 0.5) || !near(p.RecordsAtRisk, 0.5) {
		t.Fatalf("prosecutor %+v", p)
	}
	// The table is the population: journalist = prosecutor, marketer = average.
	if r.Journalist != p || !near(r.Marketer.Average, 0.5) {
		t.Fatalf("journalist %+v marketer %+v", r.Journalist, r.Marketer)
	}
	u := r.Uniqueness
	if u.SampleUniques != 1 || !near(u.Sample, 1.0/6) || !near(u.Zayatz, 1.0/6) || u.DankarModel != "zayatz" {
		t.Fatalf("uniqueness %+v", u)
	}
	if r.SinglingOut.Pass || !strings.Contains(r.SinglingOut.Verdict, "1 records (16.67%) are unique") {
		t.Fatalf("singling out %+v", r.SinglingOut)
	}
	// zip alone, sex alone and both: zip and zip+sex make 75003 unique.
	if r.Linkability.Combinations != 3 || r.Linkability.UniqueCombinations != 2 || r.Linkability.Riskiest[0].Columns[0] != "zip" {
		t.Fatalf("linkability %+v", r.Linkability)
	}
	a := r.Inference.Attributes[0]
	// {b,b} and {c} are homogeneous; the {a} class has flu 2/3, cold 1/3.
	if r.Inference.Pass || a.DistinctL != 1 || a.HomogeneousRecords != 3 || !near(a.EntropyL, 1) {
		t.Fatalf("inference %+v", r.Inference)
	}
	// EMD of {c}: 1/2 (|1 − 1/6| + 4/6 + 1/6) = 5/6.
	if !near(a.T, 5.0/6) {
		t.Fatalf("t = %g", a.T)
	}
	for _, v := range []string{r.SinglingOut.Verdict, r.Linkability.Verdict, r.Inference.Verdict, a.Verdict} {
		if strings.Contains(v, "75003") || strings.Contains(v, "cancer") {
			t.Fatalf("a verdict quotes a value of the table: %s", v)
		}
	}
}

func TestAssessSamplingFraction(t *testing.T) {
	r, err := Assess(header, rows, Options{QuasiIdentifiers: []string{"zip", "sex"}, SamplingFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	// Population classes estimated as f/π: 6, 4, 2.
	if !near(r.Journalist.Highest, 0.5) || !near(r.Journalist.Average, 3.0/12) || !near(r.Marketer.Average, 0.25) {
		t.Fatalf("journalist %+v marketer %+v", r.Journalist, r.Marketer)
	}
	if r.Uniqueness.PopulationSize != 12 {
		t.Fatalf("population %g", r.Uniqueness.PopulationSize)
	}
}

func TestAssessErrors(t *testing.T) {
	for _, o := range []Options{{}, {QuasiIdentifiers: []string{"nope"}}, {QuasiIdentifiers: []string{"zip"}, SamplingFraction: 2}, {QuasiIdentifiers: []string{"zip"}, Sensitive: []string{"x"}}} {
		if _, err := Assess(header, rows, o); errs.CodeOf(err) != errs.Invalid {
			t.Errorf("%+v: err = %v", o, err)
		}
	}
}

// TestZayatzByHand: population of N = 4, sample n = 2, one unique class and
// one class of 1 (two sample uniques, u = 2). P(X=1) for a class of size 1
// is n/N = 1/2 for both, so a sample unique is a population unique with
// probability 1, and the estimate is 2 uniques / π = 4.
func TestZayatzByHand(t *testing.T) {
	if got := zayatz(map[int]int{1: 2}, 2, 4, 0.5); !near(got, 4) {
		t.Fatalf("zayatz = %g", got)
	}
	// Sizes 1 (×1) and 2 (×1), n = 3, N = 6: P1 = 3/6 = 1/2; for size 2,
	// P(X=1) = 2·C(4,2)/C(6,3) = 12/20 = 3/5. Conditional = (1/2)/(1/2+3/5) = 5/11;
	// estimate = 1 · 5/11 / (1/2) = 10/11.
	if got := zayatz(map[int]int{1: 1, 2: 1}, 3, 6, 0.5); !near(got, 10.0/11) {
		t.Fatalf("zayatz = %g", got)
	}
}

// TestPitman checks the fit against an independent maximisation of the
// likelihood, and Dankar's rule: Pitman for sampling fractions up to 0.1,
// Zayatz above.
func TestPitman(t *testing.T) {
	// A heavy-tailed class size histogram (Zipf-like), n = 1000.
	hist := map[int]int{1: 300, 2: 80, 3: 40, 4: 20, 5: 10, 10: 5, 50: 1, 100: 1}
	n := 0
	for s, c := range hist {
		n += s * c
	}
	pf := 0.01
	N := float64(n) / pf
	v, ok := pitman(hist, n, N)
	if !ok {
		t.Fatal("no convergence")
	}
	if v < float64(hist[1]) || v > N {
		t.Fatalf("estimate %g outside [%d, %g]", v, hist[1], N)
	}
	// Reference: the log-likelihood maximised independently with mpmath
	// (numerical derivatives, findroot): θ = 97.4765, α = 0.540037,
	// Γ(θ+1)/Γ(θ+α) N^α = 3921.37685740888.
	if math.Abs(v-3921.37685740888) > 1e-6*3921 {
		t.Fatalf("pitman = %.12g, want 3921.37685740888", v)
	}
	e := EstimatePopulationUniques(hist, n, pf)
	if e.Model != "pitman" || !near(e.Dankar, v/N) || !near(e.Pitman, v/N) {
		t.Fatalf("estimate %+v", e)
	}
	if e2 := EstimatePopulationUniques(hist, n, 0.5); e2.Model != "zayatz" || !near(e2.Dankar, e2.Zayatz) {
		t.Fatalf("pf 0.5: %+v", e2)
	}
	if e3 := EstimatePopulationUniques(map[int]int{2: 5}, 10, 0.01); e3.Dankar != 0 || e3.Model != "none" {
		t.Fatalf("no uniques: %+v", e3)
	}
}
