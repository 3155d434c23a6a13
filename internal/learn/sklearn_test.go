package learn

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os/exec"
	"testing"
)

// python is the interpreter used for the scikit-learn cross-check. The test
// is skipped unless it exists and can import sklearn (Debian: python3-sklearn).
const python = "/usr/bin/python3"

const sklearnScript = `
import json, sys
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_squared_error, mean_absolute_error, r2_score
d = json.load(sys.stdin)
m = LinearRegression().fit(d["X"], d["y"])
p = m.predict(d["X"])
json.dump({
    "intercept": float(m.intercept_),
    "coef": [float(c) for c in m.coef_],
    "mse": float(mean_squared_error(d["y"], p)),
    "mae": float(mean_absolute_error(d["y"], p)),
    "r2": float(r2_score(d["y"], p)),
}, sys.stdout)
`

// TestLinearRegressionMatchesSklearn fits a small fixed dataset (features on
// very different scales, noisy target) with both implementations.
func TestLinearRegressionMatchesSklearn(t *testing.T) {
	if err := exec.Command(python, "-c", "import sklearn").Run(); err != nil {
		t.Skipf("%s with sklearn not available: %v", python, err)
	}

	features := []string{"age", "height_m", "weight_kg", "smoker"}
	r := rand.New(rand.NewPCG(2024, 6))
	var X [][]float64
	var y []float64
	for range 40 {
		age := 20 + 70*r.Float64()
		height := 1.5 + 0.4*r.Float64()
		weight := 50 + 60*r.Float64()
		smoker := float64(r.IntN(2))
		X = append(X, []float64{age, height, weight, smoker})
		y = append(y, 90+0.4*age-25*height+0.3*weight+8*smoker+5*r.NormFloat64())
	}

	in, err := json.Marshal(map[string]any{"X": X, "y": y})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", sklearnScript)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scikit-learn: %v\n%s", err, stderr.String())
	}
	var want struct {
		Intercept float64   `json:"intercept"`
		Coef      []float64 `json:"coef"`
		MSE       float64   `json:"mse"`
		MAE       float64   `json:"mae"`
		R2        float64   `json:"r2"`
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatalf("scikit-learn output %q: %v", out, err)
	}

	m, err := FitLinearRegression(features, X, y)
	if err != nil {
		t.Fatal(err)
	}
	const tol = 1e-9
	if math.Abs(m.Intercept-want.Intercept) > tol {
		t.Errorf("intercept %.15g, scikit-learn %.15g", m.Intercept, want.Intercept)
	}
	for j := range features {
		if math.Abs(m.Coef[j]-want.Coef[j]) > tol {
			t.Errorf("coef %s %.15g, scikit-learn %.15g", features[j], m.Coef[j], want.Coef[j])
		}
	}

	pred, err := m.PredictBatch(X)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		f    func(a, b []float64) (float64, error)
		want float64
	}{{"MSE", MSE, want.MSE}, {"MAE", MAE, want.MAE}, {"R2", R2, want.R2}} {
		got, err := c.f(y, pred)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-c.want) > tol {
			t.Errorf("%s %.15g, scikit-learn %.15g", c.name, got, c.want)
		}
	}
	maxDiff := math.Abs(m.Intercept - want.Intercept)
	for j := range features {
		maxDiff = math.Max(maxDiff, math.Abs(m.Coef[j]-want.Coef[j]))
	}
	t.Logf("intercept %.12g coef %.12g; largest difference from scikit-learn %.2g", m.Intercept, m.Coef, maxDiff)
}
