// Package train runs training jobs with the built-in learners: it reads a
// dataset version, splits it, fits, evaluates on the held-out split, and
// records everything as a tracked run (parameters, metrics, the model
// artifact, the input dataset version).
package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hygie-health/hygie/internal/auth"
	"github.com/hygie-health/hygie/internal/dataset"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/evaluate"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/track"
)

// ModelArtifact is the artifact path of the fitted model in the run.
const ModelArtifact = "model/model.json"

// Spec describes a linear regression training job.
type Spec struct {
	Experiment   string   `json:"experiment"`
	RunName      string   `json:"run_name"`
	Features     []string `json:"features"`
	Target       string   `json:"target"`
	TestFraction float64  `json:"test_fraction"`
	Seed         int64    `json:"seed"`
}

// Result is a finished training run.
type Result struct {
	Run   track.Run               `json:"run"`
	Model *learn.LinearRegression `json:"model"`
	Test  map[string]float64      `json:"test_metrics"`
}

// Linear trains a linear regression on v. Identifying versions are refused:
// models are trained on pseudonymized or anonymized data.
func Linear(ctx context.Context, ds *dataset.Service, runs *track.Service, v dataset.Version, spec Spec) (Result, error) {
	if v.Level == dataset.Identifying {
		return Result{}, errs.Invalidf("dataset %s is identifying: pseudonymize it before training", v.Ref())
	}
	if err := auth.Require(ctx, v.Project, auth.PermRunWrite); err != nil {
		return Result{}, err
	}
	if len(spec.Features) == 0 || spec.Target == "" {
		return Result{}, errs.Invalidf("training needs features and a target")
	}
	if spec.TestFraction == 0 {
		spec.TestFraction = 0.25
	}
	if spec.RunName == "" {
		spec.RunName = "linear-" + spec.Target
	}
	t, err := ds.ReadFrame(ctx, v)
	if err != nil {
		return Result{}, err
	}
	X := make([][]float64, t.Rows())
	for i := range X {
		X[i] = make([]float64, len(spec.Features))
	}
	for j, f := range spec.Features {
		col, err := t.Floats(f)
		if err != nil {
			return Result{}, err
		}
		for i := range col {
			X[i][j] = col[i]
		}
	}
	y, err := t.Floats(spec.Target)
	if err != nil {
		return Result{}, err
	}
	trainIdx, testIdx, err := learn.TrainTestSplit(len(y), spec.TestFraction, spec.Seed)
	if err != nil {
		return Result{}, err
	}
	pick := func(idx []int) ([][]float64, []float64) {
		xs, ys := make([][]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			xs[k], ys[k] = X[i], y[i]
		}
		return xs, ys
	}
	Xtr, ytr := pick(trainIdx)
	Xte, yte := pick(testIdx)

	run, err := runs.StartRun(ctx, v.Project, spec.Experiment, spec.RunName, &v.ID)
	if err != nil {
		return Result{}, err
	}
	res, err := fitAndLog(ctx, runs, run, v, spec, Xtr, ytr, Xte, yte)
	if err != nil {
		_ = runs.End(ctx, run.ID, track.Failed)
		return Result{}, err
	}
	if err := runs.End(ctx, run.ID, track.Finished); err != nil {
		return Result{}, err
	}
	res.Run, err = runs.Get(ctx, run.ID)
	return res, err
}

func fitAndLog(ctx context.Context, runs *track.Service, run track.Run, v dataset.Version, spec Spec, Xtr [][]float64, ytr []float64, Xte [][]float64, yte []float64) (Result, error) {
	params := map[string]string{
		"learner":       "linear_regression",
		"features":      strings.Join(spec.Features, ","),
		"target":        spec.Target,
		"test_fraction": strconv.FormatFloat(spec.TestFraction, 'g', -1, 64),
		"seed":          strconv.FormatInt(spec.Seed, 10),
		"dataset":       v.Ref(),
		"train_rows":    strconv.Itoa(len(ytr)),
		"test_rows":     strconv.Itoa(len(yte)),
	}
	for k, val := range params {
		if err := runs.LogParam(ctx, run.ID, k, val); err != nil {
			return Result{}, err
		}
	}
	m, err := learn.FitLinearRegression(spec.Features, Xtr, ytr)
	if err != nil {
		return Result{}, err
	}
	pred, err := m.PredictBatch(Xte)
	if err != nil {
		return Result{}, err
	}
	test := map[string]float64{}
	for name, f := range map[string]func([]float64, []float64) (float64, error){"test_mse": learn.MSE, "test_rmse": learn.RMSE, "test_mae": learn.MAE, "test_r2": learn.R2} {
		val, err := f(yte, pred)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", name, err)
		}
		test[name] = val
		if err := runs.LogMetric(ctx, run.ID, name, val, 0); err != nil {
			return Result{}, err
		}
	}
	// How uncertain the test MSE is: a seeded percentile bootstrap over the
	// test rows, logged as test_mse_ci_low/high so gates can check a bound.
	ci, err := evaluate.Bootstrap(len(yte), func(idx []int) (float64, error) {
		yt, yp := make([]float64, len(idx)), make([]float64, len(idx))
		for k, i := range idx {
			yt[k], yp[k] = yte[i], pred[i]
		}
		return learn.MSE(yt, yp)
	}, evaluate.BootstrapOptions{Resamples: 500, Seed: uint64(spec.Seed)})
	if err != nil {
		return Result{}, fmt.Errorf("bootstrap: %w", err)
	}
	for name, val := range map[string]float64{"test_mse_ci_low": float64(ci.Lower), "test_mse_ci_high": float64(ci.Upper)} {
		test[name] = val
		if err := runs.LogMetric(ctx, run.ID, name, val, 0); err != nil {
			return Result{}, err
		}
	}
	b, _ := json.Marshal(m)
	if err := runs.PutArtifact(ctx, run.ID, ModelArtifact, bytes.NewReader(b)); err != nil {
		return Result{}, err
	}
	return Result{Model: m, Test: test}, nil
}
