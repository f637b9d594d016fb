package tracker

import (
	"math"
	"testing"
	"time"
	"unsafe"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

func TestConfigDefaults(t *testing.T) {
	e := New(Config{}, Site{})
	if e.cfg != DefaultConfig() {
		t.Errorf("zero Config = %+v, want defaults %+v", e.cfg, DefaultConfig())
	}
	e = New(Config{
		MinDwell: -1, StationaryDwell: -1, ZoneMargin: -1, FloorHysteresis: -1, OutlierK: -1,
		TagHeight: -1, FloorTransitionMargin: -1, Gate: -1, StaleAfter: -1, MissingAfter: -1, AnchorRange: -1,
		MaxGateways: 6, DefaultPathLoss: math.NaN(), RSSINoise: math.Inf(1), ProcessNoise: -3, OffsetSigma: math.NaN(),
	}, Site{})
	c := e.cfg
	if c.MinDwell != 0 || c.StationaryDwell != 0 || c.ZoneMargin != 0 || c.FloorHysteresis != 0 || c.OutlierK != 0 ||
		c.TagHeight != 0 || c.FloorTransitionMargin != 0 || c.Gate != 0 || c.StaleAfter != 0 || c.MissingAfter != 0 || c.AnchorRange != 0 {
		t.Errorf("negative values should mean none: %+v", c)
	}
	d := DefaultConfig()
	if c.MaxGateways != 6 || c.DefaultPathLoss != d.DefaultPathLoss || c.RSSINoise != d.RSSINoise || c.ProcessNoise != d.ProcessNoise || c.OffsetSigma != 0 {
		t.Errorf("cfg = %+v", c)
	}
	e = New(Config{Window: time.Second, MotionWindow: 3 * time.Second, MovingSpeed: 0.3, StationarySpeed: 0.5, Sensitivity: 5}, Site{})
	if e.cfg.MotionWindow != time.Second || e.cfg.StationarySpeed != 0.3 || e.cfg.Sensitivity != 0 {
		t.Errorf("MotionWindow %v (want ≤ Window), StationarySpeed %v (want ≤ MovingSpeed), Sensitivity %v (want 0)",
			e.cfg.MotionWindow, e.cfg.StationarySpeed, e.cfg.Sensitivity)
	}
}

func TestObserveCounts(t *testing.T) {
	tests := []struct {
		name string
		s    wardwatch.Sighting
		ok   bool
		want Stats
	}{
		{"good", sight(0, 'A', "t", -70), true, Stats{Accepted: 1, Tags: 1}},
		{"bounds are inclusive", sight(0, 'A', "t", -130), true, Stats{Accepted: 1, Tags: 1}},
		{"zero RSSI is plausible", sight(0, 'A', "t", 0), true, Stats{Accepted: 1, Tags: 1}},
		{"unknown tag", sight(0, 'A', "stranger", -70), false, Stats{UnknownTag: 1}},
		{"unknown gateway", sight(0, 999, "t", -70), false, Stats{UnknownGateway: 1}},
		{"unknown both: gateway first", sight(0, 999, "stranger", -70), false, Stats{UnknownGateway: 1}},
		{"NaN", sight(0, 'A', "t", math.NaN()), false, Stats{Invalid: 1}},
		{"+Inf", sight(0, 'A', "t", math.Inf(1)), false, Stats{Invalid: 1}},
		{"-Inf", sight(0, 'A', "t", math.Inf(-1)), false, Stats{Invalid: 1}},
		{"positive", sight(0, 'A', "t", 3), false, Stats{Invalid: 1}},
		{"too weak", sight(0, 'A', "t", -131), false, Stats{Invalid: 1}},
		{"invalid before unknown", sight(0, 999, "stranger", 12), false, Stats{Invalid: 1}},
		{"zero time", wardwatch.Sighting{GatewayID: 'A', TagID: "t", RSSI: -70}, false, Stats{Invalid: 1}},
		{"before 1970", wardwatch.Sighting{Time: time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC), GatewayID: 'A', TagID: "t", RSSI: -70}, false, Stats{Invalid: 1}},
		{"after 2262", wardwatch.Sighting{Time: time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), GatewayID: 'A', TagID: "t", RSSI: -70}, false, Stats{Invalid: 1}},
	}
	for _, tt := range tests {
		e := newEngine(Config{}, zoneSite())
		if ok := e.Observe(tt.s); ok != tt.ok {
			t.Errorf("%s: Observe = %v, want %v", tt.name, ok, tt.ok)
		}
		if got := e.Stats(); got != tt.want {
			t.Errorf("%s: Stats = %+v, want %+v", tt.name, got, tt.want)
		}
		out := e.Update(at(1))
		if len(out.Positions) != map[bool]int{true: 1, false: 0}[tt.ok] {
			t.Errorf("%s: positions %+v", tt.name, out.Positions)
		}
	}
}

func TestObserveSharesTheSiteTagID(t *testing.T) {
	site := zoneSite()
	e := newEngine(Config{}, site)
	id := string([]byte("t")) // a fresh string, as a parser would make
	observeAll(t, e, wardwatch.Sighting{Time: at(0), GatewayID: 'A', TagID: id, RSSI: -60})
	got := e.tags["t"].id
	if unsafe.StringData(got) == unsafe.StringData(id) || unsafe.StringData(got) != unsafe.StringData(site.Tags[0].ID) {
		t.Error("the tag's state should hold the site's ID string, not the sighting's")
	}
}

func TestSetSiteKeepsState(t *testing.T) {
	site := zoneSite()
	e := newEngine(Config{}, site)
	for i := range 4 {
		observeAll(t, e, sight(float64(i), 'A', "t", -60), sight(float64(i), 'N', "t", -90))
		e.Update(at(float64(i) + 0.5))
	}
	observeAll(t, e, sight(3, 'B', "u", -60))
	e.Update(at(3.5))
	ts := e.tags["t"]
	zone, kf := ts.zoneID, ts.kf
	if s := e.Stats(); s.Tags != 2 || zone != 101 {
		t.Fatalf("Tags = %d, zone %d; want 2 tags, t in A", s.Tags, zone)
	}

	site.Tags = []wardwatch.Tag{{ID: "t", AssetID: 90}, {ID: "new", AssetID: 11}} // u removed, asset of t changed
	site.Gateways = site.Gateways[:4]                                             // N removed
	e.SetSite(site)

	if s := e.Stats(); s.Tags != 1 {
		t.Errorf("after SetSite Tags = %d, want 1 (u forgotten)", s.Tags)
	}
	if ts := e.tags["t"]; len(ts.links) != 1 || ts.zoneID != zone || ts.kf != kf || !ts.kfOn || ts.assetID != 90 {
		t.Errorf("t after SetSite: %d links (want 1), zone %d (want %d), filter kept %v, asset %d (want 90)",
			len(ts.links), ts.zoneID, zone, ts.kf == kf && ts.kfOn, ts.assetID)
	}
	if e.Observe(sight(4, 'B', "u", -60)) || e.Stats().UnknownTag != 1 {
		t.Error("the removed tag should be unknown")
	}
	if e.Observe(sight(4, 'N', "t", -60)) || e.Stats().UnknownGateway != 1 {
		t.Error("the removed gateway should be unknown")
	}
	observeAll(t, e, sight(4, 'A', "t", -60))
	out := e.Update(at(4.5))
	if p := onePosition(t, out, "t"); p.AssetID != 90 || p.ZoneID != 101 || len(out.ZoneChanges) != 0 {
		t.Errorf("after SetSite: %+v, changes %v; want asset 90 still in A, no change", p, out.ZoneChanges)
	}
	if !e.Observe(sight(5, 'A', "new", -60)) {
		t.Error("the added tag should be known")
	}
}

func TestSiteIgnoresBadConfig(t *testing.T) {
	site := Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}, {ID: 2, Width: math.NaN(), Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 1, FloorID: 1, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 1}}}, // too few vertices
			{ID: 2, FloorID: 9, Polygon: floorplan.Rectangle(0, 0, 5, 5)},               // unknown floor
			{ID: 3, FloorID: 1, Polygon: floorplan.Rectangle(0, 0, 20, 10)},
			{ID: 0, FloorID: 1, Polygon: floorplan.Rectangle(0, 0, 2, 2)}, // no ID
		},
		Gateways: []wardwatch.Gateway{
			gw(1, 9, 1, 1), // unknown floor
			gw(2, 1, math.NaN(), 1),
			{ID: 3, FloorID: 1, At: wardwatch.Point{X: 5, Y: 5}, RSSIAt1m: math.NaN(), PathLossExponent: -2, RxOffset: math.Inf(1), Z: math.NaN()},
			{ID: 4, FloorID: 1, At: wardwatch.Point{X: 15, Y: 5}, PathLossExponent: 1e-300, RxOffset: 500, Z: -3},
		},
		Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	e := newEngine(Config{}, site)
	if e.Observe(sight(0, 1, "t", -60)) || e.Observe(sight(0, 2, "t", -60)) {
		t.Error("gateways on unknown floors or at NaN should be unknown")
	}
	observeAll(t, e, sight(0, 3, "t", -59))
	out := e.Update(at(1))
	p := onePosition(t, out, "t")
	if p.ZoneID != 3 || len(e.zones.byID) != 1 {
		t.Errorf("zone %d (index %d zones), want 3 only", p.ZoneID, len(e.zones.byID))
	}
	if g := e.gateways[3]; g.rssiAt1m != 0 || g.pathLoss != 0 || g.rxOffset != 0 || g.z != 0 {
		t.Errorf("bad calibration kept: %+v", g)
	}
	if g := e.gateways[4]; g.pathLoss != 1 || g.rxOffset != 0 || g.z != 0 {
		t.Errorf("bad calibration kept: %+v", g)
	}
	if f := e.floors[2]; f.width != 0 || f.height != 0 {
		t.Errorf("floor with NaN width kept its size: %+v", f)
	}
}

func TestUpdateTimes(t *testing.T) {
	e := newEngine(Config{}, zoneSite())
	observeAll(t, e, sight(0, 'A', "t", -60))
	// An Update at the zero time or far in the future must not panic.
	e.Update(time.Time{})
	e.Update(time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
}

// FuzzEngine feeds arbitrary sightings and times and checks that the
// engine neither panics nor places a tag off its floor, with a bad
// confidence or without a state.
func FuzzEngine(f *testing.F) {
	f.Add(-60.0, -70.0, -80.0, 0.0, int64(0), int64(100), int64(1000), 3.0)
	f.Add(0.0, -130.0, math.NaN(), -59.0, int64(-5000), int64(0), int64(0), -1.0)
	f.Add(math.Inf(-1), -1.0, -1e300, 5.0, int64(1)<<50, int64(-1), int64(1)<<40, math.NaN())
	f.Add(-40.0, -40.0, -40.0, -130.0, int64(3000), int64(3000), int64(-1)<<40, 1e300)
	f.Add(-95.0, -95.0, -94.0, -70.0, int64(1_100_000_000), int64(1), int64(86_400_000), 0.5)
	f.Fuzz(func(t *testing.T, r1, r2, r3, tx float64, dt1, dt2, dt3 int64, z float64) {
		site := twoFloors()
		site.Zones = append(zoneSite().Zones, wardwatch.Zone{ID: 300, FloorID: 2, Kind: wardwatch.ZoneLift, Polygon: floorplan.Rectangle(0, 0, 2, 2)})
		site.Gateways[0].At = wardwatch.Point{X: -50, Y: 1e6} // off the plan
		site.Gateways[1].Z = z
		site.Gateways[2].RxOffset = tx
		site.Gateways[3].AnchorZoneID = 101
		site.Gateways[5].PathLossExponent = 1e-300
		site.Gateways[6].RSSIAt1m = r3
		site.Fingerprints = &fakeMap{p: wardwatch.Point{X: r1, Y: r2}, conf: tx / -100, ok: true}
		e := New(Config{Sensitivity: r2}, site)
		base := at(0)
		ms := func(v int64) time.Duration { return time.Duration(v) * time.Millisecond }
		for i, s := range []wardwatch.Sighting{
			{Time: base, GatewayID: 11, TagID: "t", RSSI: r1, TxPower: tx},
			{Time: base.Add(ms(dt1)), GatewayID: 22, TagID: "t", RSSI: r2},
			{Time: base.Add(ms(dt2)), GatewayID: 13, TagID: "t", RSSI: r3, TxPower: tx},
			{Time: base.Add(ms(dt1 + dt2)), GatewayID: 21, TagID: "t", RSSI: r1},
			{Time: base.Add(ms(dt3)), GatewayID: 12, TagID: "t", RSSI: r2},
			{Time: base.Add(ms(dt3 + 500)), GatewayID: 14, TagID: "t", RSSI: r3},
			{Time: base.Add(ms(dt3 + 900)), GatewayID: 11, TagID: "t", RSSI: (r1 + r2) / 2},
		} {
			e.Observe(s)
			if i%2 == 1 {
				checkOutput(t, e.Update(base.Add(time.Duration(i)*time.Second)))
			}
		}
		checkOutput(t, e.Update(base.Add(ms(dt3+1000))))
		checkOutput(t, e.Update(base.Add(time.Hour)))
		checkOutput(t, e.Update(base.Add(48*time.Hour)))
	})
}

func checkOutput(t *testing.T, out Output) {
	t.Helper()
	for _, p := range out.Positions {
		if !(p.At.X >= 0 && p.At.X <= 20 && p.At.Y >= 0 && p.At.Y <= 10) {
			t.Fatalf("position off the floor: %+v", p)
		}
		if !(p.Confidence >= 0 && p.Confidence <= 1) {
			t.Fatalf("confidence outside 0..1: %+v", p)
		}
		if p.FloorID != 1 && p.FloorID != 2 {
			t.Fatalf("unknown floor: %+v", p)
		}
		switch p.State {
		case wardwatch.StateMoving, wardwatch.StateStationary, wardwatch.StateStale, wardwatch.StateMissing:
		default:
			t.Fatalf("position without a state: %+v", p)
		}
		if p.Time.IsZero() {
			t.Fatalf("position without a time: %+v", p)
		}
	}
}
