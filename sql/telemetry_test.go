package sql

import (
	"math"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/internal/telemetrytest"
)

// TestTelemetryContract runs the telemetry contract suite on the embedded
// store.
func TestTelemetryContract(t *testing.T) {
	telemetrytest.Run(t, func(t *testing.T) wardwatch.Telemetry { return openTelemetry(t) })
}

func openTelemetry(t *testing.T) *Telemetry {
	t.Helper()
	tel, err := OpenTelemetry(t.Context(), filepath.Join(t.TempDir(), "telemetry", "positions.db"))
	if err != nil {
		t.Fatalf("OpenTelemetry: %v", err)
	}
	t.Cleanup(func() { tel.Close() })
	return tel
}

// positions returns n positions of asset, one second apart from start.
func positions(asset int64, start time.Time, n int) []wardwatch.Position {
	ps := make([]wardwatch.Position, n)
	for i := range ps {
		ps[i] = wardwatch.Position{
			TagID:      "ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:" + string(rune('0'+asset)),
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

func TestTelemetryRoundTrip(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	start := time.Date(2026, 5, 1, 10, 0, 0, 123_456_789, time.FixedZone("BST", 3600))
	want := positions(7, start, 5)
	if err := tel.WritePositions(ctx, want); err != nil {
		t.Fatalf("WritePositions: %v", err)
	}
	if err := tel.WritePositions(ctx, nil); err != nil {
		t.Fatalf("WritePositions(nil): %v", err)
	}
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	if err != nil {
		t.Fatalf("Positions: %v", err)
	}
	for i := range want {
		want[i].Time = want[i].Time.Truncate(time.Millisecond).UTC()
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Positions = %+v\nwant %+v", got, want)
	}
	if got[0].Time.Location() != time.UTC {
		t.Fatalf("Position time in %v, want UTC", got[0].Time.Location())
	}
}

func TestTelemetryQuery(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	a, b := positions(1, t0, 10), positions(2, t0.Add(500*time.Millisecond), 10)
	// Write interleaved and in two calls, so storage order is not time order.
	if err := tel.WritePositions(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := tel.WritePositions(ctx, a); err != nil {
		t.Fatal(err)
	}

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
	} {
		got, err := tel.Positions(ctx, tc.q)
		if err != nil {
			t.Fatalf("%s: Positions: %v", tc.name, err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: Positions = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}

	for name, q := range map[string]wardwatch.PositionQuery{
		"negative limit": {Limit: -1},
		"reversed range": {From: t0.Add(time.Second), To: t0},
	} {
		_, err := tel.Positions(ctx, q)
		wantCode(t, name, err, wardwatch.EINVALID)
	}
}

func TestTelemetryDefaultLimit(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	ps := positions(1, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), DefaultPositionLimit+5)
	if err := tel.WritePositions(ctx, ps); err != nil {
		t.Fatal(err)
	}
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{AssetID: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != DefaultPositionLimit || got[0] != ps[0] {
		t.Fatalf("Positions without limit returned %d, want the oldest %d", len(got), DefaultPositionLimit)
	}
}

// TestTelemetryRejectsBadPositions checks that invalid positions are
// refused and counted while their batch-mates are stored.
func TestTelemetryRejectsBadPositions(t *testing.T) {
	ctx := t.Context()
	reg := prometheus.NewRegistry()
	tel, err := OpenTelemetry(ctx, filepath.Join(t.TempDir(), "t.db"), WithTelemetryMetrics(reg))
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Close()
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	good := positions(1, t0, 3)
	for name, bad := range map[string]wardwatch.Position{
		"no tag":         {AssetID: 1, Time: t0},
		"NaN x":          {TagID: "epc:01", At: wardwatch.Point{X: math.NaN()}, Time: t0},
		"inf confidence": {TagID: "epc:01", Confidence: math.Inf(1), Time: t0},
	} {
		wantCode(t, "WritePositions("+name+")", tel.WritePositions(ctx, append(slices.Clone(good), bad)), wardwatch.EINVALID)
	}
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{})
	if err != nil || !slices.Equal(got, good) {
		t.Fatalf("after partly rejected writes: %+v, %v; want the good ones once", got, err)
	}
	for reason, want := range map[string]float64{"invalid": 1, "nan": 1, "inf": 1} {
		if n := testutil.ToFloat64(tel.rejected.WithLabelValues("position", reason)); n != want {
			t.Errorf("rejected{position,%s} = %v, want %v", reason, n, want)
		}
	}
}

func TestTelemetryPrune(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	t0 := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	a, b := positions(1, t0, 6), positions(2, t0, 6)
	if err := tel.WritePositions(ctx, append(a, b...)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		before time.Time
		want   int64
	}{
		{t0, 0},
		{t0.Add(2 * time.Second), 4}, // strictly older: seconds 0 and 1 of both
		{t0.Add(2 * time.Second), 0},
	} {
		n, err := tel.Prune(ctx, tc.before)
		if err != nil || n != tc.want {
			t.Fatalf("Prune(%v) = %d, %v; want %d", tc.before, n, err, tc.want)
		}
	}
	got, err := tel.Positions(ctx, wardwatch.PositionQuery{AssetID: 1})
	if err != nil || !slices.Equal(got, a[2:]) {
		t.Fatalf("after Prune: %+v, %v; want %+v", got, err, a[2:])
	}
}

// TestTelemetryReopen checks that reopening a telemetry file keeps its data
// and does not migrate it again.
func TestTelemetryReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "positions.db")
	ps := positions(1, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC), 3)
	for i := range 2 {
		tel, err := OpenTelemetry(ctx, path)
		if err != nil {
			t.Fatalf("OpenTelemetry #%d: %v", i+1, err)
		}
		if err := tel.WritePositions(ctx, ps); err != nil {
			t.Fatal(err)
		}
		// The same points written again are stored once.
		got, err := tel.Positions(ctx, wardwatch.PositionQuery{})
		if err != nil || len(got) != 3 {
			t.Fatalf("open #%d: %d positions, %v; want 3", i+1, len(got), err)
		}
		if err := tel.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTelemetryLatestPositions(t *testing.T) {
	ctx := t.Context()
	tel := openTelemetry(t)
	start := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	all := append(positions(1, start, 5), positions(2, start.Add(-time.Hour), 3)...)
	all = append(all, positions(3, start.Add(2*time.Second), 2)...)
	slices.Reverse(all) // insertion order must not matter
	if err := tel.WritePositions(ctx, all); err != nil {
		t.Fatal(err)
	}
	got, err := tel.LatestPositions(ctx, start.Add(-time.Minute))
	if err != nil {
		t.Fatalf("LatestPositions: %v", err)
	}
	// Asset 2's newest position is an hour old: outside the window.
	want := []wardwatch.Position{positions(1, start, 5)[4], positions(3, start.Add(2*time.Second), 2)[1]}
	if !slices.Equal(got, want) {
		t.Fatalf("LatestPositions = %+v\nwant %+v", got, want)
	}
	if got, _ := tel.LatestPositions(ctx, start.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("LatestPositions in the future = %+v, want none", got)
	}
}
