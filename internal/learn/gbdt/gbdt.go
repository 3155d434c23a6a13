// Package gbdt is hygie's histogram-based gradient-boosted decision trees.
//
// Features are binned once into at most 255 bins plus one bin for missing
// values (bin 0): numeric features on quantile bin edges (or midpoints
// between distinct values when there are few), categorical features one bin
// per category code. Trees grow leaf-wise (best-first): the leaf whose best
// split has the largest gain is split next, until MaxLeaves leaves, MaxDepth
// or no split with positive gain respecting MinSamplesLeaf remains. The
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
// Models serialise to versioned JSON ("hygie.gbdt/1") that does not depend on
// the binning: numeric nodes keep a threshold (x <= Threshold goes left),
// categorical nodes the set of codes going left.
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
	Loss           string  // SquaredError or LogLoss
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
	case p.Loss != SquaredError && p.Loss != LogLoss:
		return errs.Invalidf("loss must be %s or %s, got %q", SquaredError, LogLoss, p.Loss)
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
	Importance []float64 `json:"importance_gain"` // total split gain per feature
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

// Raw is the raw score (before the link function) of one row.
func (m *Model) Raw(x []float64) float64 {
	s := m.InitScore
	for i := range m.Trees {
		s += m.Trees[i].predict(x)
	}
	return s
}

// Predict returns the prediction for one row: the value for regression, the
// probability of the positive class for log-loss. Categorical values are
// codes; unknown codes and NaN count as missing.
func (m *Model) Predict(x []float64) (float64, error) {
	if len(x) != len(m.Features) {
		return 0, errs.Invalidf("row has %d values, the model has %d features", len(x), len(m.Features))
	}
	row := make([]float64, len(x))
	for j, v := range x {
		f := m.Features[j]
		if f.Type == Categorical && !math.IsNaN(v) && (v < 0 || int(v) >= len(f.Categories) || v != math.Trunc(v)) {
			v = math.NaN()
		}
		if math.IsInf(v, 0) {
			return 0, errs.Invalidf("feature %q is infinite", f.Name)
		}
		row[j] = v
	}
	r := m.Raw(row)
	if m.Loss == LogLoss {
		return sigmoid(r), nil
	}
	return r, nil
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
	if m.Loss != SquaredError && m.Loss != LogLoss {
		return nil, errs.Invalidf("model loss %q unknown", m.Loss)
	}
	for ti, t := range m.Trees {
		if len(t.Nodes) == 0 {
			return nil, errs.Invalidf("tree %d is empty", ti)
		}
		for ni, n := range t.Nodes {
			if n.Left != 0 && (n.Left <= ni || n.Right <= ni || n.Left >= len(t.Nodes) || n.Right >= len(t.Nodes) ||
				n.Feature < 0 || n.Feature >= len(m.Features)) {
				return nil, errs.Invalidf("tree %d node %d is malformed", ti, ni)
			}
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
	return uint8(1 + sort.SearchFloat64s(b.edges, v))
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
	idx        []int
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
	bins    [][]uint8 // [feature][row]
	g, h    []float64
	imp     []float64
	gbuf    []float64 // scratch for buildHist
	hbuf    []float64
}

const stride = maxBins + 1

func (t *trainer) buildHist(idx []int) []histBin {
	nf := len(t.feats)
	hist := make([]histBin, nf*stride)
	// gather the gradients once so the per-feature loops read them in order
	if cap(t.gbuf) < len(idx) {
		t.gbuf, t.hbuf = make([]float64, len(idx)), make([]float64, len(idx))
	}
	gg, hh := t.gbuf[:len(idx)], t.hbuf[:len(idx)]
	for k, i := range idx {
		gg[k], hh[k] = t.g[i], t.h[i]
	}
	one := func(f int) {
		hb := hist[f*stride : (f+1)*stride]
		col := t.bins[f]
		for k, i := range idx {
			b := &hb[col[i]]
			b.g += gg[k]
			b.h += hh[k]
			b.n++
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
		for f := 0; f < nf; f++ {
			one(f)
		}
	}
	return hist
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

func (t *trainer) goesLeft(s *split, i int) bool {
	b := t.bins[s.feature][i]
	if b == 0 {
		return s.missingLeft
	}
	if s.cats != nil {
		return s.cats[b]
	}
	return int(b) <= s.bin
}

func (t *trainer) leafValue(g, h float64) float64 { return -g / (h + t.p.L2) * t.p.LearningRate }

// growTree grows one tree on the rows idx (reordered in place) and adds its
// output to raw for those rows.
func (t *trainer) growTree(idx []int, raw []float64) Tree {
	var gs, hs float64
	for _, i := range idx {
		gs += t.g[i]
		hs += t.h[i]
	}
	tree := Tree{Nodes: []Node{{}}}
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
		// partition idx in place: left first
		lo, hi := 0, len(l.idx)-1
		for lo <= hi {
			if t.goesLeft(&s, l.idx[lo]) {
				lo++
			} else {
				l.idx[lo], l.idx[hi] = l.idx[hi], l.idx[lo]
				hi--
			}
		}
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
		tree.Nodes = append(tree.Nodes, Node{}, Node{})
		left := &leaf{node: li, idx: l.idx[:lo], depth: l.depth + 1, g: s.gl, h: s.hl}
		right := &leaf{node: ri, idx: l.idx[lo:], depth: l.depth + 1, g: l.g - s.gl, h: l.h - s.hl}
		small, large := left, right
		if len(right.idx) < len(left.idx) {
			small, large = right, left
		}
		small.hist = t.buildHist(small.idx)
		large.hist = l.hist // reuse the parent's memory
		for k := range large.hist {
			large.hist[k].g -= small.hist[k].g
			large.hist[k].h -= small.hist[k].h
			large.hist[k].n -= small.hist[k].n
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
		l.hist = nil
	}
	return tree
}

// Fit trains a model. X has one row per observation, one value per feature
// (categorical features as codes into Feature.Categories, NaN when missing);
// y holds targets (0/1 for LogLoss).
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
		if p.Loss == LogLoss && y[i] != 0 && y[i] != 1 {
			return nil, errs.Invalidf("row %d: log_loss needs 0/1 targets", i)
		}
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
	var ymean float64
	for _, i := range train {
		ymean += y[i]
	}
	ymean /= float64(len(train))
	m := &Model{Format: Format, Loss: p.Loss, Features: features, Importance: make([]float64, len(features))}
	if p.Loss == LogLoss {
		if ymean <= 0 || ymean >= 1 {
			return nil, errs.Invalidf("the target has a single class")
		}
		m.InitScore = math.Log(ymean / (1 - ymean))
	} else {
		m.InitScore = ymean
	}
	t := &trainer{p: p, feats: features, g: make([]float64, n), h: make([]float64, n), imp: m.Importance}
	t.binners = make([]*binner, len(features))
	t.bins = make([][]uint8, len(features))
	col := make([]float64, len(train))
	for j, f := range features {
		for k, i := range train {
			col[k] = X[i][j]
		}
		t.binners[j] = newBinner(col, f.Type == Categorical, len(f.Categories), p.MaxBins)
		b := make([]uint8, n)
		for i := range X {
			b[i] = t.binners[j].bin(X[i][j])
		}
		t.bins[j] = b
	}
	raw := make([]float64, n)
	for i := range raw {
		raw[i] = m.InitScore
	}
	lossOf := func(idx []int) float64 {
		var s float64
		for _, i := range idx {
			if p.Loss == LogLoss {
				// log(1+e^r) - y r, stable
				r := raw[i]
				s += math.Max(r, 0) + math.Log1p(math.Exp(-math.Abs(r))) - y[i]*r
			} else {
				d := raw[i] - y[i]
				s += d * d
			}
		}
		return s / float64(len(idx))
	}
	bestLoss, bestIter := math.Inf(1), 0
	work := make([]int, len(train))
	for it := 0; it < p.Trees; it++ {
		for _, i := range train {
			if p.Loss == LogLoss {
				pr := sigmoid(raw[i])
				t.g[i] = pr - y[i]
				t.h[i] = math.Max(pr*(1-pr), 1e-16)
			} else {
				t.g[i] = raw[i] - y[i]
				t.h[i] = 1
			}
		}
		copy(work, train)
		tree := t.growTree(work, raw)
		m.Trees = append(m.Trees, tree)
		for _, i := range valid {
			raw[i] += tree.predictBins(t, i)
		}
		if p.EarlyStopping > 0 {
			vl := lossOf(valid)
			if vl < bestLoss-1e-12 {
				bestLoss, bestIter = vl, it+1
			} else if it+1-bestIter >= p.EarlyStopping {
				break
			}
		}
	}
	if p.EarlyStopping > 0 && bestIter > 0 && bestIter < len(m.Trees) {
		m.Trees = m.Trees[:bestIter]
		// importance stays over all grown trees only approximately; recompute
		for j := range m.Importance {
			m.Importance[j] = 0
		}
		for _, tr := range m.Trees {
			for _, nd := range tr.Nodes {
				if nd.Left != 0 {
					m.Importance[nd.Feature] += nd.Gain
				}
			}
		}
	}
	return m, nil
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
	return fmt.Sprintf("gbdt(%s, %d trees, %d features)", m.Loss, len(m.Trees), len(m.Features))
}
