package sim

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

var simStart = time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)

// run steps a fresh simulation once per second for d and returns it with
// every batch produced.
func run(h *Hospital, seed int64, d time.Duration, each func(now time.Time, s *Simulation, bs []Batch)) *Simulation {
	s := NewSimulation(h, seed, simStart)
	for t := time.Second; t <= d; t += time.Second {
		now := simStart.Add(t)
		bs := s.Step(now)
		if each != nil {
			each(now, s, bs)
		}
	}
	return s
}

func TestStepDeterministic(t *testing.T) {
	h := NewHospital()
	var a, b [][]Batch
	var ta, tb [][]TruePosition
	run(h, 42, 90*time.Second, func(_ time.Time, s *Simulation, bs []Batch) { a = append(a, bs); ta = append(ta, s.Truth()) })
	run(h, 42, 90*time.Second, func(_ time.Time, s *Simulation, bs []Batch) { b = append(b, bs); tb = append(tb, s.Truth()) })
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
		t.Fatal("two runs with the same seed and times differ")
	}
	var c [][]Batch
	run(h, 43, 90*time.Second, func(_ time.Time, _ *Simulation, bs []Batch) { c = append(c, bs) })
	if reflect.DeepEqual(a, c) {
		t.Fatal("runs with different seeds are identical")
	}
}

func TestStepReadings(t *testing.T) {
	h := NewHospital()
	s := NewSimulation(h, 1, simStart)
	if bs := s.Step(simStart); bs != nil {
		t.Errorf("Step at the start time returned %d batches", len(bs))
	}
	gwFloor := map[string]int{}
	gwAt := map[string]wardwatch.Point{}
	for fi, f := range h.floors {
		for _, g := range f.gateways {
			gwFloor[g.key], gwAt[g.key] = fi, g.at
		}
	}
	prev := simStart
	perTag := map[string]map[string]int{} // gateway -> tag -> readings
	const steps = 30
	for i := 1; i <= steps; i++ {
		now := simStart.Add(time.Duration(i) * time.Second)
		truth := map[string]TruePosition{}
		for _, tp := range s.Truth() {
			truth[tp.TagID] = tp
		}
		bs := s.Step(now)
		after := map[string]TruePosition{}
		for _, tp := range s.Truth() {
			after[tp.TagID] = tp
		}
		for _, b := range bs {
			if _, ok := gwFloor[b.GatewayKey]; !ok {
				t.Fatalf("batch from unknown gateway %q", b.GatewayKey)
			}
			if len(b.Sightings) == 0 {
				t.Errorf("empty batch from %s", b.GatewayKey)
			}
			if perTag[b.GatewayKey] == nil {
				perTag[b.GatewayKey] = map[string]int{}
			}
			for j, r := range b.Sightings {
				if !r.Time.After(prev) || r.Time.After(now) {
					t.Fatalf("reading at %v outside (%v, %v]", r.Time, prev, now)
				}
				if j > 0 && r.Time.Before(b.Sightings[j-1].Time) {
					t.Fatalf("readings of %s not in time order", b.GatewayKey)
				}
				if r.RSSI != math.Round(r.RSSI) || r.RSSI < -130 || r.RSSI > 0 || r.TxPower != -59 {
					t.Fatalf("reading %+v", r)
				}
				tp, ok := truth[r.TagID]
				if !ok {
					t.Fatalf("reading of unknown tag %q", r.TagID)
				}
				// The tag was on the gateway's floor, in range, at some
				// point of the step (it moves < 1.5 m in a second).
				if tp.Floor != gwFloor[b.GatewayKey] && after[r.TagID].Floor != gwFloor[b.GatewayKey] {
					t.Fatalf("gateway %s on floor %d heard %s on floor %d", b.GatewayKey, gwFloor[b.GatewayKey], r.TagID, tp.Floor)
				}
				if d := floorplan.Distance(tp.At, gwAt[b.GatewayKey]); d > hearingRange+1.5 && tp.Floor == after[r.TagID].Floor {
					t.Fatalf("gateway %s heard %s at %.1f m", b.GatewayKey, r.TagID, d)
				}
				perTag[b.GatewayKey][r.TagID]++
			}
		}
		prev = now
	}
	// One or two beacons per second: a tag that stays in range of a
	// gateway the whole time is heard 30–60 times in 30 s.
	for key, tags := range perTag {
		for tag, n := range tags {
			if n > 2*steps {
				t.Errorf("gateway %s heard %s %d times in %d s", key, tag, n, steps)
			}
		}
	}
	// Some gateway hears some tag every step.
	best := 0
	for _, tags := range perTag {
		for _, n := range tags {
			best = max(best, n)
		}
	}
	if best < steps {
		t.Errorf("no tag was heard once a second by one gateway (best %d)", best)
	}
}

func TestAssetsMoveBetweenRooms(t *testing.T) {
	h := NewHospital()
	zonesVisited := map[string]map[string]bool{}
	floorChanges := 0
	lastFloor := map[string]int{}
	var walkingFraction []float64
	run(h, 7, 15*time.Minute, func(now time.Time, s *Simulation, _ []Batch) {
		walking := 0
		for _, tp := range s.Truth() {
			f := &h.floors[tp.Floor]
			if tp.At.X < 0 || tp.At.Y < 0 || tp.At.X > floorWidth || tp.At.Y > floorHeight {
				t.Fatalf("%s at %v is off the floor", tp.Asset, tp.At)
			}
			if tp.Zone == "" {
				t.Fatalf("%s at %v on floor %d is in no zone (inside a wall?)", tp.Asset, tp.At, tp.Floor)
			}
			if !tp.Walking {
				z := zoneByName(f, tp.Zone)
				if !z.dwellable() {
					t.Fatalf("%s parked in %s", tp.Asset, tp.Zone)
				}
				d := z.dwellArea()
				if tp.At.X < d.Min.X-1e-9 || tp.At.X > d.Max.X+1e-9 || tp.At.Y < d.Min.Y-1e-9 || tp.At.Y > d.Max.Y+1e-9 {
					t.Fatalf("%s parked at %v, outside the dwell area of %s (in the doorway?)", tp.Asset, tp.At, tp.Zone)
				}
			} else {
				walking++
			}
			if zonesVisited[tp.TagID] == nil {
				zonesVisited[tp.TagID] = map[string]bool{}
			}
			if !tp.Walking {
				zonesVisited[tp.TagID][tp.Zone] = true
			}
			if f, ok := lastFloor[tp.TagID]; ok && f != tp.Floor {
				floorChanges++
			}
			lastFloor[tp.TagID] = tp.Floor
		}
		walkingFraction = append(walkingFraction, float64(walking)/float64(len(h.assets)))
	})
	moved := 0
	for _, zs := range zonesVisited {
		if len(zs) >= 2 {
			moved++
		}
	}
	if moved < len(h.assets)*3/4 {
		t.Errorf("only %d of %d assets parked in two or more zones in 15 min", moved, len(h.assets))
	}
	if floorChanges == 0 {
		t.Error("no asset took the lift in 15 min")
	}
	var mean float64
	for _, f := range walkingFraction {
		mean += f
	}
	mean /= float64(len(walkingFraction))
	t.Logf("mean fraction walking %.2f, %d floor changes", mean, floorChanges)
	if mean < 0.15 || mean > 0.55 {
		t.Errorf("on average %.0f%% of the assets are walking, want about a third", 100*mean)
	}
}

// TestPathsStayOutOfWalls samples walking assets finely and checks that
// every move crosses a wall only through a door.
func TestPathsStayOutOfWalls(t *testing.T) {
	h := NewHospital()
	s := NewSimulation(h, 3, simStart)
	prev := s.Truth()
	for i := 1; i <= 1200; i++ {
		s.Step(simStart.Add(time.Duration(i) * 250 * time.Millisecond))
		cur := s.Truth()
		for k := range cur {
			a, b := prev[k], cur[k]
			if a.Floor != b.Floor {
				if a.Zone != h.floors[a.Floor].zones[h.floors[a.Floor].lift].name && b.Zone != h.floors[b.Floor].zones[h.floors[b.Floor].lift].name {
					t.Fatalf("%s changed floors outside the lift: %s -> %s", a.Asset, a.Zone, b.Zone)
				}
				continue
			}
			if a.Zone == b.Zone {
				continue
			}
			// Crossing between an enclosed zone and the corridor must go
			// through that zone's door gap.
			f := &h.floors[a.Floor]
			for _, name := range []string{a.Zone, b.Zone} {
				z := zoneByName(f, name)
				if z.side == sideNone {
					continue
				}
				wy := z.wallY()
				if (a.At.Y-wy)*(b.At.Y-wy) > 0 {
					continue
				}
				x := a.At.X
				if b.At.Y != a.At.Y {
					x += (b.At.X - a.At.X) * (wy - a.At.Y) / (b.At.Y - a.At.Y)
				}
				if x < z.doorX0-1e-9 || x > z.doorX1+1e-9 {
					t.Fatalf("%s went from %s %v to %s %v through the wall of %s at x=%.2f (door %.2f–%.2f)",
						a.Asset, a.Zone, a.At, b.Zone, b.At, z.name, x, z.doorX0, z.doorX1)
				}
			}
			if a.Zone != f.zones[len(f.zones)-1].name && b.Zone != f.zones[len(f.zones)-1].name {
				t.Fatalf("%s went from %s straight to %s, not via the corridor", a.Asset, a.Zone, b.Zone)
			}
		}
		prev = cur
	}
}

func zoneByName(f *floorDef, name string) *zoneDef {
	for i := range f.zones {
		if f.zones[i].name == name {
			return &f.zones[i]
		}
	}
	return nil
}

func TestRSSIFallsWithDistance(t *testing.T) {
	h := NewHospital()
	gwAt := map[string]wardwatch.Point{}
	for _, f := range h.floors {
		for _, g := range f.gateways {
			gwAt[g.key] = g.at
		}
	}
	// Mean RSSI per 5 m distance bucket.
	var sum, cnt [6]float64
	run(h, 11, 3*time.Minute, func(_ time.Time, s *Simulation, bs []Batch) {
		pos := map[string]wardwatch.Point{}
		for _, tp := range s.Truth() {
			pos[tp.TagID] = tp.At
		}
		for _, b := range bs {
			for _, r := range b.Sightings {
				d := floorplan.Distance(pos[r.TagID], gwAt[b.GatewayKey])
				k := min(int(d/5), len(sum)-1)
				sum[k] += r.RSSI
				cnt[k]++
			}
		}
	})
	var means []float64
	for k := range sum {
		if cnt[k] < 50 {
			continue
		}
		means = append(means, sum[k]/cnt[k])
	}
	if len(means) < 4 {
		t.Fatalf("too few distance buckets with data: %v", cnt)
	}
	for i := 1; i < len(means); i++ {
		if means[i] >= means[i-1] {
			t.Errorf("mean RSSI does not fall with distance: %v", means)
		}
	}
	// Near a gateway (0–5 m) the mean is around the 1 m reference minus a
	// few dB; far (20–25 m) it is some 30 dB lower.
	if means[0] > -55 || means[0] < -80 || means[len(means)-1] > -85 {
		t.Errorf("bucket means %v implausible for ref -59 dBm, n 2.5", means)
	}
}

func TestLongGapBoundsBeacons(t *testing.T) {
	h := NewHospital()
	s := NewSimulation(h, 5, simStart)
	bs := s.Step(simStart.Add(2 * time.Hour))
	for _, b := range bs {
		for _, r := range b.Sightings {
			if r.Time.Before(simStart.Add(2*time.Hour - maxEmitWindow)) {
				t.Fatalf("reading at %v after a 2 h gap, want only the last %v", r.Time, maxEmitWindow)
			}
		}
	}
	if len(bs) == 0 {
		t.Fatal("nothing heard after a long gap")
	}
}
