// Package serve runs registered models behind the Open Inference Protocol
// (KServe v2): it loads the version deployed in an environment, validates
// inference requests against the model's signature, predicts, and logs
// every prediction (inputs are the model's features, never identifiers) so
// that monitoring and clinician feedback can refer to it.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/learn"
	"github.com/hygie-health/hygie/internal/model"
	"github.com/hygie-health/hygie/internal/registry"
)

// FlavorLinear is the flavor of hygie's built-in linear regression.
const FlavorLinear = "hygie.linear_regression"

// MaxBatch bounds the rows of one inference request.
const MaxBatch = 10000

// Tensor is an OIP request or response tensor. Data is a flat or nested
// JSON array in row-major order.
type Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// Request is an OIP inference request.
type Request struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []Tensor       `json:"inputs"`
}

// OutTensor is an OIP response tensor.
type OutTensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float64 `json:"data"`
}

// Response is an OIP inference response.
type Response struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []OutTensor    `json:"outputs"`
}

// Service serves models.
type Service struct {
	db    *db.DB
	reg   *registry.Service
	blobs blob.Store
	audit *audit.Log
	now   func() time.Time

	mu     sync.Mutex
	loaded map[int64]*loaded // by model version id
}

// loaded is a model in memory: hygie's model format, or the older bare
// linear regression.
type loaded struct {
	linear *learn.LinearRegression
	model  *model.Model
}

// NewService returns the serving service.
func NewService(d *db.DB, reg *registry.Service, b blob.Store, a *audit.Log) *Service {
	return &Service{db: d, reg: reg, blobs: b, audit: a, now: time.Now, loaded: map[int64]*loaded{}}
}

// Resolve returns the version to serve: the given version number, or the
// one in production when version is 0.
func (s *Service) Resolve(ctx context.Context, model string, version int) (registry.Version, error) {
	if version > 0 {
		return s.reg.Version(ctx, model, version)
	}
	return s.reg.InEnvironment(ctx, model, "production")
}

func (s *Service) load(ctx context.Context, v registry.Version) (*loaded, error) {
	s.mu.Lock()
	m, ok := s.loaded[v.ID]
	s.mu.Unlock()
	if ok {
		return m, nil
	}
	if v.Flavor != FlavorLinear && v.Flavor != model.Format {
		return nil, errs.Invalidf("model %s version %d has flavor %q, which this server cannot run", v.Model, v.Version, v.Flavor)
	}
	rc, err := s.blobs.Get(ctx, v.ArtifactKey)
	if err != nil {
		return nil, fmt.Errorf("load model artifact: %w", err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("load model artifact: %w", err)
	}
	m = &loaded{}
	if v.Flavor == model.Format {
		if m.model, err = model.Unmarshal(b); err != nil {
			return nil, fmt.Errorf("model artifact: %w", err)
		}
	} else {
		m.linear = &learn.LinearRegression{}
		if err := json.Unmarshal(b, m.linear); err != nil {
			return nil, fmt.Errorf("decode model artifact: %w", err)
		}
		if len(m.linear.Features) != len(m.linear.Coef) {
			return nil, fmt.Errorf("model artifact: %d features but %d coefficients", len(m.linear.Features), len(m.linear.Coef))
		}
	}
	s.mu.Lock()
	s.loaded[v.ID] = m
	s.mu.Unlock()
	return m, nil
}

// Ready reports whether the model's served version loads.
func (s *Service) Ready(ctx context.Context, model string, version int) (registry.Version, error) {
	v, err := s.Resolve(ctx, model, version)
	if err != nil {
		return v, err
	}
	_, err = s.load(ctx, v)
	return v, err
}

// Infer validates req against the model, predicts and logs each prediction.
func (s *Service) Infer(ctx context.Context, model string, version int, req Request) (Response, error) {
	v, err := s.Resolve(ctx, model, version)
	if err != nil {
		return Response{}, err
	}
	m, err := s.load(ctx, v)
	if err != nil {
		return Response{}, err
	}
	var (
		y      []float64
		inputs func(i int) any
	)
	if m.model != nil {
		t, err := table(m.model.Inputs, req.Inputs)
		if err != nil {
			return Response{}, err
		}
		if y, err = m.model.Predict(t); err != nil {
			return Response{}, errs.Invalidf("%s", errs.MessageOf(err))
		}
		inputs = func(i int) any { return rowInputs(t, i) }
	} else {
		X, err := rows(m.linear.Features, req.Inputs)
		if err != nil {
			return Response{}, err
		}
		if y, err = m.linear.PredictBatch(X); err != nil {
			return Response{}, errs.Invalidf("%s", errs.MessageOf(err))
		}
		inputs = func(i int) any {
			in := map[string]float64{}
			for j, f := range m.linear.Features {
				in[f] = X[i][j]
			}
			return in
		}
	}
	outName := "prediction"
	if len(v.Signature.Outputs) > 0 {
		outName = v.Signature.Outputs[0].Name
	}
	ids := make([]string, len(y))
	now := s.now().UTC()
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		for i := range y {
			ids[i] = uuid.NewString()
			inJSON, _ := json.Marshal(inputs(i))
			outJSON, _ := json.Marshal(map[string]float64{outName: y[i]})
			if _, err := tx.Exec(ctx, `INSERT INTO predictions (id, model_version_id, at, inputs_json, outputs_json, request_id) VALUES (?, ?, ?, ?, ?, ?)`,
				ids[i], v.ID, now, string(inJSON), string(outJSON), audit.RequestIDFrom(ctx)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Response{}, fmt.Errorf("log predictions: %w", err)
	}
	return Response{
		ModelName: model, ModelVersion: fmt.Sprint(v.Version), ID: req.ID,
		Parameters: map[string]any{"prediction_ids": ids},
		Outputs:    []OutTensor{{Name: outName, Shape: []int64{int64(len(y))}, Datatype: "FP64", Data: y}},
	}, nil
}

var numericTypes = map[string]bool{"FP16": true, "FP32": true, "FP64": true, "INT8": true, "INT16": true, "INT32": true, "INT64": true, "UINT8": true, "UINT16": true, "UINT32": true, "UINT64": true}

// rows turns request tensors into a feature matrix. Two layouts are
// accepted: one tensor per feature, named after it, of shape [N] or [N,1];
// or a single tensor of shape [N, F] with features in signature order.
func rows(features []string, inputs []Tensor) ([][]float64, error) {
	if len(inputs) == 0 {
		return nil, errs.Invalidf("inputs: at least one tensor is required")
	}
	cols := map[string][]float64{}
	for _, t := range inputs {
		if !numericTypes[t.Datatype] {
			return nil, errs.Invalidf("input %q: datatype %q is not numeric (want FP32, FP64, INT32, …)", t.Name, t.Datatype)
		}
		data, err := flatten(t.Data)
		if err != nil {
			return nil, errs.Invalidf("input %q: %v", t.Name, err)
		}
		n := int64(1)
		for _, d := range t.Shape {
			if d < 0 {
				return nil, errs.Invalidf("input %q: negative dimension in shape %v", t.Name, t.Shape)
			}
			n *= d
		}
		if len(t.Shape) == 0 || n != int64(len(data)) {
			return nil, errs.Invalidf("input %q: shape %v holds %d values, data has %d", t.Name, t.Shape, n, len(data))
		}
		if t.Shape[0] > MaxBatch {
			return nil, errs.Invalidf("input %q: at most %d rows per request", t.Name, MaxBatch)
		}
		if len(inputs) == 1 && len(t.Shape) == 2 && int(t.Shape[1]) == len(features) && (len(features) > 1 || t.Name != features[0]) {
			X := make([][]float64, t.Shape[0])
			for i := range X {
				X[i] = data[i*len(features) : (i+1)*len(features)]
			}
			return X, nil
		}
		if len(t.Shape) > 2 || (len(t.Shape) == 2 && t.Shape[1] != 1) {
			return nil, errs.Invalidf("input %q: shape %v; want [N] or [N,1] per feature, or one [N,%d] tensor", t.Name, t.Shape, len(features))
		}
		if _, dup := cols[t.Name]; dup {
			return nil, errs.Invalidf("input %q given twice", t.Name)
		}
		cols[t.Name] = data
	}
	n := -1
	for _, f := range features {
		c, ok := cols[f]
		if !ok {
			return nil, errs.Invalidf("input %q is missing (the model needs %v)", f, features)
		}
		if n >= 0 && len(c) != n {
			return nil, errs.Invalidf("input %q has %d rows, others have %d", f, len(c), n)
		}
		n = len(c)
	}
	if len(cols) != len(features) {
		for name := range cols {
			if !slices.Contains(features, name) {
				return nil, errs.Invalidf("input %q is not a feature of this model (features: %v)", name, features)
			}
		}
	}
	X := make([][]float64, n)
	for i := range X {
		X[i] = make([]float64, len(features))
		for j, f := range features {
			X[i][j] = cols[f][i]
		}
	}
	return X, nil
}

// flatten reads a flat or nested JSON array of finite numbers.
func flatten(raw json.RawMessage) ([]float64, error) {
	var out []float64
	err := walkArray(raw, func(x any) error {
		n, ok := x.(json.Number)
		if !ok {
			return fmt.Errorf("data must be an array of numbers")
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return fmt.Errorf("value %s is not a finite number", n)
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// flattenStrings reads a flat or nested JSON array of strings (BYTES).
func flattenStrings(raw json.RawMessage) ([]string, error) {
	var out []string
	err := walkArray(raw, func(x any) error {
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("BYTES data must be an array of strings")
		}
		out = append(out, s)
		return nil
	})
	return out, err
}

// walkArray calls leaf on every element of a flat or nested JSON array, in
// row-major order (numbers as json.Number).
func walkArray(raw json.RawMessage, leaf func(any) error) error {
	if len(bytes.TrimSpace(raw)) == 0 {
		return fmt.Errorf("data is required")
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("data is not valid JSON")
	}
	if _, ok := v.([]any); !ok {
		return fmt.Errorf("data must be an array")
	}
	var walk func(any, int) error
	walk = func(x any, depth int) error {
		if depth > 8 {
			return fmt.Errorf("data is nested too deeply")
		}
		if list, ok := x.([]any); ok {
			for _, e := range list {
				if err := walk(e, depth+1); err != nil {
					return err
				}
			}
			return nil
		}
		return leaf(x)
	}
	return walk(v, 0)
}
