package tracker

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// cornerSite is one 20×10 floor with a gateway in each corner, zoneSite's
// rooms and tags.
func cornerSite() Site {
	s := zoneSite()
	s.Floors[0].Width = 20
	s.Gateways = []wardwatch.Gateway{gw(1, 1, 1, 1), gw(2, 1, 19, 1), gw(3, 1, 19, 9), gw(4, 1, 1, 9)}
	return s
}

func TestStaleAndMissing(t *testing.T) {
	site := cornerSite()
	e := newEngine(Config{StaleAfter: time.Minute, MissingAfter: time.Hour}, site)
	p := wardwatch.Point{X: 5, Y: 5}
	var tPos wardwatch.Position
	for i := range 4 {
		hearAt(t, e, site, "t", p, float64(i), nil)
		tPos = onePosition(t, e.Update(at(float64(i)+0.5)), "t")
	}
	hearAt(t, e, site, "u", wardwatch.Point{X: 15, Y: 5}, 3.6, nil) // u is heard last at 3.6 s
	e.Update(at(4))
	if tPos.State != wardwatch.StateStationary {
		t.Fatalf("t's last position %+v, want stationary", tPos)
	}

	type want struct {
		sec   float64
		tags  []string
		state wardwatch.TagState
	}
	for _, w := range []want{
		{30, nil, ""},
		{62.9, nil, ""},
		{63.2, []string{"t"}, wardwatch.StateStale},
		{63.7, []string{"u"}, wardwatch.StateStale},
		{100, nil, ""}, // once only
		{3603.7, []string{"t", "u"}, wardwatch.StateMissing},
		{3700, nil, ""},
	} {
		out := e.Update(at(w.sec))
		if len(out.Positions) != len(w.tags) {
			t.Fatalf("at %v s: positions %+v, want %v %s", w.sec, out.Positions, w.tags, w.state)
		}
		for i, q := range out.Positions {
			if q.TagID != w.tags[i] || q.State != w.state {
				t.Errorf("at %v s: position %d is %s %s, want %s %s", w.sec, i, q.TagID, q.State, w.tags[i], w.state)
			}
			if q.TagID == "t" {
				if q.At != tPos.At || q.ZoneID != tPos.ZoneID || q.FloorID != 1 || !q.Time.Equal(at(3)) {
					t.Errorf("at %v s: %+v, want t's last place %v zone %d, timed at its last sighting %v", w.sec, q, tPos.At, tPos.ZoneID, at(3))
				}
				if w.state == wardwatch.StateMissing && q.Confidence != 0 {
					t.Errorf("missing with confidence %v", q.Confidence)
				}
				if w.state == wardwatch.StateStale && q.Confidence != tPos.Confidence {
					t.Errorf("stale with confidence %v, want the last %v", q.Confidence, tPos.Confidence)
				}
			}
		}
	}
	if n := e.Stats().Tags; n != 0 {
		t.Errorf("%d tags tracked after both went missing", n)
	}
	// Heard again: a new first fix, zone from 0.
	hearAt(t, e, site, "t", p, 4000, nil)
	out := e.Update(at(4000.5))
	if len(out.Positions) != 1 || out.Positions[0].State == wardwatch.StateMissing || len(out.ZoneChanges) != 1 || out.ZoneChanges[0].FromZone != 0 {
		t.Errorf("back after missing: %+v", out)
	}
}

func TestStaleRearms(t *testing.T) {
	site := cornerSite()
	e := newEngine(Config{StaleAfter: 10 * time.Second, MissingAfter: -1}, site)
	p := wardwatch.Point{X: 5, Y: 5}
	count := func(out Output) (n int) {
		for _, q := range out.Positions {
			if q.State == wardwatch.StateStale {
				n++
			}
		}
		return n
	}
	hearAt(t, e, site, "t", p, 0, nil)
	e.Update(at(0.5))
	if n := count(e.Update(at(11))); n != 1 {
		t.Fatalf("%d stale positions, want 1", n)
	}
	hearAt(t, e, site, "t", p, 12, nil)
	if out := e.Update(at(12.5)); len(out.Positions) != 1 || out.Positions[0].State == wardwatch.StateStale {
		t.Fatalf("heard again: %+v", out.Positions)
	}
	if n := count(e.Update(at(23))); n != 1 {
		t.Errorf("second silence: %d stale positions, want 1", n)
	}
	if out := e.Update(at(1e6)); len(out.Positions) != 0 || e.Stats().Tags != 1 {
		t.Errorf("missing off: %+v, %d tags", out.Positions, e.Stats().Tags)
	}
}

func TestStaleOff(t *testing.T) {
	site := cornerSite()
	e := newEngine(Config{StaleAfter: -1, MissingAfter: -1}, site)
	hearAt(t, e, site, "t", wardwatch.Point{X: 5, Y: 5}, 0, nil)
	e.Update(at(0.5))
	if out := e.Update(at(1e5)); len(out.Positions) != 0 {
		t.Errorf("stale and missing off: %+v", out.Positions)
	}
}

func TestMovingAndStationary(t *testing.T) {
	site := cornerSite()
	e := newEngine(Config{}, site)
	rng := rand.New(rand.NewPCG(9, 9))
	noise := func(int) float64 { return 1.5 * rng.NormFloat64() }
	// Parked at (3,5) for 30 s, walks to (17,5) at 1.2 m/s, parked there.
	path := func(sec float64) wardwatch.Point {
		switch {
		case sec < 30:
			return wardwatch.Point{X: 3, Y: 5}
		case sec < 30+14/1.2:
			return wardwatch.Point{X: 3 + 1.2*(sec-30), Y: 5}
		}
		return wardwatch.Point{X: 17, Y: 5}
	}
	states := map[string]map[wardwatch.TagState]int{}
	phase := func(sec float64) string {
		switch {
		case sec < 30:
			return "parked"
		case sec > 34 && sec < 30+14/1.2:
			return "walking"
		case sec > 30+14/1.2+20:
			return "parked again"
		}
		return ""
	}
	for i := range 240 {
		sec := float64(i) * 0.5
		hearAt(t, e, site, "t", path(sec), sec, noise)
		out := e.Update(at(sec + 0.25))
		for _, q := range out.Positions {
			if q.State == "" {
				t.Fatalf("position without a state: %+v", q)
			}
			if ph := phase(sec); ph != "" {
				if states[ph] == nil {
					states[ph] = map[wardwatch.TagState]int{}
				}
				states[ph][q.State]++
			}
		}
	}
	share := func(ph string, s wardwatch.TagState) float64 {
		n := 0
		for _, c := range states[ph] {
			n += c
		}
		return float64(states[ph][s]) / float64(n)
	}
	if s := share("parked", wardwatch.StateStationary); s < 0.95 {
		t.Errorf("parked: stationary %.0f %% of the time", 100*s)
	}
	if s := share("walking", wardwatch.StateMoving); s < 0.6 {
		t.Errorf("walking: moving %.0f %% of the time (%v)", 100*s, states["walking"])
	}
	if s := share("parked again", wardwatch.StateStationary); s < 0.95 {
		t.Errorf("parked again: stationary %.0f %% of the time", 100*s)
	}
}

func TestMotionStateHysteresis(t *testing.T) {
	e := newEngine(Config{MovingSpeed: 0.5, StationarySpeed: 0.2}, Site{})
	ts := &tagState{state: wardwatch.StateStationary}
	for _, st := range []struct {
		v    float64
		want wardwatch.TagState
	}{
		{0.4, wardwatch.StateStationary},
		{0.6, wardwatch.StateMoving},
		{0.3, wardwatch.StateMoving},
		{0.1, wardwatch.StateStationary},
		{0.45, wardwatch.StateStationary},
	} {
		got := e.motionState(ts, st.v)
		if got != st.want {
			t.Errorf("speed %v from %s: %s, want %s", st.v, ts.state, got, st.want)
		}
		ts.state = got
	}
}

func TestForget(t *testing.T) {
	site := cornerSite()
	e := newEngine(Config{Forget: time.Minute, StaleAfter: time.Hour}, site)
	hearAt(t, e, site, "t", wardwatch.Point{X: 5, Y: 5}, 0, nil)
	e.Update(at(0.5))
	observeAll(t, e, sight(50, 1, "t", -60))
	e.Update(at(61)) // links 2–4 silent for 61 s: dropped; link 1 kept
	ts := e.tags["t"]
	if ts == nil || len(ts.links) != 1 || ts.links[0].gateway != 1 {
		t.Fatalf("links after Forget: %+v", ts)
	}
	e.Update(at(111))
	if ts.links != nil || e.Stats().Tags != 1 {
		t.Errorf("all links silent: links %v, tags %d; want none, the tag kept for its last position", ts.links, e.Stats().Tags)
	}
	// A tag heard but never placed (all its sightings too old) goes with its links.
	observeAll(t, e, sight(0, 1, "u", -60))
	e.Update(at(120))
	e.Update(at(200))
	if _, ok := e.tags["u"]; ok {
		t.Error("a never-placed tag should be forgotten with its links")
	}
}

func TestPositionFields(t *testing.T) {
	site := twoFloors()
	site.Tags = append(site.Tags, wardwatch.Tag{ID: "quiet", AssetID: 2})
	e := newEngine(Config{}, site)
	observeAll(t, e, sight(1, 11, "t", -60), sight(1.7, 12, "t", -65), sight(1.2, 11, "t", -61))
	// A sighting older than the window is stored but not used.
	observeAll(t, e, sight(-10, 13, "quiet", -60))
	out := e.Update(at(2))
	p := onePosition(t, out, "t")
	if p.AssetID != 1 || !p.Time.Equal(at(1.7)) || p.Time.Location() != time.UTC || p.FloorID != 1 || p.State != wardwatch.StateStationary {
		t.Errorf("position = %+v, want asset 1, floor 1, stationary, time %v UTC", p, at(1.7))
	}
	if math.IsNaN(p.At.X) || !(p.Confidence > 0 && p.Confidence <= 1) {
		t.Errorf("position %+v", p)
	}
	if out := e.Update(at(2.5)); len(out.Positions) != 0 || len(out.ZoneChanges) != 0 {
		t.Errorf("Update with nothing heard = %+v, want empty", out)
	}
}

func TestFirstFix(t *testing.T) {
	site := cornerSite()
	e := New(Config{FirstFix: time.Second}, site)
	hearAt(t, e, site, "t", wardwatch.Point{X: 5, Y: 5}, 0, nil)
	if out := e.Update(at(0.5)); len(out.Positions) != 0 {
		t.Fatalf("position before FirstFix: %+v", out.Positions)
	}
	// Not heard again, but still waiting: placed once FirstFix has passed.
	p := onePosition(t, e.Update(at(1)), "t")
	if !p.Time.Equal(at(0)) || p.State == "" {
		t.Errorf("first position %+v", p)
	}
	if out := e.Update(at(1.5)); len(out.Positions) != 0 {
		t.Errorf("placed again without a sighting: %+v", out.Positions)
	}
	// A wait as long as the window: a tag heard once is still placed, from
	// that sample.
	e = New(Config{FirstFix: 4 * time.Second, Window: 4 * time.Second}, site)
	hearAt(t, e, site, "t", wardwatch.Point{X: 5, Y: 5}, 0, nil)
	if out := e.Update(at(3.5)); len(out.Positions) != 0 {
		t.Fatalf("position before FirstFix: %+v", out.Positions)
	}
	if p := onePosition(t, e.Update(at(4.2)), "t"); !p.Time.Equal(at(0)) {
		t.Errorf("first position after a 4 s wait %+v, want from the sample at 0 s", p)
	}
	// Sightings from the future skip the wait rather than wait forever.
	e = New(Config{FirstFix: time.Second}, site)
	hearAt(t, e, site, "t", wardwatch.Point{X: 5, Y: 5}, 100, nil)
	onePosition(t, e.Update(at(0.5)), "t")
}
