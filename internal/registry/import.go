package registry

// Importing gradient-boosted tree models trained elsewhere (XGBoost JSON,
// LightGBM text) as model versions: the trees are converted to hygie's own
// model format, so serving, explanations (TreeSHAP), monitoring and the
// gates treat them like models hygie trained. The original file is kept as
// an artifact of the import's run.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/explain"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
	hmodel "github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/track"
)

// Import formats.
const (
	ImportXGBoost  = "xgboost"  // XGBoost's JSON model (Booster.save_model("m.json"))
	ImportLightGBM = "lightgbm" // LightGBM's text model (Booster.save_model("m.txt"))
)

// Artifacts of an import run.
const (
	ImportedModelArtifact = "model/model.json" // the converted model (train.ModelArtifact)
	ImportExperiment      = "imports"
)

// ImportSignature describes an imported model: its inputs in the model's
// feature order, its task and target. Inputs may be left out: the model's
// feature names are then the inputs, all numeric.
type ImportSignature struct {
	Inputs []ImportInput `json:"inputs" yaml:"inputs"`
	// Task is binary or regression; empty: from the model's objective.
	Task string `json:"task,omitempty" yaml:"task"`
	// Target names the predicted column (default "prediction"); Positive
	// the target value a binary model's probability is for (default "1").
	Target   string `json:"target,omitempty" yaml:"target"`
	Positive string `json:"positive,omitempty" yaml:"positive"`
}

// ImportInput is one input: its name, numeric or categorical, and for a
// categorical input its categories in code order (code 0 first), as the
// model was trained on the codes.
type ImportInput struct {
	Name       string   `json:"name" yaml:"name"`
	Type       string   `json:"type,omitempty" yaml:"type"` // numeric (default) or categorical
	Categories []string `json:"categories,omitempty" yaml:"categories"`
}

// ImportOptions is a model to import.
type ImportOptions struct {
	Project, Model string
	Format         string // ImportXGBoost or ImportLightGBM
	File           []byte
	FileName       string // for messages and the original's artifact name
	Signature      ImportSignature
}

// Import registers a model trained elsewhere as a new version of o.Model.
// The file is parsed (explain.LoadXGBoostJSON, explain.LoadLightGBMText),
// converted to hygie's format (regression and binary classification
// models; inputs as the signature says) and checked to predict as the
// original does; a run of the experiment "imports" records the source
// (format, file name, SHA-256) with the converted model and the original
// file as artifacts, and the version is registered from it. The principal
// needs model.write and run.write.
func (s *Service) Import(ctx context.Context, o ImportOptions) (Version, error) {
	for _, p := range []auth.Perm{auth.PermModelWrite, auth.PermRunWrite} {
		if err := auth.Require(ctx, o.Project, p); err != nil {
			return Version{}, err
		}
	}
	if !nameRE.MatchString(o.Model) {
		return Version{}, errs.Invalidf("model name %q: use lower-case letters, digits, '_' or '-', starting with a letter", o.Model)
	}
	if p, err := s.ProjectOfModel(ctx, o.Model); err == nil && p != o.Project {
		return Version{}, errs.Conflictf("model name %q is taken by another project", o.Model)
	}
	m, err := ConvertImported(o.Format, o.File, o.Signature)
	if err != nil {
		if o.FileName != "" {
			err = errs.E(errs.CodeOf(err), "%s: %s", o.FileName, errs.MessageOf(err))
		}
		return Version{}, err
	}
	converted, err := m.Marshal()
	if err != nil {
		return Version{}, err
	}
	sum := sha256.Sum256(o.File)
	run, err := s.runs.StartRun(ctx, o.Project, ImportExperiment, "import "+o.Model, nil)
	if err != nil {
		return Version{}, err
	}
	fail := func(err error) (Version, error) {
		s.runs.End(context.WithoutCancel(ctx), run.ID, track.Failed)
		return Version{}, err
	}
	params := map[string]string{"kind": "import", "format": o.Format, "file": o.FileName, "sha256": hex.EncodeToString(sum[:]),
		"task": m.Task, "target": m.Target, "learner": m.Learner, "trees": fmt.Sprint(len(m.GBDT.Trees)), "features": strings.Join(inputNames(m.Inputs), ",")}
	if m.Task == hmodel.Binary {
		params["positive"] = m.Positive
	}
	for k, v := range params {
		if v == "" {
			continue
		}
		if err := s.runs.LogParam(ctx, run.ID, k, v); err != nil {
			return fail(err)
		}
	}
	ext := ".json"
	if o.Format == ImportLightGBM {
		ext = ".txt"
	}
	if err := s.runs.PutArtifact(ctx, run.ID, "model/original-"+o.Format+ext, bytes.NewReader(o.File)); err != nil {
		return fail(err)
	}
	if err := s.runs.PutArtifact(ctx, run.ID, ImportedModelArtifact, bytes.NewReader(converted)); err != nil {
		return fail(err)
	}
	if err := s.runs.End(ctx, run.ID, track.Finished); err != nil {
		return fail(err)
	}
	return s.Register(ctx, o.Project, o.Model, run.ID, ImportedModelArtifact, hmodel.Format, Signature{})
}

// ParseImportSignature reads a signature document (JSON); unknown fields
// are refused.
func ParseImportSignature(b []byte) (ImportSignature, error) {
	var sig ImportSignature
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sig); err != nil {
		return sig, errs.Invalidf("signature: %v (want {\"inputs\": [{\"name\", \"type\": numeric|categorical, \"categories\"}], \"task\", \"target\", \"positive\"})", err)
	}
	return sig, nil
}

// ConvertImported parses an XGBoost JSON or LightGBM text model and
// converts it to hygie's model format with the signature sig. Regression
// (identity link) and binary classification (logistic link) models are
// supported; softmax, log-link objectives and LightGBM's zero_as_missing
// splits are refused. The result is checked against the original on 2,000
// random rows (missing values among them) to 1e-9 on the raw output.
func ConvertImported(format string, file []byte, sig ImportSignature) (*hmodel.Model, error) {
	var (
		e   *explain.Ensemble
		err error
	)
	switch format {
	case ImportXGBoost:
		e, err = explain.LoadXGBoostJSON(file)
	case ImportLightGBM:
		e, err = explain.LoadLightGBMText(file)
	default:
		return nil, errs.Invalidf("format %q: want xgboost (JSON model) or lightgbm (text model)", format)
	}
	if err != nil {
		return nil, err
	}
	task := hmodel.Regression
	loss := gbdt.SquaredError
	switch e.Link {
	case explain.Identity:
	case explain.Logistic:
		task, loss = hmodel.Binary, gbdt.LogLoss
	default:
		return nil, errs.Invalidf("objective %s: hygie imports regression (squared error) and binary classification models, not %s-link ones", e.Objective, e.Link)
	}
	if sig.Task != "" && sig.Task != task {
		return nil, errs.Invalidf("signature: task %q, but the model's objective %s is a %s", sig.Task, e.Objective, task)
	}
	m := &hmodel.Model{Format: hmodel.Format, Learner: hmodel.GBDT, Task: task, Target: sig.Target}
	if m.Target == "" {
		m.Target = "prediction"
	}
	if task == hmodel.Binary {
		m.Positive = sig.Positive
		if m.Positive == "" {
			m.Positive = "1"
		}
	} else if sig.Positive != "" {
		return nil, errs.Invalidf("signature: positive %q given for a regression model", sig.Positive)
	}
	ins := sig.Inputs
	if len(ins) == 0 {
		for _, n := range e.FeatureNames() {
			ins = append(ins, ImportInput{Name: n})
		}
	}
	if len(ins) != len(e.Features) {
		return nil, errs.Invalidf("signature: %d inputs, the model has %d features (%s)", len(ins), len(e.Features), strings.Join(e.FeatureNames(), ", "))
	}
	g := &gbdt.Model{Format: gbdt.Format, Loss: loss, InitScore: e.Base[0] * e.SigmoidScale, Target: m.Target, Positive: m.Positive,
		Importance: make([]float64, len(ins))}
	seen := map[string]bool{}
	for j, in := range ins {
		if in.Name == "" || seen[in.Name] {
			return nil, errs.Invalidf("signature: input %d: names must be present and unique (%q)", j+1, in.Name)
		}
		seen[in.Name] = true
		switch in.Type {
		case "", hmodel.Numeric:
			if len(in.Categories) > 0 {
				return nil, errs.Invalidf("signature: input %s is numeric: categories are for categorical inputs", in.Name)
			}
			m.Inputs = append(m.Inputs, hmodel.Input{Name: in.Name, Type: hmodel.Numeric})
		case hmodel.Categorical:
			if len(in.Categories) == 0 || len(in.Categories) > 10000 {
				return nil, errs.Invalidf("signature: categorical input %s: list its categories in code order (1 to 10000)", in.Name)
			}
			m.Inputs = append(m.Inputs, hmodel.Input{Name: in.Name, Type: hmodel.Categorical, Categories: slices.Clone(in.Categories)})
		default:
			return nil, errs.Invalidf("signature: input %s: type %q, want numeric or categorical", in.Name, in.Type)
		}
		g.Features = append(g.Features, gbdt.Feature{Name: in.Name, Type: m.Inputs[j].Type, Categories: m.Inputs[j].Categories})
	}
	for ti, t := range e.Trees {
		out := gbdt.Tree{Nodes: make([]gbdt.Node, len(t.Nodes))}
		for i, n := range t.Nodes {
			if n.IsLeaf() {
				out.Nodes[i] = gbdt.Node{Value: n.Value * e.SigmoidScale, Cover: n.Cover}
				continue
			}
			if n.Left == 0 || n.Right == 0 {
				return nil, errs.Invalidf("tree %d node %d points back to the root", ti, i)
			}
			nd := gbdt.Node{Feature: n.Feature, Left: n.Left, Right: n.Right, Cover: n.Cover}
			cat := n.Categories != nil
			if cat {
				if m.Inputs[n.Feature].Type != hmodel.Categorical {
					return nil, errs.Invalidf("tree %d splits input %s as a category: declare it categorical, with its categories, in the signature", ti, m.Inputs[n.Feature].Name)
				}
				nd.Categories = slices.Clone(n.Categories)
			} else {
				nd.Threshold = n.Threshold
				if e.Float32 && e.LessThan {
					nd.Threshold = float32LessThan(n.Threshold)
				} else if e.LessThan {
					nd.Threshold = math.Nextafter(n.Threshold, math.Inf(-1))
				}
			}
			switch n.Missing {
			case explain.MissingNaN:
				nd.MissingLeft = n.DefaultLeft
			case explain.MissingNone: // NaN is read as 0
				if cat {
					_, nd.MissingLeft = slices.BinarySearch(n.Categories, 0)
				} else {
					nd.MissingLeft = 0 <= nd.Threshold
				}
			default:
				return nil, errs.Invalidf("tree %d node %d treats zero as missing (LightGBM zero_as_missing): not supported, retrain with zero_as_missing=false", ti, i)
			}
			if !cat && math.IsInf(nd.Threshold, 0) {
				nd.Threshold = math.Copysign(math.MaxFloat64, nd.Threshold) // JSON has no infinity
			}
			g.Importance[n.Feature]++
			out.Nodes[i] = nd
		}
		g.Trees = append(g.Trees, out)
	}
	m.GBDT = g
	if err := checkConverted(e, m); err != nil {
		return nil, err
	}
	return m, nil
}

// float32LessThan is the threshold t' with x ≤ t' ⇔ float32(x) < t for
// every float64 x (t a float32 value): XGBoost compares inputs rounded to
// float32 with a strict inequality, hygie compares float64 inputs with ≤.
// With p the largest float32 below t and q the next one, float32(x) ≤ p
// exactly when x is below their midpoint, or at it and p is even (round
// half to even).
func float32LessThan(t float64) float64 {
	t32 := float32(t)
	p := t32
	if float64(t32) >= t {
		p = math.Nextafter32(t32, float32(math.Inf(-1)))
	}
	if math.IsInf(float64(p), -1) {
		return -math.MaxFloat64 // only -Inf inputs go left: none reach a tree
	}
	q := float64(math.Nextafter32(p, float32(math.Inf(1))))
	if math.IsInf(q, 1) {
		q = float64(p) + math.Ldexp(1, 104) // the float32 spacing at the top
	}
	mid := (float64(p) + q) / 2 // exact: 25 significant bits
	if math.Float32bits(p)&1 == 0 {
		return mid
	}
	return math.Nextafter(mid, math.Inf(-1))
}

// checkConverted compares the converted model's raw output with the
// original ensemble's on random rows: values around every threshold the
// trees use, and missing values.
func checkConverted(e *explain.Ensemble, m *hmodel.Model) error {
	r := rand.New(rand.NewPCG(1, 2))
	cuts := make([][]float64, len(e.Features))
	for _, t := range e.Trees {
		for _, n := range t.Nodes {
			if !n.IsLeaf() && n.Categories == nil {
				cuts[n.Feature] = append(cuts[n.Feature], n.Threshold)
			}
		}
	}
	x := make([]float64, len(e.Features))
	for range 2000 {
		for j := range x {
			in := m.Inputs[j]
			switch {
			case r.IntN(10) == 0:
				x[j] = math.NaN()
			case in.Type == hmodel.Categorical:
				x[j] = float64(r.IntN(len(in.Categories)))
			case len(cuts[j]) > 0:
				c := cuts[j][r.IntN(len(cuts[j]))]
				switch r.IntN(4) {
				case 0:
					x[j] = c
				case 1:
					x[j] = math.Nextafter(c, math.Inf(-1))
				case 2:
					x[j] = math.Nextafter(c, math.Inf(1))
				default:
					x[j] = c + r.NormFloat64()*(math.Abs(c)+1)
				}
			default:
				x[j] = r.NormFloat64()
			}
		}
		want, err := e.PredictRaw(x)
		if err != nil {
			return err
		}
		got := m.GBDT.Raw(x)
		if math.Abs(got-want[0]*e.SigmoidScale) > 1e-9*(1+math.Abs(got)) {
			return fmt.Errorf("the converted model predicts %v where the original predicts %v (row %v): not imported", got, want[0]*e.SigmoidScale, x)
		}
	}
	return nil
}

func inputNames(ins []hmodel.Input) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Name
	}
	return out
}
