package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
)

type recordingTelemetry struct {
	mu      sync.Mutex
	written []wardwatch.Position
	fail    error
}

func (r *recordingTelemetry) WritePositions(_ context.Context, ps []wardwatch.Position) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.written = append(r.written, ps...)
	return nil
}

func TestHistoryWriterThinsPositions(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	at := func(sec int, x float64, zone int64) wardwatch.Position {
		return wardwatch.Position{AssetID: 7, FloorID: 1, At: wardwatch.Point{X: x, Y: 2}, ZoneID: zone, Time: t0.Add(time.Duration(sec) * time.Second)}
	}
	stale := func(p wardwatch.Position) wardwatch.Position {
		p.State = wardwatch.StateStale
		return p
	}
	tests := []struct {
		name string
		in   []wardwatch.Position
		want int
	}{
		{"first position kept", []wardwatch.Position{at(0, 1, 3)}, 1},
		{"jitter dropped", []wardwatch.Position{at(0, 1, 3), at(1, 1.2, 3), at(2, 1.1, 3)}, 1},
		{"a real move kept", []wardwatch.Position{at(0, 1, 3), at(1, 1.6, 3)}, 2},
		{"room change kept even when close", []wardwatch.Position{at(0, 1, 3), at(1, 1.1, 4)}, 2},
		{"going stale kept", []wardwatch.Position{at(0, 1, 3), stale(at(1, 1, 3))}, 2},
		{"heartbeat kept", []wardwatch.Position{at(0, 1, 3), at(30, 1, 3), at(60, 1, 3)}, 2},
	}
	for _, tt := range tests {
		store := &recordingTelemetry{}
		h := newHistoryWriter(store, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
		h.Offer(tt.in)
		h.flush(context.Background())
		if len(store.written) != tt.want {
			t.Errorf("%s: wrote %d positions, want %d", tt.name, len(store.written), tt.want)
		}
	}
}

// TestHistoryWriterRetriesFailures: a failed write is counted and its
// positions are written by the next flush, not lost.
func TestHistoryWriterRetriesFailures(t *testing.T) {
	store := &recordingTelemetry{fail: errors.New("disk full")}
	h := newHistoryWriter(store, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	h.Offer([]wardwatch.Position{{AssetID: 1}, {AssetID: 2}})
	h.flush(context.Background())
	if got := testutil.ToFloat64(h.failed); got != 1 {
		t.Errorf("write errors = %v, want 1", got)
	}
	if got := testutil.ToFloat64(h.dropped); got != 0 {
		t.Errorf("dropped = %v, want 0", got)
	}
	store.fail = nil
	h.Offer([]wardwatch.Position{{AssetID: 3}})
	h.flush(context.Background())
	if len(store.written) != 3 || store.written[0].AssetID != 1 || store.written[2].AssetID != 3 {
		t.Fatalf("written after the retry = %+v, want assets 1, 2, 3 in order", store.written)
	}
}

func TestHistoryWriterFlushesOnShutdown(t *testing.T) {
	store := &recordingTelemetry{}
	h := newHistoryWriter(store, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.Run(ctx) }()
	h.Offer([]wardwatch.Position{{AssetID: 1}})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(store.written) != 1 {
		t.Fatalf("wrote %d positions on shutdown, want 1", len(store.written))
	}
}
