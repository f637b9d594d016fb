package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// readingWriter takes sensor readings from every collector (tag
// batteries and temperatures, Modbus channels, pump values), keeps the
// latest per sensor and metric for the pages, hands them to any
// listeners (the alert rules), and writes them to the telemetry store in
// batches off the collectors' goroutines. When the store falls far
// behind, SubmitReadings refuses new readings with EUNAVAILABLE (pushing
// gateways get 503 and retry; pollers try again next poll) rather than
// dropping them silently.
type readingWriter struct {
	store  wardwatch.ReadingStore
	logger *slog.Logger

	mu        sync.Mutex
	pending   []wardwatch.Reading
	latest    map[readingKey]wardwatch.Reading
	listeners []func([]wardwatch.Reading)
	wake      chan struct{}

	written, refused, failed prometheus.Counter
}

type readingKey struct {
	sensor string
	metric wardwatch.Metric
}

// Batching limits of the reading writer.
const (
	readingsFlushEvery  = time.Second
	readingsMaxPending  = 100_000
	readingsBatch       = 5_000
	readingsWriteBudget = 10 * time.Second
)

func newReadingWriter(store wardwatch.ReadingStore, logger *slog.Logger, reg prometheus.Registerer) *readingWriter {
	w := &readingWriter{
		store: store, logger: logger,
		latest: make(map[readingKey]wardwatch.Reading),
		wake:   make(chan struct{}, 1),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_readings_written_total", Help: "Sensor readings written to the telemetry store.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_readings_refused_total", Help: "Sensor readings refused because the telemetry store fell behind (the sender retries).",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_readings_write_errors_total", Help: "Failed reading batch writes (retried).",
		}),
	}
	reg.MustRegister(w.written, w.refused, w.failed)
	return w
}

// listen adds a function called with every accepted batch, on the
// submitting goroutine; it must not block.
func (w *readingWriter) listen(f func([]wardwatch.Reading)) {
	w.mu.Lock()
	w.listeners = append(w.listeners, f)
	w.mu.Unlock()
}

// SubmitReadings accepts readings for the store; it never blocks.
func (w *readingWriter) SubmitReadings(_ context.Context, rs []wardwatch.Reading) error {
	if len(rs) == 0 {
		return nil
	}
	w.mu.Lock()
	if len(w.pending)+len(rs) > readingsMaxPending {
		w.mu.Unlock()
		w.refused.Add(float64(len(rs)))
		return wardwatch.Errorf(wardwatch.EUNAVAILABLE, "telemetry store busy")
	}
	w.pending = append(w.pending, rs...)
	for _, r := range rs {
		k := readingKey{r.SensorID, r.Metric}
		if old, ok := w.latest[k]; !ok || !r.Time.Before(old.Time) {
			w.latest[k] = r
		}
	}
	listeners := w.listeners
	full := len(w.pending) >= readingsBatch
	w.mu.Unlock()
	for _, f := range listeners {
		f(rs)
	}
	if full {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Latest returns the newest reading of every sensor and metric.
func (w *readingWriter) Latest() []wardwatch.Reading {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]wardwatch.Reading, 0, len(w.latest))
	for _, r := range w.latest {
		out = append(out, r)
	}
	return out
}

// Run writes pending readings every second (or as soon as a batch is
// full) until ctx ends, then writes what is left. A failed batch is kept
// and retried.
func (w *readingWriter) Run(ctx context.Context) error {
	tick := time.NewTicker(readingsFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readingsWriteBudget)
			for w.flush(flushCtx) {
			}
			cancel()
			return nil
		case <-tick.C:
		case <-w.wake:
		}
		for w.flush(ctx) {
		}
	}
}

// flush writes one batch; it reports whether it wrote a full batch (so
// more may be waiting).
func (w *readingWriter) flush(ctx context.Context) bool {
	w.mu.Lock()
	n := min(len(w.pending), readingsBatch)
	batch := w.pending[:n:n]
	w.mu.Unlock()
	if n == 0 {
		return false
	}
	wctx, cancel := context.WithTimeout(ctx, readingsWriteBudget)
	err := w.store.WriteReadings(wctx, batch)
	cancel()
	if err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		w.failed.Inc()
		if ctx.Err() == nil {
			w.logger.Warn("write readings", "readings", n, "err", err)
		}
		return false // keep them; retry on the next tick
	}
	if err != nil {
		// Some readings were invalid (NaN…): the store wrote the rest and
		// counted these.
		w.logger.Debug("some readings rejected by the store", "err", err)
	}
	w.mu.Lock()
	w.pending = append(w.pending[:0:0], w.pending[n:]...)
	w.mu.Unlock()
	w.written.Add(float64(n))
	return n == readingsBatch
}
