package tracker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// zoneWalk runs the zone decision over one fix per second of tag, placed
// at the gateway named by each letter of path, starting at second start,
// and returns the zone changes and the zone of every fix, one letter per
// fix ('A', 'B', '-' for none, '?' for another). state is every fix's
// motion state.
func zoneWalk(t *testing.T, e *Engine, tag string, start int, path string, state wardwatch.TagState) ([]wardwatch.ZoneChange, string) {
	t.Helper()
	ts := e.tags[tag]
	if ts == nil {
		k := e.known[tag]
		ts = &tagState{id: k.id, assetID: k.asset}
		e.tags[tag] = ts
	}
	var changes []wardwatch.ZoneChange
	var zones strings.Builder
	for i, g := range path {
		p := wardwatch.Position{TagID: tag, AssetID: ts.assetID, FloorID: 1, At: e.gateways[int64(g)].at, Time: at(float64(start + i)), State: state}
		if zc, changed := e.decideZone(ts, &p, 0); changed {
			changes = append(changes, zc)
		}
		e.record(ts, p)
		switch p.ZoneID {
		case 101:
			zones.WriteByte('A')
		case 102:
			zones.WriteByte('B')
		case 0:
			zones.WriteByte('-')
		default:
			zones.WriteByte('?')
		}
	}
	return changes, zones.String()
}

type change struct {
	from, to int64
	sec      float64
}

func changesOf(zcs []wardwatch.ZoneChange) []change {
	var cs []change
	for _, zc := range zcs {
		cs = append(cs, change{zc.FromZone, zc.ToZone, zc.Time.Sub(t0).Seconds()})
	}
	return cs
}

func TestZoneDwellAndMargin(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		path      string
		wantZones string
		want      []change
	}{
		{"first fix sets the zone at once", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AAA", "AAA", []change{{0, 101, 0}}},
		{"first fix in no zone emits nothing", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "NN", "--", nil},
		{"brief excursion shorter than the dwell", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AAAABBAAAA", "AAAAAAAAAA", []change{{0, 101, 0}}},
		{"real move emits exactly one change", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AAAABBBBBB", "AAAAAAABBB", []change{{0, 101, 0}, {101, 102, 4}}},
		{"excursion restarts the dwell", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AABABBBB", "AAAAAAAB", []change{{0, 101, 0}, {101, 102, 4}}},
		{"leaving every zone", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AANNNN", "AAAAA-", []change{{0, 101, 0}, {101, 0, 2}}},
		{"into a zone from none", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "NNBBBB", "-----B", []change{{0, 102, 2}}},
		{"within the margin of A across the wall", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AAWWWWWW", "AAAAAAAA", []change{{0, 101, 0}}},
		{"beyond the margin", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "AAWWWBBBB", "AAAAAAAAB", []change{{0, 101, 0}, {101, 102, 5}}},
		{"margin holds B as well", Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "BBVVVVV", "BBBBBBB", []change{{0, 102, 0}}},
		{"no margin: the wall position switches", Config{ZoneMargin: -1, MinDwell: 3 * time.Second, StationaryDwell: -1}, "AAWWWW", "AAAAAB", []change{{0, 101, 0}, {101, 102, 2}}},
		{"wider margin", Config{ZoneMargin: 6, MinDwell: 3 * time.Second, StationaryDwell: -1}, "AABBBBB", "AAAAAAA", []change{{0, 101, 0}}},
		{"default margin (0.3 m) is narrower", Config{MinDwell: 3 * time.Second, StationaryDwell: -1}, "AAWWWW", "AAAAAB", []change{{0, 101, 0}, {101, 102, 2}}},
		{"no dwell", Config{MinDwell: -1, ZoneMargin: 0.5, StationaryDwell: -1}, "AABA", "AABA", []change{{0, 101, 0}, {101, 102, 2}, {102, 101, 3}}},
		{"longer dwell", Config{MinDwell: 5 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, "ABBBBBB", "AAAAAAB", []change{{0, 101, 0}, {101, 102, 1}}},
	}
	for _, tt := range tests {
		e := newEngine(tt.cfg, zoneSite())
		zcs, zones := zoneWalk(t, e, "t", 0, tt.path, wardwatch.StateMoving)
		got := changesOf(zcs)
		if zones != tt.wantZones || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: path %s gave zones %s and changes %v; want %s and %v", tt.name, tt.path, zones, got, tt.wantZones, tt.want)
		}
		for _, zc := range zcs {
			if zc.TagID != "t" || zc.AssetID != 9 || zc.FloorID != 1 {
				t.Errorf("%s: change %+v lacks tag, asset or floor", tt.name, zc)
			}
		}
	}
}

func TestNestedZone(t *testing.T) {
	site := Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 30, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 1, FloorID: 1, Name: "corridor", Kind: wardwatch.ZoneCorridor, Polygon: floorplan.Rectangle(0, 0, 30, 10)},
			{ID: 2, FloorID: 1, Name: "bay", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(10, 0, 10, 10)},
		},
		// C in the corridor, E just inside the bay's edge, D deep in the bay.
		Gateways: []wardwatch.Gateway{gw('C', 1, 5, 5), gw('E', 1, 10.2, 5), gw('D', 1, 15, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	e := newEngine(Config{MinDwell: 3 * time.Second, ZoneMargin: 0.5, StationaryDwell: -1}, site)
	zcs, _ := zoneWalk(t, e, "t", 0, "CCEEEEDDDDEEEECCCC", wardwatch.StateMoving)
	want := []change{{0, 1, 0}, {1, 2, 6}, {2, 1, 14}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", got, want)
	}
}

func TestStationaryDwell(t *testing.T) {
	// S is a spot in A 0.8 m from B; X is 1 m across the wall, in B (1.8 m
	// from S); B is 5.8 m from S; Y, in B, 7.8 m.
	site := zoneSite()
	site.Gateways = append(site.Gateways, gw('S', 1, 9.2, 5), gw('X', 1, 11, 5), gw('Y', 1, 17, 5))
	tests := []struct {
		name string
		path string
		want []change
	}{
		// 40 s parked at S, then 10 s across the wall: shorter than
		// StationaryDwell (15 s), so no change.
		{"settled tag wobbling across a wall", strings.Repeat("S", 40) + strings.Repeat("X", 10) + "SSS", []change{{0, 101, 0}}},
		// Across the wall for 20 s: longer than StationaryDwell.
		{"settled tag that stays across", strings.Repeat("S", 40) + strings.Repeat("X", 20), []change{{0, 101, 0}, {101, 102, 40}}},
		// A new tag is settled from its first fix: its room does not flip
		// while its position converges.
		{"new tag", strings.Repeat("S", 3) + strings.Repeat("X", 10) + "SS", []change{{0, 101, 0}}},
		// A tag that arrived (from far) 10 s ago is not settled yet: the
		// normal dwell applies.
		{"not settled yet", "Y" + strings.Repeat("S", 10) + strings.Repeat("X", 5), []change{{0, 102, 0}, {102, 101, 1}, {101, 102, 11}}},
		// A jump of 5.8 m for 6 s, then back: an excursion, not a move.
		{"settled tag's excursion", strings.Repeat("S", 40) + strings.Repeat("B", 6) + "SSSS", []change{{0, 101, 0}}},
		// Away for settleLeave: it has moved, and the normal dwell counts
		// from when it left.
		{"settled tag that stays away", strings.Repeat("S", 40) + strings.Repeat("B", 9), []change{{0, 101, 0}, {101, 102, 40}}},
		// Farther than settleFar: moved at once.
		{"settled tag carried off", strings.Repeat("S", 40) + strings.Repeat("Y", 3), []change{{0, 101, 0}, {101, 102, 40}}},
	}
	for _, tt := range tests {
		e := newEngine(Config{}, site)
		zcs, _ := zoneWalk(t, e, "t", 0, tt.path, wardwatch.StateStationary)
		if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: changes %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestZoneSnap(t *testing.T) {
	// O is 1 m beyond the floor's zones (past room A's outer wall at y=10),
	// F 3 m beyond.
	site := zoneSite()
	site.Floors[0].Height = 14
	site.Gateways = append(site.Gateways, gw('O', 1, 5, 11), gw('F', 1, 5, 13))
	e := newEngine(Config{}, site)
	if _, zones := zoneWalk(t, e, "t", 0, "O", wardwatch.StateStationary); zones != "A" {
		t.Errorf("just past the outer wall: zone %s, want A", zones)
	}
	e = newEngine(Config{}, site)
	if _, zones := zoneWalk(t, e, "t", 0, "F", wardwatch.StateStationary); zones != "-" {
		t.Errorf("3 m past the outer wall: zone %s, want none", zones)
	}
}

func TestSetSiteDeletedZone(t *testing.T) {
	e := newEngine(Config{}, zoneSite())
	zoneWalk(t, e, "t", 0, "AA", wardwatch.StateStationary)
	site := zoneSite()
	site.Zones = site.Zones[1:] // A deleted
	e.SetSite(site)
	zcs, zones := zoneWalk(t, e, "t", 2, "A", wardwatch.StateStationary)
	want := []change{{101, 0, 2}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) || zones != "-" {
		t.Errorf("changes %v zones %s, want %v -", got, zones, want)
	}
}

// anchorSite is zoneSite with an anchor gateway R on the ceiling in the
// middle of room A, and five gateways along the wall between A and B and
// in B.
func anchorSite() Site {
	s := zoneSite()
	r := gw('R', 1, 5, 5)
	r.Z, r.AnchorZoneID = 2.5, 101
	s.Gateways = []wardwatch.Gateway{r, gw('P', 1, 10.5, 1), gw('Q', 1, 10.5, 9), gw('B', 1, 15, 5), gw('C', 1, 13, 2), gw('D', 1, 13, 8)}
	return s
}

func TestRoomAnchor(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		p        wardwatch.Point // where the readings come from
		anchorDB float64         // added to the anchor's reading
		wantZone int64
	}{
		// Readings as if the tag stood by the wall, in B, but the anchor
		// hears it as if right below: the anchor decides (the solver,
		// siding with the five others, says B).
		{"strong anchor decides", Config{}, wardwatch.Point{X: 12, Y: 5}, 13.5, 101},
		{"anchor off", Config{AnchorRange: -1}, wardwatch.Point{X: 12, Y: 5}, 13.5, 102},
		{"anchor heard, but not near", Config{}, wardwatch.Point{X: 12, Y: 5}, 0, 102},
	}
	for _, tt := range tests {
		site := anchorSite()
		e := newEngine(tt.cfg, site)
		for i, g := range site.Gateways {
			rssi := modelRSSI(g, tt.p)
			if i == 0 {
				rssi += tt.anchorDB
			}
			observeAll(t, e, sight(0, g.ID, "t", rssi))
		}
		p := onePosition(t, e.Update(at(0.5)), "t")
		if p.ZoneID != tt.wantZone {
			t.Errorf("%s: zone %d at %v, want %d", tt.name, p.ZoneID, p.At, tt.wantZone)
		}
		if p.ZoneID == 101 && !floorplan.Contains(floorplan.Rectangle(0, 0, 10, 10), p.At) {
			t.Errorf("%s: anchored in A but shown at %v", tt.name, p.At)
		}
	}
}

func TestPullInto(t *testing.T) {
	z := &zoneInfo{poly: floorplan.Rectangle(0, 0, 10, 10)}
	tests := []struct {
		p, inside, want wardwatch.Point
	}{
		{wardwatch.Point{X: 12, Y: 5}, wardwatch.Point{X: 5, Y: 5}, wardwatch.Point{X: 10 - anchorClearance, Y: 5}},
		{wardwatch.Point{X: 3, Y: 3}, wardwatch.Point{X: 5, Y: 5}, wardwatch.Point{X: 3, Y: 3}},        // already inside
		{wardwatch.Point{X: 12, Y: 5}, wardwatch.Point{X: 20, Y: 5}, wardwatch.Point{X: 12, Y: 5}},     // anchor outside its zone
		{wardwatch.Point{X: 10.1, Y: 5}, wardwatch.Point{X: 9.9, Y: 5}, wardwatch.Point{X: 9.9, Y: 5}}, // never past the anchor
	}
	for _, tt := range tests {
		got := pullInto(z, tt.p, tt.inside)
		if floorDistance(got, tt.want) > 1e-6 {
			t.Errorf("pullInto(%v toward %v) = %v, want %v", tt.p, tt.inside, got, tt.want)
		}
	}
}

// TestCorridorPassage: a walker crossing a corridor narrower than
// MinDwell's worth of walking, from room A into room B, changes room once,
// MinDwell after it left A, and the change is dated when it left; a fix
// out in a room, though, does not carry a corridor candidate's clock.
// corridorSite has two rooms, A and B, either side of a 2 m corridor C,
// with a gateway in the middle of each.
func corridorSite() Site {
	return Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 22, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 101, FloorID: 1, Name: "A", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(0, 0, 10, 10)},
			{ID: 102, FloorID: 1, Name: "B", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(12, 0, 10, 10)},
			{ID: 103, FloorID: 1, Name: "C", Kind: wardwatch.ZoneCorridor, Polygon: floorplan.Rectangle(10, 0, 2, 10)},
		},
		Gateways: []wardwatch.Gateway{gw('A', 1, 5, 5), gw('B', 1, 17, 5), gw('C', 1, 11, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 9}, {ID: "u", AssetID: 10}},
	}
}

func TestCorridorPassage(t *testing.T) {
	site := corridorSite()
	for _, tc := range []struct {
		name, path string
		corridor   bool
		want       []change
		zones      string
	}{
		{"through the corridor", "AAAACBBBB", true, []change{{0, 101, 0}, {101, 102, 4}}, "AAAAAABBB"},
		{"through a room", "AAAACBBBB", false, []change{{0, 101, 0}, {101, 102, 5}}, "AAAAAAABB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := site
			if !tc.corridor {
				s.Zones = slices.Clone(site.Zones)
				s.Zones[2].Kind = wardwatch.ZoneRoom
			}
			e := newEngine(Config{}, s)
			zcs, zones := zoneWalk(t, e, "t", 0, tc.path, wardwatch.StateMoving)
			if got := changesOf(zcs); !slices.Equal(got, tc.want) || zones != tc.zones {
				t.Errorf("changes %v, zones %s; want %v, %s", got, zones, tc.want, tc.zones)
			}
		})
	}
}

// TestCorridorDwell: out of a corridor a tag changes zone after
// CorridorDwell (when shorter than MinDwell); into one, after MinDwell.
func TestCorridorDwell(t *testing.T) {
	site := corridorSite()
	for _, tc := range []struct {
		name, path string
		cfg        Config
		zones      string
	}{
		{"out of the corridor: CorridorDwell (1 s)", "CCCCBBBB", Config{StationaryDwell: -1}, "?????BBB"},
		{"CorridorDwell off: MinDwell (2 s)", "CCCCBBBB", Config{StationaryDwell: -1, CorridorDwell: -1}, "??????BB"},
		{"CorridorDwell longer than MinDwell: MinDwell", "CCCCBBBB", Config{StationaryDwell: -1, CorridorDwell: 5 * time.Second}, "??????BB"},
		{"into the corridor: MinDwell", "AAAACCCC", Config{StationaryDwell: -1}, "AAAAAA??"},
	} {
		e := newEngine(tc.cfg, site)
		if _, zones := zoneWalk(t, e, "t", 0, tc.path, wardwatch.StateMoving); zones != tc.zones {
			t.Errorf("%s: path %s gave zones %s, want %s", tc.name, tc.path, zones, tc.zones)
		}
	}
}

// TestWalkReleasesParkedTag: the motion detector's verdicts on a parked
// tag's start. S is a spot in A 0.8 m from B; X is 1 m across the wall,
// in B (1.8 m from S); B is 5.8 m from S; Y, in B, 7.8 m.
func TestWalkReleasesParkedTag(t *testing.T) {
	site := zoneSite()
	site.Gateways = append(site.Gateways, gw('S', 1, 9.2, 5), gw('X', 1, 11, 5), gw('Y', 1, 17, 5))
	for _, tc := range []struct {
		name  string
		state motion
		after string
		want  []change
	}{
		// A confirmed walk whose position is beyond walkAway: MinDwell.
		{"confirmed, away", motion{set: true, moving: true, confirmed: true}, "BBBBB", []change{{0, 101, 0}, {101, 102, 40}}},
		// Confirmed, but the position stays within walkAway of the spot
		// (across the wall 1.8 m away): the position judge keeps the tag
		// settled, and 10 s across the wall is no move.
		{"confirmed, near the spot", motion{set: true, moving: true, confirmed: true}, "XXXXXXXXXXSS", []change{{0, 101, 0}}},
		// A start still being checked holds the tag settled, even where
		// the position judge alone would let it go (beyond settleFar).
		{"being checked", motion{set: true, moving: true, confirming: true}, "YYYYYYSSS", []change{{0, 101, 0}}},
		// The same excursion with no verdict from the detector: the
		// position judge alone lets it go at once.
		{"no detector", motion{}, "YYYYYYSSS", []change{{0, 101, 0}, {101, 102, 40}, {102, 101, 46}}},
	} {
		e := newEngine(Config{}, site)
		zcs, _ := zoneWalk(t, e, "t", 0, strings.Repeat("S", 40), wardwatch.StateStationary)
		e.tags["t"].motion = tc.state
		more, _ := zoneWalk(t, e, "t", 40, tc.after, wardwatch.StateStationary)
		if got := changesOf(append(zcs, more...)); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: changes %v, want %v", tc.name, got, tc.want)
		}
	}
}
