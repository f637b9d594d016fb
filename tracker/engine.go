// Package tracker is WardWatch's location engine: sightings in, positions
// and zone changes out.
//
// The Engine is pure: no goroutines, no I/O and no clock. Time arrives in the
// sightings and as the now argument of Update, so a test (or a replay) feeds
// it a sequence of timestamped sightings and checks what comes out. The
// Runner in runner.go is the only goroutine owner and the only caller of
// time.Now.
//
// A fix is made in stages, each in its own file so that a stage can be
// swapped without touching the others:
//
//  1. link.go:        per (tag, gateway) link, a robust RSSI over the window
//     (median, samples beyond k·MAD dropped, mean of the rest), corrected
//     for the gateway's sensitivity (readings near it are heard only when
//     strong) and receive offset; the log-distance model with per-gateway
//     calibration and per-tag transmit power;
//  2. floor.go:       the floor classifier, which runs before the x,y
//     solve, with hysteresis and stairs/lift transition zones;
//  3. solve.go:       the x,y solver (robust Levenberg–Marquardt on the
//     log-distance model, weighted-centroid fallback, nearest gateway for
//     one or two links), the fix's covariance from geometry and residuals;
//     fingerprint.go blends in an optional radio-map fix;
//  4. kalman.go:      an interacting-multiple-model filter per tag over two
//     constant-velocity Kalman filters (parked and walking, with a speed
//     limit) fed by a long-window and a short-window fix, behind a motion
//     gate; the filtered position is what the engine publishes, with a
//     confidence from its covariance;
//  5. zone.go:        the zone decision on the filtered position, with a
//     margin, a minimum dwell (longer for a settled tag) and room anchors;
//  6. state.go:       moving, stationary, stale and missing.
package tracker

import (
	"math"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// RSSI bounds of a plausible sighting, in dBm.
const (
	minRSSI = -130
	maxRSSI = 0
)

// Config tunes the engine. New fills zero fields with DefaultConfig's values.
// Fields documented as taking a negative value for "none" or "off" do so
// because zero selects the default.
type Config struct {
	Window          time.Duration // per-link RSSI window: only sightings newer than now-Window count
	FirstFix        time.Duration // a tag first heard gets its first position once it has been heard for this long (at most Window), from every sample since; negative: at once
	MotionWindow    time.Duration // the shorter window of the fix that tells whether the tag moves, and follows it when it does
	MaxGateways     int           // use the k strongest links on the chosen floor
	MinDwell        time.Duration // a new zone must hold this long before a ZoneChange is emitted; negative: none
	StationaryDwell time.Duration // …or this long for a settled tag (parked near one spot, see zone.go); negative: MinDwell
	CorridorDwell   time.Duration // …or, from a corridor into another zone, this long if shorter than MinDwell (a corridor is walked through); negative: MinDwell
	ZoneMargin      float64       // metres: to leave the current zone the position must be this far outside it; negative: none
	FloorHysteresis float64       // dB: another floor must beat the current one by this much in mean RSSI of its best links; negative: none
	DefaultRSSIAt1m float64       // dBm, used when neither gateway nor tag provides one
	DefaultPathLoss float64       // path-loss exponent used when the gateway has none
	Forget          time.Duration // drop a link's samples after this silence (the tag's last position is kept until it goes missing)

	// Link filter.
	OutlierK   float64 // drop samples more than OutlierK robust standard deviations (1.4826·MAD) from the window's median; negative: keep all (plain median)
	RSSINoise  float64 // dB: standard deviation of one RSSI sample, assumed until a link's own spread is known
	ModelNoise float64 // dB: error of the path-loss model that averaging does not remove (shadowing, orientation)
	TagHeight  float64 // metres above the floor tags are carried at, for the height of ceiling gateways (Gateway.Z > 0); negative: on the floor

	// OffsetSigma, when positive, lets each fit estimate a common offset
	// of all of a tag's readings (dB), such as a tag transmitting weaker
	// than its profile or walls between it and every gateway, with this
	// prior standard deviation around the tag's smoothed offset. It costs
	// some precision where the path-loss model holds and buys much where
	// it does not (walls, uncalibrated tags). 0: off.
	OffsetSigma float64

	// Sensitivity is the weakest RSSI a gateway reports, in dBm: a link
	// whose readings hover near it is heard only when the signal happens
	// to be strong, and its mean reads too strong (the tag looks closer
	// than it is). The engine corrects such links as a normal distribution
	// truncated at Sensitivity. 0: learn each gateway's from the weakest
	// RSSI it has reported (once it has reported sensitivityLearn
	// sightings); below -130: no correction.
	Sensitivity float64

	// Floors.
	FloorOverride         float64       // dB: away from stairs and lifts, another floor must beat the current one by this much…
	FloorSustain          time.Duration // …for this long, before the tag changes floor
	FloorTransitionMargin float64       // metres: "near" a stairs or lift zone; negative: inside only

	// Kalman filter.
	ProcessNoise float64       // m²/s³: spectral density of the white-noise acceleration of a walking tag
	MaxSpeed     float64       // m/s: the filtered speed is clamped to this
	Gate         float64       // squared Mahalanobis distance beyond which a fix is an outlier and down-weighted; negative: no gate
	Reacquire    time.Duration // outlier fixes for this long reset the filter to the newest fix

	// States.
	MovingSpeed     float64       // m/s: a stationary tag whose filtered speed exceeds this is moving
	StationarySpeed float64       // m/s: a moving tag whose filtered speed drops below this is stationary
	StaleAfter      time.Duration // no sighting for this long: one stale Position; negative: never
	MissingAfter    time.Duration // no sighting for this long: one missing Position, then the tag is forgotten; negative: never

	// Room anchors.
	AnchorRange float64 // metres: a room anchor that is the tag's strongest link, at most this far (horizontally), decides its room; negative: anchors off
}

// DefaultConfig returns the engine's defaults.
func DefaultConfig() Config {
	return Config{
		Window:          4 * time.Second,
		MotionWindow:    2 * time.Second,
		FirstFix:        4 * time.Second,
		MaxGateways:     8,
		MinDwell:        2 * time.Second,
		StationaryDwell: 15 * time.Second,
		CorridorDwell:   time.Second,
		ZoneMargin:      0.3,
		FloorHysteresis: 4,
		DefaultRSSIAt1m: -59,
		DefaultPathLoss: 2.5,
		Forget:          10 * time.Minute,

		OutlierK:   2.5,
		RSSINoise:  4.5,
		ModelNoise: 1.5,
		TagHeight:  1,

		FloorOverride:         10,
		FloorSustain:          20 * time.Second,
		FloorTransitionMargin: 3,

		ProcessNoise: 0.3,
		MaxSpeed:     2,
		Gate:         9.21, // χ² with 2 degrees of freedom, 99 %
		Reacquire:    6 * time.Second,

		MovingSpeed:     0.5,
		StationarySpeed: 0.25,
		StaleAfter:      2 * time.Minute,
		MissingAfter:    24 * time.Hour,

		AnchorRange: 1.5,
	}
}

// withDefaults returns c with zero (or unusable) fields replaced by
// defaults and negative "none" values turned into zero.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	dur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	durNone := func(v *time.Duration, def time.Duration) {
		switch {
		case *v == 0:
			*v = def
		case *v < 0:
			*v = 0
		}
	}
	pos := func(v *float64, def float64) { // must be a finite positive value
		if !(*v > 0) || math.IsInf(*v, 0) {
			*v = def
		}
	}
	dur(&c.Window, d.Window)
	dur(&c.MotionWindow, d.MotionWindow)
	durNone(&c.FirstFix, d.FirstFix)
	c.FirstFix = min(c.FirstFix, c.Window)
	c.MotionWindow = min(c.MotionWindow, c.Window)
	if c.MaxGateways <= 0 {
		c.MaxGateways = d.MaxGateways
	}
	durNone(&c.MinDwell, d.MinDwell)
	durNone(&c.StationaryDwell, d.StationaryDwell)
	durNone(&c.CorridorDwell, d.CorridorDwell)
	c.ZoneMargin = orNone(c.ZoneMargin, d.ZoneMargin)
	c.FloorHysteresis = orNone(c.FloorHysteresis, d.FloorHysteresis)
	if c.DefaultRSSIAt1m == 0 || !finite(c.DefaultRSSIAt1m) {
		c.DefaultRSSIAt1m = d.DefaultRSSIAt1m
	}
	pos(&c.DefaultPathLoss, d.DefaultPathLoss)
	dur(&c.Forget, d.Forget)

	c.OutlierK = orNone(c.OutlierK, d.OutlierK)
	pos(&c.RSSINoise, d.RSSINoise)
	if !finite(c.Sensitivity) || c.Sensitivity > 0 {
		c.Sensitivity = 0
	}
	if !(c.OffsetSigma > 0) || math.IsInf(c.OffsetSigma, 0) {
		c.OffsetSigma = 0
	}
	pos(&c.ModelNoise, d.ModelNoise)
	c.TagHeight = orNone(c.TagHeight, d.TagHeight)

	pos(&c.FloorOverride, d.FloorOverride)
	dur(&c.FloorSustain, d.FloorSustain)
	c.FloorTransitionMargin = orNone(c.FloorTransitionMargin, d.FloorTransitionMargin)

	pos(&c.ProcessNoise, d.ProcessNoise)
	pos(&c.MaxSpeed, d.MaxSpeed)
	c.Gate = orNone(c.Gate, d.Gate)
	dur(&c.Reacquire, d.Reacquire)

	pos(&c.MovingSpeed, d.MovingSpeed)
	pos(&c.StationarySpeed, d.StationarySpeed)
	if c.StationarySpeed > c.MovingSpeed {
		c.StationarySpeed = c.MovingSpeed
	}
	durNone(&c.StaleAfter, d.StaleAfter)
	durNone(&c.MissingAfter, d.MissingAfter)
	c.AnchorRange = orNone(c.AnchorRange, d.AnchorRange)
	return c
}

// orNone returns def for 0 (or NaN, or +Inf), 0 for a negative v, and v
// otherwise.
func orNone(v, def float64) float64 {
	switch {
	case v == 0 || math.IsNaN(v):
		return def
	case v < 0:
		return 0
	case math.IsInf(v, 1):
		return def
	}
	return v
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// Site is what the engine knows about the building: floors, zones, gateways
// and the tags it should track. Gateways on floors not in Floors, zones on
// such floors and zones whose polygon is unusable are ignored.
type Site struct {
	Floors   []wardwatch.Floor
	Zones    []wardwatch.Zone
	Gateways []wardwatch.Gateway
	Tags     []wardwatch.Tag

	// Fingerprints, when not nil, is a radio map recorded by a survey: its
	// fixes are blended with the ranging fixes by their confidence.
	Fingerprints Fingerprinter
}

// Output is what one Update produces.
type Output struct {
	Positions   []wardwatch.Position
	ZoneChanges []wardwatch.ZoneChange
}

// Stats are the engine's counters.
type Stats struct {
	Accepted       uint64 // sightings stored
	UnknownTag     uint64 // sightings of tags not in the Site
	UnknownGateway uint64 // sightings from gateways not in the Site
	Invalid        uint64 // sightings with an impossible RSSI or timestamp
	Tags           int    // tags tracked: heard, and not missing yet

	Fallbacks  uint64 // fixes where the LM solve failed and the weighted centroid stood in
	Outliers   uint64 // fixes the Kalman filter's motion gate down-weighted
	Reacquired uint64 // Kalman filters reset after a run of outliers
}

// floorInfo is a floor's size, for clamping.
type floorInfo struct {
	width, height float64
}

// floorInset keeps clamped positions this far inside the floor's edge, in
// metres, so that a zone drawn up to the edge of the plan still holds
// them (a point on a polygon's edge may count as outside).
const floorInset = 0.01

// clamp moves p to the nearest point of the floor, floorInset inside its
// edges.
func (f floorInfo) clamp(p wardwatch.Point) wardwatch.Point {
	in := min(floorInset, f.width/2, f.height/2)
	return wardwatch.Point{X: min(max(p.X, in), f.width-in), Y: min(max(p.Y, in), f.height-in)}
}

// gatewayInfo is a gateway as the engine uses it.
type gatewayInfo struct {
	id           int64
	floorID      int64
	at           wardwatch.Point
	z            float64 // mounting height, m; 0: unknown (level with the tags)
	rssiAt1m     float64 // 0: not calibrated
	pathLoss     float64 // 0: not calibrated
	rxOffset     float64 // dB added to every RSSI
	anchorZoneID int64   // room anchor of this zone; 0: none

	// What the gateway has reported so far, for its sensitivity.
	weakest float64 // dBm: the weakest RSSI heard
	heard   uint64  // sightings heard
}

// knownTag is a tag of the Site: its ID (the Site's string, shared by the
// tag's state) and its asset.
type knownTag struct {
	id    string
	asset int64
}

// Reported states of a silent tag.
const (
	reportedNone uint8 = iota
	reportedStale
	reportedMissing
)

// tagState is everything the engine remembers about one tag.
type tagState struct {
	id        string
	assetID   int64
	txPower   float64 // newest advertised RSSI at 1 m; 0 when never advertised
	base      int64   // unix ms: the origin of the links' sample times
	lastHeard int64   // unix ns of the newest sighting
	heard     bool    // heard since the previous Update
	reported  uint8   // reportedStale or reportedMissing once emitted for the current silence
	links     []link

	// Last published fix.
	fixed    bool // has had a fix
	hasFloor bool // floorID is a floor of the site
	floorID  int64
	at       wardwatch.Point
	conf     float64
	solver   string
	state    wardwatch.TagState

	// Zone decision.
	zoneID    int64 // confirmed zone, 0 for none
	candSet   bool  // a different zone is waiting out the dwell
	cand      int64
	candSince int64 // unix ns of the first fix in cand

	// Where the tag has stayed (see settled).
	settleSet   bool
	settle      wardwatch.Point
	settleSince int64 // unix ns
	settleN     int   // fixes averaged into settle, at most settleAverage
	awaySet     bool  // the tag is farther than settleRadius from settle…
	awaySince   int64 // …since this time, unix ns
	movingSet   bool  // the tag has been moving…
	movingSince int64 // …since this time, unix ns

	// Floor decision.
	floorCandSet   bool // another floor is winning by FloorOverride
	floorCand      int64
	floorCandSince int64 // unix ms

	offset float64 // dB: the smoothed common offset of the tag's readings (Config.OffsetSigma)

	motion motion // parked or moving, from the links' RSSI (motion.go)

	// Temporal filter, on floorID.
	kfOn         bool
	kf           imm
	outlierSet   bool    // the latest fixes failed the gate…
	outlierSince float64 // …since this time, unix ms
}

// Engine turns sightings into positions. It is not safe for concurrent use;
// the Runner serialises access to it.
type Engine struct {
	cfg      Config
	floors   map[int64]floorInfo
	gateways map[int64]*gatewayInfo
	zones    zoneIndex
	known    map[string]knownTag
	tags     map[string]*tagState
	heard    []*tagState // tags heard since the previous Update, in order of first sighting
	stats    Stats
	fp       Fingerprinter

	// Scratch space reused by Update.
	fixes      []rangeFix
	fixesShort []rangeFix
	floorS     []floorScore
	fpRSSI     map[int64]float64
	silent     []wardwatch.Position
	waiting    []*tagState
}

// New returns an engine for site. Zero fields of cfg take DefaultConfig's
// values.
func New(cfg Config, site Site) *Engine {
	e := &Engine{
		cfg:  cfg.withDefaults(),
		tags: make(map[string]*tagState),
	}
	e.SetSite(site)
	return e
}

// SetSite reconfigures the engine. Tags that are still in site keep their
// state (links, floor, zone, pending dwell, filter); links to gateways that
// are gone are dropped, and tags that are gone are forgotten.
func (e *Engine) SetSite(site Site) {
	e.floors = make(map[int64]floorInfo, len(site.Floors))
	for _, f := range site.Floors {
		w, h := f.Width, f.Height
		if !finite(w) || !finite(h) || w < 0 || h < 0 {
			w, h = 0, 0 // no usable size: nothing to clamp to
		}
		e.floors[f.ID] = floorInfo{width: w, height: h}
	}
	old := e.gateways
	e.gateways = make(map[int64]*gatewayInfo, len(site.Gateways))
	for _, g := range site.Gateways {
		if _, ok := e.floors[g.FloorID]; !ok || !finite(g.At.X) || !finite(g.At.Y) {
			continue
		}
		gi := &gatewayInfo{id: g.ID, floorID: g.FloorID, at: g.At, anchorZoneID: g.AnchorZoneID}
		if finite(g.RSSIAt1m) && g.RSSIAt1m != 0 {
			gi.rssiAt1m = g.RSSIAt1m
		}
		if g.PathLossExponent > 0 && !math.IsInf(g.PathLossExponent, 0) {
			// Below 1 the model is nonsense (and 1e-300 overflows it).
			gi.pathLoss = max(g.PathLossExponent, 1)
		}
		if finite(g.RxOffset) && math.Abs(g.RxOffset) <= 60 {
			gi.rxOffset = g.RxOffset
		}
		if finite(g.Z) && g.Z > 0 && g.Z < 100 {
			gi.z = g.Z
		}
		if o, ok := old[g.ID]; ok { // keep what it has reported
			gi.weakest, gi.heard = o.weakest, o.heard
		}
		e.gateways[g.ID] = gi
	}
	e.zones = newZoneIndex(site.Zones, e.floors)
	e.known = make(map[string]knownTag, len(site.Tags))
	for _, t := range site.Tags {
		e.known[t.ID] = knownTag{id: t.ID, asset: t.AssetID}
	}
	e.fp = site.Fingerprints

	for id, ts := range e.tags {
		k, ok := e.known[id]
		if !ok {
			delete(e.tags, id)
			continue
		}
		ts.assetID = k.asset
		ts.links = slices.DeleteFunc(ts.links, func(l link) bool {
			_, ok := e.gateways[l.gateway]
			return !ok
		})
		if _, ok := e.floors[ts.floorID]; !ok {
			// Its floor is gone: the next fix chooses a floor afresh.
			ts.hasFloor = false
			ts.kfOn = false
		}
	}
	e.heard = slices.DeleteFunc(e.heard, func(ts *tagState) bool { return e.tags[ts.id] != ts })
}

// Observe stores one sighting. It returns false, and counts the sighting,
// when its RSSI is not a finite value in [-130, 0] or its time is zero or
// unrepresentable (Invalid), when the gateway is unknown (UnknownGateway), or
// when the tag is unknown (UnknownTag), checked in that order. An advertised
// TxPower that is not a finite value in [-130, 0) is treated as absent.
// Sample times are kept to the millisecond.
// In the steady state (link already known) Observe does not allocate.
func (e *Engine) Observe(s wardwatch.Sighting) bool {
	if !(s.RSSI >= minRSSI && s.RSSI <= maxRSSI) { // false for NaN too
		e.stats.Invalid++
		return false
	}
	t, ok := unixNano(s.Time)
	if !ok {
		e.stats.Invalid++
		return false
	}
	g, ok := e.gateways[s.GatewayID]
	if !ok {
		e.stats.UnknownGateway++
		return false
	}
	ms := t / int64(time.Millisecond)
	ts, ok := e.tags[s.TagID]
	if !ok {
		k, known := e.known[s.TagID]
		if !known {
			e.stats.UnknownTag++
			return false
		}
		ts = &tagState{id: k.id, assetID: k.asset, base: ms}
		e.tags[k.id] = ts
	}
	e.stats.Accepted++

	rel := ms - ts.base
	switch {
	case rel >= relMax: // the tag has lived for weeks: move its time base
		for i := range ts.links {
			ts.links[i].shift(rel)
		}
		ts.base += rel
		rel = 0
	case rel < relMin:
		rel = relMin
	}
	ts.link(s.GatewayID).add(int32(rel), s.RSSI)
	if g.heard == 0 || s.RSSI < g.weakest {
		g.weakest = s.RSSI
	}
	g.heard++
	if s.TxPower >= minRSSI && s.TxPower < maxRSSI {
		ts.txPower = s.TxPower
	}
	if t > ts.lastHeard {
		ts.lastHeard = t
	}
	if !ts.heard {
		ts.heard = true
		e.heard = append(e.heard, ts)
	}
	return true
}

// maxUnixSeconds keeps UnixNano from overflowing (year 2262).
const maxUnixSeconds = math.MaxInt64/int64(time.Second) - 1

// unixNano converts t to unix nanoseconds, refusing times before 1970 (the
// zero Time among them) and after 2262.
func unixNano(t time.Time) (int64, bool) {
	if s := t.Unix(); s < 0 || s > maxUnixSeconds {
		return 0, false
	}
	return t.UnixNano(), true
}

// link returns the tag's link to gateway, creating it when new.
func (ts *tagState) link(gateway int64) *link {
	for i := range ts.links {
		if ts.links[i].gateway == gateway {
			return &ts.links[i]
		}
	}
	ts.links = append(ts.links, link{gateway: gateway})
	return &ts.links[len(ts.links)-1]
}

// rel converts a unix ms time to the tag's relative ms, saturating.
func (ts *tagState) rel(ms int64) int32 {
	r := ms - ts.base
	return int32(min(max(r, math.MinInt32), math.MaxInt32))
}

// Update makes a fix for every tag heard since the previous Update (and
// only for those) from the sightings newer than now-Window, decides their
// zones and states, and reports tags gone silent: one Position with State
// stale after StaleAfter, and one with State missing after MissingAfter
// (after which the tag is forgotten), each with the last known place and
// Time the last sighting. A tag whose sightings all lie outside the window
// gets no position, nor does a tag that must stay on a floor where nothing
// hears it (see chooseFloor). Positions of heard tags come first, in order
// of first sighting, then those of silent tags by tag ID.
func (e *Engine) Update(now time.Time) Output {
	var out Output
	nowNs, ok := unixNano(now)
	if !ok {
		nowNs = 0
		if now.Unix() > 0 {
			nowNs = math.MaxInt64
		}
	}
	if len(e.heard) > 0 {
		out.Positions = make([]wardwatch.Position, 0, len(e.heard))
	}
	waiting := e.waiting[:0]
	nowMs := nowNs / int64(time.Millisecond)
	for i, ts := range e.heard {
		e.heard[i] = nil
		if !ts.fixed && nowMs >= ts.base && nowMs-ts.base < e.cfg.FirstFix.Milliseconds() {
			waiting = append(waiting, ts) // too little heard yet for a first fix
			continue
		}
		ts.heard = false
		if p, anchor, ok := e.locate(ts, nowNs); ok {
			if zc, changed := e.decideZone(ts, &p, anchor); changed {
				out.ZoneChanges = append(out.ZoneChanges, zc)
			}
			e.record(ts, p)
			out.Positions = append(out.Positions, p)
		}
	}
	e.heard = append(e.heard[:0], waiting...)
	clear(waiting)
	e.waiting = waiting[:0]

	silent := e.sweep(nowNs)
	out.Positions = append(out.Positions, silent...)
	if len(out.Positions) == 0 {
		out.Positions = nil
	}
	return out
}

// record remembers p as ts's last published position.
func (e *Engine) record(ts *tagState, p wardwatch.Position) {
	ts.fixed = true
	ts.hasFloor = true
	ts.floorID = p.FloorID
	ts.at = p.At
	ts.conf = p.Confidence
	ts.solver = p.Solver
	ts.state = p.State
	ts.reported = reportedNone
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Tags = len(e.tags)
	return s
}

// maxGap is the silence after which a tag's Kalman filter starts afresh:
// its velocity says nothing any more.
const maxGap = 10 * time.Second

// overlapCap caps the factor by which a fix's covariance is inflated for
// the samples it shares with earlier fixes.
const overlapCap = 8

// minFixSigma is the floor on a fix's standard deviation per axis, metres.
const minFixSigma = 0.25

// gather appends to dst the robust estimate of each of ts's links over
// the samples newer than cutoff (tag-relative ms), corrected for the
// gateway's sensitivity and RxOffset, strongest first (ties by gateway
// ID, so the result does not depend on the order gateways were heard in).
func (e *Engine) gather(ts *tagState, cutoff int32, dst []rangeFix) []rangeFix {
	for i := range ts.links {
		l := &ts.links[i]
		g, ok := e.gateways[l.gateway]
		if !ok {
			continue
		}
		est, ok := l.estimate(cutoff, e.cfg.OutlierK)
		if !ok {
			continue
		}
		rssi, sigma := est.rssi, e.linkSigma(est)
		if floor, ok := e.sensitivity(g); ok {
			if c := truncationBias(rssi, floor, e.cfg.RSSINoise); c > 0 {
				rssi -= c
				sigma = math.Hypot(sigma, c/2) // the correction is itself uncertain
			}
		}
		dst = append(dst, rangeFix{
			gateway: g,
			rssi:    rssi + g.rxOffset,
			sigma:   sigma,
			newest:  est.newest,
			tMean:   est.tMean,
		})
	}
	slices.SortFunc(dst, func(a, b rangeFix) int {
		switch {
		case a.rssi > b.rssi:
			return -1
		case a.rssi < b.rssi:
			return 1
		case a.gateway.id < b.gateway.id:
			return -1
		case a.gateway.id > b.gateway.id:
			return 1
		}
		return 0
	})
	return dst
}

// prepare keeps, in place, the MaxGateways strongest of fixes on floorID,
// sets what the path-loss model makes of them, and returns them with the
// newest of their samples and the mean time of their samples (both
// tag-relative ms).
func (e *Engine) prepare(ts *tagState, fixes []rangeFix, floorID int64) ([]rangeFix, int32, float64) {
	used := 0
	newest := int32(math.MinInt32)
	var tMean float64
	for _, f := range fixes {
		if f.gateway.floorID != floorID || used == e.cfg.MaxGateways {
			continue
		}
		f.ref = e.referencePower(ts, f.gateway)
		f.n = e.pathLoss(f.gateway)
		dz := 0.0
		if f.gateway.z > 0 {
			dz = f.gateway.z - e.cfg.TagHeight
		}
		f.dz2 = dz * dz
		f.distance = distance(f.rssi, f.ref, f.n)
		f.horiz = math.Sqrt(max(f.distance*f.distance-f.dz2, 0.01))
		f.setModel()
		fixes[used] = f
		used++
		newest = max(newest, f.newest)
		tMean += f.tMean
	}
	if used > 0 {
		tMean /= float64(used)
	}
	return fixes[:used], newest, tMean
}

// measurement is a fix as the Kalman filter takes it.
type measurement struct {
	t float64 // unix ms the fix stands for (the mean time of its samples)
	z wardwatch.Point
	r cov2
}

// locate makes a fix for ts from its samples and runs it through the
// tag's filter. Two fixes are made: one over Window, which the filter's
// still model averages, and one over the shorter MotionWindow, which the
// walking model follows and which decides between the two (a tag that
// starts to move shows in the short window first). The returned position
// has no zone yet; anchor is the zone a room anchor decides (0: none).
func (e *Engine) locate(ts *tagState, nowNs int64) (p wardwatch.Position, anchor int64, ok bool) {
	nowMs := nowNs / int64(time.Millisecond)
	cut := ts.rel(nowMs - e.cfg.Window.Milliseconds())
	if !ts.fixed && nowMs-ts.base <= (e.cfg.Window+e.cfg.FirstFix).Milliseconds() {
		// A first fix, which waited FirstFix (up to Window) and up to an
		// Update's step more, takes every sample since the tag was first
		// heard: one heard once is still placed (but not from a sample
		// that arrived long after it was taken).
		cut = min(cut, -1)
	}
	long := e.gather(ts, cut, e.fixes[:0])
	e.fixes = long
	if len(long) == 0 {
		return wardwatch.Position{}, 0, false
	}
	newestAll := long[0].newest
	for _, f := range long[1:] {
		newestAll = max(newestAll, f.newest)
	}
	if e.fp != nil {
		e.fingerprintRSSI(long)
	}
	parked := ts.motion.set && !ts.motion.moving // so far
	prevFloor, hadFloor := ts.floorID, ts.hasFloor
	floorID, ok := e.chooseFloor(ts, long, ts.base+int64(newestAll))
	if !ok {
		return wardwatch.Position{}, 0, false
	}
	long, newest, tLong := e.prepare(ts, long, floorID)
	short := e.gather(ts, ts.rel(nowMs-e.cfg.MotionWindow.Milliseconds()), e.fixesShort[:0])
	e.fixesShort = short
	short, _, tShort := e.prepare(ts, short, floorID)
	base := float64(ts.base)

	fl := e.floors[floorID]
	bounds := rect{}
	if fl.width > 0 && fl.height > 0 {
		const slack = 2 // metres beyond the plan a solve may land before it counts as off the floor
		bounds = rect{-slack, -slack, fl.width + slack, fl.height + slack}
	}

	// The filter carries on only on the same floor and after a short gap.
	var kf kalman // the filter's combined state
	if ts.kfOn {
		kf = ts.kf.state()
	}
	sameTrack := ts.kfOn && hadFloor && prevFloor == floorID && ts.kf.valid() &&
		base+tLong-kf.t < float64(maxGap.Milliseconds())
	in := solveInput{fixes: long, bounds: bounds}
	switch {
	case sameTrack && parked:
		// A parked tag's solve starts from its still model, which a run of
		// bad fixes barely moves: starting from the combined estimate let
		// a drifted estimate pull the next solve after it.
		in.prior, in.hasPrior = ts.kf.models[modelStill].position(), true
	case sameTrack:
		dt := max(base+tLong-kf.t, 0) / 1000
		in.prior = wardwatch.Point{X: kf.x[0] + kf.x[2]*dt, Y: kf.x[1] + kf.x[3]*dt}
		in.hasPrior = true
	}
	in.offset = offsetPrior{mean: ts.offset, sigma: e.cfg.OffsetSigma}
	fx := solve(in)
	if fx.solver == SolverCentroid {
		e.stats.Fallbacks++
	}
	if fx.solver == SolverLM && e.cfg.OffsetSigma > 0 {
		ts.offset += offsetSmoothing * (fx.offset - ts.offset)
	}
	e.blendFingerprint(floorID, &fx)
	offFloor := e.clampFix(&fx, fl)
	still := e.measure(fx, base+tLong, ts.kf.models[modelStill].t, e.cfg.Window, sameTrack)
	walk := still
	displaced := false
	if len(short) > 0 {
		in.fixes = short
		fs := solve(in)
		e.clampFix(&fs, fl)
		walk = e.measure(fs, base+tShort, ts.kf.models[modelWalking].t, e.cfg.MotionWindow, sameTrack)
		if sameTrack {
			// Is the short-window fix away from where the still model
			// holds the tag, beyond their joint uncertainty?
			st := &ts.kf.models[modelStill]
			r := fs.cov.add(cov2{xx: minFixSigma * minFixSigma, yy: minFixSigma * minFixSigma}).add(st.posCov())
			displaced = mahalanobis2(fs.at.X-st.x[0], fs.at.Y-st.x[1], r) > motionGate
		}
	}
	parked = !e.detectMotion(ts, nowMs, displaced)

	ts.kf.parked = parked
	if ts.motion.arrived {
		// The end of a confirmed walk: the still model restarts from
		// where the filter has the tag (imm.arrive).
		ts.motion.arrived = false
		if sameTrack {
			ts.kf.arrive()
		}
	}
	if sameTrack {
		e.filter(ts, still, walk)
	} else {
		ts.kf.start(still, walk)
		ts.kfOn = true
		ts.outlierSet = false
	}
	ts.kf.clamp(e.cfg.MaxSpeed, fl.width, fl.height)

	// Publish the filtered position at the newest sample: the walking
	// model carried forward from the time its fix stands for.
	tNew := base + float64(newest)
	at, pc := ts.kf.publish(tNew)
	if fl.width > 0 && fl.height > 0 {
		at = fl.clamp(at)
	}
	conf := confidenceOf(pc)
	if offFloor {
		conf *= 0.5
	}
	if z, g := e.anchorZone(long); z != nil {
		anchor = z.id
		at = pullInto(z, at, g.at)
	}
	return wardwatch.Position{
		TagID:      ts.id,
		AssetID:    ts.assetID,
		FloorID:    floorID,
		At:         at,
		Confidence: conf,
		Solver:     fx.solver,
		State:      e.motionState(ts, ts.kf.speed()),
		Time:       time.UnixMilli(int64(tNew)).UTC(),
	}, anchor, true
}

// clampFix moves a fix that landed off its floor (gateways placed outside
// the plan) onto it, and reports whether it did.
func (e *Engine) clampFix(fx *fix, fl floorInfo) bool {
	if !(fl.width > 0 && fl.height > 0) {
		return false
	}
	p := fx.at
	off := p.X < 0 || p.X > fl.width || p.Y < 0 || p.Y > fl.height
	fx.at = fl.clamp(p)
	return off
}

// measure turns a fix standing for time t (unix ms) into a measurement
// for a filter model last updated at prev: its covariance floored, and
// inflated by how much of its window it shares with the previous fix
// (window ÷ time since it), since overlapping windows make successive
// fixes far from independent.
func (e *Engine) measure(fx fix, t, prev float64, window time.Duration, sameTrack bool) measurement {
	r := fx.cov.add(cov2{xx: minFixSigma * minFixSigma, yy: minFixSigma * minFixSigma})
	if sameTrack {
		f := float64(overlapCap)
		if dt := t - prev; dt > 0 {
			f = min(max(float64(window.Milliseconds())/dt, 1), overlapCap)
		}
		r = r.scale(f)
	}
	return measurement{t: t, z: fx.at, r: r}
}

// linkSigma is the uncertainty of a link's robust RSSI as a reading of
// the path-loss model, in dB: the model's own error plus the spread of one
// sample divided by the samples averaged. The spread is the window's
// robust spread shrunk towards RSSINoise (three samples' worth), since a
// handful of samples says little about it.
func (e *Engine) linkSigma(est linkEstimate) float64 {
	const prior = 3
	s0 := e.cfg.RSSINoise
	v := s0 * s0
	if est.total >= 3 {
		v = (prior*s0*s0 + float64(est.total-1)*est.spread*est.spread) / float64(prior+est.total-1)
	}
	return math.Sqrt(e.cfg.ModelNoise*e.cfg.ModelNoise + v/float64(est.n))
}

// filter runs the measurements through ts's filter. The motion gate
// compares the walking measurement with the walking model's prediction: a
// fix beyond the gate is farther than a walking tag could have gone, and
// both measurements are down-weighted in proportion (their covariances
// inflated so that the walking one sits on the gate); fixes that keep
// failing the gate for Reacquire reset the filter to the newest of them:
// the tag did move.
func (e *Engine) filter(ts *tagState, still, walk measurement) {
	f := &ts.kf
	if e.cfg.Gate > 0 {
		k := f.walkingPrediction(walk.t, e.cfg.ProcessNoise)
		nx, ny, s := k.innovation(walk.z, walk.r)
		if d2 := mahalanobis2(nx, ny, s); d2 > e.cfg.Gate {
			e.stats.Outliers++
			if !ts.outlierSet {
				ts.outlierSet, ts.outlierSince = true, walk.t
			}
			if walk.t-ts.outlierSince >= float64(e.cfg.Reacquire.Milliseconds()) {
				e.stats.Reacquired++
				if f.parked {
					// The motion detector, which reads the links
					// themselves, says the tag has not moved: only the
					// walking model follows the new fixes.
					f.models[modelWalking].reset(walk.t, walk.z, walk.r)
					ts.outlierSet = false
					return
				}
				f.reset(still, walk)
				ts.outlierSet = false
				return
			}
			still.r = still.r.scale(d2 / e.cfg.Gate)
			walk.r = walk.r.scale(d2 / e.cfg.Gate)
		} else {
			ts.outlierSet = false
		}
	}
	f.step(still, walk, e.cfg.ProcessNoise, e.cfg.Gate)
	if !f.valid() {
		f.reset(still, walk)
	}
}

// offsetSmoothing is the weight of each fit's offset in a tag's smoothed
// offset: it follows over about fifty fits.
const offsetSmoothing = 0.02
