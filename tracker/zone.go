package tracker

import (
	"math"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// zoneInfo is a zone as the engine uses it.
type zoneInfo struct {
	id      int64
	floorID int64
	kind    wardwatch.ZoneKind
	poly    []wardwatch.Point
	bounds  floorplan.Rect
	area    float64
}

// transition reports whether a tag can change storey in z.
func (z *zoneInfo) transition() bool {
	return z.kind == wardwatch.ZoneStairs || z.kind == wardwatch.ZoneLift
}

// zoneIndex finds zones by floor and by ID, and the transition zones
// (stairs, lifts) of each floor.
type zoneIndex struct {
	byFloor     map[int64][]*zoneInfo
	byID        map[int64]*zoneInfo
	transitions map[int64][]*zoneInfo
}

// newZoneIndex indexes the usable zones on known floors, copying their
// polygons so later changes by the caller do not reach the engine.
func newZoneIndex(zones []wardwatch.Zone, floors map[int64]floorInfo) zoneIndex {
	ix := zoneIndex{
		byFloor:     make(map[int64][]*zoneInfo),
		byID:        make(map[int64]*zoneInfo, len(zones)),
		transitions: make(map[int64][]*zoneInfo),
	}
	for _, z := range zones {
		if _, ok := floors[z.FloorID]; !ok || z.ID == 0 || !floorplan.ValidPolygon(z.Polygon) {
			continue
		}
		if old, ok := ix.byID[z.ID]; ok { // duplicate ID: the last one wins
			drop := func(o *zoneInfo) bool { return o == old }
			ix.byFloor[old.floorID] = slices.DeleteFunc(ix.byFloor[old.floorID], drop)
			ix.transitions[old.floorID] = slices.DeleteFunc(ix.transitions[old.floorID], drop)
		}
		zi := &zoneInfo{
			id:      z.ID,
			floorID: z.FloorID,
			kind:    z.Kind,
			poly:    slices.Clone(z.Polygon),
			bounds:  floorplan.Bounds(z.Polygon),
			area:    floorplan.Area(z.Polygon),
		}
		ix.byID[z.ID] = zi
		ix.byFloor[z.FloorID] = append(ix.byFloor[z.FloorID], zi)
		if zi.transition() {
			ix.transitions[z.FloorID] = append(ix.transitions[z.FloorID], zi)
		}
	}
	return ix
}

// hasTransitions reports whether floorID has a stairs or lift zone.
func (ix zoneIndex) hasTransitions(floorID int64) bool { return len(ix.transitions[floorID]) > 0 }

// nearTransition reports whether p is in, or within margin metres of, a
// stairs or lift zone of floorID.
func (ix zoneIndex) nearTransition(floorID int64, p wardwatch.Point, margin float64) bool {
	for _, z := range ix.transitions[floorID] {
		if near(z, p, margin) {
			return true
		}
	}
	return false
}

// at is the zone of floorID containing p, nil for none. Where zones
// overlap (a room drawn inside a corridor) the smallest wins.
func (ix zoneIndex) at(floorID int64, p wardwatch.Point) *zoneInfo {
	var best *zoneInfo
	for _, z := range ix.byFloor[floorID] {
		if p.X < z.bounds.Min.X || p.X > z.bounds.Max.X || p.Y < z.bounds.Min.Y || p.Y > z.bounds.Max.Y {
			continue
		}
		if (best == nil || z.area < best.area) && floorplan.Contains(z.poly, p) {
			best = z
		}
	}
	return best
}

// zoneSnap is how far outside every zone, in metres, a position still
// counts as in the nearest one.
const zoneSnap = 1.5

// atOrNear is the zone of floorID containing p or, when none does, the
// nearest within margin metres (a position just past the outer wall of
// the building is in the room along that wall), nil for none.
func (ix zoneIndex) atOrNear(floorID int64, p wardwatch.Point, margin float64) *zoneInfo {
	if z := ix.at(floorID, p); z != nil || margin <= 0 {
		return z
	}
	var best *zoneInfo
	bd := margin
	for _, z := range ix.byFloor[floorID] {
		if p.X < z.bounds.Min.X-margin || p.X > z.bounds.Max.X+margin || p.Y < z.bounds.Min.Y-margin || p.Y > z.bounds.Max.Y+margin {
			continue
		}
		if d := distanceToEdges(z.poly, p); d <= bd {
			best, bd = z, d
		}
	}
	return best
}

func zoneID(z *zoneInfo) int64 {
	if z == nil {
		return 0
	}
	return z.id
}

// distanceToEdges is the distance from p to the nearest edge of poly, in
// metres, whether p is inside or outside.
func distanceToEdges(poly []wardwatch.Point, p wardwatch.Point) float64 {
	d := math.Inf(1)
	j := len(poly) - 1
	for i := range poly {
		d = min(d, distanceToSegment(p, poly[j], poly[i]))
		j = i
	}
	return d
}

// distanceToSegment is the distance from p to the segment ab.
func distanceToSegment(p, a, b wardwatch.Point) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	l2 := dx*dx + dy*dy
	if l2 == 0 {
		return floorplan.Distance(p, a)
	}
	t := ((p.X-a.X)*dx + (p.Y-a.Y)*dy) / l2
	t = min(max(t, 0), 1)
	return floorplan.Distance(p, wardwatch.Point{X: a.X + t*dx, Y: a.Y + t*dy})
}

// near reports whether p is inside z or within margin metres of it.
func near(z *zoneInfo, p wardwatch.Point, margin float64) bool {
	return floorplan.Contains(z.poly, p) || distanceToEdges(z.poly, p) <= margin
}

// observedZone is the zone the fix at p on floorID points to, before the
// dwell: the tag stays in its current zone cur while p is inside it or
// within ZoneMargin of it, so a position wobbling across a shared wall does
// not flip rooms. One exception: a smaller zone overlapping cur (a room
// drawn inside a corridor) takes over once p is more than the margin deep
// inside it. A position in no zone counts as in the nearest zone within
// zoneSnap (or ZoneMargin if wider): just past the building's outer wall
// is the room along it.
func (e *Engine) observedZone(cur *zoneInfo, floorID int64, p wardwatch.Point) int64 {
	z := e.zones.atOrNear(floorID, p, max(e.cfg.ZoneMargin, zoneSnap))
	if cur == nil || cur.floorID != floorID || z == cur || !near(cur, p, e.cfg.ZoneMargin) {
		return zoneID(z)
	}
	if z != nil && z.area < cur.area && distanceToEdges(z.poly, p) > e.cfg.ZoneMargin {
		return z.id
	}
	return cur.id
}

// decideZone sets pos.ZoneID from the tag's zone state and the new fix, and
// returns the zone change the fix confirms, if any. anchor, when not 0, is
// the zone a room anchor says the tag is in: it replaces the zone of the
// position (and its margin) as what the fix observes.
//
// The first fix of a tag (or the first after a zone it was in was deleted)
// takes its zone at once. Afterwards a different zone becomes a candidate
// and must hold for MinDwell, measured on fix times, before the tag moves
// there (CorridorDwell, when shorter, out of a corridor); a fix back in the
// current zone cancels the candidate. A settled tag (see settled) must hold
// it for StationaryDwell instead: a parked pump has no reason to change
// rooms, and its position wandering across a wall is noise. A tag that is
// not settled and moves on from a corridor candidate to another zone keeps
// the candidate's clock (a walker may cross a corridor in less than
// MinDwell). The change's Time is when the
// candidate was first seen, the moment the tag entered (or, through a
// corridor, left its zone).
func (e *Engine) decideZone(ts *tagState, pos *wardwatch.Position, anchor int64) (wardwatch.ZoneChange, bool) {
	t := pos.Time.UnixNano()
	var zc wardwatch.ZoneChange
	changed := false
	change := func(to int64, at int64) {
		if to != ts.zoneID {
			zc = wardwatch.ZoneChange{
				TagID: ts.id, AssetID: ts.assetID, FloorID: pos.FloorID,
				FromZone: ts.zoneID, ToZone: to, Time: time.Unix(0, at).UTC(),
			}
			changed = true
		}
		ts.zoneID = to
		ts.candSet = false
	}

	// Whether the tag has settled is judged on the filter's still model,
	// which a burst of bad fixes barely moves (while the motion detector
	// finds the tag parked it is not even blended with the walking model:
	// imm.parked): the published position can jump metres for a few
	// seconds without the tag having moved.
	sp := pos.At
	if ts.kfOn {
		sp = ts.kf.models[modelStill].position()
	}
	settled := e.settled(ts, sp, pos.State == wardwatch.StateMoving, t)
	if m := &ts.motion; m.set && !m.moving && (m.since == 0 || t/int64(time.Millisecond)-m.since >= settleTime.Milliseconds()) {
		// The motion detector (motion.go), which reads the links rather
		// than a position, has found the tag parked for settleTime (or
		// since it was first heard): it is settled whatever its position
		// does. Either judge suffices: the detector does not see a tag
		// carried off slowly, nor the position judge a parked tag whose
		// fix a burst has thrown across a wall; a tag it wrongly finds
		// moving (a sustained burst) stays settled by its position, and a
		// walker that just stopped gets the short dwell for settleTime, as
		// it may still be near a door.
		settled = true
	} else if m.set && m.moving && m.confirming {
		// A start is being checked against the spot's references and may
		// yet be taken back as a fade: the tag, found parked for at least
		// motionRefMature before it, stays settled meanwhile, whatever
		// its position does (the still model, mixed with the walking
		// model again from the start, can be thrown metres by the burst
		// that caused it).
		settled = true
	} else if m.set && m.moving && m.confirmed && (!ts.settleSet || floorplan.Distance(pos.At, ts.settle) > walkAway) {
		// The detector has confirmed a walk (links grown stronger than at
		// the spot, not only faded) and the position has left the spot:
		// the tag has moved, whatever the position judge, which watches a
		// still model that stayed pinned at the spot until the walk was
		// found (imm.parked) and would keep the tag settled for seconds
		// more. A walker leaving its room then changes room after
		// MinDwell, not StationaryDwell. While the position stays within
		// walkAway of the spot, the position judge decides: a confirmed
		// start can still be noise (a deep fade of the nearest link while
		// others read high looks like a step away), and a tag parked near
		// a wall must not cross it on that alone.
		settled = false
	}

	cur := e.zones.byID[ts.zoneID]
	obs := anchor
	switch {
	case !ts.fixed || (ts.zoneID != 0 && cur == nil):
		if obs == 0 {
			obs = zoneID(e.zones.atOrNear(pos.FloorID, pos.At, max(e.cfg.ZoneMargin, zoneSnap)))
		}
		change(obs, t)
	default:
		if obs == 0 {
			obs = e.observedZone(cur, pos.FloorID, pos.At)
		}
		switch {
		case obs == ts.zoneID:
			ts.candSet = false
		case ts.candSet && ts.cand != obs && !settled && e.passage(ts.cand):
			// A walker crossing a corridor from one room to another
			// may spend less than MinDwell in it: the candidate's clock
			// keeps running from when it left its zone, and the room it
			// walks into takes over as the candidate.
			ts.cand = obs
		case !ts.candSet || ts.cand != obs:
			ts.cand, ts.candSince, ts.candSet = obs, t, true
		}
		dwell := e.cfg.MinDwell
		if e.cfg.CorridorDwell > 0 && e.passage(ts.zoneID) {
			// Out of a corridor: walkers go through corridors, and the
			// filter's lag already holds a walker back as it enters a room.
			dwell = min(dwell, e.cfg.CorridorDwell)
		}
		if settled {
			dwell = max(dwell, e.cfg.StationaryDwell)
		}
		if ts.candSet && t-ts.candSince >= int64(dwell) {
			change(ts.cand, ts.candSince)
		}
	}
	pos.ZoneID = ts.zoneID
	return zc, changed
}

// passage reports whether zone id is one a tag walks through rather than
// stays in (a corridor).
func (e *Engine) passage(id int64) bool {
	z := e.zones.byID[id]
	return z != nil && z.kind == wardwatch.ZoneCorridor
}

// anchorZone is the zone a room anchor puts the tag in, or nil: the
// strongest of the tag's links on its floor (by range) must come from a
// gateway declared inside a zone of that floor, and its horizontal range
// must be at most AnchorRange.
func (e *Engine) anchorZone(fixes []rangeFix) (*zoneInfo, *gatewayInfo) {
	if e.cfg.AnchorRange <= 0 || len(fixes) == 0 {
		return nil, nil
	}
	best := 0
	for i := 1; i < len(fixes); i++ {
		if fixes[i].horiz < fixes[best].horiz {
			best = i
		}
	}
	f := fixes[best]
	if f.gateway.anchorZoneID == 0 || f.horiz > e.cfg.AnchorRange {
		return nil, nil
	}
	z := e.zones.byID[f.gateway.anchorZoneID]
	if z == nil || z.floorID != f.gateway.floorID {
		return nil, nil
	}
	return z, f.gateway
}

// anchorClearance is how far inside its zone a position pulled in by a
// room anchor lands, in metres.
const anchorClearance = 0.3

// pullInto moves p, when it lies outside z, along the straight line
// towards inside (a point in z: the anchor gateway) until it is
// anchorClearance inside z (or at inside), so that a position shown on
// the map agrees with the room the anchor decided. When inside is not in
// z either, p is returned unchanged.
func pullInto(z *zoneInfo, p, inside wardwatch.Point) wardwatch.Point {
	if floorplan.Contains(z.poly, p) || !floorplan.Contains(z.poly, inside) {
		return p
	}
	lo, hi := 0.0, 1.0 // lerp(lo) is outside, lerp(hi) inside
	lerp := func(f float64) wardwatch.Point {
		return wardwatch.Point{X: p.X + f*(inside.X-p.X), Y: p.Y + f*(inside.Y-p.Y)}
	}
	for range 30 {
		mid := (lo + hi) / 2
		if floorplan.Contains(z.poly, lerp(mid)) {
			hi = mid
		} else {
			lo = mid
		}
	}
	l := floorplan.Distance(p, inside)
	if l == 0 {
		return inside
	}
	return lerp(min(hi+anchorClearance/l, 1))
}

// A tag is settled once it has stayed within settleRadius metres of one
// spot for settleTime (a tag is settled from its first fix). It stays
// settled through an excursion farther than that (noise, usually) until
// the excursion lasts settleLeave or goes farther than settleFar: then the
// tag has moved.
const (
	settleRadius = 2.0
	settleTime   = 30 * time.Second
	settleLeave  = 8 * time.Second
	settleFar    = 6.0
)

// walkAway is how far (metres) the position of a tag whose walk the motion
// detector has confirmed must be from its settle point before the walk
// releases it from StationaryDwell: beyond settleRadius, which a burst
// often throws a parked tag's position past, and what a walker covers in
// under 3 s.
const walkAway = 3.0

// settleAverage is how many fixes the settle point averages.
const settleAverage = 30

// settled reports whether ts, now at p (time t, unix ns) and moving or
// not, is settled, and keeps its settle point: the running average of its
// positions near the spot. A tag that keeps moving for settleLeave is not
// settled, however near the spot it stays (pacing a small room).
func (e *Engine) settled(ts *tagState, p wardwatch.Point, moving bool, t int64) bool {
	restart := func() {
		ts.settle, ts.settleSince, ts.settleSet, ts.settleN, ts.awaySet = p, t, true, 1, false
	}
	if !moving {
		ts.movingSet = false
	} else if !ts.movingSet {
		ts.movingSet, ts.movingSince = true, t
	}
	if !ts.settleSet {
		// A tag's first fix: it is taken as settled until it strays, so
		// that the noisy first fixes of a parked tag do not flip its room
		// while its position converges.
		restart()
		ts.settleSince = t - int64(settleTime)
		return true
	}
	switch d := floorplan.Distance(p, ts.settle); {
	case ts.movingSet && t-ts.movingSince >= int64(settleLeave):
		restart()
		return false
	case d <= settleRadius:
		ts.awaySet = false
		ts.settleN = min(ts.settleN+1, settleAverage)
		f := 1 / float64(ts.settleN)
		ts.settle.X += f * (p.X - ts.settle.X)
		ts.settle.Y += f * (p.Y - ts.settle.Y)
	case d > settleFar || (ts.awaySet && t-ts.awaySince >= int64(settleLeave)):
		restart()
		return false
	case !ts.awaySet:
		ts.awaySet, ts.awaySince = true, t
	}
	return t-ts.settleSince >= int64(settleTime)
}
