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
//  1. link.go:  per (tag, gateway) link, the median RSSI of the samples in
//     the window, and the log-distance model that turns it into metres;
//  2. floor.go: the floor classifier, which runs before the x,y solve;
//  3. solve.go: the x,y solver (weighted centroid, or the nearest gateway)
//     and the confidence of the fix;
//  4. zone.go:  the zone decision, with a margin and a minimum dwell.
package tracker

import (
	"math"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// RSSI bounds of a plausible sighting, in dBm.
const (
	minRSSI = -130
	maxRSSI = 0
)

// Config tunes the engine. New fills zero fields with DefaultConfig's values.
// MinDwell, ZoneMargin and FloorHysteresis take a negative value to mean
// "none" (zero would select the default).
type Config struct {
	Window          time.Duration // per-link RSSI window: only sightings newer than now-Window count
	MaxGateways     int           // use the k strongest links on the chosen floor
	MinDwell        time.Duration // a new zone must hold this long before a ZoneChange is emitted
	ZoneMargin      float64       // metres: to leave the current zone the position must be this far outside it
	FloorHysteresis float64       // dB: another floor must beat the current one by this much in mean RSSI of its best links
	DefaultRSSIAt1m float64       // dBm, used when neither gateway nor tag provides one
	DefaultPathLoss float64       // path-loss exponent used when the gateway has none
	Forget          time.Duration // drop a tag's link state after this silence; its last Position stays the caller's business
}

// DefaultConfig returns the engine's defaults.
func DefaultConfig() Config {
	return Config{
		Window:          4 * time.Second,
		MaxGateways:     4,
		MinDwell:        3 * time.Second,
		ZoneMargin:      0.5,
		FloorHysteresis: 4,
		DefaultRSSIAt1m: -59,
		DefaultPathLoss: 2.5,
		Forget:          10 * time.Minute,
	}
}

// withDefaults returns c with zero (or unusable) fields replaced by
// defaults and negative "none" values turned into zero.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxGateways <= 0 {
		c.MaxGateways = d.MaxGateways
	}
	switch {
	case c.MinDwell == 0:
		c.MinDwell = d.MinDwell
	case c.MinDwell < 0:
		c.MinDwell = 0
	}
	c.ZoneMargin = orNone(c.ZoneMargin, d.ZoneMargin)
	c.FloorHysteresis = orNone(c.FloorHysteresis, d.FloorHysteresis)
	if c.DefaultRSSIAt1m == 0 || !finite(c.DefaultRSSIAt1m) {
		c.DefaultRSSIAt1m = d.DefaultRSSIAt1m
	}
	if !(c.DefaultPathLoss > 0) || math.IsInf(c.DefaultPathLoss, 0) {
		c.DefaultPathLoss = d.DefaultPathLoss
	}
	if c.Forget <= 0 {
		c.Forget = d.Forget
	}
	return c
}

// orNone returns def for 0 (or NaN), 0 for a negative v, and v otherwise.
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
	Tags           int    // tags with link state (heard within Forget)
}

// floorInfo is a floor's size, for clamping.
type floorInfo struct {
	width, height float64
}

// gatewayInfo is a gateway as the engine uses it.
type gatewayInfo struct {
	id       int64
	floorID  int64
	at       wardwatch.Point
	rssiAt1m float64 // 0: not calibrated
	pathLoss float64 // 0: not calibrated
}

// tagState is everything the engine remembers about one tag.
type tagState struct {
	id        string
	assetID   int64
	txPower   float64 // newest advertised RSSI at 1 m; 0 when never advertised
	lastHeard int64   // unix ns of the newest sighting
	heard     bool    // heard since the previous Update
	links     []link

	// Fix state.
	fixed     bool  // has had a fix
	hasFloor  bool  // floorID is a floor of the site
	floorID   int64 // floor of the last fix
	zoneID    int64 // confirmed zone, 0 for none
	candSet   bool  // a different zone is waiting out the dwell
	cand      int64
	candSince int64 // unix ns of the first fix in cand
}

// Engine turns sightings into positions. It is not safe for concurrent use;
// the Runner serialises access to it.
type Engine struct {
	cfg      Config
	floors   map[int64]floorInfo
	gateways map[int64]*gatewayInfo
	zones    zoneIndex
	known    map[string]int64 // tag ID → asset ID
	tags     map[string]*tagState
	heard    []*tagState // tags heard since the previous Update, in order of first sighting
	stats    Stats
	solve    solver

	// Scratch space reused by Update.
	fixes  []rangeFix
	floorS []floorScore
}

// New returns an engine for site. Zero fields of cfg take DefaultConfig's
// values.
func New(cfg Config, site Site) *Engine {
	e := &Engine{
		cfg:   cfg.withDefaults(),
		tags:  make(map[string]*tagState),
		solve: weightedCentroid,
	}
	e.SetSite(site)
	return e
}

// SetSite reconfigures the engine. Tags that are still in site keep their
// state (links, floor, zone, pending dwell); links to gateways that are gone
// are dropped, and tags that are gone are forgotten.
func (e *Engine) SetSite(site Site) {
	e.floors = make(map[int64]floorInfo, len(site.Floors))
	for _, f := range site.Floors {
		e.floors[f.ID] = floorInfo{width: f.Width, height: f.Height}
	}
	e.gateways = make(map[int64]*gatewayInfo, len(site.Gateways))
	for _, g := range site.Gateways {
		if _, ok := e.floors[g.FloorID]; !ok || !finite(g.At.X) || !finite(g.At.Y) {
			continue
		}
		gi := &gatewayInfo{id: g.ID, floorID: g.FloorID, at: g.At}
		if finite(g.RSSIAt1m) && g.RSSIAt1m != 0 {
			gi.rssiAt1m = g.RSSIAt1m
		}
		if g.PathLossExponent > 0 && !math.IsInf(g.PathLossExponent, 0) {
			gi.pathLoss = g.PathLossExponent
		}
		e.gateways[g.ID] = gi
	}
	e.zones = newZoneIndex(site.Zones, e.floors)
	e.known = make(map[string]int64, len(site.Tags))
	for _, t := range site.Tags {
		e.known[t.ID] = t.AssetID
	}

	for id, ts := range e.tags {
		asset, ok := e.known[id]
		if !ok {
			delete(e.tags, id)
			continue
		}
		ts.assetID = asset
		ts.links = slices.DeleteFunc(ts.links, func(l link) bool {
			_, ok := e.gateways[l.gateway]
			return !ok
		})
		if _, ok := e.floors[ts.floorID]; !ok {
			// Its floor is gone: the next fix chooses a floor afresh.
			ts.hasFloor = false
		}
	}
	e.heard = slices.DeleteFunc(e.heard, func(ts *tagState) bool { return e.tags[ts.id] != ts })
}

// Observe stores one sighting. It returns false, and counts the sighting,
// when its RSSI is not a finite value in [-130, 0] or its time is zero or
// unrepresentable (Invalid), when the gateway is unknown (UnknownGateway), or
// when the tag is unknown (UnknownTag), checked in that order. An advertised
// TxPower that is not a finite value in [-130, 0) is treated as absent.
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
	if _, ok := e.gateways[s.GatewayID]; !ok {
		e.stats.UnknownGateway++
		return false
	}
	ts, ok := e.tags[s.TagID]
	if !ok {
		asset, known := e.known[s.TagID]
		if !known {
			e.stats.UnknownTag++
			return false
		}
		ts = &tagState{id: s.TagID, assetID: asset}
		e.tags[s.TagID] = ts
	}
	e.stats.Accepted++

	l := ts.link(s.GatewayID)
	l.add(t, s.RSSI)
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

// Update makes a fix for every tag heard since the previous Update (and
// only for those) from the sightings newer than now-Window, decides their
// zones, and forgets tags silent for longer than Forget. A tag whose
// sightings all lie outside the window gets no position.
func (e *Engine) Update(now time.Time) Output {
	var out Output
	nowNs := now.UnixNano()
	cutoff := nowNs - int64(e.cfg.Window)
	if len(e.heard) > 0 {
		out.Positions = make([]wardwatch.Position, 0, len(e.heard))
	}
	for i, ts := range e.heard {
		e.heard[i] = nil
		ts.heard = false
		if p, ok := e.locate(ts, cutoff); ok {
			if zc, changed := e.decideZone(ts, &p); changed {
				out.ZoneChanges = append(out.ZoneChanges, zc)
			}
			out.Positions = append(out.Positions, p)
		}
	}
	e.heard = e.heard[:0]
	if len(out.Positions) == 0 {
		out.Positions = nil
	}

	forget := nowNs - int64(e.cfg.Forget)
	for id, ts := range e.tags {
		if ts.lastHeard <= forget {
			delete(e.tags, id)
			continue
		}
		// Drop links silent for longer than Forget (a gateway left behind).
		kept := 0
		for i := range ts.links {
			if ts.links[i].newest() > forget {
				if kept != i {
					ts.links[kept] = ts.links[i]
				}
				kept++
			}
		}
		clear(ts.links[kept:])
		ts.links = ts.links[:kept]
	}
	return out
}

// Stats returns the engine's counters.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Tags = len(e.tags)
	return s
}

// locate makes a fix for ts from the samples newer than cutoff.
func (e *Engine) locate(ts *tagState, cutoff int64) (wardwatch.Position, bool) {
	fixes := e.fixes[:0]
	for i := range ts.links {
		l := &ts.links[i]
		g, ok := e.gateways[l.gateway]
		if !ok {
			continue
		}
		med, newest, ok := l.median(cutoff)
		if !ok {
			continue
		}
		fixes = append(fixes, rangeFix{gateway: g, rssi: med, newest: newest})
	}
	e.fixes = fixes
	if len(fixes) == 0 {
		return wardwatch.Position{}, false
	}
	// Strongest first; ties by gateway ID so the result does not depend on
	// the order gateways were first heard in.
	slices.SortFunc(fixes, func(a, b rangeFix) int {
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

	floorID := e.chooseFloor(ts, fixes)

	// Keep the k strongest links on the chosen floor, in place.
	used := 0
	var newest int64
	for _, f := range fixes {
		if f.gateway.floorID != floorID || used == e.cfg.MaxGateways {
			continue
		}
		f.distance = distance(f.rssi, e.referencePower(ts, f.gateway), e.pathLoss(f.gateway))
		fixes[used] = f
		used++
		newest = max(newest, f.newest)
	}
	fixes = fixes[:used]

	at, solverName := e.solve(fixes)
	conf := confidence(fixes)
	if fl := e.floors[floorID]; fl.width > 0 && fl.height > 0 {
		c := floorplan.Clamp(at, fl.width, fl.height)
		if floorplan.Distance(c, at) > 1e-9 {
			// The solve landed off the floor (gateways placed outside the
			// plan): show the tag on the floor, but say we are unsure.
			conf *= 0.5
		}
		at = c
	}

	return wardwatch.Position{
		TagID:      ts.id,
		AssetID:    ts.assetID,
		FloorID:    floorID,
		At:         at,
		Confidence: conf,
		Solver:     solverName,
		Time:       time.Unix(0, newest).UTC(),
	}, true
}
