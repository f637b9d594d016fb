package sim

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// Radio and movement parameters.
const (
	hearingRange  = 25.0 // metres: a gateway hears tags on its floor up to here
	noiseSigma    = 4.0  // dB, Gaussian RSSI noise
	burstLoss     = 10.0 // dB lost during a burst (a body or a cart in the way)
	burstChance   = 0.01 // per reading, chance a burst starts on that tag–gateway link
	minAdvPeriod  = 500 * time.Millisecond
	maxAdvPeriod  = 1000 * time.Millisecond // one or two beacons per second
	maxEmitWindow = 10 * time.Second        // beacons are simulated for at most this much of a Step
	minSpeed      = 1.0                     // m/s
	maxSpeed      = 1.4
	minDwell      = 20 * time.Second
	maxDwell      = 120 * time.Second
	otherFloorP   = 0.04 // chance a trip goes to the other floor, via the lift
	homeP         = 0.15 // chance a trip goes back to the asset's home zone
	walkingAtT0   = 1.0 / 3
)

// Reading is one beacon heard by one gateway.
type Reading struct {
	Time    time.Time
	TagID   string
	RSSI    float64 // dBm, rounded to an integer like real gateways report
	TxPower float64 // the tag's advertised RSSI at 1 m
}

// Batch is what one gateway heard since the previous Step, oldest first.
type Batch struct {
	GatewayKey string
	Sightings  []Reading
}

// TruePosition is where an asset really is.
type TruePosition struct {
	TagID   string
	Asset   string          // the asset's name
	Floor   int             // floor index, in Seed's creation order
	At      wardwatch.Point // metres on that floor
	Zone    string          // name of the zone the asset is in ("" if none)
	Walking bool            // moving between rooms rather than parked
}

// waypoint is a point of a path; a change of floor between two waypoints
// is a lift ride, taken instantly.
type waypoint struct {
	floor int
	at    wardwatch.Point
}

type assetState struct {
	floor   int
	at      wardwatch.Point
	zone    int // zone index on floor: where it dwells, or last dwelt
	walking bool

	path       []waypoint
	seg        int     // index of the next waypoint
	speed      float64 // m/s while walking
	destFloor  int
	destZone   int
	dwellUntil time.Time

	clock   time.Time // the state above is as of clock
	nextAdv time.Time // next beacon
	burst   []time.Time
}

type simGateway struct {
	key   string
	floor int
	at    wardwatch.Point
}

// Simulation moves the hospital's assets and produces what each gateway
// hears. It is deterministic: the same Hospital, seed, start and sequence
// of Step times give the same results. It is not safe for concurrent use.
type Simulation struct {
	h      *Hospital
	rng    *rand.Rand
	last   time.Time
	assets []assetState
	gws    []simGateway
}

// NewSimulation starts a simulation of h at start with the random seed
// seed. About a third of the assets start out walking; the rest are parked
// in their home rooms.
func NewSimulation(h *Hospital, seed int64, start time.Time) *Simulation {
	s := &Simulation{
		h:    h,
		rng:  rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		last: start,
	}
	for fi, f := range h.floors {
		for _, g := range f.gateways {
			s.gws = append(s.gws, simGateway{key: g.key, floor: fi, at: g.at})
		}
	}
	s.assets = make([]assetState, len(h.assets))
	for i, def := range h.assets {
		a := &s.assets[i]
		a.floor, a.zone = def.floor, def.home
		a.at = s.dwellPoint(&h.floors[def.floor].zones[def.home])
		a.clock = start
		a.nextAdv = start.Add(s.advPeriod())
		a.burst = make([]time.Time, len(s.gws))
		if s.rng.Float64() < walkingAtT0 {
			a.dwellUntil = start
		} else {
			a.dwellUntil = start.Add(time.Duration(s.rng.Float64() * float64(s.dwell())))
		}
	}
	return s
}

// Step advances every asset to now and returns, per gateway that heard
// anything, the beacons it heard since the previous Step: each asset
// advertises once every 0.5–1 s; every gateway on the asset's floor within
// 25 m hears it at
//
//	RSSI = RSSIAt1m − 10·n·log10(d) + N(0, 4 dB) [− 10 dB during a burst]
//
// rounded to an integer, where d is the 3-D distance between gateway
// (2.7 m up) and tag (1 m up). Beacons are simulated for at most the last
// 10 s of a long gap between Steps (movement still covers all of it). A
// now not after the previous Step returns nil.
func (s *Simulation) Step(now time.Time) []Batch {
	if !now.After(s.last) {
		return nil
	}
	from := s.last
	if now.Sub(from) > maxEmitWindow {
		from = now.Add(-maxEmitWindow)
	}
	heard := make([][]Reading, len(s.gws))
	for i := range s.assets {
		a := &s.assets[i]
		if a.nextAdv.Before(from) {
			a.nextAdv = from.Add(s.advPeriod())
		}
		for !a.nextAdv.After(now) {
			s.advance(i, a.nextAdv)
			s.emit(i, a.nextAdv, heard)
			a.nextAdv = a.nextAdv.Add(s.advPeriod())
		}
		s.advance(i, now)
	}
	s.last = now

	var out []Batch
	for gi, rs := range heard {
		if len(rs) == 0 {
			continue
		}
		slices.SortStableFunc(rs, func(a, b Reading) int { return a.Time.Compare(b.Time) })
		out = append(out, Batch{GatewayKey: s.gws[gi].key, Sightings: rs})
	}
	return out
}

// emit records what the gateways on asset i's floor hear of its beacon
// at t.
func (s *Simulation) emit(i int, t time.Time, heard [][]Reading) {
	a := &s.assets[i]
	tag := s.h.assets[i].tagID
	for gi := range s.gws {
		g := &s.gws[gi]
		if g.floor != a.floor || floorplan.Distance(g.at, a.at) > hearingRange {
			continue
		}
		d := math.Max(dist3(g.at, a.at), 0.1)
		rssi := gatewayRef - 10*gatewayN*math.Log10(d) + s.rng.NormFloat64()*noiseSigma
		if t.Before(a.burst[gi]) {
			rssi -= burstLoss
		} else if s.rng.Float64() < burstChance {
			a.burst[gi] = t.Add(2*time.Second + time.Duration(s.rng.Float64()*float64(4*time.Second)))
			rssi -= burstLoss
		}
		rssi = math.Min(math.Max(math.Round(rssi), -130), 0)
		heard[gi] = append(heard[gi], Reading{Time: t, TagID: tag, RSSI: rssi, TxPower: tagTxPower})
	}
}

// advance moves asset i from its clock to t.
func (s *Simulation) advance(i int, t time.Time) {
	a := &s.assets[i]
	for a.clock.Before(t) {
		if !a.walking {
			if t.Before(a.dwellUntil) {
				a.clock = t
				return
			}
			a.clock = a.dwellUntil
			s.startTrip(i)
			continue
		}
		budget := a.speed * t.Sub(a.clock).Seconds()
		for budget > 0 && a.seg < len(a.path) {
			wp := a.path[a.seg]
			if wp.floor != a.floor { // the lift ride
				a.floor, a.at = wp.floor, wp.at
				a.seg++
				continue
			}
			d := floorplan.Distance(a.at, wp.at)
			if d <= budget {
				budget -= d
				a.at = wp.at
				a.seg++
				continue
			}
			f := budget / d
			a.at = wardwatch.Point{X: a.at.X + (wp.at.X-a.at.X)*f, Y: a.at.Y + (wp.at.Y-a.at.Y)*f}
			budget = 0
		}
		if a.seg < len(a.path) {
			a.clock = t
			return
		}
		// Arrived: park until the dwell is over.
		arrived := t.Add(-time.Duration(budget / a.speed * float64(time.Second)))
		if arrived.Before(a.clock) {
			arrived = a.clock
		}
		a.walking = false
		a.floor, a.zone = a.destFloor, a.destZone
		a.path, a.seg = nil, 0
		a.clock = arrived
		a.dwellUntil = arrived.Add(s.dwell())
	}
}

// startTrip picks a destination for a parked asset and plans its path:
// room → its door → the corridor centreline → (the lift, for another
// floor) → the target's door → a point inside the target.
func (s *Simulation) startTrip(i int) {
	a, def := &s.assets[i], &s.h.assets[i]
	destFloor, destZone := a.floor, -1
	switch r := s.rng.Float64(); {
	case r < otherFloorP && len(s.h.floors) > 1:
		destFloor = (a.floor + 1 + s.rng.IntN(len(s.h.floors)-1)) % len(s.h.floors)
		destZone = s.randomZone(destFloor, -1)
	case r < otherFloorP+homeP && (def.floor != a.floor || def.home != a.zone):
		destFloor, destZone = def.floor, def.home
	default:
		destZone = s.randomZone(a.floor, a.zone)
	}
	from := &s.h.floors[a.floor].zones[a.zone]
	to := &s.h.floors[destFloor].zones[destZone]
	target := s.dwellPoint(to)

	path := []waypoint{
		{a.floor, from.insideDoor()},
		{a.floor, from.corridorDoor()},
	}
	if destFloor != a.floor {
		fromLift := &s.h.floors[a.floor].zones[s.h.floors[a.floor].lift]
		toLift := &s.h.floors[destFloor].zones[s.h.floors[destFloor].lift]
		path = append(path,
			waypoint{a.floor, fromLift.corridorDoor()},
			waypoint{a.floor, fromLift.insideDoor()},
			waypoint{a.floor, fromLift.centre()},
			waypoint{destFloor, toLift.centre()},
			waypoint{destFloor, toLift.insideDoor()},
			waypoint{destFloor, toLift.corridorDoor()},
		)
	}
	path = append(path,
		waypoint{destFloor, to.corridorDoor()},
		waypoint{destFloor, to.insideDoor()},
		waypoint{destFloor, target},
	)
	a.walking = true
	a.path, a.seg = path, 0
	a.speed = minSpeed + s.rng.Float64()*(maxSpeed-minSpeed)
	a.destFloor, a.destZone = destFloor, destZone
}

// randomZone picks a zone where equipment parks on floor fi, other than
// except.
func (s *Simulation) randomZone(fi, except int) int {
	zones := s.h.floors[fi].zones
	var candidates []int
	for i := range zones {
		if i != except && zones[i].dwellable() {
			candidates = append(candidates, i)
		}
	}
	return candidates[s.rng.IntN(len(candidates))]
}

// dwellPoint picks where in z an asset parks.
func (s *Simulation) dwellPoint(z *zoneDef) wardwatch.Point {
	r := z.dwellArea()
	return wardwatch.Point{
		X: r.Min.X + s.rng.Float64()*(r.Max.X-r.Min.X),
		Y: r.Min.Y + s.rng.Float64()*(r.Max.Y-r.Min.Y),
	}
}

// dwell draws a parking time in [20 s, 120 s], short ones more likely.
func (s *Simulation) dwell() time.Duration {
	u := s.rng.Float64()
	return minDwell + time.Duration(u*u*float64(maxDwell-minDwell))
}

func (s *Simulation) advPeriod() time.Duration {
	return minAdvPeriod + time.Duration(s.rng.Int64N(int64(maxAdvPeriod-minAdvPeriod)+1))
}

// Truth returns every asset's true position as of the last Step (or the
// start), in the Hospital's asset order.
func (s *Simulation) Truth() []TruePosition {
	out := make([]TruePosition, len(s.assets))
	for i := range s.assets {
		a := &s.assets[i]
		out[i] = TruePosition{
			TagID:   s.h.assets[i].tagID,
			Asset:   s.h.assets[i].name,
			Floor:   a.floor,
			At:      a.at,
			Zone:    s.h.zoneAt(a.floor, a.at),
			Walking: a.walking,
		}
	}
	return out
}

// zoneAt names the zone of floor fi containing p, preferring enclosed
// zones over the corridor on a shared wall.
func (h *Hospital) zoneAt(fi int, p wardwatch.Point) string {
	zones := h.floors[fi].zones
	for _, corridor := range []bool{false, true} {
		for i := range zones {
			if (zones[i].kind == wardwatch.ZoneCorridor) == corridor && floorplan.Contains(zones[i].polygon(), p) {
				return zones[i].name
			}
		}
	}
	return ""
}
