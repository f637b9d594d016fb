package main

import (
	"context"
	"io"
	"log/slog"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sql"
)

// TestReadingWriterStoresEverything runs the reading writer against the
// real embedded telemetry store: every good reading is written (the NaN
// one is refused by the store without losing its batch-mates), the latest
// per sensor is kept, listeners see each batch, and what is pending when
// it stops is written before Run returns.
func TestReadingWriterStoresEverything(t *testing.T) {
	ctx := context.Background()
	tel, err := sql.OpenTelemetry(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	w := newReadingWriter(tel, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	var heard int
	w.listen(func(rs []wardwatch.Reading) { heard += len(rs) })

	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	const n = 12_000
	for i := range n {
		r := wardwatch.Reading{Time: t0.Add(time.Duration(i) * time.Second), SensorID: "fridge-1/temperature", Metric: wardwatch.MetricTemperature, Value: 4 + float64(i%10)/10}
		if i == 7 {
			r.Value = math.NaN()
		}
		if err := w.SubmitReadings(ctx, []wardwatch.Reading{r}); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got, err := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "fridge-1/temperature", Metric: wardwatch.MetricTemperature,
		From: t0, To: t0.Add(n * time.Second), Limit: 2 * n})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n-1 {
		t.Fatalf("stored %d readings, want %d (all but the NaN)", len(got), n-1)
	}
	if heard != n {
		t.Errorf("listeners heard %d, want %d", heard, n)
	}
	latest := w.Latest()
	if len(latest) != 1 || !latest[0].Time.Equal(t0.Add((n-1)*time.Second)) {
		t.Errorf("Latest = %+v", latest)
	}
}
