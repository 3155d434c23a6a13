package logistic

import (
	"math"
	"math/rand"
	"testing"
)

func TestRecoversCoefficients(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	b, w := -0.5, []float64{1.5, -2, 0}
	var X [][]float64
	var y []float64
	for i := 0; i < 20000; i++ {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		z := b + w[0]*x[0] + w[1]*x[1] + w[2]*x[2]
		c := 0.0
		if r.Float64() < sigmoid(z) {
			c = 1
		}
		X = append(X, x)
		y = append(y, c)
	}
	p := DefaultParams()
	p.L2 = 0
	m, err := Fit([]string{"a", "b", "c"}, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Intercept-b) > 0.08 {
		t.Errorf("intercept %v, want %v", m.Intercept, b)
	}
	for j := range w {
		if math.Abs(m.Coef[j]-w[j]) > 0.08 {
			t.Errorf("coef[%d] = %v, want %v", j, m.Coef[j], w[j])
		}
	}
	// round trip
	bs, _ := m.Marshal()
	m2, err := Unmarshal(bs)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := m.Predict(X[0])
	p2, _ := m2.Predict(X[0])
	if p1 != p2 {
		t.Errorf("%v != %v after round trip", p1, p2)
	}
}

// Hand-computed: one binary feature, no penalty. With x=0: 1 positive of 4;
// x=1: 3 positives of 4. The MLE matches the group log-odds:
// b = log(1/3), b + w = log(3) ⇒ w = 2·log 3.
func TestHandComputed(t *testing.T) {
	X := [][]float64{{0}, {0}, {0}, {0}, {1}, {1}, {1}, {1}}
	y := []float64{1, 0, 0, 0, 1, 1, 1, 0}
	p := DefaultParams()
	p.L2 = 0
	m, err := Fit([]string{"x"}, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(m.Intercept-math.Log(1.0/3)) > 1e-7 || math.Abs(m.Coef[0]-2*math.Log(3)) > 1e-7 {
		t.Errorf("got b=%v w=%v, want %v %v", m.Intercept, m.Coef[0], math.Log(1.0/3), 2*math.Log(3))
	}
	// With L2 = 1 the stationarity conditions hold: Σ(p-y) = 0 and Σ(p-y)x + w = 0.
	m, err = Fit([]string{"x"}, X, y, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	var g0, g1 float64
	for i, x := range X {
		pr, _ := m.Predict(x)
		g0 += pr - y[i]
		g1 += (pr - y[i]) * x[0]
	}
	g1 += m.Coef[0]
	if math.Abs(g0) > 1e-7 || math.Abs(g1) > 1e-7 {
		t.Errorf("gradient (%v, %v) not zero", g0, g1)
	}
	if m.Coef[0] >= 2*math.Log(3) {
		t.Errorf("penalty did not shrink: %v", m.Coef[0])
	}
}

func TestErrors(t *testing.T) {
	X := [][]float64{{0}, {1}}
	if _, err := Fit([]string{"x"}, X, []float64{1, 1}, DefaultParams()); err == nil {
		t.Error("single class accepted")
	}
	if _, err := Fit([]string{"x"}, [][]float64{{math.NaN()}, {1}}, []float64{0, 1}, DefaultParams()); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := Fit([]string{"x"}, X, []float64{0, 2}, DefaultParams()); err == nil {
		t.Error("non 0/1 target accepted")
	}
	if _, err := Fit([]string{"x"}, X, []float64{0, 1}, Params{L2: -1, MaxIter: 1, Tol: 1}); err == nil {
		t.Error("negative l2 accepted")
	}
	// separable data without penalty stops at MaxIter without failing
	if _, err := Fit([]string{"x"}, X, []float64{0, 1}, Params{L2: 0, MaxIter: 30, Tol: 1e-8}); err != nil {
		t.Error(err)
	}
	if _, err := Unmarshal([]byte(`{"format":"hygie.gbdt/1"}`)); err == nil {
		t.Error("wrong format accepted")
	}
}
