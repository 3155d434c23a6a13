// Package logistic is hygie's L2-regularised logistic regression: binary
// (Fit, Model) and multinomial over K classes (FitMultinomial, MultiModel,
// fitted by L-BFGS; see FitMultinomial). The binary model is fitted by
// Newton's method (iteratively reweighted least squares) with a
// backtracking line search. The objective, minimised over (b, w), is
//
//	Σ_i log(1 + exp(-s_i (b + w·x_i))) + (L2/2)·‖w‖²,   s_i = ±1
//
// which is scikit-learn's LogisticRegression with C = 1/L2 (the intercept is
// not penalised). Models serialise to versioned JSON ("hygie.logistic/1";
// multinomial models "hygie.logistic.multinomial/1").
package logistic

import (
	"encoding/json"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/hygie-health/hygie/internal/errs"
)

// Format is the JSON format tag of a saved model.
const Format = "hygie.logistic/1"

// Model is a fitted model; it is its own JSON serialisation.
type Model struct {
	Format     string    `json:"format"`
	Features   []string  `json:"features"`
	Intercept  float64   `json:"intercept"`
	Coef       []float64 `json:"coef"`
	L2         float64   `json:"l2"`
	Iterations int       `json:"iterations"`
	// Optional metadata set by callers: the input columns the features were
	// encoded from (see Input), the target column and its positive value.
	Inputs   []Input `json:"inputs,omitempty"`
	Target   string  `json:"target,omitempty"`
	Positive string  `json:"positive,omitempty"`
}

// Input is a source column: a numeric column is one feature; a categorical
// column is one 0/1 feature per entry of Categories (one-hot, in order).
type Input struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"` // "numeric" or "categorical"
	Categories []string `json:"categories,omitempty"`
}

// Params control the fit.
type Params struct {
	L2      float64 // ≥ 0
	MaxIter int     // ≥ 1
	Tol     float64 // gradient infinity-norm tolerance, > 0
}

// DefaultParams: L2 = 1 (scikit-learn's C = 1), 100 Newton steps, tol 1e-8.
func DefaultParams() Params { return Params{L2: 1, MaxIter: 100, Tol: 1e-8} }

// Validate reports the first out-of-range parameter.
func (p Params) Validate() error {
	switch {
	case !(p.L2 >= 0) || math.IsInf(p.L2, 1):
		return errs.Invalidf("l2 must be a finite number ≥ 0, got %v", p.L2)
	case p.MaxIter < 1:
		return errs.Invalidf("max_iter must be at least 1, got %d", p.MaxIter)
	case !(p.Tol > 0):
		return errs.Invalidf("tol must be positive, got %v", p.Tol)
	}
	return nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// log(1+exp(z)), stable.
func softplus(z float64) float64 { return math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z))) }

// Fit fits the model on rows X (one value per feature) and 0/1 targets y.
func Fit(features []string, X [][]float64, y []float64, p Params) (*Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d := len(features)
	seen := map[string]bool{}
	for j, f := range features {
		if f == "" || seen[f] {
			return nil, errs.Invalidf("feature %d: empty or duplicate name", j)
		}
		seen[f] = true
	}
	n := len(X)
	if n == 0 || n != len(y) {
		return nil, errs.Invalidf("want the same non-zero number of rows and targets, got %d and %d", n, len(y))
	}
	var pos int
	for i, x := range X {
		if len(x) != d {
			return nil, errs.Invalidf("row %d has %d values, want %d", i, len(x), d)
		}
		for j, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d feature %q is NaN or infinite", i, features[j])
			}
		}
		switch y[i] {
		case 1:
			pos++
		case 0:
		default:
			return nil, errs.Invalidf("row %d: the target must be 0 or 1", i)
		}
	}
	if pos == 0 || pos == n {
		return nil, errs.Invalidf("the target has a single class")
	}
	// parameters θ = (b, w); start at the intercept-only optimum
	k := d + 1
	theta := make([]float64, k)
	theta[0] = math.Log(float64(pos) / float64(n-pos))
	z := make([]float64, n)
	obj := func(th []float64) float64 {
		var s float64
		for i, x := range X {
			zi := th[0]
			for j, v := range x {
				zi += th[j+1] * v
			}
			z[i] = zi
			s += softplus(zi) - y[i]*zi
		}
		for j := 1; j < k; j++ {
			s += p.L2 / 2 * th[j] * th[j]
		}
		return s
	}
	f := obj(theta)
	grad := make([]float64, k)
	H := mat.NewSymDense(k, nil)
	m := &Model{Format: Format, Features: append([]string(nil), features...), L2: p.L2}
	xi := make([]float64, k)
	nz := make([]int, 0, k)
	for it := 1; it <= p.MaxIter; it++ {
		m.Iterations = it
		for j := range grad {
			grad[j] = 0
		}
		for a := 0; a < k; a++ {
			for b := a; b < k; b++ {
				H.SetSym(a, b, 0)
			}
		}
		hd := H.RawSymmetric().Data
		for i, x := range X {
			pr := sigmoid(z[i])
			r := pr - y[i]
			w := pr * (1 - pr)
			// the non-zero entries of (1, x) only: one-hot designs are
			// mostly zeros, and skipping them leaves every sum unchanged
			nz = append(nz[:0], 0)
			xi[0] = 1
			for j, v := range x {
				if v != 0 {
					nz = append(nz, j+1)
					xi[j+1] = v
				}
			}
			for ka, a := range nz {
				grad[a] += r * xi[a]
				wa := w * xi[a]
				row := hd[a*k:]
				for _, b := range nz[ka:] {
					row[b] += wa * xi[b]
				}
			}
		}
		for j := 1; j < k; j++ {
			grad[j] += p.L2 * theta[j]
			hd[j*k+j] += p.L2
		}
		gmax := 0.0
		for _, g := range grad {
			gmax = math.Max(gmax, math.Abs(g))
		}
		if gmax <= p.Tol*float64(n) {
			break
		}
		var step mat.VecDense
		var ch mat.Cholesky
		ridge := 0.0
		for !ch.Factorize(H) {
			// singular Hessian (λ = 0 with collinear features): add a ridge
			if ridge == 0 {
				ridge = 1e-10 * (1 + mat.Trace(H))
			} else {
				ridge *= 10
			}
			for j := 0; j < k; j++ {
				hd[j*k+j] += ridge
			}
		}
		if err := ch.SolveVecTo(&step, mat.NewVecDense(k, append([]float64(nil), grad...))); err != nil {
			return nil, errs.Invalidf("the design is singular: add l2 regularisation")
		}
		// backtracking line search on θ - t·step
		tstep, dec := 1.0, 0.0
		for j := 0; j < k; j++ {
			dec += grad[j] * step.AtVec(j)
		}
		cand := make([]float64, k)
		if dec <= 1e-10*(1+math.Abs(f)) {
			// Near the optimum the predicted decrease is below the rounding
			// noise of f (a sum over all rows), so a line search would
			// decide on noise: take the full Newton step, and stop once
			// even that no longer changes anything that matters.
			for j := range cand {
				cand[j] = theta[j] - step.AtVec(j)
			}
			copy(theta, cand)
			f = obj(theta)
			if dec <= 1e-16*(1+math.Abs(f)) {
				break
			}
			continue
		}
		improved := false
		for ls := 0; ls < 40; ls++ {
			for j := range cand {
				cand[j] = theta[j] - tstep*step.AtVec(j)
			}
			fc := obj(cand)
			if fc <= f-1e-4*tstep*dec {
				copy(theta, cand)
				f = fc
				improved = true
				break
			}
			tstep /= 2
		}
		if !improved {
			obj(theta) // restore z
			break
		}
	}
	m.Intercept = theta[0]
	m.Coef = append([]float64(nil), theta[1:]...)
	return m, nil
}

// Predict returns the probability of the positive class for one row.
func (m *Model) Predict(x []float64) (float64, error) {
	if len(x) != len(m.Coef) {
		return 0, errs.Invalidf("row has %d values, the model has %d features", len(x), len(m.Coef))
	}
	z := m.Intercept
	for j, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, errs.Invalidf("feature %q is NaN or infinite", m.Features[j])
		}
		z += m.Coef[j] * v
	}
	return sigmoid(z), nil
}

// Marshal encodes the model as JSON.
func (m *Model) Marshal() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

// Unmarshal decodes and checks a model saved by Marshal.
func Unmarshal(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "not a logistic model")
	}
	if m.Format != Format {
		return nil, errs.Invalidf("model format %q, want %q", m.Format, Format)
	}
	if len(m.Coef) != len(m.Features) {
		return nil, errs.Invalidf("model has %d coefficients for %d features", len(m.Coef), len(m.Features))
	}
	return &m, nil
}
