package gbdt

import (
	"math"
	"os"
	"testing"
)

// FuzzUnmarshal: any input either fails to load or gives a model that
// predicts without panicking.
func FuzzUnmarshal(f *testing.F) {
	if b, err := os.ReadFile("testdata/binary-v1.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"format":"hygie.gbdt/1","loss":"multinomial","features":[{"name":"x","type":"numeric"}],"classes":2,"init_scores":[0,0],"class_trees":[[{"nodes":[{"threshold":1,"left":1,"right":2},{"value":1},{"value":-1}]}],[]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Unmarshal(b)
		if err != nil {
			return
		}
		for _, v := range []float64{0, 1, -3, math.NaN()} {
			x := make([]float64, len(m.Features))
			for j := range x {
				x[j] = v
			}
			m.Predict(x)
			m.PredictProba(x)
		}
	})
}
