package cli

// hygie train / hygie predict: fit a built-in learner on a CSV file and apply
// a saved model to another. No database is involved.

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/learn/gbdt"
	"github.com/hygie-health/hygie/internal/learn/logistic"
)

// linearFormat tags a saved linear model: internal/learn's LinearRegression
// plus the input columns its one-hot features were built from.
const linearFormat = "hygie.linear/1"

type linearFile struct {
	Format string                  `json:"format"`
	Target string                  `json:"target"`
	Inputs []logistic.Input        `json:"inputs"`
	Model  *learn.LinearRegression `json:"model"`
}

// trainTable is a CSV file read as strings.
type trainTable struct {
	header []string
	rows   [][]string
}

func (t *trainTable) col(name string) int {
	for j, h := range t.header {
		if h == name {
			return j
		}
	}
	return -1
}

func readTrainCSV(path string, sep rune) (*trainTable, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "cannot open %s", path)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = sep
	r.ReuseRecord = false
	header, err := r.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errs.Invalidf("%s is empty", path)
		}
		return nil, errs.Wrap(err, errs.Invalid, "%s: cannot read the header", path)
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	seen := map[string]bool{}
	for _, h := range header {
		if seen[h] {
			return nil, errs.Invalidf("%s: column %q appears twice", path, h)
		}
		seen[h] = true
	}
	t := &trainTable{header: header}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, errs.Wrap(err, errs.Invalid, "%s: malformed CSV", path)
		}
		t.rows = append(t.rows, rec)
	}
	if len(t.rows) == 0 {
		return nil, errs.Invalidf("%s has no data rows", path)
	}
	return t, nil
}

// isMissing: the cell markers read as a missing value.
func isMissing(s string) bool {
	switch strings.TrimSpace(s) {
	case "", "NA", "N/A", "?", "null", "NULL":
		return true
	}
	return false
}

// parseNum parses a numeric cell; ok is false for text. NaN and infinities
// are rejected (an empty cell is the way to say "missing").
func parseNum(s string) (v float64, ok bool, bad bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, false, false
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return v, true, true
	}
	return v, true, false
}

// inferInputs types every column but the target: numeric when every
// non-missing cell is a number, categorical (sorted categories) otherwise.
func inferInputs(t *trainTable, target int) ([]logistic.Input, error) {
	var ins []logistic.Input
	for j, name := range t.header {
		if j == target {
			continue
		}
		numeric := true
		cats := map[string]bool{}
		for i, r := range t.rows {
			s := r[j]
			if isMissing(s) {
				continue
			}
			_, ok, bad := parseNum(s)
			if bad {
				return nil, errs.Invalidf("row %d column %q is NaN or infinite: leave the cell empty for a missing value", i+1, name)
			}
			if !ok {
				numeric = false
			}
			cats[strings.TrimSpace(s)] = true
		}
		in := logistic.Input{Name: name, Type: gbdt.Numeric}
		if !numeric {
			in.Type = gbdt.Categorical
			for c := range cats {
				in.Categories = append(in.Categories, c)
			}
			sort.Strings(in.Categories)
		}
		ins = append(ins, in)
	}
	if len(ins) == 0 {
		return nil, errs.Invalidf("no feature columns besides the target")
	}
	return ins, nil
}

// rawMatrix encodes rows for gbdt: numbers, category codes, NaN for missing
// or unknown categories.
func rawMatrix(t *trainTable, ins []logistic.Input) ([][]float64, error) {
	idx, codes, err := inputIndex(t, ins)
	if err != nil {
		return nil, err
	}
	X := make([][]float64, len(t.rows))
	for i, r := range t.rows {
		x := make([]float64, len(ins))
		for k, in := range ins {
			s := r[idx[k]]
			switch {
			case isMissing(s):
				x[k] = math.NaN()
			case in.Type == gbdt.Categorical:
				c, ok := codes[k][strings.TrimSpace(s)]
				if !ok {
					x[k] = math.NaN()
				} else {
					x[k] = float64(c)
				}
			default:
				v, ok, bad := parseNum(s)
				if !ok || bad {
					return nil, errs.Invalidf("row %d column %q: want a finite number", i+1, in.Name)
				}
				x[k] = v
			}
		}
		X[i] = x
	}
	return X, nil
}

func inputIndex(t *trainTable, ins []logistic.Input) ([]int, []map[string]int, error) {
	idx := make([]int, len(ins))
	codes := make([]map[string]int, len(ins))
	for k, in := range ins {
		idx[k] = t.col(in.Name)
		if idx[k] < 0 {
			return nil, nil, errs.Invalidf("the model needs column %q, which the file lacks", in.Name)
		}
		codes[k] = map[string]int{}
		for c, s := range in.Categories {
			codes[k][s] = c
		}
	}
	return idx, codes, nil
}

// oneHot encodes rows for logistic and linear models: numeric columns as is
// (missing values are an error), categorical columns as 0/1 indicators, all
// categories (dropFirst false) or all but the first (dropFirst true). A
// missing or unknown category is all zeros.
func oneHot(t *trainTable, ins []logistic.Input, dropFirst bool) ([]string, [][]float64, error) {
	raw, err := rawMatrix(t, ins)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, in := range ins {
		if in.Type == gbdt.Numeric {
			names = append(names, in.Name)
			continue
		}
		for c, s := range in.Categories {
			if c == 0 && dropFirst {
				continue
			}
			names = append(names, in.Name+"="+s)
		}
	}
	X := make([][]float64, len(raw))
	for i, r := range raw {
		x := make([]float64, 0, len(names))
		for k, in := range ins {
			v := r[k]
			if in.Type == gbdt.Numeric {
				if math.IsNaN(v) {
					return nil, nil, errs.Invalidf("row %d column %q is missing: this learner needs complete numeric data (gbdt handles missing values)", i+1, in.Name)
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
	return names, X, nil
}

// trainParams parses --param KEY=VALUE into a map, rejecting unknown keys.
func trainParams(kv []string, allowed []string) (map[string]string, error) {
	out := map[string]string{}
	for _, p := range kv {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageError{fmt.Errorf("--param %q: want KEY=VALUE", p)}
		}
		found := false
		for _, a := range allowed {
			found = found || a == k
		}
		if !found {
			return nil, usageError{fmt.Errorf("--param %s: unknown for this learner (known: %s)", k, strings.Join(allowed, ", "))}
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

func paramInt(m map[string]string, k string, dst *int) error {
	if s, ok := m[k]; ok {
		v, err := strconv.Atoi(s)
		if err != nil {
			return usageError{fmt.Errorf("--param %s: want an integer, got %q", k, s)}
		}
		*dst = v
	}
	return nil
}

func paramFloat(m map[string]string, k string, dst *float64) error {
	if s, ok := m[k]; ok {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return usageError{fmt.Errorf("--param %s: want a finite number, got %q", k, s)}
		}
		*dst = v
	}
	return nil
}

// targetVector builds y. Classification when --positive is given, when the
// target is text with exactly two values (the later one in sorted order is
// positive) or numeric with only the values 0 and 1 (1 is positive).
func targetVector(t *trainTable, j int, positive string, wantClass bool) (y []float64, pos string, class bool, err error) {
	name := t.header[j]
	vals := map[string]bool{}
	numeric := true
	for i, r := range t.rows {
		s := strings.TrimSpace(r[j])
		if isMissing(s) {
			return nil, "", false, errs.Invalidf("row %d: the target %q is missing", i+1, name)
		}
		_, ok, bad := parseNum(s)
		if bad {
			return nil, "", false, errs.Invalidf("row %d: the target %q is NaN or infinite", i+1, name)
		}
		numeric = numeric && ok
		vals[s] = true
	}
	if len(vals) < 2 {
		return nil, "", false, errs.Invalidf("the target %q is constant: nothing to learn", name)
	}
	pos = positive
	switch {
	case positive != "":
		if !vals[positive] {
			return nil, "", false, errs.Invalidf("--positive %q never occurs in the target %q", positive, name)
		}
		class = true
	case !numeric:
		if len(vals) != 2 {
			return nil, "", false, errs.Invalidf("the target %q is text with %d values: give --positive VALUE", name, len(vals))
		}
		var v []string
		for s := range vals {
			v = append(v, s)
		}
		sort.Strings(v)
		pos, class = v[1], true
	case len(vals) == 2 && (vals["0"] && vals["1"]):
		pos, class = "1", true
	case wantClass:
		return nil, "", false, errs.Invalidf("the target %q is numeric with %d values: give --positive VALUE for a classifier", name, len(vals))
	}
	if !numeric && !class {
		return nil, "", false, errs.Invalidf("the target %q is not numeric: a regression needs numbers", name)
	}
	y = make([]float64, len(t.rows))
	for i, r := range t.rows {
		s := strings.TrimSpace(r[j])
		if class {
			if s == pos {
				y[i] = 1
			}
		} else {
			y[i], _, _ = parseNum(s)
		}
	}
	return y, pos, class, nil
}

func (e *env) trainCmd() *cobra.Command {
	var in, sep, target, positive, learner, out string
	var params []string
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model on a CSV file (gbdt, logistic or linear)",
		Long: `Train a built-in learner on a CSV file and save the model as JSON.

Every column but --target is a feature; columns holding anything but numbers
are categorical. Empty cells (or NA, ?) are missing values: gbdt handles them
natively; logistic and linear need complete numeric columns (a missing
category is all-zero in their one-hot encoding).

The task is classification when --positive is given, when the target is text
with two values, or numeric with only 0 and 1; otherwise regression.

Parameters (--param KEY=VALUE):
  gbdt:     trees (100), leaves (31), max_depth (0 = unlimited),
            min_samples_leaf (20), learning_rate (0.1), l2 (0), max_bins (255),
            early_stopping (0 = off; rounds without improvement),
            validation_fraction (0.1), seed (1), workers (1)
  logistic: l2 (1, i.e. scikit-learn's C = 1), max_iter (100), tol (1e-8)
  linear:   none`,
		Example: `  hygie train --in adult.csv --sep ';' --target salary-class --positive '>50K' \
    --learner gbdt --param trees=200 --param leaves=31 --model-out adult.model.json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			if in == "" || target == "" || out == "" {
				return usageError{fmt.Errorf("--in, --target and --model-out are required")}
			}
			var allowed []string
			switch learner {
			case "gbdt":
				allowed = []string{"trees", "leaves", "max_depth", "min_samples_leaf", "learning_rate", "l2", "max_bins", "early_stopping", "validation_fraction", "seed", "workers"}
			case "logistic":
				allowed = []string{"l2", "max_iter", "tol"}
			case "linear":
				if positive != "" {
					return usageError{fmt.Errorf("--positive: the linear learner is a regression")}
				}
			default:
				return usageError{fmt.Errorf("--learner: want gbdt, logistic or linear, got %q", learner)}
			}
			pm, err := trainParams(params, allowed)
			if err != nil {
				return err
			}
			gp, lp := gbdt.DefaultParams(), logistic.DefaultParams()
			for _, p := range []struct {
				k string
				d *int
			}{{"trees", &gp.Trees}, {"leaves", &gp.MaxLeaves}, {"max_depth", &gp.MaxDepth}, {"min_samples_leaf", &gp.MinSamplesLeaf},
				{"max_bins", &gp.MaxBins}, {"early_stopping", &gp.EarlyStopping}, {"workers", &gp.Workers}, {"max_iter", &lp.MaxIter}} {
				if err := paramInt(pm, p.k, p.d); err != nil {
					return err
				}
			}
			var seed float64 = float64(gp.Seed)
			if err := paramFloat(pm, "seed", &seed); err != nil {
				return err
			}
			gp.Seed = int64(seed)
			if err := paramFloat(pm, "learning_rate", &gp.LearningRate); err != nil {
				return err
			}
			if err := paramFloat(pm, "validation_fraction", &gp.ValidationFraction); err != nil {
				return err
			}
			if err := paramFloat(pm, "tol", &lp.Tol); err != nil {
				return err
			}
			if learner == "gbdt" {
				if err := paramFloat(pm, "l2", &gp.L2); err != nil {
					return err
				}
				if err := gp.Validate(); err != nil {
					return usageError{fmt.Errorf("--param: %s", errs.MessageOf(err))}
				}
			} else {
				if err := paramFloat(pm, "l2", &lp.L2); err != nil {
					return err
				}
				if err := lp.Validate(); err != nil {
					return usageError{fmt.Errorf("--param: %s", errs.MessageOf(err))}
				}
			}
			t, err := readTrainCSV(in, sepRune)
			if err != nil {
				return err
			}
			tj := t.col(target)
			if tj < 0 {
				return usageError{fmt.Errorf("--target %q: no such column in %s (columns: %s)", target, in, strings.Join(t.header, ", "))}
			}
			for i, r := range t.rows {
				if len(r) != len(t.header) {
					return errs.Invalidf("row %d has %d fields, the header %d", i+1, len(r), len(t.header))
				}
			}
			if learner == "linear" {
				// a text target needs the classification path; linear regresses on numbers
				for i, r := range t.rows {
					if _, ok, _ := parseNum(r[tj]); !ok && !isMissing(r[tj]) {
						return errs.Invalidf("row %d: the target %q is not numeric: the linear learner is a regression", i+1, target)
					}
				}
			}
			y, pos, class, err := targetVector(t, tj, positive, learner == "logistic")
			if err != nil {
				return err
			}
			if learner == "linear" && class && positive == "" {
				// 0/1 or two-valued text targets: linear regresses on the 0/1 coding
				class = false
			}
			ins, err := inferInputs(t, tj)
			if err != nil {
				return err
			}
			start := time.Now()
			var data []byte
			summary := map[string]any{"learner": learner, "rows": len(t.rows), "target": target, "model": out}
			switch learner {
			case "gbdt":
				X, err := rawMatrix(t, ins)
				if err != nil {
					return err
				}
				feats := make([]gbdt.Feature, len(ins))
				for k, in := range ins {
					feats[k] = gbdt.Feature{Name: in.Name, Type: in.Type, Categories: in.Categories}
				}
				gp.Loss = gbdt.SquaredError
				if class {
					gp.Loss = gbdt.LogLoss
				}
				m, err := gbdt.Fit(feats, X, y, gp)
				if err != nil {
					return err
				}
				m.Target = target
				if class {
					m.Positive = pos
				}
				summary["trees"], summary["loss"] = len(m.Trees), m.Loss
				imp := map[string]float64{}
				for k, f := range feats {
					imp[f.Name] = m.Importance[k]
				}
				summary["importance_gain"] = imp
				if data, err = m.Marshal(); err != nil {
					return err
				}
			case "logistic":
				names, X, err := oneHot(t, ins, false)
				if err != nil {
					return err
				}
				m, err := logistic.Fit(names, X, y, lp)
				if err != nil {
					return err
				}
				m.Inputs, m.Target, m.Positive = ins, target, pos
				summary["iterations"] = m.Iterations
				if data, err = m.Marshal(); err != nil {
					return err
				}
			case "linear":
				names, X, err := oneHot(t, ins, true)
				if err != nil {
					return err
				}
				m, err := learn.FitLinearRegression(names, X, y)
				if err != nil {
					return err
				}
				if data, err = json.MarshalIndent(linearFile{Format: linearFormat, Target: target, Inputs: ins, Model: m}, "", " "); err != nil {
					return err
				}
			}
			summary["features"] = len(ins)
			summary["seconds"] = time.Since(start).Seconds()
			if class {
				summary["positive"] = pos
			}
			if err := os.WriteFile(out, data, 0o600); err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot write %s", out)
			}
			return e.print(summary, func(w io.Writer) {
				task := "regression"
				if class {
					task = fmt.Sprintf("classification, positive %q", pos)
				}
				fmt.Fprintf(w, "trained %s (%s) on %d rows, %d feature columns in %.3fs; model written to %s\n",
					learner, task, len(t.rows), len(ins), summary["seconds"], out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&in, "in", "", "training data, CSV with a header row")
	f.StringVar(&sep, "sep", ",", "CSV field separator (one character, or tab)")
	f.StringVar(&target, "target", "", "the column to predict")
	f.StringVar(&positive, "positive", "", "target value of the positive class (makes the task a classification)")
	f.StringVar(&learner, "learner", "gbdt", "gbdt, logistic or linear")
	f.StringArrayVar(&params, "param", nil, "learner parameter KEY=VALUE (repeatable)")
	f.StringVar(&out, "model-out", "", "write the model (JSON) to this file")
	return cmd
}

// predictor applies a saved model to a table.
type predictor func(t *trainTable) ([]float64, error)

func loadPredictor(path string) (predictor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "cannot read %s", path)
	}
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, errs.Invalidf("%s is not a hygie model (invalid JSON)", path)
	}
	switch head.Format {
	case gbdt.Format:
		m, err := gbdt.Unmarshal(b)
		if err != nil {
			return nil, err
		}
		ins := make([]logistic.Input, len(m.Features))
		for k, f := range m.Features {
			ins[k] = logistic.Input{Name: f.Name, Type: f.Type, Categories: f.Categories}
		}
		return func(t *trainTable) ([]float64, error) {
			X, err := rawMatrix(t, ins)
			if err != nil {
				return nil, err
			}
			return m.PredictBatch(X)
		}, nil
	case logistic.Format:
		m, err := logistic.Unmarshal(b)
		if err != nil {
			return nil, err
		}
		if len(m.Inputs) == 0 {
			return nil, errs.Invalidf("%s: the logistic model does not record its input columns", path)
		}
		return func(t *trainTable) ([]float64, error) {
			_, X, err := oneHot(t, m.Inputs, false)
			if err != nil {
				return nil, err
			}
			out := make([]float64, len(X))
			for i, x := range X {
				if out[i], err = m.Predict(x); err != nil {
					return nil, err
				}
			}
			return out, nil
		}, nil
	case linearFormat:
		var lf linearFile
		if err := json.Unmarshal(b, &lf); err != nil || lf.Model == nil {
			return nil, errs.Invalidf("%s: malformed linear model", path)
		}
		return func(t *trainTable) ([]float64, error) {
			_, X, err := oneHot(t, lf.Inputs, true)
			if err != nil {
				return nil, err
			}
			return lf.Model.PredictBatch(X)
		}, nil
	}
	return nil, errs.Invalidf("%s: unknown model format %q", path, head.Format)
}

func (e *env) predictCmd() *cobra.Command {
	var model, in, sep, out string
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Apply a model saved by 'hygie train' to a CSV file",
		Long: `Apply a model saved by 'hygie train' to a CSV file. The output CSV has one
row per input row, in order, and a single column 'prediction': the predicted
value, or for classifiers the probability of the positive class. Columns the
model does not use (the target among them) are ignored.`,
		Example: `  hygie predict --model adult.model.json --in test.csv --sep ';' --out pred.csv`,
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			if model == "" || in == "" || out == "" {
				return usageError{fmt.Errorf("--model, --in and --out are required")}
			}
			pred, err := loadPredictor(model)
			if err != nil {
				return err
			}
			t, err := readTrainCSV(in, sepRune)
			if err != nil {
				return err
			}
			for i, r := range t.rows {
				if len(r) != len(t.header) {
					return errs.Invalidf("row %d has %d fields, the header %d", i+1, len(r), len(t.header))
				}
			}
			p, err := pred(t)
			if err != nil {
				return err
			}
			var sb strings.Builder
			sb.WriteString("prediction\n")
			for _, v := range p {
				sb.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
				sb.WriteByte('\n')
			}
			if err := os.WriteFile(out, []byte(sb.String()), 0o600); err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot write %s", out)
			}
			return e.print(map[string]any{"rows": len(p), "out": out}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %d predictions to %s\n", len(p), out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&model, "model", "", "model file written by 'hygie train'")
	f.StringVar(&in, "in", "", "CSV file with a header row")
	f.StringVar(&sep, "sep", ",", "CSV field separator (one character, or tab)")
	f.StringVar(&out, "out", "", "write predictions (CSV, column 'prediction') to this file")
	return cmd
}
