package logistic

import (
	"encoding/json"
	"math"

	"github.com/hygie-health/hygie/internal/errs"
)

// MultinomialFormat is the JSON format tag of a saved multinomial model.
const MultinomialFormat = "hygie.logistic.multinomial/1"

// MultiModel is a fitted multinomial (softmax) logistic regression over K
// classes; it is its own JSON serialisation. Class k's score is
// Intercepts[k] + Coef[k]·x and P(k | x) = softmax(scores)_k.
type MultiModel struct {
	Format     string      `json:"format"`
	Features   []string    `json:"features"`
	Classes    int         `json:"classes"`
	Intercepts []float64   `json:"intercepts"`
	Coef       [][]float64 `json:"coef"` // [class][feature]
	L2         float64     `json:"l2"`
	Iterations int         `json:"iterations"`
	// Optional metadata set by callers: the input columns, the target column
	// and the target value of each class index.
	Inputs     []Input  `json:"inputs,omitempty"`
	Target     string   `json:"target,omitempty"`
	ClassNames []string `json:"class_names,omitempty"`
}

// FitMultinomial fits an L2-penalised multinomial logistic regression on rows
// X and class indices y in 0..k-1 (k = 0: 1 + the largest label). The
// objective, minimised over the intercepts b and the K×d weights W, is
//
//	Σ_i [log Σ_k exp(b_k + W_k·x_i) − (b_{y_i} + W_{y_i}·x_i)] + (L2/2)·‖W‖²
//
// which is scikit-learn's LogisticRegression(multi_class="multinomial") with
// C = 1/L2 (all K classes have weights, the intercepts are not penalised;
// with L2 = 0 the weights are determined only up to a common shift, the
// probabilities uniquely). It is minimised by L-BFGS over centred and scaled
// features (a change of variables that leaves the objective unchanged and
// speeds convergence). The fit stops when the largest component of the
// gradient (in those variables), divided by the number of rows, is at most
// p.Tol, or after 10·p.MaxIter L-BFGS iterations (1000 with DefaultParams).
func FitMultinomial(features []string, X [][]float64, y []int, k int, p Params) (*MultiModel, error) {
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
	if k < 0 || k == 1 {
		return nil, errs.Invalidf("classes must be 0 (inferred) or at least 2, got %d", k)
	}
	K := k
	for i, x := range X {
		if len(x) != d {
			return nil, errs.Invalidf("row %d has %d values, want %d", i, len(x), d)
		}
		for j, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d feature %q is NaN or infinite", i, features[j])
			}
		}
		if y[i] < 0 || (k > 0 && y[i] >= k) || y[i] > 1<<20 {
			return nil, errs.Invalidf("row %d: class %d out of range", i, y[i])
		}
		if k == 0 && y[i]+1 > K {
			K = y[i] + 1
		}
	}
	count := make([]float64, K)
	for _, c := range y {
		count[c]++
	}
	present := 0
	for _, c := range count {
		if c > 0 {
			present++
		}
	}
	if K < 2 || present < 2 {
		return nil, errs.Invalidf("the target has a single class")
	}
	// change of variables: x'_j = (x_j − μ_j)/s_j, w'_kj = w_kj·s_j,
	// b'_k = b_k + Σ_j w_kj·μ_j; the penalty stays on w (so on w'_kj/s_j).
	mu, sd := make([]float64, d), make([]float64, d)
	for _, x := range X {
		for j, v := range x {
			mu[j] += v
		}
	}
	for j := range mu {
		mu[j] /= float64(n)
	}
	for _, x := range X {
		for j, v := range x {
			sd[j] += (v - mu[j]) * (v - mu[j])
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / float64(n))
		if !(sd[j] > 1e-12) {
			sd[j] = 1
		}
	}
	stride := d + 1 // θ'_k = (b'_k, w'_k1..w'_kd)
	toOriginal := func(th, b, w []float64) {
		for c := 0; c < K; c++ {
			t := th[c*stride : (c+1)*stride]
			bc := t[0]
			for j := 0; j < d; j++ {
				w[c*d+j] = t[j+1] / sd[j]
				bc -= w[c*d+j] * mu[j]
			}
			b[c] = bc
		}
	}
	b, w := make([]float64, K), make([]float64, K*d)
	gb, gw := make([]float64, K), make([]float64, K*d)
	z := make([]float64, K)
	var lastX, lastG []float64
	var lastF float64
	eval := func(th []float64) (float64, []float64) {
		if lastX != nil && equal(lastX, th) {
			return lastF, lastG
		}
		toOriginal(th, b, w)
		clear(gb)
		clear(gw)
		var f float64
		for i, x := range X {
			mx := math.Inf(-1)
			for c := 0; c < K; c++ {
				s := b[c]
				wc := w[c*d : (c+1)*d]
				for j, v := range x {
					s += wc[j] * v
				}
				z[c] = s
				mx = math.Max(mx, s)
			}
			var e float64
			for c := range z {
				z[c] = math.Exp(z[c] - mx)
				e += z[c]
			}
			f += mx + math.Log(e) - (math.Log(z[y[i]]) + mx)
			for c := 0; c < K; c++ {
				r := z[c] / e
				if c == y[i] {
					r--
				}
				gb[c] += r
				gc := gw[c*d : (c+1)*d]
				for j, v := range x {
					gc[j] += r * v
				}
			}
		}
		for j, v := range w {
			f += p.L2 / 2 * v * v
			gw[j] += p.L2 * v
		}
		g := make([]float64, len(th))
		for c := 0; c < K; c++ {
			g[c*stride] = gb[c] / float64(n)
			for j := 0; j < d; j++ {
				g[c*stride+j+1] = (gw[c*d+j] - mu[j]*gb[c]) / sd[j] / float64(n)
			}
		}
		lastX, lastF, lastG = append(lastX[:0], th...), f/float64(n), g
		return lastF, lastG
	}
	// start at the intercept-only optimum: b_k = log prior (up to a shift)
	th0 := make([]float64, K*stride)
	for c := 0; c < K; c++ {
		th0[c*stride] = math.Log(math.Max(count[c], 1e-3) / float64(n))
	}
	th, iters := lbfgs(eval, th0, p.Tol, 10*p.MaxIter)
	if !finite(th) {
		return nil, errs.Invalidf("multinomial logistic regression did not converge")
	}
	toOriginal(th, b, w)
	m := &MultiModel{Format: MultinomialFormat, Features: append([]string(nil), features...), Classes: K,
		Intercepts: append([]float64(nil), b...), Coef: make([][]float64, K), L2: p.L2, Iterations: iters}
	for c := range m.Coef {
		m.Coef[c] = append([]float64(nil), w[c*d:(c+1)*d]...)
	}
	return m, nil
}

// lbfgs minimises f from x0 by limited-memory BFGS (10 pairs) with a
// backtracking (Armijo) line search, until the gradient's largest component
// is at most tol, the objective stops decreasing, or maxIter iterations. f
// returns the value and the gradient (which the caller may keep).
func lbfgs(f func([]float64) (float64, []float64), x0 []float64, tol float64, maxIter int) ([]float64, int) {
	const mem = 10
	n := len(x0)
	x := append([]float64(nil), x0...)
	fx, g := f(x)
	g = append([]float64(nil), g...)
	var S, Y [][]float64
	var rho []float64
	dir := make([]float64, n)
	alpha := make([]float64, mem)
	xn := make([]float64, n)
	it := 0
	for ; it < maxIter; it++ {
		if maxAbs(g) <= tol {
			break
		}
		// two-loop recursion: dir = −H·g
		copy(dir, g)
		for k := len(S) - 1; k >= 0; k-- {
			alpha[k] = rho[k] * dot(S[k], dir)
			axpy(-alpha[k], Y[k], dir)
		}
		gamma := 1.0
		if k := len(S) - 1; k >= 0 {
			gamma = dot(S[k], Y[k]) / dot(Y[k], Y[k])
		} else if ng := math.Sqrt(dot(g, g)); ng > 0 {
			gamma = 1 / ng // first step of unit length
		}
		for j := range dir {
			dir[j] *= gamma
		}
		for k := range S {
			beta := rho[k] * dot(Y[k], dir)
			axpy(alpha[k]-beta, S[k], dir)
		}
		for j := range dir {
			dir[j] = -dir[j]
		}
		slope := dot(g, dir)
		if !(slope < 0) { // not a descent direction: restart from the gradient
			S, Y, rho = S[:0], Y[:0], rho[:0]
			for j := range dir {
				dir[j] = -g[j]
			}
			slope = -dot(g, g)
		}
		step, accepted := 1.0, false
		var fn float64
		var gn []float64
		for ls := 0; ls < 50; ls++ {
			for j := range xn {
				xn[j] = x[j] + step*dir[j]
			}
			fn, gn = f(xn)
			if fn <= fx+1e-4*step*slope {
				accepted = true
				break
			}
			step /= 2
		}
		if !accepted || fx-fn <= 1e-15*math.Abs(fx) && maxAbs(gn) > tol {
			if accepted && fn < fx {
				copy(x, xn)
			}
			it++
			break // no more progress in floating point
		}
		s, y := make([]float64, n), make([]float64, n)
		for j := range s {
			s[j] = xn[j] - x[j]
			y[j] = gn[j] - g[j]
		}
		copy(x, xn)
		copy(g, gn)
		fx = fn
		if sy := dot(s, y); sy > 1e-12*math.Sqrt(dot(s, s)*dot(y, y)) {
			if len(S) == mem {
				S, Y, rho = S[1:], Y[1:], rho[1:]
			}
			S, Y, rho = append(S, s), append(Y, y), append(rho, 1/sy)
		}
	}
	return x, it
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func maxAbs(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func equal(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func finite(v []float64) bool {
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// PredictProba returns the K class probabilities of one row.
func (m *MultiModel) PredictProba(x []float64) ([]float64, error) {
	if len(x) != len(m.Features) {
		return nil, errs.Invalidf("row has %d values, the model has %d features", len(x), len(m.Features))
	}
	z := make([]float64, m.Classes)
	mx := math.Inf(-1)
	for c := range z {
		s := m.Intercepts[c]
		for j, v := range x {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errs.Invalidf("feature %q is NaN or infinite", m.Features[j])
			}
			s += m.Coef[c][j] * v
		}
		z[c] = s
		mx = math.Max(mx, s)
	}
	var e float64
	for c := range z {
		z[c] = math.Exp(z[c] - mx)
		e += z[c]
	}
	for c := range z {
		z[c] /= e
	}
	return z, nil
}

// Predict returns the most probable class of one row.
func (m *MultiModel) Predict(x []float64) (int, error) {
	p, err := m.PredictProba(x)
	if err != nil {
		return 0, err
	}
	best := 0
	for c, v := range p {
		if v > p[best] {
			best = c
		}
	}
	return best, nil
}

// Marshal encodes the model as JSON.
func (m *MultiModel) Marshal() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

// UnmarshalMultinomial decodes and checks a model saved by MultiModel.Marshal.
func UnmarshalMultinomial(b []byte) (*MultiModel, error) {
	var m MultiModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "not a multinomial logistic model")
	}
	if m.Format != MultinomialFormat {
		return nil, errs.Invalidf("model format %q, want %q", m.Format, MultinomialFormat)
	}
	if m.Classes < 2 || len(m.Intercepts) != m.Classes || len(m.Coef) != m.Classes {
		return nil, errs.Invalidf("model has %d classes, %d intercepts and %d coefficient rows", m.Classes, len(m.Intercepts), len(m.Coef))
	}
	for c, w := range m.Coef {
		if len(w) != len(m.Features) {
			return nil, errs.Invalidf("class %d has %d coefficients for %d features", c, len(w), len(m.Features))
		}
	}
	return &m, nil
}
