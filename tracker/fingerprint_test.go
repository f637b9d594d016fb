package tracker

import (
	"math"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// fakeMap is a Fingerprinter that answers with a fixed point and
// confidence, and records what it was asked.
type fakeMap struct {
	p     wardwatch.Point
	conf  float64
	ok    bool
	floor int64
	rssi  map[int64]float64
}

func (m *fakeMap) Locate(floor int64, rssi map[int64]float64) (wardwatch.Point, float64, bool) {
	m.floor = floor
	m.rssi = make(map[int64]float64, len(rssi))
	for k, v := range rssi {
		m.rssi[k] = v
	}
	return m.p, m.conf, m.ok
}

func TestFingerprintBlend(t *testing.T) {
	site := cornerSite()
	truth := wardwatch.Point{X: 6, Y: 5}
	ranging := func() wardwatch.Position {
		e := newEngine(Config{}, site)
		hearAt(t, e, site, "t", truth, 0, nil)
		return onePosition(t, e.Update(at(0.5)), "t")
	}()
	tests := []struct {
		name       string
		m          *fakeMap
		wantSolver string
		check      func(p wardwatch.Position) bool
	}{
		{"confident map pulls the fix", &fakeMap{p: wardwatch.Point{X: 14, Y: 5}, conf: 0.95, ok: true}, SolverLM + "+fingerprint",
			func(p wardwatch.Position) bool { return p.At.X > ranging.At.X+1 && p.At.X < 14 }},
		{"unsure map barely moves it", &fakeMap{p: wardwatch.Point{X: 14, Y: 5}, conf: 0.02, ok: true}, SolverLM + "+fingerprint",
			func(p wardwatch.Position) bool { return math.Abs(p.At.X-ranging.At.X) < 0.5 }},
		{"no answer: ranging alone", &fakeMap{p: wardwatch.Point{X: 14, Y: 5}, conf: 0.9, ok: false}, SolverLM,
			func(p wardwatch.Position) bool { return p.At == ranging.At }},
		{"NaN answer ignored", &fakeMap{p: wardwatch.Point{X: math.NaN(), Y: 5}, conf: 0.9, ok: true}, SolverLM,
			func(p wardwatch.Position) bool { return p.At == ranging.At }},
		{"certainty is capped", &fakeMap{p: wardwatch.Point{X: 14, Y: 5}, conf: 1, ok: true}, SolverLM + "+fingerprint",
			func(p wardwatch.Position) bool { return !math.IsNaN(p.At.X) && p.At.X > ranging.At.X }},
	}
	for _, tt := range tests {
		s := site
		s.Fingerprints = tt.m
		e := newEngine(Config{}, s)
		hearAt(t, e, s, "t", truth, 0, nil)
		p := onePosition(t, e.Update(at(0.5)), "t")
		if p.Solver != tt.wantSolver || !tt.check(p) {
			t.Errorf("%s: %+v (ranging alone at %v), want solver %s", tt.name, p, ranging.At, tt.wantSolver)
		}
		if tt.m.floor != 1 || len(tt.m.rssi) != 4 {
			t.Errorf("%s: Locate asked for floor %d with %v", tt.name, tt.m.floor, tt.m.rssi)
		}
		if g := site.Gateways[0]; math.Abs(tt.m.rssi[g.ID]-modelRSSI(g, truth)) > 0.01 {
			t.Errorf("%s: RSSI of gateway %d passed as %v, want %v", tt.name, g.ID, tt.m.rssi[g.ID], modelRSSI(g, truth))
		}
	}
}
