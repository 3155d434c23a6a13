package gbdt

import (
	"math"
	"math/rand"
	"testing"
)

// BenchmarkFit: 20 000 rows, 2 numeric and 6 categorical features, 100 trees.
func BenchmarkFit(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	feats := []Feature{{Name: "n0", Type: Numeric}, {Name: "n1", Type: Numeric}}
	for j := 0; j < 6; j++ {
		feats = append(feats, Feature{Name: string(rune('a' + j)), Type: Categorical, Categories: make([]string, 5+6*j)})
	}
	X := make([][]float64, 20000)
	y := make([]float64, len(X))
	for i := range X {
		x := []float64{r.NormFloat64(), float64(r.Intn(80))}
		for j := 0; j < 6; j++ {
			x = append(x, float64(r.Intn(5+6*j)))
		}
		X[i] = x
		if r.Float64() < sigmoid(x[0]+x[1]/40-1+float64(int(x[3])%3)-1) {
			y[i] = 1
		}
	}
	p := DefaultParams()
	p.Loss = LogLoss
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Fit(feats, X, y, p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFitLarge: 300 000 rows, 10 numeric and 2 categorical features
// with missing values, 20 trees of 31 leaves, one thread.
func BenchmarkFitLarge(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	feats := num("x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9")
	feats = append(feats, Feature{Name: "c0", Type: Categorical, Categories: make([]string, 8)},
		Feature{Name: "c1", Type: Categorical, Categories: make([]string, 40)})
	X := make([][]float64, 300000)
	y := make([]float64, len(X))
	for i := range X {
		x := make([]float64, 12)
		for j := 0; j < 10; j++ {
			x[j] = r.NormFloat64()
		}
		x[8] = float64(r.Intn(100))
		x[10], x[11] = float64(r.Intn(8)), float64(r.Intn(40))
		z := x[0] + math.Sin(2*x[2]) + 0.5*x[3]*x[4] - 0.3*x[1]*x[1] + float64(int(x[10])%3) - 1
		if r.Float64() < 0.05 {
			x[1] = math.NaN()
		}
		X[i] = x
		if r.Float64() < sigmoid(z) {
			y[i] = 1
		}
	}
	p := DefaultParams()
	p.Loss, p.Trees, p.Workers = LogLoss, 20, 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Fit(feats, X, y, p); err != nil {
			b.Fatal(err)
		}
	}
}
