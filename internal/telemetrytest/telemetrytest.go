// Package telemetrytest is the contract every wardwatch.Telemetry
// implementation must meet: the embedded SQLite store (sql.Telemetry) and
// the InfluxDB store (influx.Store) run the same suite, so that WardWatch
// answers the same questions the same way whichever one it uses.
//
// The contract, beyond the interface's doc comments:
//   - times are kept to the millisecond (truncated) and returned in UTC;
//   - a point written again with the same series and millisecond is stored
//     once (the later write wins), as InfluxDB overwrites such points;
//   - a Write with some invalid points (NaN or infinite numbers, empty or
//     oversize identifiers, unknown metrics or statuses, times before 1970)
//     stores the others and returns an EINVALID error;
//   - query results are oldest first; ties between positions are in asset
//     then tag order, ties between pump states in target order;
//   - series buckets are aligned to the Unix epoch, empty ones left out;
//   - queries with a reversed range, a negative limit or a bad interval fail
//     with EINVALID; an empty range returns nothing.
//
// A store that writes asynchronously (InfluxDB through its spool) must have
// a Flush(context.Context) error method that returns once everything
// written before it is visible to queries; the suite calls it before every
// query.
package telemetrytest

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Flusher is implemented by stores whose writes become visible to queries
// only after a while; Flush waits until they are.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Run runs the contract suite, calling open for a fresh, empty store in each
// subtest. open registers the store's cleanup with t.
func Run(t *testing.T, open func(t *testing.T) wardwatch.Telemetry) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, wardwatch.Telemetry)
	}{
		{"Positions", testPositions},
		{"PositionTies", testPositionTies},
		{"LatestPositions", testLatestPositions},
		{"Readings", testReadings},
		{"ReadingSeries", testReadingSeries},
		{"PumpStates", testPumpStates},
		{"ExactlyOnce", testExactlyOnce},
		{"Milliseconds", testMilliseconds},
		{"BadPoints", testBadPoints},
		{"QueryErrors", testQueryErrors},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// t0 is the suite's reference time.
var t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func flush(t *testing.T, tel wardwatch.Telemetry) {
	t.Helper()
	if f, ok := tel.(Flusher); ok {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		if err := f.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := wardwatch.ErrorCode(err); got != code {
		t.Fatalf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
	if code != "" && wardwatch.ErrorMessage(err) == "" {
		t.Fatalf("%s: error %v has no message", what, err)
	}
}

// positions returns n positions of asset's tag, one second apart from start.
func positions(asset int64, tag string, start time.Time, n int) []wardwatch.Position {
	ps := make([]wardwatch.Position, n)
	for i := range ps {
		ps[i] = wardwatch.Position{
			TagID:      tag,
			AssetID:    asset,
			FloorID:    2,
			At:         wardwatch.Point{X: 1.5 + float64(i), Y: 0.25 * float64(i)},
			ZoneID:     int64(i % 3),
			Confidence: 0.875,
			Solver:     "centroid",
			State:      wardwatch.StateMoving,
			Time:       start.Add(time.Duration(i) * time.Second),
		}
	}
	return ps
}

func tagOf(asset int64) string {
	return fmt.Sprintf("ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:%d", asset)
}

func testPositions(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	a, b := positions(1, tagOf(1), t0, 10), positions(2, tagOf(2), t0.Add(500*time.Millisecond), 10)
	b[3].ZoneID, b[3].State, b[3].Solver = 0, "", "" // empty strings and zero ids round-trip
	// Write interleaved and in two calls, so storage order is not time order.
	mustNil(t, "WritePositions(b)", tel.WritePositions(ctx, b))
	mustNil(t, "WritePositions(a)", tel.WritePositions(ctx, a))
	mustNil(t, "WritePositions(nil)", tel.WritePositions(ctx, nil))
	flush(t, tel)

	for _, tc := range []struct {
		name string
		q    wardwatch.PositionQuery
		want []wardwatch.Position
	}{
		{"one asset", wardwatch.PositionQuery{AssetID: 1}, a},
		{"other asset", wardwatch.PositionQuery{AssetID: 2}, b},
		{"unknown asset", wardwatch.PositionQuery{AssetID: 3}, nil},
		{"from inclusive, to exclusive", wardwatch.PositionQuery{AssetID: 1, From: t0.Add(2 * time.Second), To: t0.Add(5 * time.Second)}, a[2:5]},
		{"from only", wardwatch.PositionQuery{AssetID: 2, From: t0.Add(8 * time.Second)}, b[8:]},
		{"to only", wardwatch.PositionQuery{AssetID: 2, To: t0.Add(2 * time.Second)}, b[:2]},
		{"empty range", wardwatch.PositionQuery{From: t0.Add(time.Second), To: t0.Add(time.Second)}, nil},
		{"limit", wardwatch.PositionQuery{AssetID: 1, Limit: 3}, a[:3]},
		{"limit with range", wardwatch.PositionQuery{AssetID: 1, From: t0.Add(4 * time.Second), Limit: 2}, a[4:6]},
		{"all assets, oldest first", wardwatch.PositionQuery{From: t0.Add(time.Second), To: t0.Add(3 * time.Second)}, []wardwatch.Position{a[1], b[1], a[2], b[2]}},
		{"all assets, limit", wardwatch.PositionQuery{Limit: 3}, []wardwatch.Position{a[0], b[0], a[1]}},
		{"sub-millisecond bounds", wardwatch.PositionQuery{AssetID: 1, From: t0.Add(2*time.Second - time.Microsecond), To: t0.Add(3*time.Second + time.Microsecond)}, a[2:4]},
	} {
		got, err := tel.Positions(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: Positions: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Positions = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// testPositionTies checks the order of positions at the same millisecond:
// by asset ID (numerically), then tag ID.
func testPositionTies(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	p10 := positions(10, "epc:10", t0, 1)[0]
	p9b := positions(9, "epc:9b", t0, 1)[0]
	p9a := positions(9, "epc:9a", t0, 1)[0]
	p9a.At.X = 7
	early := positions(11, "epc:11", t0.Add(-time.Millisecond), 1)[0]
	mustNil(t, "WritePositions", tel.WritePositions(ctx, []wardwatch.Position{p10, p9b, early, p9a}))
	flush(t, tel)
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	mustNil(t, "Positions", err)
	want := []wardwatch.Position{early, p9a, p9b, p10}
	if !slices.Equal(got, want) {
		t.Fatalf("Positions = %+v\nwant %+v", got, want)
	}
	got, err = tel.Positions(ctx, wardwatch.PositionQuery{Limit: 2})
	mustNil(t, "Positions(limit 2)", err)
	if !slices.Equal(got, want[:2]) {
		t.Fatalf("Positions(limit 2) = %+v\nwant %+v", got, want[:2])
	}
	// LatestPositions: asset 9's two tags tie; the greater tag ID wins.
	latest, err := tel.LatestPositions(ctx, t0.Add(-time.Hour))
	mustNil(t, "LatestPositions", err)
	if want := []wardwatch.Position{p9b, p10, early}; !slices.Equal(latest, want) {
		t.Fatalf("LatestPositions = %+v\nwant %+v", latest, want)
	}
}

func testLatestPositions(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	all := append(positions(1, tagOf(1), t0, 5), positions(2, tagOf(2), t0.Add(-time.Hour), 3)...)
	all = append(all, positions(3, tagOf(3), t0.Add(2*time.Second), 2)...)
	all = append(all, positions(12, tagOf(12), t0.Add(-30*time.Second), 1)...)
	slices.Reverse(all) // insertion order must not matter
	mustNil(t, "WritePositions", tel.WritePositions(ctx, all))
	flush(t, tel)
	got, err := tel.LatestPositions(ctx, t0.Add(-time.Minute))
	mustNil(t, "LatestPositions", err)
	// Asset 2's newest position is an hour old: outside the window. Asset
	// 12 sorts after 3 (numerically).
	want := []wardwatch.Position{
		positions(1, tagOf(1), t0, 5)[4],
		positions(3, tagOf(3), t0.Add(2*time.Second), 2)[1],
		positions(12, tagOf(12), t0.Add(-30*time.Second), 1)[0],
	}
	if !slices.Equal(got, want) {
		t.Fatalf("LatestPositions = %+v\nwant %+v", got, want)
	}
	got, err = tel.LatestPositions(ctx, t0.Add(time.Hour))
	mustNil(t, "LatestPositions(future)", err)
	if len(got) != 0 {
		t.Fatalf("LatestPositions in the future = %+v, want none", got)
	}
	// since is inclusive.
	got, err = tel.LatestPositions(ctx, t0.Add(3*time.Second))
	mustNil(t, "LatestPositions(inclusive)", err)
	if len(got) != 2 || got[0].AssetID != 1 || got[1].AssetID != 3 {
		t.Fatalf("LatestPositions(since = newest of asset 3) = %+v, want assets 1 and 3", got)
	}
}

func reading(sensor string, m wardwatch.Metric, at time.Time, v float64) wardwatch.Reading {
	return wardwatch.Reading{Time: at, SensorID: sensor, Metric: m, Value: v}
}

func testReadings(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	const fridge = "pharmacy-fridge-1/probe"
	var want []wardwatch.Reading
	for i := range 20 {
		want = append(want, reading(fridge, wardwatch.MetricTemperature, t0.Add(time.Duration(i)*time.Minute), 4+0.125*float64(i)))
	}
	want[3].Value = -0.5
	want[4].Value = 1e-7
	want[5].Value = 123456.789
	others := []wardwatch.Reading{
		reading(fridge, wardwatch.MetricHumidity, t0, 40),                                  // same sensor, other metric
		reading("pharmacy-fridge-2/probe", wardwatch.MetricTemperature, t0, 5),             // other sensor
		reading("ward 4, bay=2/door", wardwatch.MetricDoorOpen, t0.Add(time.Second), 1),    // spaces, commas, equals
		reading(`room "4B-12"/dp`, wardwatch.MetricPressure, t0.Add(time.Second), -2.5),    // quotes
		reading("Kühlschrank ${x}/t", wardwatch.MetricTemperature, t0.Add(time.Second), 3), // UTF-8, a $ brace
	}
	rev := slices.Clone(want)
	slices.Reverse(rev)
	mustNil(t, "WriteReadings", tel.WriteReadings(ctx, append(rev[:10:10], others...)))
	mustNil(t, "WriteReadings", tel.WriteReadings(ctx, rev[10:]))
	mustNil(t, "WriteReadings(nil)", tel.WriteReadings(ctx, nil))
	flush(t, tel)

	q := wardwatch.SeriesQuery{SensorID: fridge, Metric: wardwatch.MetricTemperature}
	for _, tc := range []struct {
		name string
		q    func(wardwatch.SeriesQuery) wardwatch.SeriesQuery
		want []wardwatch.Reading
	}{
		{"all, oldest first", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { return q }, want},
		{"from inclusive, to exclusive", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery {
			q.From, q.To = t0.Add(2*time.Minute), t0.Add(5*time.Minute)
			return q
		}, want[2:5]},
		{"limit", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { q.Limit = 4; return q }, want[:4]},
		{"limit with range", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery {
			q.From, q.Limit = t0.Add(15*time.Minute), 3
			return q
		}, want[15:18]},
		{"interval ignored", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { q.Interval = time.Hour; return q }, want},
		{"empty range", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { q.From, q.To = t0, t0; return q }, nil},
		{"other metric", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { q.Metric = wardwatch.MetricHumidity; return q }, others[:1]},
		{"unknown sensor", func(q wardwatch.SeriesQuery) wardwatch.SeriesQuery { q.SensorID = "nobody"; return q }, nil},
	} {
		got, err := tel.Readings(ctx, tc.q(q))
		if err != nil {
			t.Fatalf("%s: Readings: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Readings = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	for _, r := range others[1:] {
		got, err := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: r.SensorID, Metric: r.Metric})
		if err != nil {
			t.Fatalf("Readings(%q): %v", r.SensorID, err)
		}
		if !slices.Equal(got, []wardwatch.Reading{r}) {
			t.Errorf("Readings(%q) = %+v, want %+v", r.SensorID, got, r)
		}
	}
}

func testReadingSeries(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	const s = "hvac/or-3/temp"
	m := wardwatch.MetricTemperature
	// 7-minute buckets do not divide an hour: aligned to the Unix epoch,
	// base is a bucket start that is not on the hour.
	iv := 7 * time.Minute
	ms := t0.UnixMilli()
	base := time.UnixMilli(ms - ms%iv.Milliseconds()).UTC()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	rs := []wardwatch.Reading{
		reading(s, m, at(-time.Millisecond), 99), // before From
		reading(s, m, at(time.Minute), 4),
		reading(s, m, at(3*time.Minute), 6),
		reading(s, m, at(7*time.Minute-time.Millisecond), 5), // last millisecond of bucket 0
		reading(s, m, at(7*time.Minute), 2.5),                // first of bucket 1
		// bucket 2 (14–21 min) is empty
		reading(s, m, at(21*time.Minute+30*time.Second), 8.25),
		reading(s, m, at(27*time.Minute), -1.5),
		reading(s, m, at(28*time.Minute), 99),                     // at To: excluded
		reading(s, wardwatch.MetricHumidity, at(time.Minute), 55), // other metric
		reading("hvac/or-4/temp", m, at(time.Minute), 30),         // other sensor
	}
	mustNil(t, "WriteReadings", tel.WriteReadings(ctx, rs))
	flush(t, tel)

	bucket := func(start time.Duration, lo, hi, mean float64, n int) wardwatch.SeriesBucket {
		return wardwatch.SeriesBucket{Start: at(start), Min: lo, Max: hi, Mean: mean, Count: n}
	}
	for _, tc := range []struct {
		name     string
		from, to time.Time
		iv       time.Duration
		want     []wardwatch.SeriesBucket
	}{
		{"7 min", at(0), at(28 * time.Minute), iv, []wardwatch.SeriesBucket{
			bucket(0, 4, 6, 5, 3),
			bucket(7*time.Minute, 2.5, 2.5, 2.5, 1),
			bucket(21*time.Minute, -1.5, 8.25, 3.375, 2),
		}},
		{"from inside a bucket", at(2 * time.Minute), at(28 * time.Minute), iv, []wardwatch.SeriesBucket{
			bucket(0, 5, 6, 5.5, 2),
			bucket(7*time.Minute, 2.5, 2.5, 2.5, 1),
			bucket(21*time.Minute, -1.5, 8.25, 3.375, 2),
		}},
		{"to inside a bucket", at(0), at(22 * time.Minute), iv, []wardwatch.SeriesBucket{
			bucket(0, 4, 6, 5, 3),
			bucket(7*time.Minute, 2.5, 2.5, 2.5, 1),
			bucket(21*time.Minute, 8.25, 8.25, 8.25, 1),
		}},
		{"one bucket for all", at(0), at(28 * time.Minute), 700 * time.Hour, nil}, // filled below
		{"empty range", at(time.Minute), at(time.Minute), iv, nil},
		{"nothing in range", at(14 * time.Minute), at(21 * time.Minute), iv, nil},
	} {
		want := tc.want
		if tc.name == "one bucket for all" {
			big := tc.iv.Milliseconds()
			start := time.UnixMilli(base.UnixMilli() - base.UnixMilli()%big).UTC()
			want = []wardwatch.SeriesBucket{{Start: start, Min: -1.5, Max: 8.25, Mean: (4 + 6 + 5 + 2.5 + 8.25 - 1.5) / 6, Count: 6}}
		}
		got, err := tel.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: s, Metric: m, From: tc.from, To: tc.to, Interval: tc.iv})
		if err != nil {
			t.Fatalf("%s: ReadingSeries: %v", tc.name, err)
		}
		if !bucketsEqual(got, want) {
			t.Errorf("%s: ReadingSeries = %+v\nwant %+v", tc.name, got, want)
		}
	}
}

// bucketsEqual compares buckets, allowing rounding in the mean.
func bucketsEqual(a, b []wardwatch.SeriesBucket) bool {
	return slices.EqualFunc(a, b, func(x, y wardwatch.SeriesBucket) bool {
		return x.Start.Equal(y.Start) && x.Start.Location() == time.UTC && x.Min == y.Min && x.Max == y.Max &&
			x.Count == y.Count && math.Abs(x.Mean-y.Mean) <= 1e-12*math.Max(1, math.Abs(y.Mean))
	})
}

// pumpState returns a fully populated state of pump serial at time at.
func pumpState(serial string, target int64, at time.Time) wardwatch.PumpState {
	return wardwatch.PumpState{
		Time:     at,
		TargetID: target,
		Serial:   serial,
		Model:    "Alaris 8100",
		Status:   wardwatch.PumpInfusing,
		OnAC:     true,
		Battery:  87,
		Rate:     12.5,
		VTBI:     250,
		Infused:  37.25,
		Alarms: []wardwatch.PumpAlarm{
			{Code: "OCCL_DOWN", Text: `Downstream "occlusion", check line`, Priority: wardwatch.PriorityHigh},
			{Code: "NEAR_END", Priority: wardwatch.PriorityLow},
		},
		Firmware:           "12.1.2",
		DrugLibrary:        "ICU Adult",
		DrugLibraryVersion: "2026-03",
	}
}

// pumpStatesEqual compares states, NaN equal to NaN.
func pumpStatesEqual(a, b []wardwatch.PumpState) bool {
	num := func(x, y float64) bool { return x == y || (math.IsNaN(x) && math.IsNaN(y)) }
	return slices.EqualFunc(a, b, func(x, y wardwatch.PumpState) bool {
		return x.Time.Equal(y.Time) && x.Time.Location() == time.UTC && x.TargetID == y.TargetID && x.Serial == y.Serial &&
			x.Model == y.Model && x.Status == y.Status && x.OnAC == y.OnAC && num(x.Battery, y.Battery) &&
			num(x.Rate, y.Rate) && num(x.VTBI, y.VTBI) && num(x.Infused, y.Infused) && slices.Equal(x.Alarms, y.Alarms) &&
			x.Firmware == y.Firmware && x.DrugLibrary == y.DrugLibrary && x.DrugLibraryVersion == y.DrugLibraryVersion
	})
}

func testPumpStates(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	const serial = "13456789"
	a := pumpState(serial, 3, t0)
	b := pumpState(serial, 3, t0.Add(30*time.Second))
	b.Status, b.OnAC, b.Alarms, b.Rate, b.Battery = wardwatch.PumpIdle, false, nil, math.NaN(), math.NaN() // not reported
	b.Model, b.Firmware, b.DrugLibrary, b.DrugLibraryVersion = "", "", "", ""
	c := pumpState(serial, 12, t0.Add(30*time.Second)) // same time, through another target
	c.Alarms = []wardwatch.PumpAlarm{{Code: "", Text: "unnamed alarm", Priority: wardwatch.PriorityMedium}}
	d := pumpState(serial, 3, t0.Add(time.Minute))
	d.Infused, d.VTBI = 0, math.NaN()
	other := pumpState("99999", 3, t0)
	mustNil(t, "WritePumpStates", tel.WritePumpStates(ctx, []wardwatch.PumpState{d, c, other, b, a}))
	mustNil(t, "WritePumpStates(nil)", tel.WritePumpStates(ctx, nil))
	flush(t, tel)
	for _, tc := range []struct {
		name string
		q    wardwatch.PumpQuery
		want []wardwatch.PumpState
	}{
		{"all, oldest first, ties by target", wardwatch.PumpQuery{Serial: serial}, []wardwatch.PumpState{a, b, c, d}},
		{"range", wardwatch.PumpQuery{Serial: serial, From: t0.Add(time.Second), To: t0.Add(time.Minute)}, []wardwatch.PumpState{b, c}},
		{"limit", wardwatch.PumpQuery{Serial: serial, Limit: 2}, []wardwatch.PumpState{a, b}},
		{"other pump", wardwatch.PumpQuery{Serial: "99999"}, []wardwatch.PumpState{other}},
		{"unknown pump", wardwatch.PumpQuery{Serial: "nope"}, nil},
		{"empty range", wardwatch.PumpQuery{Serial: serial, From: t0, To: t0}, nil},
	} {
		got, err := tel.PumpStates(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: PumpStates: %v", tc.name, err)
		}
		if !pumpStatesEqual(got, tc.want) {
			t.Errorf("%s: PumpStates = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// testExactlyOnce writes the same points twice (in one call and in two) and
// finds each once; a changed value at the same series and time replaces
// the old one.
func testExactlyOnce(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	rs := []wardwatch.Reading{
		reading("f/t", wardwatch.MetricTemperature, t0, 4),
		reading("f/t", wardwatch.MetricTemperature, t0.Add(time.Minute), 5),
	}
	mustNil(t, "WriteReadings", tel.WriteReadings(ctx, append(slices.Clone(rs), rs...)))
	mustNil(t, "WriteReadings again", tel.WriteReadings(ctx, rs))
	// The same millisecond, with sub-millisecond noise, and a new value.
	mustNil(t, "WriteReadings update", tel.WriteReadings(ctx, []wardwatch.Reading{reading("f/t", wardwatch.MetricTemperature, t0.Add(time.Minute+time.Microsecond), 6)}))
	ps := positions(1, tagOf(1), t0, 3)
	mustNil(t, "WritePositions", tel.WritePositions(ctx, ps))
	mustNil(t, "WritePositions again", tel.WritePositions(ctx, ps))
	moved := ps[2]
	moved.At.X, moved.ZoneID = 42, 7
	mustNil(t, "WritePositions update", tel.WritePositions(ctx, []wardwatch.Position{moved}))
	pumps := []wardwatch.PumpState{pumpState("p1", 1, t0), pumpState("p1", 1, t0.Add(time.Second))}
	mustNil(t, "WritePumpStates", tel.WritePumpStates(ctx, pumps))
	mustNil(t, "WritePumpStates again", tel.WritePumpStates(ctx, pumps))
	flush(t, tel)

	gotR, err := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "f/t", Metric: wardwatch.MetricTemperature})
	mustNil(t, "Readings", err)
	wantR := []wardwatch.Reading{rs[0], reading("f/t", wardwatch.MetricTemperature, t0.Add(time.Minute), 6)}
	if !slices.Equal(gotR, wantR) {
		t.Errorf("Readings = %+v\nwant %+v", gotR, wantR)
	}
	series, err := tel.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: "f/t", Metric: wardwatch.MetricTemperature, Interval: time.Hour})
	mustNil(t, "ReadingSeries", err)
	if len(series) != 1 || series[0].Count != 2 {
		t.Errorf("ReadingSeries = %+v, want one bucket of 2 readings", series)
	}
	gotP, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	mustNil(t, "Positions", err)
	if want := []wardwatch.Position{ps[0], ps[1], moved}; !slices.Equal(gotP, want) {
		t.Errorf("Positions = %+v\nwant %+v", gotP, want)
	}
	gotS, err := tel.PumpStates(ctx, wardwatch.PumpQuery{Serial: "p1"})
	mustNil(t, "PumpStates", err)
	if !pumpStatesEqual(gotS, pumps) {
		t.Errorf("PumpStates = %+v\nwant %+v", gotS, pumps)
	}
}

// testMilliseconds checks that times are kept to the millisecond, in UTC,
// whatever zone they were written in.
func testMilliseconds(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	bst := time.FixedZone("BST", 3600)
	at := time.Date(2026, 5, 1, 11, 0, 0, 123_456_789, bst)
	want := at.Truncate(time.Millisecond).UTC()
	next := at.Add(time.Millisecond) // a different millisecond: a different point
	mustNil(t, "WriteReadings", tel.WriteReadings(ctx, []wardwatch.Reading{
		reading("ms", wardwatch.MetricPressure, at, 2.5), reading("ms", wardwatch.MetricPressure, next, 3.5),
	}))
	p := positions(5, tagOf(5), at, 1)
	mustNil(t, "WritePositions", tel.WritePositions(ctx, p))
	mustNil(t, "WritePumpStates", tel.WritePumpStates(ctx, []wardwatch.PumpState{pumpState("ms", 1, at)}))
	flush(t, tel)

	rs, err := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "ms", Metric: wardwatch.MetricPressure})
	mustNil(t, "Readings", err)
	if len(rs) != 2 || !rs[0].Time.Equal(want) || rs[0].Time.Location() != time.UTC || !rs[1].Time.Equal(want.Add(time.Millisecond)) {
		t.Fatalf("Readings = %+v, want times %v and %v in UTC", rs, want, want.Add(time.Millisecond))
	}
	// A bound between two stored milliseconds splits them exactly.
	rs, err = tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "ms", Metric: wardwatch.MetricPressure, From: want.Add(500 * time.Microsecond)})
	mustNil(t, "Readings(from between)", err)
	if len(rs) != 1 || rs[0].Value != 3.5 {
		t.Fatalf("Readings from half a millisecond after the first = %+v, want only the second", rs)
	}
	rs, err = tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "ms", Metric: wardwatch.MetricPressure, To: want.Add(500 * time.Microsecond)})
	mustNil(t, "Readings(to between)", err)
	if len(rs) != 1 || rs[0].Value != 2.5 {
		t.Fatalf("Readings to half a millisecond after the first = %+v, want only the first", rs)
	}
	ps, err := tel.Positions(ctx, wardwatch.PositionQuery{AssetID: 5})
	mustNil(t, "Positions", err)
	if len(ps) != 1 || !ps[0].Time.Equal(want) || ps[0].Time.Location() != time.UTC {
		t.Fatalf("Positions = %+v, want time %v in UTC", ps, want)
	}
	ss, err := tel.PumpStates(ctx, wardwatch.PumpQuery{Serial: "ms"})
	mustNil(t, "PumpStates", err)
	if len(ss) != 1 || !ss[0].Time.Equal(want) || ss[0].Time.Location() != time.UTC {
		t.Fatalf("PumpStates = %+v, want time %v in UTC", ss, want)
	}
}

// testBadPoints writes batches mixing good and bad points: the bad ones are
// refused with EINVALID, the good ones stored.
func testBadPoints(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	temp := wardwatch.MetricTemperature
	good := []wardwatch.Reading{
		reading("ok", temp, t0, 1), reading("ok", temp, t0.Add(time.Second), 2), reading("ok", temp, t0.Add(2*time.Second), 3),
	}
	bad := []wardwatch.Reading{
		reading("ok", temp, t0.Add(10*time.Second), math.NaN()),
		reading("ok", temp, t0.Add(11*time.Second), math.Inf(1)),
		reading("ok", temp, t0.Add(12*time.Second), math.Inf(-1)),
		reading("", temp, t0, 1),
		reading("bad\nsensor", temp, t0, 1),
		reading(`bad\sensor`, temp, t0, 1),
		reading(strings.Repeat("s", 257), temp, t0, 1),
		reading("ok", "furlongs", t0.Add(13*time.Second), 1),
		reading("ok", temp, time.Time{}, 1),
		reading("ok", temp, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC), 1),
	}
	batch := []wardwatch.Reading{good[0], bad[0], bad[1], good[1]}
	batch = append(batch, bad[2:]...)
	batch = append(batch, good[2])
	wantCode(t, "WriteReadings(mixed)", tel.WriteReadings(ctx, batch), wardwatch.EINVALID)
	wantCode(t, "WriteReadings(all bad)", tel.WriteReadings(ctx, bad[:1]), wardwatch.EINVALID)

	ps := positions(1, tagOf(1), t0, 3)
	nanX, infConf, noTag, longSolver := ps[0], ps[0], ps[0], ps[0]
	nanX.At.X, nanX.Time = math.NaN(), t0.Add(time.Minute)
	infConf.Confidence, infConf.Time = math.Inf(1), t0.Add(2*time.Minute)
	noTag.TagID = ""
	longSolver.Solver, longSolver.Time = strings.Repeat("x", 1025), t0.Add(3*time.Minute)
	wantCode(t, "WritePositions(mixed)", tel.WritePositions(ctx, []wardwatch.Position{ps[0], nanX, ps[1], infConf, noTag, longSolver, ps[2]}), wardwatch.EINVALID)

	okPump := pumpState("P-1", 1, t0)
	nanPump := pumpState("P-1", 1, t0.Add(time.Second)) // NaN numbers are "not reported": fine
	nanPump.Rate, nanPump.Battery = math.NaN(), math.NaN()
	infRate := pumpState("P-1", 1, t0.Add(2*time.Second))
	infRate.Rate = math.Inf(1)
	noSerial := pumpState("", 1, t0)
	badStatus := pumpState("P-1", 1, t0.Add(3*time.Second))
	badStatus.Status = "exploded"
	longFW := pumpState("P-1", 1, t0.Add(4*time.Second))
	longFW.Firmware = strings.Repeat("9", 1025)
	manyAlarms := pumpState("P-1", 1, t0.Add(5*time.Second))
	manyAlarms.Alarms = make([]wardwatch.PumpAlarm, 33)
	ctlText := pumpState("P-1", 1, t0.Add(6*time.Second))
	ctlText.Alarms = []wardwatch.PumpAlarm{{Code: "X", Text: "line1\nline2"}}
	wantCode(t, "WritePumpStates(mixed)", tel.WritePumpStates(ctx,
		[]wardwatch.PumpState{okPump, infRate, noSerial, badStatus, longFW, manyAlarms, ctlText, nanPump}), wardwatch.EINVALID)
	flush(t, tel)

	gotR, err := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "ok", Metric: temp})
	mustNil(t, "Readings", err)
	if !slices.Equal(gotR, good) {
		t.Errorf("Readings after mixed writes = %+v\nwant the good ones %+v", gotR, good)
	}
	gotP, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	mustNil(t, "Positions", err)
	if !slices.Equal(gotP, ps) {
		t.Errorf("Positions after mixed writes = %+v\nwant the good ones %+v", gotP, ps)
	}
	gotS, err := tel.PumpStates(ctx, wardwatch.PumpQuery{Serial: "P-1"})
	mustNil(t, "PumpStates", err)
	if !pumpStatesEqual(gotS, []wardwatch.PumpState{okPump, nanPump}) {
		t.Errorf("PumpStates after mixed writes = %+v\nwant the good ones", gotS)
	}
}

func testQueryErrors(t *testing.T, tel wardwatch.Telemetry) {
	ctx := t.Context()
	temp := wardwatch.MetricTemperature
	for name, q := range map[string]wardwatch.PositionQuery{
		"negative limit": {Limit: -1},
		"reversed range": {From: t0.Add(time.Second), To: t0},
	} {
		_, err := tel.Positions(ctx, q)
		wantCode(t, "Positions("+name+")", err, wardwatch.EINVALID)
	}
	for name, q := range map[string]wardwatch.SeriesQuery{
		"no sensor":      {Metric: temp},
		"unknown metric": {SensorID: "s", Metric: "furlongs"},
		"negative limit": {SensorID: "s", Metric: temp, Limit: -1},
		"reversed range": {SensorID: "s", Metric: temp, From: t0.Add(time.Second), To: t0},
	} {
		_, err := tel.Readings(ctx, q)
		wantCode(t, "Readings("+name+")", err, wardwatch.EINVALID)
		q.Interval = time.Minute
		_, err = tel.ReadingSeries(ctx, q)
		wantCode(t, "ReadingSeries("+name+")", err, wardwatch.EINVALID)
	}
	for _, iv := range []time.Duration{0, -time.Minute, 1500 * time.Microsecond} {
		_, err := tel.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: "s", Metric: temp, Interval: iv})
		wantCode(t, fmt.Sprintf("ReadingSeries(interval %s)", iv), err, wardwatch.EINVALID)
	}
	for name, q := range map[string]wardwatch.PumpQuery{
		"no serial":      {},
		"negative limit": {Serial: "p", Limit: -1},
		"reversed range": {Serial: "p", From: t0.Add(time.Second), To: t0},
	} {
		_, err := tel.PumpStates(ctx, q)
		wantCode(t, "PumpStates("+name+")", err, wardwatch.EINVALID)
	}
}
