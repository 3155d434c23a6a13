package learn

import (
	"math"

	"github.com/hygie-health/hygie/internal/errs"
)

// MSE returns the mean squared error between yTrue and yPred.
func MSE(yTrue, yPred []float64) (float64, error) {
	if err := checkPair(yTrue, yPred); err != nil {
		return 0, err
	}
	var s float64
	for i, t := range yTrue {
		d := t - yPred[i]
		s += d * d
	}
	return s / float64(len(yTrue)), nil
}

// RMSE returns the root mean squared error between yTrue and yPred.
func RMSE(yTrue, yPred []float64) (float64, error) {
	mse, err := MSE(yTrue, yPred)
	if err != nil {
		return 0, err
	}
	return math.Sqrt(mse), nil
}

// MAE returns the mean absolute error between yTrue and yPred.
func MAE(yTrue, yPred []float64) (float64, error) {
	if err := checkPair(yTrue, yPred); err != nil {
		return 0, err
	}
	var s float64
	for i, t := range yTrue {
		s += math.Abs(t - yPred[i])
	}
	return s / float64(len(yTrue)), nil
}

// R2 returns the coefficient of determination 1 - SS_res/SS_tot, where SS_tot
// is the sum of squares of yTrue about its mean. It is 1 for a perfect fit,
// 0 for predicting the mean, and negative for worse. When yTrue is constant
// (SS_tot = 0) R² is undefined; like scikit-learn's r2_score, R2 then returns
// 1 if the predictions are exact and 0 otherwise.
func R2(yTrue, yPred []float64) (float64, error) {
	if err := checkPair(yTrue, yPred); err != nil {
		return 0, err
	}
	m := mean(yTrue)
	var ssRes, ssTot float64
	for i, t := range yTrue {
		d := t - yPred[i]
		ssRes += d * d
		e := t - m
		ssTot += e * e
	}
	if ssTot == 0 {
		if ssRes == 0 {
			return 1, nil
		}
		return 0, nil
	}
	return 1 - ssRes/ssTot, nil
}

// checkPair rejects empty or unequal-length inputs and NaN or infinite values.
func checkPair(yTrue, yPred []float64) error {
	if len(yTrue) != len(yPred) {
		return errs.Invalidf("metric: yTrue has %d values but yPred has %d", len(yTrue), len(yPred))
	}
	if len(yTrue) == 0 {
		return errs.Invalidf("metric: no values")
	}
	for i := range yTrue {
		if v := yTrue[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			return errs.Invalidf("metric: yTrue[%d]: %v", i, v)
		}
		if v := yPred[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			return errs.Invalidf("metric: yPred[%d]: %v", i, v)
		}
	}
	return nil
}
