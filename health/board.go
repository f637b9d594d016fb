// Package health keeps the gateways' traffic health: when each was last
// heard, its message rate, and its accepted, malformed and dropped counts,
// and decides when a silent gateway goes offline. It is pure: time is
// passed in, and it does no I/O. A Board is safe for concurrent use.
package health

import (
	"slices"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// DefaultOfflineAfter is how long a gateway may be silent before it is
// offline, when NewBoard is given no threshold.
const DefaultOfflineAfter = 2 * time.Minute

// rateBuckets × bucketWidth is the window the message rate is measured
// over.
const (
	rateBuckets = 6
	bucketWidth = 10 * time.Second
)

// Board is the health of every gateway WardWatch hears.
type Board struct {
	offlineAfter time.Duration

	mu       sync.Mutex
	gateways map[int64]*gateway
}

type gateway struct {
	h       wardwatch.GatewayHealth
	buckets [rateBuckets]uint32
	slot    int64 // the bucket index (unix time / bucketWidth) of buckets' newest slot
	// reported is the online state last returned by Transitions.
	reported bool
}

// Transition is a gateway going offline or coming back.
type Transition struct {
	GatewayID int64
	Online    bool
	LastSeen  time.Time
	At        time.Time
}

// NewBoard returns an empty board; a gateway silent for longer than
// offlineAfter is offline (DefaultOfflineAfter when ≤ 0).
func NewBoard(offlineAfter time.Duration) *Board {
	if offlineAfter <= 0 {
		offlineAfter = DefaultOfflineAfter
	}
	return &Board{offlineAfter: offlineAfter, gateways: make(map[int64]*gateway)}
}

// OfflineAfter is the silence after which a gateway is offline.
func (b *Board) OfflineAfter() time.Duration { return b.offlineAfter }

// Track makes sure gateways are on the board (as never heard) so that
// Snapshot lists them and Transitions reports none for them until they
// are heard; gateways no longer in ids are removed.
func (b *Board) Track(ids []int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := make(map[int64]bool, len(ids))
	for _, id := range ids {
		keep[id] = true
		if _, ok := b.gateways[id]; !ok {
			b.gateways[id] = &gateway{h: wardwatch.GatewayHealth{GatewayID: id}}
		}
	}
	for id := range b.gateways {
		if !keep[id] {
			delete(b.gateways, id)
		}
	}
}

// GatewayMessage records one message from gateway id received at at:
// accepted sightings, malformed items (or 1 for a message that could not
// be read at all) and dropped items. Unknown ids are added.
func (b *Board) GatewayMessage(id int64, at time.Time, accepted, malformed, dropped int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.gateways[id]
	if !ok {
		g = &gateway{h: wardwatch.GatewayHealth{GatewayID: id}}
		b.gateways[id] = g
	}
	g.h.Messages++
	g.h.Accepted += uint64(max(accepted, 0))
	g.h.Malformed += uint64(max(malformed, 0))
	g.h.Dropped += uint64(max(dropped, 0))
	if at.After(g.h.LastSeen) {
		g.h.LastSeen = at
	}
	slot := at.UnixNano() / int64(bucketWidth)
	g.advance(slot)
	if d := g.slot - slot; d >= 0 && d < rateBuckets {
		g.buckets[slot%rateBuckets]++
	}
}

// advance moves the newest slot to slot, clearing the buckets it passes.
func (g *gateway) advance(slot int64) {
	if slot <= g.slot {
		return
	}
	if slot-g.slot >= rateBuckets {
		g.buckets = [rateBuckets]uint32{}
	} else {
		for s := g.slot + 1; s <= slot; s++ {
			g.buckets[s%rateBuckets] = 0
		}
	}
	g.slot = slot
}

// rate is the messages per second over the rateBuckets slots before now.
func (g *gateway) rate(now time.Time) float64 {
	g.advance(now.UnixNano() / int64(bucketWidth))
	var n uint32
	for _, c := range g.buckets {
		n += c
	}
	return float64(n) / (rateBuckets * bucketWidth).Seconds()
}

func (b *Board) online(g *gateway, now time.Time) bool {
	return !g.h.LastSeen.IsZero() && now.Sub(g.h.LastSeen) <= b.offlineAfter
}

// Snapshot returns every gateway's health at now, by gateway ID.
func (b *Board) Snapshot(now time.Time) []wardwatch.GatewayHealth {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]wardwatch.GatewayHealth, 0, len(b.gateways))
	for _, g := range b.gateways {
		h := g.h
		h.Rate = g.rate(now)
		h.Online = b.online(g, now)
		out = append(out, h)
	}
	slices.SortFunc(out, func(a, b wardwatch.GatewayHealth) int { return int(a.GatewayID - b.GatewayID) })
	return out
}

// Gateway returns one gateway's health at now; ok is false when the board
// does not know it.
func (b *Board) Gateway(id int64, now time.Time) (wardwatch.GatewayHealth, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.gateways[id]
	if !ok {
		return wardwatch.GatewayHealth{GatewayID: id}, false
	}
	h := g.h
	h.Rate = g.rate(now)
	h.Online = b.online(g, now)
	return h, true
}

// Transitions returns the gateways whose online state changed since the
// previous call, by gateway ID. A gateway never heard is not reported as
// going offline: it was never online.
func (b *Board) Transitions(now time.Time) []Transition {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []Transition
	for id, g := range b.gateways {
		on := b.online(g, now)
		if on == g.reported {
			continue
		}
		g.reported = on
		at := now
		if !on {
			at = g.h.LastSeen.Add(b.offlineAfter)
		}
		out = append(out, Transition{GatewayID: id, Online: on, LastSeen: g.h.LastSeen, At: at})
	}
	slices.SortFunc(out, func(a, b Transition) int { return int(a.GatewayID - b.GatewayID) })
	return out
}
