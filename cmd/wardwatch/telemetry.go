package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/influx"
	"github.com/wardwatch/wardwatch/sql"
)

// telemetryStore is the configured telemetry store.
type telemetryStore interface {
	wardwatch.Telemetry
	Close() error
}

// openTelemetry opens the embedded SQLite store or the InfluxDB store
// with its spool, as configured; exactly one of the concrete stores is
// returned besides the interface.
func openTelemetry(ctx context.Context, cfg TelemetryConfig, logger *slog.Logger, reg prometheus.Registerer) (telemetryStore, *sql.Telemetry, *influx.Store, error) {
	if cfg.Driver == "influx" {
		c := cfg.Influx
		st, err := influx.Open(influx.Config{URL: c.URL, Token: c.Token, Org: c.Org, Bucket: c.Bucket, SpoolDir: c.SpoolDir,
			SpoolMaxBytes: c.SpoolMaxBytes, Gzip: c.Gzip, BatchSize: c.BatchSize, FlushInterval: c.FlushInterval, Timeout: c.Timeout}, logger, reg)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("open InfluxDB telemetry store: %w", err)
		}
		return st, nil, st, nil
	}
	st, err := sql.OpenTelemetry(ctx, cfg.Path, sql.WithTelemetryMetrics(reg))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open telemetry store: %w", err)
	}
	return st, st, nil, nil
}

// retention is the embedded store's retention policy from the config.
func (a *app) retention() sql.RetentionPolicy {
	c := a.cfg.Telemetry
	return sql.RetentionPolicy{Positions: c.Retention, Readings: c.ReadingsRetention, PumpStates: c.PumpRetention,
		DownsampleAfter: c.DownsampleAfter, DownsampleInterval: c.DownsampleInterval}
}

// validateProfile checks an admin's profile source and returns its name.
func validateProfile(kind string, source []byte) (string, error) {
	switch kind {
	case "snmp":
		p, err := snmp.ParseProfile(source)
		if err != nil {
			return "", err
		}
		if _, builtin := snmp.BuiltinProfile(p.Name); builtin {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "%q is a built-in profile; give yours another name.", p.Name)
		}
		return p.Name, nil
	}
	return "", wardwatch.Errorf(wardwatch.EINVALID, "Profiles of kind %q are not supported.", kind)
}
