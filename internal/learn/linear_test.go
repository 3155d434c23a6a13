package learn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

// near reports whether got is within tol of want, relative for |want| > 1.
func near(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(1, math.Abs(want))
}

// linearData returns n rows of p features drawn by f and y = intercept + X·coef + noise·N(0,1).
func linearData(n int, coef []float64, intercept, noise float64, seed uint64, f func(r *rand.Rand, i, j int) float64) ([][]float64, []float64) {
	r := rand.New(rand.NewPCG(seed, 1))
	X := make([][]float64, n)
	y := make([]float64, n)
	for i := range X {
		X[i] = make([]float64, len(coef))
		y[i] = intercept
		for j := range coef {
			X[i][j] = f(r, i, j)
			y[i] += coef[j] * X[i][j]
		}
		y[i] += noise * r.NormFloat64()
	}
	return X, y
}

func TestFitLinearRegressionNoiseless(t *testing.T) {
	// y = 3 + 2a - b on several designs, including badly scaled and offset ones.
	tests := []struct {
		name string
		n    int
		f    func(r *rand.Rand, i, j int) float64
		tol  float64
	}{
		{"integer grid", 12, func(_ *rand.Rand, i, j int) float64 { return float64((i*(j+2) + j) % 7) }, 1e-13},
		{"uniform", 200, func(r *rand.Rand, _, _ int) float64 { return r.Float64()*10 - 5 }, 1e-13},
		{"minimal rows", 3, func(_ *rand.Rand, i, j int) float64 { return float64([][]int{{0, 0}, {1, 0}, {0, 1}}[i][j]) }, 1e-13},
		{"large offset", 100, func(r *rand.Rand, _, _ int) float64 { return 1e6 + r.Float64() }, 1e-7},
		{"mixed scales", 100, func(r *rand.Rand, _, j int) float64 { return r.NormFloat64() * math.Pow(1e4, float64(j)) }, 1e-12},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			X, y := linearData(tt.n, []float64{2, -1}, 3, 0, 7, tt.f)
			m, err := FitLinearRegression([]string{"a", "b"}, X, y)
			if err != nil {
				t.Fatal(err)
			}
			if !near(m.Intercept, 3, tt.tol) || !near(m.Coef[0], 2, tt.tol) || !near(m.Coef[1], -1, tt.tol) {
				t.Errorf("got intercept %.17g coef %.17g, want 3, [2 -1]", m.Intercept, m.Coef)
			}
			pred, err := m.PredictBatch(X)
			if err != nil {
				t.Fatal(err)
			}
			for i := range y {
				if !near(pred[i], y[i], 1e-9) {
					t.Fatalf("row %d: predicted %v, want %v", i, pred[i], y[i])
				}
			}
		})
	}
}

func TestFitLinearRegressionNoisy(t *testing.T) {
	coef := []float64{1.5, -0.7, 0, 4}
	tests := []struct {
		name  string
		n     int
		noise float64
		tol   float64
	}{
		{"small noise", 1000, 0.01, 0.002},
		{"unit noise", 20000, 1, 0.05},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			X, y := linearData(tt.n, coef, -2, tt.noise, 11, func(r *rand.Rand, _, _ int) float64 { return r.NormFloat64() })
			m, err := FitLinearRegression([]string{"a", "b", "c", "d"}, X, y)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(m.Intercept+2) > tt.tol {
				t.Errorf("intercept %v, want -2 ± %v", m.Intercept, tt.tol)
			}
			for j, want := range coef {
				if math.Abs(m.Coef[j]-want) > tt.tol {
					t.Errorf("coef[%d] = %v, want %v ± %v", j, m.Coef[j], want, tt.tol)
				}
			}
			pred, _ := m.PredictBatch(X)
			rmse, _ := RMSE(y, pred)
			if rmse > 1.1*tt.noise || rmse < 0.9*tt.noise {
				t.Errorf("training RMSE %v, want ≈ noise %v", rmse, tt.noise)
			}
		})
	}
}

// polynomial returns 200 rows of the monomials x, x², …, x^degree for x in [0, 1].
func polynomial(degree int) ([]string, [][]float64, []float64) {
	var features []string
	for j := 1; j <= degree; j++ {
		features = append(features, fmt.Sprintf("x^%d", j))
	}
	var X [][]float64
	var y []float64
	for i := range 200 {
		x := float64(i) / 199
		row := make([]float64, degree)
		for j := range row {
			row[j] = math.Pow(x, float64(j+1))
		}
		X = append(X, row)
		y = append(y, math.Sin(3*x))
	}
	return features, X, y
}

func TestFitLinearRegressionIllConditioned(t *testing.T) {
	// Degree 12 (condition number ≈ 5e8 after scaling) is still fitted;
	// degree 17 (≈ 3.5e12, no single column within 1e-10 of the others) is not.
	features, X, y := polynomial(12)
	m, err := FitLinearRegression(features, X, y)
	if err != nil {
		t.Fatalf("degree 12: %v", err)
	}
	pred, _ := m.PredictBatch(X)
	if rmse, _ := RMSE(y, pred); rmse > 1e-9 {
		t.Errorf("degree 12: training RMSE %v, want < 1e-9", rmse)
	}

	features, X, y = polynomial(17)
	_, err = FitLinearRegression(features, X, y)
	if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), "features are nearly collinear") {
		t.Errorf("degree 17: error = %v, want invalid \"features are nearly collinear\"", err)
	}
}

func TestFitLinearRegressionInterceptOnly(t *testing.T) {
	m, err := FitLinearRegression(nil, [][]float64{{}, {}, {}, {}}, []float64{1, 2, 3, 6})
	if err != nil {
		t.Fatal(err)
	}
	if m.Intercept != 3 || len(m.Coef) != 0 {
		t.Errorf("got %+v, want intercept 3 and no coefficients", m)
	}
	if got, err := m.Predict(nil); err != nil || got != 3 {
		t.Errorf("Predict(nil) = %v, %v; want 3", got, err)
	}
}

func TestFitLinearRegressionLeavesInputAlone(t *testing.T) {
	features := []string{"a", "b"}
	X, y := linearData(20, []float64{1, 2}, 0, 0.5, 3, func(r *rand.Rand, _, _ int) float64 { return r.Float64() })
	X0 := make([][]float64, len(X))
	for i := range X {
		X0[i] = slices.Clone(X[i])
	}
	y0 := slices.Clone(y)
	m, err := FitLinearRegression(features, X, y)
	if err != nil {
		t.Fatal(err)
	}
	for i := range X {
		if !slices.Equal(X[i], X0[i]) {
			t.Fatalf("row %d of X modified", i)
		}
	}
	if !slices.Equal(y, y0) {
		t.Fatal("y modified")
	}
	features[0] = "changed"
	if m.Features[0] != "a" {
		t.Error("model shares the caller's features slice")
	}
}

func TestFitLinearRegressionErrors(t *testing.T) {
	good := [][]float64{{1, 2}, {2, 1}, {3, 5}, {4, 3}, {5, 8}}
	goodY := []float64{1, 2, 3, 4, 5}
	with := func(i, j int, v float64) [][]float64 {
		X := make([][]float64, len(good))
		for k := range good {
			X[k] = slices.Clone(good[k])
		}
		X[i][j] = v
		return X
	}
	withY := func(i int, v float64) []float64 { y := slices.Clone(goodY); y[i] = v; return y }
	// 20 rows of "weight_kg", "height_m" with a NaN at row 12.
	var bigX [][]float64
	var bigY []float64
	for i := range 20 {
		bigX = append(bigX, []float64{60 + float64(i), 1.6 + float64(i%5)/50})
		bigY = append(bigY, float64(i))
	}
	bigX[12][1] = math.NaN()
	col := func(f func(a, b float64) float64) [][]float64 {
		X := make([][]float64, len(good))
		for i, r := range good {
			X[i] = []float64{r[0], r[1], f(r[0], r[1])}
		}
		return X
	}

	tests := []struct {
		name     string
		features []string
		X        [][]float64
		y        []float64
		want     string
	}{
		{"no rows", []string{"a"}, nil, nil, "no rows"},
		{"y length", []string{"a", "b"}, good, goodY[:4], "X has 5 rows but y has 4 values"},
		{"ragged", []string{"a", "b"}, append(slices.Clone(good[:3]), []float64{1}), goodY[:4], "row 3 has 1 values, want 2"},
		{"too wide", []string{"a"}, good, goodY, "row 0 has 2 values, want 1"},
		{"NaN feature", []string{"weight_kg", "height_m"}, bigX, bigY, `row 12, feature "height_m": NaN`},
		{"+Inf feature", []string{"a", "b"}, with(2, 0, math.Inf(1)), goodY, `row 2, feature "a": +Inf`},
		{"-Inf feature", []string{"a", "b"}, with(4, 1, math.Inf(-1)), goodY, `row 4, feature "b": -Inf`},
		{"NaN target", []string{"a", "b"}, good, withY(1, math.NaN()), "row 1, target: NaN"},
		{"Inf target", []string{"a", "b"}, good, withY(0, math.Inf(1)), "row 0, target: +Inf"},
		{"too few rows", []string{"a", "b"}, good[:2], goodY[:2], "2 rows for 3 parameters"},
		{"empty feature name", []string{"a", ""}, good, goodY, "feature 1 has an empty name"},
		{"duplicate feature name", []string{"a", "a"}, good, goodY, `feature "a" is listed twice`},
		{"constant feature", []string{"a", "b", "k"}, col(func(a, b float64) float64 { return 7 }), goodY, `feature "k" is constant`},
		{"large constant feature", []string{"a", "b", "k"}, col(func(a, b float64) float64 { return 1e9 + 0.1 }), goodY, `feature "k" is constant`},
		{"duplicated column", []string{"a", "b", "a2"}, col(func(a, b float64) float64 { return a }), goodY, `feature "a2" is a linear combination`},
		{"linear combination", []string{"a", "b", "c"}, col(func(a, b float64) float64 { return 0.3*a - 2*b + 10 }), goodY, `feature "c" is a linear combination`},
		{"nearly collinear", []string{"a", "b", "c"}, col(func(a, b float64) float64 { return a + b + 1e-12*a*a }), goodY, "rank-deficient design"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := FitLinearRegression(tt.features, tt.X, tt.y)
			if err == nil {
				t.Fatalf("got model %+v, want error containing %q", m, tt.want)
			}
			if !errs.Is(err, errs.Invalid) {
				t.Errorf("error code %q, want invalid (%v)", errs.CodeOf(err), err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestPredict(t *testing.T) {
	m := &LinearRegression{Features: []string{"a", "b"}, Intercept: 3, Coef: []float64{2, -1}}
	tests := []struct {
		name string
		x    []float64
		want float64
		err  string
	}{
		{"zero", []float64{0, 0}, 3, ""},
		{"values", []float64{1.5, 4}, 2, ""},
		{"too short", []float64{1}, 0, "got 1 feature values, want 2"},
		{"too long", []float64{1, 2, 3}, 0, "got 3 feature values, want 2"},
		{"nil", nil, 0, "got 0 feature values, want 2"},
		{"NaN", []float64{1, math.NaN()}, 0, `feature "b": NaN`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Predict(tt.x)
			if tt.err != "" {
				if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Predict(%v) error = %v, want invalid containing %q", tt.x, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Predict(%v) = %v, %v; want %v", tt.x, got, err, tt.want)
			}
		})
	}

	got, err := m.PredictBatch([][]float64{{0, 0}, {1.5, 4}})
	if err != nil || !slices.Equal(got, []float64{3, 2}) {
		t.Errorf("PredictBatch = %v, %v; want [3 2]", got, err)
	}
	if got, err := m.PredictBatch(nil); err != nil || len(got) != 0 {
		t.Errorf("PredictBatch(nil) = %v, %v; want empty", got, err)
	}
	if _, err := m.PredictBatch([][]float64{{0, 0}, {1}}); err == nil || !strings.Contains(err.Error(), "row 1: got 1 feature values, want 2") {
		t.Errorf("PredictBatch ragged error = %v", err)
	}

	bad := &LinearRegression{Features: []string{"a"}, Coef: []float64{1, 2}}
	if _, err := bad.Predict([]float64{1, 2}); err == nil || !strings.Contains(err.Error(), "1 features but 2 coefficients") {
		t.Errorf("inconsistent model: error = %v", err)
	}
	var nilModel *LinearRegression
	if _, err := nilModel.Predict(nil); err == nil {
		t.Error("nil model: no error")
	}
}

func TestLinearRegressionJSON(t *testing.T) {
	X, y := linearData(50, []float64{0.1, 0.2, 0.3}, 1, 0.1, 5, func(r *rand.Rand, _, _ int) float64 { return r.Float64() })
	m, err := FitLinearRegression([]string{"x", "y", "z"}, X, y)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), `{"features":["x","y","z"],"intercept":`) || !strings.Contains(string(b), `"coef":[`) {
		t.Errorf("unexpected JSON %s", b)
	}
	var back LinearRegression
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for i, x := range X {
		p1, _ := m.Predict(x)
		p2, err := back.Predict(x)
		if err != nil || p1 != p2 {
			t.Fatalf("row %d: prediction after JSON round trip %v, %v; want %v", i, p2, err, p1)
		}
	}
}

func BenchmarkFitLinearRegression(b *testing.B) {
	const n, p = 100_000, 10
	coef := make([]float64, p)
	features := make([]string, p)
	for j := range p {
		coef[j] = float64(j) - 4.5
		features[j] = "x" + string(rune('a'+j))
	}
	X, y := linearData(n, coef, 1, 1, 42, func(r *rand.Rand, _, j int) float64 { return r.NormFloat64() * float64(j+1) })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitLinearRegression(features, X, y); err != nil {
			b.Fatal(err)
		}
	}
}

func TestFitRidgeMatchesScikitLearn(t *testing.T) {
	// scikit-learn 1.2: Ridge(alpha=2.5).fit(X, y) → intercept_, coef_.
	X := [][]float64{{1, 2}, {2, 1}, {3, 5}, {4, 3}, {5, 8}, {6, 2}}
	y := []float64{3, 4, 9, 8, 14, 9}
	m, err := FitRidge([]string{"a", "b"}, X, y, 2.5)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{0.8916898240042341, 1.0150853513298927, 0.9682413656212783}
	got := []float64{m.Intercept, m.Coef[0], m.Coef[1]}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-9 {
			t.Fatalf("ridge = %v, want %v", got, want)
		}
	}
	if _, err := FitRidge([]string{"a", "b"}, X, y, -1); err == nil {
		t.Error("negative l2 accepted")
	}
	ols, _ := FitRidge([]string{"a", "b"}, X, y, 0)
	ref, _ := FitLinearRegression([]string{"a", "b"}, X, y)
	if ols.Coef[0] != ref.Coef[0] {
		t.Error("l2 = 0 is not ordinary least squares")
	}
}
