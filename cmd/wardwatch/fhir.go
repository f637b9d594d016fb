package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/fhir"
	"github.com/wardwatch/wardwatch/sql"
)

// fhirSource reads what the FHIR API shows: the store for configuration
// (assets, tags, units, Modbus devices), the live hub for where assets
// are, the collectors for the latest readings (Modbus channels, tags'
// Eddystone-TLM, pump batteries) and pump states, and the telemetry store
// for history.
type fhirSource struct{ a *app }

var _ fhir.Source = fhirSource{}

// Assets lists every asset.
func (s fhirSource) Assets(ctx context.Context) ([]wardwatch.Asset, error) {
	return s.a.store.Assets(ctx)
}

// LatestPositions is where every placed asset is now, from the live hub.
func (s fhirSource) LatestPositions(ctx context.Context) ([]wardwatch.Position, error) {
	var ps []wardwatch.Position
	for _, f := range s.a.site.Load().Floors {
		ps = append(ps, s.a.hub.Snapshot(f.ID)...)
	}
	return ps, nil
}

// Tags lists every tag with the asset it is fixed to; a tag's own
// readings (Eddystone-TLM) carry its ID as their sensor ID.
func (s fhirSource) Tags(ctx context.Context) ([]wardwatch.Tag, error) {
	return s.a.store.Tags(ctx)
}

// Floors lists the floors.
func (s fhirSource) Floors(ctx context.Context) ([]wardwatch.Floor, error) {
	return s.a.store.Floors(ctx)
}

// Zones lists the zones of every floor.
func (s fhirSource) Zones(ctx context.Context) ([]wardwatch.Zone, error) {
	return s.a.store.Zones(ctx, 0)
}

// Units lists the monitored units.
func (s fhirSource) Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error) {
	return s.a.store.Units(ctx)
}

// ModbusDevices lists the Modbus devices with their register maps' channels.
func (s fhirSource) ModbusDevices(ctx context.Context) ([]fhir.ModbusDevice, error) {
	ds, err := s.a.store.ModbusDevices(ctx)
	if err != nil {
		return nil, fmt.Errorf("list Modbus devices: %w", err)
	}
	out := make([]fhir.ModbusDevice, 0, len(ds))
	for _, d := range ds {
		fd := fhir.ModbusDevice{ModbusDevice: d}
		if p, ok := s.a.sensors.profile(d.Profile); ok {
			for _, f := range p.Fields {
				fd.Channels = append(fd.Channels, fhir.Channel{Name: f.Name, Metric: f.Metric, Diagnostic: f.Diagnostic})
			}
		}
		out = append(out, fd)
	}
	return out, nil
}

// LatestPumpStates is every pump's latest state.
func (s fhirSource) LatestPumpStates(context.Context) ([]wardwatch.PumpState, error) {
	return s.a.pumps.Latest(), nil
}

// LatestReadings is the newest reading of every sensor and metric.
func (s fhirSource) LatestReadings(context.Context) ([]wardwatch.Reading, error) {
	return s.a.readings.Latest(), nil
}

// Readings reads a sensor's stored series.
func (s fhirSource) Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error) {
	return s.a.telemetry.Readings(ctx, q)
}

// QuarantinedExcursions lists the excursions whose units show "DO NOT USE".
func (s fhirSource) QuarantinedExcursions(ctx context.Context) ([]alerts.Excursion, error) {
	return s.a.store.Excursions(ctx, sql.ExcursionQuery{Quarantined: true, Limit: sql.MaxExcursionLimit})
}

// fhirOptions names the site for the FHIR API.
func fhirOptions(a *app, reg prometheus.Registerer) fhir.Options {
	return fhir.Options{SiteName: "WardWatch site", BuildingName: "Main building", Version: version,
		Now: func() time.Time { return a.now() }, Logger: a.logger.With("component", "fhir"), Registerer: reg}
}
