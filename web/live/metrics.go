package live

import (
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hub's Prometheus instruments.
type metrics struct {
	clients  prometheus.Gauge
	messages prometheus.Counter
	dropped  *prometheus.CounterVec
}

func newMetrics(logger *slog.Logger, reg prometheus.Registerer) metrics {
	m := metrics{
		clients: register(logger, reg, prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_live_clients",
			Help: "Websocket clients connected to the live floor maps.",
		})),
		messages: register(logger, reg, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_live_messages_total",
			Help: "Data messages (snap, pos, gone) written to live clients.",
		})),
		dropped: register(logger, reg, prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_live_dropped_clients_total",
			Help: "Live clients the server disconnected, by reason (write_error, slow, shutdown).",
		}, []string{"reason"})),
	}
	for _, r := range []string{reasonWriteError, reasonSlow, reasonShutdown} {
		m.dropped.WithLabelValues(r)
	}
	return m
}

// register registers c on reg and returns it, or the collector already
// registered under the same description (so two hubs on one registry share
// their metrics). A nil reg leaves c unregistered.
func register[C prometheus.Collector](logger *slog.Logger, reg prometheus.Registerer, c C) C {
	if reg == nil {
		return c
	}
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	logger.Warn("register live metric", "err", err)
	return c
}
