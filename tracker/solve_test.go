package tracker

import (
	"fmt"
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// fixesAt makes the links of a tag at p heard by gateways, reading the
// model's RSSI plus the given offsets (dB, per gateway), ready for solve.
func fixesAt(e *Engine, gateways []wardwatch.Gateway, p wardwatch.Point, offsets ...float64) []rangeFix {
	ts := &tagState{}
	var fs []rangeFix
	for i, g := range gateways {
		rssi := modelRSSI(g, p)
		if i < len(offsets) {
			rssi += offsets[i]
		}
		fs = append(fs, rangeFix{gateway: e.gateways[g.ID], rssi: rssi, sigma: 2})
	}
	fs, _, _ = e.prepare(ts, fs, gateways[0].FloorID)
	return fs
}

func solveSite(gateways ...wardwatch.Gateway) (*Engine, Site) {
	site := Site{Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}, Gateways: gateways}
	return newEngine(Config{MaxGateways: 16}, site), site
}

func TestSolveNearest(t *testing.T) {
	e, _ := solveSite(gw(1, 1, 2, 5), gw(2, 1, 18, 5))
	one := fixesAt(e, []wardwatch.Gateway{gw(2, 1, 18, 5)}, wardwatch.Point{X: 17, Y: 5})
	if fx := solve(solveInput{fixes: one}); fx.at != (wardwatch.Point{X: 18, Y: 5}) || fx.solver != SolverNearest {
		t.Errorf("one gateway: %+v, want at the gateway, solver nearest", fx)
	}
	equal := fixesAt(e, []wardwatch.Gateway{gw(1, 1, 2, 5), gw(2, 1, 18, 5)}, wardwatch.Point{X: 10, Y: 5})
	if fx := solve(solveInput{fixes: equal}); !near1(fx.at.X, 10) || !near1(fx.at.Y, 5) || fx.solver != SolverNearest {
		t.Errorf("two equal links: %+v, want midway, solver nearest", fx)
	}
	closer := fixesAt(e, []wardwatch.Gateway{gw(1, 1, 2, 5), gw(2, 1, 18, 5)}, wardwatch.Point{X: 6, Y: 5})
	fx := solve(solveInput{fixes: closer})
	if math.Abs(fx.at.X-6) > 1e-6 || !near1(fx.at.Y, 5) {
		t.Errorf("two links, ranges 4 and 12: %+v, want the range split at x=6", fx)
	}
	if confidenceOf(fx.cov) >= confidenceOf(solve(solveInput{fixes: one}).cov)+0.5 {
		t.Error("nearest fixes should not be confident")
	}
}

func TestSolveLM(t *testing.T) {
	corners := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8)}
	high := func(gs []wardwatch.Gateway, z float64) []wardwatch.Gateway {
		out := make([]wardwatch.Gateway, len(gs))
		for i, g := range gs {
			g.Z = z
			out[i] = g
		}
		return out
	}
	six := append(append([]wardwatch.Gateway{}, corners...), gw(5, 1, 10, 1), gw(6, 1, 10, 9))
	tests := []struct {
		name     string
		gateways []wardwatch.Gateway
		at       wardwatch.Point
		offsets  []float64
		prior    *wardwatch.Point
		maxErr   float64
	}{
		{"exact readings, centre", corners, wardwatch.Point{X: 10, Y: 5}, nil, nil, 0.01},
		{"exact readings, off centre", corners, wardwatch.Point{X: 5, Y: 3}, nil, nil, 0.01},
		{"ceiling gateways", high(corners, 3), wardwatch.Point{X: 7, Y: 6}, nil, nil, 0.01},
		{"started from a prior", corners, wardwatch.Point{X: 14, Y: 7}, nil, &wardwatch.Point{X: 13, Y: 6}, 0.01},
		{"one link 15 dB off among six", six, wardwatch.Point{X: 7, Y: 4}, []float64{0, 0, 15, 0, 0, 0}, nil, 0.6},
		{"noisy readings", six, wardwatch.Point{X: 12, Y: 6}, []float64{2, -1, -2, 1, 1.5, -2}, nil, 1.5},
	}
	for _, tt := range tests {
		e, _ := solveSite(tt.gateways...)
		in := solveInput{fixes: fixesAt(e, tt.gateways, tt.at, tt.offsets...), bounds: rect{-2, -2, 22, 12}}
		if tt.prior != nil {
			in.prior, in.hasPrior = *tt.prior, true
		}
		fx := solve(in)
		if d := floorDistance(fx.at, tt.at); d > tt.maxErr || fx.solver != SolverLM {
			t.Errorf("%s: %+v, %.3f m off; want solver lm within %v m", tt.name, fx, d, tt.maxErr)
		}
		if c := confidenceOf(fx.cov); !(c > 0 && c <= 1) {
			t.Errorf("%s: confidence %v", tt.name, c)
		}
	}
}

func TestSolveHuberBeatsLeastSquares(t *testing.T) {
	gs := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8), gw(5, 1, 10, 1), gw(6, 1, 10, 9)}
	e, _ := solveSite(gs...)
	p := wardwatch.Point{X: 7, Y: 4}
	fs := fixesAt(e, gs, p, 0, 0, 20, 0, 0, 0)
	robust := solve(solveInput{fixes: fs})
	// Plain least squares: the same fit with the Huber threshold out of reach.
	var axx, axy, ayy, gx, gy float64
	q := centroid(fs)
	for range 50 {
		axx, axy, ayy, gx, gy = 0, 0, 0, 0, 0
		for i := range fs {
			r, jx, jy := residual(&fs[i], q, 0)
			axx, axy, ayy = axx+jx*jx, axy+jx*jy, ayy+jy*jy
			gx, gy = gx+r*jx, gy+r*jy
		}
		det := axx*ayy - axy*axy
		q.X -= (ayy*gx - axy*gy) / det
		q.Y -= (axx*gy - axy*gx) / det
	}
	if floorDistance(robust.at, p) >= floorDistance(q, p) {
		t.Errorf("Huber fit %.2f m off, plain least squares %.2f m: the robust fit should do better", floorDistance(robust.at, p), floorDistance(q, p))
	}
}

func TestSolveFallsBackToCentroid(t *testing.T) {
	// Three gateways in a row, read as if the tag were 12 m off their
	// line: the fit lands beyond the floor's bounds, so the centroid
	// stands in.
	gs := []wardwatch.Gateway{gw(1, 1, 4, 5), gw(2, 1, 10, 5), gw(3, 1, 16, 5)}
	e, _ := solveSite(gs...)
	fs := fixesAt(e, gs, wardwatch.Point{X: 10, Y: 17})
	prior := wardwatch.Point{X: 10, Y: 8}
	fx := solve(solveInput{fixes: fs, bounds: rect{-2, -2, 22, 12}, prior: prior, hasPrior: true})
	if fx.solver != SolverCentroid || !near1(fx.at.Y, 5) {
		t.Errorf("fix %+v, want the centroid on the gateways' line", fx)
	}
	if fx := solve(solveInput{fixes: fs, prior: prior, hasPrior: true}); fx.solver != SolverLM || math.Abs(fx.at.Y-17) > 0.01 {
		t.Errorf("unbounded: %+v, want lm at y=17", fx)
	}
}

func TestSolveCovariance(t *testing.T) {
	around := []wardwatch.Gateway{gw(1, 1, 4, 2), gw(2, 1, 16, 2), gw(3, 1, 16, 8), gw(4, 1, 4, 8)}
	oneSide := []wardwatch.Gateway{gw(1, 1, 1, 1), gw(2, 1, 1, 4), gw(3, 1, 1, 7), gw(4, 1, 2, 9)}
	p := wardwatch.Point{X: 10, Y: 5}
	e1, _ := solveSite(around...)
	e2, _ := solveSite(oneSide...)
	good := solve(solveInput{fixes: fixesAt(e1, around, p)})
	poor := solve(solveInput{fixes: fixesAt(e2, oneSide, p)})
	if !(confidenceOf(good.cov) > confidenceOf(poor.cov)) {
		t.Errorf("surrounded: confidence %v; one-sided: %v; the surrounded fix should be surer", confidenceOf(good.cov), confidenceOf(poor.cov))
	}
	if poor.cov.yy <= poor.cov.xx {
		t.Errorf("gateways along x=1: uncertainty %+v should be larger along their line (y) than towards them (x)", poor.cov)
	}
	bad := solve(solveInput{fixes: fixesAt(e1, around, p, 9, -9, 9, -9)})
	if !(bad.cov.trace() > good.cov.trace()) {
		t.Errorf("inconsistent readings: trace %v, consistent %v", bad.cov.trace(), good.cov.trace())
	}
}

func TestConfidenceOf(t *testing.T) {
	prev := 2.0
	for _, s := range []float64{0.5, 1, 2, 4, 8} {
		c := confidenceOf(cov2{xx: s * s, yy: s * s})
		if !(c < prev && c > 0 && c < 1) {
			t.Errorf("σ %v m: confidence %v after %v; want falling in (0,1)", s, c, prev)
		}
		prev = c
	}
	if confidenceOf(cov2{}) != 1 || confidenceOf(cov2{xx: math.Inf(1)}) != 0 {
		t.Error("zero covariance should give 1 and infinite 0")
	}
}

func TestLevenbergMarquardtDiverges(t *testing.T) {
	gs := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 10, 8)}
	e, _ := solveSite(gs...)
	fs := fixesAt(e, gs, wardwatch.Point{X: 10, Y: 4})
	if _, _, ok := levenbergMarquardt(fs, wardwatch.Point{X: 1e9, Y: -1e9}, offsetPrior{}); ok {
		t.Error("a start beyond every gateway's reach should fail")
	}
	if p, _, ok := levenbergMarquardt(fs, wardwatch.Point{X: math.NaN(), Y: 0}, offsetPrior{}); ok {
		t.Errorf("a NaN start should fail, got %v", p)
	}
}

func TestEngineSolverNames(t *testing.T) {
	corners := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8)}
	tests := []struct {
		gateways []wardwatch.Gateway
		want     string
	}{
		{corners[:1], SolverNearest},
		{corners[:2], SolverNearest},
		{corners[:3], SolverLM},
		{corners, SolverLM},
	}
	for _, tt := range tests {
		site := Site{Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}, Gateways: tt.gateways, Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}}}
		e := newEngine(Config{}, site)
		hearAt(t, e, site, "t", wardwatch.Point{X: 9, Y: 4}, 0, nil)
		p := onePosition(t, e.Update(at(1)), "t")
		if p.Solver != tt.want || !(p.Confidence > 0 && p.Confidence <= 1) {
			t.Errorf("%d gateways: solver %q confidence %v, want %q", len(tt.gateways), p.Solver, p.Confidence, tt.want)
		}
	}
}

func TestClampToFloor(t *testing.T) {
	floor := []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}
	tests := []struct {
		name     string
		gateways []wardwatch.Gateway
		want     wardwatch.Point
		halved   bool
	}{
		{"single gateway off the plan", []wardwatch.Gateway{gw(1, 1, 25, -3)}, wardwatch.Point{X: 20 - floorInset, Y: floorInset}, true},
		{"nearest between two off the plan", []wardwatch.Gateway{gw(1, 1, -4, 12), gw(2, 1, -2, 14)}, wardwatch.Point{X: floorInset, Y: 10 - floorInset}, true},
		{"on the plan's edge: inside", []wardwatch.Gateway{gw(1, 1, 20, 10)}, wardwatch.Point{X: 20 - floorInset, Y: 10 - floorInset}, false},
	}
	for _, tt := range tests {
		e := newEngine(Config{}, Site{Floors: floor, Gateways: tt.gateways, Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}}})
		for _, g := range tt.gateways {
			observeAll(t, e, sight(0, g.ID, "t", -70))
		}
		p := onePosition(t, e.Update(at(1)), "t")
		if math.Abs(p.At.X-tt.want.X) > 1e-9 || math.Abs(p.At.Y-tt.want.Y) > 1e-9 {
			t.Errorf("%s: at %v, want %v", tt.name, p.At, tt.want)
		}
		full := confidenceOf(e.tags["t"].kf.publishCov(at(1)))
		if halved := p.Confidence < full-1e-9; halved != tt.halved {
			t.Errorf("%s: confidence %v (unclamped %v), halved = %v, want %v", tt.name, p.Confidence, full, halved, tt.halved)
		}
	}
}

func ExampleEngine() {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8)},
		Tags:     []wardwatch.Tag{{ID: "pump-1", AssetID: 1}},
	}
	e := New(Config{}, site)
	var out Output
	for sec := 0.0; sec <= 4; sec += 0.5 { // a first fix waits for FirstFix (4 s) of sightings
		for _, g := range site.Gateways {
			e.Observe(wardwatch.Sighting{Time: at(sec), GatewayID: g.ID, TagID: "pump-1", RSSI: modelRSSI(g, wardwatch.Point{X: 10, Y: 5})})
		}
		out = e.Update(at(sec + 0.25))
	}
	p := out.Positions[0]
	fmt.Printf("%s at (%.1f, %.1f) by %s, %s\n", p.TagID, p.At.X, p.At.Y, p.Solver, p.State)
	// Output: pump-1 at (10.0, 5.0) by lm, stationary
}

func TestOffsetFit(t *testing.T) {
	// Every reading 8 dB weaker than the model says (a weak tag, or a wall
	// to every gateway), from a tag off centre among six gateways.
	gs := []wardwatch.Gateway{gw(1, 1, 2, 2), gw(2, 1, 18, 2), gw(3, 1, 18, 8), gw(4, 1, 2, 8), gw(5, 1, 10, 1), gw(6, 1, 10, 9)}
	p := wardwatch.Point{X: 6, Y: 3}
	site := Site{Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}}, Gateways: gs, Tags: []wardwatch.Tag{{ID: "t", AssetID: 1}}}
	run := func(cfg Config) (wardwatch.Point, float64) {
		e := newEngine(cfg, site)
		var last wardwatch.Position
		for i := range 120 {
			sec := float64(i) * 0.5
			hearAt(t, e, site, "t", p, sec, func(int) float64 { return -8 })
			last = onePosition(t, e.Update(at(sec+0.25)), "t")
		}
		return last.At, e.tags["t"].offset
	}
	plain, off0 := run(Config{})
	fitted, off := run(Config{OffsetSigma: 3})
	if off0 != 0 {
		t.Errorf("offset %v kept with the fit off", off0)
	}
	if !(off < -4) {
		t.Errorf("smoothed offset %v dB after 60 s, want well on its way to -8", off)
	}
	if floorDistance(fitted, p) >= floorDistance(plain, p) {
		t.Errorf("with the offset fitted the tag is %.2f m off, without %.2f m: want closer", floorDistance(fitted, p), floorDistance(plain, p))
	}
}
