package wardwatch

import (
	"context"
	"time"
)

// PositionQuery selects stored positions: those of one asset (or all when
// AssetID is 0) with From ≤ Time < To, oldest first, at most Limit rows (0
// means the store's default).
type PositionQuery struct {
	AssetID int64
	From    time.Time
	To      time.Time
	Limit   int
}

// TelemetryStore keeps the time series WardWatch produces. The embedded
// default keeps them in SQLite; production uses InfluxDB.
type TelemetryStore interface {
	WritePositions(ctx context.Context, ps []Position) error
	Positions(ctx context.Context, q PositionQuery) ([]Position, error)
	// LatestPositions returns each asset's newest stored position no older
	// than since, so a restarted WardWatch shows where things were last seen.
	LatestPositions(ctx context.Context, since time.Time) ([]Position, error)
}

// SeriesQuery selects one sensor metric's readings with From ≤ Time < To.
// Interval > 0 aggregates them into buckets of that width aligned to the
// Unix epoch; Interval 0 asks for the raw readings.
type SeriesQuery struct {
	SensorID string
	Metric   Metric
	From     time.Time
	To       time.Time
	Interval time.Duration
	Limit    int // raw readings only; 0 means the store's default
}

// SeriesBucket summarises one interval of a sensor's series. Buckets with
// no readings are left out.
type SeriesBucket struct {
	Start time.Time
	Min   float64
	Max   float64
	Mean  float64
	Count int
}

// PumpQuery selects one pump's stored states (by serial) with From ≤ Time
// < To, oldest first, at most Limit (0 means the store's default).
type PumpQuery struct {
	Serial string
	From   time.Time
	To     time.Time
	Limit  int
}

// ReadingStore keeps sensor readings: cold-chain and HVAC series are
// compliance records, kept for years and never downsampled below 15
// minutes.
type ReadingStore interface {
	WriteReadings(ctx context.Context, rs []Reading) error
	Readings(ctx context.Context, q SeriesQuery) ([]Reading, error)
	ReadingSeries(ctx context.Context, q SeriesQuery) ([]SeriesBucket, error)
}

// PumpStateStore keeps infusion pumps' state history.
type PumpStateStore interface {
	WritePumpStates(ctx context.Context, ps []PumpState) error
	PumpStates(ctx context.Context, q PumpQuery) ([]PumpState, error)
}

// Telemetry is every time series WardWatch keeps, in one store.
type Telemetry interface {
	TelemetryStore
	ReadingStore
	PumpStateStore
}
