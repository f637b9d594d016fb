package calibrate

import (
	"math"
	"slices"
)

// Huber IRLS settings.
const (
	huberK       = 1.345 // Huber tuning constant, in units of the residual scale (95 % efficiency under Gaussian noise)
	bisquareC    = 4.685 // Tukey bisquare tuning constant, likewise (95 % efficiency)
	minScale     = 0.5   // dB: the residual scale never drops below this, so noise-free data still converge
	maxIRLS      = 100   // iterations
	irlsTolerant = 1e-6  // stop when a and b move less than this
)

// box bounds the line y = a + b·x; a bound may be infinite, and a min equal
// to its max fixes the parameter.
type box struct{ aMin, aMax, bMin, bMax float64 }

func (bx box) contains(a, b float64) bool {
	return a >= bx.aMin && a <= bx.aMax && b >= bx.bMin && b <= bx.bMax
}

// lineFit is a fitted line y = a + b·x.
type lineFit struct {
	a, b         float64
	freeA, freeB float64 // the unconstrained optimum under the final weights; NaN when degenerate
	aClamped     bool    // a sits at a bound the unconstrained optimum lies beyond
	bClamped     bool
}

// sums are the weighted sufficient statistics of a least-squares line,
// taken about the weighted means (mx, my) for accuracy.
type sums struct {
	w, mx, my    float64
	sxx, sxy, sy float64 // centred: Σw(x−mx)², Σw(x−mx)(y−my), Σw(y−my)²
}

// objective is Σw(y − a − b·x)² for the line (a, b).
func (s sums) objective(a, b float64) float64 {
	// y − a − b·x = (y−my) − b(x−mx) + (my − a − b·mx)
	c := s.my - a - b*s.mx
	return s.sy - 2*b*s.sxy + b*b*s.sxx + s.w*c*c
}

func clamp(v, lo, hi float64) float64 { return min(max(v, lo), hi) }

// solveBox minimises Σw(y − a − b·x)² within bx. The problem is convex:
// when the free optimum (free in the parameters bx does not fix) lies
// inside the box it is the answer; otherwise the answer lies on an edge,
// and each edge's optimum is its clamped one-dimensional optimum, so the
// best of the four edges is taken.
func solveBox(s sums, bx box) lineFit {
	f := lineFit{freeA: math.NaN(), freeB: math.NaN()}
	if !(s.w > 0) {
		f.b = clamp(0, bx.bMin, bx.bMax)
		f.a = clamp(0, bx.aMin, bx.aMax)
		return f
	}
	sxx := s.sxx + s.w*s.mx*s.mx // Σw·x²
	sxy := s.sxy + s.w*s.mx*s.my // Σw·x·y
	// Fixing a, the best b solves Σw·x·(y − a − b·x) = 0.
	freeBFor := func(a float64) float64 {
		if sxx <= 1e-300 {
			return 0
		}
		return (sxy - a*s.w*s.mx) / sxx
	}
	// Fixing b, the best a is the weighted mean of y − b·x.
	freeAFor := func(b float64) float64 { return s.my - b*s.mx }
	switch {
	case bx.aMin == bx.aMax && bx.bMin == bx.bMax:
		f.freeA, f.freeB = bx.aMin, bx.bMin
	case bx.aMin == bx.aMax:
		f.freeA = bx.aMin
		f.freeB = freeBFor(f.freeA)
	case bx.bMin == bx.bMax:
		f.freeB = bx.bMin
		f.freeA = freeAFor(f.freeB)
	case s.sxx > 1e-12*s.w:
		f.freeB = s.sxy / s.sxx
		f.freeA = s.my - f.freeB*s.mx
	}
	if finite(f.freeA) && finite(f.freeB) && bx.contains(f.freeA, f.freeB) {
		f.a, f.b = f.freeA, f.freeB
		return f
	}
	best := math.Inf(1)
	try := func(a, b float64) {
		if !finite(a) || !finite(b) {
			return
		}
		if v := s.objective(a, b); v < best {
			best, f.a, f.b = v, a, b
		}
	}
	for _, a := range []float64{bx.aMin, bx.aMax} {
		if finite(a) {
			try(a, clamp(freeBFor(a), bx.bMin, bx.bMax))
		}
	}
	for _, b := range []float64{bx.bMin, bx.bMax} {
		if finite(b) {
			try(clamp(freeAFor(b), bx.aMin, bx.aMax), b)
		}
	}
	if math.IsInf(best, 1) {
		// Unbounded and degenerate (every x alike): a flat line.
		f.b = clamp(0, bx.bMin, bx.bMax)
		f.a = clamp(freeAFor(f.b), bx.aMin, bx.aMax)
	}
	f.aClamped = bx.aMin != bx.aMax && (f.a == bx.aMin || f.a == bx.aMax) && f.a != f.freeA
	f.bClamped = bx.bMin != bx.bMax && (f.b == bx.bMin || f.b == bx.bMax) && f.b != f.freeB
	return f
}

// weightedSums computes the sums of (x, y+offset) under weights w (nil:
// all 1).
func weightedSums(pts []point, w []float64, offset float64) sums {
	var s sums
	for i, p := range pts {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		s.w += wi
		s.mx += wi * p.x
		s.my += wi * (p.y + offset)
	}
	if s.w <= 0 {
		return s
	}
	s.mx /= s.w
	s.my /= s.w
	for i, p := range pts {
		wi := 1.0
		if w != nil {
			wi = w[i]
		}
		dx, dy := p.x-s.mx, p.y+offset-s.my
		s.sxx += wi * dx * dx
		s.sxy += wi * dx * dy
		s.sy += wi * dy * dy
	}
	return s
}

// huberLine fits y + offset = a + b·x to pts within bx, robustly, by
// iteratively reweighted least squares in two phases:
//
//  1. Huber: each round, residuals beyond huberK times a robust scale
//     (1.4826 × the median absolute deviation, at least minScale) get
//     weight k/|r|, so outliers pull linearly instead of quadratically.
//  2. Polish: from the Huber fit, with its scale held fixed, Tukey
//     bisquare weights (1 − (r/c)²)², c = bisquareC × scale, which drop
//     gross outliers (a reading 20 dB low) altogether instead of letting
//     each pull with weight k/|r|. Starting from the Huber fit keeps the
//     redescending phase in the right basin (the usual MM-estimation
//     recipe).
func huberLine(pts []point, bx box, offset float64) lineFit {
	return huberLineFrom(pts, bx, offset, solveBox(weightedSums(pts, nil, offset), bx))
}

// huberLineFrom is huberLine starting from the line f instead of the
// least-squares one.
func huberLineFrom(pts []point, bx box, offset float64, f lineFit) lineFit {
	w := make([]float64, len(pts))
	res := make([]float64, len(pts))
	scratch := make([]float64, len(pts))
	residuals := func(f lineFit) {
		for i, p := range pts {
			res[i] = p.y + offset - (f.a + f.b*p.x)
		}
	}
	scale := minScale
	for range maxIRLS {
		residuals(f)
		copy(scratch, res)
		scale = robustScale(scratch)
		k := huberK * scale
		for i, r := range res {
			w[i] = 1
			if ar := math.Abs(r); ar > k {
				w[i] = k / ar
			}
		}
		next := solveBox(weightedSums(pts, w, offset), bx)
		done := converged(f, next)
		f = next
		if done {
			break
		}
	}
	c := bisquareC * scale
	for range maxIRLS {
		residuals(f)
		kept := 0
		for i, r := range res {
			w[i] = 0
			if u := r / c; math.Abs(u) < 1 {
				w[i] = (1 - u*u) * (1 - u*u)
				kept++
			}
		}
		if kept < MinObservations {
			break // too few left to stand on: keep the fit so far
		}
		next := solveBox(weightedSums(pts, w, offset), bx)
		done := converged(f, next)
		f = next
		if done {
			break
		}
	}
	return f
}

func converged(f, next lineFit) bool {
	return math.Abs(next.a-f.a) < irlsTolerant && math.Abs(next.b-f.b) < irlsTolerant
}

// robustScale is 1.4826 × the median absolute deviation of res, at least
// minScale. It reorders res.
func robustScale(res []float64) float64 {
	m := median(res)
	for i, r := range res {
		res[i] = math.Abs(r - m)
	}
	return max(1.4826*median(res), minScale)
}

// median of v (0 for none). It reorders v.
func median(v []float64) float64 {
	n := len(v)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return nth(v, n/2)
	}
	hi := nth(v, n/2)
	// After nth, v[:n/2] holds the n/2 smallest values: the lower middle
	// is their maximum.
	return (slices.Max(v[:n/2]) + hi) / 2
}

// nth returns the k-th smallest value of v (0-based) and partitions v
// around it: quickselect with a median-of-three pivot, falling back to a
// sort when the partitions stop shrinking (adversarial input). It reorders
// v.
func nth(v []float64, k int) float64 {
	lo, hi := 0, len(v)-1
	for rounds := 0; lo < hi; rounds++ {
		if rounds > 64 {
			slices.Sort(v[lo : hi+1])
			return v[k]
		}
		mid := lo + (hi-lo)/2
		if v[mid] < v[lo] {
			v[mid], v[lo] = v[lo], v[mid]
		}
		if v[hi] < v[lo] {
			v[hi], v[lo] = v[lo], v[hi]
		}
		if v[hi] < v[mid] {
			v[hi], v[mid] = v[mid], v[hi]
		}
		pivot := v[mid]
		i, j := lo, hi
		for i <= j {
			for v[i] < pivot {
				i++
			}
			for v[j] > pivot {
				j--
			}
			if i <= j {
				v[i], v[j] = v[j], v[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return v[k]
		}
	}
	return v[k]
}
