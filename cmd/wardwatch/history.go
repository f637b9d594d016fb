package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// historyWriter keeps the positions history: it thins the engine's output
// (a position is kept when its asset moved, changed room, floor or state, or
// has not been kept for a while) and writes it to the telemetry store in
// batches, off the engine's goroutine.
type historyWriter struct {
	store  positionWriter
	logger *slog.Logger

	mu      sync.Mutex
	pending []wardwatch.Position
	last    map[int64]wardwatch.Position // last kept per asset

	kept, dropped, failed prometheus.Counter
}

// Thinning and batching limits of the positions history.
const (
	historyMinMove     = 0.5              // metres
	historyHeartbeat   = time.Minute      // keep one position per asset at least this often
	historyFlushEvery  = time.Second      // write at most this often
	historyMaxPending  = 50_000           // beyond this, positions are dropped (and counted)
	historyWriteBudget = 10 * time.Second // per batch write
)

// positionWriter is the part of a wardwatch.TelemetryStore the history
// writer needs.
type positionWriter interface {
	WritePositions(ctx context.Context, ps []wardwatch.Position) error
}

func newHistoryWriter(store positionWriter, logger *slog.Logger, reg prometheus.Registerer) *historyWriter {
	h := &historyWriter{
		store:  store,
		logger: logger,
		last:   make(map[int64]wardwatch.Position),
		kept: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_history_positions_written_total", Help: "Positions written to the history.",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_history_positions_dropped_total", Help: "Positions lost because the history writer fell behind.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_history_write_errors_total", Help: "Failed history batch writes.",
		}),
	}
	reg.MustRegister(h.kept, h.dropped, h.failed)
	return h
}

// Offer hands the writer the engine's latest positions. It never blocks.
func (h *historyWriter) Offer(ps []wardwatch.Position) {
	h.mu.Lock()
	for _, p := range ps {
		if !h.worthKeeping(p) {
			continue
		}
		if len(h.pending) >= historyMaxPending {
			h.dropped.Inc()
			continue
		}
		h.last[p.AssetID] = p
		h.pending = append(h.pending, p)
	}
	h.mu.Unlock()
}

// worthKeeping is called with h.mu held.
func (h *historyWriter) worthKeeping(p wardwatch.Position) bool {
	prev, ok := h.last[p.AssetID]
	return !ok ||
		p.FloorID != prev.FloorID ||
		p.ZoneID != prev.ZoneID ||
		p.State != prev.State ||
		floorplan.Distance(p.At, prev.At) >= historyMinMove ||
		p.Time.Sub(prev.Time) >= historyHeartbeat
}

// Run writes pending positions every historyFlushEvery until ctx is done,
// then writes what is left.
func (h *historyWriter) Run(ctx context.Context) error {
	tick := time.NewTicker(historyFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), historyWriteBudget)
			h.flush(flushCtx)
			cancel()
			return nil
		case <-tick.C:
			h.flush(ctx)
		}
	}
}

func (h *historyWriter) flush(ctx context.Context) {
	h.mu.Lock()
	batch := h.pending
	h.pending = nil
	h.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, historyWriteBudget)
	defer cancel()
	err := h.store.WritePositions(ctx, batch)
	switch {
	case err == nil:
	case wardwatch.ErrorCode(err) == wardwatch.EINVALID:
		// The store refused some positions (not numbers…) and kept the rest.
		h.logger.Warn("positions history: some positions refused", "err", err)
	default:
		// Keep the batch for the next flush, ahead of newer positions,
		// within the pending bound.
		h.failed.Inc()
		h.logger.Error("write positions history", "positions", len(batch), "err", err)
		h.mu.Lock()
		room := historyMaxPending - len(h.pending)
		if room < len(batch) {
			h.dropped.Add(float64(len(batch) - max(room, 0)))
			batch = batch[len(batch)-max(room, 0):]
		}
		h.pending = append(batch, h.pending...)
		h.mu.Unlock()
		return
	}
	h.kept.Add(float64(len(batch)))
}
