package serve

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hygie-health/hygie/internal/errs"
)

// metrics are the serving metrics, labelled by model name and version
// number: names are project-chosen identifiers, never patient data. A name
// that resolves to no model is counted under model "" so that requests
// cannot grow the label set.
type metrics struct {
	requests *prometheus.CounterVec
	queue    *prometheus.HistogramVec
	compute  *prometheus.HistogramVec
	batch    *prometheus.HistogramVec
	reg      prometheus.Registerer
}

// Outcomes counted by hygie_inference_requests_total.
const (
	OutcomeSuccess    = "success"
	OutcomeInvalid    = "invalid"
	OutcomeNotFound   = "not_found"
	OutcomeOverloaded = "overloaded"
	OutcomeTimeout    = "timeout"
	OutcomeError      = "error"
)

var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hygie_inference_requests_total", Help: "Inference requests by model, version and outcome."}, []string{"model", "version", "outcome"}),
		queue:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hygie_inference_queue_seconds", Help: "Time an inference request waited for its batch.", Buckets: latencyBuckets}, []string{"model", "version"}),
		compute:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hygie_inference_compute_seconds", Help: "Time a model took to predict one batch.", Buckets: latencyBuckets}, []string{"model", "version"}),
		batch:    prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hygie_inference_batch_size", Help: "Rows predicted per model call.", Buckets: prometheus.ExponentialBuckets(1, 2, 11)}, []string{"model"}),
		reg:      reg,
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.queue, m.compute, m.batch)
	}
	return m
}

func (m *metrics) setLoaded(f func() float64) {
	if m.reg != nil {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hygie_models_loaded", Help: "Model versions loaded in memory."}, f))
	}
}

// outcome counts one request.
func (m *metrics) outcome(model, version string, err error) {
	if version == "" {
		model = "" // the name resolved to nothing: keep it out of the labels
	}
	m.requests.WithLabelValues(model, version, OutcomeOf(err)).Inc()
}

// OutcomeOf names an Infer error's outcome.
func OutcomeOf(err error) string {
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.Is(err, ErrOverloaded):
		return OutcomeOverloaded
	case errors.Is(err, ErrTimeout):
		return OutcomeTimeout
	case errs.Is(err, errs.Invalid):
		return OutcomeInvalid
	case errs.Is(err, errs.NotFound):
		return OutcomeNotFound
	}
	return OutcomeError
}

// batchObserver records one model version's batches.
func (m *metrics) batchObserver(model string, version int) func(int, []time.Duration, time.Duration) {
	v := strconv.Itoa(version)
	queue, compute, batch := m.queue.WithLabelValues(model, v), m.compute.WithLabelValues(model, v), m.batch.WithLabelValues(model)
	return func(rows int, queued []time.Duration, took time.Duration) {
		batch.Observe(float64(rows))
		compute.Observe(took.Seconds())
		for _, q := range queued {
			queue.Observe(q.Seconds())
		}
	}
}
