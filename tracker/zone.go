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
	poly    []wardwatch.Point
	bounds  floorplan.Rect
	area    float64
}

// zoneIndex finds zones by floor and by ID.
type zoneIndex struct {
	byFloor map[int64][]*zoneInfo
	byID    map[int64]*zoneInfo
}

// newZoneIndex indexes the usable zones on known floors, copying their
// polygons so later changes by the caller do not reach the engine.
func newZoneIndex(zones []wardwatch.Zone, floors map[int64]floorInfo) zoneIndex {
	ix := zoneIndex{byFloor: make(map[int64][]*zoneInfo), byID: make(map[int64]*zoneInfo, len(zones))}
	for _, z := range zones {
		if _, ok := floors[z.FloorID]; !ok || z.ID == 0 || !floorplan.ValidPolygon(z.Polygon) {
			continue
		}
		if old, ok := ix.byID[z.ID]; ok { // duplicate ID: the last one wins
			ix.byFloor[old.floorID] = slices.DeleteFunc(ix.byFloor[old.floorID], func(o *zoneInfo) bool { return o == old })
		}
		zi := &zoneInfo{
			id:      z.ID,
			floorID: z.FloorID,
			poly:    slices.Clone(z.Polygon),
			bounds:  floorplan.Bounds(z.Polygon),
			area:    floorplan.Area(z.Polygon),
		}
		ix.byID[z.ID] = zi
		ix.byFloor[z.FloorID] = append(ix.byFloor[z.FloorID], zi)
	}
	return ix
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
// inside it.
func (e *Engine) observedZone(cur *zoneInfo, floorID int64, p wardwatch.Point) int64 {
	z := e.zones.at(floorID, p)
	if cur == nil || cur.floorID != floorID || z == cur || !near(cur, p, e.cfg.ZoneMargin) {
		return zoneID(z)
	}
	if z != nil && z.area < cur.area && distanceToEdges(z.poly, p) > e.cfg.ZoneMargin {
		return z.id
	}
	return cur.id
}

// decideZone sets pos.ZoneID from the tag's zone state and the new fix, and
// returns the zone change the fix confirms, if any.
//
// The first fix of a tag (or the first after a zone it was in was deleted)
// takes its zone at once. Afterwards a different zone becomes a candidate
// and must hold for MinDwell, measured on fix times, before the tag moves
// there; a fix back in the current zone cancels the candidate. The change's
// Time is when the candidate was first seen, the moment the tag entered.
func (e *Engine) decideZone(ts *tagState, pos *wardwatch.Position) (wardwatch.ZoneChange, bool) {
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

	cur := e.zones.byID[ts.zoneID]
	switch {
	case !ts.fixed || (ts.zoneID != 0 && cur == nil):
		change(zoneID(e.zones.at(pos.FloorID, pos.At)), t)
	default:
		obs := e.observedZone(cur, pos.FloorID, pos.At)
		switch {
		case obs == ts.zoneID:
			ts.candSet = false
		case !ts.candSet || ts.cand != obs:
			ts.cand, ts.candSince, ts.candSet = obs, t, true
		}
		if ts.candSet && t-ts.candSince >= int64(e.cfg.MinDwell) {
			change(ts.cand, ts.candSince)
		}
	}
	ts.fixed = true
	ts.hasFloor = true
	ts.floorID = pos.FloorID
	pos.ZoneID = ts.zoneID
	return zc, changed
}
