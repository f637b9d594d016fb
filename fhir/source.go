package fhir

import (
	"context"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// AssetSource reads tracked assets and where they are.
type AssetSource interface {
	Assets(ctx context.Context) ([]wardwatch.Asset, error)
	// LatestPositions returns each asset's newest known position; assets
	// never seen are left out.
	LatestPositions(ctx context.Context) ([]wardwatch.Position, error)
	// Tags returns every radio tag with the asset it is fixed to. A tag's
	// own readings (Eddystone-TLM temperature and battery) carry the tag ID
	// as their sensor ID.
	Tags(ctx context.Context) ([]wardwatch.Tag, error)
}

// SiteSource reads the floors and zones of the site.
type SiteSource interface {
	Floors(ctx context.Context) ([]wardwatch.Floor, error)
	// Zones returns the zones of every floor.
	Zones(ctx context.Context) ([]wardwatch.Zone, error)
}

// Channel is one channel of a Modbus device: a field of its register-map
// profile. Its readings' sensor ID is "<device name>/<channel name>".
type Channel struct {
	Name   string
	Metric wardwatch.Metric
	// Diagnostic marks a channel about the equipment itself (an evaporator
	// coil) rather than what the unit protects.
	Diagnostic bool
}

// ModbusDevice is a Modbus device with the channels its profile defines.
type ModbusDevice struct {
	wardwatch.ModbusDevice
	Channels []Channel
}

// DeviceSource reads monitored units, Modbus devices and pumps.
type DeviceSource interface {
	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
	ModbusDevices(ctx context.Context) ([]ModbusDevice, error)
	// LatestPumpStates returns the newest known state of each pump.
	LatestPumpStates(ctx context.Context) ([]wardwatch.PumpState, error)
}

// ReadingSource reads sensor readings.
type ReadingSource interface {
	// LatestReadings returns the newest reading of each sensor and metric:
	// Modbus channels ("<device>/<channel>"), tags (the tag ID) and pumps
	// ("pump:<serial>").
	LatestReadings(ctx context.Context) ([]wardwatch.Reading, error)
	// Readings returns the raw readings q selects, oldest first.
	Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error)
}

// QuarantineSource reads the excursions whose "DO NOT USE" quarantine is
// in force (not cleared).
type QuarantineSource interface {
	QuarantinedExcursions(ctx context.Context) ([]alerts.Excursion, error)
}

// Source is everything the FHIR API reads. The lead's adapter implements it
// over the config store, the telemetry store and the location engine.
type Source interface {
	AssetSource
	SiteSource
	DeviceSource
	ReadingSource
	QuarantineSource
}
