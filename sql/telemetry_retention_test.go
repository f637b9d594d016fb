package sql

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/wardwatch/wardwatch"
)

func TestRetentionPolicyValidate(t *testing.T) {
	if err := DefaultRetentionPolicy.Validate(); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if err := (RetentionPolicy{}).Validate(); err != nil {
		t.Fatalf("keep everything: %v", err)
	}
	for name, p := range map[string]RetentionPolicy{
		"negative positions":           {Positions: -time.Hour},
		"readings under 3 years":       {Readings: 365 * 24 * time.Hour},
		"downsample after too soon":    {DownsampleAfter: time.Hour},
		"interval not whole ms":        {DownsampleAfter: 48 * time.Hour, DownsampleInterval: 1500 * time.Microsecond},
		"interval longer than after":   {DownsampleAfter: 48 * time.Hour, DownsampleInterval: 72 * time.Hour},
		"negative downsample interval": {DownsampleAfter: 48 * time.Hour, DownsampleInterval: -time.Minute},
	} {
		wantCode(t, name, p.Validate(), wardwatch.EINVALID)
	}
}

func TestDownsampleIntervalFor(t *testing.T) {
	for _, tc := range []struct {
		iv   time.Duration
		m    wardwatch.Metric
		want time.Duration
	}{
		{0, wardwatch.MetricTemperature, 15 * time.Minute},
		{0, wardwatch.MetricBatteryPercent, 15 * time.Minute},
		{time.Hour, wardwatch.MetricTemperature, 15 * time.Minute}, // compliance: never coarser than 15 min
		{time.Hour, wardwatch.MetricHumidity, 15 * time.Minute},
		{time.Hour, wardwatch.MetricPressure, 15 * time.Minute},
		{time.Hour, wardwatch.MetricAirChanges, 15 * time.Minute},
		{time.Hour, wardwatch.MetricBatteryVoltage, time.Hour},
		{time.Hour, wardwatch.MetricDoorOpen, time.Hour},
		{5 * time.Minute, wardwatch.MetricTemperature, 5 * time.Minute}, // finer is fine
	} {
		p := RetentionPolicy{DownsampleAfter: 48 * time.Hour, DownsampleInterval: tc.iv}
		if got := p.DownsampleIntervalFor(tc.m); got != tc.want {
			t.Errorf("interval %s for %s = %s, want %s", tc.iv, tc.m, got, tc.want)
		}
	}
}

func TestApplyRetentionDeletes(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	old, recent := now.Add(-4*365*24*time.Hour), now.Add(-time.Hour)
	if err := tel.WritePositions(ctx, append(positions(1, old, 2), positions(1, recent, 3)...)); err != nil {
		t.Fatal(err)
	}
	rs := []wardwatch.Reading{
		{Time: old, SensorID: "s", Metric: wardwatch.MetricTemperature, Value: 1},
		{Time: recent, SensorID: "s", Metric: wardwatch.MetricTemperature, Value: 2},
	}
	if err := tel.WriteReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	p := wardwatch.PumpState{Serial: "p", Status: wardwatch.PumpIdle, Battery: math.NaN(), Rate: math.NaN(), VTBI: math.NaN(), Infused: math.NaN()}
	p1, p2 := p, p
	p1.Time, p2.Time = old, recent
	if err := tel.WritePumpStates(ctx, []wardwatch.PumpState{p1, p2}); err != nil {
		t.Fatal(err)
	}
	res, err := tel.ApplyRetention(ctx, RetentionPolicy{Positions: 24 * time.Hour, Readings: MinReadingRetention, PumpStates: MinReadingRetention}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.PositionsDeleted != 2 || res.ReadingsDeleted != 1 || res.PumpStatesDeleted != 1 {
		t.Fatalf("ApplyRetention = %+v, want 2 positions, 1 reading, 1 pump state deleted", res)
	}
	got, _ := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "s", Metric: wardwatch.MetricTemperature})
	if !slices.Equal(got, rs[1:]) {
		t.Fatalf("readings after retention = %+v", got)
	}
	// Nothing is deleted under a policy that keeps everything.
	if res, err := tel.ApplyRetention(ctx, RetentionPolicy{}, now.Add(100*365*24*time.Hour)); err != nil || res != (RetentionResult{}) {
		t.Fatalf("keep-everything policy: %+v, %v", res, err)
	}
	wantCode(t, "invalid policy", func() error { _, err := tel.ApplyRetention(ctx, RetentionPolicy{Readings: time.Hour}, now); return err }(), wardwatch.EINVALID)
}

// TestApplyRetentionDownsamples downsamples two hours of minute readings:
// temperature (compliance) to 15 minutes even though the policy asks for an
// hour, battery to an hour. Series queries at multiples of the interval
// are unchanged; readings arriving later are merged into their summaries.
func TestApplyRetentionDownsamples(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	start := time.Date(2026, 1, 10, 8, 0, 0, 0, time.UTC)
	var rs []wardwatch.Reading
	for i := range 120 {
		at := start.Add(time.Duration(i) * time.Minute)
		rs = append(rs,
			wardwatch.Reading{Time: at, SensorID: "fridge", Metric: wardwatch.MetricTemperature, Value: 4 + math.Sin(float64(i)/7)},
			wardwatch.Reading{Time: at.Add(17 * time.Second), SensorID: "tag", Metric: wardwatch.MetricBatteryPercent, Value: 100 - float64(i)/10},
		)
	}
	if err := tel.WriteReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	series := func(sensor string, m wardwatch.Metric, iv time.Duration) []wardwatch.SeriesBucket {
		t.Helper()
		bs, err := tel.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: sensor, Metric: m, Interval: iv})
		if err != nil {
			t.Fatal(err)
		}
		return bs
	}
	before15 := series("fridge", wardwatch.MetricTemperature, 15*time.Minute)
	beforeHour := series("fridge", wardwatch.MetricTemperature, time.Hour)
	beforeBattery := series("tag", wardwatch.MetricBatteryPercent, time.Hour)

	p := RetentionPolicy{DownsampleAfter: 48 * time.Hour, DownsampleInterval: time.Hour}
	// The cutoff falls 90 minutes into the data: only whole intervals
	// before it are summarised.
	now := start.Add(90*time.Minute + 48*time.Hour)
	res, err := tel.ApplyRetention(ctx, p, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.ReadingsSummarised != 90+60 || res.SummariesWritten != 6+1 {
		t.Fatalf("ApplyRetention = %+v, want 150 readings into 7 summaries", res)
	}
	raw, _ := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "fridge", Metric: wardwatch.MetricTemperature})
	if len(raw) != 6+30 || !raw[1].Time.Equal(start.Add(15*time.Minute)) || !raw[6].Time.Equal(start.Add(90*time.Minute)) {
		t.Fatalf("temperature readings after downsampling: %d, want 6 summaries then 30 raw", len(raw))
	}
	if math.Abs(raw[0].Value-before15[0].Mean) > 1e-12 {
		t.Fatalf("a summary's value is %v, want its interval's mean %v", raw[0].Value, before15[0].Mean)
	}
	if got := series("fridge", wardwatch.MetricTemperature, 15*time.Minute); !bucketsClose(got, before15) {
		t.Fatalf("15-minute series changed by downsampling:\n%+v\nwant %+v", got, before15)
	}
	if got := series("fridge", wardwatch.MetricTemperature, time.Hour); !bucketsClose(got, beforeHour) {
		t.Fatalf("hourly series changed by downsampling:\n%+v\nwant %+v", got, beforeHour)
	}
	if got := series("tag", wardwatch.MetricBatteryPercent, time.Hour); !bucketsClose(got, beforeBattery) {
		t.Fatalf("battery series changed by downsampling:\n%+v\nwant %+v", got, beforeBattery)
	}
	battery, _ := tel.Readings(ctx, wardwatch.SeriesQuery{SensorID: "tag", Metric: wardwatch.MetricBatteryPercent})
	if len(battery) != 1+60 {
		t.Fatalf("battery readings after downsampling: %d, want 1 hourly summary then 60 raw", len(battery))
	}

	// Again: nothing left to do.
	if res, err := tel.ApplyRetention(ctx, p, now); err != nil || res.SummariesWritten != 0 {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	// Late readings: one at a summary's start merges at once; one inside
	// another interval is folded in on the next run.
	late := []wardwatch.Reading{
		{Time: start, SensorID: "fridge", Metric: wardwatch.MetricTemperature, Value: -3},
		{Time: start.Add(20 * time.Minute), SensorID: "fridge", Metric: wardwatch.MetricTemperature, Value: 12},
	}
	if err := tel.WriteReadings(ctx, late); err != nil {
		t.Fatal(err)
	}
	got := series("fridge", wardwatch.MetricTemperature, 15*time.Minute)
	if got[0].Count != 16 || got[0].Min != -3 || got[1].Count != 16 || got[1].Max != 12 {
		t.Fatalf("after late readings: %+v %+v", got[0], got[1])
	}
	if res, err := tel.ApplyRetention(ctx, p, now); err != nil || res.SummariesWritten != 1 {
		t.Fatalf("run after a late reading: %+v, %v; want one summary rewritten", res, err)
	}
	if again := series("fridge", wardwatch.MetricTemperature, 15*time.Minute); !bucketsClose(again, got) {
		t.Fatalf("folding the late reading changed the series:\n%+v\nwant %+v", again, got)
	}
}

func bucketsClose(a, b []wardwatch.SeriesBucket) bool {
	return slices.EqualFunc(a, b, func(x, y wardwatch.SeriesBucket) bool {
		return x.Start.Equal(y.Start) && x.Min == y.Min && x.Max == y.Max && x.Count == y.Count &&
			math.Abs(x.Mean-y.Mean) <= 1e-12*math.Max(1, math.Abs(y.Mean))
	})
}

// TestTelemetryMigrationDeduplicates opens a version-2 telemetry file
// holding duplicate positions: migrating keeps the last written of each.
func TestTelemetryMigrationDeduplicates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := openSQLite(path, telemetryPragmas)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(goose.DialectSQLite3, db, telemetryMigrations, goose.WithTableName(telemetryVersionTable))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 2); err != nil {
		t.Fatal(err)
	}
	for _, x := range []float64{1, 2, 3} {
		if _, err := db.Exec(`INSERT INTO positions (ts, tag_id, asset_id, floor_id, x, y, zone_id, confidence, solver, state)
			VALUES (1000, 'epc:1', 7, 1, ?, 0, 0, 0.5, 'c', '')`, x); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	tel, err := OpenTelemetry(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	if err != nil || len(got) != 1 || got[0].At.X != 3 {
		t.Fatalf("after migrating: %+v, %v; want the last of the duplicates", got, err)
	}
}
