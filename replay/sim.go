package replay

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Dataset is a replay's inputs as its files hold them.
type Dataset struct {
	Gateways  []Gateway
	Zones     []Zone
	Sightings []Sighting // in time order
	Truth     []Truth
}

// Radio is a simulated BLE channel: the log-distance model
//
//	RSSI = RSSIAt1m − 10·PathLoss·log10(d) + N(0, Sigma) − (Burst with probability BurstProb)
//	       + field(gateway, position) − WallLoss·(walls between tag and gateway)
//
// with d the 3-D distance between tag and gateway (at least 0.1 m), the
// noise and bursts drawn independently for each advertisement and gateway.
// The field is a static, smooth shadowing pattern per gateway (zero when
// FieldSigma is 0): unlike the per-sample noise, no averaging over time
// removes it. Advertisements weaker than Sensitivity, or lost (probability
// Loss), are not heard.
type Radio struct {
	RSSIAt1m    float64 // dBm at 1 m
	PathLoss    float64 // path-loss exponent
	Sigma       float64 // dB, log-normal shadowing per sample
	BurstProb   float64 // share of samples hit by a multipath burst
	Burst       float64 // dB the burst takes off
	Sensitivity float64 // dBm; weaker samples are not heard (0: all heard)
	Loss        float64 // probability a gateway misses an advertisement
	Round       bool    // report whole dBm, as most gateways do
	FieldSigma  float64 // dB: standard deviation of the static shadowing field
	WallLoss    float64 // dB lost per room wall between tag and gateway
}

// rssi draws one sample at distance d with the static offset bias (field
// and walls), or ok=false when it is not heard.
func (r Radio) rssi(rng *rand.Rand, d, bias float64) (float64, bool) {
	v := r.RSSIAt1m - 10*r.PathLoss*math.Log10(max(d, 0.1)) + bias + rng.NormFloat64()*r.Sigma
	if rng.Float64() < r.BurstProb {
		v -= r.Burst
	}
	if r.Round {
		v = math.Round(v)
	}
	if rng.Float64() < r.Loss || (r.Sensitivity != 0 && v < r.Sensitivity) {
		return 0, false
	}
	return min(v, -1), true
}

// waypoint is a tag's true position at a time; between waypoints it
// moves in a straight line at constant speed.
type waypoint struct {
	t  time.Duration // since the start
	at wardwatch.Point
}

// simTag is one simulated tag.
type simTag struct {
	id     string
	period time.Duration // advertising interval
	phase  time.Duration
	height float64
	path   []waypoint
}

// position is where the tag is at t (held at the ends of its path).
func (st *simTag) position(t time.Duration) wardwatch.Point {
	p := st.path
	i, _ := slices.BinarySearchFunc(p, t, func(w waypoint, t time.Duration) int {
		switch {
		case w.t < t:
			return -1
		case w.t > t:
			return 1
		}
		return 0
	})
	switch {
	case i == 0:
		return p[0].at
	case i == len(p):
		return p[len(p)-1].at
	}
	a, b := p[i-1], p[i]
	if b.t == a.t {
		return b.at
	}
	f := float64(t-a.t) / float64(b.t-a.t)
	return wardwatch.Point{X: a.at.X + (b.at.X-a.at.X)*f, Y: a.at.Y + (b.at.Y-a.at.Y)*f}
}

// fieldWaves is how many plane waves make a gateway's shadowing field.
const fieldWaves = 12

// field is one gateway's static shadowing: a sum of plane waves of random
// direction, 4–10 m wavelength and phase, which is smooth over a metre or
// two and has standard deviation sigma over the floor.
type field struct {
	kx, ky, phase [fieldWaves]float64
	scale         float64
}

func newField(rng *rand.Rand, sigma float64) *field {
	f := &field{scale: sigma * math.Sqrt(2.0/fieldWaves)}
	for i := range fieldWaves {
		k := 2 * math.Pi / (4 + 6*rng.Float64())
		a := 2 * math.Pi * rng.Float64()
		f.kx[i], f.ky[i], f.phase[i] = k*math.Cos(a), k*math.Sin(a), 2*math.Pi*rng.Float64()
	}
	return f
}

func (f *field) at(p wardwatch.Point) float64 {
	var v float64
	for i := range fieldWaves {
		v += math.Cos(f.kx[i]*p.X + f.ky[i]*p.Y + f.phase[i])
	}
	return f.scale * v
}

// simulate makes the sightings and the truth of tags heard by gateways over
// duration from start. Every advertisement is jittered by 0–10 ms, as BLE
// advertising is. walls, when set, counts the room walls between a tag at p
// and gateway g.
func simulate(rng *rand.Rand, start time.Time, duration time.Duration, radio Radio, gateways []Gateway, tags []*simTag, walls func(p wardwatch.Point, g Gateway) int) ([]Sighting, []Truth) {
	fields := make([]*field, len(gateways))
	if radio.FieldSigma != 0 {
		for i := range gateways {
			fields[i] = newField(rng, radio.FieldSigma)
		}
	}
	var ss []Sighting
	var truth []Truth
	for _, st := range tags {
		for _, w := range st.path {
			truth = append(truth, Truth{Time: start.Add(w.t), TagID: st.id, X: w.at.X, Y: w.at.Y})
		}
		for t := st.phase; t < duration; t += st.period {
			at := t + time.Duration(rng.Int64N(int64(10*time.Millisecond)))
			p := st.position(at)
			for gi, g := range gateways {
				d := math.Sqrt((p.X-g.X)*(p.X-g.X) + (p.Y-g.Y)*(p.Y-g.Y) + (st.height-g.Z)*(st.height-g.Z))
				var bias float64
				if fields[gi] != nil {
					bias = fields[gi].at(p)
				}
				if walls != nil && radio.WallLoss != 0 {
					bias -= radio.WallLoss * float64(walls(p, g))
				}
				if v, ok := radio.rssi(rng, d, bias); ok {
					ss = append(ss, Sighting{Time: start.Add(at), GatewayID: g.ID, TagID: st.id, RSSI: v})
				}
			}
		}
	}
	slices.SortStableFunc(ss, func(a, b Sighting) int { return a.Time.Compare(b.Time) })
	return ss, truth
}

// simStart is when every simulation starts: 2026-01-05 08:00 UTC.
var simStart = time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)

// Corridor describes the simulated hospital ward HospitalCorridor builds.
type Corridor struct {
	Seed          uint64
	RoomsPerSide  int           // rooms along each side of the corridor (default 10)
	RoomWidth     float64       // along the corridor, metres (default 4)
	RoomDepth     float64       // metres (default 5)
	CorridorWidth float64       // metres (default 2.5)
	GatewayZ      float64       // ceiling, metres (default 2.7)
	TagHeight     float64       // metres above the floor (default 1.0)
	Duration      time.Duration // default 1 h
	Moving        int           // tags that walk room → corridor → room (default 10)
	Stationary    int           // tags that never move (default 20)
	Speed         float64       // walking speed, m/s (default 1.2)
	MinDwell      time.Duration // a moving tag stays in a room between walks (default 60 s)
	MaxDwell      time.Duration // (default 300 s)
	Radio         Radio         // default HospitalRadio()
}

// HospitalRadio is the corridor benchmark's channel: −59 dBm at 1 m,
// path-loss exponent 2.7, log-normal shadowing σ = 4.5 dB per sample, 8 %
// of samples hit by a −10 dB burst, −95 dBm sensitivity, 10 % of
// advertisements missed by each gateway, whole-dBm readings.
func HospitalRadio() Radio {
	return Radio{RSSIAt1m: -59, PathLoss: 2.7, Sigma: 4.5, BurstProb: 0.08, Burst: 10, Sensitivity: -95, Loss: 0.10, Round: true}
}

func (c Corridor) withDefaults() Corridor {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.RoomsPerSide <= 0 {
		c.RoomsPerSide = 10
	}
	def(&c.RoomWidth, 4)
	def(&c.RoomDepth, 5)
	def(&c.CorridorWidth, 2.5)
	def(&c.GatewayZ, 2.7)
	def(&c.TagHeight, 1.0)
	def(&c.Speed, 1.2)
	if c.Duration <= 0 {
		c.Duration = time.Hour
	}
	if c.Moving < 0 {
		c.Moving = 0
	} else if c.Moving == 0 {
		c.Moving = 10
	}
	if c.Stationary < 0 {
		c.Stationary = 0
	} else if c.Stationary == 0 {
		c.Stationary = 20
	}
	if c.MinDwell <= 0 {
		c.MinDwell = 60 * time.Second
	}
	if c.MaxDwell < c.MinDwell {
		c.MaxDwell = max(c.MinDwell, 300*time.Second)
	}
	if c.Radio == (Radio{}) {
		c.Radio = HospitalRadio()
	}
	return c
}

// corridorRoom is one room of the ward.
type corridorRoom struct {
	name       string
	min, max   wardwatch.Point
	door       wardwatch.Point // middle of the doorway, on the corridor wall
	inside     wardwatch.Point // 0.6 m inside the doorway
	outside    wardwatch.Point // on the corridor's centre line, in front of the door
	hasGateway bool
}

// HospitalCorridor simulates a ward: a corridor (y from RoomDepth to
// RoomDepth+CorridorWidth) with RoomsPerSide rooms on each side, north
// rooms N01… above it, south rooms S01… below. Gateways hang from the
// ceiling (GatewayZ) in the middle of every other room, staggered: the
// north side's 1st, 3rd, 5th… rooms and the south side's 2nd, 4th…, so
// along each side they are 2·RoomWidth apart (8 m) and each gateway's
// nearest neighbours across the corridor are about 8.5 m away. The
// gateways are calibrated: their rows carry the radio's true RSSI at 1 m
// and path-loss exponent.
//
// Stationary tags sit at a random point of a random room (at least 0.5 m
// from its walls) for the whole run, tagged "static-NN"; moving tags
// ("walker-NN") dwell MinDwell–MaxDwell in a room, then walk to the
// doorway, along the corridor and into another room at Speed. Tags
// advertise every 0.5 s or 1 s (alternately), at TagHeight.
func HospitalCorridor(c Corridor) Dataset {
	c = c.withDefaults()
	rng := rand.New(rand.NewPCG(c.Seed, 0x5741524457415443))
	var ds Dataset
	var rooms []corridorRoom
	cy := c.RoomDepth + c.CorridorWidth/2
	length := float64(c.RoomsPerSide) * c.RoomWidth
	for side := range 2 {
		for i := range c.RoomsPerSide {
			x0 := float64(i) * c.RoomWidth
			r := corridorRoom{}
			mid := x0 + c.RoomWidth/2
			if side == 0 {
				r.name = fmt.Sprintf("N%02d", i+1)
				r.min, r.max = wardwatch.Point{X: x0, Y: 0}, wardwatch.Point{X: x0 + c.RoomWidth, Y: c.RoomDepth}
				r.door = wardwatch.Point{X: mid, Y: c.RoomDepth}
				r.inside = wardwatch.Point{X: mid, Y: c.RoomDepth - 0.6}
				r.hasGateway = i%2 == 0
			} else {
				y0 := c.RoomDepth + c.CorridorWidth
				r.name = fmt.Sprintf("S%02d", i+1)
				r.min, r.max = wardwatch.Point{X: x0, Y: y0}, wardwatch.Point{X: x0 + c.RoomWidth, Y: y0 + c.RoomDepth}
				r.door = wardwatch.Point{X: mid, Y: y0}
				r.inside = wardwatch.Point{X: mid, Y: y0 + 0.6}
				r.hasGateway = i%2 == 1
			}
			r.outside = wardwatch.Point{X: mid, Y: cy}
			rooms = append(rooms, r)
		}
	}
	for _, r := range rooms {
		ds.Zones = append(ds.Zones, Zone{Name: r.name, Floor: 1, Kind: wardwatch.ZoneRoom,
			Polygon: []wardwatch.Point{r.min, {X: r.max.X, Y: r.min.Y}, r.max, {X: r.min.X, Y: r.max.Y}}})
		if r.hasGateway {
			mid := wardwatch.Point{X: (r.min.X + r.max.X) / 2, Y: (r.min.Y + r.max.Y) / 2}
			ds.Gateways = append(ds.Gateways, Gateway{
				ID: "gw-" + r.name, Floor: 1, X: mid.X, Y: mid.Y, Z: c.GatewayZ,
				RSSIAt1m: c.Radio.RSSIAt1m, PathLossExponent: c.Radio.PathLoss,
			})
		}
	}
	slices.SortFunc(ds.Gateways, func(a, b Gateway) int { return compareX(a.X, b.X) })
	ds.Zones = append(ds.Zones, Zone{Name: "Corridor", Floor: 1, Kind: wardwatch.ZoneCorridor,
		Polygon: []wardwatch.Point{{X: 0, Y: c.RoomDepth}, {X: length, Y: c.RoomDepth}, {X: length, Y: c.RoomDepth + c.CorridorWidth}, {X: 0, Y: c.RoomDepth + c.CorridorWidth}}})

	inRoom := func(r corridorRoom) wardwatch.Point {
		const m = 0.5
		return wardwatch.Point{
			X: r.min.X + m + rng.Float64()*(r.max.X-r.min.X-2*m),
			Y: r.min.Y + m + rng.Float64()*(r.max.Y-r.min.Y-2*m),
		}
	}
	var tags []*simTag
	newTag := func(id string, n int) *simTag {
		period := time.Second
		if n%2 == 0 {
			period = 500 * time.Millisecond
		}
		return &simTag{id: id, period: period, phase: time.Duration(rng.Int64N(int64(period))), height: c.TagHeight}
	}
	for n := range c.Stationary {
		st := newTag(fmt.Sprintf("static-%02d", n+1), n)
		p := inRoom(rooms[rng.IntN(len(rooms))])
		st.path = []waypoint{{0, p}, {c.Duration, p}}
		tags = append(tags, st)
	}
	for n := range c.Moving {
		st := newTag(fmt.Sprintf("walker-%02d", n+1), n)
		ri := rng.IntN(len(rooms))
		p := inRoom(rooms[ri])
		t := time.Duration(0)
		st.path = []waypoint{{0, p}}
		walk := func(to wardwatch.Point) {
			d := math.Hypot(to.X-p.X, to.Y-p.Y)
			t += time.Duration(d / c.Speed * float64(time.Second))
			p = to
			st.path = append(st.path, waypoint{t, p})
		}
		for t < c.Duration {
			// The first dwell is drawn from the whole range so that walks
			// do not all start together.
			dwell := c.MinDwell + time.Duration(rng.Int64N(int64(c.MaxDwell-c.MinDwell)+1))
			if t == 0 {
				dwell = time.Duration(rng.Int64N(int64(c.MaxDwell) + 1))
			}
			t += dwell
			st.path = append(st.path, waypoint{t, p})
			next := rng.IntN(len(rooms) - 1)
			if next >= ri {
				next++
			}
			from, to := rooms[ri], rooms[next]
			walk(from.inside)
			walk(from.door)
			walk(from.outside)
			walk(to.outside)
			walk(to.door)
			walk(to.inside)
			walk(inRoom(to))
			ri = next
		}
		tags = append(tags, st)
	}
	// The walls: each room's four sides, a wall shared by two rooms counted
	// once; doorways are ignored (a wall is a wall).
	var walls []segment
	for _, y := range []float64{0, c.RoomDepth, c.RoomDepth + c.CorridorWidth, 2*c.RoomDepth + c.CorridorWidth} {
		walls = append(walls, segment{wardwatch.Point{X: 0, Y: y}, wardwatch.Point{X: length, Y: y}})
	}
	for i := range c.RoomsPerSide + 1 {
		x := float64(i) * c.RoomWidth
		walls = append(walls,
			segment{wardwatch.Point{X: x, Y: 0}, wardwatch.Point{X: x, Y: c.RoomDepth}},
			segment{wardwatch.Point{X: x, Y: c.RoomDepth + c.CorridorWidth}, wardwatch.Point{X: x, Y: 2*c.RoomDepth + c.CorridorWidth}})
	}
	countWalls := func(p wardwatch.Point, g Gateway) int {
		n := 0
		for _, w := range walls {
			if w.crosses(p, wardwatch.Point{X: g.X, Y: g.Y}) {
				n++
			}
		}
		return n
	}
	ds.Sightings, ds.Truth = simulate(rng, simStart, c.Duration, c.Radio, ds.Gateways, tags, countWalls)
	for i := range ds.Truth {
		ds.Truth[i].Floor, ds.Truth[i].HasFloor = 1, true
	}
	return ds
}

// segment is a straight wall.
type segment struct{ a, b wardwatch.Point }

// crosses reports whether the path from p to q passes through s (touching
// an end of s does not count).
func (s segment) crosses(p, q wardwatch.Point) bool {
	cross := func(o, a, b wardwatch.Point) float64 { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	d1, d2 := cross(s.a, s.b, p), cross(s.a, s.b, q)
	d3, d4 := cross(p, q, s.a), cross(p, q, s.b)
	return ((d1 > 0 && d2 < 0) || (d1 < 0 && d2 > 0)) && ((d3 > 0 && d4 < 0) || (d3 < 0 && d4 > 0))
}

func compareX(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Flat describes ESPresense-companion's accuracy scenario as ESPresenseFlat
// streams it.
type Flat struct {
	Seed      uint64
	TagHeight float64       // metres (default 2.4: the nodes' height, as their harness ranges in the plane)
	Duration  time.Duration // default 10 min
	Speed     float64       // m/s (default 1.0)
	Period    time.Duration // advertising interval (default 1 s)
	Radio     Radio         // default ESPresenseRadio()
}

// ESPresenseRadio is ESPresense-companion's harness noise: −59 dBm at 1 m,
// absorption (path-loss exponent) 3.0, Gaussian σ = 2.5 dB, 10 % of
// samples −6 dB; every sample heard, not rounded.
func ESPresenseRadio() Radio {
	return Radio{RSSIAt1m: -59, PathLoss: 3.0, Sigma: 2.5, BurstProb: 0.10, Burst: 6}
}

// ESPresenseFlat simulates ESPresense-companion's baseline_4node_6x4m
// scenario as a stream: a 6 × 4 m floor split into "living" (x < 4) and
// "bedroom" (x > 4), four ceiling-corner nodes at 2.4 m (0.2 m in from
// each corner), and one tag ("walker") walking their diagonal_walk track
// (0.5,0.5) → (3,2) → (5.5,3.5) and back, over and over, at Speed,
// advertising every Period.
func ESPresenseFlat(f Flat) Dataset {
	if f.TagHeight <= 0 {
		f.TagHeight = 2.4
	}
	if f.Duration <= 0 {
		f.Duration = 10 * time.Minute
	}
	if f.Speed <= 0 {
		f.Speed = 1.0
	}
	if f.Period <= 0 {
		f.Period = time.Second
	}
	if f.Radio == (Radio{}) {
		f.Radio = ESPresenseRadio()
	}
	rng := rand.New(rand.NewPCG(f.Seed, 0x4553505245534e43))
	ds := Dataset{
		Zones: []Zone{
			{Name: "living", Floor: 1, Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 4}, {X: 0, Y: 4}}},
			{Name: "bedroom", Floor: 1, Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 4, Y: 0}, {X: 6, Y: 0}, {X: 6, Y: 4}, {X: 4, Y: 4}}},
		},
	}
	for _, n := range []struct {
		id   string
		x, y float64
	}{{"node-living-nw", 0.2, 3.8}, {"node-living-sw", 0.2, 0.2}, {"node-bedroom-ne", 5.8, 3.8}, {"node-bedroom-se", 5.8, 0.2}} {
		ds.Gateways = append(ds.Gateways, Gateway{ID: n.id, Floor: 1, X: n.x, Y: n.y, Z: 2.4,
			RSSIAt1m: f.Radio.RSSIAt1m, PathLossExponent: f.Radio.PathLoss})
	}
	track := []wardwatch.Point{{X: 0.5, Y: 0.5}, {X: 3, Y: 2}, {X: 5.5, Y: 3.5}}
	st := &simTag{id: "walker", period: f.Period, phase: 0, height: f.TagHeight}
	p := track[0]
	t := time.Duration(0)
	st.path = []waypoint{{0, p}}
	for i := 1; t < f.Duration; i++ {
		// Forth along the track, then back: 1, 2, 1, 0, 1, 2, …
		k := i % 4
		if k == 3 {
			k = 1
		}
		to := track[k]
		t += time.Duration(math.Hypot(to.X-p.X, to.Y-p.Y) / f.Speed * float64(time.Second))
		p = to
		st.path = append(st.path, waypoint{t, p})
	}
	ds.Sightings, ds.Truth = simulate(rng, simStart, f.Duration, f.Radio, ds.Gateways, []*simTag{st}, nil)
	for i := range ds.Truth {
		ds.Truth[i].Floor, ds.Truth[i].HasFloor = 1, true
	}
	return ds
}
