package cli

// hygie train / hygie predict: fit a built-in learner on a CSV file and apply
// a saved model to another (no database involved); hygie train --dataset
// trains on a dataset version as a tracked job (trainjob.go).

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/train"
)

// readTrainCSV reads a CSV file as text columns.
func readTrainCSV(path string, sep rune) (*model.Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "cannot open %s", path)
	}
	defer f.Close()
	return train.ReadCSV(f, sep, path)
}

// trainParams parses --param KEY=VALUE settings for a learner.
func trainParams(learner string, kv []string) (model.Params, error) {
	set := map[string]string{}
	for _, p := range kv {
		k, v, ok := strings.Cut(p, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return model.Params{}, usageError{fmt.Errorf("--param %q: want KEY=VALUE", p)}
		}
		set[k] = strings.TrimSpace(v)
	}
	if _, ok := model.ParamKeys[learner]; !ok {
		return model.Params{}, usageError{fmt.Errorf("--learner: want gbdt, logistic or linear, got %q", learner)}
	}
	p, err := model.ParseParams(learner, set)
	if err != nil {
		return p, usageError{fmt.Errorf("--param %s", strings.TrimPrefix(errs.MessageOf(err), "parameter "))}
	}
	return p, nil
}

func (e *env) trainCmd() *cobra.Command {
	var in, sep, target, positive, learner, out string
	var project, dataset, experiment, group string
	var params, features []string
	var cv int
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train a model on a dataset version as a tracked job, or on a CSV file",
		Long: `With --dataset NAME@VERSION, train a built-in learner on a dataset version as
a tracked job (local or Slurm executor, see 'hygie job'): cross-validation on
the training split (--cv, grouped by --group, by default the patient_id
column), a final fit, and evaluation on a locked test split with bootstrap
confidence intervals; the model (model/model.json) and the evaluation report
(evaluation/report.json) are the run's artifacts. See docs/training.md.

With --in FILE.csv, train on a file and save the model with --model-out; no
database is involved.

Every column but --target is a feature; columns holding anything but numbers
are categorical. Empty cells (or NA, ?) are missing values: gbdt handles them
natively; logistic and linear need complete numeric columns (a missing
category is all-zero in their one-hot encoding).

The task is a binary classification when --positive is given, when the target
is text with two values, or numeric with only 0 and 1; a multiclass
classification (gbdt, logistic) when the target is text with 3 to 50 values;
otherwise a regression.

Parameters (--param KEY=VALUE):
  gbdt:     trees (100), leaves (31), max_depth (0 = unlimited),
            min_samples_leaf (20), learning_rate (0.1), l2 (0), max_bins (255),
            early_stopping (0 = off; rounds without improvement),
            validation_fraction (0.1), seed (1), workers (1)
  logistic: l2 (1, i.e. scikit-learn's C = 1), max_iter (100), tol (1e-8)
  linear:   l2 (0: least squares; > 0: ridge, scikit-learn's alpha)`,
		Example: `  hygie train --dataset cohort_features@1 -p sepsis-icu --as marc --target deces --positive oui \
    --learner gbdt --param trees=200 --cv 5 --experiment mortality
  hygie train --in adult.csv --sep ';' --target salary-class --positive '>50K' \
    --learner gbdt --param trees=200 --param leaves=31 --model-out adult.model.json`,
		Args: exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dataset != "" {
				if in != "" || out != "" {
					return usageError{fmt.Errorf("--dataset trains from a dataset version as a job: drop --in and --model-out")}
				}
				return e.trainDataset(cmd, project, dataset, experiment, target, positive, learner, params, features, group, cv)
			}
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			if in == "" || target == "" || out == "" {
				return usageError{fmt.Errorf("--in (or --dataset), --target and --model-out are required")}
			}
			if learner == model.Linear && positive != "" {
				return usageError{fmt.Errorf("--positive: the linear learner is a regression")}
			}
			p, err := trainParams(learner, params)
			if err != nil {
				return err
			}
			t, err := readTrainCSV(in, sepRune)
			if err != nil {
				return err
			}
			if t.Col(target) == nil {
				return usageError{fmt.Errorf("--target %q: no such column in %s (columns: %s)", target, in, strings.Join(t.Names(), ", "))}
			}
			start := time.Now()
			pb, err := model.Prepare(t, target, positive, features, p)
			if err != nil {
				return err
			}
			m, err := pb.Fit(nil)
			if err != nil {
				return err
			}
			data, err := m.Marshal()
			if err != nil {
				return err
			}
			secs := time.Since(start).Seconds()
			summary := map[string]any{"learner": learner, "task": m.Task, "rows": t.Rows(), "target": target, "model": out,
				"features": len(m.Inputs), "seconds": secs, "importance": m.Importance()}
			if m.Task == model.Binary {
				summary["positive"] = m.Positive
			}
			if m.GBDT != nil {
				summary["trees"], summary["loss"] = len(m.GBDT.Trees), m.GBDT.Loss
			}
			if m.Logistic != nil {
				summary["iterations"] = m.Logistic.Iterations
			}
			if err := os.WriteFile(out, data, 0o600); err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot write %s", out)
			}
			return e.print(summary, func(w io.Writer) {
				fmt.Fprintf(w, "trained %s on %d rows in %.3fs; model written to %s\n", m, t.Rows(), secs, out)
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
	f.StringVarP(&project, "project", "p", "", "with --dataset: the project")
	f.StringVar(&dataset, "dataset", "", "train on this dataset version (NAME@VERSION) as a tracked job instead of --in")
	f.StringVar(&experiment, "experiment", "", "with --dataset: the experiment of the run (default: default)")
	f.StringArrayVar(&features, "feature", nil, "feature column (repeatable; default: every column but the target, or with --dataset the feature and quasi-identifier columns)")
	f.StringVar(&group, "group", "", "with --dataset: patient column keeping each patient's rows in one fold and one side of the test split (default: the patient_id column)")
	f.IntVar(&cv, "cv", 5, "with --dataset: cross-validation folds on the training split (0: none)")
	return cmd
}

func (e *env) predictCmd() *cobra.Command {
	var modelPath, in, sep, out string
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Apply a model saved by 'hygie train' to a CSV file",
		Long: `Apply a model saved by 'hygie train' to a CSV file. The output CSV has one
row per input row, in order, and a column 'prediction': the predicted
value, or for binary classifiers the probability of the positive class; for
multiclass models the most probable class, followed by one column p_CLASS
per class with its probability. Columns the
model does not use (the target among them) are ignored.`,
		Example: `  hygie predict --model adult.model.json --in test.csv --sep ';' --out pred.csv`,
		Args:    exactArgs(0, ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			sepRune, err := parseSep(sep)
			if err != nil {
				return err
			}
			if modelPath == "" || in == "" || out == "" {
				return usageError{fmt.Errorf("--model, --in and --out are required")}
			}
			b, err := os.ReadFile(modelPath)
			if err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot read %s", modelPath)
			}
			m, err := model.Unmarshal(b)
			if err != nil {
				return errs.Wrap(err, errs.Invalid, "%s", modelPath)
			}
			t, err := readTrainCSV(in, sepRune)
			if err != nil {
				return err
			}
			p, err := m.Predict(t)
			if err != nil {
				return err
			}
			var proba [][]float64
			if m.Task == model.Multiclass {
				if proba, err = m.PredictProba(t); err != nil {
					return err
				}
			}
			var buf bytes.Buffer
			cw := csv.NewWriter(&buf)
			header := []string{"prediction"}
			for _, c := range m.Classes {
				header = append(header, "p_"+c)
			}
			cw.Write(header)
			for i, v := range p {
				row := []string{strconv.FormatFloat(v, 'g', -1, 64)}
				if proba != nil {
					row[0] = m.Classes[int(v)]
					for _, q := range proba[i] {
						row = append(row, strconv.FormatFloat(q, 'g', -1, 64))
					}
				}
				cw.Write(row)
			}
			cw.Flush()
			sb := &buf
			if err := os.WriteFile(out, []byte(sb.String()), 0o600); err != nil {
				return errs.Wrap(err, errs.Invalid, "cannot write %s", out)
			}
			return e.print(map[string]any{"rows": len(p), "out": out}, func(w io.Writer) {
				fmt.Fprintf(w, "wrote %d predictions to %s\n", len(p), out)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&modelPath, "model", "", "model file written by 'hygie train'")
	f.StringVar(&in, "in", "", "CSV file with a header row")
	f.StringVar(&sep, "sep", ",", "CSV field separator (one character, or tab)")
	f.StringVar(&out, "out", "", "write predictions (CSV, column 'prediction') to this file")
	return cmd
}
