package sql

import (
	"context"
	"fmt"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Retention limits (see docs/TELEMETRY.md).
const (
	// MinReadingRetention is the shortest time sensor readings may be kept:
	// cold-chain and HVAC logs are compliance records, kept 3 years by
	// default (domain-requirements §1).
	MinReadingRetention = 3 * 365 * 24 * time.Hour
	// ComplianceInterval is the coarsest resolution compliance metrics
	// are ever downsampled to: logs must hold a value at least every 15
	// minutes (domain-requirements §1, "Sampling and logging").
	ComplianceInterval = 15 * time.Minute
	// MinDownsampleAfter is the youngest age at which readings may be
	// downsampled.
	MinDownsampleAfter = 24 * time.Hour
)

// RetentionPolicy says how long the embedded telemetry store keeps each
// series and when it downsamples readings. A zero duration keeps that
// series for ever (or, for DownsampleAfter, never downsamples).
type RetentionPolicy struct {
	Positions  time.Duration // positions older than this are deleted
	Readings   time.Duration // readings older than this are deleted; 0 or ≥ MinReadingRetention
	PumpStates time.Duration // pump states older than this are deleted

	// DownsampleAfter is the age past which raw readings are replaced by
	// one summary (min, max, mean, count) per DownsampleInterval, aligned
	// to the Unix epoch. For compliance metrics (see ComplianceMetric) the
	// interval is clamped to at most ComplianceInterval.
	DownsampleAfter    time.Duration
	DownsampleInterval time.Duration // 0 means ComplianceInterval
}

// DefaultRetentionPolicy keeps positions 30 days, readings and pump states 3
// years, and downsamples readings older than 90 days to 15-minute summaries.
var DefaultRetentionPolicy = RetentionPolicy{
	Positions:          30 * 24 * time.Hour,
	Readings:           MinReadingRetention,
	PumpStates:         MinReadingRetention,
	DownsampleAfter:    90 * 24 * time.Hour,
	DownsampleInterval: ComplianceInterval,
}

// ComplianceMetric reports whether m's readings are compliance records,
// never downsampled coarser than ComplianceInterval: temperature, humidity,
// differential pressure and air changes.
func ComplianceMetric(m wardwatch.Metric) bool {
	switch m {
	case wardwatch.MetricTemperature, wardwatch.MetricHumidity, wardwatch.MetricPressure, wardwatch.MetricAirChanges:
		return true
	}
	return false
}

// Validate reports whether p can be applied.
func (p RetentionPolicy) Validate() error {
	for _, d := range []struct {
		name string
		d    time.Duration
	}{{"positions", p.Positions}, {"readings", p.Readings}, {"pump states", p.PumpStates},
		{"downsample after", p.DownsampleAfter}, {"downsample interval", p.DownsampleInterval}} {
		if d.d < 0 {
			return wardwatch.Errorf(wardwatch.EINVALID, "retention: %s must not be negative, got %s", d.name, d.d)
		}
	}
	if p.Readings != 0 && p.Readings < MinReadingRetention {
		return wardwatch.Errorf(wardwatch.EINVALID, "retention: readings are compliance records kept at least %s, got %s", MinReadingRetention, p.Readings)
	}
	if p.DownsampleAfter != 0 && p.DownsampleAfter < MinDownsampleAfter {
		return wardwatch.Errorf(wardwatch.EINVALID, "retention: downsample after must be at least %s, got %s", MinDownsampleAfter, p.DownsampleAfter)
	}
	if p.DownsampleInterval != 0 {
		if err := checkInterval(p.DownsampleInterval); err != nil {
			return wardwatch.Errorf(wardwatch.EINVALID, "retention: downsample interval: %s", wardwatch.ErrorMessage(err))
		}
		if p.DownsampleInterval > p.DownsampleAfter && p.DownsampleAfter != 0 {
			return wardwatch.Errorf(wardwatch.EINVALID, "retention: downsample interval %s is longer than downsample after %s", p.DownsampleInterval, p.DownsampleAfter)
		}
	}
	return nil
}

// DownsampleIntervalFor is the interval m's readings are downsampled to
// under p: p.DownsampleInterval (ComplianceInterval when 0), clamped to at
// most ComplianceInterval for compliance metrics.
func (p RetentionPolicy) DownsampleIntervalFor(m wardwatch.Metric) time.Duration {
	d := p.DownsampleInterval
	if d == 0 {
		d = ComplianceInterval
	}
	if ComplianceMetric(m) && d > ComplianceInterval {
		d = ComplianceInterval
	}
	return d
}

// RetentionResult counts what ApplyRetention did.
type RetentionResult struct {
	PositionsDeleted   int64
	ReadingsDeleted    int64
	PumpStatesDeleted  int64
	ReadingsSummarised int64 // raw readings (and older summaries) folded into summaries
	SummariesWritten   int64
}

// downsampleChunk is how much time one downsampling transaction covers.
const downsampleChunk = 6 * time.Hour

// ApplyRetention deletes what p says is too old at now and downsamples the
// readings older than p.DownsampleAfter, one transaction per metric and
// six hours of data, so that it can be stopped (through ctx) and resumed.
// Only whole intervals are summarised; a reading that arrives later for a
// summarised interval is merged into its summary on the next run.
func (t *Telemetry) ApplyRetention(ctx context.Context, p RetentionPolicy, now time.Time) (RetentionResult, error) {
	var res RetentionResult
	if err := p.Validate(); err != nil {
		return res, err
	}
	for _, d := range []struct {
		table string
		keep  time.Duration
		n     *int64
	}{{"positions", p.Positions, &res.PositionsDeleted}, {"readings", p.Readings, &res.ReadingsDeleted}, {"pump_states", p.PumpStates, &res.PumpStatesDeleted}} {
		if d.keep == 0 {
			continue
		}
		r, err := t.db.ExecContext(ctx, `DELETE FROM `+d.table+` WHERE ts < ?`, millis(now.Add(-d.keep)))
		if err != nil {
			return res, fmt.Errorf("retention: delete old %s: %w", d.table, err)
		}
		if *d.n, err = r.RowsAffected(); err != nil {
			return res, fmt.Errorf("retention: delete old %s: %w", d.table, err)
		}
	}
	if p.DownsampleAfter == 0 {
		return res, nil
	}
	cutoff := millis(now.Add(-p.DownsampleAfter))
	for _, m := range wardwatch.Metrics() {
		if err := t.downsample(ctx, m, p.DownsampleIntervalFor(m).Milliseconds(), cutoff, &res); err != nil {
			return res, err
		}
	}
	return res, nil
}

// downsample replaces metric m's rows older than cutoff (unix ms), in the
// whole iv-millisecond intervals that hold a row finer than iv, by one
// summary per sensor and interval.
func (t *Telemetry) downsample(ctx context.Context, m wardwatch.Metric, iv, cutoff int64, res *RetentionResult) error {
	end := cutoff - cutoff%iv // only whole intervals
	var oldest *int64
	if err := t.db.QueryRowContext(ctx,
		`SELECT MIN(ts) FROM readings WHERE metric = ? AND ts < ? AND period < ?`, string(m), end, iv,
	).Scan(&oldest); err != nil {
		return fmt.Errorf("retention: downsample %s: %w", m, err)
	}
	if oldest == nil {
		return nil
	}
	chunk := downsampleChunk.Milliseconds()
	chunk += (iv - chunk%iv) % iv // a whole number of intervals
	for from := *oldest - *oldest%iv; from < end; from += chunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := min(from+chunk, end)
		if err := t.downsampleChunk(ctx, m, iv, from, to, res); err != nil {
			return fmt.Errorf("retention: downsample %s: %w", m, err)
		}
	}
	return nil
}

// summary is one downsampled interval of one sensor.
type summary struct {
	sensor       string
	start        int64
	mean, lo, hi float64
	n            int64
	period       int64 // the coarsest period folded in
}

// downsampleChunk summarises metric m's intervals in [from, to) in one
// transaction.
func (t *Telemetry) downsampleChunk(ctx context.Context, m wardwatch.Metric, iv, from, to int64, res *RetentionResult) error {
	tx, err := t.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // a no-op after Commit
	rows, err := tx.QueryContext(ctx,
		`SELECT sensor_id, ts - ts % ? AS bucket, SUM(value * n) / SUM(n), MIN(min), MAX(max), SUM(n), COUNT(*), MAX(period)
		FROM readings WHERE metric = ? AND ts >= ? AND ts < ?
		GROUP BY sensor_id, bucket HAVING MIN(period) < ?`, iv, string(m), from, to, iv)
	if err != nil {
		return err
	}
	var (
		sums       []summary
		rowsFolded int64
	)
	for rows.Next() {
		var (
			s    summary
			rowN int64
		)
		if err := rows.Scan(&s.sensor, &s.start, &s.mean, &s.lo, &s.hi, &s.n, &rowN, &s.period); err != nil {
			rows.Close()
			return err
		}
		sums = append(sums, s)
		rowsFolded += rowN
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(sums) == 0 {
		return nil
	}
	del, err := tx.PrepareContext(ctx, `DELETE FROM readings WHERE sensor_id = ? AND metric = ? AND ts >= ? AND ts < ?`)
	if err != nil {
		return err
	}
	defer del.Close()
	ins, err := tx.PrepareContext(ctx,
		`INSERT INTO readings (sensor_id, metric, ts, value, min, max, n, period) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, s := range sums {
		if _, err := del.ExecContext(ctx, s.sensor, string(m), s.start, s.start+iv); err != nil {
			return err
		}
		// A summary coarser than iv (the interval was shortened since) keeps
		// its period: it still covers that long.
		if _, err := ins.ExecContext(ctx, s.sensor, string(m), s.start, s.mean, s.lo, s.hi, s.n, max(s.period, iv)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	res.ReadingsSummarised += rowsFolded
	res.SummariesWritten += int64(len(sums))
	return nil
}
