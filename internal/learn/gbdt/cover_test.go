package gbdt

import (
	"math"
	"math/rand"
	"os"
	"testing"
)

// leafOf is the index of the leaf row x reaches.
func (t *Tree) leafOf(x []float64) int {
	i := 0
	for t.Nodes[i].Left != 0 {
		n := &t.Nodes[i]
		v := x[n.Feature]
		var left bool
		switch {
		case math.IsNaN(v):
			left = n.MissingLeft
		case n.Categories != nil:
			for _, k := range n.Categories {
				left = left || k == int(v)
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
	return i
}

// TestCovers: every node's cover is the number of training rows reaching
// it (the root all of them, the validation rows excluded), so the children
// of a split add up to it.
func TestCovers(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	feats := []Feature{{Name: "a", Type: Numeric}, {Name: "b", Type: Numeric}, {Name: "c", Type: Categorical, Categories: []string{"x", "y", "z"}}}
	var X [][]float64
	var y []float64
	for i := 0; i < 500; i++ {
		x := []float64{r.NormFloat64(), r.NormFloat64(), float64(r.Intn(3))}
		if r.Float64() < 0.2 {
			x[0] = math.NaN()
		}
		X = append(X, x)
		y = append(y, x[1]+float64(x[2])+r.NormFloat64()*0.1)
	}
	for _, es := range []int{0, 3} {
		p := params(SquaredError)
		p.Trees, p.MaxLeaves, p.EarlyStopping, p.ValidationFraction = 5, 8, es, 0.2
		m, err := Fit(feats, X, y, p)
		if err != nil {
			t.Fatal(err)
		}
		n := 500.0
		if es > 0 {
			n = 400
		}
		for ti, tr := range m.Trees {
			if tr.Nodes[0].Cover != n {
				t.Errorf("early stopping %d tree %d: root cover %v, want %v", es, ti, tr.Nodes[0].Cover, n)
			}
			for i, nd := range tr.Nodes {
				if nd.Left != 0 && tr.Nodes[nd.Left].Cover+tr.Nodes[nd.Right].Cover != nd.Cover {
					t.Errorf("tree %d node %d: children covers do not add up", ti, i)
				}
				if nd.Cover < float64(p.MinSamplesLeaf) {
					t.Errorf("tree %d node %d: cover %v", ti, i, nd.Cover)
				}
			}
			if es == 0 {
				count := make([]float64, len(tr.Nodes))
				for _, x := range X {
					count[tr.leafOf(x)]++
				}
				for i, nd := range tr.Nodes {
					if nd.Left == 0 && count[i] != nd.Cover {
						t.Errorf("tree %d leaf %d: %v training rows, cover %v", ti, i, count[i], nd.Cover)
					}
				}
			}
		}
	}
}

// TestModelWithoutCovers: a model saved before covers were recorded loads
// and predicts as before.
func TestModelWithoutCovers(t *testing.T) {
	b, err := os.ReadFile("testdata/binary-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range m.Trees {
		for _, nd := range tr.Nodes {
			if nd.Cover != 0 {
				t.Fatal("the old model has covers")
			}
		}
	}
	x := make([]float64, len(m.Features))
	if _, err := m.Predict(x); err != nil {
		t.Fatal(err)
	}
}
