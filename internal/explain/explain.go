// Package explain says why a model made a prediction: the contribution of
// each input, so a clinician can judge it.
//
// # Method
//
// Tree ensembles (hygie's gbdt, and XGBoost or LightGBM models trained
// elsewhere, all loaded into one representation, Ensemble) are explained by
// exact path-dependent TreeSHAP (Lundberg, Erion & Lee 2018, "Consistent
// individualized feature attribution for tree ensembles", Algorithm 2). The
// contributions are the Shapley values of the game whose value for a set S
// of known inputs is E[f(x) | x_S], the expectation taken over the training
// rows as the trees recorded them: at a split on an input outside S both
// branches are followed, weighted by the training rows (or hessian sums)
// that went each way — the node covers. The algorithm is polynomial
// (O(leaves × depth²) per tree) and exact: it gives the same numbers as
// enumerating every subset of inputs (the tests check this). A missing
// value (NaN) follows the branch the tree sends missing values to.
//
// Linear models (hygie's logistic and linear regressions) are explained by
// coefficient × value; see Linear.
//
// # Reading contributions
//
// base + Σ contributions = the model's raw output, exactly (up to rounding):
//
//   - base is the model's output when nothing is known about the patient:
//     for trees, the average raw output over the training rows; for linear
//     models, the intercept (hygie stores no training means: see Linear).
//   - a contribution is how much knowing that input moved the raw output
//     from the base, positive towards a higher value (or a higher risk).
//
// The raw output is the margin: the predicted value for a regression, the
// log-odds of the positive class for a binary classifier, the per-class
// score before the softmax for a multi-class one. Contributions add up on
// that scale only. For a classifier, Explanation.Probability gives the
// probability 1/(1+e^-output) as well, but contributions do not add up in
// probability: +0.5 log-odds moves a 10% risk to 15%, a 50% risk to 62%.
// Read them as "which inputs pushed the risk up or down, and how strongly
// relative to each other".
//
// Contributions explain the model, not the patient: a large contribution
// says the model leaned on that input, not that it causes the outcome.
package explain

import (
	"math"
	"slices"

	"github.com/hygie-health/hygie/internal/errs"
)

// Link says how a raw output (margin) becomes a prediction.
type Link string

// Links.
const (
	Identity Link = "identity" // regression: the margin is the prediction
	Logistic Link = "logistic" // binary: probability 1/(1+e^-(scale·margin))
	Softmax  Link = "softmax"  // multi-class: one margin per class, softmax
	Exp      Link = "exp"      // log-link regressions (Poisson, gamma, Tweedie): e^margin
)

// Missing says which values of a split's input follow the default
// direction (Node.DefaultLeft).
type Missing uint8

// Missing-value rules.
const (
	// MissingNaN: NaN goes the default direction (hygie, XGBoost,
	// LightGBM's missing_type=NaN).
	MissingNaN Missing = iota
	// MissingZero: NaN and zero (|x| ≤ 1e-35) go the default direction
	// (LightGBM's missing_type=Zero).
	MissingZero
	// MissingNone: NaN is read as 0 and compared with the threshold
	// (LightGBM's missing_type=None).
	MissingNone
)

// zeroThreshold is LightGBM's kZeroThreshold.
const zeroThreshold = 1e-35

// Node is one node of a tree. A leaf has Left < 0 and holds Value; an
// internal node sends x left when x[Feature] ≤ Threshold (< Threshold when
// the ensemble's LessThan is set) or, for a categorical split (Categories
// non-nil), when the integer part of x[Feature] is in Categories. Values
// picked out by Missing go left when DefaultLeft.
type Node struct {
	Left        int     `json:"left"`
	Right       int     `json:"right"`
	Feature     int     `json:"feature"`
	Threshold   float64 `json:"threshold"`
	Categories  []int   `json:"categories,omitempty"` // sorted
	DefaultLeft bool    `json:"default_left"`
	Missing     Missing `json:"missing"`
	Value       float64 `json:"value"` // leaf output, margin units (learning rate applied)
	// Cover is the training weight that reached the node: rows (hygie,
	// LightGBM's counts) or hessian sums (XGBoost's sum_hessian).
	Cover float64 `json:"cover"`
}

// IsLeaf tells a leaf.
func (n *Node) IsLeaf() bool { return n.Left < 0 }

// Tree is a flat list of nodes, the root first; Class is the output (class)
// it adds to, 0 for single-output models.
type Tree struct {
	Class int    `json:"class"`
	Nodes []Node `json:"nodes"`
}

// Feature is one input of an ensemble. Categories ≠ 0 marks a hygie
// categorical input with that many categories (-1: none): a code outside
// [0, Categories) or not an integer reads as missing.
type Feature struct {
	Name       string `json:"name"`
	Categories int    `json:"categories,omitempty"`
}

// Ensemble is a tree ensemble that can both predict and be explained.
// Build it with FromGBDT, LoadXGBoostJSON or LoadLightGBMText (which call
// Validate); the raw output of class k is Base[k] plus the sum of the
// values of the leaves x reaches in the trees of class k.
type Ensemble struct {
	Source    string `json:"source"`    // "hygie", "xgboost" or "lightgbm"
	Objective string `json:"objective"` // the objective as the source named it
	Link      Link   `json:"link"`
	// SigmoidScale multiplies the margin before the logistic (LightGBM's
	// "binary sigmoid:k"); 1 otherwise.
	SigmoidScale float64   `json:"sigmoid_scale"`
	Classes      int       `json:"classes"` // outputs: 1, or K for softmax
	Base         []float64 `json:"base"`    // per output, margin units
	Features     []Feature `json:"features"`
	Trees        []Tree    `json:"trees"`
	// LessThan: x < Threshold goes left (XGBoost); else x ≤ Threshold.
	LessThan bool `json:"less_than"`
	// Float32: inputs are rounded to float32 before comparison, as XGBoost
	// stores them.
	Float32 bool `json:"float32"`
	// Covers is set by Validate when every split has a positive cover,
	// which TreeSHAP needs.
	Covers bool `json:"covers"`
}

// maxDepth bounds a tree's depth (TreeSHAP's memory grows with its square).
const maxDepth = 512

// Validate checks the structure (every node reached once from the root,
// children and features in range, finite values, depth ≤ 512) and sets
// Covers.
func (e *Ensemble) Validate() error {
	if e.Classes < 1 || len(e.Base) != e.Classes {
		return errs.Invalidf("the model has %d outputs and %d base scores", e.Classes, len(e.Base))
	}
	if e.Link == Softmax && e.Classes < 2 || e.Link != Softmax && e.Classes != 1 {
		return errs.Invalidf("a %s model with %d outputs", e.Link, e.Classes)
	}
	if len(e.Features) == 0 {
		return errs.Invalidf("the model has no features")
	}
	if e.SigmoidScale == 0 {
		e.SigmoidScale = 1
	}
	if !finite(e.SigmoidScale) {
		return errs.Invalidf("the sigmoid scale is not finite")
	}
	for _, b := range e.Base {
		if !finite(b) {
			return errs.Invalidf("the base score is not finite")
		}
	}
	covers := true
	for ti := range e.Trees {
		t := &e.Trees[ti]
		if t.Class < 0 || t.Class >= e.Classes {
			return errs.Invalidf("tree %d adds to class %d of %d", ti, t.Class, e.Classes)
		}
		if len(t.Nodes) == 0 {
			return errs.Invalidf("tree %d is empty", ti)
		}
		seen := make([]bool, len(t.Nodes))
		type item struct{ node, depth int }
		stack := []item{{0, 0}}
		for len(stack) > 0 {
			it := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if it.node < 0 || it.node >= len(t.Nodes) || seen[it.node] {
				return errs.Invalidf("tree %d is malformed (node %d out of range or reached twice)", ti, it.node)
			}
			if it.depth > maxDepth {
				return errs.Invalidf("tree %d is deeper than %d", ti, maxDepth)
			}
			seen[it.node] = true
			n := &t.Nodes[it.node]
			if !finite(n.Cover) || n.Cover < 0 {
				return errs.Invalidf("tree %d node %d: cover %v", ti, it.node, n.Cover)
			}
			if n.IsLeaf() {
				if !finite(n.Value) {
					return errs.Invalidf("tree %d node %d: leaf value is not finite", ti, it.node)
				}
				continue
			}
			if n.Feature < 0 || n.Feature >= len(e.Features) {
				return errs.Invalidf("tree %d node %d splits on feature %d of %d", ti, it.node, n.Feature, len(e.Features))
			}
			if math.IsNaN(n.Threshold) {
				return errs.Invalidf("tree %d node %d: threshold is NaN", ti, it.node)
			}
			if n.Missing > MissingNone {
				return errs.Invalidf("tree %d node %d: unknown missing-value rule %d", ti, it.node, n.Missing)
			}
			if n.Categories != nil && !slices.IsSorted(n.Categories) {
				return errs.Invalidf("tree %d node %d: categories not sorted", ti, it.node)
			}
			if !(n.Cover > 0) {
				covers = false
			}
			stack = append(stack, item{n.Left, it.depth + 1}, item{n.Right, it.depth + 1})
		}
	}
	e.Covers = covers
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// row checks x and returns the values the trees compare: hygie's unknown
// category codes as NaN, XGBoost's inputs rounded to float32.
func (e *Ensemble) row(x []float64) ([]float64, error) {
	if len(x) != len(e.Features) {
		return nil, errs.Invalidf("row has %d values, the model has %d features", len(x), len(e.Features))
	}
	r := make([]float64, len(x))
	for j, v := range x {
		if c := e.Features[j].Categories; c != 0 && !math.IsNaN(v) && (v < 0 || v >= float64(c) || v != math.Trunc(v)) {
			v = math.NaN()
		}
		if e.Float32 {
			v = float64(float32(v))
		}
		r[j] = v
	}
	return r, nil
}

// left tells whether v (already passed through row) goes left at n.
func (e *Ensemble) left(n *Node, v float64) bool {
	switch n.Missing {
	case MissingNone:
		if math.IsNaN(v) {
			v = 0
		}
	case MissingZero:
		if math.IsNaN(v) || (v >= -zeroThreshold && v <= zeroThreshold) {
			return n.DefaultLeft
		}
	default:
		if math.IsNaN(v) {
			return n.DefaultLeft
		}
	}
	if n.Categories != nil {
		c := math.Trunc(v)
		if c < 0 || c > math.MaxInt32 {
			return false
		}
		_, found := slices.BinarySearch(n.Categories, int(c))
		return found
	}
	if e.LessThan {
		return v < n.Threshold
	}
	return v <= n.Threshold
}

func (e *Ensemble) next(n *Node, r []float64) int {
	if e.left(n, r[n.Feature]) {
		return n.Left
	}
	return n.Right
}

func (e *Ensemble) leaf(t *Tree, r []float64) float64 {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.IsLeaf() {
			return n.Value
		}
		i = e.next(n, r)
	}
}

// PredictRaw returns the raw outputs (margins) of one row, one per output.
func (e *Ensemble) PredictRaw(x []float64) ([]float64, error) {
	r, err := e.row(x)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(e.Base)
	for ti := range e.Trees {
		out[e.Trees[ti].Class] += e.leaf(&e.Trees[ti], r)
	}
	return out, nil
}

// Predict returns the raw output (margin) of a single-output model: the
// value of a regression, the log-odds of a binary classifier (times
// SigmoidScale for LightGBM's sigmoid:k).
func (e *Ensemble) Predict(x []float64) (float64, error) {
	if e.Classes != 1 {
		return 0, errs.Invalidf("a %d-class model has one output per class: use PredictRaw", e.Classes)
	}
	out, err := e.PredictRaw(x)
	if err != nil {
		return 0, err
	}
	return out[0], nil
}

// Response maps raw outputs to predictions: the value (identity, exp), the
// probability of the positive class (logistic) or the class probabilities
// (softmax).
func (e *Ensemble) Response(raw []float64) []float64 {
	out := slices.Clone(raw)
	switch e.Link {
	case Logistic:
		for k, v := range out {
			out[k] = sigmoid(e.SigmoidScale * v)
		}
	case Softmax:
		mx := math.Inf(-1)
		for _, v := range out {
			mx = math.Max(mx, v)
		}
		var s float64
		for k, v := range out {
			out[k] = math.Exp(v - mx)
			s += out[k]
		}
		for k := range out {
			out[k] /= s
		}
	case Exp:
		for k, v := range out {
			out[k] = math.Exp(v)
		}
	}
	return out
}

// Probability returns the probability of the positive class of a binary
// classifier for one row.
func (e *Ensemble) Probability(x []float64) (float64, error) {
	if e.Link != Logistic {
		return 0, errs.Invalidf("a %s model gives no probability of a positive class", e.Link)
	}
	raw, err := e.Predict(x)
	if err != nil {
		return 0, err
	}
	return sigmoid(e.SigmoidScale * raw), nil
}

// FeatureNames lists the features' names in order.
func (e *Ensemble) FeatureNames() []string {
	out := make([]string, len(e.Features))
	for j, f := range e.Features {
		out[j] = f.Name
	}
	return out
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	v := math.Exp(x)
	return v / (1 + v)
}
