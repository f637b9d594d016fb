package tracker

import "math"

// floorLinks is how many of a floor's strongest links its score averages.
const floorLinks = 3

// floorScore accumulates one floor's strongest links.
type floorScore struct {
	floorID int64
	sum     float64
	n       int
}

func (s floorScore) mean() float64 { return s.sum / float64(s.n) }

// chooseFloor picks the floor ts is on before any x,y solve: the floor
// whose best (up to three) links have the highest mean RSSI (RxOffset
// added). fixes must be sorted strongest first and be non-empty; t is the
// time of the fix (unix ms).
//
// Once the tag has a floor, it stays there unless another floor wins:
//
//   - on a floor with no transition zone (stairs, lift), or when the tag's
//     last position is in or within FloorTransitionMargin of one, another
//     floor wins when it beats the current one by FloorHysteresis dB;
//   - elsewhere on a floor with transition zones, a tag cannot have changed
//     storey, so another floor must beat the current one by FloorOverride
//     dB without a break for FloorSustain: a lost tag (placed on the wrong
//     floor, or carried off while unheard) still recovers.
//
// A current floor that is not heard at all is beaten by any margin. ok is
// false when the tag must stay on a floor where it has no link (it cannot
// be placed this time).
func (e *Engine) chooseFloor(ts *tagState, fixes []rangeFix, t int64) (floorID int64, ok bool) {
	scores := e.floorS[:0]
	for _, f := range fixes {
		i := 0
		for i < len(scores) && scores[i].floorID != f.gateway.floorID {
			i++
		}
		if i == len(scores) {
			scores = append(scores, floorScore{floorID: f.gateway.floorID})
		}
		if scores[i].n < floorLinks {
			scores[i].sum += f.rssi
			scores[i].n++
		}
	}
	e.floorS = scores

	best := 0
	for i := 1; i < len(scores); i++ {
		m, bm := scores[i].mean(), scores[best].mean()
		if m > bm || (m == bm && scores[i].floorID < scores[best].floorID) {
			best = i
		}
	}
	b := scores[best].floorID
	if !ts.hasFloor || b == ts.floorID {
		ts.floorCandSet = false
		return b, true
	}
	gain, curHeard := math.Inf(1), false
	for _, s := range scores {
		if s.floorID == ts.floorID {
			gain, curHeard = scores[best].mean()-s.mean(), true
			break
		}
	}
	if !e.zones.hasTransitions(ts.floorID) || (ts.fixed && e.zones.nearTransition(ts.floorID, ts.at, e.cfg.FloorTransitionMargin)) {
		ts.floorCandSet = false
		if gain > 0 && gain >= e.cfg.FloorHysteresis {
			return b, true
		}
		return ts.floorID, curHeard
	}
	if gain > 0 && gain >= e.cfg.FloorOverride {
		if !ts.floorCandSet || ts.floorCand != b {
			ts.floorCand, ts.floorCandSince, ts.floorCandSet = b, t, true
		}
		if t-ts.floorCandSince >= e.cfg.FloorSustain.Milliseconds() {
			ts.floorCandSet = false
			return b, true
		}
	} else {
		ts.floorCandSet = false
	}
	return ts.floorID, curHeard
}
