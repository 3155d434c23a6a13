package logistic

import "testing"

// FuzzUnmarshalMultinomial: any input either fails to load or gives a model
// that predicts without panicking.
func FuzzUnmarshalMultinomial(f *testing.F) {
	f.Add([]byte(`{"format":"hygie.logistic.multinomial/1","features":["a"],"classes":2,"intercepts":[0,1],"coef":[[1],[-1]]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := UnmarshalMultinomial(b)
		if err != nil {
			return
		}
		x := make([]float64, len(m.Features))
		m.PredictProba(x)
		m.Predict(x)
	})
}
