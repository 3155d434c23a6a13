package gbdt

import (
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// three Gaussian blobs in (a, b) plus a noise feature and a categorical
// feature that shifts class 2.
func blobs(n int, seed int64) ([]Feature, [][]float64, []float64) {
	r := rand.New(rand.NewSource(seed))
	feats := append(num("a", "b", "noise"), Feature{Name: "g", Type: Categorical, Categories: []string{"u", "v"}})
	centre := [3][2]float64{{0, 0}, {2, 0}, {1, 2}}
	var X [][]float64
	var y []float64
	for i := 0; i < n; i++ {
		k := i % 3
		g := float64(r.Intn(2))
		a, b := centre[k][0]+0.6*r.NormFloat64(), centre[k][1]+0.6*r.NormFloat64()
		if k == 2 && g == 1 {
			b += 1
		}
		if i%10 == 0 {
			a = math.NaN()
		}
		X = append(X, []float64{a, b, r.Float64(), g})
		y = append(y, float64(k))
	}
	return feats, X, y
}

func TestMultinomial(t *testing.T) {
	feats, X, y := blobs(1500, 2)
	p := params(Multinomial)
	p.Trees = 40
	m, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Classes != 3 || len(m.ClassTrees) != 3 || len(m.ClassTrees[0]) != 40 || len(m.Trees) != 0 {
		t.Fatalf("classes %d, class trees %d, trees %d", m.Classes, len(m.ClassTrees), len(m.Trees))
	}
	// init scores are the log priors (balanced classes: log 1/3)
	for k, s := range m.InitScores {
		if math.Abs(s-math.Log(1.0/3)) > 1e-9 {
			t.Errorf("init score %d = %v", k, s)
		}
	}
	correct := 0
	for i, x := range X {
		pr, err := m.PredictProba(x)
		if err != nil {
			t.Fatal(err)
		}
		var s float64
		best := 0
		for k, v := range pr {
			s += v
			if v > pr[best] {
				best = k
			}
		}
		if math.Abs(s-1) > 1e-12 {
			t.Fatalf("row %d: probabilities sum to %v", i, s)
		}
		cl, _ := m.Predict(x)
		if cl != float64(best) {
			t.Fatalf("row %d: Predict %v, argmax %d", i, cl, best)
		}
		if cl == y[i] {
			correct++
		}
	}
	if acc := float64(correct) / float64(len(X)); acc < 0.85 {
		t.Errorf("training accuracy %.3f", acc)
	}
	if m.Importance[2] > (m.Importance[0]+m.Importance[1])/10 {
		t.Errorf("noise importance too high: %v", m.Importance)
	}
	// importance is the gain summed over the trees of every class
	var sum, want float64
	for _, v := range m.Importance {
		sum += v
	}
	for _, ts := range m.ClassTrees {
		for _, tr := range ts {
			for _, nd := range tr.Nodes {
				if nd.Left != 0 {
					want += nd.Gain
				}
			}
		}
	}
	if math.Abs(sum-want) > 1e-9*want {
		t.Errorf("importance sums to %v, gains to %v", sum, want)
	}
	// round trip
	b, _ := m.Marshal()
	m2, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	p1, _ := m.PredictProbaBatch(X)
	p2, _ := m2.PredictProbaBatch(X)
	for i := range p1 {
		for k := range p1[i] {
			if p1[i][k] != p2[i][k] {
				t.Fatalf("row %d class %d: %v before save, %v after", i, k, p1[i][k], p2[i][k])
			}
		}
	}
	if !strings.Contains(string(b), `"class_trees"`) || strings.Contains(string(b), `"trees": [`) {
		t.Errorf("unexpected JSON layout")
	}
}

func TestMultinomialEarlyStoppingAndClasses(t *testing.T) {
	feats, X, y := blobs(1500, 3)
	p := params(Multinomial)
	p.Trees, p.EarlyStopping, p.ValidationFraction, p.LearningRate = 500, 5, 0.2, 0.3
	m, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	n := len(m.ClassTrees[0])
	if n == 0 || n >= 500 {
		t.Errorf("early stopping kept %d rounds", n)
	}
	for k := range m.ClassTrees {
		if len(m.ClassTrees[k]) != n {
			t.Errorf("class %d has %d trees, class 0 %d", k, len(m.ClassTrees[k]), n)
		}
	}
	// Classes given: a fourth class absent from the data gets a tiny prior
	p = params(Multinomial)
	p.Trees, p.Classes = 5, 4
	m, err = Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	pr, _ := m.PredictProba(X[0])
	if len(pr) != 4 || pr[3] > 1e-3 {
		t.Errorf("probabilities %v", pr)
	}
	// Workers do not change the model
	p.Workers = 3
	m2, _ := Fit(feats, X, y, p)
	b1, _ := m.Marshal()
	b2, _ := m2.Marshal()
	if string(b1) != string(b2) {
		t.Error("Workers changed the model")
	}
}

func TestMultinomialErrors(t *testing.T) {
	X := [][]float64{{1}, {2}, {3}}
	p := params(Multinomial)
	for _, c := range []struct {
		name    string
		y       []float64
		classes int
	}{
		{"negative", []float64{0, -1, 1}, 0},
		{"fraction", []float64{0, 1.5, 1}, 0},
		{"beyond classes", []float64{0, 1, 2}, 2},
		{"single class", []float64{0, 0, 0}, 0},
		{"one class given", []float64{0, 1, 0}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			p.Classes = c.classes
			if _, err := Fit(num("x"), X, c.y, p); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestPredictProba(t *testing.T) {
	b, err := os.ReadFile("testdata/binary-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	// a binary model saved before multinomial support still loads
	m, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := m.PredictProba([]float64{0.2, 1})
	if err != nil {
		t.Fatal(err)
	}
	want := sigmoid(-0.5 + 0.5)
	if math.Abs(pr[1]-want) > 1e-15 || math.Abs(pr[0]+pr[1]-1) > 1e-15 {
		t.Errorf("PredictProba %v, want [%v %v]", pr, 1-want, want)
	}
	if p, _ := m.Predict([]float64{0.2, 1}); p != pr[1] {
		t.Errorf("Predict %v, PredictProba %v", p, pr)
	}
	// regression has no probabilities
	X := [][]float64{{1}, {2}, {3}, {4}}
	p := params(SquaredError)
	p.MinSamplesLeaf = 1
	r, err := Fit(num("x"), X, []float64{1, 2, 3, 4}, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.PredictProba([]float64{1}); err == nil {
		t.Error("regression PredictProba did not fail")
	}
	// malformed multinomial models are rejected
	for _, s := range []string{
		`{"format":"hygie.gbdt/1","loss":"multinomial","features":[{"name":"x","type":"numeric"}],"classes":3,"init_scores":[0,0],"class_trees":[[],[],[]]}`,
		`{"format":"hygie.gbdt/1","loss":"multinomial","features":[{"name":"x","type":"numeric"}],"classes":1,"init_scores":[0],"class_trees":[[]]}`,
		`{"format":"hygie.gbdt/1","loss":"log_loss","features":[{"name":"x","type":"numeric"}],"classes":2,"trees":[]}`,
		`{"format":"hygie.gbdt/1","loss":"multinomial","features":[{"name":"x","type":"numeric"}],"classes":2,"init_scores":[0,0],"class_trees":[[{"nodes":[]}],[]]}`,
	} {
		if _, err := Unmarshal([]byte(s)); err == nil {
			t.Errorf("accepted %s", s)
		}
	}
}
