package gbdt

import (
	"math"
	"math/rand"
	"sort"
	"testing"
)

func num(names ...string) []Feature {
	f := make([]Feature, len(names))
	for i, n := range names {
		f[i] = Feature{Name: n, Type: Numeric}
	}
	return f
}

func params(loss string) Params {
	p := DefaultParams()
	p.Loss = loss
	p.MinSamplesLeaf = 5
	return p
}

func TestStepFunction(t *testing.T) {
	var X [][]float64
	var y []float64
	for i := 0; i < 200; i++ {
		x := float64(i) / 200
		X = append(X, []float64{x})
		v := 1.0
		if x > 0.5 {
			v = 3
		}
		y = append(y, v)
	}
	p := params(SquaredError)
	p.Trees, p.MaxLeaves, p.LearningRate = 1, 2, 1
	m, err := Fit(num("x"), X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ x, want float64 }{{0.1, 1}, {0.49, 1}, {0.51, 3}, {0.9, 3}} {
		got, _ := m.Predict([]float64{c.x})
		if math.Abs(got-c.want) > 1e-9 {
			t.Errorf("f(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if th := m.Trees[0].Nodes[0].Threshold; th < 0.5 || th > 0.505 {
		t.Errorf("threshold %v, want ≈ 0.5", th)
	}
}

func TestXOR(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	var X [][]float64
	var y []float64
	for i := 0; i < 800; i++ {
		a, b := r.Float64()*2-1, r.Float64()*2-1
		X = append(X, []float64{a, b, r.Float64()})
		c := 0.0
		if (a > 0) != (b > 0) {
			c = 1
		}
		y = append(y, c)
	}
	m, err := Fit(num("a", "b", "noise"), X, y, params(LogLoss))
	if err != nil {
		t.Fatal(err)
	}
	errsN := 0
	for i := 0; i < 400; i++ {
		a, b := r.Float64()*2-1, r.Float64()*2-1
		p, _ := m.Predict([]float64{a, b, 0.5})
		if (p > 0.5) != ((a > 0) != (b > 0)) {
			errsN++
		}
	}
	if errsN > 20 {
		t.Errorf("%d/400 errors on XOR", errsN)
	}
	if m.Importance[2] > (m.Importance[0]+m.Importance[1])/10 {
		t.Errorf("noise importance too high: %v", m.Importance)
	}
}

func TestMissingAndCategories(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	feats := []Feature{{Name: "x", Type: Numeric}, {Name: "c", Type: Categorical, Categories: []string{"a", "b", "c", "d"}}}
	var X [][]float64
	var y []float64
	// y = 5 when x missing; else 1 if c in {b, d}, else -1 (plus x small effect none)
	for i := 0; i < 1000; i++ {
		x := r.Float64()
		c := float64(r.Intn(4))
		v := -1.0
		if c == 1 || c == 3 {
			v = 1
		}
		if i%5 == 0 {
			x = math.NaN()
			v = 5
		}
		X = append(X, []float64{x, c})
		y = append(y, v)
	}
	p := params(SquaredError)
	p.Trees, p.LearningRate = 50, 0.3
	m, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		x, c, want float64
	}{{math.NaN(), 0, 5}, {math.NaN(), 1, 5}, {0.3, 0, -1}, {0.3, 1, 1}, {0.7, 2, -1}, {0.7, 3, 1}} {
		got, _ := m.Predict([]float64{c.x, c.c})
		if math.Abs(got-c.want) > 0.05 {
			t.Errorf("f(%v, %v) = %v, want %v", c.x, c.c, got, c.want)
		}
	}
	// unknown category counts as missing: must not panic
	if _, err := m.Predict([]float64{0.5, 17}); err != nil {
		t.Error(err)
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	feats := []Feature{{Name: "x", Type: Numeric}, {Name: "z", Type: Numeric}, {Name: "c", Type: Categorical, Categories: []string{"u", "v", "w"}}}
	var X [][]float64
	var y []float64
	for i := 0; i < 600; i++ {
		x, z, c := r.NormFloat64(), r.Float64()*100, float64(r.Intn(3))
		y = append(y, x*x+c-math.Sin(z/10)*2*float64(i%7&1))
		if i%7 == 0 {
			z = math.NaN()
		}
		X = append(X, []float64{x, z, c})
	}
	for _, p := range []Params{params(SquaredError), func() Params { p := params(SquaredError); p.Workers = 4; p.EarlyStopping = 5; return p }()} {
		m, err := Fit(feats, X, y, p)
		if err != nil {
			t.Fatal(err)
		}
		b, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := m.PredictBatch(X)
		p2, _ := m2.PredictBatch(X)
		for i := range p1 {
			if p1[i] != p2[i] {
				t.Fatalf("row %d: %v before save, %v after", i, p1[i], p2[i])
			}
		}
	}
	if _, err := Unmarshal([]byte(`{"format":"other"}`)); err == nil {
		t.Error("wrong format accepted")
	}
}

// Training predictions via bins must equal predictions on raw values.
func TestBinsAgreeWithThresholds(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	var X [][]float64
	var y []float64
	for i := 0; i < 3000; i++ {
		x := math.Floor(r.NormFloat64()*1000) / 10
		X = append(X, []float64{x})
		y = append(y, math.Sin(x/20))
	}
	p := params(SquaredError)
	p.Trees = 20
	m, err := Fit(num("x"), X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := m.PredictBatch(X)
	var mse float64
	for i := range y {
		mse += (pred[i] - y[i]) * (pred[i] - y[i])
	}
	if mse/float64(len(y)) > 0.05 {
		t.Errorf("mse %v", mse/float64(len(y)))
	}
}

func TestParamValidation(t *testing.T) {
	X := [][]float64{{1}, {2}, {3}}
	y := []float64{0, 1, 0}
	bad := []func(*Params){
		func(p *Params) { p.Trees = 0 },
		func(p *Params) { p.MaxLeaves = 1 },
		func(p *Params) { p.LearningRate = 0 },
		func(p *Params) { p.LearningRate = 2 },
		func(p *Params) { p.L2 = -1 },
		func(p *Params) { p.MaxBins = 256 },
		func(p *Params) { p.MinSamplesLeaf = 0 },
		func(p *Params) { p.Loss = "hinge" },
		func(p *Params) { p.MaxDepth = -1 },
	}
	for i, f := range bad {
		p := DefaultParams()
		f(&p)
		if _, err := Fit(num("x"), X, y, p); err == nil {
			t.Errorf("case %d: no error", i)
		}
	}
	p := params(LogLoss)
	if _, err := Fit(num("x"), X, []float64{1, 1, 1}, p); err == nil {
		t.Error("single class accepted")
	}
	if _, err := Fit(num("x"), [][]float64{{math.Inf(1)}}, []float64{1}, DefaultParams()); err == nil {
		t.Error("Inf accepted")
	}
	if _, err := Fit(num("x"), X, []float64{0, 2, 1}, p); err == nil {
		t.Error("non 0/1 target accepted for log_loss")
	}
}

func TestWorkersAndEarlyStopping(t *testing.T) {
	r := rand.New(rand.NewSource(21))
	feats := num("a", "b", "c", "d")
	var X [][]float64
	var y []float64
	for i := 0; i < 2000; i++ {
		x := []float64{r.NormFloat64(), r.NormFloat64(), r.NormFloat64(), r.NormFloat64()}
		c := 0.0
		if r.Float64() < sigmoid(x[0]-x[1]) {
			c = 1
		}
		X = append(X, x)
		y = append(y, c)
	}
	p := params(LogLoss)
	p.Trees = 300
	m1, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	p.Workers = 3
	m2, _ := Fit(feats, X, y, p)
	b1, _ := m1.Marshal()
	b2, _ := m2.Marshal()
	if string(b1) != string(b2) {
		t.Error("Workers changed the model")
	}
	p.Workers, p.EarlyStopping, p.ValidationFraction = 1, 10, 0.2
	m3, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(m3.Trees) >= 300 || len(m3.Trees) == 0 {
		t.Errorf("early stopping kept %d trees", len(m3.Trees))
	}
}

// The bin-level evaluation used on validation rows agrees with Predict.
func TestPredictBinsAgrees(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	feats := []Feature{{Name: "x", Type: Numeric}, {Name: "c", Type: Categorical, Categories: []string{"a", "b", "c", "d", "e"}}}
	var X [][]float64
	var y []float64
	for i := 0; i < 5000; i++ {
		x := math.Round(r.NormFloat64()*500) / 7
		c := float64(r.Intn(5))
		y = append(y, math.Sin(x/10)+c*c/10)
		if i%11 == 0 {
			x = math.NaN()
		}
		X = append(X, []float64{x, c})
	}
	p := params(SquaredError)
	p.Trees = 10
	m, err := Fit(feats, X, y, p)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trainer{p: p, feats: feats}
	col := make([]float64, len(X))
	for j, f := range feats {
		for i := range X {
			col[i] = X[i][j]
		}
		tr.binners = append(tr.binners, newBinner(col, f.Type == Categorical, len(f.Categories), p.MaxBins))
		b := make([]uint8, len(X))
		for i := range X {
			b[i] = tr.binners[j].bin(X[i][j])
		}
		tr.bins = append(tr.bins, b)
	}
	for i := range X {
		for k := range m.Trees {
			if a, b := m.Trees[k].predictBins(tr, i), m.Trees[k].predict(X[i]); a != b {
				t.Fatalf("row %d tree %d: bins %v, values %v", i, k, a, b)
			}
		}
	}
}

func TestBinSearch(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	for n := 0; n < 40; n++ {
		b := &binner{nbins: n + 1}
		for k := 0; k < n; k++ {
			b.edges = append(b.edges, float64(k)+0.5*r.Float64())
		}
		for _, v := range []float64{-1, 0, 0.25, 0.5, 1, 3.3, 17, 38.9, 39.5, 100} {
			if got, want := b.bin(v), uint8(1+sort.SearchFloat64s(b.edges, v)); got != want {
				t.Fatalf("%d edges, bin(%v) = %d, want %d", n, v, got, want)
			}
		}
		for _, v := range b.edges {
			if got, want := b.bin(v), uint8(1+sort.SearchFloat64s(b.edges, v)); got != want {
				t.Fatalf("%d edges, bin(%v) = %d, want %d", n, v, got, want)
			}
		}
	}
}
