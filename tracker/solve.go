package tracker

import (
	"math"

	"github.com/wardwatch/wardwatch"
)

// rangeFix is one link's contribution to a fix: the gateway, its filtered
// RSSI and the distance the model makes of it.
type rangeFix struct {
	gateway  *gatewayInfo
	rssi     float64 // median over the window, dBm
	newest   int64   // unix ns of the newest sample in the window
	distance float64 // metres, set once the floor is chosen
}

// solver places a tag on a floor from its links there (strongest first,
// at least one, distances set) and names itself for Position.Solver. The
// engine clamps the result to the floor afterwards.
type solver func(fixes []rangeFix) (wardwatch.Point, string)

// weightedCentroid is the first engine's solver: the centroid of the
// gateways weighted by 1/d², or the gateway itself when only one hears the
// tag. It never leaves the gateways' convex hull, which makes it robust to
// the large ranging errors of indoor RSSI.
func weightedCentroid(fixes []rangeFix) (wardwatch.Point, string) {
	if len(fixes) == 1 {
		return fixes[0].gateway.at, "nearest"
	}
	var p wardwatch.Point
	var sum float64
	for _, f := range fixes {
		w := weight(f)
		p.X += w * f.gateway.at.X
		p.Y += w * f.gateway.at.Y
		sum += w
	}
	return wardwatch.Point{X: p.X / sum, Y: p.Y / sum}, "centroid"
}

// weight is a link's weight in the centroid and in the confidence: 1/d².
// Distances are clamped to at least 0.5 m, so it is at most 4.
func weight(f rangeFix) float64 { return 1 / (f.distance * f.distance) }

// confidence rates a fix in 0..1 from the links used and how dominant the
// strongest of them is:
//
//	k_eff      = Σ wᵢ / max wᵢ        (wᵢ = 1/dᵢ²; 1 ≤ k_eff ≤ number of links)
//	confidence = 1 − 2^(−k_eff)
//
// k_eff is the number of links that effectively shape the fix: one gateway
// gives 1 (confidence 0.5); four agreeing gateways, at equal distances,
// give 4 (0.94); four where one link swamps the rest give close to 1, since
// the centroid then collapses onto that one gateway. Each extra effective
// link halves the remaining doubt.
func confidence(fixes []rangeFix) float64 {
	if len(fixes) == 0 {
		return 0
	}
	var sum, top float64
	for _, f := range fixes {
		w := weight(f)
		sum += w
		top = max(top, w)
	}
	return 1 - math.Exp2(-sum/top)
}
