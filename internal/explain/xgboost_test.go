package explain

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// python is the interpreter of the live XGBoost cross-check (Debian:
// python3-xgboost). The test skips when it cannot import xgboost, and
// fails instead in CI (CI=true).
const python = "/usr/bin/python3"

type xgbCases struct {
	Version  string          `json:"xgboost"`
	X        [][]*float64    `json:"X"`
	Margin   json.RawMessage `json:"margin"`
	Contribs json.RawMessage `json:"contribs"`
}

func (c *xgbCases) rows() [][]float64 {
	out := make([][]float64, len(c.X))
	for i, r := range c.X {
		out[i] = make([]float64, len(r))
		for j, v := range r {
			out[i][j] = math.NaN()
			if v != nil {
				out[i][j] = *v
			}
		}
	}
	return out
}

// near reports |a-b| ≤ tol·max(1, |b|).
func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }

// checkXGBoost loads dir/xgb-NAME.json and compares margins (1e-5) and
// TreeSHAP contributions with the bias (1e-4) with xgboost's.
func checkXGBoost(t *testing.T, dir, name string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "xgb-"+name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := LoadXGBoostJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Covers {
		t.Fatal("covers not found")
	}
	cb, err := os.ReadFile(filepath.Join(dir, "xgb-"+name+".cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c xgbCases
	if err := json.Unmarshal(cb, &c); err != nil {
		t.Fatal(err)
	}
	X := c.rows()
	// single output: margin [n], contribs [n][F+1]; multi-class:
	// margin [n][K], contribs [n][K][F+1]
	var margin [][]float64
	var contribs [][][]float64
	if e.Classes == 1 {
		var m []float64
		var cs [][]float64
		if err := json.Unmarshal(c.Margin, &m); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c.Contribs, &cs); err != nil {
			t.Fatal(err)
		}
		for i := range m {
			margin = append(margin, []float64{m[i]})
			contribs = append(contribs, [][]float64{cs[i]})
		}
	} else {
		if err := json.Unmarshal(c.Margin, &margin); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c.Contribs, &contribs); err != nil {
			t.Fatal(err)
		}
	}
	if len(X) == 0 || len(margin) != len(X) || len(contribs) != len(X) {
		t.Fatalf("%d rows, %d margins, %d contributions", len(X), len(margin), len(contribs))
	}
	nf := len(e.Features)
	for i, x := range X {
		raw, err := e.PredictRaw(x)
		if err != nil {
			t.Fatal(err)
		}
		for k := range raw {
			if !near(raw[k], margin[i][k], 1e-5) {
				t.Errorf("row %d class %d: margin %v, xgboost %v", i, k, raw[k], margin[i][k])
			}
			base, phi, err := e.SHAPClass(x, k)
			if err != nil {
				t.Fatal(err)
			}
			want := contribs[i][k]
			if len(want) != nf+1 {
				t.Fatalf("xgboost gave %d contributions for %d features", len(want), nf)
			}
			for j := range phi {
				if !near(phi[j], want[j], 1e-4) {
					t.Errorf("row %d class %d feature %s: contribution %v, xgboost %v", i, k, e.Features[j].Name, phi[j], want[j])
				}
			}
			if !near(base, want[nf], 1e-4) {
				t.Errorf("row %d class %d: base %v, xgboost bias %v", i, k, base, want[nf])
			}
			sum := base
			for _, p := range phi {
				sum += p
			}
			if !near(sum, raw[k], 1e-5) {
				t.Errorf("row %d class %d: base + Σ contributions = %v, margin %v", i, k, sum, raw[k])
			}
			if phi[4] != 0 {
				t.Errorf("row %d: feature x4, never split on, got %v", i, phi[4])
			}
		}
	}
}

var xgbNames = []string{"regression", "binary", "multiclass"}

// TestXGBoostFixtures compares with the committed xgboost outputs.
func TestXGBoostFixtures(t *testing.T) {
	for _, name := range xgbNames {
		t.Run(name, func(t *testing.T) { checkXGBoost(t, "testdata", name) })
	}
}

// TestXGBoostLive trains the models with the installed xgboost (see
// testdata/gen_xgboost.py) and compares again.
func TestXGBoostLive(t *testing.T) {
	if err := exec.Command(python, "-c", "import xgboost").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s cannot import xgboost (Debian: python3-xgboost): %v", python, err)
		}
		t.Skipf("%s with xgboost not available: %v", python, err)
	}
	dir := t.TempDir()
	out, err := exec.Command(python, "testdata/gen_xgboost.py", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen_xgboost.py: %v\n%s", err, out)
	}
	for _, name := range xgbNames {
		t.Run(name, func(t *testing.T) { checkXGBoost(t, dir, name) })
	}
}

func TestXGBoostObjectives(t *testing.T) {
	b, err := os.ReadFile("testdata/xgb-binary.json")
	if err != nil {
		t.Fatal(err)
	}
	e, err := LoadXGBoostJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Link != Logistic || e.Base[0] != 0 { // base_score 0.5 is 0 log-odds
		t.Errorf("link %s, base %v", e.Link, e.Base)
	}
	x := []float64{0.1, -0.2, 0.3, 2, 1}
	raw, _ := e.Predict(x)
	p, err := e.Probability(x)
	if err != nil || math.Abs(p-1/(1+math.Exp(-raw))) > 1e-15 {
		t.Errorf("probability %v (%v), raw %v", p, err, raw)
	}
	if _, _, err := e.SHAPClass(x, 1); err == nil {
		t.Error("class 1 of a binary model explained")
	}
	for _, bad := range []string{
		`{}`, `[]`, `{"learner":{"objective":{"name":"rank:pairwise"}}}`,
		`{"learner":{"objective":{"name":"binary:logistic"},"learner_model_param":{"num_feature":"1","base_score":"1"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[],"trees":[]}}}}`,
		`{"learner":{"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"1"},"gradient_booster":{"name":"gblinear"}}}`,
		`{"learner":{"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"1"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],"split_conditions":[0,1,2],"default_left":[0,0,0],"sum_hessian":[2,1,1],"split_type":[1,0,0]}]}}}}`,
		`{"learner":{"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"1"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{"left_children":[0,-1,-1],"right_children":[2,-1,-1],"split_indices":[0,0,0],"split_conditions":[0,1,2],"default_left":[0,0,0],"sum_hessian":[2,1,1]}]}}}}`,
		`{"learner":{"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"1"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[3,0,0],"split_conditions":[0,1,2],"default_left":[0,0,0],"sum_hessian":[2,1,1]}]}}}}`,
	} {
		if _, err := LoadXGBoostJSON([]byte(bad)); err == nil {
			t.Errorf("loaded %s", bad)
		}
	}
	// a minimal model, with boolean default_left, predicts by hand
	good := `{"learner":{"feature_names":[],"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"2","base_score":"1E0"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[1,0,0],"split_conditions":[0.5,-1,3],"default_left":[true,false,false],"sum_hessian":[4,3,1]}]}}}}`
	e, err = LoadXGBoostJSON([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ x, want float64 }{{0.4, 0}, {0.5, 4}, {math.NaN(), 0}, {7, 4}} {
		if got, _ := e.Predict([]float64{0, c.x}); got != c.want {
			t.Errorf("x=%v: %v, want %v", c.x, got, c.want)
		}
	}
	// base = 1 + (3·-1 + 1·3)/4 = 1; x=7 goes right: φ = 3 - 0 = 3
	base, phi, err := e.SHAP([]float64{0, 7})
	if err != nil || base != 1 || phi[0] != 0 || phi[1] != 3 {
		t.Errorf("SHAP: %v %v %v", base, phi, err)
	}
	if e.Features[1].Name != "f1" {
		t.Errorf("default feature name %q", e.Features[1].Name)
	}
}
