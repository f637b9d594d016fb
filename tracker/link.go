package tracker

import (
	"math"
)

// ringSize is how many recent samples a link keeps. At the 1–10 Hz a BLE
// tag advertises, 16 samples cover the default 4 s window for tags up to
// 4 Hz per gateway; faster tags keep the newest 16.
const ringSize = 16

// Distance bounds of the log-distance model, in metres: closer than 0.5 m
// or farther than 30 m the RSSI says nothing useful.
const (
	minDistance = 0.5
	maxDistance = 30
)

// rssiScale is the fixed-point scale of stored RSSI samples: centi-dBm
// in an int16 (−130 dBm is −13000).
const rssiScale = 100

// Bounds of the sample times a link stores, in milliseconds relative to
// the tag's time base (see tagState.base). A time beyond relMax moves the
// base; a time before relMin is clamped to it (ancient: never in a window).
const (
	relMax = 1 << 30 // ~12 days
	relMin = math.MinInt32 + 1
)

// link is what the engine keeps about one (tag, gateway) pair: a ring of
// the most recent RSSI samples in arrival order, in compact fixed-point
// form, and its level at the tag's parked spot (112 bytes).
type link struct {
	gateway int64
	n       uint8           // samples held, ≤ ringSize
	next    uint8           // slot the next sample goes to
	refSet  bool            // ref holds the link's level at the tag's parked spot (motion.go)
	times   [ringSize]int32 // ms relative to the tag's base
	rssi    [ringSize]int16 // centi-dBm
	ref     float32         // dBm: the link's robust level while the tag is parked (motion.go)
}

// add stores a sample taken at rel (ms relative to the tag's base),
// overwriting the oldest one when the ring is full. rssi must lie in
// [minRSSI, maxRSSI].
func (l *link) add(rel int32, rssi float64) {
	l.times[l.next] = rel
	l.rssi[l.next] = int16(math.Round(rssi * rssiScale))
	l.next = (l.next + 1) % ringSize
	if l.n < ringSize {
		l.n++
	}
}

// newest is the time of the link's newest sample (ms relative to the
// tag's base), or the minimum int32 when it has none.
func (l *link) newest() int32 {
	t := int32(math.MinInt32)
	for i := range l.n {
		t = max(t, l.times[i])
	}
	return t
}

// shift moves every sample time d ms earlier (the tag's base moved d ms
// later), clamping at relMin.
func (l *link) shift(d int64) {
	for i := range l.n {
		l.times[i] = int32(max(int64(l.times[i])-d, relMin))
	}
}

// linkEstimate is a link's robust RSSI estimate over the window.
type linkEstimate struct {
	rssi   float64 // dBm as received (before the gateway's RxOffset)
	spread float64 // dB: robust standard deviation of one sample (0 with fewer than 3 samples)
	n      int     // samples the estimate rests on (after outlier rejection)
	total  int     // samples in the window
	tMean  float64 // mean time of those samples, ms relative to the tag's base
	newest int32   // newest sample in the window, ms relative to the tag's base
}

// madScale turns a median absolute deviation into a standard deviation
// for Gaussian data.
const madScale = 1.4826

// minSpread is the floor on the robust spread used for outlier rejection,
// in dB: RSSI is reported in whole dB, so a run of identical values has a
// MAD of 0 and would otherwise reject a sample 1 dB off.
const minSpread = 1.0

// estimate is the link's robust RSSI over the samples newer than cutoff
// (ms relative to the tag's base): the median of the window, then every
// sample more than k robust standard deviations (k·1.4826·MAD) from it
// dropped, then the mean of the rest. A median with MAD rejection shrugs
// off a short burst of reflections or a body blocking the line of sight,
// which a plain mean would follow; averaging the inliers keeps the
// precision of a mean. k ≤ 0 turns rejection off (the plain median, no
// mean). ok is false when the window holds no sample.
func (l *link) estimate(cutoff int32, k float64) (est linkEstimate, ok bool) {
	return l.estimateBetween(cutoff, math.MaxInt32, k)
}

// estimateBetween is estimate over the samples newer than from and no
// newer than to (ms relative to the tag's base).
func (l *link) estimateBetween(from, to int32, k float64) (est linkEstimate, ok bool) {
	var vals [ringSize]float64
	var times [ringSize]int32
	m := 0
	newest := int32(math.MinInt32)
	for i := range l.n {
		if t := l.times[i]; t > from && t <= to {
			vals[m] = float64(l.rssi[i]) / rssiScale
			times[m] = t
			m++
			newest = max(newest, t)
		}
	}
	if m == 0 {
		return linkEstimate{}, false
	}
	v, ts := vals[:m], times[:m]
	for i := 1; i < m; i++ { // insertion sort by value, times alongside: at most 16 values
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
	med := medianSorted(v)
	est = linkEstimate{rssi: med, n: m, total: m, newest: newest}
	if m < 3 || k <= 0 {
		var tsum float64
		for _, t := range ts {
			tsum += float64(t)
		}
		est.tMean = tsum / float64(m)
		if m >= 3 {
			est.spread = madScale * mad(v, med)
		}
		return est, true
	}
	s := madScale * mad(v, med)
	est.spread = s
	limit := k * max(s, minSpread)
	var sum, tsum float64
	n := 0
	for i, x := range v {
		if math.Abs(x-med) <= limit {
			sum += x
			tsum += float64(ts[i])
			n++
		}
	}
	// n ≥ 1: at least half the samples lie within one MAD of the median.
	est.rssi, est.tMean, est.n = sum/float64(n), tsum/float64(n), n
	return est, true
}

// medianSorted is the median of the sorted, non-empty v.
func medianSorted(v []float64) float64 {
	k := len(v)
	if k%2 == 1 {
		return v[k/2]
	}
	return (v[k/2-1] + v[k/2]) / 2
}

// mad is the median absolute deviation of the sorted, non-empty v from
// med. The deviations of a sorted slice from a value inside it form two
// sorted runs (falling, then rising), merged here without sorting.
func mad(v []float64, med float64) float64 {
	var dev [ringSize]float64
	// Split at the first element ≥ med; walk outwards merging the runs.
	hi := 0
	for hi < len(v) && v[hi] < med {
		hi++
	}
	lo := hi - 1
	for i := range v {
		switch {
		case lo < 0:
			dev[i] = v[hi] - med
			hi++
		case hi >= len(v):
			dev[i] = med - v[lo]
			lo--
		case med-v[lo] < v[hi]-med:
			dev[i] = med - v[lo]
			lo--
		default:
			dev[i] = v[hi] - med
			hi++
		}
	}
	return medianSorted(dev[:len(v)])
}

// distance is the log-distance path-loss model: the distance in metres at
// which a transmitter whose signal reads ref dBm at 1 m reads rssi dBm,
// with path-loss exponent n, d = 10^((ref − rssi) / (10·n)), clamped to
// [0.5 m, 30 m].
func distance(rssi, ref, n float64) float64 {
	d := math.Exp((ref - rssi) / (10 * n) * math.Ln10) // 10^x
	if math.IsNaN(d) {
		return maxDistance
	}
	return min(max(d, minDistance), maxDistance)
}

// referencePower is the RSSI at 1 m for ts heard by g: the tag's advertised
// TxPower when it has one, else the gateway's calibration, else the default.
func (e *Engine) referencePower(ts *tagState, g *gatewayInfo) float64 {
	switch {
	case ts.txPower != 0:
		return ts.txPower
	case g.rssiAt1m != 0:
		return g.rssiAt1m
	}
	return e.cfg.DefaultRSSIAt1m
}

// pathLoss is g's path-loss exponent, or the default.
func (e *Engine) pathLoss(g *gatewayInfo) float64 {
	if g.pathLoss > 0 {
		return g.pathLoss
	}
	return e.cfg.DefaultPathLoss
}

// sensitivityLearn is how many sightings a gateway must have reported
// before the weakest of them stands for its sensitivity.
const sensitivityLearn = 200

// sensitivity is the weakest RSSI g reports (dBm, as received): the
// configured Sensitivity, or else the weakest it has reported once it has
// reported enough. ok is false when there is none, or correction is off.
// A room anchor's is never learned: it hears only the tags in its room
// (an RFID antenna reads them at a steady strength), so its weakest
// reading says nothing about its sensitivity.
func (e *Engine) sensitivity(g *gatewayInfo) (float64, bool) {
	switch s := e.cfg.Sensitivity; {
	case s < minRSSI:
		return 0, false
	case s != 0:
		return s, true
	case g.anchorZoneID != 0:
		return 0, false
	}
	return g.weakest, g.heard >= sensitivityLearn
}

// truncationBias is how much too strong the mean m of RSSI samples reads
// when samples weaker than floor go unheard, for samples of standard
// deviation sigma: the mean of a normal distribution truncated at floor
// exceeds the distribution's own mean μ by σ·λ((floor−μ)/σ), λ the inverse
// Mills ratio. The bias divided by σ depends only on u = (m − floor)/σ, so
// it is tabulated (truncationTable) for u in [0, 3] and interpolated; it
// is at most 2σ (readings that close to the floor say little about how far
// below it the mean lies) and 0 for means more than 3σ above the floor,
// where the truncation does not matter.
func truncationBias(m, floor, sigma float64) float64 {
	if !(sigma > 0) {
		return 0
	}
	u := (m - floor) / sigma
	switch {
	case !(u < truncationMaxU): // NaN too
		return 0
	case u <= 0:
		return 2 * sigma
	}
	x := u / truncationMaxU * (truncationSteps - 1)
	i := min(int(x), truncationSteps-2)
	f := x - float64(i)
	return sigma * (truncationTable[i]*(1-f) + truncationTable[i+1]*f)
}

// Extent and resolution of truncationTable.
const (
	truncationMaxU  = 3
	truncationSteps = 121
)

// truncationTable[i] is the truncation bias, in units of σ, of a mean
// observed u = 3·i/(truncationSteps−1) standard deviations above the floor.
var truncationTable = func() [truncationSteps]float64 {
	var t [truncationSteps]float64
	for i := range t {
		t[i] = solveTruncation(truncationMaxU * float64(i) / (truncationSteps - 1))
	}
	t[truncationSteps-1] = 0 // fade to no correction at the table's end
	return t
}()

// solveTruncation solves u = v + λ(−v) for v (the distribution's mean,
// in σ above the floor, given the observed mean u σ above it) by bisection
// and returns u − v, at most 2.
func solveTruncation(u float64) float64 {
	truncMean := func(v float64) float64 { // mean above the floor of N(v, 1) truncated at 0
		a := min(-v, 8)
		tail := math.Erfc(a/math.Sqrt2) / 2
		return v + math.Exp(-a*a/2)/(math.Sqrt(2*math.Pi)*tail)
	}
	lo, hi := u-2, u // truncMean(hi) ≥ u; truncMean is increasing
	if truncMean(lo) >= u {
		return 2
	}
	for range 40 {
		mid := (lo + hi) / 2
		if truncMean(mid) < u {
			lo = mid
		} else {
			hi = mid
		}
	}
	return u - (lo+hi)/2
}
