package tracker

import (
	"math"
	"time"
)

// The motion detector decides whether a tag is parked or moving from its
// links' RSSI, not from the filter's smoothed position: the position of a
// tag far from the gateways wanders metres on a few strong or faded
// readings (the geometry turns a few dB into metres along the direction
// it constrains least), and the filter's still model, which the old
// parked/moving decision watched, was itself dragged by the blend with the
// walking model during bursts. Link by link, a parked tag's RSSI stays
// within the noise of one level whatever the geometry does.
//
// A parked tag: each link keeps a reference level (link.ref), a slow
// average of its short-window estimates at the parked spot (steps clipped
// to two deviations, so a burst does not move it). Each fix compares every
// link's robust estimate over MotionWindow with its reference; the sum of
// the squared differences in units of their standard deviations is χ² with
// one degree of freedom per link while the tag stays put (capped per link,
// so that one link hit by a burst or a body cannot decide alone; scaled by
// the tag's own learnt noise level, so that a noisier channel than
// RSSINoise keeps the same false-alarm rate). Its standardised excess feeds
// a CUSUM in seconds (motionDrift, motionStart): a single noisy window
// adds little, a sustained change of level adds up within a second or two.
// The tag starts moving only when, as well, its short-window fix lies
// beyond motionGate of where the still model holds it: a change of level
// that moves no fix (several far links drifting together) is not a walk,
// and a fix thrown across the room by a burst on one link is not either.
//
// A walk just started is not confirmed yet: the references of the spot
// are kept (and no longer followed), and the links are compared with them
// once more, this time by sign. A walk takes the tag nearer to some
// gateways, so some links grow stronger than at the spot; a burst, a body
// or a fade — what makes most false starts — only weakens links. The
// standardised excess of the links that grew stronger (a one-sided χ²:
// each term is half a χ² with one degree of freedom while the tag stays
// put) feeds a second CUSUM: beyond motionConfirm the walk is confirmed;
// if it stays below motionStop for motionRefQuiet in a row first, the
// start was a fade and the tag is parked again at once, with its
// references intact. A start within motionRefMature of the tag being
// parked is not checked (its references, learnt from a sample or two, can
// tell neither): it is neither confirmed nor taken back, as before this
// check existed. Only a confirmed walk, once the position is walkAway from
// the spot, makes zone.go drop the long dwell of a parked tag, so that a
// walker leaving a room changes room after MinDwell without a parked tag's
// false start doing the same; a start being checked keeps the tag settled.
// At the end of a confirmed walk, arrived asks the filter to restart its
// still model (imm.arrive).
//
// A moving tag: the same test compares each link's last MotionWindow with
// the MotionWindow before it (a trend test over two windows, which needs
// no reference); once it has stayed within the noise (below motionStop)
// for motionStopQuiet in a row, the tag is parked again and every link's reference
// restarts from its estimate over the full Window.
const (
	motionRefTau    = 60 * time.Second // time constant of a parked link's reference
	motionCap       = 9.0              // cap on one link's squared deviation, in variances
	motionDrift     = 1.0              // standardised χ² excess a parked tag's evidence of motion must beat…
	motionStart     = 3.0              // …by this much, summed over seconds (a CUSUM), for the tag to start moving
	motionGate      = 9.21             // squared Mahalanobis distance of a short-window fix from the still model that counts as displaced (χ², 2 degrees of freedom, 99 %)
	motionStop      = 1.0              // standardised χ² excess below which a moving tag's trend is quiet
	motionStopQuiet = 5 * time.Second  // a moving tag whose trend stays below motionStop this long is parked
	motionScaleTau  = 2 * time.Minute  // time constant of a parked tag's noise scale
	motionRefShare  = 1.0 / 16         // variance of a reference, as a share of one sample's

	// A start is confirmed once the links that grew stronger than their
	// references carry this much standardised excess over motionDrift,
	// summed over seconds: of the order of motionStart, since it is the
	// same kind of evidence, on about half the terms.
	motionConfirm = 2.5
	// A start whose links show no strengthening (one-sided excess below
	// motionStop) for this long in a row was a fade: shorter than
	// MotionWindow's default, since a fade is confined to the few samples
	// of one window, and three fixes at the live runner's 500 ms step.
	motionRefQuiet = 1500 * time.Millisecond
	// A parked tag's references are trusted to check a start once it has
	// been parked this long: the first ones come from a sample or two per
	// link, and the slow average needs a good many more (motionRefShare
	// assumes a reference worth sixteen samples: eight to sixteen seconds
	// of one link at 1–2 Hz).
	motionRefMature = 30 * time.Second
)

// motion is a tag's motion detector state.
type motion struct {
	set        bool    // the references have been initialised
	moving     bool    // the verdict
	confirming bool    // moving, and the start being checked against the spot's references
	confirmed  bool    // moving, and the walk confirmed against the spot's references
	refQuiet   float32 // ms in a row a start being checked has shown no strengthening
	cusum      float32 // evidence of motion of a parked tag, standardised excess × seconds
	scale      float32 // mean squared deviation of a parked tag's links, in the noise model's variances (0: 1)
	last       int64   // unix ms of the previous run
	quietSince int64   // unix ms since which the trend has been quiet (moving); 0: not quiet
	since      int64   // unix ms of the latest stop (0: parked since first heard)
	parkedAt   int64   // unix ms since which the tag has been parked (first heard, or the latest stop)
	arrived    bool    // parked just now at the end of a confirmed walk (cleared by the filter, which restarts its still model)
}

// detectMotion runs ts's motion detector at nowMs (unix ms), displaced
// telling whether the tag's short-window fix lies beyond motionGate of its
// still model, and returns whether the tag is moving.
func (e *Engine) detectMotion(ts *tagState, nowMs int64, displaced bool) bool {
	m := &ts.motion
	short := e.cfg.MotionWindow.Milliseconds()
	shortCut := ts.rel(nowMs - short)
	longCut := ts.rel(nowMs - e.cfg.Window.Milliseconds())
	sigma := e.cfg.RSSINoise
	v1 := sigma * sigma
	k := e.cfg.OutlierK

	if !m.set {
		e.resetReferences(ts, longCut)
		*m = motion{set: true, last: nowMs, parkedAt: nowMs}
		return false
	}
	dt := float64(max(nowMs-m.last, 0))
	m.last = nowMs
	alpha := min(dt/float64(motionRefTau.Milliseconds()), 1)
	parked := !m.moving
	// The references hold for a parked tag, and for a start being
	// checked: its tag may still be at the spot.
	useRef := parked || m.confirming

	scale := float64(m.scale)
	if scale == 0 {
		scale = 1
	}
	var sumRef, rawRef, sumUp, sumTrend float64
	nRef, nTrend := 0, 0
	for i := range ts.links {
		l := &ts.links[i]
		g, ok := e.gateways[l.gateway]
		if !ok {
			continue
		}
		es, ok := l.estimate(shortCut, k)
		if !ok {
			continue
		}
		// Links that hover near the gateway's sensitivity are heard only
		// when strong: their level says little, in either window.
		weak := func(rssi float64) bool {
			floor, ok := e.sensitivity(g)
			return ok && rssi < floor+sigma
		}
		if useRef {
			switch {
			case !l.refSet:
				if parked {
					if el, ok := l.estimate(longCut, k); ok {
						l.ref, l.refSet = float32(el.rssi), true
					}
				}
			case !weak(float64(l.ref)) && !weak(es.rssi):
				d := es.rssi - float64(l.ref)
				sd2 := v1/float64(es.n) + v1*motionRefShare
				z2 := min(d*d/sd2/scale, motionCap)
				rawRef += min(d*d/sd2, 4)
				sumRef += z2
				if d > 0 {
					sumUp += z2
				}
				nRef++
				if parked {
					// Follow slow changes (a door closed, a gateway's drift) but
					// not a burst: the step is clipped to two deviations.
					lim := 2 * math.Sqrt(sd2)
					l.ref += float32(alpha * min(max(d, -lim), lim))
				}
			}
		}
		if parked {
			continue
		}
		ep, ok := l.estimateBetween(ts.rel(nowMs-2*short), shortCut, k)
		if !ok || weak(es.rssi) || weak(ep.rssi) {
			continue
		}
		d := es.rssi - ep.rssi
		sumTrend += min(d*d/(v1/float64(es.n)+v1/float64(ep.n))/scale, motionCap)
		nTrend++
	}

	if parked {
		// The channel may be noisier than RSSINoise says (bursts, bodies,
		// orientation): a parked tag learns by how much from its own links,
		// so that its test keeps its false-alarm rate.
		excess := 0.0
		if nRef > 0 {
			excess = (sumRef - float64(nRef)) / math.Sqrt(2*float64(nRef))
			a := min(dt/float64(motionScaleTau.Milliseconds()), 1)
			scale += a * (rawRef/float64(nRef) - scale)
			m.scale = float32(min(max(scale, 0.7), 3))
		}
		m.cusum = float32(max(0, float64(m.cusum)+(excess-motionDrift)*dt/1000))
		if float64(m.cusum) > motionStart && displaced {
			m.moving, m.confirmed, m.cusum, m.refQuiet, m.quietSince = true, false, 0, 0, 0
			// References learnt over less than motionRefMature (the first
			// ones come from a sample or two) cannot tell a walk from a
			// fade: such a start is neither confirmed nor taken back.
			m.confirming = nowMs-m.parkedAt >= motionRefMature.Milliseconds()
		}
		return m.moving
	}
	if m.confirming {
		// Half a χ² with one degree of freedom per link: mean 1/2,
		// variance 5/4.
		up := 0.0
		if nRef > 0 {
			up = (sumUp - 0.5*float64(nRef)) / math.Sqrt(1.25*float64(nRef))
		}
		m.cusum = float32(max(0, float64(m.cusum)+(up-motionDrift)*dt/1000))
		switch {
		case float64(m.cusum) > motionConfirm:
			m.confirmed, m.confirming, m.cusum = true, false, 0
		case up < motionStop:
			m.refQuiet += float32(dt)
			if float64(m.refQuiet) >= float64(motionRefQuiet.Milliseconds()) {
				// A fade, not a walk: parked again at the same spot,
				// its references and its settled time untouched.
				m.moving, m.confirming, m.cusum, m.refQuiet = false, false, 0, 0
				return false
			}
		default:
			m.refQuiet = 0
		}
	}
	excess := 0.0
	if nTrend > 0 {
		excess = (sumTrend - float64(nTrend)) / math.Sqrt(2*float64(nTrend))
	}
	switch {
	case excess >= motionStop:
		m.quietSince = 0
	case m.quietSince == 0:
		m.quietSince = nowMs
	case nowMs-m.quietSince >= motionStopQuiet.Milliseconds():
		m.arrived = m.confirmed
		m.moving, m.confirmed, m.confirming, m.cusum = false, false, false, 0
		m.since, m.parkedAt = nowMs, nowMs
		e.resetReferences(ts, longCut)
	}
	return m.moving
}

// resetReferences sets every link's reference to its estimate over the
// samples newer than cutoff (links with none get theirs when next heard).
func (e *Engine) resetReferences(ts *tagState, cutoff int32) {
	for i := range ts.links {
		l := &ts.links[i]
		el, ok := l.estimate(cutoff, e.cfg.OutlierK)
		l.ref, l.refSet = float32(el.rssi), ok
	}
}
