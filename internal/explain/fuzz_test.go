package explain

import (
	"math"
	"os"
	"testing"
)

// exercise predicts and explains a loaded ensemble on a few rows: nothing
// may panic, whatever the file said.
func exercise(e *Ensemble) {
	for _, v := range []float64{0, 1, -3, 0.5, math.NaN()} {
		x := make([]float64, len(e.Features))
		for j := range x {
			x[j] = v
		}
		raw, err := e.PredictRaw(x)
		if err == nil {
			e.Response(raw)
		}
		for k := range min(e.Classes, 3) {
			e.SHAPClass(x, k)
		}
	}
}

func FuzzLoadXGBoostJSON(f *testing.F) {
	for _, name := range []string{"testdata/xgb-binary.json", "testdata/xgb-multiclass.json"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"learner":{"feature_names":[],"objective":{"name":"reg:squarederror"},"learner_model_param":{"num_feature":"2","base_score":"1E0"},"gradient_booster":{"name":"gbtree","model":{"tree_info":[0],"trees":[{"left_children":[1,-1,-1],"right_children":[2,-1,-1],"split_indices":[1,0,0],"split_conditions":[0.5,-1,3],"default_left":[true,false,false],"sum_hessian":[4,3,1]}]}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		e, err := LoadXGBoostJSON(b)
		if err != nil {
			return
		}
		exercise(e)
	})
}

func FuzzLoadLightGBMText(f *testing.F) {
	for _, name := range []string{"testdata/lgb-small.txt"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("tree\nversion=v3\nmax_feature_idx=0\nobjective=regression\n\nTree=0\nnum_leaves=1\nleaf_value=2\n\nend of trees\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		e, err := LoadLightGBMText(b)
		if err != nil {
			return
		}
		exercise(e)
	})
}
