package gbdt

import (
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
