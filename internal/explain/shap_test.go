package explain

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/hygie-health/hygie/internal/learn/gbdt"
)

// condExp is E[tree(x) | x_S] by the path-dependent rule (Algorithm 1 of
// Lundberg et al.): a split on a known feature follows x, a split on an
// unknown one averages both children weighted by their covers.
func condExp(e *Ensemble, t *Tree, i int, r []float64, known uint) float64 {
	n := &t.Nodes[i]
	if n.IsLeaf() {
		return n.Value
	}
	if known&(1<<n.Feature) != 0 {
		return condExp(e, t, e.next(n, r), r, known)
	}
	return (t.Nodes[n.Left].Cover*condExp(e, t, n.Left, r, known) + t.Nodes[n.Right].Cover*condExp(e, t, n.Right, r, known)) / n.Cover
}

// bruteSHAP computes the exact Shapley values of class k by enumerating
// every subset of the features (at most 12).
func bruteSHAP(t *testing.T, e *Ensemble, x []float64, k int) (float64, []float64) {
	t.Helper()
	M := len(e.Features)
	if M > 12 {
		t.Fatalf("%d features: too many to enumerate", M)
	}
	r, err := e.row(x)
	if err != nil {
		t.Fatal(err)
	}
	v := make([]float64, 1<<M)
	for S := range v {
		v[S] = e.Base[k]
		for ti := range e.Trees {
			if e.Trees[ti].Class == k {
				v[S] += condExp(e, &e.Trees[ti], 0, r, uint(S))
			}
		}
	}
	fact := make([]float64, M+1)
	fact[0] = 1
	for i := 1; i <= M; i++ {
		fact[i] = fact[i-1] * float64(i)
	}
	phi := make([]float64, M)
	for i := range M {
		for S := range v {
			if S&(1<<i) != 0 {
				continue
			}
			s := popcount(S)
			phi[i] += fact[s] * fact[M-s-1] / fact[M] * (v[S|1<<i] - v[S])
		}
	}
	return v[0], phi
}

func popcount(s int) int {
	n := 0
	for ; s != 0; s &= s - 1 {
		n++
	}
	return n
}

// checkSHAP checks, for each row and class: local accuracy (base + Σ φ =
// the raw prediction, 1e-9), equality with the enumerated Shapley values
// (1e-9) and zero for the features in unused.
func checkSHAP(t *testing.T, e *Ensemble, X [][]float64, unused ...int) {
	t.Helper()
	for i, x := range X {
		raw, err := e.PredictRaw(x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range raw {
			base, phi, err := e.SHAPClass(x, k)
			if err != nil {
				t.Fatal(err)
			}
			sum := base
			for _, p := range phi {
				sum += p
			}
			if math.Abs(sum-raw[k]) > 1e-9 {
				t.Errorf("row %d class %d: base + Σ φ = %v, prediction %v", i, k, sum, raw[k])
			}
			for _, j := range unused {
				if phi[j] != 0 {
					t.Errorf("row %d class %d: unused feature %d has φ = %v", i, k, j, phi[j])
				}
			}
			if len(e.Features) > 12 {
				continue
			}
			bb, bphi := bruteSHAP(t, e, x, k)
			if math.Abs(bb-base) > 1e-9 {
				t.Errorf("row %d class %d: base %v, enumeration %v", i, k, base, bb)
			}
			for j := range phi {
				if math.Abs(phi[j]-bphi[j]) > 1e-9 {
					t.Errorf("row %d class %d feature %d: φ %v, enumeration %v", i, k, j, phi[j], bphi[j])
				}
			}
		}
	}
}

// gbdtData: 6 features, the 4th categorical (5 codes), the 6th constant
// (never split on), about 15% missing values.
func gbdtData(n int, seed uint64) ([]gbdt.Feature, [][]float64, []float64, []float64) {
	r := rand.New(rand.NewPCG(seed, 3))
	feats := []gbdt.Feature{{Name: "age", Type: gbdt.Numeric}, {Name: "hr", Type: gbdt.Numeric}, {Name: "lactate", Type: gbdt.Numeric},
		{Name: "ward", Type: gbdt.Categorical, Categories: []string{"a", "b", "c", "d", "e"}}, {Name: "bmi", Type: gbdt.Numeric}, {Name: "site", Type: gbdt.Numeric}}
	X := make([][]float64, n)
	y, yb := make([]float64, n), make([]float64, n)
	for i := range X {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), float64(r.IntN(5)), r.NormFloat64(), 1}
		f := x[0] + 0.8*x[1]*x[2] + []float64{0, 1, -1, 0.5, 0}[int(x[3])] + 0.3*x[4]
		for j := range 5 {
			if r.Float64() < 0.15 {
				x[j] = math.NaN()
			}
		}
		if math.IsNaN(x[0]) {
			f += 1
		}
		X[i], y[i] = x, f+0.3*r.NormFloat64()
		if f+0.5*r.NormFloat64() > 0.2 {
			yb[i] = 1
		}
	}
	return feats, X, y, yb
}

// TestSHAPGBDT trains hygie models and checks TreeSHAP against the
// enumerated Shapley values and the model's own raw predictions.
func TestSHAPGBDT(t *testing.T) {
	feats, X, y, yb := gbdtData(600, 11)
	_, Xt, _, _ := gbdtData(25, 12)
	Xt = append(Xt, []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		[]float64{0, 0, 0, 7, 0, 1},   // unknown category code: missing
		[]float64{0, 0, 0, 1.5, 0, 1}) // not a code: missing
	ym := make([]float64, len(y))
	for i, v := range y {
		ym[i] = float64(min(2, max(0, int(v+1))))
	}
	for _, c := range []struct {
		name string
		loss string
		y    []float64
	}{{"regression", gbdt.SquaredError, y}, {"binary", gbdt.LogLoss, yb}, {"multinomial", gbdt.Multinomial, ym}} {
		t.Run(c.name, func(t *testing.T) {
			p := gbdt.DefaultParams()
			p.Trees, p.MaxLeaves, p.MaxDepth, p.MinSamplesLeaf, p.Loss = 20, 12, 5, 10, c.loss
			m, err := gbdt.Fit(feats, X, c.y, p)
			if err != nil {
				t.Fatal(err)
			}
			e, err := FromGBDT(m)
			if err != nil {
				t.Fatal(err)
			}
			if !e.Covers {
				t.Fatal("the trained model has no covers")
			}
			for _, x := range Xt {
				raw, err := e.PredictRaw(x)
				if err != nil {
					t.Fatal(err)
				}
				if c.loss == gbdt.Multinomial {
					want := m.RawMulti(nil, cleanRow(m, x))
					for k := range want {
						if raw[k] != want[k] {
							t.Errorf("class %d raw %v, gbdt %v", k, raw[k], want[k])
						}
					}
				} else if want := m.Raw(cleanRow(m, x)); raw[0] != want {
					t.Errorf("raw %v, gbdt %v", raw[0], want)
				}
				if c.loss == gbdt.LogLoss {
					pr, _ := m.Predict(x)
					if got, _ := e.Probability(x); math.Abs(got-pr) > 1e-15 {
						t.Errorf("probability %v, gbdt %v", got, pr)
					}
				}
			}
			checkSHAP(t, e, Xt, 5)
		})
	}
}

// cleanRow maps unknown category codes to NaN as gbdt.Model.Predict does.
func cleanRow(m *gbdt.Model, x []float64) []float64 {
	r := append([]float64(nil), x...)
	for j, f := range m.Features {
		if f.Type == gbdt.Categorical && !math.IsNaN(r[j]) && (r[j] < 0 || int(r[j]) >= len(f.Categories) || r[j] != math.Trunc(r[j])) {
			r[j] = math.NaN()
		}
	}
	return r
}

// TestSHAPNoCovers: a model saved before covers were recorded predicts but
// is not explained.
func TestSHAPNoCovers(t *testing.T) {
	feats, X, y, _ := gbdtData(200, 5)
	p := gbdt.DefaultParams()
	p.Trees = 3
	m, err := gbdt.Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range m.Trees {
		for i := range tr.Nodes {
			tr.Nodes[i].Cover = 0
		}
	}
	e, err := FromGBDT(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Predict(X[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.SHAP(X[0]); err == nil || err.Error() != ErrNoCovers {
		t.Fatalf("SHAP without covers: %v", err)
	}
}

// TestSHAPRepeatedFeature: a hand-made tree splitting twice on the same
// feature along a path (the UNWIND case) and a stump.
func TestSHAPRepeatedFeature(t *testing.T) {
	e := &Ensemble{Link: Identity, Classes: 1, Base: []float64{0.5},
		Features: []Feature{{Name: "a"}, {Name: "b"}, {Name: "c"}},
		Trees: []Tree{{Nodes: []Node{
			{Left: 1, Right: 2, Feature: 0, Threshold: 0, Cover: 10},
			{Left: 3, Right: 4, Feature: 1, Threshold: 1, Cover: 6},
			{Left: 5, Right: 6, Feature: 0, Threshold: 2, Cover: 4, DefaultLeft: true},
			{Left: 7, Right: 8, Feature: 0, Threshold: -1, Cover: 4},
			{Left: -1, Value: 2, Cover: 2},
			{Left: -1, Value: -1, Cover: 1},
			{Left: -1, Value: 4, Cover: 3},
			{Left: -1, Value: 3, Cover: 1},
			{Left: -1, Value: -2, Cover: 3},
		}}, {Nodes: []Node{{Left: -1, Value: 0.25, Cover: 10}}}},
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	var X [][]float64
	for _, a := range []float64{-2, -0.5, 1, 3, math.NaN()} {
		for _, b := range []float64{0, 2, math.NaN()} {
			X = append(X, []float64{a, b, 0})
		}
	}
	checkSHAP(t, e, X, 2)
}
