package tracker

import (
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

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
		e := newEngine(Config{}, twoFloors())
		for g, rssi := range tt.links {
			observeAll(t, e, sight(0, g, "t", rssi))
		}
		if p := onePosition(t, e.Update(at(0.5)), "t"); p.FloorID != tt.want {
			t.Errorf("%s: floor %d, want %d", tt.name, p.FloorID, tt.want)
		}
	}
}

type heard map[int64]float64 // gateway → RSSI

// floorSteps feeds each step's links at its second (and, when repeat > 0,
// again every second for repeat seconds) and returns the floor of the
// last position of each step (0: no position).
func floorSteps(t *testing.T, e *Engine, steps []struct {
	sec    float64
	links  heard
	repeat int
}) []int64 {
	t.Helper()
	var floors []int64
	for _, st := range steps {
		var last int64
		for k := 0; k <= st.repeat; k++ {
			sec := st.sec + float64(k)
			for g, rssi := range st.links {
				observeAll(t, e, sight(sec, g, "t", rssi))
			}
			out := e.Update(at(sec + 0.5))
			last = 0
			if len(out.Positions) == 1 {
				last = out.Positions[0].FloorID
			}
		}
		floors = append(floors, last)
	}
	return floors
}

func TestFloorHysteresis(t *testing.T) {
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
	e := newEngine(Config{}, twoFloors())
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
	e = newEngine(Config{FloorHysteresis: -1}, twoFloors())
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

// stairsFloors is twoFloors with a stairwell in the top-left corner of
// both floors (x 0–3, y 0–3), next to gateways 11 and 21.
func stairsFloors() Site {
	s := twoFloors()
	for f := int64(1); f <= 2; f++ {
		s.Zones = append(s.Zones, wardwatch.Zone{ID: 100 + f, FloorID: f, Name: "stairs", Kind: wardwatch.ZoneStairs, Polygon: floorplan.Rectangle(0, 0, 3, 3)})
	}
	return s
}

func TestFloorTransitions(t *testing.T) {
	// The tag is first placed on floor 1 near gateway 13 (18,8), far from
	// the stairs, or near gateway 11 (2,2), by the stairs.
	farFromStairs := heard{13: -55, 12: -65, 14: -65}
	byStairs := heard{11: -55, 12: -65, 14: -65}
	type step = struct {
		sec    float64
		links  heard
		repeat int
	}
	tests := []struct {
		name  string
		cfg   Config
		steps []step
		want  []int64
	}{
		{"away from the stairs, 6 dB is not enough", Config{},
			[]step{{0, farFromStairs, 0}, {5, heard{13: -70, 21: -64, 22: -64, 23: -64}, 30}},
			[]int64{1, 1}},
		{"by the stairs, 6 dB is", Config{},
			[]step{{0, byStairs, 0}, {5, heard{11: -70, 21: -64, 22: -64, 23: -64}, 0}},
			[]int64{1, 2}},
		{"away from the stairs, 12 dB must last FloorSustain", Config{FloorSustain: 10 * time.Second},
			[]step{{0, farFromStairs, 0}, {5, heard{13: -72, 21: -60, 22: -60, 23: -60}, 5}, {11, heard{13: -72, 21: -60, 22: -60, 23: -60}, 5}},
			[]int64{1, 1, 2}},
		{"a break restarts the sustain", Config{FloorSustain: 10 * time.Second},
			[]step{{0, farFromStairs, 0}, {5, heard{13: -72, 21: -60, 22: -60, 23: -60}, 6}, {12, heard{13: -62, 21: -60, 22: -60, 23: -60}, 5}, {18, heard{13: -72, 21: -60, 22: -60, 23: -60}, 6}},
			[]int64{1, 1, 1, 1}},
		{"current floor unheard: no position until the sustain is over", Config{FloorSustain: 10 * time.Second},
			[]step{{0, farFromStairs, 0}, {5, heard{21: -60, 22: -60}, 5}, {11, heard{21: -60, 22: -60}, 5}},
			[]int64{1, 0, 2}},
		{"margin counts near the stairs", Config{FloorTransitionMargin: 8},
			[]step{{0, farFromStairs, 0}, {5, heard{13: -70, 21: -64, 22: -64, 23: -64}, 0}},
			[]int64{1, 1}},
		{"margin reaches the tag", Config{FloorTransitionMargin: 20},
			[]step{{0, farFromStairs, 0}, {5, heard{13: -70, 21: -64, 22: -64, 23: -64}, 0}},
			[]int64{1, 2}},
	}
	for _, tt := range tests {
		e := newEngine(tt.cfg, stairsFloors())
		got := floorSteps(t, e, tt.steps)
		if len(got) != len(tt.want) {
			t.Fatalf("%s: %v", tt.name, got)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: floors %v, want %v", tt.name, got, tt.want)
				break
			}
		}
	}
}

func TestSetSiteDeletedFloor(t *testing.T) {
	e := newEngine(Config{}, twoFloors())
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
