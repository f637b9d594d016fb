package replay

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/tracker"
)

var update = flag.Bool("update", false, "rewrite the sample files in ../testdata/replay-sample")

// sampleDir holds a small replay for the CLI and for users to try.
var sampleDir = filepath.Join("..", "testdata", "replay-sample")

// sample is the dataset behind the sample files: one minute of the
// ESPresense flat.
func sample() Dataset { return ESPresenseFlat(Flat{Seed: 1, Duration: time.Minute}) }

// TestSampleFiles keeps ../testdata/replay-sample in step with the
// generator (go test -run TestSampleFiles -update ./replay/ rewrites it)
// and checks the files read back.
func TestSampleFiles(t *testing.T) {
	ds := sample()
	files := map[string]func(*bytes.Buffer) error{
		"gateways.csv":  func(b *bytes.Buffer) error { return WriteGateways(b, ds.Gateways) },
		"sightings.csv": func(b *bytes.Buffer) error { return WriteSightings(b, ds.Sightings) },
		"truth.csv":     func(b *bytes.Buffer) error { return WriteTruth(b, ds.Truth) },
		"zones.geojson": func(b *bytes.Buffer) error { return WriteZones(b, ds.Zones) },
	}
	for name, write := range files {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sampleDir, name)
		if *update {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, b.Bytes()) {
			t.Errorf("%s differs from the generator's output; run go test -run TestSampleFiles -update ./replay/", path)
		}
	}
	f, err := os.Open(filepath.Join(sampleDir, "engine.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg, err := ReadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TagHeight != 2.4 {
		t.Errorf("engine.yaml: tag_height %v, want 2.4 (the flat's simulated tag height)", cfg.TagHeight)
	}
}

// runDirect drives the engine the way Run documents, without Run: the
// reference for TestRunIsTheEngine.
func runDirect(ds Dataset, cfg tracker.Config, step time.Duration) []wardwatch.Position {
	w, err := newWorld(ds.Gateways, ds.Zones, ds.Sightings)
	if err != nil {
		panic(err)
	}
	e := tracker.New(cfg, w.site)
	var out []wardwatch.Position
	ss := ds.Sightings // already in time order
	tick := ss[0].Time.Add(step)
	for i := 0; ; tick = tick.Add(step) {
		for ; i < len(ss) && !ss[i].Time.After(tick); i++ {
			e.Observe(wardwatch.Sighting{Time: ss[i].Time, GatewayID: w.gatewayIDs[ss[i].GatewayID], TagID: ss[i].TagID, RSSI: ss[i].RSSI})
		}
		out = append(out, e.Update(tick).Positions...)
		if i == len(ss) {
			return out
		}
	}
}

// readEstimates parses P.csv.
func readEstimates(t *testing.T, data []byte) [][]string {
	t.Helper()
	recs, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "ts,tag_id,floor,x,y,zone,confidence,solver" {
		t.Fatalf("P.csv header %q", got)
	}
	return recs[1:]
}

// TestRunIsTheEngine checks Run's P.csv holds exactly what the engine
// outputs when driven by hand, and that the order of the input file does
// not matter.
func TestRunIsTheEngine(t *testing.T) {
	ds := sample()
	cfg := tracker.Config{TagHeight: 2.4}
	want := runDirect(ds, cfg, DefaultStep)
	if len(want) < 50 {
		t.Fatalf("only %d positions from the engine", len(want))
	}

	// Shuffle the file: whole advertisements (the sightings sharing a
	// timestamp) change places, so the sort must restore the order.
	shuffled := make([]Sighting, 0, len(ds.Sightings))
	var groups [][]Sighting
	for i := 0; i < len(ds.Sightings); {
		j := i
		for j < len(ds.Sightings) && ds.Sightings[j].Time.Equal(ds.Sightings[i].Time) {
			j++
		}
		groups = append(groups, ds.Sightings[i:j])
		i = j
	}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	for _, g := range groups {
		shuffled = append(shuffled, g...)
	}

	for name, ss := range map[string][]Sighting{"sorted": ds.Sightings, "shuffled": shuffled} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			var each []Estimate
			sum, err := Run(Options{Gateways: ds.Gateways, Sightings: ss, Zones: ds.Zones, Config: cfg, Out: &b,
				OnEstimate: func(e Estimate) { each = append(each, e) }})
			if err != nil {
				t.Fatal(err)
			}
			rows := readEstimates(t, b.Bytes())
			if len(rows) != len(want) || sum.Estimates != len(want) || len(each) != len(want) {
				t.Fatalf("%d rows, %d estimates, %d callbacks; the engine made %d positions", len(rows), sum.Estimates, len(each), len(want))
			}
			zoneNames := map[int64]string{0: "", 1: "living", 2: "bedroom"}
			for i, p := range want {
				r := rows[i]
				wantRow := []string{"", p.TagID, "1", strconv.FormatFloat(p.At.X, 'f', 3, 64), strconv.FormatFloat(p.At.Y, 'f', 3, 64),
					zoneNames[p.ZoneID], strconv.FormatFloat(p.Confidence, 'f', 3, 64), p.Solver}
				r[0] = ""
				if strings.Join(r, ",") != strings.Join(wantRow, ",") {
					t.Fatalf("row %d: %v, want %v", i+1, r, wantRow)
				}
				if each[i].X != p.At.X || each[i].Zone != zoneNames[p.ZoneID] {
					t.Fatalf("estimate %d: %+v, want %+v", i, each[i], p)
				}
			}
			if sum.Stats.Accepted != uint64(len(ds.Sightings)) || sum.Sightings != len(ds.Sightings) {
				t.Errorf("accepted %d of %d sightings", sum.Stats.Accepted, len(ds.Sightings))
			}
		})
	}
}

func TestRunUpdatesEveryStep(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0).UTC()
	gws := []Gateway{{ID: "a", Floor: 0, X: 1, Y: 1, Z: 2.5}, {ID: "b", Floor: 0, X: 5, Y: 1, Z: 2.5}}
	var ss []Sighting
	for i := range 20 { // 10 s at 2 Hz, then three hours of silence, then 10 s more
		ss = append(ss, Sighting{Time: t0.Add(time.Duration(i) * 500 * time.Millisecond), GatewayID: "a", TagID: "t", RSSI: -60})
		ss = append(ss, Sighting{Time: t0.Add(3*time.Hour + time.Duration(i)*500*time.Millisecond), GatewayID: "b", TagID: "t", RSSI: -60})
	}
	ss = append(ss, Sighting{Time: t0, GatewayID: "nowhere", TagID: "t", RSSI: -60})
	var b bytes.Buffer
	sum, err := Run(Options{Gateways: gws, Sightings: ss, Step: time.Second, Out: &b})
	if err != nil {
		t.Fatal(err)
	}
	// Stepping through the silence would take 10800 updates; Run jumps
	// silences longer than an hour.
	if sum.Updates > 100 {
		t.Errorf("%d updates: the silence was stepped through", sum.Updates)
	}
	if sum.Stats.UnknownGateway != 1 || sum.Stats.Accepted != 40 {
		t.Errorf("stats %+v: want 40 accepted, 1 from an unknown gateway", sum.Stats)
	}
	if sum.Start != t0 || sum.End != t0.Add(3*time.Hour+9500*time.Millisecond) {
		t.Errorf("span %v – %v", sum.Start, sum.End)
	}
	rows := readEstimates(t, b.Bytes())
	if len(rows) == 0 || rows[0][2] != "0" {
		t.Fatalf("rows %v: want positions on floor 0", rows)
	}
	for _, r := range rows {
		ts, ok := ParseTime(r[0])
		if !ok || ts.Sub(t0)%time.Second != 0 {
			t.Errorf("row %v: ts not on the 1 s step grid from the first sighting", r)
		}
	}
}

func TestRunNothing(t *testing.T) {
	var b bytes.Buffer
	sum, err := Run(Options{Out: &b})
	if err != nil || sum.Estimates != 0 || sum.Updates != 0 || b.String() != "ts,tag_id,floor,x,y,zone,confidence,solver\n" {
		t.Errorf("Run of nothing: %+v, %v, %q", sum, err, b.String())
	}
	var r strings.Builder
	if err := sum.WriteReport(&r); err != nil || !strings.Contains(r.String(), "positions") {
		t.Errorf("report %q, %v", r.String(), err)
	}
}

func TestRunCancelled(t *testing.T) {
	ds := sample()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := RunContext(ctx, Options{Gateways: ds.Gateways, Sightings: ds.Sightings})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want context.Canceled", err)
	}
}

func TestRunRefusesBadSites(t *testing.T) {
	room := []wardwatch.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 5}, {X: 0, Y: 5}}
	gw := Gateway{ID: "a", Floor: 1, X: 2, Y: 2, Z: 2.7}
	for _, tt := range []struct {
		name  string
		gws   []Gateway
		zones []Zone
		want  string
	}{
		{"duplicate gateway", []Gateway{gw, gw}, nil, `gateway_id "a" used twice`},
		{"gateway without ID", []Gateway{{Floor: 1}}, nil, "gateway 1 has no ID"},
		{"gateway off the map", []Gateway{{ID: "a", X: math.NaN()}}, nil, "not finite"},
		{"unknown anchor", []Gateway{{ID: "a", Floor: 1, AnchorZone: "R1"}}, nil, `anchor_zone "R1" is not a zone`},
		{"anchor on another floor", []Gateway{{ID: "a", Floor: 2, AnchorZone: "R1"}}, []Zone{{Name: "R1", Floor: 1, Polygon: room}}, "on floor 1, the gateway on floor 2"},
		{"duplicate zone", []Gateway{gw}, []Zone{{Name: "R1", Floor: 1, Polygon: room}, {Name: "R1", Floor: 1, Polygon: room}}, `"R1" used twice`},
		{"zone without name", []Gateway{gw}, []Zone{{Floor: 1, Polygon: room}}, "zone 1 has no name"},
		{"bad polygon", []Gateway{gw}, []Zone{{Name: "R1", Floor: 1, Polygon: room[:2]}}, "non-zero area"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(Options{Gateways: tt.gws, Zones: tt.zones})
			wantInvalid(t, err, tt.want)
		})
	}
}

func TestWorld(t *testing.T) {
	room := func(x float64) []wardwatch.Point {
		return []wardwatch.Point{{X: x, Y: 0}, {X: x + 4, Y: 0}, {X: x + 4, Y: 5}, {X: x, Y: 5}}
	}
	gws := []Gateway{
		{ID: "g1", Floor: 3, X: 2, Y: 2, Z: 2.7, AnchorZone: "R1"},
		{ID: "g2", Floor: -1, X: -2, Y: 2, Z: 2.7},
		{ID: "g3", Floor: 3, X: 30, Y: 1, Z: 2.7},
	}
	zones := []Zone{
		{Name: "R1", Floor: 3, Polygon: room(0)},
		{Name: "Hall", Floor: 3, Kind: wardwatch.ZoneCorridor, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 12, Y: 0}, {X: 12, Y: 9}, {X: 0, Y: 9}}},
	}
	w, err := newWorld(gws, zones, []Sighting{{TagID: "z"}, {TagID: "b"}, {TagID: "z"}})
	if err != nil {
		t.Fatal(err)
	}
	s := w.site
	if len(s.Floors) != 2 || s.Floors[0].Level != -1 || s.Floors[1].Level != 3 || s.Floors[0].ID != 1 || s.Floors[1].ID != 2 {
		t.Fatalf("floors %+v", s.Floors)
	}
	if s.Floors[0].Width != 0 || s.Floors[1].Width != 30 || s.Floors[1].Height != 9 {
		t.Errorf("floor sizes %+v: want the basement unbounded (negative x) and floor 3 30×9 m", s.Floors)
	}
	w2, err := newWorld([]Gateway{{ID: "a", Floor: 0, X: 5, Y: 2}, {ID: "b", Floor: 0, X: 1, Y: 7}}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if f := w2.site.Floors[0]; f.Width != 6 || f.Height != 8 {
		t.Errorf("floor without zones %+v: want 1 m beyond the gateways, 6×8 m", f)
	}
	if s.Gateways[0].AnchorZoneID != 1 || s.Gateways[0].FloorID != 2 || s.Gateways[1].FloorID != 1 || s.Gateways[0].Key != "g1" {
		t.Errorf("gateways %+v", s.Gateways)
	}
	if s.Zones[0].Kind != wardwatch.ZoneRoom || s.Zones[1].Kind != wardwatch.ZoneCorridor || s.Zones[1].FloorID != 2 {
		t.Errorf("zones %+v", s.Zones)
	}
	if len(s.Tags) != 2 || s.Tags[0].ID != "b" || s.Tags[1].ID != "z" || s.Tags[1].AssetID != 2 {
		t.Errorf("tags %+v", s.Tags)
	}
	for _, tt := range []struct {
		floor int64
		p     wardwatch.Point
		want  string
	}{
		{3, wardwatch.Point{X: 1, Y: 1}, "R1"}, // the smaller of two overlapping zones
		{3, wardwatch.Point{X: 6, Y: 1}, "Hall"},
		{3, wardwatch.Point{X: 20, Y: 1}, ""},
		{-1, wardwatch.Point{X: 1, Y: 1}, ""},
	} {
		if got := w.zoneAt(tt.floor, tt.p); got != tt.want {
			t.Errorf("zoneAt(%d, %v) = %q, want %q", tt.floor, tt.p, got, tt.want)
		}
	}
}

// TestScoring feeds record made-up positions and checks the figures.
func TestScoring(t *testing.T) {
	room := func(x float64) []wardwatch.Point {
		return []wardwatch.Point{{X: x, Y: 0}, {X: x + 4, Y: 0}, {X: x + 4, Y: 5}, {X: x, Y: 5}}
	}
	ds := Dataset{
		Gateways: []Gateway{{ID: "g", Floor: 1, X: 4, Y: 2.5, Z: 2.7}},
		Zones:    []Zone{{Name: "A", Floor: 1, Polygon: room(0)}, {Name: "B", Floor: 1, Polygon: room(4)}},
	}
	t0 := time.Unix(1000, 0).UTC()
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	// Tag "walk" goes from (2,2.5) in A to (6,2.5) in B over 4 s; tag "still"
	// stays at (1,1) in A for an hour.
	ds.Truth = []Truth{
		{Time: at(0), TagID: "walk", X: 2, Y: 2.5}, {Time: at(4), TagID: "walk", X: 6, Y: 2.5},
		{Time: at(0), TagID: "still", X: 1, Y: 1}, {Time: at(3600), TagID: "still", X: 1, Y: 1},
	}
	w, err := newWorld(ds.Gateways, ds.Zones, nil)
	if err != nil {
		t.Fatal(err)
	}
	truth := indexTruth(ds.Truth)
	sum := Summary{HasTruth: true, HasZones: true}
	tags := make(map[string]*tagRun)
	rec := func(s int, tag string, x, y float64, zone int64, state wardwatch.TagState) {
		t.Helper()
		p := wardwatch.Position{TagID: tag, FloorID: 1, At: wardwatch.Point{X: x, Y: y}, ZoneID: zone, State: state}
		if err := w.record(&sum, tags, truth, nil, nil, at(s), p); err != nil {
			t.Fatal(err)
		}
	}
	rec(0, "walk", 2, 2.5, 1, "")                       // error 0, A = A
	rec(1, "walk", 3, 3.5, 1, "")                       // truth (3,2.5): error 1, A = A
	rec(3, "walk", 4, 2.5, 1, "")                       // truth (5,2.5): error 1, A ≠ B
	rec(4, "walk", 6, 2.5, 2, "")                       // error 0, B = B; one zone change
	rec(9, "walk", 6, 2.5, 2, "")                       // beyond the truth: not scored
	rec(0, "still", 1, 4, 1, "")                        // error 3
	rec(1800, "still", 5, 1, 2, "")                     // error 4, wrong room; a change
	rec(3600, "still", 1, 1, 1, "")                     // error 0; a change back
	rec(3600, "still", 9, 9, 0, wardwatch.StateMissing) // not scored, but a change to no zone
	finishBaseline(&sum, tags)

	a := sum.Overall
	if a.N != 7 || a.RoomN != 7 {
		t.Fatalf("scored %d (rooms %d), want 7", a.N, a.RoomN)
	}
	// Errors: 0, 1, 1, 0, 3, 4, 0.
	if math.Abs(a.Mean-9.0/7) > 1e-9 || a.Median != 1 || a.Max != 4 || math.Abs(a.P90-3.4) > 1e-9 {
		t.Errorf("errors: %+v", a)
	}
	if math.Abs(a.RoomCorrect-5.0/7) > 1e-9 || a.FloorCorrect != 1 {
		t.Errorf("room correct %v, floor correct %v; want 5/7, 1", a.RoomCorrect, a.FloorCorrect)
	}
	still := sum.Subset(func(tag string) bool { return tag == "still" })
	if still.N != 3 || still.ZoneChanges != 3 || math.Abs(still.TagHours-1) > 1e-9 || still.ZoneChangesPerHour != 3 || still.TruthZoneChanges != 0 {
		t.Errorf("still: %+v", still)
	}
	walk := sum.Subset(func(tag string) bool { return tag == "walk" })
	if walk.ZoneChanges != 1 || walk.TruthZoneChanges != 1 || walk.N != 4 {
		t.Errorf("walk: %+v", walk)
	}

	var r strings.Builder
	if err := sum.WriteReport(&r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"error mean", "1.29 m", "error median", "room correct", "71.4 %", "zone changes", "true zone changes"} {
		if !strings.Contains(r.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, r.String())
		}
	}
}
