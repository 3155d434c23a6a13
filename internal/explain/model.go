package explain

import (
	"math"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
)

// Explanation is one row's explanation: Base + Σ Contributions = Output.
type Explanation struct {
	// Base is the raw output with no input known: the training average
	// (trees) or the intercept (linear models).
	Base float64 `json:"base"`
	// Contributions has one entry per input of the model's signature; a
	// categorical input of a linear model sums its one-hot columns.
	Contributions map[string]float64 `json:"contributions"`
	// Output is the raw output: the predicted value of a regression, the
	// log-odds of the positive class of a binary classifier.
	Output float64 `json:"output"`
	// Probability is the positive class's probability (binary task only).
	Probability *float64 `json:"probability,omitempty"`
	// Method is "treeshap" or "linear".
	Method string `json:"method"`
}

// Methods.
const (
	MethodTreeSHAP = "treeshap"
	MethodLinear   = "linear"
)

// ForModel explains the model's prediction for every row of t (encoded as
// model.Predict does, so the same rows are refused for the same reasons).
// A gbdt model saved without node covers is refused with ErrNoCovers.
func ForModel(m *model.Model, t *model.Table) ([]Explanation, error) {
	if m == nil {
		return nil, errs.Invalidf("no model")
	}
	raw, err := model.Encode(m.Inputs, t)
	if err != nil {
		return nil, err
	}
	return ForRaw(m, raw)
}

// ForRaw is ForModel on rows already encoded by model.Encode (the form
// the inference server holds).
func ForRaw(m *model.Model, raw [][]float64) ([]Explanation, error) {
	if m == nil {
		return nil, errs.Invalidf("no model")
	}
	out := make([]Explanation, len(raw))
	switch m.Learner {
	case model.GBDT:
		e, err := FromGBDT(m.GBDT)
		if err != nil {
			return nil, err
		}
		if e.Classes != 1 || len(e.Features) != len(m.Inputs) {
			return nil, errs.Invalidf("malformed gbdt model for explanation")
		}
		if !e.Covers {
			return nil, errs.Invalidf(ErrNoCovers)
		}
		for i, x := range raw {
			for j, v := range x {
				if math.IsInf(v, 0) {
					return nil, errs.Invalidf("row %d column %q is infinite", i+1, m.Inputs[j].Name)
				}
			}
			base, phi, err := e.SHAP(x)
			if err != nil {
				return nil, err
			}
			ex := Explanation{Base: base, Contributions: make(map[string]float64, len(phi)), Output: base, Method: MethodTreeSHAP}
			for j, c := range phi {
				ex.Contributions[m.Inputs[j].Name] = c
			}
			// the output is the model's own prediction, not base + Σ phi
			r, err := e.Predict(x)
			if err != nil {
				return nil, err
			}
			ex.Output = r
			out[i] = ex
		}
	case model.Logistic, model.Linear:
		var names []string
		var coef []float64
		var intercept float64
		dropFirst := m.Learner == model.Linear
		if m.Learner == model.Logistic {
			names, coef, intercept = m.Logistic.Features, m.Logistic.Coef, m.Logistic.Intercept
		} else {
			names, coef, intercept = m.Linear.Features, m.Linear.Coef, m.Linear.Intercept
		}
		cols := oneHotColumns(m.Inputs, dropFirst)
		if len(cols) != len(coef) || len(names) != len(coef) {
			return nil, errs.Invalidf("malformed %s model: %d coefficients for %d encoded columns", m.Learner, len(coef), len(cols))
		}
		for c, col := range cols {
			if names[c] != col.name {
				return nil, errs.Invalidf("malformed %s model: feature %d is %q, the signature encodes %q", m.Learner, c, names[c], col.name)
			}
		}
		x := make([]float64, len(cols))
		for i, r := range raw {
			for c, col := range cols {
				v := r[col.input]
				switch {
				case col.code < 0:
					if math.IsNaN(v) {
						return nil, errs.Invalidf("row %d column %q is missing: this learner needs complete numeric data (gbdt handles missing values)", i+1, m.Inputs[col.input].Name)
					}
					x[c] = v
				case !math.IsNaN(v) && int(v) == col.code:
					x[c] = 1
				default:
					x[c] = 0
				}
			}
			base, phi := Linear(names, coef, intercept, x, nil)
			ex := Explanation{Base: base, Contributions: make(map[string]float64, len(m.Inputs)), Output: base, Method: MethodLinear}
			for _, in := range m.Inputs {
				ex.Contributions[in.Name] = 0
			}
			for c, col := range cols {
				ex.Contributions[m.Inputs[col.input].Name] += phi[c]
				ex.Output += phi[c]
			}
			out[i] = ex
		}
	default:
		return nil, errs.Invalidf("unknown learner %q", m.Learner)
	}
	if m.Task == model.Binary {
		for i := range out {
			p := sigmoid(out[i].Output)
			out[i].Probability = &p
		}
	}
	return out, nil
}

// column is one encoded column of a linear model: input's number (code -1)
// or the 0/1 indicator of category code.
type column struct {
	name  string
	input int
	code  int
}

// oneHotColumns mirrors model's one-hot encoding (see the package doc of
// internal/model): numeric inputs as they are, categorical ones one column
// per category, the first dropped for the linear regression.
func oneHotColumns(ins []model.Input, dropFirst bool) []column {
	var out []column
	for k, in := range ins {
		if in.Type == model.Numeric {
			out = append(out, column{name: in.Name, input: k, code: -1})
			continue
		}
		for c, s := range in.Categories {
			if c > 0 || !dropFirst {
				out = append(out, column{name: in.Name + "=" + s, input: k, code: c})
			}
		}
	}
	return out
}

// Linear explains a linear model's raw output intercept + Σ coef·x (the
// log-odds of a logistic regression): contrib[j] = coef[j]·(x[j] − mean[j])
// and base = intercept + Σ coef·mean when the training means are known
// (mean non-nil), which are then the exact Shapley values of the linear
// model with independent inputs; otherwise contrib[j] = coef[j]·x[j] and
// base = the intercept (the zero baseline). hygie's logistic and linear
// models store no training means, so hygie uses the zero baseline: base is
// the output of a patient with every numeric input at 0 and every
// categorical input at its reference level (the first category for the
// linear regression, none for the logistic one), which may be far from any
// real patient; the contributions still add up to the output and rank the
// inputs by how much they move it. names, coef and x (and mean when given)
// have one entry per encoded column; mismatched lengths panic.
func Linear(names []string, coef []float64, intercept float64, x []float64, mean []float64) (base float64, contrib []float64) {
	if len(names) != len(coef) || len(x) != len(coef) || (mean != nil && len(mean) != len(coef)) {
		panic("explain.Linear: names, coef, x and mean differ in length")
	}
	base = intercept
	contrib = make([]float64, len(coef))
	for j, c := range coef {
		if mean != nil {
			base += c * mean[j]
			contrib[j] = c * (x[j] - mean[j])
		} else {
			contrib[j] = c * x[j]
		}
	}
	return base, contrib
}
