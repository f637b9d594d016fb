package tracker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// This file is a self-contained simulated ward for the accuracy of the
// engine as a whole: a 60×20 m floor, a 4 m corridor along its middle with
// ten 6×8 m rooms on each side, 21 ceiling gateways on a staggered 9 m
// grid (three rows, 6 m apart), log-distance radio with log-normal
// shadowing, multipath bursts and packet loss, stationary tags in rooms
// and staff walking tags from room to room. The official benchmark lives
// in package replay; this one is for tuning the engine in place.

// simRadio is the simulated radio channel.
type simRadio struct {
	ref, n     float64 // true RSSI at 1 m and path-loss exponent
	sigma      float64 // dB, log-normal shadowing of each sample
	static     float64 // dB, per-(tag position, gateway) static shadowing (0: none)
	spikeP     float64 // probability a sample is a multipath dip…
	spikeDB    float64 // …of this many dB
	burstRate  float64 // per link and second: a burst (a body, a trolley) starts…
	burstLen   float64 // …and lasts this many seconds on average…
	burstDB    [2]float64
	loss       float64 // packet loss probability
	floorDBm   float64 // sensitivity: weaker samples are not heard
	gatewayZ   float64
	tagZ       float64
	rateHz     float64
	calibrated bool // the site's gateways carry the true ref and n
}

func defaultRadio() simRadio {
	return simRadio{
		ref: -59, n: 2.5, sigma: 4.5, spikeP: 0.1, spikeDB: 6,
		burstRate: 0.01, burstLen: 3, burstDB: [2]float64{6, 15},
		loss: 0.1, floorDBm: -100, gatewayZ: 2.7, tagZ: 1, rateHz: 1, calibrated: true,
	}
}

// simWard builds the ward site; tags are added by the scenario.
func simWard(radio simRadio) Site {
	s := Site{Floors: []wardwatch.Floor{{ID: 1, Name: "Ward", Width: 60, Height: 20}}}
	s.Zones = append(s.Zones, wardwatch.Zone{ID: 1, FloorID: 1, Name: "corridor", Kind: wardwatch.ZoneCorridor, Polygon: floorplan.Rectangle(0, 8, 60, 4)})
	for k := range 10 {
		x := float64(k) * 6
		s.Zones = append(s.Zones,
			wardwatch.Zone{ID: int64(100 + k), FloorID: 1, Name: fmt.Sprintf("N%d", k), Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(x, 0, 6, 8)},
			wardwatch.Zone{ID: int64(200 + k), FloorID: 1, Name: fmt.Sprintf("S%d", k), Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(x, 12, 6, 8)},
		)
	}
	id := int64(1)
	add := func(x, y float64) {
		g := gw(id, 1, x, y)
		g.Z = radio.gatewayZ
		if radio.calibrated {
			g.RSSIAt1m, g.PathLossExponent = radio.ref, radio.n
		}
		s.Gateways = append(s.Gateways, g)
		id++
	}
	for k := range 7 {
		add(4.5+9*float64(k), 4)
		add(9*float64(k), 10)
		add(4.5+9*float64(k), 16)
	}
	return s
}

// simTag is one simulated tag: where it is at a time.
type simTag struct {
	id         string
	stationary bool
	at         func(sec float64) wardwatch.Point
}

// simResult collects the errors of a run.
type simResult struct {
	errs                 []float64
	statErrs             []float64
	walkErrs             []float64
	roomOK, room         int // outputs in a room or the corridor with the right zone
	statRoomOK, statRoom int
	statChanges          int // zone changes of stationary tags after their first fix
	statHours            float64
	positions            int
}

func (r simResult) quantile(errs []float64, q float64) float64 {
	if len(errs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(errs)
	slices.Sort(s)
	return s[min(int(q*float64(len(s))), len(s)-1)]
}

func (r simResult) String() string {
	return fmt.Sprintf("n=%d median=%.2f p90=%.2f p95=%.2f | stationary median=%.2f p90=%.2f | walking median=%.2f p90=%.2f | room=%.1f%% (stationary %.1f%%) | stationary changes/h=%.2f",
		len(r.errs), r.quantile(r.errs, 0.5), r.quantile(r.errs, 0.9), r.quantile(r.errs, 0.95),
		r.quantile(r.statErrs, 0.5), r.quantile(r.statErrs, 0.9),
		r.quantile(r.walkErrs, 0.5), r.quantile(r.walkErrs, 0.9),
		100*float64(r.roomOK)/float64(max(r.room, 1)), 100*float64(r.statRoomOK)/float64(max(r.statRoom, 1)), float64(r.statChanges)/max(r.statHours, 1e-9))
}

// truthZone is the zone of the ward containing p (0: none).
func truthZone(site Site, p wardwatch.Point) int64 {
	var best int64
	bestArea := math.Inf(1)
	for _, z := range site.Zones {
		if floorplan.Contains(z.Polygon, p) && floorplan.Area(z.Polygon) < bestArea {
			best, bestArea = z.ID, floorplan.Area(z.Polygon)
		}
	}
	return best
}

var simVerbose = false

// runSim runs tags through the ward for dur seconds and scores the engine.
func runSim(t testing.TB, cfg Config, radio simRadio, tags []simTag, dur float64, seed uint64) simResult {
	site := simWard(radio)
	for i, tg := range tags {
		site.Tags = append(site.Tags, wardwatch.Tag{ID: tg.id, AssetID: int64(i + 1)})
	}
	e := New(cfg, site)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	type linkKey struct{ tag, gw int }
	burstUntil := map[linkKey]float64{}
	burstDB := map[linkKey]float64{}
	byID := map[string]simTag{}
	for _, tg := range tags {
		byID[tg.id] = tg
	}
	// Phases so tags do not all beacon at once.
	phase := make([]float64, len(tags))
	for i := range phase {
		phase[i] = rng.Float64() / radio.rateHz
	}
	var res simResult
	firstFix := map[string]bool{}
	const tick = 0.5
	next := make([]float64, len(tags))
	copy(next, phase)
	for now := 0.0; now < dur; now += tick {
		for i, tg := range tags {
			for next[i] < now+tick {
				ts := next[i]
				next[i] += 1 / radio.rateHz
				p := tg.at(ts)
				for j, g := range site.Gateways {
					if rng.Float64() < radio.loss {
						continue
					}
					dz := radio.gatewayZ - radio.tagZ
					d := math.Sqrt((p.X-g.At.X)*(p.X-g.At.X) + (p.Y-g.At.Y)*(p.Y-g.At.Y) + dz*dz)
					rssi := radio.ref - 10*radio.n*math.Log10(d) + rng.NormFloat64()*radio.sigma
					if radio.static > 0 {
						rssi += radio.static * staticShadow(p, j)
					}
					if rng.Float64() < radio.spikeP {
						rssi -= radio.spikeDB
					}
					k := linkKey{i, j}
					if ts < burstUntil[k] {
						rssi -= burstDB[k]
					} else if rng.Float64() < radio.burstRate/radio.rateHz {
						burstUntil[k] = ts + rng.ExpFloat64()*radio.burstLen
						burstDB[k] = radio.burstDB[0] + rng.Float64()*(radio.burstDB[1]-radio.burstDB[0])
						rssi -= burstDB[k]
					}
					rssi = math.Round(rssi)
					if rssi < radio.floorDBm || rssi > 0 {
						continue
					}
					e.Observe(wardwatch.Sighting{Time: at(ts), GatewayID: g.ID, TagID: tg.id, RSSI: rssi})
				}
			}
		}
		out := e.Update(at(now + tick))
		for _, p := range out.Positions {
			tg := byID[p.TagID]
			sec := p.Time.Sub(t0).Seconds()
			truth := tg.at(sec)
			err := floorplan.Distance(p.At, truth)
			res.errs = append(res.errs, err)
			if tg.stationary {
				res.statErrs = append(res.statErrs, err)
			} else {
				res.walkErrs = append(res.walkErrs, err)
			}
			if tz := truthZone(site, truth); tz != 0 {
				res.room++
				if tz == p.ZoneID {
					res.roomOK++
				}
				if tg.stationary {
					res.statRoom++
					if tz == p.ZoneID {
						res.statRoomOK++
					}
				}
			}
			res.positions++
		}
		for _, zc := range out.ZoneChanges {
			if byID[zc.TagID].stationary {
				if firstFix[zc.TagID] {
					res.statChanges++
					if simVerbose {
						t.Logf("stationary %s at %v: %d→%d at %v (truth zone %d)", zc.TagID, byID[zc.TagID].at(0), zc.FromZone, zc.ToZone, zc.Time.Sub(t0).Seconds(), truthZone(site, byID[zc.TagID].at(0)))
					}
				}
				firstFix[zc.TagID] = true
			}
		}
	}
	for _, tg := range tags {
		if tg.stationary {
			res.statHours += dur / 3600
		}
	}
	return res
}

// staticShadow is a deterministic, spatially smooth pseudo-random field in
// about ±1 for gateway j (sum of a few sinusoids), standing in for the
// shadowing of walls and furniture, which does not average out.
func staticShadow(p wardwatch.Point, j int) float64 {
	f := float64(j)
	return (math.Sin(p.X*0.7+f*1.3) + math.Sin(p.Y*0.9+f*2.1) + math.Sin((p.X+p.Y)*0.5+f*0.7)) / 1.7
}

// stationaryTags places n tags at random spots in random rooms, at least
// margin from the walls.
func stationaryTags(rng *rand.Rand, n int, margin float64) []simTag {
	var tags []simTag
	for i := range n {
		room := rng.IntN(20)
		x0 := float64(room%10) * 6
		y0 := 0.0
		if room >= 10 {
			y0 = 12
		}
		p := wardwatch.Point{X: x0 + margin + rng.Float64()*(6-2*margin), Y: y0 + margin + rng.Float64()*(8-2*margin)}
		tags = append(tags, simTag{id: fmt.Sprintf("still-%d", i), stationary: true, at: func(float64) wardwatch.Point { return p }})
	}
	return tags
}

// walkingTags makes n tags that walk at speed m/s from a room, through its
// door into the corridor, along it, and into another room where they stay
// for pause seconds, again and again.
func walkingTags(rng *rand.Rand, n int, speed, pause float64, dur float64) []simTag {
	var tags []simTag
	for i := range n {
		type leg struct {
			t0, t1 float64
			a, b   wardwatch.Point
		}
		var legs []leg
		roomSpot := func(room int) (spot, door, corr wardwatch.Point) {
			x0 := float64(room%10) * 6
			if room < 10 {
				return wardwatch.Point{X: x0 + 1 + rng.Float64()*4, Y: 1 + rng.Float64()*5}, wardwatch.Point{X: x0 + 3, Y: 7.5}, wardwatch.Point{X: x0 + 3, Y: 10}
			}
			return wardwatch.Point{X: x0 + 1 + rng.Float64()*4, Y: 14 + rng.Float64()*5}, wardwatch.Point{X: x0 + 3, Y: 12.5}, wardwatch.Point{X: x0 + 3, Y: 10}
		}
		room := rng.IntN(20)
		pos, _, _ := roomSpot(room)
		tm := 0.0
		add := func(b wardwatch.Point) {
			d := floorplan.Distance(pos, b)
			legs = append(legs, leg{tm, tm + d/speed, pos, b})
			tm += d / speed
			pos = b
		}
		for tm < dur {
			legs = append(legs, leg{tm, tm + pause*(0.5+rng.Float64()), pos, pos})
			tm = legs[len(legs)-1].t1
			_, door, corr := roomSpot(room)
			add(door)
			add(corr)
			room = rng.IntN(20)
			spot, door2, corr2 := roomSpot(room)
			add(corr2)
			add(door2)
			add(spot)
		}
		tags = append(tags, simTag{id: fmt.Sprintf("walk-%d", i), at: func(sec float64) wardwatch.Point {
			k, _ := slices.BinarySearchFunc(legs, sec, func(l leg, s float64) int {
				switch {
				case l.t1 < s:
					return -1
				case l.t0 > s:
					return 1
				}
				return 0
			})
			if k >= len(legs) {
				return legs[len(legs)-1].b
			}
			l := legs[k]
			if l.t1 <= l.t0 {
				return l.b
			}
			f := min(max((sec-l.t0)/(l.t1-l.t0), 0), 1)
			return wardwatch.Point{X: l.a.X + f*(l.b.X-l.a.X), Y: l.a.Y + f*(l.b.Y-l.a.Y)}
		}})
	}
	return tags
}

// TestSimulatedWard runs the simulated ward for half an hour (20 parked
// tags, 6 walking, 1 Hz, σ = 4.5 dB with dips and bursts) and guards
// against regressions. The scenario is harsher than the benchmark
// in package replay (every tag at 1 Hz, bursts that last seconds), so its
// thresholds are the engine's figures here with a little slack, not the
// issue's targets (median ≤ 1.0 m, p90 ≤ 2.0 m, room ≥ 97 %, ≤ 1 room
// change per hour for a parked tag), which replay holds it to.
func TestSimulatedWard(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const dur = 1800
	tags := append(stationaryTags(rng, 20, 0.5), walkingTags(rng, 6, 1.2, 60, dur)...)
	res := runSim(t, Config{}, defaultRadio(), tags, dur, 1)
	t.Logf("simulated ward: %v", res)
	checks := []struct {
		name       string
		got, limit float64
		atMost     bool
	}{
		{"median error, m", res.quantile(res.errs, 0.5), 0.5, true},
		{"p90 error, m", res.quantile(res.errs, 0.9), 1.5, true},
		{"parked tags' p90 error, m", res.quantile(res.statErrs, 0.9), 0.9, true},
		{"room correct, %", 100 * float64(res.roomOK) / float64(res.room), 95, false},
		{"parked tags' room correct, %", 100 * float64(res.statRoomOK) / float64(res.statRoom), 98, false},
		{"parked tags' room changes per hour", float64(res.statChanges) / res.statHours, 2.5, true},
	}
	for _, c := range checks {
		if (c.atMost && c.got > c.limit) || (!c.atMost && c.got < c.limit) {
			t.Errorf("%s: %.2f, limit %.2f", c.name, c.got, c.limit)
		}
	}
}
