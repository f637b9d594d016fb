package modbus

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the collector's Prometheus metrics. Labels are bounded: a
// poll result or a decode reason, never a device.
type metrics struct {
	polls        *prometheus.CounterVec
	duration     prometheus.Histogram
	online       prometheus.Gauge
	devices      prometheus.Gauge
	reconnects   prometheus.Counter
	fieldErrors  *prometheus.CounterVec
	submitErrors prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_modbus_polls_total",
			Help: "Modbus device polls by result: ok, exception (the device refused a read), timeout, error (connection or protocol).",
		}, []string{"result"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wardwatch_modbus_poll_duration_seconds",
			Help:    "Time a Modbus poll holds its bus, from the first request to the last answer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		online: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_modbus_devices_online",
			Help: "Modbus devices whose polls succeed.",
		}),
		devices: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_modbus_devices",
			Help: "Modbus devices being polled.",
		}),
		reconnects: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_modbus_reconnects_total",
			Help: "Modbus connections reopened after a timeout or connection error.",
		}),
		fieldErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_modbus_field_errors_total",
			Help: "Field values rejected by reason: not_finite (NaN/Inf), fault_value (the device's no-reading code), not_state, length.",
		}, []string{"reason"}),
		submitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_modbus_submit_errors_total",
			Help: "Batches of Modbus readings the sink did not accept.",
		}),
	}
	for _, k := range []errKind{kindOK, kindException, kindTimeout, kindError} {
		m.polls.WithLabelValues(k.String())
	}
	for _, r := range []string{reasonLength, reasonNotFinite, reasonFaultValue, reasonNotState} {
		m.fieldErrors.WithLabelValues(r)
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.polls, m.duration, m.online, m.devices, m.reconnects, m.fieldErrors, m.submitErrors} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register modbus metrics: %w", err)
		}
	}
	return nil
}
