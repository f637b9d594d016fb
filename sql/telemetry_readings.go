package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// DefaultReadingLimit is how many readings Telemetry.Readings returns at most
// when the query sets no limit.
const DefaultReadingLimit = 10000

// WriteReadings stores rs, keeping times to the millisecond. A reading whose
// sensor, metric and millisecond are stored already replaces it (if that
// millisecond holds a downsampled summary, the reading is merged into it).
// Readings that are invalid (a value that is NaN or infinite, no sensor, an
// unknown metric, a time before 1970…) are left out and reported in an
// EINVALID error; the others are stored in one transaction.
func (t *Telemetry) WriteReadings(ctx context.Context, rs []wardwatch.Reading) error {
	var bad rejections
	good := make([]wardwatch.Reading, 0, len(rs))
	for i, r := range rs {
		if reason, detail := checkReading(r); !bad.add("reading", i, reason, detail) {
			good = append(good, r)
		}
	}
	t.countRejected("reading", bad)
	if len(good) > 0 {
		if err := t.writeReadings(ctx, good); err != nil {
			return err
		}
	}
	return bad.err(len(rs))
}

func (t *Telemetry) writeReadings(ctx context.Context, rs []wardwatch.Reading) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("write readings: %w", err)
	}
	defer tx.Rollback() // a no-op after Commit
	// A raw reading replaces a raw reading; it is merged into a downsampled
	// summary (period > 0), so a late reading never erases one.
	stmt, err := tx.PrepareContext(ctx,
		`INSERT INTO readings (sensor_id, metric, ts, value, min, max, n, period)
		VALUES (?, ?, ?, ?, ?, ?, 1, 0)
		ON CONFLICT (sensor_id, metric, ts) DO UPDATE SET
			value = CASE WHEN period = 0 THEN excluded.value ELSE (value * n + excluded.value) / (n + 1) END,
			min   = CASE WHEN period = 0 THEN excluded.value ELSE MIN(min, excluded.value) END,
			max   = CASE WHEN period = 0 THEN excluded.value ELSE MAX(max, excluded.value) END,
			n     = CASE WHEN period = 0 THEN 1 ELSE n + 1 END`)
	if err != nil {
		return fmt.Errorf("write readings: %w", err)
	}
	defer stmt.Close()
	for _, r := range rs {
		if _, err := stmt.ExecContext(ctx, r.SensorID, string(r.Metric), millis(r.Time), r.Value, r.Value, r.Value); err != nil {
			return fmt.Errorf("write readings: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("write readings: %w", err)
	}
	return nil
}

// checkSeriesQuery validates the parts of q both reading queries use.
func checkSeriesQuery(q wardwatch.SeriesQuery) error {
	if q.SensorID == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "no sensor given")
	}
	if !q.Metric.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown metric %q", truncate(string(q.Metric)))
	}
	if q.Limit < 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "limit must not be negative, got %d", q.Limit)
	}
	return checkRange(q.From, q.To)
}

// seriesWhere is the WHERE clause and its arguments selecting q's rows.
func seriesWhere(q wardwatch.SeriesQuery) (string, []any) {
	where := []string{"sensor_id = ?", "metric = ?"}
	args := []any{q.SensorID, string(q.Metric)}
	if !q.From.IsZero() {
		where, args = append(where, "ts >= ?"), append(args, ceilMillis(q.From))
	}
	if !q.To.IsZero() {
		where, args = append(where, "ts < ?"), append(args, ceilMillis(q.To))
	}
	return strings.Join(where, " AND "), args
}

// Readings returns the readings q selects, oldest first, ignoring
// q.Interval. A zero q.From or q.To leaves that end of the range open; a
// zero q.Limit means DefaultReadingLimit. Where readings have been
// downsampled, each interval's summary is returned as one reading at the
// interval's start whose value is the interval's mean.
func (t *Telemetry) Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error) {
	if err := checkSeriesQuery(q); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultReadingLimit
	}
	where, args := seriesWhere(q)
	rows, err := t.db.QueryContext(ctx, `SELECT ts, value FROM readings WHERE `+where+` ORDER BY ts LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	defer rows.Close()
	var rs []wardwatch.Reading
	for rows.Next() {
		r := wardwatch.Reading{SensorID: q.SensorID, Metric: q.Metric}
		var ts int64
		if err := rows.Scan(&ts, &r.Value); err != nil {
			return nil, fmt.Errorf("query readings: %w", err)
		}
		r.Time = fromMillis(ts)
		rs = append(rs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query readings: %w", err)
	}
	return rs, nil
}

// ReadingSeries summarises the readings q selects in buckets of q.Interval
// aligned to the Unix epoch, oldest first; buckets without readings are left
// out. q.Interval must be a positive whole number of milliseconds. Where
// readings have been downsampled, each summary counts in the bucket holding
// its interval's start, with its min, max and weighted mean: exact when
// q.Interval is a multiple of the downsampling interval.
func (t *Telemetry) ReadingSeries(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.SeriesBucket, error) {
	if err := checkSeriesQuery(q); err != nil {
		return nil, err
	}
	if err := checkInterval(q.Interval); err != nil {
		return nil, err
	}
	where, args := seriesWhere(q)
	iv := q.Interval.Milliseconds()
	rows, err := t.db.QueryContext(ctx,
		`SELECT ts - ts % ? AS bucket, MIN(min), MAX(max), SUM(value * n), SUM(n)
		FROM readings WHERE `+where+` GROUP BY bucket ORDER BY bucket`, append([]any{iv}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("query reading series: %w", err)
	}
	defer rows.Close()
	var bs []wardwatch.SeriesBucket
	for rows.Next() {
		var (
			b        wardwatch.SeriesBucket
			start, n int64
			sum      float64
			lo, hi   float64
		)
		if err := rows.Scan(&start, &lo, &hi, &sum, &n); err != nil {
			return nil, fmt.Errorf("query reading series: %w", err)
		}
		b.Start, b.Min, b.Max, b.Count = fromMillis(start), lo, hi, int(n)
		b.Mean = sum / float64(n)
		bs = append(bs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query reading series: %w", err)
	}
	return bs, nil
}

// checkInterval refuses a bucket width that is not a positive whole number
// of milliseconds.
func checkInterval(d time.Duration) error {
	if d <= 0 || d%time.Millisecond != 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "the interval must be a positive whole number of milliseconds, got %s", d)
	}
	return nil
}
