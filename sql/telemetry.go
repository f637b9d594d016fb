package sql

import (
	"context"
	dbsql "database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// DefaultPositionLimit is how many positions Telemetry.Positions returns at
// most when the query sets no limit.
const DefaultPositionLimit = 10000

// telemetryPragmas are set on the telemetry connection unless its DSN sets
// them: the configuration store's, plus synchronous(NORMAL), which is safe
// in WAL mode and spares an fsync per write.
var telemetryPragmas = append(append([]string(nil), storePragmas...), "synchronous(NORMAL)")

// Telemetry is the embedded default wardwatch.Telemetry: positions, sensor
// readings and pump states in their own SQLite file. Writing a point whose
// series and millisecond are already stored replaces it, as InfluxDB does.
// It is safe for concurrent use.
type Telemetry struct {
	db       *dbsql.DB
	rejected *prometheus.CounterVec // nil without WithTelemetryMetrics
}

var _ wardwatch.Telemetry = (*Telemetry)(nil)

// TelemetryOption configures OpenTelemetry.
type TelemetryOption func(*Telemetry) error

// WithTelemetryMetrics registers the store's metrics on reg:
// wardwatch_telemetry_points_rejected_total{kind, reason} counts the points
// refused by the Write methods (kind: reading, position, pump_state; reason:
// nan, inf, too_long, invalid).
func WithTelemetryMetrics(reg prometheus.Registerer) TelemetryOption {
	return func(t *Telemetry) error {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_telemetry_points_rejected_total",
			Help: "Points the embedded telemetry store refused, by kind and reason.",
		}, []string{"kind", "reason"})
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return fmt.Errorf("register telemetry metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return fmt.Errorf("register telemetry metrics: %w", err)
			}
			c = existing
		}
		t.rejected = c
		return nil
	}
}

// OpenTelemetry opens (creating it and its parent directory if needed) the
// telemetry database at path, a file path or a "file:" URI, and applies its
// migrations.
func OpenTelemetry(ctx context.Context, path string, opts ...TelemetryOption) (*Telemetry, error) {
	t := &Telemetry{}
	for _, o := range opts {
		if err := o(t); err != nil {
			return nil, err
		}
	}
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
	t.db = db
	return t, nil
}

// countRejected adds rs to the rejected-points counter, if there is one.
func (t *Telemetry) countRejected(kind string, rs rejections) {
	if t.rejected == nil {
		return
	}
	for _, r := range rs {
		t.rejected.WithLabelValues(kind, r.Reason).Inc()
	}
}

// WritePositions stores ps, keeping times to the millisecond. A position
// whose asset, tag and millisecond are stored already replaces it. Positions
// that are invalid (no tag, a coordinate or confidence that is NaN or
// infinite, a string too long, a time before 1970) are left out and
// reported in an EINVALID error; the others are stored in one transaction.
func (t *Telemetry) WritePositions(ctx context.Context, ps []wardwatch.Position) error {
	var bad rejections
	good := make([]wardwatch.Position, 0, len(ps))
	for i, p := range ps {
		if reason, detail := checkPosition(p); !bad.add("position", i, reason, detail) {
			good = append(good, p)
		}
	}
	t.countRejected("position", bad)
	if len(good) > 0 {
		if err := t.writePositions(ctx, good); err != nil {
			return err
		}
	}
	return bad.err(len(ps))
}

func (t *Telemetry) writePositions(ctx context.Context, ps []wardwatch.Position) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write positions: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO positions (ts, tag_id, asset_id, floor_id, x, y, zone_id, confidence, solver, state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (asset_id, tag_id, ts) DO UPDATE SET
			floor_id = excluded.floor_id, x = excluded.x, y = excluded.y, zone_id = excluded.zone_id,
			confidence = excluded.confidence, solver = excluded.solver, state = excluded.state`)
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

// Positions returns the stored positions q selects, oldest first (ties in
// asset then tag order). A zero q.From or q.To leaves that end of the range
// open; a zero q.Limit means DefaultPositionLimit.
func (t *Telemetry) Positions(ctx context.Context, q wardwatch.PositionQuery) ([]wardwatch.Position, error) {
	if q.Limit < 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "limit must not be negative, got %d", q.Limit)
	}
	if err := checkRange(q.From, q.To); err != nil {
		return nil, err
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
		where, args = append(where, "ts >= ?"), append(args, ceilMillis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "ts < ?"), append(args, ceilMillis(q.To))
	}
	query := `SELECT ` + positionColumns + ` FROM positions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY ts, asset_id, tag_id LIMIT ?`
	args = append(args, limit)
	ps, err := t.queryPositions(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query positions: %w", err)
	}
	return ps, nil
}

// LatestPositions returns each asset's newest position at or after since,
// ordered by asset. When an asset's tags have positions at the same newest
// millisecond, the one with the greatest tag ID is returned.
func (t *Telemetry) LatestPositions(ctx context.Context, since time.Time) ([]wardwatch.Position, error) {
	ps, err := t.queryPositions(ctx,
		`SELECT `+positionColumns+` FROM positions p
		WHERE p.ts >= ? AND p.id = (
			SELECT q.id FROM positions q WHERE q.asset_id = p.asset_id ORDER BY q.ts DESC, q.tag_id DESC LIMIT 1
		)
		ORDER BY p.asset_id`, ceilMillis(since))
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

// checkRange refuses a time range that ends before it starts. A zero from
// or to is an open end.
func checkRange(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return wardwatch.Errorf(wardwatch.EINVALID, "time range ends before it starts")
	}
	return nil
}

// ceilMillis is t in unix milliseconds, rounded up: stored times are whole
// milliseconds, so "ts >= ceilMillis(from)" and "ts < ceilMillis(to)" select
// exactly the points with from ≤ time < to.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.Sub(time.UnixMilli(ms)) > 0 {
		ms++
	}
	return ms
}
