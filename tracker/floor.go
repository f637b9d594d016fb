package tracker

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
// whose best (up to three) links have the highest mean median RSSI. Once
// the tag has a floor, another floor must beat it by FloorHysteresis dB, so
// a tag near a stairwell does not flip between storeys. fixes must be
// sorted strongest first and be non-empty.
func (e *Engine) chooseFloor(ts *tagState, fixes []rangeFix) int64 {
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
	if !ts.hasFloor || scores[best].floorID == ts.floorID {
		return scores[best].floorID
	}
	for _, s := range scores {
		if s.floorID != ts.floorID {
			continue
		}
		// The current floor is still heard: stay unless beaten by the margin.
		if gain := scores[best].mean() - s.mean(); gain <= 0 || gain < e.cfg.FloorHysteresis {
			return ts.floorID
		}
		break
	}
	return scores[best].floorID
}
