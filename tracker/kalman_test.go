package tracker

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/wardwatch/wardwatch"
)

func TestKalmanPredictUpdate(t *testing.T) {
	var k kalman
	k.reset(0, wardwatch.Point{X: 1, Y: 2}, cov2{xx: 1, yy: 1})
	k.x[2], k.x[3] = 1, -0.5
	k.predict(2000, 0.5)
	if !near1(k.x[0], 3) || !near1(k.x[1], 1) || k.t != 2000 {
		t.Errorf("predicted state %v at %v, want (3,1) at 2000 ms", k.x, k.t)
	}
	before := k.posCov()
	k.predict(1000, 0.5) // back in time: no change
	if k.t != 2000 || k.posCov() != before {
		t.Error("predict backwards changed the state")
	}
	z := wardwatch.Point{X: 5, Y: 1}
	k.update(z, cov2{xx: before.xx, yy: before.yy})
	if !(k.x[0] > 3.5 && k.x[0] < 4.5) {
		t.Errorf("update with equal weights moved x to %v, want about halfway to 5", k.x[0])
	}
	if after := k.posCov(); !(after.xx < before.xx) {
		t.Errorf("update did not shrink the covariance: %v → %v", before, after)
	}
	for i := range 4 {
		for j := range 4 {
			if k.p[i][j] != k.p[j][i] {
				t.Fatalf("covariance not symmetric: %v", k.p)
			}
		}
	}
	if k.update(z, cov2{xx: math.NaN()}) {
		t.Error("update with a NaN covariance should refuse")
	}
}

func TestKalmanClamps(t *testing.T) {
	var k kalman
	k.reset(0, wardwatch.Point{X: 25, Y: -3}, cov2{xx: 1, yy: 1})
	k.x[2], k.x[3] = 3, 4
	k.clampSpeed(2)
	if !near1(k.speed(), 2) || !near1(k.x[2]/k.x[3], 0.75) {
		t.Errorf("clamped velocity (%v, %v), want speed 2 in the same direction", k.x[2], k.x[3])
	}
	k.clampPosition(20, 10)
	if k.x[0] != 20-floorInset || k.x[1] != floorInset {
		t.Errorf("clamped position (%v, %v)", k.x[0], k.x[1])
	}
}

// immRun feeds f fixes of a tag moving along path (unix ms → position)
// every stepMs for n steps, with Gaussian noise of sigma metres per axis,
// the same fix standing for both windows, and returns the final error.
func immRun(f *imm, rng *rand.Rand, path func(float64) wardwatch.Point, stepMs float64, n int, sigma float64) float64 {
	r := cov2{xx: sigma * sigma, yy: sigma * sigma}
	var last float64
	for i := range n {
		tm := float64(i) * stepMs
		p := path(tm)
		z := wardwatch.Point{X: p.X + sigma*rng.NormFloat64(), Y: p.Y + sigma*rng.NormFloat64()}
		m := measurement{t: tm, z: z, r: r}
		if i == 0 {
			f.reset(m, m)
		} else {
			f.step(m, m, 0.3, 9.21)
		}
		last = tm
	}
	at, _ := f.publish(last)
	return floorDistance(at, path(last))
}

func TestIMMStationaryAveraging(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	var f imm
	still := func(float64) wardwatch.Point { return wardwatch.Point{X: 5, Y: 5} }
	if err := immRun(&f, rng, still, 1000, 300, 1.5); err > 0.3 {
		t.Errorf("after 5 min of 1.5 m fixes the parked tag is %.2f m off, want ≤ 0.3", err)
	}
	if f.mu[modelWalking] > 0.2 {
		t.Errorf("walking probability %v for a parked tag", f.mu[modelWalking])
	}
	if s := f.speed(); s > 0.1 {
		t.Errorf("speed %v for a parked tag", s)
	}
}

func TestIMMFollowsWalking(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	var f imm
	walk := func(ms float64) wardwatch.Point { return wardwatch.Point{X: 1.2 * ms / 1000, Y: 5} }
	err := immRun(&f, rng, walk, 500, 60, 0.5)
	if err > 1 {
		t.Errorf("walker 30 s in is %.2f m off, want ≤ 1", err)
	}
	if f.mu[modelWalking] < 0.5 {
		t.Errorf("walking probability %v for a walker", f.mu[modelWalking])
	}
	if s := f.speed(); math.Abs(s-1.2) > 0.4 {
		t.Errorf("speed %v, want about 1.2 m/s", s)
	}
}

func TestIMMRobustLikelihood(t *testing.T) {
	s := cov2{xx: 1, yy: 1}
	if got, want := robustLikelihood(0, 0, s), (1-outlierWeight)*gaussian2(0, 0, s)+outlierWeight*gaussian2(0, 0, s.scale(outlierScale*outlierScale)); !near1(got, want) {
		t.Errorf("at the mean: %v, want %v", got, want)
	}
	// Six units out, a wider model explains the fix only a few times
	// better, where a pure Gaussian would favour it by orders of magnitude.
	wide := cov2{xx: 4, yy: 4}
	if r := robustLikelihood(6, 0, wide) / robustLikelihood(6, 0, s); r > 10 {
		t.Errorf("an outlier favours the wide model %v times", r)
	}
	if r := gaussian2(6, 0, wide) / gaussian2(6, 0, s); r < 1000 {
		t.Errorf("pure Gaussian ratio %v: the comparison is moot", r)
	}
	if gaussian2(0, 0, cov2{}) != 0 {
		t.Error("singular covariance should have no density")
	}
}

func TestMotionGate(t *testing.T) {
	site := zoneSite()
	e := New(Config{Reacquire: 3000 * 1e6}, site) // 3 s
	ts := &tagState{kfOn: true}
	r := cov2{xx: 0.5, yy: 0.5}
	m := func(sec float64, x float64) measurement {
		return measurement{t: sec * 1000, z: wardwatch.Point{X: x, Y: 5}, r: r}
	}
	ts.kf.reset(m(0, 5), m(0, 5))
	for i := 1; i <= 60; i++ {
		e.filter(ts, m(float64(i), 5), m(float64(i), 5))
	}
	e.filter(ts, m(61, 25), m(61, 25)) // 20 m in a second: an outlier
	at, _ := ts.kf.publish(61000)
	if at.X > 6 || e.Stats().Outliers != 1 {
		t.Errorf("one outlier fix moved the tag to %v (outliers %d)", at, e.Stats().Outliers)
	}
	for i := 62; i <= 66; i++ { // it keeps coming: the tag was carried off
		e.filter(ts, m(float64(i), 25), m(float64(i), 25))
	}
	at, _ = ts.kf.publish(66000)
	if math.Abs(at.X-25) > 1 {
		t.Errorf("after 5 s of consistent fixes the tag is at %v, want near x=25", at)
	}
}

func TestReacquire(t *testing.T) {
	site := zoneSite()
	e := New(Config{Reacquire: 1500 * 1e6}, site) // 1.5 s
	ts := &tagState{kfOn: true}
	r := cov2{xx: 0.2, yy: 0.2}
	m := func(sec float64, x float64) measurement {
		return measurement{t: sec * 1000, z: wardwatch.Point{X: x, Y: 5}, r: r}
	}
	ts.kf.reset(m(0, 5), m(0, 5))
	for i := 1; i <= 30; i++ {
		e.filter(ts, m(float64(i), 5), m(float64(i), 5))
	}
	for i := range 4 { // 200 m away, every half second: far beyond what the gate lets through
		sec := 31 + float64(i)*0.5
		e.filter(ts, m(sec, 205), m(sec, 205))
	}
	at, _ := ts.kf.publish(32500)
	if e.Stats().Reacquired != 1 || math.Abs(at.X-205) > 0.5 {
		t.Errorf("reacquired %d times, tag at %v; want once, at x=205", e.Stats().Reacquired, at)
	}
	if e.Stats().Outliers < 3 {
		t.Errorf("outliers %d, want the fixes before the reset counted", e.Stats().Outliers)
	}
}

func TestFilterSpeedLimit(t *testing.T) {
	site := zoneSite()
	e := New(Config{Gate: -1}, site)
	ts := &tagState{kfOn: true}
	r := cov2{xx: 0.1, yy: 0.1}
	ts.kf.reset(measurement{z: wardwatch.Point{X: 1, Y: 5}, r: r}, measurement{z: wardwatch.Point{X: 1, Y: 5}, r: r})
	for i := 1; i <= 10; i++ { // 5 m/s
		m := measurement{t: float64(i) * 1000, z: wardwatch.Point{X: 1 + 5*float64(i), Y: 5}, r: r}
		e.filter(ts, m, m)
		ts.kf.clamp(e.cfg.MaxSpeed, 60, 10)
		if s := ts.kf.speed(); s > e.cfg.MaxSpeed+1e-9 {
			t.Fatalf("speed %v beyond the %v m/s limit", s, e.cfg.MaxSpeed)
		}
	}
}

// TestIMMYoungStillModel: on a new track the still model leaves its first
// fixes behind within youngTime; once the track is older it averages with
// the weight of minutes.
func TestIMMYoungStillModel(t *testing.T) {
	r := cov2{xx: 1, yy: 1}
	first := measurement{t: 0, z: wardwatch.Point{X: 10, Y: 5}, r: r}
	// The first fix is 3 m off; the tag is at (7, 5) and parked.
	run := func(young bool) float64 {
		var f imm
		f.start(first, first)
		if !young {
			f.youngUntil = 0
		}
		f.parked = true
		for i := 1; i <= 30; i++ {
			m := measurement{t: float64(i * 1000), z: wardwatch.Point{X: 7, Y: 5}, r: r.scale(4)}
			f.step(m, m, 0.3, 9.21)
		}
		return math.Abs(f.models[modelStill].x[0] - 7)
	}
	youngErr, oldErr := run(true), run(false)
	if !(youngErr < 0.5) {
		t.Errorf("young still model %.2f m off after 30 s, want < 0.5 m", youngErr)
	}
	if !(oldErr > 2*youngErr) {
		t.Errorf("without the young drift the still model is %.2f m off (young %.2f m): the first minute changes nothing", oldErr, youngErr)
	}
	var f imm
	f.start(first, first)
	if want := float64(youngTime.Milliseconds()); f.youngUntil != want {
		t.Errorf("youngUntil %v, want %v", f.youngUntil, want)
	}
}

// TestIMMArrive: the still model restarts from the combined estimate, its
// covariance widened by arrivalSpread, at rest.
func TestIMMArrive(t *testing.T) {
	var f imm
	still := measurement{t: 0, z: wardwatch.Point{X: 2, Y: 2}, r: cov2{xx: 0.1, yy: 0.1}}
	walk := measurement{t: 0, z: wardwatch.Point{X: 6, Y: 2}, r: cov2{xx: 0.5, yy: 0.5}}
	f.reset(still, walk)
	f.mu = [2]float64{0.5, 0.5}
	f.models[modelWalking].x[2] = 1
	c := f.state()
	f.arrive()
	s := f.models[modelStill]
	if !near1(s.x[0], c.x[0]) || !near1(s.x[1], c.x[1]) || s.x[2] != 0 || s.x[3] != 0 {
		t.Errorf("still model %v after arrive, want at the combined estimate (%.2f, %.2f), at rest", s.x, c.x[0], c.x[1])
	}
	if !near1(s.p[0][0], c.p[0][0]+arrivalSpread) || !near1(s.p[1][1], c.p[1][1]+arrivalSpread) {
		t.Errorf("still covariance %v, want the combined one (%v, %v) plus %v", s.posCov(), c.p[0][0], c.p[1][1], arrivalSpread)
	}
}
