package tracker

import "math"

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

// link is what the engine keeps about one (tag, gateway) pair: a ring of
// the most recent RSSI samples in arrival order.
type link struct {
	gateway int64
	n       int // samples held, ≤ ringSize
	next    int // slot the next sample goes to
	times   [ringSize]int64
	rssi    [ringSize]float64
}

// add stores a sample taken at t (unix ns), overwriting the oldest one
// when the ring is full.
func (l *link) add(t int64, rssi float64) {
	l.times[l.next] = t
	l.rssi[l.next] = rssi
	l.next = (l.next + 1) % ringSize
	if l.n < ringSize {
		l.n++
	}
}

// newest is the time of the link's newest sample (unix ns), or the minimum
// int64 when it has none.
func (l *link) newest() int64 {
	t := int64(math.MinInt64)
	for i := range l.n {
		t = max(t, l.times[i])
	}
	return t
}

// median returns the median RSSI of the samples newer than cutoff (unix ns)
// and the newest of those samples' times; ok is false when there are none.
// A median shrugs off a short burst of reflections or a body blocking the
// line of sight, which a mean would follow.
func (l *link) median(cutoff int64) (rssi float64, newest int64, ok bool) {
	var buf [ringSize]float64
	k := 0
	for i := range l.n {
		if t := l.times[i]; t > cutoff {
			buf[k] = l.rssi[i]
			k++
			newest = max(newest, t)
		}
	}
	if k == 0 {
		return 0, 0, false
	}
	v := buf[:k]
	for i := 1; i < len(v); i++ { // insertion sort: at most 16 values
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	if k%2 == 1 {
		return v[k/2], newest, true
	}
	return (v[k/2-1] + v[k/2]) / 2, newest, true
}

// distance is the log-distance path-loss model: the distance in metres at
// which a transmitter whose signal reads ref dBm at 1 m reads rssi dBm,
// with path-loss exponent n, d = 10^((ref − rssi) / (10·n)), clamped to
// [0.5 m, 30 m].
func distance(rssi, ref, n float64) float64 {
	d := math.Pow(10, (ref-rssi)/(10*n))
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
