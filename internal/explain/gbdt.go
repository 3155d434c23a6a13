package explain

import (
	"slices"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
)

// FromGBDT converts a hygie gradient-boosted model. The ensemble predicts
// exactly as m.Raw does (unknown category codes read as missing). A model
// saved before node covers were recorded converts, predicts, but cannot be
// explained: SHAP returns ErrNoCovers.
func FromGBDT(m *gbdt.Model) (*Ensemble, error) {
	if m == nil {
		return nil, errs.Invalidf("no gbdt model")
	}
	e := &Ensemble{Source: "hygie", Objective: m.Loss, SigmoidScale: 1, Classes: 1}
	for _, f := range m.Features {
		ef := Feature{Name: f.Name}
		if f.Type == gbdt.Categorical {
			ef.Categories = len(f.Categories)
			if ef.Categories == 0 {
				ef.Categories = -1 // no category known: every code is missing
			}
		}
		e.Features = append(e.Features, ef)
	}
	conv := func(t gbdt.Tree, class int) Tree {
		out := Tree{Class: class, Nodes: make([]Node, len(t.Nodes))}
		for i, n := range t.Nodes {
			nd := Node{Left: -1, Right: -1, Value: n.Value, Cover: n.Cover}
			if n.Left != 0 {
				nd = Node{Left: n.Left, Right: n.Right, Feature: n.Feature, Threshold: n.Threshold,
					DefaultLeft: n.MissingLeft, Missing: MissingNaN, Cover: n.Cover}
				if n.Categories != nil {
					nd.Categories = slices.Clone(n.Categories)
					slices.Sort(nd.Categories)
				}
			}
			out.Nodes[i] = nd
		}
		return out
	}
	switch m.Loss {
	case gbdt.SquaredError, gbdt.LogLoss:
		e.Link = Identity
		if m.Loss == gbdt.LogLoss {
			e.Link = Logistic
		}
		e.Base = []float64{m.InitScore}
		for _, t := range m.Trees {
			e.Trees = append(e.Trees, conv(t, 0))
		}
	case gbdt.Multinomial:
		e.Link, e.Classes = Softmax, m.Classes
		e.Base = slices.Clone(m.InitScores)
		for k, ts := range m.ClassTrees {
			for _, t := range ts {
				e.Trees = append(e.Trees, conv(t, k))
			}
		}
	default:
		return nil, errs.Invalidf("gbdt loss %q unknown", m.Loss)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return e, nil
}
