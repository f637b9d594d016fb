package tracker

import (
	"math"
	"time"

	"github.com/wardwatch/wardwatch"
)

// kalman is a constant-velocity Kalman filter on a floor: the state is
// position and velocity (x, y, vx, vy) in metres and metres per second,
// driven by white-noise acceleration, and measured by position fixes with
// their own 2×2 covariance.
type kalman struct {
	t float64       // unix ms the state is for
	x [4]float64    // x, y, vx, vy
	p [4][4]float64 // covariance of x
}

// initialSpeedSigma is the uncertainty of the velocity of a tag first
// seen, in m/s.
const initialSpeedSigma = 0.5

// reset starts the filter at the fix z (covariance r) at time t, at rest.
func (k *kalman) reset(t float64, z wardwatch.Point, r cov2) {
	*k = kalman{t: t, x: [4]float64{z.X, z.Y, 0, 0}}
	k.p[0][0], k.p[0][1], k.p[1][0], k.p[1][1] = r.xx, r.xy, r.xy, r.yy
	k.p[2][2] = initialSpeedSigma * initialSpeedSigma
	k.p[3][3] = initialSpeedSigma * initialSpeedSigma
}

// predict moves the state to time t (unix ms) under white-noise
// acceleration of spectral density q (m²/s³). A t before the state's time
// leaves the state alone: fixes from overlapping windows may step back a
// little, and the filter does not run backwards.
func (k *kalman) predict(t, q float64) {
	dt := (t - k.t) / 1000
	if !(dt > 0) {
		return
	}
	k.t = t
	k.x[0] += k.x[2] * dt
	k.x[1] += k.x[3] * dt
	// P ← F P Fᵀ with F = [I dt·I; 0 I].
	p := &k.p
	for i := range 4 { // rows: P F ᵀ columns 0,1 += dt·columns 2,3
		p[i][0] += dt * p[i][2]
		p[i][1] += dt * p[i][3]
	}
	for j := range 4 { // F P: rows 0,1 += dt·rows 2,3
		p[0][j] += dt * p[2][j]
		p[1][j] += dt * p[3][j]
	}
	// + Q, per axis [[q·dt³/3, q·dt²/2], [q·dt²/2, q·dt]].
	q3, q2, q1 := q*dt*dt*dt/3, q*dt*dt/2, q*dt
	p[0][0] += q3
	p[1][1] += q3
	p[0][2] += q2
	p[2][0] += q2
	p[1][3] += q2
	p[3][1] += q2
	p[2][2] += q1
	p[3][3] += q1
}

// innovation is the difference between the fix z and the predicted
// position, and its covariance given the fix's covariance r.
func (k *kalman) innovation(z wardwatch.Point, r cov2) (nx, ny float64, s cov2) {
	return z.X - k.x[0], z.Y - k.x[1], k.posCov().add(r)
}

// mahalanobis2 is the squared Mahalanobis distance of the innovation
// (nx, ny) under s; +Inf when s is singular.
func mahalanobis2(nx, ny float64, s cov2) float64 {
	si, ok := s.inverse()
	if !ok {
		return math.Inf(1)
	}
	return nx*nx*si.xx + 2*nx*ny*si.xy + ny*ny*si.yy
}

// update corrects the state with the fix z of covariance r. It reports
// false (and changes nothing) when the innovation covariance is singular.
func (k *kalman) update(z wardwatch.Point, r cov2) bool {
	nx, ny, s := k.innovation(z, r)
	si, ok := s.inverse()
	if !ok {
		return false
	}
	// K = P Hᵀ S⁻¹, with P Hᵀ the first two columns of P.
	var kg [4][2]float64
	for i := range 4 {
		a, b := k.p[i][0], k.p[i][1]
		kg[i][0] = a*si.xx + b*si.xy
		kg[i][1] = a*si.xy + b*si.yy
	}
	for i := range 4 {
		k.x[i] += kg[i][0]*nx + kg[i][1]*ny
	}
	// P ← P − K H P, with H P the first two rows of P.
	var np [4][4]float64
	for i := range 4 {
		for j := range 4 {
			np[i][j] = k.p[i][j] - kg[i][0]*k.p[0][j] - kg[i][1]*k.p[1][j]
		}
	}
	for i := range 4 { // keep it symmetric
		for j := i; j < 4; j++ {
			v := (np[i][j] + np[j][i]) / 2
			np[i][j], np[j][i] = v, v
		}
	}
	k.p = np
	return true
}

// clampSpeed scales the velocity down to at most vmax m/s.
func (k *kalman) clampSpeed(vmax float64) {
	if s := k.speed(); s > vmax && s > 0 {
		f := vmax / s
		k.x[2] *= f
		k.x[3] *= f
	}
}

// clampPosition keeps the position on a w×h floor (see floorInfo.clamp),
// when the floor has an area.
func (k *kalman) clampPosition(w, h float64) {
	if w > 0 && h > 0 {
		p := floorInfo{width: w, height: h}.clamp(k.position())
		k.x[0], k.x[1] = p.X, p.Y
	}
}

func (k *kalman) speed() float64 { return math.Hypot(k.x[2], k.x[3]) }

func (k *kalman) position() wardwatch.Point { return wardwatch.Point{X: k.x[0], Y: k.x[1]} }

func (k *kalman) posCov() cov2 { return cov2{xx: k.p[0][0], xy: k.p[0][1], yy: k.p[1][1]} }

// valid reports whether the state is finite.
func (k *kalman) valid() bool {
	for _, v := range k.x {
		if !finite(v) {
			return false
		}
	}
	for i := range 4 {
		for j := range 4 {
			if !finite(k.p[i][j]) {
				return false
			}
		}
	}
	return k.p[0][0] >= 0 && k.p[1][1] >= 0
}

// imm is an interacting multiple model filter over two constant-velocity
// Kalman filters that differ in their process noise: a tag at rest
// (models[modelStill]: velocity held at zero, the position drifting by
// millimetres), and a tag being wheeled or carried (models[modelWalking]:
// white-noise acceleration of a walking pace). Each fix weighs the two by
// how well they predicted it, so a parked pump is averaged over minutes
// while a wheelchair on the move is followed within a second or two.
type imm struct {
	models [2]kalman
	mu     [2]float64 // probability of each model

	// parked, set when the motion detector (motion.go) says the tag is
	// parked, keeps the walking model out of the still model's mixing: a
	// parked tag's still model then averages its own fixes only, and a
	// burst that makes the walking model look likely for a few seconds
	// no longer drags it metres off the spot.
	parked bool

	// youngUntil (unix ms) ends the still model's first minute on a new
	// track, during which it drifts by youngDrift rather than stillDrift.
	youngUntil float64
}

// Models of the imm.
const (
	modelStill   = 0
	modelWalking = 1
)

// stillDrift is the process noise of the still model: m²/s of random-walk
// position drift.
const stillDrift = 1e-4

// For youngTime after a track starts the still model drifts by youngDrift
// instead: a track's first fixes, made from one or two readings per link,
// can be metres off, and a still model that averaged them with the weight
// of minutes would take minutes to leave them behind (a tag parked near a
// wall then crosses it late, once its room has been announced). 0.03 m²/s
// forgets the first fixes within about half a minute.
const (
	youngDrift = 0.03
	youngTime  = 60 * time.Second
)

// Mean time a tag stays in one model, for the switching probabilities.
const (
	stillStay   = 1000.0 // seconds
	walkingStay = 20.0   // seconds
)

// start begins a new track: reset, and the still model's first minute
// (youngTime).
func (f *imm) start(still, walk measurement) {
	f.reset(still, walk)
	f.youngUntil = still.t + float64(youngTime.Milliseconds())
}

// arrivalSpread is the variance (m², each axis) added to the filter's
// combined estimate when the still model restarts from it at the end of a
// walk: the filter follows a walker with a lag and finds the stop seconds
// late, so where the tag stopped is known to about a metre less well than
// its covariance says.
const arrivalSpread = 1.0

// arrive restarts the still model, at the end of a walk, from the combined
// estimate with arrivalSpread added: during the walk the still model was
// mixed with the walking model and kept the confidence the mixing gave it,
// so that, left alone, it would hold a walker that stopped near a wall on
// the wrong side of it for minutes.
func (f *imm) arrive() {
	c := f.state()
	c.holdStill()
	c.p[0][0] += arrivalSpread
	c.p[1][1] += arrivalSpread
	c.t = f.models[modelStill].t
	f.models[modelStill] = c
}

// reset starts the still model at the still measurement and the walking
// model at the walking one, at rest, and the tag as most likely still.
func (f *imm) reset(still, walk measurement) {
	f.models[modelStill].reset(still.t, still.z, still.r)
	f.models[modelStill].holdStill()
	f.models[modelWalking].reset(walk.t, walk.z, walk.r)
	f.mu = [2]float64{0.8, 0.2}
}

// holdStill zeroes the velocity of a still model and its uncertainty.
func (k *kalman) holdStill() {
	k.x[2], k.x[3] = 0, 0
	for i := range 4 {
		k.p[2][i], k.p[3][i], k.p[i][2], k.p[i][3] = 0, 0, 0, 0
	}
}

// predictStill moves a still model to time t: the position drifts by
// drift m²/s.
func (k *kalman) predictStill(t, drift float64) {
	dt := (t - k.t) / 1000
	if !(dt > 0) {
		return
	}
	k.t = t
	k.holdStill()
	k.p[0][0] += drift * dt
	k.p[1][1] += drift * dt
}

// combine is the estimate of the models' states a (still) and b
// (walking) weighted by the model probabilities, with the spread between
// them added to the covariance.
func (f *imm) combine(a, b *kalman) kalman {
	var c kalman
	c.t = b.t
	ms := [2]*kalman{a, b}
	for j, m := range ms {
		for i := range 4 {
			c.x[i] += f.mu[j] * m.x[i]
		}
	}
	for j, m := range ms {
		for r := range 4 {
			dr := m.x[r] - c.x[r]
			for k := range 4 {
				c.p[r][k] += f.mu[j] * (m.p[r][k] + dr*(m.x[k]-c.x[k]))
			}
		}
	}
	return c
}

// state is the combined estimate, at the walking model's time.
func (f *imm) state() kalman { return f.combine(&f.models[modelStill], &f.models[modelWalking]) }

// publish is the combined position and its covariance at time t (unix
// ms): the walking model carried forward from its own time to t.
func (f *imm) publish(t float64) (wardwatch.Point, cov2) {
	w := f.models[modelWalking]
	w.predict(t, 0)
	c := f.combine(&f.models[modelStill], &w)
	return c.position(), c.posCov()
}

// publishCov is the covariance publish gives at t.
func (f *imm) publishCov(t time.Time) cov2 {
	_, c := f.publish(float64(t.UnixMilli()))
	return c
}

// speed is the combined speed estimate, m/s.
func (f *imm) speed() float64 {
	c := f.state()
	return c.speed()
}

// step runs a pair of measurements through the filter: mixing, each
// model's prediction (the walking model with white-noise acceleration of
// spectral density q) and update, and the new model probabilities. The
// still model is updated with the still measurement (the long window,
// which it averages); the walking model with the walking measurement (the
// short window, which lags a moving tag less), down-weighted beyond the
// squared Mahalanobis distance gate (0: never). Both models are judged by
// how well they predicted both measurements (the geometric mean of the two
// likelihoods): the short window shows a start first, the long one keeps
// a burst of bad readings from passing for one.
func (f *imm) step(still, walk measurement, q, gate float64) {
	dt := max(walk.t-f.models[modelWalking].t, 0) / 1000
	// Switching probabilities over dt.
	pSW := 1 - math.Exp(-dt/stillStay)   // still → walking
	pWS := 1 - math.Exp(-dt/walkingStay) // walking → still
	pi := [2][2]float64{{1 - pSW, pSW}, {pWS, 1 - pWS}}

	// Mixing: each model starts from a blend of both.
	var c [2]float64
	for j := range 2 {
		for i := range 2 {
			c[j] += pi[i][j] * f.mu[i]
		}
	}
	var mixed [2]kalman
	for j := range 2 {
		mixed[j].t = f.models[j].t
		if !(c[j] > 0) || (j == modelStill && f.parked) {
			mixed[j] = f.models[j]
			continue
		}
		var w [2]float64
		for i := range 2 {
			w[i] = pi[i][j] * f.mu[i] / c[j]
		}
		for i := range 2 {
			for a := range 4 {
				mixed[j].x[a] += w[i] * f.models[i].x[a]
			}
		}
		for i := range 2 {
			m := &f.models[i]
			for a := range 4 {
				da := m.x[a] - mixed[j].x[a]
				for b := range 4 {
					mixed[j].p[a][b] += w[i] * (m.p[a][b] + da*(m.x[b]-mixed[j].x[b]))
				}
			}
		}
	}
	drift := stillDrift
	if still.t < f.youngUntil {
		drift = youngDrift
	}
	mixed[modelStill].predictStill(still.t, drift)
	mixed[modelWalking].predict(walk.t, q)

	var like [2]float64
	for j := range 2 {
		nx, ny, s := mixed[j].innovation(walk.z, walk.r)
		nx2, ny2, s2 := mixed[j].innovation(still.z, still.r)
		like[j] = math.Sqrt(robustLikelihood(nx, ny, s) * robustLikelihood(nx2, ny2, s2))
	}
	// The still model is robust on its own terms: a fix far from where
	// it holds the tag is down-weighted like the walking gate does, so a
	// burst of bad fixes does not drag a parked tag across the room.
	if gate > 0 {
		nx, ny, s := mixed[modelStill].innovation(still.z, still.r)
		if d2 := mahalanobis2(nx, ny, s); d2 > gate {
			still.r = still.r.scale(d2 / gate)
		}
	}
	if !mixed[modelStill].update(still.z, still.r) {
		mixed[modelStill] = f.models[modelStill]
	}
	mixed[modelStill].holdStill()
	if !mixed[modelWalking].update(walk.z, walk.r) {
		mixed[modelWalking] = f.models[modelWalking]
	}
	f.models = mixed
	total := like[0]*c[0] + like[1]*c[1]
	if total > 1e-300 && finite(total) {
		f.mu[0], f.mu[1] = like[0]*c[0]/total, like[1]*c[1]/total
	} else {
		f.mu = c // neither model explains the fix: keep the prior mix
	}
	// Keep both models alive: neither probability collapses to zero.
	const floor = 1e-3
	f.mu[0] = min(max(f.mu[0], floor), 1-floor)
	f.mu[1] = 1 - f.mu[0]
}

// Outlier component of robustLikelihood: its weight, and the factor on
// the standard deviation.
const (
	outlierWeight = 0.1
	outlierScale  = 3.0
)

// robustLikelihood is the density of an innovation (nx, ny) with
// covariance s under a Gaussian with a wide outlier component (weight
// outlierWeight, outlierScale times the spread). A fix far from both
// models' predictions then barely shifts their probabilities: one burst
// of bad readings must not make a parked tag look like it walks off.
func robustLikelihood(nx, ny float64, s cov2) float64 {
	k2 := outlierScale * outlierScale
	return (1-outlierWeight)*gaussian2(nx, ny, s) + outlierWeight*gaussian2(nx, ny, s.scale(k2))
}

// gaussian2 is the density of a 2-D Gaussian with covariance s at (nx, ny).
func gaussian2(nx, ny float64, s cov2) float64 {
	d := s.det()
	if !(d > 0) {
		return 0
	}
	return math.Exp(-mahalanobis2(nx, ny, s)/2) / (2 * math.Pi * math.Sqrt(d))
}

// walkingPrediction is the walking model predicted to time t (the filter
// itself is left alone): the most permissive prediction, for the motion
// gate.
func (f *imm) walkingPrediction(t, q float64) kalman {
	k := f.models[modelWalking]
	k.predict(t, q)
	return k
}

// clamp limits both models' speed to vmax and position to [0,w]×[0,h].
func (f *imm) clamp(vmax, w, h float64) {
	for j := range 2 {
		f.models[j].clampSpeed(vmax)
		f.models[j].clampPosition(w, h)
	}
}

func (f *imm) valid() bool { return f.models[0].valid() && f.models[1].valid() }
