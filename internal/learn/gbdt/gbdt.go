// Package gbdt is hygie's histogram-based gradient-boosted decision trees.
//
// Features are binned once into at most 255 bins plus one bin for missing
// values (bin 0): numeric features on quantile bin edges (or midpoints
// between distinct values when there are few) of at most 200 000 sampled
// training rows, categorical features one bin per category code. Trees grow
// leaf-wise (best-first): the leaf whose best split has the largest gain is
// split next, until MaxLeaves leaves, MaxDepth or no split with positive
// gain respecting MinSamplesLeaf remains. The
// histogram of the larger child is the parent's minus the smaller child's
// (the subtraction trick).
//
// Missing values (NaN) are native: at every split both directions are tried
// for the missing bin and the better one is kept in the node (MissingLeft).
//
// Categorical splits follow LightGBM: the categories present in the node are
// ordered by G/(H+λ) (sum of gradients over sum of hessians) and the best
// prefix of that order goes left; this finds the optimal binary partition
// for the squared loss in one scan. Categories not seen at training time,
// and codes beyond the 255-bin limit, are treated as missing.
//
// Losses: squared error (regression), binary log-loss (targets 0/1) and the
// multinomial log-loss (softmax) for K ≥ 2 classes, which grows K trees per
// round, one per class, on the same binned data, starting from the log class
// priors (scikit-learn's HistGradientBoostingClassifier does the same).
//
// Models serialise to versioned JSON ("hygie.gbdt/1") that does not depend on
// the binning: numeric nodes keep a threshold (x <= Threshold goes left),
// categorical nodes the set of codes going left. Multinomial models keep
// their trees per class in class_trees and their init scores in init_scores;
// regression and binary models keep the single-output trees and init_score
// fields, unchanged.
package gbdt

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"sort"
	"sync"

	"github.com/hygie-health/hygie/internal/errs"
)

// Format is the JSON format tag of a saved model.
const Format = "hygie.gbdt/1"

// Feature types.
const (
	Numeric     = "numeric"
	Categorical = "categorical"
)

// Losses.
const (
	SquaredError = "squared_error"
	LogLoss      = "log_loss"
	// Multinomial is the multi-class log-loss (softmax): targets are the
	// class indices 0..K-1 given as float64 values.
	Multinomial = "multinomial"
)

// maxBins is the number of non-missing bins (bin 0 holds missing values).
const maxBins = 255

// Feature describes one input column. A categorical feature's values are
// codes: the index into Categories (as a float64), NaN when missing.
type Feature struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"`
	Categories []string `json:"categories,omitempty"`
}

// Params are the training hyper-parameters.
type Params struct {
	Trees          int     // boosting rounds (≥1)
	MaxLeaves      int     // leaves per tree (≥2)
	MaxDepth       int     // 0: unlimited
	MinSamplesLeaf int     // ≥1
	LearningRate   float64 // in (0, 1]
	L2             float64 // ≥0
	MaxBins        int     // 2..255
	Loss           string  // SquaredError, LogLoss or Multinomial
	// Classes is the number of classes K for Multinomial: 0 infers it as
	// 1 + the largest label. Ignored by the other losses.
	Classes int
	// EarlyStopping > 0 holds out ValidationFraction of the rows and stops
	// after that many rounds without improving the validation loss, keeping
	// the best number of trees.
	EarlyStopping      int
	ValidationFraction float64
	Seed               int64
	Workers            int // goroutines building histograms (≤1: single-threaded)
}

// DefaultParams mirror scikit-learn's HistGradientBoosting defaults.
func DefaultParams() Params {
	return Params{Trees: 100, MaxLeaves: 31, MinSamplesLeaf: 20, LearningRate: 0.1, MaxBins: 255,
		Loss: SquaredError, ValidationFraction: 0.1, Seed: 1}
}

// Validate reports the first out-of-range parameter.
func (p Params) Validate() error {
	switch {
	case p.Trees < 1:
		return errs.Invalidf("trees must be at least 1, got %d", p.Trees)
	case p.MaxLeaves < 2:
		return errs.Invalidf("leaves must be at least 2, got %d", p.MaxLeaves)
	case p.MaxDepth < 0:
		return errs.Invalidf("max_depth must be 0 (unlimited) or positive, got %d", p.MaxDepth)
	case p.MinSamplesLeaf < 1:
		return errs.Invalidf("min_samples_leaf must be at least 1, got %d", p.MinSamplesLeaf)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return errs.Invalidf("learning_rate must be in (0, 1], got %v", p.LearningRate)
	case !(p.L2 >= 0) || math.IsInf(p.L2, 1):
		return errs.Invalidf("l2 must be a finite number ≥ 0, got %v", p.L2)
	case p.MaxBins < 2 || p.MaxBins > maxBins:
		return errs.Invalidf("max_bins must be in [2, 255], got %d", p.MaxBins)
	case p.Loss != SquaredError && p.Loss != LogLoss && p.Loss != Multinomial:
		return errs.Invalidf("loss must be %s, %s or %s, got %q", SquaredError, LogLoss, Multinomial, p.Loss)
	case p.Classes < 0 || p.Classes == 1:
		return errs.Invalidf("classes must be 0 (inferred) or at least 2, got %d", p.Classes)
	case p.EarlyStopping < 0:
		return errs.Invalidf("early_stopping must be ≥ 0, got %d", p.EarlyStopping)
	case p.EarlyStopping > 0 && !(p.ValidationFraction > 0 && p.ValidationFraction < 1):
		return errs.Invalidf("validation_fraction must be in (0, 1), got %v", p.ValidationFraction)
	}
	return nil
}

// Node is a tree node; a leaf when Left == 0 (the root is node 0, never a child).
type Node struct {
	Feature     int     `json:"feature,omitempty"`
	Threshold   float64 `json:"threshold,omitempty"`
	Categories  []int   `json:"categories,omitempty"` // categorical: codes going left
	MissingLeft bool    `json:"missing_left,omitempty"`
	Left        int     `json:"left,omitempty"`
	Right       int     `json:"right,omitempty"`
	Value       float64 `json:"value,omitempty"` // leaf output (learning rate applied)
	Gain        float64 `json:"gain,omitempty"`
	// Cover is the number of training rows that reached the node (the
	// validation rows held out for early stopping excluded). TreeSHAP
	// (internal/explain) weighs the branches not taken by it. Models saved
	// before covers were recorded have 0 everywhere.
	Cover float64 `json:"cover,omitempty"`
}

// Tree is a flat list of nodes.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Model is a trained ensemble; it is its own JSON serialisation.
type Model struct {
	Format     string    `json:"format"`
	Loss       string    `json:"loss"`
	Features   []Feature `json:"features"`
	InitScore  float64   `json:"init_score"`
	Trees      []Tree    `json:"trees"`
	Importance []float64 `json:"importance_gain"` // total split gain per feature (summed over classes)
	// Multinomial only: the number of classes, the initial score of each
	// class (log prior) and the trees of each class, ClassTrees[class][round].
	Classes    int       `json:"classes,omitempty"`
	InitScores []float64 `json:"init_scores,omitempty"`
	ClassTrees [][]Tree  `json:"class_trees,omitempty"`
	// Optional metadata set by callers: the target column and, for log-loss,
	// the target value counted as the positive class.
	Target   string `json:"target,omitempty"`
	Positive string `json:"positive,omitempty"`
}

func (t *Tree) predict(x []float64) float64 {
	i := 0
	for {
		n := &t.Nodes[i]
		if n.Left == 0 {
			return n.Value
		}
		v := x[n.Feature]
		var left bool
		switch {
		case math.IsNaN(v):
			left = n.MissingLeft
		case n.Categories != nil:
			left = false
			c := int(v)
			for _, k := range n.Categories {
				if k == c {
					left = true
					break
				}
			}
		default:
			left = v <= n.Threshold
		}
		if left {
			i = n.Left
		} else {
			i = n.Right
		}
	}
}

// Raw is the raw score (before the link function) of one row; for a
// multinomial model, the raw score of class 0 (see RawMulti).
func (m *Model) Raw(x []float64) float64 {
	if m.Loss == Multinomial {
		return m.rawClass(x, 0)
	}
	s := m.InitScore
	for i := range m.Trees {
		s += m.Trees[i].predict(x)
	}
	return s
}

func (m *Model) rawClass(x []float64, k int) float64 {
	s := m.InitScores[k]
	for i := range m.ClassTrees[k] {
		s += m.ClassTrees[k][i].predict(x)
	}
	return s
}

// RawMulti appends the K raw class scores of one row (multinomial models) to
// dst and returns it.
func (m *Model) RawMulti(dst, x []float64) []float64 {
	for k := 0; k < m.Classes; k++ {
		dst = append(dst, m.rawClass(x, k))
	}
	return dst
}

// clean checks a row and maps unknown category codes to NaN.
func (m *Model) clean(x []float64) ([]float64, error) {
	if len(x) != len(m.Features) {
		return nil, errs.Invalidf("row has %d values, the model has %d features", len(x), len(m.Features))
	}
	row := make([]float64, len(x))
	for j, v := range x {
		f := m.Features[j]
		if f.Type == Categorical && !math.IsNaN(v) && (v < 0 || int(v) >= len(f.Categories) || v != math.Trunc(v)) {
			v = math.NaN()
		}
		if math.IsInf(v, 0) {
			return nil, errs.Invalidf("feature %q is infinite", f.Name)
		}
		row[j] = v
	}
	return row, nil
}

// Predict returns the prediction for one row: the value for regression, the
// probability of the positive class for log-loss, the most probable class
// index (0..K-1, as a float64) for multinomial. Categorical values are
// codes; unknown codes and NaN count as missing.
func (m *Model) Predict(x []float64) (float64, error) {
	row, err := m.clean(x)
	if err != nil {
		return 0, err
	}
	switch m.Loss {
	case LogLoss:
		return sigmoid(m.Raw(row)), nil
	case Multinomial:
		best, bk := math.Inf(-1), 0
		for k := 0; k < m.Classes; k++ {
			if r := m.rawClass(row, k); r > best {
				best, bk = r, k
			}
		}
		return float64(bk), nil
	}
	return m.Raw(row), nil
}

// PredictProba returns the class probabilities of one row: K values for a
// multinomial model, [1-p, p] for a binary log-loss model; an error for a
// regression model.
func (m *Model) PredictProba(x []float64) ([]float64, error) {
	row, err := m.clean(x)
	if err != nil {
		return nil, err
	}
	switch m.Loss {
	case LogLoss:
		p := sigmoid(m.Raw(row))
		return []float64{1 - p, p}, nil
	case Multinomial:
		out := m.RawMulti(make([]float64, 0, m.Classes), row)
		softmax(out)
		return out, nil
	}
	return nil, errs.Invalidf("a %s model has no class probabilities", m.Loss)
}

// PredictProbaBatch returns PredictProba of every row.
func (m *Model) PredictProbaBatch(X [][]float64) ([][]float64, error) {
	out := make([][]float64, len(X))
	for i, x := range X {
		p, err := m.PredictProba(x)
		if err != nil {
			return nil, errs.Invalidf("row %d: %s", i, errs.MessageOf(err))
		}
		out[i] = p
	}
	return out, nil
}

// softmax replaces the scores z by exp(z)/Σexp(z), in place.
func softmax(z []float64) {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, v)
	}
	var s float64
	for k, v := range z {
		z[k] = math.Exp(v - mx)
		s += z[k]
	}
	for k := range z {
		z[k] /= s
	}
}

// PredictBatch predicts every row.
func (m *Model) PredictBatch(X [][]float64) ([]float64, error) {
	out := make([]float64, len(X))
	for i, x := range X {
		p, err := m.Predict(x)
		if err != nil {
			return nil, errs.Invalidf("row %d: %s", i, errs.MessageOf(err))
		}
		out[i] = p
	}
	return out, nil
}

// Marshal encodes the model as JSON.
func (m *Model) Marshal() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

// Unmarshal decodes and checks a model saved by Marshal.
func Unmarshal(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "not a gbdt model")
	}
	if m.Format != Format {
		return nil, errs.Invalidf("model format %q, want %q", m.Format, Format)
	}
	switch m.Loss {
	case SquaredError, LogLoss:
		if m.Classes != 0 || m.InitScores != nil || m.ClassTrees != nil {
			return nil, errs.Invalidf("a %s model has per-class fields", m.Loss)
		}
	case Multinomial:
		if m.Classes < 2 || len(m.InitScores) != m.Classes || len(m.ClassTrees) != m.Classes || len(m.Trees) != 0 {
			return nil, errs.Invalidf("multinomial model: want %d ≥ 2 classes with one init score and one tree list each", m.Classes)
		}
	default:
		return nil, errs.Invalidf("model loss %q unknown", m.Loss)
	}
	check := func(what string, trees []Tree) error {
		for ti, t := range trees {
			if len(t.Nodes) == 0 {
				return errs.Invalidf("%stree %d is empty", what, ti)
			}
			for ni, n := range t.Nodes {
				if n.Left != 0 && (n.Left <= ni || n.Right <= ni || n.Left >= len(t.Nodes) || n.Right >= len(t.Nodes) ||
					n.Feature < 0 || n.Feature >= len(m.Features)) {
					return errs.Invalidf("%stree %d node %d is malformed", what, ti, ni)
				}
			}
		}
		return nil
	}
	if err := check("", m.Trees); err != nil {
		return nil, err
	}
	for k, ts := range m.ClassTrees {
		if err := check(fmt.Sprintf("class %d ", k), ts); err != nil {
			return nil, err
		}
	}
	return &m, nil
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// ---- training ----

type binner struct {
	edges []float64 // numeric: v <= edges[b-1] ⇒ bin ≤ b; len = bins-1
	nbins int       // non-missing bins
	cat   bool
}

func (b *binner) bin(v float64) uint8 {
	if math.IsNaN(v) {
		return 0
	}
	if b.cat {
		c := int(v)
		if c < 0 || c >= b.nbins || float64(c) != v {
			return 0
		}
		return uint8(c + 1)
	}
	// the number of edges < v, by a branch-free binary search
	e := b.edges
	if len(e) == 0 {
		return 1
	}
	base, n := 0, len(e)
	for n > 1 {
		half := n >> 1
		if e[base+half] < v {
			base += half
		}
		n -= half
	}
	if e[base] < v {
		base++
	}
	return uint8(1 + base)
}

func newBinner(col []float64, cat bool, ncat, nb int) *binner {
	if cat {
		if ncat > nb {
			ncat = nb
		}
		return &binner{cat: true, nbins: ncat}
	}
	vals := make([]float64, 0, len(col))
	for _, v := range col {
		if !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	sort.Float64s(vals)
	distinct := vals[:0:0]
	for i, v := range vals {
		if i == 0 || v != vals[i-1] {
			distinct = append(distinct, v)
		}
	}
	var edges []float64
	if len(distinct) <= nb {
		for i := 1; i < len(distinct); i++ {
			edges = append(edges, distinct[i-1]+(distinct[i]-distinct[i-1])/2)
		}
	} else {
		for k := 1; k < nb; k++ {
			q := vals[int(float64(k)*float64(len(vals))/float64(nb))]
			// the edge is the midpoint between q's predecessor value and q
			i := sort.SearchFloat64s(distinct, q)
			if i == 0 {
				continue
			}
			e := distinct[i-1] + (distinct[i]-distinct[i-1])/2
			if len(edges) == 0 || e > edges[len(edges)-1] {
				edges = append(edges, e)
			}
		}
	}
	return &binner{edges: edges, nbins: len(edges) + 1}
}

type histBin struct {
	g, h float64
	n    int
}

type split struct {
	gain        float64
	feature     int
	bin         int    // numeric: bins 1..bin go left
	cats        []bool // categorical: bin → left
	missingLeft bool
	gl, hl      float64
	nl          int
}

type leaf struct {
	node       int
	idx        []int32
	depth      int
	g, h       float64
	hist       []histBin // nfeat*(maxBins+1)
	best       split
	splittable bool
}

type trainer struct {
	p       Params
	feats   []Feature
	binners []*binner
	bins    [][]uint8  // [feature][row], column-major
	gh      []gradHess // gradients and hessians of the output being fitted
	imp     []float64
	nrows   int
	ghbuf   []gradHess // scratch for buildHist
	scratch []int32    // scratch for partitioning
	free    [][]histBin
}

const stride = maxBins + 1

// gradHess is one row's gradient and hessian, side by side so that a
// gather reads one cache line.
type gradHess struct{ g, h float64 }

func (t *trainer) newHist() []histBin {
	if k := len(t.free); k > 0 {
		h := t.free[k-1]
		t.free = t.free[:k-1]
		clear(h)
		return h
	}
	return make([]histBin, len(t.feats)*stride)
}

// buildHist sums gradients, hessians and counts per feature and bin over the
// rows idx (ascending).
func (t *trainer) buildHist(idx []int32) []histBin {
	nf := len(t.feats)
	hist := t.newHist()
	// gather the gradients once so the per-feature loops read them in order
	if cap(t.ghbuf) < len(idx) {
		t.ghbuf = make([]gradHess, len(idx))
	}
	gh := t.ghbuf[:len(idx)]
	all := len(idx) == t.nrows // the root without a validation split: rows 0..n-1
	if all {
		gh = t.gh[:len(idx)]
	} else {
		src := t.gh
		for k, i := range idx {
			gh[k] = src[i]
		}
	}
	one := func(f int) {
		hb := (*[stride]histBin)(hist[f*stride : (f+1)*stride])
		col := t.bins[f]
		if all {
			col = col[:len(gh)]
			for k, b := range col {
				e := &hb[b]
				e.g += gh[k].g
				e.h += gh[k].h
				e.n++
			}
			return
		}
		for k, i := range idx[:len(gh)] {
			e := &hb[col[i]]
			e.g += gh[k].g
			e.h += gh[k].h
			e.n++
		}
	}
	if t.p.Workers > 1 && nf > 1 {
		var wg sync.WaitGroup
		sem := make(chan struct{}, t.p.Workers)
		for f := 0; f < nf; f++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(f int) { defer wg.Done(); one(f); <-sem }(f)
		}
		wg.Wait()
	} else {
		f := 0
		for ; f+1 < nf; f += 2 {
			t.two(hist, f, idx, gh, all)
		}
		for ; f < nf; f++ {
			one(f)
		}
	}
	return hist
}

// two adds the rows to the histograms of features f and f+1 in one pass:
// each row's index and gradients are loaded once, and the two updates are
// independent (the sums per bin are in the same order as one feature at a
// time, so the result is identical).
func (t *trainer) two(hist []histBin, f int, idx []int32, gh []gradHess, all bool) {
	h0 := (*[stride]histBin)(hist[f*stride : (f+1)*stride])
	h1 := (*[stride]histBin)(hist[(f+1)*stride : (f+2)*stride])
	c0, c1 := t.bins[f], t.bins[f+1]
	if all {
		c0, c1 = c0[:len(gh)], c1[:len(gh)]
		for k, b0 := range c0 {
			g, h := gh[k].g, gh[k].h
			e0, e1 := &h0[b0], &h1[c1[k]]
			e0.g += g
			e0.h += h
			e0.n++
			e1.g += g
			e1.h += h
			e1.n++
		}
		return
	}
	for k, i := range idx[:len(gh)] {
		g, h := gh[k].g, gh[k].h
		e0, e1 := &h0[c0[i]], &h1[c1[i]]
		e0.g += g
		e0.h += h
		e0.n++
		e1.g += g
		e1.h += h
		e1.n++
	}
}

func (t *trainer) score(g, h float64) float64 { return g * g / (h + t.p.L2) }

const minHess = 1e-3

// catSmooth is added to the hessian sum when ordering categories, so that
// rare categories do not land at the extremes of the order on noise
// (LightGBM's cat_smooth, scikit-learn's MIN_CAT_SUPPORT, both 10).
const catSmooth = 10

func (t *trainer) findBest(l *leaf) {
	l.splittable = false
	l.best = split{}
	if (t.p.MaxDepth > 0 && l.depth >= t.p.MaxDepth) || len(l.idx) < 2*t.p.MinSamplesLeaf {
		return
	}
	n := len(l.idx)
	parent := t.score(l.g, l.h)
	minN := t.p.MinSamplesLeaf
	for f := range t.feats {
		hb := l.hist[f*stride : (f+1)*stride]
		nb := t.binners[f].nbins
		miss := hb[0]
		try := func(gl, hl float64, nl int) (float64, bool) {
			nr := n - nl
			hr := l.h - hl
			if nl < minN || nr < minN || hl < minHess || hr < minHess {
				return 0, false
			}
			return t.score(gl, hl) + t.score(l.g-gl, hr) - parent, true
		}
		consider := func(gain float64, ok bool, s split) {
			if ok && gain > l.best.gain+1e-12 {
				l.best = s
				l.best.gain = gain
				l.splittable = true
			}
		}
		if !t.binners[f].cat {
			var gl, hl float64
			var nl int
			for b := 1; b <= nb; b++ {
				gl += hb[b].g
				hl += hb[b].h
				nl += hb[b].n
				if b == nb && miss.n == 0 {
					break
				}
				// missing right
				g1, ok1 := try(gl, hl, nl)
				consider(g1, ok1, split{feature: f, bin: b, gl: gl, hl: hl, nl: nl})
				if miss.n > 0 && b < nb {
					g2, ok2 := try(gl+miss.g, hl+miss.h, nl+miss.n)
					consider(g2, ok2, split{feature: f, bin: b, missingLeft: true, gl: gl + miss.g, hl: hl + miss.h, nl: nl + miss.n})
				}
			}
			continue
		}
		// categorical: order present categories by G/(H+λ)
		var order []int
		for b := 1; b <= nb; b++ {
			if hb[b].n > 0 {
				order = append(order, b)
			}
		}
		if len(order) < 1 || (len(order) < 2 && miss.n == 0) {
			continue
		}
		sort.SliceStable(order, func(i, j int) bool {
			a, c := hb[order[i]], hb[order[j]]
			return a.g/(a.h+catSmooth) < c.g/(c.h+catSmooth)
		})
		var gl, hl float64
		var nl int
		for k, b := range order {
			gl += hb[b].g
			hl += hb[b].h
			nl += hb[b].n
			last := k == len(order)-1
			if last && miss.n == 0 {
				break
			}
			mk := func(ml bool) split {
				cats := make([]bool, stride)
				for _, c := range order[:k+1] {
					cats[c] = true
				}
				s := split{feature: f, cats: cats, missingLeft: ml, gl: gl, hl: hl, nl: nl}
				if ml {
					s.gl, s.hl, s.nl = gl+miss.g, hl+miss.h, nl+miss.n
				}
				return s
			}
			if g1, ok1 := try(gl, hl, nl); ok1 && g1 > l.best.gain+1e-12 {
				consider(g1, ok1, mk(false))
			}
			if miss.n > 0 && !last {
				if g2, ok2 := try(gl+miss.g, hl+miss.h, nl+miss.n); ok2 && g2 > l.best.gain+1e-12 {
					consider(g2, ok2, mk(true))
				}
			}
		}
	}
}

// partition reorders idx stably, the rows going left by split s first (in
// their order), and returns how many go left.
func (t *trainer) partition(s *split, idx []int32) int {
	var left [stride]int // 1: the bin goes left
	if s.missingLeft {
		left[0] = 1
	}
	for b := 1; b < stride; b++ {
		if (s.cats != nil && s.cats[b]) || (s.cats == nil && b <= s.bin) {
			left[b] = 1
		}
	}
	col := t.bins[s.feature]
	right := t.scratch[:len(idx)]
	// branch-free: write every row to both sides, advance one of them
	lo, ro := 0, 0
	for _, i := range idx {
		l := left[col[i]]
		idx[lo] = i // lo ≤ the position being read
		right[ro] = i
		lo += l
		ro += 1 - l
	}
	copy(idx[lo:], right[:ro])
	return lo
}

func (t *trainer) leafValue(g, h float64) float64 { return -g / (h + t.p.L2) * t.p.LearningRate }

// growTree grows one tree on the rows idx (reordered in place) and adds its
// output to raw for those rows.
func (t *trainer) growTree(idx []int32, raw []float64) Tree {
	var gs, hs float64
	for _, i := range idx {
		gs += t.gh[i].g
		hs += t.gh[i].h
	}
	tree := Tree{Nodes: []Node{{Cover: float64(len(idx))}}}
	root := &leaf{node: 0, idx: idx, g: gs, h: hs, hist: t.buildHist(idx)}
	t.findBest(root)
	leaves := []*leaf{root}
	for len(leaves) < t.p.MaxLeaves {
		bi := -1
		for k, l := range leaves {
			if l.splittable && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = k
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		s := l.best
		lo := t.partition(&s, l.idx)
		li, ri := len(tree.Nodes), len(tree.Nodes)+1
		nd := &tree.Nodes[l.node]
		nd.Feature, nd.MissingLeft, nd.Left, nd.Right, nd.Gain = s.feature, s.missingLeft, li, ri, s.gain
		bn := t.binners[s.feature]
		if s.cats != nil {
			nd.Categories = []int{}
			for b := 1; b <= bn.nbins; b++ {
				if s.cats[b] {
					nd.Categories = append(nd.Categories, b-1)
				}
			}
		} else if s.bin <= len(bn.edges) {
			nd.Threshold = bn.edges[s.bin-1]
		} else {
			nd.Threshold = math.MaxFloat64 // all non-missing go left (JSON has no Inf)
		}
		t.imp[s.feature] += s.gain
		tree.Nodes = append(tree.Nodes, Node{Cover: float64(lo)}, Node{Cover: float64(len(l.idx) - lo)})
		left := &leaf{node: li, idx: l.idx[:lo], depth: l.depth + 1, g: s.gl, h: s.hl}
		right := &leaf{node: ri, idx: l.idx[lo:], depth: l.depth + 1, g: l.g - s.gl, h: l.h - s.hl}
		small, large := left, right
		if len(right.idx) < len(left.idx) {
			small, large = right, left
		}
		small.hist = t.buildHist(small.idx)
		large.hist = l.hist // reuse the parent's memory
		sh := small.hist[:len(large.hist)]
		for k := range large.hist {
			large.hist[k].g -= sh[k].g
			large.hist[k].h -= sh[k].h
			large.hist[k].n -= sh[k].n
		}
		t.findBest(left)
		t.findBest(right)
		leaves[bi] = left
		leaves = append(leaves, right)
	}
	for _, l := range leaves {
		v := t.leafValue(l.g, l.h)
		tree.Nodes[l.node].Value = v
		for _, i := range l.idx {
			raw[i] += v // the leaves partition the training rows
		}
		if l.hist != nil {
			t.free = append(t.free, l.hist)
		}
		l.hist = nil
	}
	return tree
}

// Fit trains a model. X has one row per observation, one value per feature
// (categorical features as codes into Feature.Categories, NaN when missing);
// y holds targets: any finite value for SquaredError, 0/1 for LogLoss, the
// class index 0..K-1 (an integer stored as a float64) for Multinomial, where
// K is p.Classes or, when that is 0, 1 + the largest label.
func Fit(features []Feature, X [][]float64, y []float64, p Params) (*Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(features) == 0 {
		return nil, errs.Invalidf("no features")
	}
	seen := map[string]bool{}
	for j, f := range features {
		if f.Name == "" || seen[f.Name] {
			return nil, errs.Invalidf("feature %d: empty or duplicate name", j)
		}
		seen[f.Name] = true
		if f.Type != Numeric && f.Type != Categorical {
			return nil, errs.Invalidf("feature %q: type %q, want numeric or categorical", f.Name, f.Type)
		}
	}
	if len(X) == 0 || len(X) != len(y) {
		return nil, errs.Invalidf("want the same non-zero number of rows and targets, got %d and %d", len(X), len(y))
	}
	if len(X) > math.MaxInt32 {
		return nil, errs.Invalidf("too many rows (%d)", len(X))
	}
	K := 1 // outputs (trees per round)
	if p.Loss == Multinomial {
		K = p.Classes
	}
	for i, x := range X {
		if len(x) != len(features) {
			return nil, errs.Invalidf("row %d has %d values, want %d", i, len(x), len(features))
		}
		for j, v := range x {
			if math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d feature %q is infinite", i, features[j].Name)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, errs.Invalidf("row %d: target is NaN or infinite", i)
		}
		switch p.Loss {
		case LogLoss:
			if y[i] != 0 && y[i] != 1 {
				return nil, errs.Invalidf("row %d: log_loss needs 0/1 targets", i)
			}
		case Multinomial:
			if y[i] < 0 || y[i] != math.Trunc(y[i]) || (p.Classes > 0 && y[i] >= float64(p.Classes)) || y[i] > 1<<20 {
				return nil, errs.Invalidf("row %d: multinomial needs class indices 0..K-1, got %v", i, y[i])
			}
			if p.Classes == 0 && int(y[i])+1 > K {
				K = int(y[i]) + 1
			}
		}
	}
	if p.Loss == Multinomial && K < 2 {
		return nil, errs.Invalidf("the target has a single class")
	}
	// train / validation split
	n := len(X)
	train := make([]int, n)
	for i := range train {
		train[i] = i
	}
	var valid []int
	if p.EarlyStopping > 0 {
		r := rand.New(rand.NewSource(p.Seed))
		r.Shuffle(n, func(i, j int) { train[i], train[j] = train[j], train[i] })
		nv := int(math.Round(p.ValidationFraction * float64(n)))
		if nv < 1 || n-nv < 2*p.MinSamplesLeaf {
			return nil, errs.Invalidf("too few rows (%d) for a validation split", n)
		}
		valid = append(valid, train[:nv]...)
		train = train[nv:]
		sort.Ints(train)
	}
	m := &Model{Format: Format, Loss: p.Loss, Features: features, Importance: make([]float64, len(features))}
	init := make([]float64, K)
	switch p.Loss {
	case LogLoss:
		var ymean float64
		for _, i := range train {
			ymean += y[i]
		}
		ymean /= float64(len(train))
		if ymean <= 0 || ymean >= 1 {
			return nil, errs.Invalidf("the target has a single class")
		}
		init[0] = math.Log(ymean / (1 - ymean))
		m.InitScore = init[0]
	case Multinomial:
		count := make([]float64, K)
		for _, i := range train {
			count[int(y[i])]++
		}
		present := 0
		for k := range count {
			if count[k] > 0 {
				present++
			}
			// a class absent from the training rows gets a tiny prior
			// rather than log(0)
			init[k] = math.Log(math.Max(count[k], 1e-3) / float64(len(train)))
		}
		if present < 2 {
			return nil, errs.Invalidf("the target has a single class")
		}
		m.Classes, m.InitScores, m.ClassTrees = K, init, make([][]Tree, K)
	default:
		var ymean float64
		for _, i := range train {
			ymean += y[i]
		}
		init[0] = ymean / float64(len(train))
		m.InitScore = init[0]
	}
	t := &trainer{p: p, feats: features, imp: m.Importance, nrows: n, scratch: make([]int32, n)}
	t.bin(X, train)
	raw := make([][]float64, K)
	ghs := make([][]gradHess, K)
	for k := range raw {
		raw[k] = make([]float64, n)
		for i := range raw[k] {
			raw[k][i] = init[k]
		}
		ghs[k] = make([]gradHess, n)
	}
	yk := make([]int, 0)
	if p.Loss == Multinomial {
		yk = make([]int, n)
		for i := range yk {
			yk[i] = int(y[i])
		}
	}
	lossOf := func(idx []int32) float64 {
		var s float64
		z := make([]float64, K)
		for _, i := range idx {
			switch p.Loss {
			case LogLoss:
				// log(1+e^r) - y r, stable
				r := raw[0][i]
				s += math.Max(r, 0) + math.Log1p(math.Exp(-math.Abs(r))) - y[i]*r
			case Multinomial:
				// log Σ e^z - z_y, stable
				mx := math.Inf(-1)
				for k := range z {
					z[k] = raw[k][i]
					mx = math.Max(mx, z[k])
				}
				var e float64
				for _, v := range z {
					e += math.Exp(v - mx)
				}
				s += mx + math.Log(e) - z[yk[i]]
			default:
				d := raw[0][i] - y[i]
				s += d * d
			}
		}
		return s / float64(len(idx))
	}
	train32, valid32 := toInt32(train), toInt32(valid)
	bestLoss, bestIter, rounds := math.Inf(1), 0, 0
	work := make([]int32, len(train))
	prob := make([]float64, K)
	for it := 0; it < p.Trees; it++ {
		switch p.Loss {
		case LogLoss:
			gh, r := ghs[0], raw[0]
			for _, i := range train32 {
				pr := 1 / (1 + math.Exp(-r[i])) // exp overflow gives +Inf, pr 0
				gh[i] = gradHess{pr - y[i], max(pr*(1-pr), 1e-16)}
			}
		case Multinomial:
			for _, i := range train32 {
				for k := range prob {
					prob[k] = raw[k][i]
				}
				softmax(prob)
				for k, pr := range prob {
					g, h := pr, max(pr*(1-pr), 1e-16)
					if k == yk[i] {
						g--
					}
					ghs[k][i] = gradHess{g, h}
				}
			}
		default:
			gh, r := ghs[0], raw[0]
			for _, i := range train32 {
				gh[i] = gradHess{r[i] - y[i], 1}
			}
		}
		for k := 0; k < K; k++ {
			t.gh = ghs[k]
			copy(work, train32)
			tree := t.growTree(work, raw[k])
			if p.Loss == Multinomial {
				m.ClassTrees[k] = append(m.ClassTrees[k], tree)
			} else {
				m.Trees = append(m.Trees, tree)
			}
			for _, i := range valid32 {
				raw[k][i] += tree.predictBins(t, int(i))
			}
		}
		rounds = it + 1
		if p.EarlyStopping > 0 {
			vl := lossOf(valid32)
			if vl < bestLoss-1e-12 {
				bestLoss, bestIter = vl, it+1
			} else if it+1-bestIter >= p.EarlyStopping {
				break
			}
		}
	}
	if p.EarlyStopping > 0 && bestIter > 0 && bestIter < rounds {
		if p.Loss == Multinomial {
			for k := range m.ClassTrees {
				m.ClassTrees[k] = m.ClassTrees[k][:bestIter]
			}
		} else {
			m.Trees = m.Trees[:bestIter]
		}
		// the importance was summed over all grown trees; recompute it
		for j := range m.Importance {
			m.Importance[j] = 0
		}
		add := func(trees []Tree) {
			for _, tr := range trees {
				for _, nd := range tr.Nodes {
					if nd.Left != 0 {
						m.Importance[nd.Feature] += nd.Gain
					}
				}
			}
		}
		add(m.Trees)
		for _, ts := range m.ClassTrees {
			add(ts)
		}
	}
	return m, nil
}

func toInt32(idx []int) []int32 {
	out := make([]int32, len(idx))
	for k, i := range idx {
		out[k] = int32(i)
	}
	return out
}

// binSample is the most training rows the numeric bin edges are computed
// from: a seeded random sample beyond that (scikit-learn's subsample=2e5).
const binSample = 200000

// bin fits the binners on the training rows (or a sample of binSample of
// them) and bins every row.
func (t *trainer) bin(X [][]float64, train []int) {
	nf := len(t.feats)
	sample := train
	if len(train) > binSample {
		r := rand.New(rand.NewSource(t.p.Seed))
		perm := r.Perm(len(train))[:binSample]
		sort.Ints(perm)
		sample = make([]int, binSample)
		for k, j := range perm {
			sample[k] = train[j]
		}
	}
	// one pass over the sampled rows, then one binner per column
	cols := make([][]float64, nf)
	for j := range cols {
		cols[j] = make([]float64, len(sample))
	}
	for k, i := range sample {
		for j, v := range X[i][:nf] {
			cols[j][k] = v
		}
	}
	t.binners = make([]*binner, nf)
	for j, f := range t.feats {
		t.binners[j] = newBinner(cols[j], f.Type == Categorical, len(f.Categories), t.p.MaxBins)
		cols[j] = nil
	}
	t.bins = make([][]uint8, nf)
	for j := range t.bins {
		t.bins[j] = make([]uint8, len(X))
	}
	for i, x := range X {
		for j, v := range x[:nf] {
			t.bins[j][i] = t.binners[j].bin(v)
		}
	}
}

// predictBins evaluates the tree on training row i through its bins, so
// training predictions agree exactly with the splits found.
func (tr *Tree) predictBins(t *trainer, i int) float64 {
	k := 0
	for {
		n := &tr.Nodes[k]
		if n.Left == 0 {
			return n.Value
		}
		b := t.bins[n.Feature][i]
		var left bool
		switch {
		case b == 0:
			left = n.MissingLeft
		case n.Categories != nil:
			for _, c := range n.Categories {
				if c == int(b)-1 {
					left = true
					break
				}
			}
		default:
			bn := t.binners[n.Feature]
			left = int(b) > len(bn.edges) && n.Threshold == math.MaxFloat64 || int(b) <= len(bn.edges) && bn.edges[int(b)-1] <= n.Threshold
		}
		if left {
			k = n.Left
		} else {
			k = n.Right
		}
	}
}

// String summarises the model.
func (m *Model) String() string {
	if m.Loss == Multinomial {
		n := 0
		for _, ts := range m.ClassTrees {
			n += len(ts)
		}
		return fmt.Sprintf("gbdt(%s, %d classes, %d trees, %d features)", m.Loss, m.Classes, n, len(m.Features))
	}
	return fmt.Sprintf("gbdt(%s, %d trees, %d features)", m.Loss, len(m.Trees), len(m.Features))
}
