package explain

import (
	"github.com/hygie-health/hygie/internal/errs"
)

// ErrNoCovers is the message of the error SHAP returns for a model whose
// nodes record no covers (hygie models saved before covers were recorded).
const ErrNoCovers = "this model was saved without node covers: retrain to explain it"

// SHAP explains one row of a single-output model: base + Σ contrib equals
// Predict(x) (the margin). contrib has one value per feature.
func (e *Ensemble) SHAP(x []float64) (base float64, contrib []float64, err error) {
	if e.Classes != 1 {
		return 0, nil, errs.Invalidf("a %d-class model is explained per class: use SHAPClass", e.Classes)
	}
	return e.SHAPClass(x, 0)
}

// SHAPClass explains the raw output of class k (0 for a single-output
// model) for one row by exact path-dependent TreeSHAP.
func (e *Ensemble) SHAPClass(x []float64, k int) (base float64, contrib []float64, err error) {
	if k < 0 || k >= e.Classes {
		return 0, nil, errs.Invalidf("class %d out of range (the model has %d outputs)", k, e.Classes)
	}
	if !e.Covers {
		return 0, nil, errs.Invalidf(ErrNoCovers)
	}
	r, err := e.row(x)
	if err != nil {
		return 0, nil, err
	}
	s := shapState{e: e, r: r, phi: make([]float64, len(e.Features))}
	base = e.Base[k]
	for ti := range e.Trees {
		t := &e.Trees[ti]
		if t.Class != k {
			continue
		}
		s.nodes = t.Nodes
		base += s.mean(0)
		if t.Nodes[0].IsLeaf() {
			continue
		}
		d := s.depth(0)
		if need := (d + 2) * (d + 3) / 2; cap(s.buf) < need {
			s.buf = make([]pathElem, need)
		}
		s.recurse(0, nil, s.buf[:cap(s.buf)], 1, 1, -1)
	}
	return base, s.phi, nil
}

// pathElem is one feature on the path from the root: the fraction of the
// training weight (zero) and of the row's own path (one, 0 or 1) that
// follows the path through that feature's splits, and the weight of the
// permutations of the path's subsets.
type pathElem struct {
	feature   int
	zero, one float64
	w         float64
}

type shapState struct {
	e     *Ensemble
	r     []float64
	nodes []Node
	phi   []float64
	buf   []pathElem
}

func (s *shapState) depth(i int) int {
	n := &s.nodes[i]
	if n.IsLeaf() {
		return 0
	}
	return 1 + max(s.depth(n.Left), s.depth(n.Right))
}

// mean is the cover-weighted mean of the leaves under node i: the tree's
// expected output when no feature is known.
func (s *shapState) mean(i int) float64 {
	n := &s.nodes[i]
	if n.IsLeaf() {
		return n.Value
	}
	if !(n.Cover > 0) {
		return 0
	}
	return (s.nodes[n.Left].Cover*s.mean(n.Left) + s.nodes[n.Right].Cover*s.mean(n.Right)) / n.Cover
}

// recurse is Algorithm 2's RECURSE: parent is the path down to node i's
// parent, free the buffer node i and its descendants build their paths in.
func (s *shapState) recurse(i int, parent, free []pathElem, pz, po float64, pf int) {
	m := free[:len(parent)+1]
	copy(m, parent)
	extend(m, pz, po, pf)
	n := &s.nodes[i]
	if n.IsLeaf() {
		for k := 1; k < len(m); k++ {
			w := unwoundSum(m, k)
			s.phi[m[k].feature] += w * (m[k].one - m[k].zero) * n.Value
		}
		return
	}
	hot, cold := n.Right, n.Left
	if s.e.left(n, s.r[n.Feature]) {
		hot, cold = n.Left, n.Right
	}
	var hz, cz float64
	if n.Cover > 0 {
		hz, cz = s.nodes[hot].Cover/n.Cover, s.nodes[cold].Cover/n.Cover
	}
	iz, io := 1.0, 1.0
	for k := 1; k < len(m); k++ {
		if m[k].feature == n.Feature {
			// the feature was split on above: undo that split and redo it here
			iz, io = m[k].zero, m[k].one
			m = unwind(m, k)
			break
		}
	}
	rest := free[len(parent)+1:]
	s.recurse(hot, m, rest, hz*iz, io, n.Feature)
	s.recurse(cold, m, rest, cz*iz, 0, n.Feature)
}

// extend is EXTEND: m[:len(m)-1] is the path, m[len(m)-1] receives the new
// feature, and the permutation weights are updated in place.
func extend(m []pathElem, pz, po float64, pf int) {
	l := len(m) - 1
	m[l] = pathElem{feature: pf, zero: pz, one: po}
	if l == 0 {
		m[l].w = 1
	}
	for i := l - 1; i >= 0; i-- {
		m[i+1].w += po * m[i].w * float64(i+1) / float64(l+1)
		m[i].w = pz * m[i].w * float64(l-i) / float64(l+1)
	}
}

// unwind is UNWIND: removes element k from the path, in place.
func unwind(m []pathElem, k int) []pathElem {
	d := len(m) - 1
	o, z := m[k].one, m[k].zero
	n := m[d].w
	for i := d - 1; i >= 0; i-- {
		if o != 0 {
			t := m[i].w
			m[i].w = n * float64(d+1) / (float64(i+1) * o)
			n = t - m[i].w*z*float64(d-i)/float64(d+1)
		} else {
			m[i].w = m[i].w * float64(d+1) / (z * float64(d-i))
		}
	}
	for i := k; i < d; i++ {
		m[i].feature, m[i].zero, m[i].one = m[i+1].feature, m[i+1].zero, m[i+1].one
	}
	return m[:d]
}

// unwoundSum is the total permutation weight of the path with element k
// unwound, without changing the path.
func unwoundSum(m []pathElem, k int) float64 {
	d := len(m) - 1
	o, z := m[k].one, m[k].zero
	n := m[d].w
	var total float64
	for i := d - 1; i >= 0; i-- {
		switch {
		case o != 0:
			t := n * float64(d+1) / (float64(i+1) * o)
			total += t
			n = m[i].w - t*z*float64(d-i)/float64(d+1)
		case z != 0:
			total += m[i].w / z * float64(d+1) / float64(d-i)
		}
	}
	return total
}
