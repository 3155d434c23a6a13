package explain

import (
	"os"
	"testing"
)

// Compare with xgboost: Booster.predict(d, pred_contribs=True) on the same
// model (testdata/xgb-binary.json, 20 trees of depth 4).
func benchModel(b *testing.B) (*Ensemble, []float64) {
	raw, err := os.ReadFile("testdata/xgb-binary.json")
	if err != nil {
		b.Fatal(err)
	}
	e, err := LoadXGBoostJSON(raw)
	if err != nil {
		b.Fatal(err)
	}
	return e, []float64{0.3, -1.2, 0.8, 2, 1}
}

func BenchmarkPredict(b *testing.B) {
	e, x := benchModel(b)
	for b.Loop() {
		e.Predict(x)
	}
}

func BenchmarkSHAP(b *testing.B) {
	e, x := benchModel(b)
	for b.Loop() {
		e.SHAP(x)
	}
}
