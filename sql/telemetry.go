package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wardwatch/wardwatch"
)

// DefaultPositionLimit is how many positions Telemetry.Positions returns at
// most when the query sets no limit.
const DefaultPositionLimit = 10000

// telemetryPragmas are set on the telemetry connection unless its DSN sets
// them: the configuration store's, plus synchronous(NORMAL), which is safe
// in WAL mode and spares an fsync per write.
var telemetryPragmas = append(append([]string(nil), storePragmas...), "synchronous(NORMAL)")

// Telemetry is the embedded default wardwatch.TelemetryStore: the positions
// history in its own SQLite file. It is safe for concurrent use.
type Telemetry struct {
	db *dbsql.DB
}

var _ wardwatch.TelemetryStore = (*Telemetry)(nil)

// OpenTelemetry opens (creating it and its parent directory if needed) the
// telemetry database at path, a file path or a "file:" URI, and applies its
// migrations.
func OpenTelemetry(ctx context.Context, path string) (*Telemetry, error) {
	db, err := openSQLite(path, telemetryPragmas)
	if err != nil {
		return nil, err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, &wardwatch.Error{Code: wardwatch.EUNAVAILABLE, Message: "cannot open the telemetry database", Err: err}
	}
	p, err := newProvider(goose.DialectSQLite3, db, telemetryMigrations, goose.WithTableName(telemetryVersionTable))
	if err == nil {
		_, err = p.Up(ctx)
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate telemetry store: %w", err)
	}
	return &Telemetry{db: db}, nil
}

// WritePositions stores ps in one transaction: all of them or, on error,
// none. Times are kept to the millisecond.
func (t *Telemetry) WritePositions(ctx context.Context, ps []wardwatch.Position) error {
	if len(ps) == 0 {
		return nil
	}
	for i, p := range ps {
		if p.TagID == "" {
			return wardwatch.Errorf(wardwatch.EINVALID, "position %d has no tag", i)
		}
		if !finite(p.At.X, p.At.Y, p.Confidence) {
			return wardwatch.Errorf(wardwatch.EINVALID, "position %d of tag %q has a coordinate or confidence that is not a number", i, p.TagID)
		}
	}
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO positions (ts, tag_id, asset_id, floor_id, x, y, zone_id, confidence, solver, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	defer stmt.Close()
	for _, p := range ps {
		if _, err := stmt.ExecContext(ctx,
			millis(p.Time), p.TagID, p.AssetID, p.FloorID, p.At.X, p.At.Y, p.ZoneID, p.Confidence, p.Solver, string(p.State),
		); err != nil {
			return fmt.Errorf("write positions: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	return nil
}

// Positions returns the stored positions q selects, oldest first. A zero
// q.From or q.To leaves that end of the range open; a zero q.Limit means
// DefaultPositionLimit.
func (t *Telemetry) Positions(ctx context.Context, q wardwatch.PositionQuery) ([]wardwatch.Position, error) {
	if q.Limit < 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "limit must not be negative, got %d", q.Limit)
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "time range ends before it starts")
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultPositionLimit
	}
	var (
		where []string
		args  []any
	)
	if q.AssetID != 0 {
		where, args = append(where, "asset_id = ?"), append(args, q.AssetID)
	}
	if !q.From.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, millis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "ts < ?"), append(args, millis(q.To))
	}
	query := `SELECT ` + positionColumns + ` FROM positions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY ts, id LIMIT ?`
	args = append(args, limit)
	ps, err := t.queryPositions(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query positions: %w", err)
	}
	return ps, nil
}

// LatestPositions returns each asset's newest position at or after since,
// ordered by asset.
func (t *Telemetry) LatestPositions(ctx context.Context, since time.Time) ([]wardwatch.Position, error) {
	ps, err := t.queryPositions(ctx,
		`SELECT `+positionColumns+` FROM positions p
		WHERE p.ts >= ? AND p.id = (
			SELECT q.id FROM positions q WHERE q.asset_id = p.asset_id ORDER BY q.ts DESC, q.id DESC LIMIT 1
		)
		ORDER BY p.asset_id`, millis(since))
	if err != nil {
		return nil, fmt.Errorf("latest positions: %w", err)
	}
	return ps, nil
}

const positionColumns = `ts, tag_id, asset_id, floor_id, x, y, zone_id, confidence, solver, state`

func (t *Telemetry) queryPositions(ctx context.Context, query string, args ...any) ([]wardwatch.Position, error) {
	rows, err := t.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ps []wardwatch.Position
	for rows.Next() {
		var (
			p     wardwatch.Position
			ts    int64
			state string
		)
		if err := rows.Scan(&ts, &p.TagID, &p.AssetID, &p.FloorID, &p.At.X, &p.At.Y, &p.ZoneID, &p.Confidence, &p.Solver, &state); err != nil {
			return nil, err
		}
		p.Time = fromMillis(ts)
		p.State = wardwatch.TagState(state)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// Prune deletes the positions older than before and returns how many it
// deleted.
func (t *Telemetry) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.db.ExecContext(ctx, `DELETE FROM positions WHERE ts < ?`, millis(before))
	if err != nil {
		return 0, fmt.Errorf("prune positions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune positions: %w", err)
	}
	return n, nil
}

// Close closes the telemetry database.
func (t *Telemetry) Close() error {
	return t.db.Close()
}
