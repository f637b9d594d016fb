package tracker

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec float64) time.Time { return t0.Add(time.Duration(sec * float64(time.Second))) }

func gw(id, floor int64, x, y float64) wardwatch.Gateway {
	return wardwatch.Gateway{ID: id, Key: fmt.Sprintf("gw-%d", id), FloorID: floor, At: wardwatch.Point{X: x, Y: y}}
}

func sight(sec float64, gateway int64, tag string, rssi float64) wardwatch.Sighting {
	return wardwatch.Sighting{Time: at(sec), GatewayID: gateway, TagID: tag, RSSI: rssi}
}

// observeAll feeds ss to e and fails the test on any refused sighting.
func observeAll(t *testing.T, e *Engine, ss ...wardwatch.Sighting) {
	t.Helper()
	for _, s := range ss {
		if !e.Observe(s) {
			t.Fatalf("Observe(%+v) refused", s)
		}
	}
}

// onePosition runs Update and returns the only position of tag.
func onePosition(t *testing.T, out Output, tag string) wardwatch.Position {
	t.Helper()
	if len(out.Positions) != 1 || out.Positions[0].TagID != tag {
		t.Fatalf("Update positions = %+v, want one for %s", out.Positions, tag)
	}
	return out.Positions[0]
}

func near1(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestConfigDefaults(t *testing.T) {
	e := New(Config{}, Site{})
	if e.cfg != DefaultConfig() {
		t.Errorf("zero Config = %+v, want defaults %+v", e.cfg, DefaultConfig())
	}
	e = New(Config{MinDwell: -1, ZoneMargin: -1, FloorHysteresis: -1, MaxGateways: 6, DefaultPathLoss: math.NaN()}, Site{})
	if e.cfg.MinDwell != 0 || e.cfg.ZoneMargin != 0 || e.cfg.FloorHysteresis != 0 {
		t.Errorf("negative values should mean none: %+v", e.cfg)
	}
	if e.cfg.MaxGateways != 6 || e.cfg.DefaultPathLoss != 2.5 {
		t.Errorf("cfg = %+v", e.cfg)
	}
}

func TestDistanceModel(t *testing.T) {
	tests := []struct {
		name         string
		rssi, ref, n float64
		want         float64
	}{
		{"at 1 m", -59, -59, 2.5, 1},
		{"10 m", -84, -59, 2.5, 10},
		{"n=2, 20 dB", -79, -59, 2, 10},
		{"4 m", -59 - 10*2.5*math.Log10(4), -59, 2.5, 4},
		{"closer than 0.5 m clamps", -40, -59, 2.5, 0.5},
		{"farther than 30 m clamps", -130, -59, 2.5, 30},
		{"calibrated gateway", -75, -65, 2, math.Pow(10, 0.5)},
	}
	for _, tt := range tests {
		if got := distance(tt.rssi, tt.ref, tt.n); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: distance(%v, %v, %v) = %v, want %v", tt.name, tt.rssi, tt.ref, tt.n, got, tt.want)
		}
	}
}

func TestReferencePowerAndPathLoss(t *testing.T) {
	e := New(Config{DefaultRSSIAt1m: -61, DefaultPathLoss: 3}, Site{})
	calibrated := &gatewayInfo{rssiAt1m: -65, pathLoss: 2.2}
	plain := &gatewayInfo{}
	tests := []struct {
		name     string
		txPower  float64
		g        *gatewayInfo
		wantRef  float64
		wantLoss float64
	}{
		{"tag TxPower wins", -55, calibrated, -55, 2.2},
		{"gateway calibration", 0, calibrated, -65, 2.2},
		{"defaults", 0, plain, -61, 3},
		{"tag TxPower, default loss", -57, plain, -57, 3},
	}
	for _, tt := range tests {
		ts := &tagState{txPower: tt.txPower}
		if got := e.referencePower(ts, tt.g); got != tt.wantRef {
			t.Errorf("%s: referencePower = %v, want %v", tt.name, got, tt.wantRef)
		}
		if got := e.pathLoss(tt.g); got != tt.wantLoss {
			t.Errorf("%s: pathLoss = %v, want %v", tt.name, got, tt.wantLoss)
		}
	}
}

func TestObserveTxPower(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 5, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 7}},
	}
	tests := []struct {
		tx   []float64
		want float64
	}{
		{[]float64{0}, 0},
		{[]float64{-62}, -62},
		{[]float64{-62, 0}, -62},          // a gateway that does not decode it keeps the known value
		{[]float64{-62, -70}, -70},        // the newest advertised value wins
		{[]float64{-62, 4}, -62},          // positive: garbage
		{[]float64{-62, math.NaN()}, -62}, // not finite
		{[]float64{math.Inf(-1)}, 0},
	}
	for _, tt := range tests {
		e := New(Config{}, site)
		for i, tx := range tt.tx {
			s := sight(float64(i), 1, "t", -70)
			s.TxPower = tx
			observeAll(t, e, s)
		}
		if got := e.tags["t"].txPower; got != tt.want {
			t.Errorf("TxPower %v: stored %v, want %v", tt.tx, got, tt.want)
		}
	}
}

func TestLinkMedian(t *testing.T) {
	type sample struct {
		sec  float64
		rssi float64
	}
	series := func(from, n int, rssi float64) []sample {
		var s []sample
		for i := range n {
			s = append(s, sample{float64(from+i) * 0.1, rssi})
		}
		return s
	}
	tests := []struct {
		name       string
		samples    []sample
		cutoff     float64 // seconds after t0
		want       float64
		wantNewest float64
		wantOK     bool
	}{
		{"single", []sample{{1, -70}}, 0, -70, 1, true},
		{"odd", []sample{{1, -70}, {1.1, -60}, {1.2, -80}}, 0, -70, 1.2, true},
		{"even averages the middle two", []sample{{1, -70}, {1.1, -60}, {1.2, -80}, {1.3, -66}}, 0, -68, 1.3, true},
		{"outlier burst", append(series(0, 8, -60), series(8, 3, -95)...), -1, -60, 1.0, true},
		{"burst of strong reflections", append(series(0, 9, -72), series(9, 4, -48)...), -1, -72, 1.2, true},
		{"old samples leave the window", append(series(0, 5, -90), series(50, 3, -60)...), 4, -60, 5.2, true},
		{"cutoff is exclusive", []sample{{2, -70}, {3, -60}}, 2, -60, 3, true},
		{"nothing in the window", []sample{{1, -70}}, 1, 0, 0, false},
		{"ring keeps the newest 16", append(series(0, 16, -90), series(16, 16, -60)...), -1, -60, 3.1, true},
		{"out-of-order arrival", []sample{{3, -61}, {1, -90}, {2, -62}}, 1.5, -61.5, 3, true},
	}
	for _, tt := range tests {
		var l link
		for _, s := range tt.samples {
			l.add(at(s.sec).UnixNano(), s.rssi)
		}
		got, newest, ok := l.median(at(tt.cutoff).UnixNano())
		if ok != tt.wantOK || (ok && (got != tt.want || newest != at(tt.wantNewest).UnixNano())) {
			t.Errorf("%s: median = %v, %v, %v; want %v, %v, %v", tt.name, got, time.Unix(0, newest).UTC(), ok, tt.want, at(tt.wantNewest), tt.wantOK)
		}
	}
}

func TestOutlierBurstDoesNotMoveTag(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 2, 5), gw(2, 1, 18, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	e := New(Config{}, site)
	for i := range 8 {
		sec := float64(i) * 0.25
		observeAll(t, e, sight(sec, 1, "t", -60), sight(sec, 2, "t", -80))
	}
	before := onePosition(t, e.Update(at(2)), "t")
	for i := range 3 { // three reflections make gateway 2 look as close as gateway 1
		observeAll(t, e, sight(2+float64(i)*0.1, 2, "t", -58))
	}
	after := onePosition(t, e.Update(at(2.5)), "t")
	if math.Abs(after.At.X-before.At.X) > 1e-9 {
		t.Errorf("burst moved the tag from %v to %v", before.At, after.At)
	}
	if after.At.X > 4 {
		t.Errorf("tag at %v, want near gateway 1 at x=2", after.At)
	}
}

// twoFloors has two 20×10 floors with four gateways each, at the same x,y.
func twoFloors() Site {
	s := Site{
		Floors: []wardwatch.Floor{{ID: 1, Level: 0, Width: 20, Height: 10}, {ID: 2, Level: 1, Width: 20, Height: 10}},
		Tags:   []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	for f := int64(1); f <= 2; f++ {
		base := f * 10
		s.Gateways = append(s.Gateways, gw(base+1, f, 2, 2), gw(base+2, f, 18, 2), gw(base+3, f, 18, 8), gw(base+4, f, 2, 8))
	}
	return s
}

func TestFloorChoice(t *testing.T) {
	type heard map[int64]float64 // gateway → RSSI
	tests := []struct {
		name  string
		links heard
		want  int64
	}{
		{"strongest floor", heard{11: -60, 12: -62, 13: -64, 21: -75, 22: -75}, 1},
		{"upper floor", heard{11: -80, 21: -61, 22: -66, 23: -70}, 2},
		{"mean of the best three, not all", heard{11: -60, 12: -60, 13: -60, 14: -100, 21: -62, 22: -62, 23: -62, 24: -62}, 1},
		{"one strong link beats three middling", heard{11: -50, 21: -55, 22: -55, 23: -55}, 1},
		{"tie goes to the lower floor ID", heard{11: -70, 21: -70}, 1},
	}
	for _, tt := range tests {
		e := New(Config{}, twoFloors())
		for g, rssi := range tt.links {
			observeAll(t, e, sight(0, g, "t", rssi))
		}
		if p := onePosition(t, e.Update(at(0.5)), "t"); p.FloorID != tt.want {
			t.Errorf("%s: floor %d, want %d", tt.name, p.FloorID, tt.want)
		}
	}
}

func TestFloorHysteresis(t *testing.T) {
	type heard map[int64]float64
	// Steps are 5 s apart, longer than the 4 s window, so each step stands alone.
	steps := []struct {
		name  string
		links heard
		want  int64
	}{
		{"first fix on floor 1", heard{11: -60, 12: -62, 13: -64, 21: -75, 22: -75}, 1},
		{"floor 2 ahead by 3 dB: stay", heard{11: -70, 12: -70, 13: -70, 21: -67, 22: -67, 23: -67}, 1},
		{"floor 2 ahead by exactly 4 dB: move", heard{11: -70, 12: -70, 13: -70, 21: -66, 22: -66, 23: -66}, 2},
		{"floor 1 ahead by 2 dB: stay", heard{11: -63, 12: -63, 21: -65, 22: -65}, 2},
		{"floor 1 ahead by 10 dB: move", heard{11: -60, 21: -70, 22: -70}, 1},
		{"current floor not heard: move", heard{21: -85}, 2},
	}
	e := New(Config{}, twoFloors())
	for i, st := range steps {
		sec := float64(i) * 5
		for g, rssi := range st.links {
			observeAll(t, e, sight(sec, g, "t", rssi))
		}
		if p := onePosition(t, e.Update(at(sec+0.5)), "t"); p.FloorID != st.want {
			t.Fatalf("step %d (%s): floor %d, want %d", i, st.name, p.FloorID, st.want)
		}
	}

	// With hysteresis off, the strongest floor wins at once.
	e = New(Config{FloorHysteresis: -1}, twoFloors())
	for i, links := range []heard{{11: -60, 21: -70}, {11: -70, 21: -69}} {
		sec := float64(i) * 5
		for g, rssi := range links {
			observeAll(t, e, sight(sec, g, "t", rssi))
		}
		if p := onePosition(t, e.Update(at(sec+0.5)), "t"); p.FloorID != int64(i+1) {
			t.Errorf("no hysteresis, step %d: floor %d, want %d", i, p.FloorID, i+1)
		}
	}
}

func TestSolve(t *testing.T) {
	floor := []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}
	pair := []wardwatch.Gateway{gw(1, 1, 2, 5), gw(2, 1, 18, 5)}
	corners := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8)}
	six := append(append([]wardwatch.Gateway{}, corners...), gw(5, 1, 10, 1), gw(6, 1, 10, 9))
	type heard map[int64]float64
	tests := []struct {
		name     string
		gateways []wardwatch.Gateway
		links    heard
		check    func(p wardwatch.Position) string
	}{
		{"equal links: midway", pair, heard{1: -70, 2: -70}, func(p wardwatch.Position) string {
			if !near1(p.At.X, 10) || !near1(p.At.Y, 5) || p.Solver != "centroid" {
				return "want (10,5) by centroid"
			}
			return ""
		}},
		{"stronger link pulls the tag", pair, heard{1: -60, 2: -70}, func(p wardwatch.Position) string {
			d1, d2 := distance(-60, -59, 2.5), distance(-70, -59, 2.5)
			w1, w2 := 1/(d1*d1), 1/(d2*d2)
			want := (2*w1 + 18*w2) / (w1 + w2)
			if !near1(p.At.X, want) || !near1(p.At.Y, 5) || p.At.X <= 2 || p.At.X >= 10 {
				return fmt.Sprintf("want x=%v, between 2 and 10", want)
			}
			return ""
		}},
		{"single gateway: nearest", pair, heard{2: -75}, func(p wardwatch.Position) string {
			if p.At != (wardwatch.Point{X: 18, Y: 5}) || p.Solver != "nearest" || !near1(p.Confidence, 0.5) {
				return "want the gateway's position, solver nearest, confidence 0.5"
			}
			return ""
		}},
		{"four agreeing gateways: centre", corners, heard{1: -68, 2: -68, 3: -68, 4: -68}, func(p wardwatch.Position) string {
			if !near1(p.At.X, 10) || !near1(p.At.Y, 5) || !near1(p.Confidence, 1-1.0/16) {
				return "want (10,5), confidence 15/16"
			}
			return ""
		}},
		{"only the k=4 strongest count", six, heard{1: -68, 2: -68, 3: -68, 4: -68, 5: -90, 6: -90}, func(p wardwatch.Position) string {
			if !near1(p.At.X, 10) || !near1(p.At.Y, 5) || !near1(p.Confidence, 1-1.0/16) {
				return "want (10,5), confidence 15/16, the two weak links ignored"
			}
			return ""
		}},
		{"one link swamps three", corners, heard{1: -50, 2: -85, 3: -88, 4: -85}, func(p wardwatch.Position) string {
			if p.Confidence >= 0.6 || p.Confidence <= 0.5 || p.At.X > 3 || p.At.Y > 3 {
				return "want near gateway 1, confidence just above 0.5"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		e := New(Config{}, Site{Floors: floor, Gateways: tt.gateways, Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}}})
		for g, rssi := range tt.links {
			observeAll(t, e, sight(0, g, "t", rssi))
		}
		p := onePosition(t, e.Update(at(1)), "t")
		if msg := tt.check(p); msg != "" {
			t.Errorf("%s: got %+v: %s", tt.name, p, msg)
		}
		if p.Confidence < 0 || p.Confidence > 1 {
			t.Errorf("%s: confidence %v outside 0..1", tt.name, p.Confidence)
		}
	}
}

func TestConfidenceOrdering(t *testing.T) {
	fix := func(d ...float64) []rangeFix {
		var fs []rangeFix
		for _, x := range d {
			fs = append(fs, rangeFix{distance: x})
		}
		return fs
	}
	one := confidence(fix(3))
	two := confidence(fix(3, 3))
	fourAgreeing := confidence(fix(4, 4, 4, 4))
	fourDominated := confidence(fix(0.5, 10, 12, 15))
	if !(one < two && two < fourAgreeing) {
		t.Errorf("confidence should grow with agreeing links: 1→%v 2→%v 4→%v", one, two, fourAgreeing)
	}
	if !(one < fourDominated && fourDominated < fourAgreeing) {
		t.Errorf("a dominated fix (%v) should sit between one link (%v) and four agreeing (%v)", fourDominated, one, fourAgreeing)
	}
	if confidence(nil) != 0 {
		t.Error("no links: confidence should be 0")
	}
}

func TestClampToFloor(t *testing.T) {
	floor := []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}
	tests := []struct {
		name     string
		gateways []wardwatch.Gateway
		want     wardwatch.Point
		wantConf float64
	}{
		{"single gateway off the plan", []wardwatch.Gateway{gw(1, 1, 25, -3)}, wardwatch.Point{X: 20, Y: 0}, 0.25},
		{"centroid off the plan", []wardwatch.Gateway{gw(1, 1, -4, 12), gw(2, 1, -2, 14)}, wardwatch.Point{X: 0, Y: 10}, 0.375},
		{"on the plan: untouched", []wardwatch.Gateway{gw(1, 1, 20, 10)}, wardwatch.Point{X: 20, Y: 10}, 0.5},
	}
	for _, tt := range tests {
		e := New(Config{}, Site{Floors: floor, Gateways: tt.gateways, Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}}})
		for _, g := range tt.gateways {
			observeAll(t, e, sight(0, g.ID, "t", -70))
		}
		p := onePosition(t, e.Update(at(1)), "t")
		if p.At != tt.want || !near1(p.Confidence, tt.wantConf) {
			t.Errorf("%s: at %v conf %v, want %v conf %v", tt.name, p.At, p.Confidence, tt.want, tt.wantConf)
		}
	}
}

func TestPositionFields(t *testing.T) {
	site := twoFloors()
	site.Tags = append(site.Tags, wardwatch.Tag{ID: "quiet", AssetID: 2})
	e := New(Config{}, site)
	observeAll(t, e, sight(1, 11, "t", -60), sight(1.7, 12, "t", -65), sight(1.2, 11, "t", -61))
	// A sighting older than the window is stored but not used.
	observeAll(t, e, sight(-10, 13, "quiet", -60))
	out := e.Update(at(2))
	p := onePosition(t, out, "t")
	if p.AssetID != 1 || !p.Time.Equal(at(1.7)) || p.Time.Location() != time.UTC || p.FloorID != 1 {
		t.Errorf("position = %+v, want asset 1, floor 1, time %v UTC", p, at(1.7))
	}
	if out := e.Update(at(2.5)); len(out.Positions) != 0 || len(out.ZoneChanges) != 0 {
		t.Errorf("Update with nothing heard = %+v, want empty", out)
	}
}

// zoneSite is one 30×10 floor: room A (101) is x 0–10, room B (102) is
// x 10–20 and x 20–30 is no zone. Gateways, each named by a letter:
// A (5,5) in room A, B (15,5) in room B, W (10.3,5) in B 0.3 m from A,
// V (9.8,5) in A 0.2 m from B, N (25,5) in no zone.
func zoneSite() Site {
	return Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 30, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 101, FloorID: 1, Name: "A", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(0, 0, 10, 10)},
			{ID: 102, FloorID: 1, Name: "B", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(10, 0, 10, 10)},
		},
		Gateways: []wardwatch.Gateway{
			gw('A', 1, 5, 5), gw('B', 1, 15, 5), gw('W', 1, 10.3, 5), gw('V', 1, 9.8, 5), gw('N', 1, 25, 5),
		},
		Tags: []wardwatch.Tag{{ID: "t", AssetID: 9}, {ID: "u", AssetID: 10}},
	}
}

// walk feeds tag one sighting per second from the gateway named by each
// letter of path, starting at second start, with a 1 s window so each
// second's fix is the single gateway's position, and returns the zone
// changes and the zone of every fix, one letter per fix ('A', 'B', '-'
// for none).
func walk(t *testing.T, e *Engine, tag string, start int, path string) ([]wardwatch.ZoneChange, string) {
	t.Helper()
	var changes []wardwatch.ZoneChange
	var zones strings.Builder
	for i, g := range path {
		sec := float64(start + i)
		observeAll(t, e, sight(sec, int64(g), tag, -65))
		out := e.Update(at(sec))
		p := onePosition(t, out, tag)
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
		changes = append(changes, out.ZoneChanges...)
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
		{"first fix sets the zone at once", Config{}, "AAA", "AAA", []change{{0, 101, 0}}},
		{"first fix in no zone emits nothing", Config{}, "NN", "--", nil},
		{"brief excursion shorter than the dwell", Config{}, "AAAABBAAAA", "AAAAAAAAAA", []change{{0, 101, 0}}},
		{"real move emits exactly one change", Config{}, "AAAABBBBBB", "AAAAAAABBB", []change{{0, 101, 0}, {101, 102, 4}}},
		{"excursion restarts the dwell", Config{}, "AABABBBB", "AAAAAAAB", []change{{0, 101, 0}, {101, 102, 4}}},
		{"leaving every zone", Config{}, "AANNNN", "AAAAA-", []change{{0, 101, 0}, {101, 0, 2}}},
		{"into a zone from none", Config{}, "NNBBBB", "-----B", []change{{0, 102, 2}}},
		{"within the margin of A across the wall", Config{}, "AAWWWWWW", "AAAAAAAA", []change{{0, 101, 0}}},
		{"beyond the margin", Config{}, "AAWWWBBBB", "AAAAAAAAB", []change{{0, 101, 0}, {101, 102, 5}}},
		{"margin holds B as well", Config{}, "BBVVVVV", "BBBBBBB", []change{{0, 102, 0}}},
		{"no margin: the wall position switches", Config{ZoneMargin: -1}, "AAWWWW", "AAAAAB", []change{{0, 101, 0}, {101, 102, 2}}},
		{"wider margin", Config{ZoneMargin: 6}, "AABBBBB", "AAAAAAA", []change{{0, 101, 0}}},
		{"no dwell", Config{MinDwell: -1}, "AABA", "AABA", []change{{0, 101, 0}, {101, 102, 2}, {102, 101, 3}}},
		{"longer dwell", Config{MinDwell: 5 * time.Second}, "ABBBBBB", "AAAAAAB", []change{{0, 101, 0}, {101, 102, 1}}},
	}
	for _, tt := range tests {
		cfg := tt.cfg
		cfg.Window = time.Second
		e := New(cfg, zoneSite())
		zcs, zones := walk(t, e, "t", 0, tt.path)
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
	e := New(Config{Window: time.Second}, site)
	zcs, _ := walk(t, e, "t", 0, "CCEEEEDDDDEEEECCCC")
	want := []change{{0, 1, 0}, {1, 2, 6}, {2, 1, 14}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("changes %v, want %v", got, want)
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
		e := New(Config{}, zoneSite())
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

func TestSetSiteKeepsState(t *testing.T) {
	e := New(Config{Window: time.Second}, zoneSite())
	walk(t, e, "t", 0, "AAAB")                  // in A, B a candidate since second 3
	walk(t, e, "u", 0, "B")                     // u is tracked too
	observeAll(t, e, sight(3.5, 'N', "t", -90)) // a link to N, about to be removed
	if s := e.Stats(); s.Tags != 2 {
		t.Fatalf("Tags = %d, want 2", s.Tags)
	}

	site := zoneSite()
	site.Tags = []wardwatch.Tag{{ID: "t", AssetID: 90}, {ID: "new", AssetID: 11}} // u removed, asset of t changed
	site.Gateways = site.Gateways[:4]                                             // N removed
	e.SetSite(site)

	if s := e.Stats(); s.Tags != 1 {
		t.Errorf("after SetSite Tags = %d, want 1 (u forgotten)", s.Tags)
	}
	if len(e.tags["t"].links) != 2 {
		t.Errorf("t keeps %d links, want 2 (A and B; N is gone)", len(e.tags["t"].links))
	}
	if e.Observe(sight(4, 'B', "u", -60)) || e.Stats().UnknownTag != 1 {
		t.Error("the removed tag should be unknown")
	}
	if e.Observe(sight(4, 'N', "t", -60)) || e.Stats().UnknownGateway != 1 {
		t.Error("the removed gateway should be unknown")
	}

	// t's zone and pending candidate survive: no change from 0, and B
	// confirmed 3 s after second 3.
	zcs, zones := walk(t, e, "t", 4, "BBB")
	want := []change{{101, 102, 3}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) || zones != "AAB" {
		t.Fatalf("after SetSite: changes %v zones %s, want %v AAB", got, zones, want)
	}
	if zcs[0].AssetID != 90 {
		t.Errorf("asset %d, want the new asset 90", zcs[0].AssetID)
	}
	if !e.Observe(sight(7, 'A', "new", -60)) {
		t.Error("the added tag should be known")
	}
}

func TestSetSiteDeletedZone(t *testing.T) {
	e := New(Config{Window: time.Second}, zoneSite())
	walk(t, e, "t", 0, "AA")
	site := zoneSite()
	site.Zones = site.Zones[1:] // A deleted
	e.SetSite(site)
	zcs, zones := walk(t, e, "t", 2, "A")
	want := []change{{101, 0, 2}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) || zones != "-" {
		t.Errorf("changes %v zones %s, want %v -", got, zones, want)
	}
}

func TestSetSiteDeletedFloor(t *testing.T) {
	e := New(Config{}, twoFloors())
	observeAll(t, e, sight(0, 21, "t", -60))
	if p := onePosition(t, e.Update(at(0.5)), "t"); p.FloorID != 2 {
		t.Fatalf("floor %d, want 2", p.FloorID)
	}
	site := twoFloors()
	site.Floors = site.Floors[:1]
	e.SetSite(site)
	if e.Observe(sight(1, 21, "t", -60)) {
		t.Error("a gateway on a deleted floor should be unknown")
	}
	observeAll(t, e, sight(1, 11, "t", -90))
	if p := onePosition(t, e.Update(at(1.5)), "t"); p.FloorID != 1 {
		t.Errorf("floor %d, want 1", p.FloorID)
	}
}

func TestForget(t *testing.T) {
	e := New(Config{Window: time.Second, Forget: time.Minute}, zoneSite())
	walk(t, e, "t", 0, "AA")
	walk(t, e, "u", 50, "B")
	e.Update(at(61)) // t silent for 60 s: forgotten; u kept
	if s := e.Stats(); s.Tags != 1 {
		t.Fatalf("Tags = %d, want 1", s.Tags)
	}
	if _, ok := e.tags["u"]; !ok {
		t.Fatal("u should still be tracked")
	}
	zcs, _ := walk(t, e, "t", 62, "A")
	want := []change{{0, 101, 62}}
	if got := changesOf(zcs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after forgetting: changes %v, want %v", got, want)
	}
}

func TestForgetStaleLink(t *testing.T) {
	e := New(Config{Window: time.Second, Forget: time.Minute}, zoneSite())
	walk(t, e, "t", 0, "B")
	walk(t, e, "t", 30, "A")
	walk(t, e, "t", 61, "A") // the link to B is 61 s old now
	if n := len(e.tags["t"].links); n != 1 {
		t.Errorf("t keeps %d links, want 1", n)
	}
}

func TestSiteIgnoresBadConfig(t *testing.T) {
	site := Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 1, FloorID: 1, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 1, Y: 1}}}, // too few vertices
			{ID: 2, FloorID: 9, Polygon: floorplan.Rectangle(0, 0, 5, 5)},               // unknown floor
			{ID: 3, FloorID: 1, Polygon: floorplan.Rectangle(0, 0, 20, 10)},
		},
		Gateways: []wardwatch.Gateway{
			gw(1, 9, 1, 1), // unknown floor
			gw(2, 1, math.NaN(), 1),
			{ID: 3, FloorID: 1, At: wardwatch.Point{X: 5, Y: 5}, RSSIAt1m: math.NaN(), PathLossExponent: -2},
		},
		Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	e := New(Config{}, site)
	if e.Observe(sight(0, 1, "t", -60)) || e.Observe(sight(0, 2, "t", -60)) {
		t.Error("gateways on unknown floors or at NaN should be unknown")
	}
	observeAll(t, e, sight(0, 3, "t", -59))
	out := e.Update(at(1))
	p := onePosition(t, out, "t")
	if p.ZoneID != 3 || len(e.zones.byID) != 1 {
		t.Errorf("zone %d (index %d zones), want 3 only", p.ZoneID, len(e.zones.byID))
	}
	if g := e.gateways[3]; g.rssiAt1m != 0 || g.pathLoss != 0 {
		t.Errorf("bad calibration kept: %+v", g)
	}
}

// FuzzEngine feeds arbitrary sightings and checks that the engine neither
// panics nor places a tag off its floor or outside 0..1 confidence.
func FuzzEngine(f *testing.F) {
	f.Add(-60.0, -70.0, -80.0, 0.0, int64(0), int64(100))
	f.Add(0.0, -130.0, math.NaN(), -59.0, int64(-5000), int64(0))
	f.Add(math.Inf(-1), -1.0, -1e300, 5.0, int64(1)<<50, int64(-1))
	f.Add(-40.0, -40.0, -40.0, -130.0, int64(3000), int64(3000))
	f.Fuzz(func(t *testing.T, r1, r2, r3, tx float64, dt1, dt2 int64) {
		site := twoFloors()
		site.Zones = zoneSite().Zones
		site.Gateways[0].At = wardwatch.Point{X: -50, Y: 1e6} // off the plan
		site.Gateways[5].PathLossExponent = 1e-300
		e := New(Config{}, site)
		base := at(0)
		for i, s := range []wardwatch.Sighting{
			{Time: base, GatewayID: 11, TagID: "t", RSSI: r1, TxPower: tx},
			{Time: base.Add(time.Duration(dt1) * time.Millisecond), GatewayID: 22, TagID: "t", RSSI: r2},
			{Time: base.Add(time.Duration(dt2) * time.Millisecond), GatewayID: 13, TagID: "t", RSSI: r3, TxPower: tx},
			{Time: base.Add(time.Duration(dt1+dt2) * time.Millisecond), GatewayID: 21, TagID: "t", RSSI: r1},
		} {
			e.Observe(s)
			if i%2 == 1 {
				checkOutput(t, e.Update(base.Add(time.Duration(i)*time.Second)))
			}
		}
		checkOutput(t, e.Update(base.Add(time.Hour)))
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
	}
}
