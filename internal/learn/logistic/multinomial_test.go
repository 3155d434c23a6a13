package logistic

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"testing"
)

// softmax data: 3 classes, features on different scales (one shifted far
// from zero), true weights known.
func softmaxData(n int, seed int64) ([][]float64, []int) {
	r := rand.New(rand.NewSource(seed))
	W := [][]float64{{1, -0.02, 0.5, 0}, {-0.5, 0.03, 0, 1}, {0, 0, -1, -1}}
	b := []float64{0.2, -0.3, 0}
	var X [][]float64
	var y []int
	for i := 0; i < n; i++ {
		x := []float64{r.NormFloat64(), 100 + 30*r.NormFloat64(), float64(r.Intn(2)), r.Float64()}
		z := make([]float64, 3)
		var e float64
		for c := range z {
			z[c] = b[c]
			for j, v := range x {
				z[c] += W[c][j] * (v - []float64{0, 100, 0, 0}[j])
			}
			z[c] = math.Exp(z[c])
			e += z[c]
		}
		u, c := r.Float64()*e, 0
		for ; c < 2 && u > z[c]; c++ {
			u -= z[c]
		}
		X, y = append(X, x), append(y, c)
	}
	return X, y
}

func TestMultinomialStationary(t *testing.T) {
	X, y := softmaxData(3000, 1)
	m, err := FitMultinomial([]string{"a", "b", "c", "d"}, X, y, 0, DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if m.Classes != 3 {
		t.Fatalf("classes %d", m.Classes)
	}
	// gradient of the objective at the solution: Σ(p−y) = 0 per class
	// (unpenalised intercepts) and Σ(p−y)x + L2·w = 0
	gb := make([]float64, 3)
	gw := make([][]float64, 3)
	for c := range gw {
		gw[c] = append([]float64(nil), m.Coef[c]...) // L2 = 1
	}
	for i, x := range X {
		p, err := m.PredictProba(x)
		if err != nil {
			t.Fatal(err)
		}
		for c := range p {
			r := p[c]
			if c == y[i] {
				r--
			}
			gb[c] += r
			for j, v := range x {
				gw[c][j] += r * v
			}
		}
	}
	for c := range gb {
		if math.Abs(gb[c]) > 1e-4 {
			t.Errorf("intercept gradient %d: %v", c, gb[c])
		}
		for j := range gw[c] {
			if math.Abs(gw[c][j]) > 1e-2 {
				t.Errorf("weight gradient %d,%d: %v", c, j, gw[c][j])
			}
		}
	}
	// round trip
	b, _ := m.Marshal()
	m2, err := UnmarshalMultinomial(b)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := m.PredictProba(X[7])
	p2, _ := m2.PredictProba(X[7])
	for c := range p1 {
		if p1[c] != p2[c] {
			t.Errorf("round trip changed %v to %v", p1, p2)
		}
	}
	if cl, _ := m.Predict(X[7]); p1[cl] < p1[0] || p1[cl] < p1[1] || p1[cl] < p1[2] {
		t.Errorf("Predict %d, probabilities %v", cl, p1)
	}
	if _, err := UnmarshalMultinomial([]byte(`{"format":"hygie.logistic/1"}`)); err == nil {
		t.Error("binary format accepted")
	}
}

func TestMultinomialErrors(t *testing.T) {
	X := [][]float64{{0}, {1}, {2}}
	for _, c := range []struct {
		name string
		X    [][]float64
		y    []int
		k    int
	}{
		{"single class", X, []int{1, 1, 1}, 0},
		{"negative", X, []int{0, -1, 1}, 0},
		{"beyond k", X, []int{0, 1, 2}, 2},
		{"k = 1", X, []int{0, 0, 0}, 1},
		{"NaN", [][]float64{{math.NaN()}, {1}, {2}}, []int{0, 1, 0}, 0},
		{"lengths", X, []int{0, 1}, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := FitMultinomial([]string{"x"}, c.X, c.y, c.k, DefaultParams()); err == nil {
				t.Error("accepted")
			}
		})
	}
}

const multinomialScript = `
import json, sys, warnings
import numpy as np
from sklearn.linear_model import LogisticRegression
warnings.simplefilter("ignore")
d = json.load(sys.stdin)
X = np.array(d["X"]); y = np.array(d["y"])
# newton-cg: scikit-learn's lbfgs stops on a relative decrease of 64·eps of
# the objective, short of the optimum on unscaled features (here 3e-3 away
# in the coefficients)
m = LogisticRegression(C=d["C"], multi_class="multinomial", solver="newton-cg", tol=1e-12, max_iter=10000).fit(X, y)
json.dump({"intercept": m.intercept_.tolist(), "coef": m.coef_.tolist(), "proba": m.predict_proba(X[:50]).tolist()}, sys.stdout)
`

// TestMultinomialMatchesSklearn compares coefficients and probabilities with
// scikit-learn's multinomial LogisticRegression (C = 1/L2). Skipped without
// /usr/bin/python3 and sklearn, unless CI=true.
func TestMultinomialMatchesSklearn(t *testing.T) {
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import sklearn").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s with sklearn not available: %v", python, err)
		}
		t.Skipf("%s with sklearn not available: %v", python, err)
	}
	X, y := softmaxData(2000, 5)
	for _, l2 := range []float64{1, 10} {
		in, _ := json.Marshal(map[string]any{"X": X, "y": y, "C": 1 / l2})
		cmd := exec.Command(python, "-c", multinomialScript)
		cmd.Stdin = bytes.NewReader(in)
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scikit-learn: %v\n%s", err, stderr.String())
		}
		var want struct {
			Intercept []float64   `json:"intercept"`
			Coef      [][]float64 `json:"coef"`
			Proba     [][]float64 `json:"proba"`
		}
		if err := json.Unmarshal(out, &want); err != nil {
			t.Fatal(err)
		}
		p := DefaultParams()
		p.L2 = l2
		m, err := FitMultinomial([]string{"a", "b", "c", "d"}, X, y, 3, p)
		if err != nil {
			t.Fatal(err)
		}
		var dc, dp float64
		for c := 0; c < 3; c++ {
			// intercepts are unpenalised, so determined up to a common
			// shift: compare them centred
			dc = math.Max(dc, math.Abs((m.Intercepts[c]-mean(m.Intercepts))-(want.Intercept[c]-mean(want.Intercept))))
			for j := range m.Coef[c] {
				dc = math.Max(dc, math.Abs(m.Coef[c][j]-want.Coef[c][j]))
			}
		}
		for i, pw := range want.Proba {
			pr, _ := m.PredictProba(X[i])
			for c := range pr {
				dp = math.Max(dp, math.Abs(pr[c]-pw[c]))
			}
		}
		t.Logf("L2 %g: %d iterations; largest difference from scikit-learn: coefficients %.2g, probabilities %.2g", l2, m.Iterations, dc, dp)
		if dc > 1e-5 || dp > 1e-6 {
			t.Errorf("L2 %g: coefficients differ by %.3g, probabilities by %.3g", l2, dc, dp)
		}
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
