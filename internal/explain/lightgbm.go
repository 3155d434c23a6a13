package explain

import (
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// LoadLightGBMText loads a model saved by LightGBM in its text format
// (Booster.save_model("m.txt")): numeric splits (x ≤ threshold goes left)
// with their missing-value rule (None, Zero, NaN) and default direction,
// categorical splits (the category bitsets; NaN and negative values go
// right), covers from the leaf and
// internal counts (the weights when counts are absent, as LightGBM's own
// TreeSHAP does), and the objectives listed in docs/explanations.md.
// Linear trees and random forests (boosting=rf) are refused. Leaf values already include the shrinkage.
func LoadLightGBMText(b []byte) (*Ensemble, error) {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	head := map[string]string{}
	i := 0
	for ; i < len(lines) && !strings.HasPrefix(lines[i], "Tree="); i++ {
		k, v, _ := strings.Cut(strings.TrimSpace(lines[i]), "=")
		if k != "" {
			head[k] = v
		}
	}
	if _, ok := head["tree"]; !ok && !strings.HasPrefix(strings.TrimSpace(string(b)), "tree") {
		return nil, errs.Invalidf("not a LightGBM text model (it starts with \"tree\")")
	}
	if v := head["version"]; v != "v2" && v != "v3" && v != "v4" {
		return nil, errs.Invalidf("LightGBM model version %q is not supported (v2, v3 and v4 are)", v)
	}
	k, err := lgbInt(head, "num_tree_per_iteration", 1)
	if err != nil {
		return nil, err
	}
	maxFeat, err := lgbInt(head, "max_feature_idx", -1)
	if err != nil {
		return nil, err
	}
	if maxFeat < 0 || maxFeat >= 1<<20 || k < 1 || k > 10000 {
		return nil, errs.Invalidf("LightGBM model: max_feature_idx %d, num_tree_per_iteration %d", maxFeat, k)
	}
	if _, ok := head["average_output"]; ok {
		// how the averaged output meets the objective's link changed across
		// LightGBM versions: refuse rather than guess
		return nil, errs.Invalidf("LightGBM random forests (boosting=rf) are not supported")
	}
	e := &Ensemble{Source: "lightgbm", SigmoidScale: 1, Classes: 1}
	obj := strings.Fields(head["objective"])
	if len(obj) == 0 {
		return nil, errs.Invalidf("LightGBM model without an objective line")
	}
	e.Objective = strings.Join(obj, " ")
	opt := func(name string) string {
		for _, o := range obj[1:] {
			if v, ok := strings.CutPrefix(o, name+":"); ok {
				return v
			}
		}
		return ""
	}
	switch obj[0] {
	case "regression", "regression_l2", "l2", "mean_squared_error", "mse", "l2_root", "root_mean_squared_error", "rmse",
		"regression_l1", "l1", "mean_absolute_error", "mae", "huber", "fair", "quantile", "mape", "mean_absolute_percentage_error":
		e.Link = Identity
	case "binary":
		e.Link = Logistic
		if s := opt("sigmoid"); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || !(v > 0) || !finite(v) {
				return nil, errs.Invalidf("LightGBM model: sigmoid %q", s)
			}
			e.SigmoidScale = v
		}
	case "cross_entropy", "xentropy":
		e.Link = Logistic
	case "multiclass", "softmax":
		e.Link, e.Classes = Softmax, k
	case "poisson", "gamma", "tweedie":
		e.Link = Exp
	default:
		return nil, errs.Invalidf("LightGBM objective %q is not supported", obj[0])
	}
	if e.Classes != k {
		return nil, errs.Invalidf("LightGBM model: a %s model with %d trees per iteration", obj[0], k)
	}
	e.Base = make([]float64, e.Classes)
	names := strings.Fields(head["feature_names"])
	for j := 0; j <= maxFeat; j++ {
		name := "Column_" + strconv.Itoa(j)
		if j < len(names) {
			name = names[j]
		}
		e.Features = append(e.Features, Feature{Name: name})
	}
	// the trees: "Tree=N" blocks of key=value lines, up to "end of trees"
	for i < len(lines) {
		line := strings.TrimSpace(lines[i])
		if line == "end of trees" {
			break
		}
		if !strings.HasPrefix(line, "Tree=") {
			i++
			continue
		}
		kv := map[string]string{}
		for i++; i < len(lines); i++ {
			l := strings.TrimSpace(lines[i])
			if l == "" || strings.HasPrefix(l, "Tree=") || l == "end of trees" {
				break
			}
			key, v, _ := strings.Cut(l, "=")
			kv[key] = v
		}
		t, err := lgbTree(kv, len(e.Trees)%k)
		if err != nil {
			return nil, errs.Invalidf("LightGBM tree %d: %s", len(e.Trees), errs.MessageOf(err))
		}
		e.Trees = append(e.Trees, t)
		if len(e.Trees) > 1<<20 {
			return nil, errs.Invalidf("LightGBM model: too many trees")
		}
	}
	if len(e.Trees) == 0 || len(e.Trees)%k != 0 {
		return nil, errs.Invalidf("LightGBM model: %d trees for %d per iteration", len(e.Trees), k)
	}
	if err := e.Validate(); err != nil {
		return nil, errs.Invalidf("LightGBM model: %s", errs.MessageOf(err))
	}
	return e, nil
}

func lgbInt(kv map[string]string, key string, def int) (int, error) {
	s, ok := kv[key]
	if !ok {
		return def, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, errs.Invalidf("%s %q is not an integer", key, s)
	}
	return v, nil
}

func lgbFloats(kv map[string]string, key string, n int, need bool) ([]float64, error) {
	s, ok := kv[key]
	if !ok {
		if need {
			return nil, errs.Invalidf("no %s", key)
		}
		return nil, nil
	}
	f := strings.Fields(s)
	if len(f) != n {
		return nil, errs.Invalidf("%s has %d values, want %d", key, len(f), n)
	}
	out := make([]float64, n)
	for i, v := range f {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			// LightGBM writes infinities as "inf"/"-inf", which ParseFloat reads;
			// anything else is an error
			return nil, errs.Invalidf("%s: %q is not a number", key, v)
		}
		out[i] = x
	}
	return out, nil
}

func lgbInts(kv map[string]string, key string, n int) ([]int, error) {
	fs, err := lgbFloats(kv, key, n, true)
	if err != nil {
		return nil, err
	}
	out := make([]int, n)
	for i, v := range fs {
		if v != float64(int32(v)) {
			return nil, errs.Invalidf("%s: %v is not a 32-bit integer", key, v)
		}
		out[i] = int(v)
	}
	return out, nil
}

// lgbTree converts one tree: internal nodes 0..L-2 keep their index, leaf
// j becomes node L-1+j (LightGBM's child ~j).
func lgbTree(kv map[string]string, class int) (Tree, error) {
	t := Tree{Class: class}
	L, err := lgbInt(kv, "num_leaves", 0)
	if err != nil {
		return t, err
	}
	if L < 1 || L > 1<<20 {
		return t, errs.Invalidf("num_leaves %d", L)
	}
	if lin, _ := lgbInt(kv, "is_linear", 0); lin != 0 {
		return t, errs.Invalidf("linear trees are not supported")
	}
	leafVal, err := lgbFloats(kv, "leaf_value", L, true)
	if err != nil {
		return t, err
	}
	if L == 1 {
		t.Nodes = []Node{{Left: -1, Right: -1, Value: leafVal[0]}}
		return t, nil
	}
	n := L - 1
	feat, err := lgbInts(kv, "split_feature", n)
	if err != nil {
		return t, err
	}
	thr, err := lgbFloats(kv, "threshold", n, true)
	if err != nil {
		return t, err
	}
	dt, err := lgbInts(kv, "decision_type", n)
	if err != nil {
		return t, err
	}
	left, err := lgbInts(kv, "left_child", n)
	if err != nil {
		return t, err
	}
	right, err := lgbInts(kv, "right_child", n)
	if err != nil {
		return t, err
	}
	// covers: counts, else weights
	leafCov, err := lgbFloats(kv, "leaf_count", L, false)
	if err != nil {
		return t, err
	}
	innerCov, err := lgbFloats(kv, "internal_count", n, false)
	if err != nil {
		return t, err
	}
	if leafCov == nil || innerCov == nil {
		if leafCov, err = lgbFloats(kv, "leaf_weight", L, false); err != nil {
			return t, err
		}
		if innerCov, err = lgbFloats(kv, "internal_weight", n, false); err != nil {
			return t, err
		}
	}
	var catBounds []int
	var catBits []uint32
	if nc, _ := lgbInt(kv, "num_cat", 0); nc > 0 {
		if nc > n {
			return t, errs.Invalidf("num_cat %d for %d splits", nc, n)
		}
		if catBounds, err = lgbInts(kv, "cat_boundaries", nc+1); err != nil {
			return t, err
		}
		for _, f := range strings.Fields(kv["cat_threshold"]) {
			w, err := strconv.ParseUint(f, 10, 32)
			if err != nil {
				return t, errs.Invalidf("cat_threshold: %q is not a 32-bit word", f)
			}
			catBits = append(catBits, uint32(w))
		}
	}
	child := func(c int) int {
		if c < 0 {
			return n + ^c
		}
		return c
	}
	t.Nodes = make([]Node, n+L)
	for j := range n {
		if c := left[j]; c >= n || c < -L || right[j] >= n || right[j] < -L {
			return t, errs.Invalidf("node %d: child out of range", j)
		}
		nd := Node{Left: child(left[j]), Right: child(right[j]), Feature: feat[j], Threshold: thr[j],
			DefaultLeft: dt[j]&2 != 0}
		switch (dt[j] >> 2) & 3 {
		case 0:
			nd.Missing = MissingNone
		case 1:
			nd.Missing = MissingZero
		case 2:
			nd.Missing = MissingNaN
		default:
			return t, errs.Invalidf("node %d: unknown missing type in decision_type %d", j, dt[j])
		}
		if dt[j]&1 != 0 {
			// categorical: threshold indexes cat_boundaries; the bitset of
			// 32-bit words cat_threshold[lo:hi] holds the categories going left
			ci := int(thr[j])
			if float64(ci) != thr[j] || ci < 0 || ci+1 >= len(catBounds) {
				return t, errs.Invalidf("node %d: categorical threshold %v out of range", j, thr[j])
			}
			lo, hi := catBounds[ci], catBounds[ci+1]
			if lo < 0 || hi < lo || hi > len(catBits) || hi-lo > 1<<16 {
				return t, errs.Invalidf("node %d: category bitset out of range", j)
			}
			nd.Categories = []int{}
			for w, word := range catBits[lo:hi] {
				for u := word; u != 0; {
					b := bits.TrailingZeros32(u)
					nd.Categories = append(nd.Categories, 32*w+b)
					u &^= 1 << b
				}
			}
			slices.Sort(nd.Categories)
			nd.Threshold = 0
			nd.Missing, nd.DefaultLeft = MissingNaN, false // NaN goes right
		}
		if innerCov != nil {
			nd.Cover = innerCov[j]
		}
		t.Nodes[j] = nd
	}
	for j := range L {
		nd := Node{Left: -1, Right: -1, Value: leafVal[j]}
		if leafCov != nil {
			nd.Cover = leafCov[j]
		}
		t.Nodes[n+j] = nd
	}
	return t, nil
}
