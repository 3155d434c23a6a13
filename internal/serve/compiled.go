package serve

import (
	"math"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
)

// compiled is a gradient-boosted model laid out for prediction: every
// tree's nodes in one array of small nodes, category sets as bitsets. It
// computes exactly what gbdt.Model.PredictBatch does (same sums in the same
// order), faster: the serving hot path.
type compiled struct {
	m     *gbdt.Model
	roots []int32
	nodes []cnode
	cats  [][]int // category sets too large for a bitset
}

type cnode struct {
	value       float64 // leaf value, or threshold
	bits        uint64  // categorical: codes < 64 going left
	feature     int32
	left, right int32 // absolute; left < 0: leaf
	kind        uint8 // numeric, bitset, or list (index in cats: right of bits)
	missingLeft bool
}

const (
	kindNumeric = iota
	kindBits
	kindList
)

// compile returns the fast form of m, or nil when it has none (multi-class
// models keep the learner's own code).
func compile(m *gbdt.Model) *compiled {
	if m == nil || (m.Loss != gbdt.LogLoss && m.Loss != gbdt.SquaredError) {
		return nil
	}
	c := &compiled{m: m}
	for _, t := range m.Trees {
		base := int32(len(c.nodes))
		c.roots = append(c.roots, base)
		for _, n := range t.Nodes {
			cn := cnode{feature: int32(n.Feature), missingLeft: n.MissingLeft, left: -1}
			if n.Left == 0 {
				cn.value = n.Value
				c.nodes = append(c.nodes, cn)
				continue
			}
			cn.left, cn.right, cn.value = base+int32(n.Left), base+int32(n.Right), n.Threshold
			if n.Categories != nil {
				cn.kind = kindBits
				for _, k := range n.Categories {
					if k < 0 || k >= 64 {
						cn.kind = kindList
						break
					}
					cn.bits |= 1 << uint(k)
				}
				if cn.kind == kindList {
					cn.bits = uint64(len(c.cats))
					c.cats = append(c.cats, n.Categories)
				}
			}
			c.nodes = append(c.nodes, cn)
		}
	}
	return c
}

// predictBatch is gbdt.Model.PredictBatch.
func (c *compiled) predictBatch(X [][]float64) ([]float64, error) {
	feats := c.m.Features
	row := make([]float64, len(feats))
	out := make([]float64, len(X))
	for i, x := range X {
		if len(x) != len(feats) {
			return nil, errs.Invalidf("row %d: row has %d values, the model has %d features", i, len(x), len(feats))
		}
		// gbdt's clean: unknown category codes are missing, infinities refused.
		for j, v := range x {
			f := &feats[j]
			if f.Type == gbdt.Categorical && !math.IsNaN(v) && (v < 0 || int(v) >= len(f.Categories) || v != math.Trunc(v)) {
				v = math.NaN()
			}
			if math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d: feature %q is infinite", i, f.Name)
			}
			row[j] = v
		}
		s := c.m.InitScore
		for _, r := range c.roots {
			s += c.tree(r, row)
		}
		if c.m.Loss == gbdt.LogLoss {
			s = sigmoid(s)
		}
		out[i] = s
	}
	return out, nil
}

func (c *compiled) tree(i int32, x []float64) float64 {
	for {
		n := &c.nodes[i]
		if n.left < 0 {
			return n.value
		}
		v := x[n.feature]
		var left bool
		switch {
		case math.IsNaN(v):
			left = n.missingLeft
		case n.kind == kindBits:
			k := int(v)
			left = k >= 0 && k < 64 && n.bits>>uint(k)&1 == 1
		case n.kind == kindList:
			k := int(v)
			for _, code := range c.cats[n.bits] {
				if code == k {
					left = true
					break
				}
			}
		default:
			left = v <= n.value
		}
		if left {
			i = n.left
		} else {
			i = n.right
		}
	}
}

// sigmoid is gbdt's link for log-loss, written the same way.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}
