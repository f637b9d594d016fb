package tracker

import (
	"math"

	"github.com/wardwatch/wardwatch"
)

// Names of the solvers, as Position.Solver reports them.
const (
	SolverLM       = "lm"       // robust Levenberg–Marquardt fit of the log-distance model
	SolverCentroid = "centroid" // 1/d²-weighted centroid of the gateways
	SolverNearest  = "nearest"  // one or two gateways: at (or between) the nearest
)

// rangeFix is one link's contribution to a fix: the gateway, its filtered
// RSSI and what the path-loss model makes of it.
type rangeFix struct {
	gateway *gatewayInfo
	rssi    float64 // robust RSSI over the window, RxOffset added, dBm
	sigma   float64 // dB: uncertainty of rssi as a reading of the model
	newest  int32   // newest sample in the window, ms relative to the tag's base
	tMean   float64 // mean time of the samples used, ms relative to the tag's base

	// Set once the floor is chosen.
	ref      float64 // RSSI at 1 m, dBm
	n        float64 // path-loss exponent
	dz2      float64 // squared height of the gateway above the tag, m²
	distance float64 // 3-D range from the model, m, in [0.5, 30]
	horiz    float64 // horizontal range, m: √(distance² − dz²), at least 0.1
	c0, k    float64 // the model's residual terms, see residual
}

// fix is what a solver makes of a tag's links on one floor.
type fix struct {
	at     wardwatch.Point
	cov    cov2    // m²: uncertainty of at
	solver string  // SolverLM, SolverCentroid or SolverNearest
	offset float64 // dB: the common offset of the links' readings the fit found
}

// cov2 is a symmetric 2×2 covariance matrix.
type cov2 struct{ xx, xy, yy float64 }

func (c cov2) trace() float64 { return c.xx + c.yy }

func (c cov2) det() float64 { return c.xx*c.yy - c.xy*c.xy }

// inverse is c⁻¹; ok is false when c is singular or not finite.
func (c cov2) inverse() (cov2, bool) {
	d := c.det()
	if !(d > 1e-18) || math.IsInf(d, 0) {
		return cov2{}, false
	}
	return cov2{xx: c.yy / d, xy: -c.xy / d, yy: c.xx / d}, true
}

func (c cov2) add(o cov2) cov2 { return cov2{c.xx + o.xx, c.xy + o.xy, c.yy + o.yy} }

func (c cov2) scale(k float64) cov2 { return cov2{c.xx * k, c.xy * k, c.yy * k} }

// confidenceRadius is the radius of the confidence score: the confidence
// of a position is the probability that the tag lies within this many
// metres of it, under the position's Gaussian uncertainty.
const confidenceRadius = 2.0

// confidenceOf is the probability mass of a 2-D Gaussian with covariance c
// within confidenceRadius of its mean, approximated by treating c as
// isotropic with the same trace: 1 − exp(−R² / trace).
func confidenceOf(c cov2) float64 {
	t := c.trace()
	if !(t > 0) {
		return 1
	}
	if math.IsInf(t, 1) {
		return 0
	}
	return 1 - math.Exp(-confidenceRadius*confidenceRadius/t)
}

// LM parameters.
const (
	huberK       = 1.5  // Huber threshold, in units of a link's sigma
	lmIterations = 12   // at most this many accepted steps
	lmTries      = 6    // damping increases per step before giving up
	lmStop       = 0.01 // metres: a step shorter than this has converged
	priorSigma   = 30.0 // metres: a weak prior keeping the normal matrix invertible
	minDist2     = 0.01 // m²: floor on the squared 3-D distance in the model
	switchMargin = 2    // Huber cost by which a fit away from the prior must win
)

// solveInput is a tag's links on one floor (strongest first, ranges set)
// and what bounds a sane solution.
type solveInput struct {
	fixes    []rangeFix
	prior    wardwatch.Point // where the iterations start, when hasPrior (the filtered position)
	hasPrior bool
	bounds   rect        // the floor, widened by a margin; the zero rect: no bound
	offset   offsetPrior // of the common offset of the readings
}

// rect is an axis-aligned box; width and height 0 means unbounded.
type rect struct{ minX, minY, maxX, maxY float64 }

func (r rect) unbounded() bool { return r.maxX <= r.minX || r.maxY <= r.minY }

func (r rect) contains(p wardwatch.Point) bool {
	return r.unbounded() || (p.X >= r.minX && p.X <= r.maxX && p.Y >= r.minY && p.Y <= r.maxY)
}

// solve places a tag from its links on one floor: nearest gateway with
// one or two links, otherwise a robust Levenberg–Marquardt fit of the
// log-distance model started from the prior (or the weighted centroid),
// falling back to the weighted centroid when the fit fails, diverges or
// leaves the floor. The covariance of the answer comes from the geometry
// (the model's Jacobian at the answer) scaled by the residuals.
func solve(in solveInput) fix {
	fs := in.fixes
	switch len(fs) {
	case 0:
		return fix{cov: cov2{xx: math.Inf(1), yy: math.Inf(1)}, solver: SolverNearest}
	case 1, 2:
		return nearest(fs)
	}
	c := centroid(fs)
	start := c
	if in.hasPrior {
		start = in.prior
	}
	op := in.offset
	p, b, ok := levenbergMarquardt(fs, start, op)
	if ok && !in.hasPrior && badFit(fs, p, b) {
		// One link far stronger than it should be (a reflection) drags
		// the centroid, and the fit from there, to its gateway, where
		// the good links are left far out. Start again from the centroid
		// without the dominant link, and keep the better fit.
		if q, qb, ok2 := levenbergMarquardt(fs, centroidWithout(fs, dominant(fs)), op); ok2 && huberCost(fs, q, qb, op) < huberCost(fs, p, b, op) {
			p, b = q, qb
		}
	}
	if ok && in.hasPrior && floorDistance(p, c) > 3 {
		// Far from the centroid: the prior may have led into a local
		// minimum. Try from the centroid too, and take its answer if it
		// fits clearly better: with poor geometry (a tag outside the
		// gateways' hull) two mirror answers fit about as well, and the
		// one near the prior is the one to keep.
		if q, qb, ok2 := levenbergMarquardt(fs, c, op); ok2 && huberCost(fs, q, qb, op)+switchMargin < huberCost(fs, p, b, op) {
			p, b = q, qb
		}
	}
	if ok && !in.bounds.contains(p) {
		ok = false
	}
	name := SolverLM
	if !ok {
		p, b, name = c, op.mean, SolverCentroid
	}
	return fix{at: p, cov: covariance(fs, p, b, op), solver: name, offset: b}
}

func floorDistance(a, b wardwatch.Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// nearest places a tag heard by one gateway at that gateway and a tag
// heard by two on the segment between them, splitting it in the ratio of
// their horizontal ranges (equal ranges: midway). Its uncertainty is the
// nearer range plus a metre in every direction: it knows little.
func nearest(fs []rangeFix) fix {
	a := fs[0]
	p := a.gateway.at
	r := a.horiz
	if len(fs) == 2 {
		b := fs[1]
		f := a.horiz / (a.horiz + b.horiz)
		p = wardwatch.Point{X: p.X + f*(b.gateway.at.X-p.X), Y: p.Y + f*(b.gateway.at.Y-p.Y)}
		r = min(a.horiz, b.horiz)
	}
	s := (r + 1) * (r + 1)
	return fix{at: p, cov: cov2{xx: s, yy: s}, solver: SolverNearest}
}

// centroid is the centroid of the gateways weighted by 1/d² (horizontal
// ranges). It never leaves the gateways' convex hull, which makes it
// robust to the large ranging errors of indoor RSSI.
func centroid(fs []rangeFix) wardwatch.Point {
	var p wardwatch.Point
	var sum float64
	for _, f := range fs {
		w := 1 / (f.horiz * f.horiz)
		p.X += w * f.gateway.at.X
		p.Y += w * f.gateway.at.Y
		sum += w
	}
	return wardwatch.Point{X: p.X / sum, Y: p.Y / sum}
}

// outlierResidual is the residual (sigma units) beyond which a link is
// taken for an outlier when the fit is checked.
const outlierResidual = 3

// badFit reports whether a link's residual at p (offset b) exceeds
// outlierResidual.
func badFit(fs []rangeFix, p wardwatch.Point, b float64) bool {
	for i := range fs {
		if r, _, _ := residual(&fs[i], p, b); math.Abs(r) > outlierResidual {
			return true
		}
	}
	return false
}

// dominant is the index of the link with the largest weight in the
// centroid: the shortest range.
func dominant(fs []rangeFix) int {
	best := 0
	for i := range fs {
		if fs[i].horiz < fs[best].horiz {
			best = i
		}
	}
	return best
}

// centroidWithout is the weighted centroid of the links but the skip'th.
func centroidWithout(fs []rangeFix, skip int) wardwatch.Point {
	var p wardwatch.Point
	var sum float64
	for i, f := range fs {
		if i == skip {
			continue
		}
		w := 1 / (f.horiz * f.horiz)
		p.X += w * f.gateway.at.X
		p.Y += w * f.gateway.at.Y
		sum += w
	}
	return wardwatch.Point{X: p.X / sum, Y: p.Y / sum}
}

// The model fitted by levenbergMarquardt: link i reads
//
//	rssiᵢ = refᵢ − 10·nᵢ·log10(Dᵢ(p)),  Dᵢ(p)² = |p − gᵢ|² + dzᵢ²
//
// with a Gaussian error of sigmaᵢ dB. The residual in sigma units is
//
//	rᵢ(p) = c0ᵢ + kᵢ·ln(Dᵢ²),  c0ᵢ = (rssiᵢ − refᵢ)/sigmaᵢ,  kᵢ = 5·nᵢ / (ln 10 · sigmaᵢ)
//
// so a range error counts in proportion to the range (σ_d ∝ d): log-normal
// shadowing, fitted where it is Gaussian.

// residual returns f's residual at p (sigma units), for a common offset
// b (dB) on every link's reading, and its gradient in x and y; its
// derivative in b is −1/sigma.
func residual(f *rangeFix, p wardwatch.Point, b float64) (r, gx, gy float64) {
	dx, dy := p.X-f.gateway.at.X, p.Y-f.gateway.at.Y
	d2 := max(dx*dx+dy*dy+f.dz2, minDist2)
	r = f.c0 - b/f.sigma + f.k*math.Log(d2)
	g := 2 * f.k / d2
	return r, g * dx, g * dy
}

// setModel sets f's precomputed model terms from its rssi, sigma, ref and n.
func (f *rangeFix) setModel() {
	f.c0 = (f.rssi - f.ref) / f.sigma
	f.k = 5 * f.n / (math.Ln10 * f.sigma)
}

// huberWeight is the IRLS weight of a residual under the Huber loss.
func huberWeight(r float64) float64 {
	if a := math.Abs(r); a > huberK {
		return huberK / a
	}
	return 1
}

// huberLoss is the Huber loss of a residual.
func huberLoss(r float64) float64 {
	if a := math.Abs(r); a > huberK {
		return huberK*a - huberK*huberK/2
	}
	return r * r / 2
}

// huberCost is the total Huber loss of the links at p with offset b,
// with the offset's prior.
func huberCost(fs []rangeFix, p wardwatch.Point, b float64, op offsetPrior) float64 {
	return normal(fs, p, b, op).cost
}

// normalEq is the Huber cost of the links at a point (and offset) and the
// normal equations of a reweighted Gauss–Newton step there: A = Σ w·J·Jᵀ
// and g = Σ w·r·J over the unknowns (x, y, b), with the weak position
// prior and the offset's prior on the diagonal of A.
type normalEq struct {
	cost float64
	a    [3][3]float64
	g    [3]float64
}

// offsetPrior is the prior of the common offset of a tag's readings: its
// mean and standard deviation (dB); a sigma of 0 holds the offset at 0.
type offsetPrior struct{ mean, sigma float64 }

// normal evaluates the links at p and offset b: one logarithm per link.
func normal(fs []rangeFix, p wardwatch.Point, b float64, op offsetPrior) normalEq {
	var n normalEq
	n.a[0][0] = 1 / (priorSigma * priorSigma)
	n.a[1][1] = n.a[0][0]
	fit := op.sigma > 0
	if fit {
		v := op.sigma * op.sigma
		n.a[2][2] = 1 / v
		n.g[2] = (b - op.mean) / v
		n.cost = (b - op.mean) * (b - op.mean) / (2 * v)
	} else {
		n.a[2][2] = 1 // the offset is held at 0: its row solves to no step
	}
	for i := range fs {
		f := &fs[i]
		r, jx, jy := residual(f, p, b)
		n.cost += huberLoss(r)
		w := huberWeight(r)
		n.a[0][0] += w * jx * jx
		n.a[0][1] += w * jx * jy
		n.a[1][1] += w * jy * jy
		n.g[0] += w * r * jx
		n.g[1] += w * r * jy
		if fit {
			jb := -1 / f.sigma
			n.a[0][2] += w * jx * jb
			n.a[1][2] += w * jy * jb
			n.a[2][2] += w * jb * jb
			n.g[2] += w * r * jb
		}
	}
	n.a[1][0], n.a[2][0], n.a[2][1] = n.a[0][1], n.a[0][2], n.a[1][2]
	return n
}

// inverse3 is the inverse of the symmetric 3×3 matrix a; ok is false when
// a is singular or not finite.
func inverse3(a [3][3]float64) (inv [3][3]float64, ok bool) {
	c00 := a[1][1]*a[2][2] - a[1][2]*a[2][1]
	c01 := a[1][2]*a[2][0] - a[1][0]*a[2][2]
	c02 := a[1][0]*a[2][1] - a[1][1]*a[2][0]
	det := a[0][0]*c00 + a[0][1]*c01 + a[0][2]*c02
	if !(math.Abs(det) > 1e-300) || math.IsInf(det, 0) || math.IsNaN(det) {
		return inv, false
	}
	inv[0][0] = c00 / det
	inv[0][1] = (a[0][2]*a[2][1] - a[0][1]*a[2][2]) / det
	inv[0][2] = (a[0][1]*a[1][2] - a[0][2]*a[1][1]) / det
	inv[1][0] = c01 / det
	inv[1][1] = (a[0][0]*a[2][2] - a[0][2]*a[2][0]) / det
	inv[1][2] = (a[0][2]*a[1][0] - a[0][0]*a[1][2]) / det
	inv[2][0] = c02 / det
	inv[2][1] = (a[0][1]*a[2][0] - a[0][0]*a[2][1]) / det
	inv[2][2] = (a[0][0]*a[1][1] - a[0][1]*a[1][0]) / det
	return inv, true
}

// levenbergMarquardt minimises the Huber loss of the links' residuals
// over the position p and the common offset b (with its prior), by
// iteratively reweighted Gauss–Newton steps damped Levenberg–Marquardt
// style, from start and the offset's prior mean. ok is false when it produced a non-finite
// point or wandered beyond any gateway's reach.
func levenbergMarquardt(fs []rangeFix, start wardwatch.Point, op offsetPrior) (wardwatch.Point, float64, bool) {
	p, b := start, 0.0
	if op.sigma > 0 {
		b = op.mean
	}
	cur := normal(fs, p, b, op)
	lambda := 1e-3
	for range lmIterations {
		accepted := false
		var step float64
		for range lmTries {
			m := cur.a
			for i := range 3 {
				m[i][i] *= 1 + lambda
			}
			inv, ok := inverse3(m)
			if !ok {
				lambda *= 10
				continue
			}
			var d [3]float64
			for i := range 3 {
				d[i] = -(inv[i][0]*cur.g[0] + inv[i][1]*cur.g[1] + inv[i][2]*cur.g[2])
			}
			q, qb := wardwatch.Point{X: p.X + d[0], Y: p.Y + d[1]}, b+d[2]
			if next := normal(fs, q, qb, op); next.cost < cur.cost {
				p, b, cur = q, qb, next
				lambda = max(lambda/3, 1e-7)
				accepted = true
				step = math.Hypot(d[0], d[1])
				break
			}
			lambda *= 8
		}
		if !finite(p.X) || !finite(p.Y) || !finite(b) {
			return start, 0, false
		}
		if !accepted || step < lmStop {
			break // converged: no step improves the fit, or the last was tiny
		}
	}
	// Diverged: far beyond any gateway's reach.
	for i := range fs {
		if floorDistance(p, fs[i].gateway.at) <= 2*maxDistance {
			return p, b, true
		}
	}
	return start, 0, false
}

// covariance is the uncertainty of a fix at p (offset b): the position
// block of the inverse of the weighted normal matrix of the links there
// (the geometry: gateways all on one side, or in a line, give a long
// ellipse; the unknown offset widens it where it trades off against
// range), times the residuals' variance factor when there are more links
// than unknowns and they fit worse than their sigmas say.
func covariance(fs []rangeFix, p wardwatch.Point, b float64, op offsetPrior) cov2 {
	n := normal(fs, p, b, op)
	var wrr float64
	for i := range fs {
		r, _, _ := residual(&fs[i], p, b)
		wrr += huberWeight(r) * r * r
	}
	inv, ok := inverse3(n.a)
	if !ok || !(inv[0][0] > 0) || !(inv[1][1] > 0) {
		s := priorSigma * priorSigma
		return cov2{xx: s, yy: s}
	}
	c := cov2{xx: inv[0][0], xy: inv[0][1], yy: inv[1][1]}
	unknowns := 2
	if op.sigma > 0 {
		unknowns = 3
	}
	if m := len(fs); m > unknowns {
		if f := wrr / float64(m-unknowns); f > 1 {
			c = c.scale(f)
		}
	}
	return c
}
