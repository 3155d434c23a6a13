// Package learn holds hygie's built-in learners and the metrics and data
// splitting used to evaluate them. Inputs are matrix-free: a design is a
// slice of rows, each row a []float64 with one value per named feature.
//
// Every input problem (empty data, ragged rows, NaN or infinite values,
// too few rows, a rank-deficient design…) is reported as an errs.Invalid
// error whose message names the row and feature at fault, never a value.
package learn

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/lapack64"
	"gonum.org/v1/gonum/mat"

	"github.com/hygie-health/hygie/internal/errs"
)

// LinearRegression is an ordinary least squares model with an intercept:
//
//	y ≈ Intercept + Σ Coef[j]·x[j]
//
// Coef[j] is the coefficient of Features[j]. The struct is its own JSON
// serialisation.
type LinearRegression struct {
	Features  []string  `json:"features"`
	Intercept float64   `json:"intercept"`
	Coef      []float64 `json:"coef"`
}

// Thresholds for declaring a design rank-deficient. The fit works on
// centred columns scaled to unit norm, so R's diagonal entry for column j is
// the distance of that column from the span of the intercept and the earlier
// columns, relative to the column's own size.
const (
	// dependentTol: a feature closer than this to the span of the intercept
	// and the earlier features is treated as a linear combination of them.
	dependentTol = 1e-10
	// maxCond: above this (estimated, 1-norm) condition number of the scaled
	// design, the coefficients would keep fewer than ~4 significant digits.
	maxCond = 1e12
)

// FitLinearRegression fits y ≈ Intercept + X·Coef by least squares. X has one
// row per observation and one column per entry of features; y has one value
// per row. Row and feature indices in error messages are 0-based.
//
// The fit centres each column (which accounts for the intercept), scales it
// to unit norm and solves with a Householder QR factorisation, so it is
// accurate on poorly scaled data. It fails on empty input, ragged rows,
// NaN or infinite values, fewer rows than parameters (features + 1), and a
// rank-deficient design (a constant feature, or one that is a linear
// combination of the intercept and other features).
func FitLinearRegression(features []string, X [][]float64, y []float64) (*LinearRegression, error) {
	if err := checkFeatures(features); err != nil {
		return nil, err
	}
	n, p := len(X), len(features)
	if n == 0 {
		return nil, errs.Invalidf("linear regression: no rows to fit")
	}
	if len(y) != n {
		return nil, errs.Invalidf("linear regression: X has %d rows but y has %d values", n, len(y))
	}
	for i, row := range X {
		if len(row) != p {
			return nil, errs.Invalidf("row %d has %d values, want %d (one per feature)", i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d, feature %q: %v", i, features[j], v)
			}
		}
		if v := y[i]; math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errs.Invalidf("row %d, target: %v", i, v)
		}
	}
	if n < p+1 {
		return nil, errs.Invalidf("linear regression: %d rows for %d parameters (%d features + intercept); need at least %d rows",
			n, p+1, p, p+1)
	}

	// Centre the target.
	yMean := mean(y)
	yc := make([]float64, n)
	for i, v := range y {
		yc[i] = v - yMean
	}

	m := &LinearRegression{
		Features:  append([]string(nil), features...),
		Intercept: yMean,
		Coef:      make([]float64, p),
	}
	if p == 0 {
		return m, nil
	}

	// Design: centred columns scaled to unit norm, row-major n×p.
	colMean := make([]float64, p)
	for _, row := range X {
		for j, v := range row {
			colMean[j] += v
		}
	}
	for j := range colMean {
		colMean[j] /= float64(n)
	}
	a := make([]float64, n*p)
	colNorm := make([]float64, p)
	for i, row := range X {
		ai := a[i*p : (i+1)*p]
		for j, v := range row {
			d := v - colMean[j]
			ai[j] = d
			colNorm[j] += d * d
		}
	}
	for j := range colNorm {
		colNorm[j] = math.Sqrt(colNorm[j])
		// A column whose centred values are all (relatively) zero is constant.
		if colNorm[j] == 0 || colNorm[j] <= dependentTol*math.Sqrt(float64(n))*math.Abs(colMean[j]) {
			return nil, errs.Invalidf("rank-deficient design: feature %q is constant (collinear with the intercept)", features[j])
		}
	}
	for i := range n {
		ai := a[i*p : (i+1)*p]
		for j := range ai {
			ai[j] /= colNorm[j]
		}
	}
	design := blas64.General{Rows: n, Cols: p, Stride: p, Data: a}

	// A = QR.
	tau := make([]float64, p)
	work := []float64{0}
	lapack64.Geqrf(design, tau, work, -1)
	work = make([]float64, max(int(work[0]), p))
	lapack64.Geqrf(design, tau, work, len(work))
	r := blas64.Triangular{Uplo: blas.Upper, Diag: blas.NonUnit, N: p, Stride: p, Data: a}

	for j := range p {
		if math.Abs(a[j*p+j]) <= dependentTol {
			return nil, errs.Invalidf("rank-deficient design: feature %q is a linear combination of the intercept and the features before it", features[j])
		}
	}
	rcond := lapack64.Trcon(lapack.MaxColumnSum, r, make([]float64, 3*p), make([]int, p))
	if rcond*maxCond < 1 {
		// Name the feature closest to the span of those before it.
		worst := 0
		for j := range p {
			if math.Abs(a[j*p+j]) < math.Abs(a[worst*p+worst]) {
				worst = j
			}
		}
		return nil, errs.Invalidf("rank-deficient design: features are nearly collinear (condition number ≈ %.2g after scaling; most dependent: %q)",
			1/rcond, features[worst])
	}

	// Coefficients of the scaled problem: R·β = (Qᵀ·yc)[:p].
	c := blas64.General{Rows: n, Cols: 1, Stride: 1, Data: yc}
	lapack64.Ormqr(blas.Left, blas.Trans, design, tau, c, work, -1)
	if need := int(work[0]); need > len(work) {
		work = make([]float64, need)
	}
	lapack64.Ormqr(blas.Left, blas.Trans, design, tau, c, work, len(work))
	beta := blas64.General{Rows: p, Cols: 1, Stride: 1, Data: yc[:p]}
	if !lapack64.Trtrs(blas.NoTrans, r, beta) {
		// Unreachable after the checks above, but never return garbage.
		return nil, errs.Invalidf("rank-deficient design: singular triangular factor")
	}

	for j := range p {
		m.Coef[j] = yc[j] / colNorm[j]
		m.Intercept -= m.Coef[j] * colMean[j]
	}
	return m, nil
}

// Predict returns the model's prediction for one row of feature values, in
// the order of m.Features. It fails if len(x) != len(m.Coef) or a value is
// NaN or infinite.
func (m *LinearRegression) Predict(x []float64) (float64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	if msg := m.checkRow(x); msg != "" {
		return 0, errs.Invalidf("%s", msg)
	}
	return m.predict(x), nil
}

// PredictBatch returns one prediction per row of X; see Predict.
func (m *LinearRegression) PredictBatch(X [][]float64) ([]float64, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	out := make([]float64, len(X))
	for i, x := range X {
		if msg := m.checkRow(x); msg != "" {
			return nil, errs.Invalidf("row %d: %s", i, msg)
		}
		out[i] = m.predict(x)
	}
	return out, nil
}

func (m *LinearRegression) predict(x []float64) float64 {
	s := m.Intercept
	for j, c := range m.Coef {
		s += c * x[j]
	}
	return s
}

// check rejects a nil model or one (e.g. decoded from JSON) whose feature
// names and coefficients disagree.
func (m *LinearRegression) check() error {
	if m == nil {
		return errs.Invalidf("linear regression: nil model")
	}
	if m.Features != nil && len(m.Features) != len(m.Coef) {
		return errs.Invalidf("linear regression: model has %d features but %d coefficients", len(m.Features), len(m.Coef))
	}
	return nil
}

// checkRow returns a message describing what is wrong with x, or "".
func (m *LinearRegression) checkRow(x []float64) string {
	if len(x) != len(m.Coef) {
		return fmt.Sprintf("got %d feature values, want %d", len(x), len(m.Coef))
	}
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("feature %s: %v", m.featureName(j), v)
		}
	}
	return ""
}

func (m *LinearRegression) featureName(j int) string {
	if j < len(m.Features) {
		return fmt.Sprintf("%q", m.Features[j])
	}
	return fmt.Sprintf("#%d", j)
}

func checkFeatures(features []string) error {
	seen := make(map[string]int, len(features))
	for j, f := range features {
		if f == "" {
			return errs.Invalidf("feature %d has an empty name", j)
		}
		if k, dup := seen[f]; dup {
			return errs.Invalidf("feature %q is listed twice (positions %d and %d)", f, k, j)
		}
		seen[f] = j
	}
	return nil
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// FitRidge fits y ≈ Intercept + X·Coef minimising the squared error plus
// lambda·‖Coef‖² (the intercept is not penalised), scikit-learn's Ridge with
// alpha = lambda. Columns are centred, so the intercept is ȳ − x̄·Coef, and
// the system (XcᵀXc + λI)·Coef = Xcᵀyc is solved by Cholesky. lambda = 0 is
// ordinary least squares (FitLinearRegression, with its rank checks).
func FitRidge(features []string, X [][]float64, y []float64, lambda float64) (*LinearRegression, error) {
	if lambda == 0 {
		return FitLinearRegression(features, X, y)
	}
	if !(lambda > 0) || math.IsInf(lambda, 1) {
		return nil, errs.Invalidf("ridge: l2 must be a finite number ≥ 0, got %v", lambda)
	}
	if err := checkFeatures(features); err != nil {
		return nil, err
	}
	n, p := len(X), len(features)
	if n == 0 || len(y) != n {
		return nil, errs.Invalidf("ridge: want the same non-zero number of rows and targets, got %d and %d", n, len(y))
	}
	mx := make([]float64, p)
	my := 0.0
	for i, row := range X {
		if len(row) != p {
			return nil, errs.Invalidf("row %d has %d values, want %d (one per feature)", i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d feature %q is not a finite number", i, features[j])
			}
			mx[j] += v
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, errs.Invalidf("row %d: the target is not a finite number", i)
		}
		my += y[i]
	}
	for j := range mx {
		mx[j] /= float64(n)
	}
	my /= float64(n)
	a := mat.NewSymDense(p, nil)
	b := mat.NewVecDense(p, nil)
	xc := make([]float64, p)
	for i, row := range X {
		for j := range row {
			xc[j] = row[j] - mx[j]
		}
		yc := y[i] - my
		for j := 0; j < p; j++ {
			b.SetVec(j, b.AtVec(j)+xc[j]*yc)
			for k := j; k < p; k++ {
				a.SetSym(j, k, a.At(j, k)+xc[j]*xc[k])
			}
		}
	}
	for j := 0; j < p; j++ {
		a.SetSym(j, j, a.At(j, j)+lambda)
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return nil, errs.Invalidf("ridge: the system is not positive definite (l2 too small for this design?)")
	}
	var w mat.VecDense
	if err := ch.SolveVecTo(&w, b); err != nil {
		return nil, errs.Invalidf("ridge: %v", err)
	}
	m := &LinearRegression{Features: append([]string(nil), features...), Coef: make([]float64, p), Intercept: my}
	for j := range m.Coef {
		m.Coef[j] = w.AtVec(j)
		m.Intercept -= m.Coef[j] * mx[j]
	}
	return m, nil
}
