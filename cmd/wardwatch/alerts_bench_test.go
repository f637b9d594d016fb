package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// benchFridges is 500 vaccine fridges with one probe each, reporting every
// minute, values wandering across the high limit so rules raise and clear.
const benchFridges = 500

func benchReadings(minute int) []wardwatch.Reading {
	t := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).Add(time.Duration(minute) * time.Minute)
	rs := make([]wardwatch.Reading, benchFridges)
	for i := range rs {
		rs[i] = wardwatch.Reading{Time: t, SensorID: fmt.Sprintf("s%d", i+1), Metric: wardwatch.MetricTemperature,
			Value: 5 + 4*math.Sin(float64(minute+i)/40)}
	}
	return rs
}

func benchAlertConfig() alerts.Config {
	var cfg alerts.Config
	for i := 1; i <= benchFridges; i++ {
		cfg.Units = append(cfg.Units, alerts.Unit{ID: int64(i), Name: fmt.Sprintf("Fridge %d", i), Profile: wardwatch.ProfileVaccineFridge})
		cfg.Sensors = append(cfg.Sensors, alerts.Sensor{ID: fmt.Sprintf("s%d", i), UnitID: int64(i), Interval: time.Minute})
	}
	return cfg
}

// BenchmarkAlertServiceReadings measures the alert service's path for
// readings: queued by the collectors, judged by the evaluator, changes
// applied to the book and stored in SQLite, subscribers told. One op is one
// minute of 500 fridges. Compare with BenchmarkAlertEvaluatorReadings, the
// evaluator alone on the same readings, in the same run.
func BenchmarkAlertServiceReadings(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := LoadConfig("", testEnv(b.TempDir(), nil))
	if err != nil {
		b.Fatal(err)
	}
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	for i := 1; i <= benchFridges; i++ {
		u := wardwatch.MonitoredUnit{Name: fmt.Sprintf("Fridge %d", i), Profile: wardwatch.ProfileVaccineFridge}
		if err := store.CreateUnit(ctx, &u); err != nil {
			b.Fatal(err)
		}
	}
	s, err := newAlertService(ctx, store, cfg.Alerts, nil, logger, prometheus.NewRegistry(), func() time.Time { return time.Now().UTC() })
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.eval.Configure(benchAlertConfig(), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	batches := make([][]wardwatch.Reading, 1000)
	for i := range batches {
		batches[i] = benchReadings(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		s.ObserveReadings(batches[n%len(batches)])
		for len(s.in) > alertQueue/2 { // never drop: wait for the evaluator
			time.Sleep(50 * time.Microsecond)
		}
	}
	flushed := make(chan struct{})
	s.in <- func(time.Time) (alerts.Output, error) { close(flushed); return alerts.Output{}, nil }
	<-flushed
	b.StopTimer()
	b.ReportMetric(float64(b.N*benchFridges)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(len(s.Open())), "open-alerts")
	cancel()
	<-done
}

// BenchmarkAlertEvaluatorReadings is the reference: the same readings into
// the evaluator alone, no queue, book or store.
func BenchmarkAlertEvaluatorReadings(b *testing.B) {
	e, err := alerts.NewEvaluator(benchAlertConfig(), time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC))
	if err != nil {
		b.Fatal(err)
	}
	batches := make([][]wardwatch.Reading, 1000)
	for i := range batches {
		batches[i] = benchReadings(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for _, r := range batches[n%len(batches)] {
			if _, err := e.Observe(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*benchFridges)/b.Elapsed().Seconds(), "readings/s")
}
