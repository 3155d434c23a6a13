// Package model is hygie's saved-model format and the bridge between tables
// and the built-in learners (internal/learn/...).
//
// A saved model is one versioned JSON document ("hygie.model/1") that
// carries, besides the fitted learner, its input signature: each input
// column's name, type (numeric or categorical, with the categories seen in
// training) and the target with its task (regression, or binary
// classification with the positive value). Serving validates requests
// against the signature; `hygie predict` and training jobs use the same
// encoding, so a model behaves identically wherever it runs.
//
// Encoding: gradient-boosted trees take numbers and category codes, with
// NaN for a missing value or a category unseen in training. Logistic and
// linear models take numeric columns as they are (a missing value is an
// error) and categorical columns one-hot encoded (the linear model drops
// the first category, the regularised logistic keeps all); a missing or
// unknown category is all zeros.
package model

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
	"github.com/hygie-health/hygie/internal/learn/logistic"
)

// Format is the format tag of a saved model.
const Format = "hygie.model/1"

// Input types.
const (
	Numeric     = gbdt.Numeric
	Categorical = gbdt.Categorical
)

// Learners.
const (
	GBDT     = "gbdt"
	Logistic = "logistic"
	Linear   = "linear"
)

// Tasks.
const (
	Regression = "regression"
	Binary     = "binary"
	Multiclass = "multiclass"
)

// Input is one input column of a model's signature.
type Input struct {
	Name       string   `json:"name"`
	Type       string   `json:"type"` // Numeric or Categorical
	Categories []string `json:"categories,omitempty"`
}

// Model is a fitted model with its signature; it is its own JSON document.
type Model struct {
	Format   string   `json:"format"`
	Learner  string   `json:"learner"`
	Task     string   `json:"task"`
	Target   string   `json:"target"`
	Positive string   `json:"positive,omitempty"` // binary: the target value predicted as probability
	Classes  []string `json:"classes,omitempty"`  // multiclass: the target value of each class index
	Inputs   []Input  `json:"inputs"`

	GBDT          *gbdt.Model             `json:"gbdt,omitempty"`
	Logistic      *logistic.Model         `json:"logistic,omitempty"`
	LogisticMulti *logistic.MultiModel    `json:"logistic_multinomial,omitempty"`
	Linear        *learn.LinearRegression `json:"linear,omitempty"`
}

// Marshal encodes the model.
func (m *Model) Marshal() ([]byte, error) { return json.MarshalIndent(m, "", " ") }

// Unmarshal decodes and checks a saved model.
func Unmarshal(b []byte) (*Model, error) {
	var m Model
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errs.Invalidf("not a hygie model (invalid JSON)")
	}
	if m.Format != Format {
		return nil, errs.Invalidf("unknown model format %q (want %s)", m.Format, Format)
	}
	if len(m.Inputs) == 0 {
		return nil, errs.Invalidf("the model records no input columns")
	}
	if m.Task != Regression && m.Task != Binary && m.Task != Multiclass {
		return nil, errs.Invalidf("unknown task %q", m.Task)
	}
	if m.Task == Multiclass && len(m.Classes) < 3 {
		return nil, errs.Invalidf("a multiclass model needs at least 3 classes")
	}
	var ok bool
	switch m.Learner {
	case GBDT:
		ok = m.GBDT != nil && len(m.GBDT.Features) == len(m.Inputs) && (m.Task != Multiclass || m.GBDT.Classes == len(m.Classes))
	case Logistic:
		if m.Task == Multiclass {
			ok = m.LogisticMulti != nil && m.LogisticMulti.Classes == len(m.Classes) && len(m.LogisticMulti.Coef) == len(m.Classes) &&
				len(m.LogisticMulti.Intercepts) == len(m.Classes)
			for _, c := range m.LogisticMulti.Coef {
				ok = ok && len(c) == len(m.LogisticMulti.Features)
			}
			break
		}
		ok = m.Logistic != nil && m.Task == Binary && len(m.Logistic.Coef) == len(m.Logistic.Features)
	case Linear:
		ok = m.Linear != nil && m.Task == Regression && len(m.Linear.Coef) == len(m.Linear.Features)
	default:
		return nil, errs.Invalidf("unknown learner %q", m.Learner)
	}
	if !ok {
		return nil, errs.Invalidf("malformed %s model", m.Learner)
	}
	return &m, nil
}

// Importance is the learner's view of each input's weight: total split gain
// for trees, absolute coefficients summed over an input's one-hot columns
// for linear models. Nil when the learner has none.
func (m *Model) Importance() map[string]float64 {
	out := map[string]float64{}
	switch {
	case m.GBDT != nil:
		for k, f := range m.GBDT.Features {
			out[f.Name] = m.GBDT.Importance[k]
		}
	case m.Logistic != nil:
		addAbs(out, m.Logistic.Features, m.Logistic.Coef)
	case m.LogisticMulti != nil:
		for _, c := range m.LogisticMulti.Coef {
			addAbs(out, m.LogisticMulti.Features, c)
		}
	case m.Linear != nil:
		addAbs(out, m.Linear.Features, m.Linear.Coef)
	}
	return out
}

func addAbs(out map[string]float64, names []string, coef []float64) {
	for j, n := range names {
		base, _, _ := strings.Cut(n, "=")
		out[base] += math.Abs(coef[j])
	}
}

// Encode turns the model's input columns of t into the raw matrix: one row
// per table row, one value per input: the number, the category's code, or
// NaN when missing or unknown. Extra columns of t are ignored.
func Encode(ins []Input, t *Table) ([][]float64, error) {
	cols := make([][]float64, len(ins))
	for k, in := range ins {
		c := t.Col(in.Name)
		if c == nil {
			return nil, errs.Invalidf("the model needs column %q, which the data lacks", in.Name)
		}
		if in.Type == Numeric {
			v, err := c.numbers()
			if err != nil {
				return nil, err
			}
			cols[k] = v
			continue
		}
		codes := make(map[string]int, len(in.Categories))
		for i, s := range in.Categories {
			codes[s] = i
		}
		v := make([]float64, c.Len())
		for i := range v {
			if code, ok := codes[c.text(i)]; ok {
				v[i] = float64(code)
			} else {
				v[i] = math.NaN()
			}
		}
		cols[k] = v
	}
	X := make([][]float64, t.Rows())
	flat := make([]float64, t.Rows()*len(ins))
	for i := range X {
		X[i] = flat[i*len(ins) : (i+1)*len(ins) : (i+1)*len(ins)]
		for k := range ins {
			X[i][k] = cols[k][i]
		}
	}
	return X, nil
}

// oneHotNames are the one-hot feature names of ins.
func oneHotNames(ins []Input, dropFirst bool) []string {
	var names []string
	for _, in := range ins {
		if in.Type == Numeric {
			names = append(names, in.Name)
			continue
		}
		for c, s := range in.Categories {
			if c > 0 || !dropFirst {
				names = append(names, in.Name+"="+s)
			}
		}
	}
	return names
}

// oneHot encodes raw rows for the linear learners; missing numbers are an
// error (they need complete data), missing categories are all zeros.
func oneHot(ins []Input, raw [][]float64, dropFirst bool) ([][]float64, error) {
	width := len(oneHotNames(ins, dropFirst))
	X := make([][]float64, len(raw))
	flat := make([]float64, len(raw)*width)
	for i, r := range raw {
		x := flat[i*width : i*width : (i+1)*width]
		for k, in := range ins {
			v := r[k]
			if in.Type == Numeric {
				if math.IsNaN(v) {
					return nil, errs.Invalidf("row %d column %q is missing: this learner needs complete numeric data (gbdt handles missing values)", i+1, in.Name)
				}
				x = append(x, v)
				continue
			}
			for c := range in.Categories {
				if c == 0 && dropFirst {
					continue
				}
				if !math.IsNaN(v) && int(v) == c {
					x = append(x, 1)
				} else {
					x = append(x, 0)
				}
			}
		}
		X[i] = x
	}
	return X, nil
}

// Predict applies the model to t: one value per row, the prediction for a
// regression, the probability of the positive class, or for a multiclass
// model the index of the most probable class (see PredictProba).
func (m *Model) Predict(t *Table) ([]float64, error) {
	raw, err := Encode(m.Inputs, t)
	if err != nil {
		return nil, err
	}
	return m.PredictRaw(raw)
}

// PredictRaw applies the model to rows encoded by Encode.
func (m *Model) PredictRaw(raw [][]float64) ([]float64, error) {
	if m.Task == Multiclass {
		proba, err := m.PredictProbaRaw(raw)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(proba))
		for i, p := range proba {
			best := 0
			for k := range p {
				if p[k] > p[best] {
					best = k
				}
			}
			out[i] = float64(best)
		}
		return out, nil
	}
	switch m.Learner {
	case GBDT:
		return m.GBDT.PredictBatch(raw)
	case Logistic:
		X, err := oneHot(m.Inputs, raw, false)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(X))
		for i, x := range X {
			if out[i], err = m.Logistic.Predict(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	case Linear:
		X, err := oneHot(m.Inputs, raw, true)
		if err != nil {
			return nil, err
		}
		return m.Linear.PredictBatch(X)
	}
	return nil, errs.Invalidf("unknown learner %q", m.Learner)
}

// PredictProba gives a multiclass model's class probabilities (in the
// order of Classes) for each row of t.
func (m *Model) PredictProba(t *Table) ([][]float64, error) {
	raw, err := Encode(m.Inputs, t)
	if err != nil {
		return nil, err
	}
	return m.PredictProbaRaw(raw)
}

// PredictProbaRaw is PredictProba on rows encoded by Encode.
func (m *Model) PredictProbaRaw(raw [][]float64) ([][]float64, error) {
	if m.Task != Multiclass {
		return nil, errs.Invalidf("class probabilities are for multiclass models; this one is %s", m.Task)
	}
	switch {
	case m.GBDT != nil:
		return m.GBDT.PredictProbaBatch(raw)
	case m.LogisticMulti != nil:
		X, err := oneHot(m.Inputs, raw, false)
		if err != nil {
			return nil, err
		}
		out := make([][]float64, len(X))
		for i, x := range X {
			if out[i], err = m.LogisticMulti.PredictProba(x); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, errs.Invalidf("the %s learner has no multiclass model", m.Learner)
}

// Target is a table's target column read for a learner.
type Target struct {
	Name     string
	Task     string
	Positive string    // Binary: the positive value
	Classes  []string  // Multiclass: the values, sorted; Y holds their index
	Y        []float64 // regression values, 1 for positive and 0 otherwise, or the class index
}

// Labels returns a binary target as ints.
func (t *Target) Labels() []int {
	out := make([]int, len(t.Y))
	for i, v := range t.Y {
		out[i] = int(v)
	}
	return out
}

// ReadTarget reads the target column. The task is a binary classification
// when positive is given, when the target is text with exactly two values
// (the later one in sorted order is positive) or numeric with only the
// values 0 and 1 (1 is positive); otherwise a regression. learner narrows
// it: logistic needs a classification, linear a regression (0/1 targets are
// then regressed on).
func ReadTarget(t *Table, name, positive, learner string) (*Target, error) {
	c := t.Col(name)
	if c == nil {
		return nil, errs.Invalidf("the target %q is not a column (columns: %s)", name, strings.Join(t.Names(), ", "))
	}
	if learner == Linear && positive != "" {
		return nil, errs.Invalidf("the linear learner is a regression: drop the positive value")
	}
	n := c.Len()
	vals := map[string]bool{}
	numeric := true
	nums := make([]float64, n)
	for i := range n {
		if c.Num != nil {
			v := c.Num[i]
			if math.IsNaN(v) {
				return nil, errs.Invalidf("row %d: the target %q is missing", i+1, name)
			}
			if math.IsInf(v, 0) {
				return nil, errs.Invalidf("row %d: the target %q is infinite", i+1, name)
			}
			nums[i] = v
			vals[c.text(i)] = true
			continue
		}
		s := strings.TrimSpace(c.Text[i])
		if IsMissing(s) {
			return nil, errs.Invalidf("row %d: the target %q is missing", i+1, name)
		}
		v, ok, bad := parseNum(s)
		if bad {
			return nil, errs.Invalidf("row %d: the target %q is NaN or infinite", i+1, name)
		}
		numeric = numeric && ok
		nums[i] = v
		vals[s] = true
	}
	if len(vals) < 2 {
		return nil, errs.Invalidf("the target %q is constant: nothing to learn", name)
	}
	if learner == Linear && !numeric {
		return nil, errs.Invalidf("the target %q is not numeric: the linear learner is a regression", name)
	}
	if positive != "" && !vals[positive] {
		// A yes/no column stored as a boolean reads true/false.
		if b, ok := boolWord(positive); ok && len(vals) == 2 && vals["true"] && vals["false"] {
			positive = b
		}
	}
	tg := &Target{Name: name, Task: Regression, Positive: positive}
	switch {
	case positive != "":
		if !vals[positive] {
			return nil, errs.Invalidf("the positive value %q never occurs in the target %q", positive, name)
		}
		tg.Task = Binary
	case !numeric:
		v := make([]string, 0, len(vals))
		for s := range vals {
			v = append(v, s)
		}
		sort.Strings(v)
		if len(v) > 2 {
			if len(v) > maxClasses {
				return nil, errs.Invalidf("the target %q is text with %d values: at most %d classes (or name the positive value)", name, len(v), maxClasses)
			}
			tg.Task, tg.Classes = Multiclass, v
			break
		}
		tg.Task, tg.Positive = Binary, v[1]
	case len(vals) == 2 && vals["0"] && vals["1"] && learner != Linear:
		tg.Task, tg.Positive = Binary, "1"
	case learner == Logistic:
		return nil, errs.Invalidf("the target %q is numeric with %d values: name the positive value for a classifier", name, len(vals))
	}
	if tg.Task == Regression {
		if !numeric {
			return nil, errs.Invalidf("the target %q is not numeric: a regression needs numbers", name)
		}
		tg.Y = nums
		return tg, nil
	}
	tg.Y = make([]float64, n)
	index := map[string]int{}
	for k, v := range tg.Classes {
		index[v] = k
	}
	for i := range n {
		switch {
		case tg.Task == Multiclass:
			tg.Y[i] = float64(index[c.text(i)])
		case c.text(i) == tg.Positive:
			tg.Y[i] = 1
		}
	}
	return tg, nil
}

// boolWord maps the words a boolean column is imported from (see
// internal/dataset) to "true" or "false".
func boolWord(s string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "vrai", "oui", "yes":
		return "true", true
	case "false", "faux", "non", "no":
		return "false", true
	}
	return "", false
}

// maxClasses bounds a multiclass target (a text column with more values is
// more likely an identifier or free text than an outcome).
const maxClasses = 50

// Params are a learner's hyper-parameters, parsed from KEY=VALUE settings.
type Params struct {
	Learner  string
	GBDT     gbdt.Params
	Logistic logistic.Params
	LinearL2 float64           // ridge penalty of the linear learner (0: least squares)
	Set      map[string]string // the settings given, for tracking
}

// ParamKeys lists the settings each learner accepts.
var ParamKeys = map[string][]string{
	GBDT:     {"trees", "leaves", "max_depth", "min_samples_leaf", "learning_rate", "l2", "max_bins", "early_stopping", "validation_fraction", "seed", "workers"},
	Logistic: {"l2", "max_iter", "tol"},
	Linear:   {"l2"},
}

// ParseParams checks the learner and its settings (unknown keys, values of
// the wrong type or out of range are errors naming the key).
func ParseParams(learner string, set map[string]string) (Params, error) {
	keys, ok := ParamKeys[learner]
	if !ok {
		return Params{}, errs.Invalidf("unknown learner %q (want gbdt, logistic or linear)", learner)
	}
	p := Params{Learner: learner, GBDT: gbdt.DefaultParams(), Logistic: logistic.DefaultParams(), Set: set}
	for k := range set {
		if !slices.Contains(keys, k) {
			known := strings.Join(keys, ", ")
			if known == "" {
				known = "none"
			}
			return p, errs.Invalidf("parameter %s: unknown for the %s learner (known: %s)", k, learner, known)
		}
	}
	ints := map[string]*int{"trees": &p.GBDT.Trees, "leaves": &p.GBDT.MaxLeaves, "max_depth": &p.GBDT.MaxDepth,
		"min_samples_leaf": &p.GBDT.MinSamplesLeaf, "max_bins": &p.GBDT.MaxBins, "early_stopping": &p.GBDT.EarlyStopping,
		"workers": &p.GBDT.Workers, "max_iter": &p.Logistic.MaxIter}
	floats := map[string]*float64{"learning_rate": &p.GBDT.LearningRate, "validation_fraction": &p.GBDT.ValidationFraction, "tol": &p.Logistic.Tol}
	switch learner {
	case GBDT:
		floats["l2"] = &p.GBDT.L2
	case Logistic:
		floats["l2"] = &p.Logistic.L2
	default:
		floats["l2"] = &p.LinearL2
	}
	for k, s := range set {
		switch {
		case ints[k] != nil:
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return p, errs.Invalidf("parameter %s: want an integer, got %q", k, s)
			}
			*ints[k] = v
		case floats[k] != nil:
			v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return p, errs.Invalidf("parameter %s: want a finite number, got %q", k, s)
			}
			*floats[k] = v
		case k == "seed":
			v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				return p, errs.Invalidf("parameter seed: want an integer, got %q", s)
			}
			p.GBDT.Seed = v
		}
	}
	var err error
	switch learner {
	case GBDT:
		err = p.GBDT.Validate()
	case Logistic:
		err = p.Logistic.Validate()
	case Linear:
		if p.LinearL2 < 0 {
			err = errs.Invalidf("l2 must be a finite number ≥ 0, got %v", p.LinearL2)
		}
	}
	if err != nil {
		return p, errs.Invalidf("parameter %s", errs.MessageOf(err))
	}
	return p, nil
}

// Problem is a table prepared for a learner: its inputs typed (categories
// from the whole table, so every subset shares one encoding), the raw
// matrix, and the target.
type Problem struct {
	Params Params
	Inputs []Input
	Target *Target
	Raw    [][]float64
}

// Prepare types the feature columns (all but the target when features is
// empty), reads the target and encodes the table.
func Prepare(t *Table, target, positive string, features []string, p Params) (*Problem, error) {
	if err := t.Check(); err != nil {
		return nil, err
	}
	if t.Rows() == 0 {
		return nil, errs.Invalidf("the data has no rows")
	}
	tg, err := ReadTarget(t, target, positive, p.Learner)
	if err != nil {
		return nil, err
	}
	if len(features) == 0 {
		for _, c := range t.Cols {
			if c.Name != target {
				features = append(features, c.Name)
			}
		}
	}
	var ins []Input
	for _, f := range features {
		if f == target {
			return nil, errs.Invalidf("the target %q cannot also be a feature", f)
		}
		c := t.Col(f)
		if c == nil {
			return nil, errs.Invalidf("feature %q is not a column (columns: %s)", f, strings.Join(t.Names(), ", "))
		}
		in, err := InferInput(c)
		if err != nil {
			return nil, err
		}
		ins = append(ins, in)
	}
	if len(ins) == 0 {
		return nil, errs.Invalidf("no feature columns besides the target")
	}
	raw, err := Encode(ins, t)
	if err != nil {
		return nil, err
	}
	return &Problem{Params: p, Inputs: ins, Target: tg, Raw: raw}, nil
}

// Fit fits the learner on the rows idx of the problem (all rows when idx
// is nil).
func (pb *Problem) Fit(idx []int) (*Model, error) {
	raw, y := pb.Raw, pb.Target.Y
	if idx != nil {
		raw, y = make([][]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			raw[k], y[k] = pb.Raw[i], pb.Target.Y[i]
		}
	}
	if err := checkTwoValues(y, pb.Target); err != nil {
		return nil, err
	}
	m := &Model{Format: Format, Learner: pb.Params.Learner, Task: pb.Target.Task, Target: pb.Target.Name, Inputs: pb.Inputs, Classes: pb.Target.Classes}
	if m.Task == Binary {
		m.Positive = pb.Target.Positive
	}
	switch m.Learner {
	case GBDT:
		feats := make([]gbdt.Feature, len(pb.Inputs))
		for k, in := range pb.Inputs {
			feats[k] = gbdt.Feature{Name: in.Name, Type: in.Type, Categories: in.Categories}
		}
		gp := pb.Params.GBDT
		switch m.Task {
		case Binary:
			gp.Loss = gbdt.LogLoss
		case Multiclass:
			gp.Loss, gp.Classes = gbdt.Multinomial, len(m.Classes)
		default:
			gp.Loss = gbdt.SquaredError
		}
		g, err := gbdt.Fit(feats, raw, y, gp)
		if err != nil {
			return nil, err
		}
		g.Target, g.Positive = m.Target, m.Positive
		m.GBDT = g
	case Logistic:
		X, err := oneHot(pb.Inputs, raw, false)
		if err != nil {
			return nil, err
		}
		if m.Task == Multiclass {
			yi := make([]int, len(y))
			for i, v := range y {
				yi[i] = int(v)
			}
			l, err := logistic.FitMultinomial(oneHotNames(pb.Inputs, false), X, yi, len(m.Classes), pb.Params.Logistic)
			if err != nil {
				return nil, err
			}
			m.LogisticMulti = l
			break
		}
		l, err := logistic.Fit(oneHotNames(pb.Inputs, false), X, y, pb.Params.Logistic)
		if err != nil {
			return nil, err
		}
		m.Logistic = l
	case Linear:
		X, err := oneHot(pb.Inputs, raw, true)
		if err != nil {
			return nil, err
		}
		l, err := learn.FitRidge(oneHotNames(pb.Inputs, true), X, y, pb.Params.LinearL2)
		if err != nil {
			return nil, err
		}
		m.Linear = l
	default:
		return nil, errs.Invalidf("unknown learner %q", m.Learner)
	}
	return m, nil
}

// checkTwoValues refuses a training subset whose target is constant (a
// fold of a small or very unbalanced table).
func checkTwoValues(y []float64, t *Target) error {
	if len(y) == 0 {
		return errs.Invalidf("no training rows")
	}
	for _, v := range y[1:] {
		if v != y[0] {
			return nil
		}
	}
	return errs.Invalidf("the target %q is constant in the training rows: nothing to learn", t.Name)
}

// String describes the model in one line.
func (m *Model) String() string {
	task := m.Task
	switch m.Task {
	case Binary:
		task = fmt.Sprintf("binary, positive %q", m.Positive)
	case Multiclass:
		task = fmt.Sprintf("multiclass, %d classes", len(m.Classes))
	}
	return fmt.Sprintf("%s %s of %s on %d inputs", m.Learner, task, m.Target, len(m.Inputs))
}
