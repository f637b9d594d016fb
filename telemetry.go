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
