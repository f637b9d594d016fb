package influx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	ihttp "github.com/influxdata/influxdb-client-go/v2/api/http"
	"github.com/influxdata/influxdb-client-go/v2/api/query"

	"github.com/wardwatch/wardwatch"
)

// Default limits of the queries, as in the embedded store.
const (
	DefaultPositionLimit  = 10000
	DefaultReadingLimit   = 10000
	DefaultPumpStateLimit = 10000
)

// fluxString quotes s as a Flux string literal.
func fluxString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '$':
			if i+1 < len(s) && s[i+1] == '{' {
				b.WriteByte('\\') // "${" would start an interpolation
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// fluxTime is t as a Flux time literal.
func fluxTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// Flux's range for an open end: the epoch (no point is older, see
// checkTime) and the last nanosecond InfluxDB can store.
var (
	rangeMin = time.Unix(0, 0).UTC()
	rangeMax = time.Unix(0, math.MaxInt64).UTC()
)

// fluxRange is the range() call for from ≤ time < to, zero meaning open.
// Bounds are rounded up to the millisecond, as stored times are whole
// milliseconds. empty reports a range that holds nothing.
func fluxRange(from, to time.Time) (call string, empty bool) {
	start, stop := rangeMin, rangeMax
	if !from.IsZero() {
		start = ceilMillis(from)
	}
	if !to.IsZero() {
		stop = ceilMillis(to)
	}
	if start.Before(rangeMin) {
		start = rangeMin
	}
	if !stop.After(start) {
		return "", true
	}
	// InfluxDB 1.8 includes points at stop (Flux says exclusive): stop a
	// nanosecond early, which changes nothing where stop is exclusive, as
	// stored times are whole milliseconds.
	if !to.IsZero() {
		stop = stop.Add(-time.Nanosecond)
	}
	return fmt.Sprintf("range(start: %s, stop: %s)", fluxTime(start), fluxTime(stop)), false
}

// ceilMillis rounds t up to the millisecond.
func ceilMillis(t time.Time) time.Time {
	if tt := t.Truncate(time.Millisecond); !tt.Equal(t) {
		return tt.Add(time.Millisecond)
	}
	return t
}

// checkRange refuses a time range that ends before it starts.
func checkRange(from, to time.Time) error {
	if !from.IsZero() && !to.IsZero() && to.Before(from) {
		return wardwatch.Errorf(wardwatch.EINVALID, "time range ends before it starts")
	}
	return nil
}

func checkLimit(limit, def int) (int, error) {
	if limit < 0 {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "limit must not be negative, got %d", limit)
	}
	if limit == 0 {
		return def, nil
	}
	return limit, nil
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

// checkInterval refuses a bucket width that is not a positive whole number
// of milliseconds.
func checkInterval(d time.Duration) error {
	if d <= 0 || d%time.Millisecond != 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "the interval must be a positive whole number of milliseconds, got %s", d)
	}
	return nil
}

// from is the start of every query: the bucket and a range.
func (s *Store) from(rng string) string {
	return "from(bucket: " + fluxString(s.cfg.Bucket) + ")\n  |> " + rng + "\n"
}

// run runs a Flux query and calls each for every record.
func (s *Store) run(ctx context.Context, what, flux string, each func(*query.FluxRecord) error) error {
	res, err := s.query.Query(ctx, flux)
	if err != nil {
		return s.queryError(ctx, what, err)
	}
	defer res.Close()
	for res.Next() {
		if err := each(res.Record()); err != nil {
			return fmt.Errorf("query %s: %w", what, err)
		}
	}
	if err := res.Err(); err != nil {
		return s.queryError(ctx, what, err)
	}
	return nil
}

// queryError classifies a failed query: InfluxDB down or overloaded is
// EUNAVAILABLE; anything else (a query InfluxDB refuses) is our fault.
func (s *Store) queryError(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var he *ihttp.Error
	if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 && he.StatusCode != 429 &&
		he.StatusCode != 401 && he.StatusCode != 403 && he.StatusCode != 404 {
		return fmt.Errorf("query %s: %w", what, err)
	}
	s.logger.Warn("influx: query failed", "query", what, "err", err)
	return unavailable(what, err)
}

// Record accessors. A missing or null column reads as NaN, 0 or "".

func recFloat(r *query.FluxRecord, k string) (float64, error) {
	switch v := r.ValueByKey(k).(type) {
	case nil:
		return math.NaN(), nil
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	default:
		return 0, fmt.Errorf("column %s is %T, want a float", k, v)
	}
}

func recInt(r *query.FluxRecord, k string) (int64, error) {
	switch v := r.ValueByKey(k).(type) {
	case nil:
		return 0, nil
	case int64:
		return v, nil
	case uint64:
		return int64(v), nil
	case string: // a tag
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("column %s is %q, want an integer", k, v)
		}
		return n, nil
	default:
		return 0, fmt.Errorf("column %s is %T, want an integer", k, v)
	}
}

func recString(r *query.FluxRecord, k string) (string, error) {
	switch v := r.ValueByKey(k).(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("column %s is %T, want a string", k, v)
	}
}

func recBool(r *query.FluxRecord, k string) (bool, error) {
	switch v := r.ValueByKey(k).(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	default:
		return false, fmt.Errorf("column %s is %T, want a boolean", k, v)
	}
}

func recTime(r *query.FluxRecord, k string) (time.Time, error) {
	v, ok := r.ValueByKey(k).(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("column %s is %T, want a time", k, r.ValueByKey(k))
	}
	return v.UTC(), nil
}

// Readings returns the readings q selects, oldest first, ignoring
// q.Interval; a zero q.Limit means DefaultReadingLimit.
func (s *Store) Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error) {
	if err := checkSeriesQuery(q); err != nil {
		return nil, err
	}
	limit, _ := checkLimit(q.Limit, DefaultReadingLimit)
	rng, empty := fluxRange(q.From, q.To)
	if empty {
		return nil, nil
	}
	flux := s.from(rng) + fmt.Sprintf(`  |> filter(fn: (r) => r._measurement == %q and r.metric == %s and r.sensor == %s and r._field == "value")
  |> group()
  |> sort(columns: ["_time"])
  |> limit(n: %d)
  |> keep(columns: ["_time", "_value"])`, measReading, fluxString(string(q.Metric)), fluxString(q.SensorID), limit)
	var rs []wardwatch.Reading
	err := s.run(ctx, "readings", flux, func(r *query.FluxRecord) error {
		t, err := recTime(r, "_time")
		if err != nil {
			return err
		}
		v, err := recFloat(r, "_value")
		if err != nil {
			return err
		}
		rs = append(rs, wardwatch.Reading{Time: t, SensorID: q.SensorID, Metric: q.Metric, Value: v})
		return nil
	})
	return rs, err
}

// ReadingSeries summarises the readings q selects in buckets of q.Interval
// aligned to the Unix epoch, oldest first, leaving out empty buckets.
func (s *Store) ReadingSeries(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.SeriesBucket, error) {
	if err := checkSeriesQuery(q); err != nil {
		return nil, err
	}
	if err := checkInterval(q.Interval); err != nil {
		return nil, err
	}
	rng, empty := fluxRange(q.From, q.To)
	if empty {
		return nil, nil
	}
	iv := q.Interval.Milliseconds()
	// One pass per window: count, sum, min and max. Windows are aligned to
	// the epoch; the first one's _start is clamped to the range's start,
	// so the bucket start is recomputed below.
	flux := s.from(rng) + fmt.Sprintf(`  |> filter(fn: (r) => r._measurement == %q and r.metric == %s and r.sensor == %s and r._field == "value")
  |> window(every: %dms)
  |> reduce(identity: {n: 0, sum: 0.0, lo: 0.0, hi: 0.0}, fn: (r, accumulator) => ({
      n: accumulator.n + 1,
      sum: accumulator.sum + r._value,
      lo: if accumulator.n == 0 or r._value < accumulator.lo then r._value else accumulator.lo,
      hi: if accumulator.n == 0 or r._value > accumulator.hi then r._value else accumulator.hi}))
  |> keep(columns: ["_start", "n", "sum", "lo", "hi"])`, measReading, fluxString(string(q.Metric)), fluxString(q.SensorID), iv)
	type acc struct {
		n           int64
		sum, lo, hi float64
	}
	buckets := map[int64]*acc{}
	err := s.run(ctx, "reading series", flux, func(r *query.FluxRecord) error {
		start, err := recTime(r, "_start")
		if err != nil {
			return err
		}
		n, err := recInt(r, "n")
		if err != nil {
			return err
		}
		sum, err := recFloat(r, "sum")
		if err != nil {
			return err
		}
		lo, err := recFloat(r, "lo")
		if err != nil {
			return err
		}
		hi, err := recFloat(r, "hi")
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		ms := start.UnixMilli()
		key := ms - ms%iv
		// Several series (extra tags written by something else) share a
		// bucket: merge them.
		if a, ok := buckets[key]; ok {
			a.n, a.sum, a.lo, a.hi = a.n+n, a.sum+sum, min(a.lo, lo), max(a.hi, hi)
		} else {
			buckets[key] = &acc{n: n, sum: sum, lo: lo, hi: hi}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	bs := make([]wardwatch.SeriesBucket, 0, len(buckets))
	for start, a := range buckets {
		bs = append(bs, wardwatch.SeriesBucket{Start: time.UnixMilli(start).UTC(), Min: a.lo, Max: a.hi, Mean: a.sum / float64(a.n), Count: int(a.n)})
	}
	slices.SortFunc(bs, func(a, b wardwatch.SeriesBucket) int { return a.Start.Compare(b.Start) })
	if len(bs) == 0 {
		return nil, nil
	}
	return bs, nil
}

// positionFromRecord decodes a pivoted position row.
func positionFromRecord(r *query.FluxRecord) (wardwatch.Position, error) {
	var (
		p     wardwatch.Position
		state string
		err   error
	)
	if p.Time, err = recTime(r, "_time"); err != nil {
		return p, err
	}
	if p.TagID, err = recString(r, "tag"); err != nil {
		return p, err
	}
	if p.AssetID, err = recInt(r, "asset"); err != nil {
		return p, err
	}
	if p.FloorID, err = recInt(r, "floor"); err != nil {
		return p, err
	}
	if p.ZoneID, err = recInt(r, "zone"); err != nil {
		return p, err
	}
	if p.At.X, err = recFloat(r, "x"); err != nil {
		return p, err
	}
	if p.At.Y, err = recFloat(r, "y"); err != nil {
		return p, err
	}
	if p.Confidence, err = recFloat(r, "confidence"); err != nil {
		return p, err
	}
	if p.Solver, err = recString(r, "solver"); err != nil {
		return p, err
	}
	if state, err = recString(r, "state"); err != nil {
		return p, err
	}
	p.State = wardwatch.TagState(state)
	return p, nil
}

// Positions returns the positions q selects, oldest first (ties in asset
// then tag order); a zero q.Limit means DefaultPositionLimit.
func (s *Store) Positions(ctx context.Context, q wardwatch.PositionQuery) ([]wardwatch.Position, error) {
	limit, err := checkLimit(q.Limit, DefaultPositionLimit)
	if err != nil {
		return nil, err
	}
	if err := checkRange(q.From, q.To); err != nil {
		return nil, err
	}
	rng, empty := fluxRange(q.From, q.To)
	if empty {
		return nil, nil
	}
	filter := fmt.Sprintf("r._measurement == %q", measPosition)
	if q.AssetID != 0 {
		filter += " and r.asset == " + fluxString(strconv.FormatInt(q.AssetID, 10))
	}
	flux := s.from(rng) + fmt.Sprintf(`  |> filter(fn: (r) => %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> map(fn: (r) => ({r with asset_id: int(v: r.asset)}))
  |> sort(columns: ["_time", "asset_id", "tag"])
  |> limit(n: %d)`, filter, limit)
	var ps []wardwatch.Position
	err = s.run(ctx, "positions", flux, func(r *query.FluxRecord) error {
		p, err := positionFromRecord(r)
		ps = append(ps, p)
		return err
	})
	return ps, err
}

// LatestPositions returns each asset's newest position at or after since,
// ordered by asset; between an asset's tags at the same newest millisecond,
// the greatest tag ID wins.
func (s *Store) LatestPositions(ctx context.Context, since time.Time) ([]wardwatch.Position, error) {
	rng, empty := fluxRange(since, time.Time{})
	if empty {
		return nil, nil
	}
	flux := s.from(rng) + fmt.Sprintf(`  |> filter(fn: (r) => r._measurement == %q)
  |> last()
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group(columns: ["asset"])
  |> sort(columns: ["_time", "tag"])
  |> last(column: "_time")
  |> group()`, measPosition)
	var ps []wardwatch.Position
	err := s.run(ctx, "latest positions", flux, func(r *query.FluxRecord) error {
		p, err := positionFromRecord(r)
		ps = append(ps, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(ps, func(a, b wardwatch.Position) int { return cmpInt(a.AssetID, b.AssetID) })
	return ps, nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// PumpStates returns the states of pump q.Serial that q selects, oldest
// first (ties in target order); a zero q.Limit means DefaultPumpStateLimit.
// Numbers the pump did not report are NaN.
func (s *Store) PumpStates(ctx context.Context, q wardwatch.PumpQuery) ([]wardwatch.PumpState, error) {
	if q.Serial == "" {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "no pump serial given")
	}
	limit, err := checkLimit(q.Limit, DefaultPumpStateLimit)
	if err != nil {
		return nil, err
	}
	if err := checkRange(q.From, q.To); err != nil {
		return nil, err
	}
	rng, empty := fluxRange(q.From, q.To)
	if empty {
		return nil, nil
	}
	flux := s.from(rng) + fmt.Sprintf(`  |> filter(fn: (r) => r._measurement == %q and r.serial == %s)
  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")
  |> group()
  |> map(fn: (r) => ({r with target_id: int(v: r.target)}))
  |> sort(columns: ["_time", "target_id"])
  |> limit(n: %d)`, measPump, fluxString(q.Serial), limit)
	var ps []wardwatch.PumpState
	err = s.run(ctx, "pump states", flux, func(r *query.FluxRecord) error {
		p := wardwatch.PumpState{Serial: q.Serial}
		var (
			err            error
			status, alarms string
		)
		if p.Time, err = recTime(r, "_time"); err != nil {
			return err
		}
		if p.TargetID, err = recInt(r, "target"); err != nil {
			return err
		}
		for _, f := range []struct {
			k string
			v *string
		}{{"model", &p.Model}, {"status", &status}, {"alarms", &alarms}, {"firmware", &p.Firmware},
			{"drug_library", &p.DrugLibrary}, {"drug_library_version", &p.DrugLibraryVersion}} {
			if *f.v, err = recString(r, f.k); err != nil {
				return err
			}
		}
		p.Status = wardwatch.PumpStatus(status)
		if p.OnAC, err = recBool(r, "on_ac"); err != nil {
			return err
		}
		for _, f := range []struct {
			k string
			v *float64
		}{{"battery", &p.Battery}, {"rate", &p.Rate}, {"vtbi", &p.VTBI}, {"infused", &p.Infused}} {
			if *f.v, err = recFloat(r, f.k); err != nil {
				return err
			}
		}
		if p.Alarms, err = decodePumpAlarms(alarms); err != nil {
			return fmt.Errorf("alarms of %q at %s: %w", q.Serial, p.Time, err)
		}
		ps = append(ps, p)
		return nil
	})
	return ps, err
}
