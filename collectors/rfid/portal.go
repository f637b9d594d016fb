package rfid

import (
	"cmp"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// DefaultPortalMaxTags is how many tags a PortalTracker follows at once.
const DefaultPortalMaxTags = 10000

// PortalTracker turns one portal reader's reads into door crossings. It is
// pure: no goroutines, no clock (time comes from the reads and from
// Advance), and not safe for concurrent use.
//
// A tag's reads at the portal form passes: a pass is a run of reads with
// no silence longer than Portal.Window. A pass ends when the tag is not
// read for longer than Window (seen by Advance, or by the tag's next
// read). Then it is decided, once:
//
//   - read on both sides, first read and last read on different sides,
//     in the same order (first seen inside and last seen outside, or the
//     reverse): one crossing, from the side first seen to the other;
//   - read on both sides in any other order (it lingered in the doorway,
//     or stepped through and came back): no crossing;
//   - read on one side only: no crossing.
//
// Because only the first and last reads on each side count, a tag
// lingering in the doorway and read on both antennas again and again
// makes one decision, however long it stays; and reads of one pass may
// arrive in any order. A crossing less than Portal.MinInterval after the
// tag's previous crossing at this portal is suppressed. Its time is that
// of the last read on the side the tag left or, when the first read on
// the side it reached came later still, midway between the two.
type PortalTracker struct {
	inside, outside int64 // zones
	sides           map[int]side
	window          int64 // ns
	minInterval     int64 // ns; 0: none
	maxTags         int
	tags            map[string]*pass
	stats           PortalStats
}

// Read times a PortalTracker can hold (unix nanoseconds, with 0 meaning
// "none").
var (
	minPortalTime = time.Unix(1, 0)
	maxPortalTime = time.Unix(0, 1<<62)
)

// PortalStats counts what a PortalTracker has seen.
type PortalStats struct {
	Crossings  uint64 // crossings emitted
	Suppressed uint64 // crossings within MinInterval of the tag's previous one
	Undecided  uint64 // passes read on both sides in an order that gives no direction
	OneSided   uint64 // passes read on one side only
	Late       uint64 // reads belonging to a pass already decided
	Ignored    uint64 // reads from antennas in neither set, or without a time
	Dropped    uint64 // reads of new tags while the tracker follows its maximum
}

type side uint8

const (
	sideNone side = iota
	sideInside
	sideOutside
)

// pass is one tag's state at the portal.
type pass struct {
	active      bool
	first, last [3]int64 // per side: first and last read of the current pass (unix ns; 0: none)
	lastRead    int64    // newest read of the current pass
	closedAt    int64    // newest read of the last decided pass: reads up to it are late
	crossedAt   int64    // time of the last emitted crossing (0: none)
}

// NewPortalTracker returns a tracker for portal p. It fails (EINVALID)
// when p has no inside or no outside antenna, an antenna on both sides or
// outside 1..MaxAntenna, or the same zone on both sides.
func NewPortalTracker(p Portal) (*PortalTracker, error) {
	if len(p.Inside) == 0 || len(p.Outside) == 0 {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "a portal needs at least one inside and one outside antenna")
	}
	if p.InsideZone == p.OutsideZone {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "a portal's inside and outside zones must differ")
	}
	t := &PortalTracker{
		inside:  p.InsideZone,
		outside: p.OutsideZone,
		sides:   make(map[int]side, len(p.Inside)+len(p.Outside)),
		window:  int64(p.Window),
		maxTags: DefaultPortalMaxTags,
		tags:    make(map[string]*pass),
	}
	for _, set := range []struct {
		ports []int
		s     side
	}{{p.Inside, sideInside}, {p.Outside, sideOutside}} {
		for _, a := range set.ports {
			if a < 1 || a > MaxAntenna {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "portal antenna %d is not a port 1..%d", a, MaxAntenna)
			}
			if s, ok := t.sides[a]; ok && s != set.s {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "portal antenna %d is on both sides", a)
			}
			t.sides[a] = set.s
		}
	}
	if t.window <= 0 {
		t.window = int64(DefaultPortalWindow)
	}
	switch {
	case p.MinInterval == 0:
		t.minInterval = int64(DefaultPortalMinInterval)
	case p.MinInterval > 0:
		t.minInterval = int64(p.MinInterval)
	}
	return t, nil
}

// Stats returns the tracker's counters.
func (t *PortalTracker) Stats() PortalStats { return t.stats }

// Tracking is how many tags the tracker holds state for.
func (t *PortalTracker) Tracking() int { return len(t.tags) }

// Observe takes reads of the portal's reader (in any order; it sorts a
// copy by time) and returns the crossings decided by them: passes that a
// read shows to have ended. Reads from other antennas are ignored.
func (t *PortalTracker) Observe(reads ...Read) []wardwatch.ZoneChange {
	if len(reads) > 1 && !slices.IsSortedFunc(reads, byTime) {
		reads = slices.Clone(reads)
		slices.SortStableFunc(reads, byTime)
	}
	var out []wardwatch.ZoneChange
	for _, r := range reads {
		out = t.observe(out, r)
	}
	return out
}

func byTime(a, b Read) int { return a.Time.Compare(b.Time) }

func (t *PortalTracker) observe(out []wardwatch.ZoneChange, r Read) []wardwatch.ZoneChange {
	s := t.sides[r.Antenna]
	ts := r.Time.UnixNano()
	if s == sideNone || r.Time.Before(minPortalTime) || r.Time.After(maxPortalTime) {
		t.stats.Ignored++
		return out
	}
	id := r.TagID()
	p := t.tags[id]
	if p == nil {
		if len(t.tags) >= t.maxTags {
			t.stats.Dropped++
			return out
		}
		p = &pass{}
		t.tags[id] = p
	}
	switch {
	case ts <= p.closedAt:
		t.stats.Late++
		return out
	case p.active && ts > p.lastRead+t.window:
		// The tag went quiet for longer than the window: the pass ended.
		out = t.decide(out, id, p)
	case p.active && ts < p.earliest()-t.window:
		// Older than the pass by more than a window: part of an earlier
		// pass nobody saw end.
		t.stats.Late++
		return out
	}
	if !p.active {
		*p = pass{active: true, closedAt: p.closedAt, crossedAt: p.crossedAt}
	}
	if p.first[s] == 0 || ts < p.first[s] {
		p.first[s] = ts
	}
	p.last[s] = max(p.last[s], ts)
	p.lastRead = max(p.lastRead, ts)
	return out
}

// earliest is the first read of the active pass.
func (p *pass) earliest() int64 {
	e := p.lastRead
	for _, f := range p.first[1:] {
		if f != 0 && f < e {
			e = f
		}
	}
	return e
}

// Advance decides the passes that ended by now (no read for longer than
// the window) and returns their crossings, by time then tag. It also
// forgets tags with nothing left to remember.
func (t *PortalTracker) Advance(now time.Time) []wardwatch.ZoneChange {
	n := now.UnixNano()
	var out []wardwatch.ZoneChange
	for id, p := range t.tags {
		if p.active && n > p.lastRead+t.window {
			out = t.decide(out, id, p)
		}
		// Keep a decided tag while its MinInterval runs and while late
		// reads of its last pass may still come in.
		if !p.active && n > p.closedAt+2*t.window && (p.crossedAt == 0 || n > p.crossedAt+t.minInterval) {
			delete(t.tags, id)
		}
	}
	slices.SortFunc(out, func(a, b wardwatch.ZoneChange) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.TagID, b.TagID)
	})
	return out
}

// decide ends p's pass and appends its crossing, if any.
func (t *PortalTracker) decide(out []wardwatch.ZoneChange, id string, p *pass) []wardwatch.ZoneChange {
	p.active = false
	p.closedAt = p.lastRead
	in, o := sideInside, sideOutside
	if p.first[in] == 0 || p.first[o] == 0 {
		t.stats.OneSided++
		return out
	}
	var from, to side
	switch {
	case p.first[in] < p.first[o] && p.last[in] < p.last[o]:
		from, to = in, o
	case p.first[o] < p.first[in] && p.last[o] < p.last[in]:
		from, to = o, in
	default:
		t.stats.Undecided++
		return out
	}
	at := p.last[from]
	if p.first[to] > at { // a gap between the sides: midway
		at += (p.first[to] - at) / 2
	}
	if p.crossedAt != 0 && t.minInterval > 0 && at-p.crossedAt < t.minInterval {
		t.stats.Suppressed++
		return out
	}
	p.crossedAt = at
	t.stats.Crossings++
	return append(out, wardwatch.ZoneChange{
		TagID:    id,
		FromZone: t.zone(from),
		ToZone:   t.zone(to),
		Time:     time.Unix(0, at).UTC().Truncate(time.Millisecond),
	})
}

func (t *PortalTracker) zone(s side) int64 {
	if s == sideInside {
		return t.inside
	}
	return t.outside
}
