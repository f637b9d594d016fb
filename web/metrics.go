package web

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the web layer's own Prometheus metrics.
type metrics struct {
	requests *prometheus.CounterVec   // by route pattern and status code
	duration *prometheus.HistogramVec // by route pattern; websockets excluded
	logins   *prometheus.CounterVec   // by result
	panics   prometheus.Counter

	apiAuthFailures prometheus.Counter // invalid API tokens
	streamDropped   prometheus.Counter // API stream clients dropped as too slow
}

func newMetrics(reg prometheus.Registerer) *metrics {
	return &metrics{
		requests: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"})),
		duration: register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wardwatch_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern (websocket streams excluded).",
			Buckets: []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"route"})),
		logins: register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_login_attempts_total",
			Help: "Login attempts, by result: success, failure, rate_limited, invalid, error.",
		}, []string{"result"})),
		panics: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_http_panics_total",
			Help: "HTTP handlers that panicked (answered 500).",
		})),
		apiAuthFailures: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_api_auth_failures_total",
			Help: "Requests to /api/v1 refused for an invalid or revoked API token.",
		})),
		streamDropped: register(reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_api_stream_dropped_total",
			Help: "API event-stream clients disconnected because they fell too far behind.",
		})),
	}
}

// register registers c on reg and returns it, or the collector already
// registered under the same name (when NewServer is built twice on one
// registry). A collector that cannot be registered still works, unexported.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
