package tracker

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestDistanceModel(t *testing.T) {
	tests := []struct {
		name         string
		rssi, ref, n float64
		want         float64
	}{
		{"at 1 m", -59, -59, 2.5, 1},
		{"10 m", -84, -59, 2.5, 10},
		{"n=2, 20 dB", -79, -59, 2, 10},
		{"4 m", -59 - 10*2.5*math.Log10(4), -59, 2.5, 4},
		{"closer than 0.5 m clamps", -40, -59, 2.5, 0.5},
		{"farther than 30 m clamps", -130, -59, 2.5, 30},
		{"calibrated gateway", -75, -65, 2, math.Pow(10, 0.5)},
	}
	for _, tt := range tests {
		if got := distance(tt.rssi, tt.ref, tt.n); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: distance(%v, %v, %v) = %v, want %v", tt.name, tt.rssi, tt.ref, tt.n, got, tt.want)
		}
	}
}

func TestReferencePowerAndPathLoss(t *testing.T) {
	e := newEngine(Config{DefaultRSSIAt1m: -61, DefaultPathLoss: 3}, Site{})
	calibrated := &gatewayInfo{rssiAt1m: -65, pathLoss: 2.2}
	plain := &gatewayInfo{}
	tests := []struct {
		name     string
		txPower  float64
		g        *gatewayInfo
		wantRef  float64
		wantLoss float64
	}{
		{"tag TxPower wins", -55, calibrated, -55, 2.2},
		{"gateway calibration", 0, calibrated, -65, 2.2},
		{"defaults", 0, plain, -61, 3},
		{"tag TxPower, default loss", -57, plain, -57, 3},
	}
	for _, tt := range tests {
		ts := &tagState{txPower: tt.txPower}
		if got := e.referencePower(ts, tt.g); got != tt.wantRef {
			t.Errorf("%s: referencePower = %v, want %v", tt.name, got, tt.wantRef)
		}
		if got := e.pathLoss(tt.g); got != tt.wantLoss {
			t.Errorf("%s: pathLoss = %v, want %v", tt.name, got, tt.wantLoss)
		}
	}
}

func TestObserveTxPower(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 5, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 7}},
	}
	tests := []struct {
		tx   []float64
		want float64
	}{
		{[]float64{0}, 0},
		{[]float64{-62}, -62},
		{[]float64{-62, 0}, -62},          // a gateway that does not decode it keeps the known value
		{[]float64{-62, -70}, -70},        // the newest advertised value wins
		{[]float64{-62, 4}, -62},          // positive: garbage
		{[]float64{-62, math.NaN()}, -62}, // not finite
		{[]float64{math.Inf(-1)}, 0},
	}
	for _, tt := range tests {
		e := newEngine(Config{}, site)
		for i, tx := range tt.tx {
			s := sight(float64(i), 1, "t", -70)
			s.TxPower = tx
			observeAll(t, e, s)
		}
		if got := e.tags["t"].txPower; got != tt.want {
			t.Errorf("TxPower %v: stored %v, want %v", tt.tx, got, tt.want)
		}
	}
}

func TestLinkEstimate(t *testing.T) {
	type sample struct {
		sec  float64
		rssi float64
	}
	series := func(from, n int, rssi float64) []sample {
		var s []sample
		for i := range n {
			s = append(s, sample{float64(from+i) * 0.1, rssi})
		}
		return s
	}
	ms := func(sec float64) int32 { return int32(math.Round(sec * 1000)) }
	tests := []struct {
		name       string
		samples    []sample
		cutoff     float64 // seconds
		k          float64
		want       float64
		wantN      int
		wantNewest float64
		wantOK     bool
	}{
		{"single", []sample{{1, -70}}, 0, 2.5, -70, 1, 1, true},
		{"two: their mean", []sample{{1, -70}, {1.1, -60}}, 0, 2.5, -65, 2, 1.1, true},
		{"odd, none rejected: the mean", []sample{{1, -70}, {1.1, -60}, {1.2, -80}}, 0, 2.5, -70, 3, 1.2, true},
		{"even, none rejected", []sample{{1, -70}, {1.1, -60}, {1.2, -80}, {1.3, -66}}, 0, 2.5, -69, 4, 1.3, true},
		{"outlier burst rejected", append(series(0, 8, -60), series(8, 3, -95)...), -1, 2.5, -60, 8, 1.0, true},
		{"burst of strong reflections rejected", append(series(0, 9, -72), series(9, 4, -48)...), -1, 2.5, -72, 9, 1.2, true},
		{"spread samples keep their mean", []sample{{0, -70}, {0.1, -72}, {0.2, -68}, {0.3, -71}, {0.4, -69}}, -1, 2.5, -70, 5, 0.4, true},
		{"one far sample among spread ones", []sample{{0, -70}, {0.1, -72}, {0.2, -68}, {0.3, -71}, {0.4, -69}, {0.5, -90}}, -1, 2.5, -70, 5, 0.5, true},
		{"old samples leave the window", append(series(0, 5, -90), series(50, 3, -60)...), 4, 2.5, -60, 3, 5.2, true},
		{"cutoff is exclusive", []sample{{2, -70}, {3, -60}}, 2, 2.5, -60, 1, 3, true},
		{"nothing in the window", []sample{{1, -70}}, 1, 2.5, 0, 0, 0, false},
		{"ring keeps the newest 16", append(series(0, 16, -90), series(16, 16, -60)...), -1, 2.5, -60, 16, 3.1, true},
		{"out-of-order arrival", []sample{{3, -61}, {1, -90}, {2, -62}}, 1.5, 2.5, -61.5, 2, 3, true},
		{"rejection off: the plain median", append(series(0, 8, -60), series(8, 3, -95)...), -1, 0, -60, 11, 1.0, true},
		{"fractional dBm kept to 0.01", []sample{{1, -70.25}}, 0, 2.5, -70.25, 1, 1, true},
	}
	for _, tt := range tests {
		var l link
		for _, s := range tt.samples {
			l.add(ms(s.sec), s.rssi)
		}
		est, ok := l.estimate(ms(tt.cutoff), tt.k)
		if ok != tt.wantOK {
			t.Errorf("%s: ok = %v, want %v", tt.name, ok, tt.wantOK)
			continue
		}
		if !ok {
			continue
		}
		if math.Abs(est.rssi-tt.want) > 1e-9 || est.n != tt.wantN || est.newest != ms(tt.wantNewest) {
			t.Errorf("%s: estimate = %.3f dBm from %d samples, newest %d ms; want %.3f, %d, %d",
				tt.name, est.rssi, est.n, est.newest, tt.want, tt.wantN, ms(tt.wantNewest))
		}
	}
}

func TestLinkEstimateTimes(t *testing.T) {
	var l link
	for i, r := range []float64{-60, -61, -59, -95} { // the last one is rejected
		l.add(int32(1000*i), r)
	}
	est, ok := l.estimate(-1, 2.5)
	if !ok || est.n != 3 || est.total != 4 || est.tMean != 1000 || est.newest != 3000 {
		t.Errorf("estimate = %+v, want 3 of 4 samples, mean time 1000 ms, newest 3000 ms", est)
	}
	if est.spread <= 0 {
		t.Errorf("spread %v, want > 0", est.spread)
	}
}

func TestMAD(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		n := 1 + rng.IntN(ringSize)
		v := make([]float64, n)
		for i := range v {
			v[i] = math.Round(rng.NormFloat64() * 6)
		}
		slices.Sort(v)
		med := medianSorted(v)
		dev := make([]float64, n)
		for i, x := range v {
			dev[i] = math.Abs(x - med)
		}
		slices.Sort(dev)
		if got, want := mad(v, med), medianSorted(dev); got != want {
			t.Fatalf("mad(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestLinkShift(t *testing.T) {
	var l link
	l.add(100, -60)
	l.add(relMin+5, -60)
	l.shift(50)
	if l.times[0] != 50 || l.times[1] != relMin {
		t.Errorf("times after shift = %v, want 50 and relMin", l.times[:2])
	}
}

func TestTruncationBias(t *testing.T) {
	const sigma = 4.5
	if got := truncationBias(-60, -95, sigma); got != 0 {
		t.Errorf("far above the floor: bias %v, want 0", got)
	}
	if got := truncationBias(-96, -95, sigma); got != 2*sigma {
		t.Errorf("below the floor: bias %v, want the cap %v", got, 2*sigma)
	}
	if got := truncationBias(-80, -95, 0); got != 0 {
		t.Errorf("no sigma: bias %v, want 0", got)
	}
	if got := truncationBias(math.NaN(), -95, sigma); got != 0 {
		t.Errorf("NaN: bias %v, want 0", got)
	}
	prev := math.Inf(1)
	for u := 0.0; u < 3; u += 0.05 {
		b := truncationBias(-95+u*sigma, -95, sigma)
		if b > prev+1e-12 || b < 0 || b > 2*sigma {
			t.Fatalf("bias at u=%.2f is %v after %v: want falling within [0, 2σ]", u, b, prev)
		}
		if direct := sigma * solveTruncation(u); math.Abs(b-direct) > 0.02*sigma {
			t.Errorf("u=%.2f: table %v, direct %v", u, b, direct)
		}
		prev = b
	}

	// The correction recovers the mean of readings cut at the floor.
	rng := rand.New(rand.NewPCG(3, 4))
	for _, mu := range []float64{-90, -95, -98} {
		var sum float64
		n := 0
		for range 200000 {
			if x := mu + sigma*rng.NormFloat64(); x >= -95 {
				sum += x
				n++
			}
		}
		m := sum / float64(n)
		if got := m - truncationBias(m, -95, sigma); math.Abs(got-mu) > 0.3 {
			t.Errorf("true mean %v: heard mean %.2f corrected to %.2f", mu, m, got)
		}
	}
}

func TestSensitivity(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 5, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	learn := func(cfg Config, n int) *Engine {
		e := newEngine(cfg, site)
		for i := range n {
			observeAll(t, e, sight(float64(i)*0.01, 1, "t", -80-float64(i%11)))
		}
		return e
	}
	g := func(e *Engine) *gatewayInfo { return e.gateways[1] }
	if _, ok := learn(Config{}, sensitivityLearn-1).sensitivity(g(learn(Config{}, sensitivityLearn-1))); ok {
		t.Error("sensitivity learned from too few sightings")
	}
	e := learn(Config{}, sensitivityLearn)
	if s, ok := e.sensitivity(g(e)); !ok || s != -90 {
		t.Errorf("learned sensitivity %v, %v; want -90, true", s, ok)
	}
	e = learn(Config{Sensitivity: -97}, 1)
	if s, ok := e.sensitivity(g(e)); !ok || s != -97 {
		t.Errorf("configured sensitivity %v, %v; want -97, true", s, ok)
	}
	e = learn(Config{Sensitivity: -200}, sensitivityLearn)
	if _, ok := e.sensitivity(g(e)); ok {
		t.Error("sensitivity below -130 should turn the correction off")
	}
	// What a gateway has reported survives SetSite.
	e = learn(Config{}, sensitivityLearn)
	e.SetSite(site)
	if s, ok := e.sensitivity(g(e)); !ok || s != -90 {
		t.Errorf("after SetSite: sensitivity %v, %v; want -90, true", s, ok)
	}
}

func TestGatherAppliesOffsetAndSensitivity(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 5, 5), gw(2, 1, 15, 5)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	site.Gateways[0].RxOffset = 6
	e := newEngine(Config{Sensitivity: -95}, site)
	observeAll(t, e, sight(0, 1, "t", -70), sight(0, 2, "t", -94))
	ts := e.tags["t"]
	fs := e.gather(ts, ts.rel(at(-1).UnixMilli()), nil)
	if len(fs) != 2 || fs[0].gateway.id != 1 || fs[0].rssi != -64 {
		t.Fatalf("fixes %+v, want gateway 1 first at -70+6 dBm", fs)
	}
	if want := -94 - truncationBias(-94, -95, e.cfg.RSSINoise); math.Abs(fs[1].rssi-want) > 1e-9 || fs[1].rssi >= -94 {
		t.Errorf("weak link read %v, want corrected to %v", fs[1].rssi, want)
	}
	if fs[1].sigma <= fs[0].sigma {
		t.Errorf("the corrected link's sigma %v should exceed the plain one's %v", fs[1].sigma, fs[0].sigma)
	}
}

func TestTimeBaseMoves(t *testing.T) {
	site := zoneSite()
	e := newEngine(Config{}, site)
	observeAll(t, e, sight(0, 'A', "t", -60))
	ts := e.tags["t"]
	base := ts.base
	later := float64(relMax/1000) + 100 // beyond the int32 range of the first base
	observeAll(t, e, sight(later, 'A', "t", -61), sight(later+0.5, 'B', "t", -75))
	if ts.base == base {
		t.Fatal("time base did not move")
	}
	out := e.Update(at(later + 1))
	p := onePosition(t, out, "t")
	if !p.Time.Equal(at(later + 0.5)) {
		t.Errorf("position time %v, want %v", p.Time, at(later+0.5))
	}
	if d := time.Duration(ts.base-base) * time.Millisecond; d < time.Duration(relMax)*time.Millisecond {
		t.Errorf("base moved by %v", d)
	}
	if n := ts.links[0].n; n != 2 {
		t.Errorf("link A holds %d samples, want 2 (the old one shifted, not lost)", n)
	}
}

func TestOutlierBurstDoesNotMoveTag(t *testing.T) {
	site := Site{
		Floors:   []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Gateways: []wardwatch.Gateway{gw(1, 1, 2, 5), gw(2, 1, 18, 5), gw(3, 1, 10, 1), gw(4, 1, 10, 9)},
		Tags:     []wardwatch.Tag{{ID: "t", AssetID: 1}},
	}
	p := wardwatch.Point{X: 6, Y: 5}
	e := newEngine(Config{}, site)
	var before wardwatch.Position
	for i := range 16 {
		sec := float64(i) * 0.25
		hearAt(t, e, site, "t", p, sec, nil)
		if i%2 == 1 {
			before = onePosition(t, e.Update(at(sec)), "t")
		}
	}
	for i := range 3 { // three reflections make gateway 2 look 20 dB closer
		observeAll(t, e, sight(4+float64(i)*0.1, 2, "t", modelRSSI(site.Gateways[1], p)+20))
	}
	after := onePosition(t, e.Update(at(4.3)), "t")
	if d := math.Hypot(after.At.X-before.At.X, after.At.Y-before.At.Y); d > 0.3 {
		t.Errorf("burst moved the tag %.2f m, from %v to %v", d, before.At, after.At)
	}
	if d := math.Hypot(after.At.X-p.X, after.At.Y-p.Y); d > 0.5 {
		t.Errorf("tag at %v, want near %v", after.At, p)
	}
}
