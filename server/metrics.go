package server

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// latencyBuckets span 1 ms to about 33 s, enough for a cached search and a cold 40 MP analysis.
var latencyBuckets = prometheus.ExponentialBuckets(0.001, 2, 16)

// metrics are the server's Prometheus series. Each Server has its own registry so that several
// servers (in tests, or embedded in another program) do not collide.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	stages   *prometheus.HistogramVec
	rejected prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atelier_http_requests_total",
			Help: "HTTP requests by route, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atelier_http_request_duration_seconds",
			Help:    "HTTP request latency by route and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "atelier_inference_stage_duration_seconds",
			Help:    "Inference latency by pipeline stage, as the analyzer reports it.",
			Buckets: latencyBuckets,
		}, []string{"stage"}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atelier_inference_rejected_total",
			Help: "Inference requests refused with 503 because the queue was full.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.stages, m.rejected,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "atelier_index_items",
			Help: "Items in the catalog index (NaN while it is not loaded or cannot be counted).",
		}, s.indexSize),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "atelier_inference_in_flight",
			Help: "Requests decoding or analysing an image now.",
		}, func() float64 { return float64(s.limiter.inFlight()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "atelier_inference_queued",
			Help: "Requests waiting for an inference slot.",
		}, func() float64 { return float64(s.limiter.queued()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "atelier_ready",
			Help: "1 when the model and the index are loaded and the server is not draining.",
		}, func() float64 {
			if s.ready() {
				return 1
			}
			return 0
		}),
	)
	return m
}

// handler serves the registry in the Prometheus exposition format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe records one finished request.
func (m *metrics) observe(route, method string, code int, d time.Duration) {
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

// observeTimings records the per-stage timings (milliseconds) of one analysis.
func (m *metrics) observeTimings(timings map[string]float64) {
	for stage, ms := range timings {
		m.stages.WithLabelValues(stage).Observe(ms / 1000)
	}
}

// indexSize counts the catalog for the gauge; a scrape must not hang on a slow remote index.
func (s *Server) indexSize() float64 {
	b := s.backend.Load()
	if b == nil {
		return math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	n, err := b.index.Len(ctx)
	if err != nil {
		return math.NaN()
	}
	return float64(n)
}
