// Package serve runs registered models behind the Open Inference Protocol
// (KServe v2): it loads the version deployed in an environment, validates
// inference requests against the model's signature, predicts, and logs
// every prediction (inputs are the model's features, never identifiers) so
// that monitoring and clinician feedback can refer to it.
package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hygie-health/hygie/internal/audit"
	"github.com/hygie-health/hygie/internal/blob"
	"github.com/hygie-health/hygie/internal/db"
	"github.com/hygie-health/hygie/internal/errs"
	"github.com/hygie-health/hygie/internal/explain"
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
	ID         string            `json:"id,omitempty"`
	Parameters map[string]any    `json:"parameters,omitempty"`
	Inputs     []Tensor          `json:"inputs"`
	Outputs    []RequestedOutput `json:"outputs,omitempty"`
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

// RequestedOutput names an output the client wants; hygie's models have one.
type RequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// Errors the server may recover from: the HTTP layer answers 503.
var (
	// ErrOverloaded is a model's full request queue.
	ErrOverloaded = errors.New("the model's request queue is full: retry later")
	// ErrTimeout is a request not answered within the server's timeout.
	ErrTimeout = errors.New("the request timed out")
)

// Routes of a prediction.
const (
	RoutePrimary = "primary"
	RouteCanary  = "canary"
	RouteShadow  = "shadow"
)

// Options tune the server. Zero values take the defaults.
type Options struct {
	// Environment is the one unversioned model names resolve to
	// (default production).
	Environment string
	// MemoryBudget bounds the artifact bytes of the models kept loaded;
	// the least recently used are unloaded beyond it (default 1 GiB).
	MemoryBudget int64
	// ResolveEvery is how long a name's resolution to a version is
	// trusted before the registry is read again (default 2s): a promotion
	// or rollback is served at most this late.
	ResolveEvery time.Duration
	// MaxBatch is the most rows one model call predicts (default 64);
	// MaxDelay how long a request may wait for others to join its batch
	// (default 0: only requests already queued join).
	MaxBatch int
	MaxDelay time.Duration
	// QueueSize bounds the requests waiting per model version (default
	// 1024); beyond it requests fail with ErrOverloaded.
	QueueSize int
	// Workers is the number of concurrent model calls per model version
	// (default GOMAXPROCS).
	Workers int
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// LogBuffer bounds the prediction-log entries waiting to be written
	// (default 4096); when full, inference waits (nothing is dropped).
	LogBuffer int
	// LogDelay is how long the log writer waits for more predictions to
	// share a commit (default 1ms; negative: none). Under load it multiplies
	// the rows per commit; it adds at most LogDelay to a response.
	LogDelay time.Duration
	// LogWait, if positive, bounds how long a response waits for its
	// predictions' commit; by default (0) it waits until they are
	// committed, so that an answered prediction is always in the log (and
	// feedback on it found). A bounded wait trades that for latency under
	// disk stalls: the commit still completes in the background.
	LogWait time.Duration
	// AsyncLog answers before the prediction is written. By default the
	// response waits for the batched write, so the prediction ids it
	// returns can be used at once (feedback).
	AsyncLog bool
	// Registerer receives the serving metrics (nil: not exported).
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.Environment == "" {
		o.Environment = "production"
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 1 << 30
	}
	if o.ResolveEvery <= 0 {
		o.ResolveEvery = 2 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.LogDelay == 0 {
		o.LogDelay = time.Millisecond
	}
	if o.LogBuffer <= 0 {
		o.LogBuffer = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Service serves models.
type Service struct {
	db    *db.DB
	reg   *registry.Service
	blobs blob.Store
	audit *audit.Log
	opt   Options
	log   *slog.Logger
	now   func() time.Time
	rand  func() float64

	cache   *cache
	names   *resolver
	writer  *logWriter
	metrics *metrics
	shadows sync.WaitGroup
	// predictDelay slows every model call (tests of queues and timeouts).
	predictDelay time.Duration
}

// NewService returns the serving service with default options.
func NewService(d *db.DB, reg *registry.Service, b blob.Store, a *audit.Log) *Service {
	return New(d, reg, b, a, Options{})
}

// New returns the serving service; Close stops it.
func New(d *db.DB, reg *registry.Service, b blob.Store, a *audit.Log, o Options) *Service {
	o.defaults()
	s := &Service{db: d, reg: reg, blobs: b, audit: a, opt: o, log: o.Logger, now: time.Now, rand: rand.Float64}
	s.metrics = newMetrics(o.Registerer)
	s.cache = newCache(s)
	s.names = &resolver{s: s, entries: map[nameKey]*resolution{}}
	s.writer = newLogWriter(d, o.LogBuffer, o.LogDelay, o.Logger)
	s.metrics.setLoaded(func() float64 { return float64(s.cache.len()) })
	return s
}

// Environment is the environment unversioned names resolve to.
func (s *Service) Environment() string { return s.opt.Environment }

// Close waits for background predictions and writes the pending log.
func (s *Service) Close() error {
	s.shadows.Wait()
	s.cache.closeAll()
	return s.writer.close()
}

// Flush returns once every prediction answered so far is in the log.
func (s *Service) Flush(ctx context.Context) error {
	if err := s.writer.write(ctx, nil, true, -1); err != errLogClosed {
		return err
	}
	return nil // Close wrote everything
}

// Ping checks the registry database answers (server readiness).
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Resolve returns the version to serve: the given version number, or the
// one in the server's environment when version is 0.
func (s *Service) Resolve(ctx context.Context, model string, version int) (registry.Version, error) {
	r, err := s.names.get(ctx, model, version)
	if err != nil {
		return registry.Version{}, err
	}
	return r.primary, nil
}

// ProjectOf returns the project of a model, read from the registry at most
// every ResolveEvery.
func (s *Service) ProjectOf(ctx context.Context, model string) (string, error) {
	r, err := s.names.get(ctx, model, -1)
	if err != nil {
		return "", err
	}
	return r.project, nil
}

// Ready reports whether the model's served version loads.
func (s *Service) Ready(ctx context.Context, model string, version int) (registry.Version, error) {
	v, err := s.Resolve(ctx, model, version)
	if err != nil {
		return v, err
	}
	_, err = s.cache.get(ctx, v)
	return v, err
}

// Infer validates req against the model, predicts (batched with concurrent
// requests) and logs each prediction. Without a version, the request goes
// to the version in the server's environment, or to the model's canary
// with the canary's share.
func (s *Service) Infer(ctx context.Context, name string, version int, req Request) (Response, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
	defer cancel()
	res, err := s.names.get(ctx, name, version)
	if err != nil {
		s.metrics.outcome("", "", err)
		return Response{}, err
	}
	v, route := res.primary, RoutePrimary
	var shadow *registry.Canary
	if res.canary != nil && s.draw(ctx) < res.canary.Share {
		if res.canary.Mode == registry.ModeCanary {
			v, route = res.canary.Version, RouteCanary
		} else {
			shadow = res.canary
		}
	}
	resp, err := s.infer(ctx, start, name, v, route, req, true)
	if err == nil && shadow != nil {
		s.shadow(ctx, name, shadow.Version, req)
	}
	return resp, err
}

// infer predicts with version v and logs the predictions under route.
func (s *Service) infer(ctx context.Context, start time.Time, name string, v registry.Version, route string, req Request, wait bool) (Response, error) {
	label := strconv.Itoa(v.Version)
	for _, o := range req.Outputs {
		if o.Name != outputName(v) {
			err := errs.Invalidf("output %q is not an output of this model (outputs: %s)", o.Name, outputName(v))
			s.metrics.outcome(name, label, err)
			return Response{}, err
		}
	}
	var (
		y   []float64
		p   *prepared
		m   *loaded
		err error
	)
	for range 3 { // a model unloaded meanwhile is loaded again
		if m, err = s.cache.get(ctx, v); err != nil {
			break
		}
		if p, err = m.prepare(req.Inputs); err != nil {
			break
		}
		if y, err = m.batch.do(ctx, p.raw); !errors.Is(err, errUnloaded) {
			break
		}
	}
	if err != nil {
		s.metrics.outcome(name, label, err)
		return Response{}, err
	}
	// Explanations (parameters.explain) are computed before anything is
	// logged: a model that cannot be explained answers 400, logs nothing.
	var expl []explain.Explanation
	if want, _ := req.Parameters["explain"].(bool); want && route != RouteShadow {
		if expl, err = explainRows(name, v, m, p.raw); err != nil {
			s.metrics.outcome(name, label, err)
			return Response{}, err
		}
	}
	latency := time.Since(start)
	out := outputName(v)
	now := s.now().UTC()
	reqID := audit.RequestIDFrom(ctx)
	if reqID == "" {
		reqID = req.ID
	}
	ids := make([]string, len(y))
	rows := make([]logRow, len(y))
	buf := make([]byte, 0, 256)
	for i := range y {
		ids[i] = newID()
		buf = p.row(buf[:0], i)
		inputs := string(buf)
		buf = append(appendJSONString(append(buf[:0], '{'), out), ':')
		buf = append(appendJSONNumber(buf, y[i]), '}')
		rows[i] = logRow{id: ids[i], versionID: v.ID, at: now, inputs: inputs, outputs: string(buf), requestID: reqID,
			latencyMS: float64(latency.Microseconds()) / 1000, route: route}
	}
	if key := idempotencyKey(ctx); key != "" {
		keyedIDs(key, v.ID, route, rows, ids)
	}
	if err := s.writer.write(ctx, rows, wait && !s.opt.AsyncLog, s.opt.LogWait); err != nil {
		s.metrics.outcome(name, label, err)
		return Response{}, fmt.Errorf("log predictions: %w", err)
	}
	s.metrics.outcome(name, label, nil)
	params := make(map[string]any, len(req.Parameters)+1)
	for k, x := range req.Parameters {
		params[k] = x
	}
	params["prediction_ids"] = ids
	if expl != nil {
		params["explanations"] = expl
	}
	return Response{
		ModelName: name, ModelVersion: label, ID: req.ID, Parameters: params,
		Outputs: []OutTensor{{Name: out, Shape: []int64{int64(len(y))}, Datatype: "FP64", Data: y}},
	}, nil
}

// shadow lets the candidate predict on req in the background; its answers
// are logged with route shadow and never returned.
func (s *Service) shadow(ctx context.Context, name string, v registry.Version, req Request) {
	ctx = context.WithoutCancel(ctx)
	s.shadows.Add(1)
	go func() {
		defer s.shadows.Done()
		ctx, cancel := context.WithTimeout(ctx, s.opt.Timeout)
		defer cancel()
		if _, err := s.infer(ctx, time.Now(), name, v, RouteShadow, req, false); err != nil {
			s.log.Warn("shadow prediction failed", "model", name, "version", v.Version, "err", errs.MessageOf(err))
		}
	}()
}

// newID returns a prediction id: a version-7 UUID, ordered by time, so
// that the log's primary key grows at its end rather than at random pages.
func newID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}

// outputName is the model's output tensor: named by the signature.
func outputName(v registry.Version) string {
	if len(v.Signature.Outputs) > 0 {
		return v.Signature.Outputs[0].Name
	}
	return "prediction"
}

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
		data, err := numbers(t.Data, t.Datatype)
		if err != nil {
			return nil, errs.Invalidf("input %q: %v", t.Name, err)
		}
		if slices.ContainsFunc(data, math.IsNaN) {
			return nil, errs.Invalidf("input %q: a value is missing (null): this model needs complete data", t.Name)
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

// explainRows gives each row's contributions (TreeSHAP for trees,
// coefficient × value for linear models) with the base value.
func explainRows(name string, v registry.Version, m *loaded, raw [][]float64) ([]explain.Explanation, error) {
	if m.model == nil {
		return nil, errs.Invalidf("model %s version %d cannot be explained: only models in hygie's format are", name, v.Version)
	}
	return explain.ForRaw(m.model, raw)
}
