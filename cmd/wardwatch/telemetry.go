package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/influx"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/web"
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
	case "modbus":
		p, err := modbus.ParseProfile(source)
		if err != nil {
			return "", err
		}
		if _, builtin := modbus.BuiltinProfile(p.Name); builtin {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "%q is a built-in register map; give yours another name.", p.Name)
		}
		return p.Name, nil
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

// systemChecks is the system status page: the telemetry store (with the
// InfluxDB spool's fill), gateways and SNMP targets.
func (a *app) systemChecks(now time.Time) []web.SystemCheck {
	var cs []web.SystemCheck
	if a.influx != nil {
		h := a.influx.Health()
		detail := fmt.Sprintf("InfluxDB %s; spool %.1f%% full (%d points, %s of %s)", reachable(h.Reachable),
			100*h.SpoolFill, h.SpoolPoints, bytesText(h.SpoolBytes), bytesText(h.SpoolMaxBytes))
		if !h.LastWrite.IsZero() {
			detail += "; last write " + now.Sub(h.LastWrite).Round(time.Second).String() + " ago"
		}
		if h.LastError != "" {
			detail += "; last error: " + h.LastError
		}
		cs = append(cs, web.SystemCheck{Name: "Telemetry store", OK: h.Reachable && h.SpoolFill < 0.8, Detail: detail})
	} else {
		cs = append(cs, web.SystemCheck{Name: "Telemetry store", OK: true, Detail: "Embedded SQLite at " + a.cfg.Telemetry.Path})
	}
	var online, never, offline int
	for _, h := range a.health.Snapshot(now) {
		switch {
		case h.Online:
			online++
		case h.LastSeen.IsZero():
			never++
		default:
			offline++
		}
	}
	cs = append(cs, web.SystemCheck{Name: "Gateways", OK: offline == 0,
		Detail: fmt.Sprintf("%d online, %d offline, %d not heard since start", online, offline, never)})
	var up, down, pumps int
	for _, s := range a.pumps.collector.Status() {
		if s.Online {
			up++
			pumps += s.Pumps
		} else {
			down++
		}
	}
	cs = append(cs, web.SystemCheck{Name: "Pump servers and pumps (SNMP)", OK: down == 0,
		Detail: fmt.Sprintf("%d targets online (%d pumps), %d offline", up, pumps, down)})
	up, down = 0, 0
	for _, s := range a.sensors.collector.Status() {
		if s.Online {
			up++
		} else {
			down++
		}
	}
	cs = append(cs, web.SystemCheck{Name: "Fridge, freezer and room sensors (Modbus)", OK: down == 0,
		Detail: fmt.Sprintf("%d devices online, %d offline", up, down)})
	return cs
}

func reachable(ok bool) string {
	if ok {
		return "reachable"
	}
	return "unreachable"
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
