package logistic

import (
	"math/rand"
	"testing"
)

// BenchmarkFit: 200 000 rows, 10 numeric features (one on a 0..99 scale)
// and 48 one-hot indicators of two categorical columns, as in
// bench/learn's synthetic table.
func BenchmarkFit(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	const n, d = 200000, 58
	X := make([][]float64, n)
	y := make([]float64, n)
	names := make([]string, d)
	for j := range names {
		names[j] = string(rune('A'+j/26)) + string(rune('a'+j%26))
	}
	for i := range X {
		x := make([]float64, d)
		for j := 0; j < 10; j++ {
			x[j] = r.NormFloat64()
		}
		x[8] = float64(r.Intn(100))
		x[10+r.Intn(8)] = 1
		x[18+r.Intn(40)] = 1
		z := x[0] - 0.5*x[1] + 0.01*x[8] - 0.5 + x[10] - x[12] + 0.5*x[20]
		if r.Float64() < sigmoid(z) {
			y[i] = 1
		}
		X[i] = x
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := Fit(names, X, y, DefaultParams())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(m.Iterations), "iterations")
	}
}
