package explain

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
)

// xgbObjectives maps XGBoost objective names to their link and how the
// stored base_score becomes a margin.
var xgbObjectives = map[string]struct {
	link   Link
	margin func(float64) float64
}{
	"reg:squarederror":     {Identity, ident},
	"reg:linear":           {Identity, ident},
	"reg:squaredlogerror":  {Identity, ident},
	"reg:pseudohubererror": {Identity, ident},
	"reg:absoluteerror":    {Identity, ident},
	"reg:quantileerror":    {Identity, ident},
	"binary:logistic":      {Logistic, logit},
	"reg:logistic":         {Logistic, logit},
	"binary:logitraw":      {Logistic, ident},
	"multi:softprob":       {Softmax, ident},
	"multi:softmax":        {Softmax, ident},
	"count:poisson":        {Exp, math.Log},
	"reg:gamma":            {Exp, math.Log},
	"reg:tweedie":          {Exp, math.Log},
}

func ident(v float64) float64 { return v }
func logit(p float64) float64 { return math.Log(p / (1 - p)) }

type xgbModel struct {
	Learner struct {
		FeatureNames     []string `json:"feature_names"`
		LearnerModelParm struct {
			BaseScore  string `json:"base_score"`
			NumClass   string `json:"num_class"`
			NumFeature string `json:"num_feature"`
			NumTarget  string `json:"num_target"`
		} `json:"learner_model_param"`
		Objective struct {
			Name string `json:"name"`
		} `json:"objective"`
		GradientBooster struct {
			Name       string     `json:"name"`
			Model      *xgbTrees  `json:"model"`
			GBTree     *xgbGBTree `json:"gbtree"` // dart
			WeightDrop []float64  `json:"weight_drop"`
		} `json:"gradient_booster"`
	} `json:"learner"`
}

type xgbGBTree struct {
	Model *xgbTrees `json:"model"`
}

type xgbTrees struct {
	TreeInfo []int     `json:"tree_info"`
	Trees    []xgbTree `json:"trees"`
}

type xgbTree struct {
	Left       []int     `json:"left_children"`
	Right      []int     `json:"right_children"`
	Feature    []int     `json:"split_indices"`
	Cond       []float64 `json:"split_conditions"`
	Default    flexBools `json:"default_left"`
	Hessian    []float64 `json:"sum_hessian"`
	SplitType  []int     `json:"split_type"`
	Categories []int     `json:"categories"`
}

// flexBools reads a JSON array of booleans or of 0/1 numbers.
type flexBools []bool

func (f *flexBools) UnmarshalJSON(b []byte) error {
	var bs []bool
	if err := json.Unmarshal(b, &bs); err == nil {
		*f = bs
		return nil
	}
	var ns []float64
	if err := json.Unmarshal(b, &ns); err != nil {
		return err
	}
	*f = make([]bool, len(ns))
	for i, n := range ns {
		(*f)[i] = n != 0
	}
	return nil
}

// LoadXGBoostJSON loads a gradient-boosted tree model saved by XGBoost in
// its JSON format (Booster.save_model("m.json")): boosters gbtree and dart,
// numeric splits (x < split_condition goes left, inputs compared as
// float32, NaN to the default child), covers from sum_hessian, the
// objectives listed in docs/explanations.md. Categorical splits, gblinear
// and multi-target trees are refused.
func LoadXGBoostJSON(b []byte) (*Ensemble, error) {
	var m xgbModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Invalidf("not an XGBoost JSON model: %s", jsonErr(err))
	}
	l := &m.Learner
	obj, ok := xgbObjectives[l.Objective.Name]
	if !ok {
		return nil, errs.Invalidf("XGBoost objective %q is not supported", l.Objective.Name)
	}
	p := l.LearnerModelParm
	nf, err := strconv.Atoi(p.NumFeature)
	if err != nil || nf < 1 || nf > 1<<20 {
		return nil, errs.Invalidf("XGBoost model: num_feature %q", p.NumFeature)
	}
	nc := 0
	if p.NumClass != "" {
		if nc, err = strconv.Atoi(p.NumClass); err != nil || nc < 0 || nc > 10000 {
			return nil, errs.Invalidf("XGBoost model: num_class %q", p.NumClass)
		}
	}
	if p.NumTarget != "" && p.NumTarget != "1" {
		return nil, errs.Invalidf("XGBoost multi-target models are not supported")
	}
	e := &Ensemble{Source: "xgboost", Objective: l.Objective.Name, Link: obj.link, SigmoidScale: 1,
		Classes: 1, LessThan: true, Float32: true}
	if obj.link == Softmax {
		if nc < 2 {
			return nil, errs.Invalidf("XGBoost %s model with num_class %d", l.Objective.Name, nc)
		}
		e.Classes = nc
	}
	base, err := xgbBase(p.BaseScore, e.Classes)
	if err != nil {
		return nil, err
	}
	for k := range base {
		base[k] = obj.margin(base[k])
	}
	e.Base = base
	for j := range nf {
		name := "f" + strconv.Itoa(j)
		if j < len(l.FeatureNames) && l.FeatureNames[j] != "" {
			name = l.FeatureNames[j]
		}
		e.Features = append(e.Features, Feature{Name: name})
	}
	gb := &l.GradientBooster
	trees, weights := gb.Model, []float64(nil)
	switch gb.Name {
	case "gbtree":
	case "dart":
		if gb.GBTree == nil {
			return nil, errs.Invalidf("XGBoost dart model without its trees")
		}
		trees, weights = gb.GBTree.Model, gb.WeightDrop
	default:
		return nil, errs.Invalidf("XGBoost booster %q is not supported (gbtree and dart are)", gb.Name)
	}
	if trees == nil {
		return nil, errs.Invalidf("XGBoost model without trees")
	}
	if weights != nil && len(weights) != len(trees.Trees) {
		return nil, errs.Invalidf("XGBoost dart model: %d weights for %d trees", len(weights), len(trees.Trees))
	}
	if len(trees.TreeInfo) != len(trees.Trees) {
		return nil, errs.Invalidf("XGBoost model: tree_info has %d entries for %d trees", len(trees.TreeInfo), len(trees.Trees))
	}
	for ti, t := range trees.Trees {
		n := len(t.Left)
		if n == 0 || len(t.Right) != n || len(t.Feature) != n || len(t.Cond) != n || len(t.Default) != n || len(t.Hessian) != n {
			return nil, errs.Invalidf("XGBoost tree %d: node arrays of different lengths", ti)
		}
		for _, st := range t.SplitType {
			if st != 0 {
				return nil, errs.Invalidf("XGBoost tree %d has categorical splits, which are not supported: one-hot encode the categories", ti)
			}
		}
		w := 1.0
		if weights != nil {
			w = weights[ti]
		}
		tr := Tree{Class: trees.TreeInfo[ti], Nodes: make([]Node, n)}
		for i := range n {
			nd := Node{Left: t.Left[i], Right: t.Right[i], Cover: t.Hessian[i]}
			if nd.Left < 0 {
				nd.Left, nd.Right = -1, -1
				nd.Value = float64(float32(t.Cond[i])) * w
			} else {
				if nd.Right < 0 {
					return nil, errs.Invalidf("XGBoost tree %d node %d has one child", ti, i)
				}
				nd.Feature = t.Feature[i]
				nd.Threshold = float64(float32(t.Cond[i]))
				nd.DefaultLeft = t.Default[i]
			}
			tr.Nodes[i] = nd
		}
		e.Trees = append(e.Trees, tr)
	}
	if err := e.Validate(); err != nil {
		return nil, errs.Invalidf("XGBoost model: %s", errs.MessageOf(err))
	}
	return e, nil
}

// xgbBase parses base_score: "5E-1", or "[5E-1]" / "[a,b,c]" (XGBoost 3).
func xgbBase(s string, k int) ([]float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "0.5"
	}
	parts := []string{s}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		parts = strings.Split(s[1:len(s)-1], ",")
	}
	var vals []float64
	for _, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || !finite(v) {
			return nil, errs.Invalidf("XGBoost model: base_score %q", s)
		}
		vals = append(vals, v)
	}
	switch len(vals) {
	case k:
		return vals, nil
	case 1:
		out := make([]float64, k)
		for i := range out {
			out[i] = vals[0]
		}
		return out, nil
	}
	return nil, errs.Invalidf("XGBoost model: %d base scores for %d outputs", len(vals), k)
}

// jsonErr shortens a decoding error for a message.
func jsonErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
