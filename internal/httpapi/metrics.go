package httpapi

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are labelled by route pattern, never by path: paths can carry
// names, and labels must never carry identifying values.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hygie_http_requests_total", Help: "HTTP requests by route and status."}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "hygie_http_request_duration_seconds", Help: "HTTP request duration by route.", Buckets: prometheus.DefBuckets}, []string{"method", "route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

// routeMetrics are one route's series, looked up once rather than by label
// values at every request. They are created at the route's first request
// (a route never requested has no series, as before).
type routeMetrics struct {
	m             *metrics
	method, route string
	once          sync.Once
	duration      prometheus.Observer
	mu            sync.RWMutex
	byStatus      map[int]prometheus.Counter
}

func (m *metrics) route(method, route string) *routeMetrics {
	return &routeMetrics{m: m, method: method, route: route, byStatus: map[int]prometheus.Counter{}}
}

func (rm *routeMetrics) observe(status int, d time.Duration) {
	if status == 0 {
		status = 200
	}
	rm.once.Do(func() { rm.duration = rm.m.duration.WithLabelValues(rm.method, rm.route) })
	rm.mu.RLock()
	c := rm.byStatus[status]
	rm.mu.RUnlock()
	if c == nil {
		c = rm.m.requests.WithLabelValues(rm.method, rm.route, strconv.Itoa(status))
		rm.mu.Lock()
		rm.byStatus[status] = c
		rm.mu.Unlock()
	}
	c.Inc()
	rm.duration.Observe(d.Seconds())
}
