package influx

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the Store's Prometheus metrics. Labels are bounded: reasons
// and results, never a sensor, tag or pump.
type metrics struct {
	spooled     prometheus.Counter
	written     prometheus.Counter
	rejected    *prometheus.CounterVec
	retries     prometheus.Counter
	batches     *prometheus.CounterVec
	corrupt     prometheus.Counter
	spoolBytes  prometheus.Gauge
	spoolPoints prometheus.Gauge
	spoolFill   prometheus.Gauge
	reachable   prometheus.Gauge
	lastWrite   prometheus.Gauge
}

// Batch results, the values of wardwatch_influx_batches_total's label.
const (
	batchOK      = "ok"      // InfluxDB accepted it (2xx)
	batchRetry   = "retry"   // it failed and will be retried (network, 5xx, 429, auth…)
	batchSplit   = "split"   // InfluxDB refused it (4xx): split in two to find the bad points
	batchRefused = "refused" // InfluxDB refused a single point: dropped
)

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_influx_points_spooled_total", Help: "Points accepted by the InfluxDB store and written to its spool.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_influx_points_written_total", Help: "Points InfluxDB accepted.",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_influx_points_rejected_total",
			Help: "Points refused, by reason: nan, inf, too_long, invalid (validation), spool_full, spool_error (disk), refused (by InfluxDB, 4xx).",
		}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_influx_write_retries_total", Help: "Write requests to InfluxDB that failed and were retried.",
		}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_influx_batches_total", Help: "Write requests to InfluxDB, by result: ok, retry, split, refused.",
		}, []string{"result"}),
		corrupt: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_influx_spool_corrupt_bytes_total", Help: "Spool bytes dropped because they were torn or corrupt.",
		}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_influx_spool_bytes", Help: "Bytes the spool takes on disk.",
		}),
		spoolPoints: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_influx_spool_points", Help: "Points in the spool not yet accepted by InfluxDB.",
		}),
		spoolFill: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_influx_spool_fill_ratio", Help: "Spool bytes over its maximum (0..1); writes fail at 1.",
		}),
		reachable: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_influx_reachable", Help: "1 when the last request to InfluxDB got an answer from it, else 0.",
		}),
		lastWrite: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wardwatch_influx_last_write_timestamp_seconds", Help: "Unix time of the last batch InfluxDB accepted.",
		}),
	}
	for _, r := range rejectReasons {
		m.rejected.WithLabelValues(r)
	}
	for _, r := range []string{batchOK, batchRetry, batchSplit, batchRefused} {
		m.batches.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	// A second Store on the same registry (a reopened store) shares the
	// collectors already registered.
	var err error
	reuse := func(c *prometheus.Counter) {
		if err == nil {
			*c, err = register(reg, *c)
		}
	}
	reuseGauge := func(g *prometheus.Gauge) {
		if err == nil {
			*g, err = register(reg, *g)
		}
	}
	reuseVec := func(v **prometheus.CounterVec) {
		if err == nil {
			*v, err = register(reg, *v)
		}
	}
	reuse(&m.spooled)
	reuse(&m.written)
	reuse(&m.retries)
	reuse(&m.corrupt)
	reuseVec(&m.rejected)
	reuseVec(&m.batches)
	reuseGauge(&m.spoolBytes)
	reuseGauge(&m.spoolPoints)
	reuseGauge(&m.spoolFill)
	reuseGauge(&m.reachable)
	reuseGauge(&m.lastWrite)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c on reg, or returns the collector of the same
// description registered already.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("register influx metrics: %w", err)
}
