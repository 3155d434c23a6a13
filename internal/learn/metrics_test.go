package learn

import (
	"math"
	"strings"
	"testing"

	"github.com/hygie-health/hygie/internal/errs"
)

func TestMetrics(t *testing.T) {
	type metric struct {
		name string
		f    func(a, b []float64) (float64, error)
	}
	metrics := []metric{{"MSE", MSE}, {"RMSE", RMSE}, {"MAE", MAE}, {"R2", R2}}
	tests := []struct {
		name         string
		yTrue, yPred []float64
		// want holds MSE, RMSE, MAE, R2, computed by hand.
		want [4]float64
	}{
		// errors 0.5, -0.5, 0, -1: SSres = 1.5; mean(yTrue) = 2.875, SStot = 29.1875.
		{"scikit-learn docs example", []float64{3, -0.5, 2, 7}, []float64{2.5, 0, 2, 8},
			[4]float64{0.375, math.Sqrt(0.375), 0.5, 1 - 1.5/29.1875}},
		{"perfect", []float64{1, 2, 3}, []float64{1, 2, 3}, [4]float64{0, 0, 0, 1}},
		// predicting the mean (2) gives R² = 0; errors -1, 0, 1.
		{"mean predictor", []float64{1, 2, 3}, []float64{2, 2, 2}, [4]float64{2.0 / 3, math.Sqrt(2.0 / 3), 2.0 / 3, 0}},
		// errors 3, 3, -3: SSres = 27, SStot = 2 → R² = -12.5.
		{"worse than mean", []float64{1, 2, 3}, []float64{-2, -1, 6}, [4]float64{9, 3, 3, -12.5}},
		{"single value", []float64{4}, []float64{1}, [4]float64{9, 3, 3, 0}},
		{"constant, exact", []float64{5, 5}, []float64{5, 5}, [4]float64{0, 0, 0, 1}},
		{"constant, inexact", []float64{5, 5}, []float64{4, 6}, [4]float64{1, 1, 1, 0}},
	}
	for _, tt := range tests {
		for k, m := range metrics {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				got, err := m.f(tt.yTrue, tt.yPred)
				if err != nil {
					t.Fatal(err)
				}
				if math.Abs(got-tt.want[k]) > 1e-12 {
					t.Errorf("%s(%v, %v) = %.17g, want %.17g", m.name, tt.yTrue, tt.yPred, got, tt.want[k])
				}
			})
		}
	}
}

func TestMetricsErrors(t *testing.T) {
	tests := []struct {
		name         string
		yTrue, yPred []float64
		want         string
	}{
		{"empty", nil, nil, "no values"},
		{"lengths", []float64{1, 2}, []float64{1}, "yTrue has 2 values but yPred has 1"},
		{"NaN true", []float64{1, math.NaN()}, []float64{1, 2}, "yTrue[1]: NaN"},
		{"Inf pred", []float64{1, 2}, []float64{math.Inf(-1), 2}, "yPred[0]: -Inf"},
	}
	for _, tt := range tests {
		for name, f := range map[string]func(a, b []float64) (float64, error){"MSE": MSE, "RMSE": RMSE, "MAE": MAE, "R2": R2} {
			t.Run(tt.name+"/"+name, func(t *testing.T) {
				_, err := f(tt.yTrue, tt.yPred)
				if err == nil || !errs.Is(err, errs.Invalid) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("error = %v, want invalid containing %q", err, tt.want)
				}
			})
		}
	}
}
