package calibrate

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// truth is a gateway's true radio parameters in a synthetic survey.
type truth struct {
	A, n, off float64 // RSSI at 1 m, path-loss exponent, RxOffset (dB added to reported RSSI)
}

// synthRSSI is what gateway g reports for a transmitter at (at, z) under
// the true parameters, before noise.
func synthRSSI(g wardwatch.Gateway, tr truth, at wardwatch.Point, z float64) float64 {
	dx, dy, dz := at.X-g.At.X, at.Y-g.At.Y, z-g.Z
	d := max(math.Sqrt(dx*dx+dy*dy+dz*dz), MinDistance)
	return tr.A - 10*tr.n*math.Log10(d) - tr.off
}

// surveyGateways is six gateways on a 30 × 20 m floor at 2.5 m.
func surveyGateways() []wardwatch.Gateway {
	var gws []wardwatch.Gateway
	for i, p := range []wardwatch.Point{{X: 2, Y: 2}, {X: 15, Y: 2}, {X: 28, Y: 2}, {X: 2, Y: 18}, {X: 15, Y: 18}, {X: 28, Y: 18}} {
		gws = append(gws, wardwatch.Gateway{ID: int64(10 + i), FloorID: 1, At: p, Z: 2.5})
	}
	return gws
}

// survey makes perGW observations per gateway of a tag at 1 m height, as a
// survey would take them: at random bearings from the gateway and at
// distances spread evenly in log-distance over 0.5–30 m (the surveyor
// stands under each gateway as well as far from it). The RSSI has Gaussian
// noise sigma and a fraction outliers of readings 20 dB low. txPower, when
// not 0, is advertised by every other observation, whose RSSI then moves
// with it.
func survey(seed uint64, gws []wardwatch.Gateway, tr map[int64]truth, perGW int, sigma, outliers, txPower float64) []Observation {
	rng := rand.New(rand.NewPCG(seed, 7))
	var obs []Observation
	for _, g := range gws {
		for i := range perGW {
			r := 0.5 * math.Pow(60, rng.Float64())
			a := rng.Float64() * 2 * math.Pi
			at := wardwatch.Point{X: g.At.X + r*math.Cos(a), Y: g.At.Y + r*math.Sin(a)}
			o := Observation{GatewayID: g.ID, At: at, Z: 1, Floor: g.FloorID}
			o.RSSI = synthRSSI(g, tr[g.ID], at, 1) + sigma*rng.NormFloat64()
			if rng.Float64() < outliers {
				o.RSSI -= 20
			}
			if txPower != 0 && i%2 == 1 {
				o.TxPower = txPower
				o.RSSI += txPower - DefaultRefRSSIAt1m
			}
			obs = append(obs, o)
		}
	}
	return obs
}

func reportFor(t *testing.T, res Result, id int64) GatewayReport {
	t.Helper()
	for _, r := range res.Reports {
		if r.GatewayID == id {
			return r
		}
	}
	t.Fatalf("no report for gateway %d", id)
	return GatewayReport{}
}

func TestFitSurveyRecovers(t *testing.T) {
	gws := surveyGateways()
	tr := map[int64]truth{10: {-59, 2.0, 0}, 11: {-62, 2.5, 0}, 12: {-55, 3.0, 0}, 13: {-66, 2.2, 0}, 14: {-50, 3.5, 0}, 15: {-70, 1.8, 0}}
	tests := []struct {
		name     string
		perGW    int
		sigma    float64
		outliers float64
		txPower  float64
	}{
		{"sigma 4 dB, 200 points", 200, 4, 0, 0},
		{"sigma 2 dB, 1000 points", 1000, 2, 0, 0},
		{"sigma 4 dB, 10% outliers at -20 dB", 400, 4, 0.10, 0},
		{"sigma 4 dB, mixed TxPower", 300, 4, 0, -65},
		{"sigma 5 dB, 10% outliers, mixed TxPower", 1000, 5, 0.10, -52},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := survey(uint64(i+1), gws, tr, tt.perGW, tt.sigma, tt.outliers, tt.txPower)
			res, err := FitSurvey(gws, obs, FitOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, g := range gws {
				r := reportFor(t, res, g.ID)
				want := tr[g.ID]
				if !r.Fitted || len(r.AtBound) > 0 || r.N != tt.perGW {
					t.Fatalf("gateway %d: %+v", g.ID, r)
				}
				if math.Abs(r.RSSIAt1m-want.A) > 1.5 || math.Abs(r.PathLossExponent-want.n) > 0.2 {
					t.Errorf("gateway %d: A = %.2f, n = %.3f; want %.1f ± 1.5, %.2f ± 0.2", g.ID, r.RSSIAt1m, r.PathLossExponent, want.A, want.n)
				}
				if tt.outliers == 0 && math.Abs(r.RMSE-tt.sigma) > 0.2*tt.sigma {
					t.Errorf("gateway %d: RMSE %.2f, noise was %.1f", g.ID, r.RMSE, tt.sigma)
				}
				if r.MedianAbsResidual <= 0 || r.MedianAbsResidual > r.RMSE*1.1 {
					t.Errorf("gateway %d: median |residual| %.2f, RMSE %.2f", g.ID, r.MedianAbsResidual, r.RMSE)
				}
			}
			for _, g := range res.Gateways {
				r := reportFor(t, res, g.ID)
				if g.RSSIAt1m != r.RSSIAt1m || g.PathLossExponent != r.PathLossExponent || g.RxOffset != 0 {
					t.Errorf("gateway %d not updated from its report: %+v", g.ID, g)
				}
			}
		})
	}
}

// TestHuberResistsOutliers checks that 10 % of readings 20 dB low move the
// Huber fit much less than they move ordinary least squares.
func TestHuberResistsOutliers(t *testing.T) {
	gws := surveyGateways()[:1]
	tr := map[int64]truth{10: {-59, 2.5, 0}}
	obs := survey(42, gws, tr, 2000, 4, 0.10, 0)
	res, err := FitSurvey(gws, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Reports[0]
	var pts []point
	for _, o := range obs {
		d := &gatewayData{gw: gws[0]}
		p, _ := d.point(o, FitOptions{RefRSSIAt1m: -59}, false)
		pts = append(pts, p)
	}
	ols := solveBox(weightedSums(pts, nil, 0), box{math.Inf(-1), math.Inf(1), math.Inf(-1), math.Inf(1)})
	huberErr := math.Abs(r.RSSIAt1m - -59)
	olsErr := math.Abs(ols.a - -59)
	t.Logf("A error: Huber %.2f dB, OLS %.2f dB", huberErr, olsErr)
	if huberErr > 1.0 || huberErr > olsErr/2 {
		t.Errorf("Huber A error %.2f dB, OLS %.2f dB: outliers moved the fit", huberErr, olsErr)
	}
}

func TestFitSurveyBounds(t *testing.T) {
	gws := surveyGateways()[:3]
	tr := map[int64]truth{
		10: {-59, 5.5, 0}, // exponent beyond 4.5
		11: {-25, 2.5, 0}, // RSSI at 1 m beyond -30
	}
	obs := survey(3, gws[:2], tr, 500, 1, 0, 0)
	res, err := FitSurvey(gws[:2], obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Gateway 12, surveyed from 0.3 to 3 m at its own height (log-distances
	// centred on 0, so the two parameters do not trade off), under bounds
	// both parameters exceed: it ends in the corner.
	obs = nil
	for i := range 200 {
		d := 0.3 * math.Pow(10, float64(i)/200)
		at := wardwatch.Point{X: gws[2].At.X + d, Y: gws[2].At.Y}
		obs = append(obs, Observation{GatewayID: 12, At: at, Z: gws[2].Z, RSSI: -59 - 60*math.Log10(d) + float64(i%3-1)})
	}
	corner, err := FitSurvey(gws[2:], obs, FitOptions{MaxRSSIAt1m: -65})
	if err != nil {
		t.Fatal(err)
	}
	res.Reports = append(res.Reports, corner.Reports...)
	want := map[int64][]string{
		10: {ParamPathLossExponent},
		11: {ParamRSSIAt1m},
		12: {ParamRSSIAt1m, ParamPathLossExponent},
	}
	bound := map[int64]float64{10: DefaultMaxRSSIAt1m, 11: DefaultMaxRSSIAt1m, 12: -65}
	for _, g := range gws {
		r := reportFor(t, res, g.ID)
		if !r.Fitted || !slices.Equal(r.AtBound, want[g.ID]) {
			t.Errorf("gateway %d: AtBound %v, want %v (%+v)", g.ID, r.AtBound, want[g.ID], r)
		}
		if !strings.Contains(r.Reason, "clamped") || !strings.Contains(r.Reason, "unconstrained") {
			t.Errorf("gateway %d: reason %q does not explain the clamp", g.ID, r.Reason)
		}
		for _, p := range r.AtBound {
			switch p {
			case ParamPathLossExponent:
				if r.PathLossExponent != DefaultMaxPathLoss {
					t.Errorf("gateway %d: n = %v, want the bound %v", g.ID, r.PathLossExponent, DefaultMaxPathLoss)
				}
			case ParamRSSIAt1m:
				if r.RSSIAt1m != bound[g.ID] {
					t.Errorf("gateway %d: A = %v, want the bound %v", g.ID, r.RSSIAt1m, bound[g.ID])
				}
			}
		}
	}

	// Custom, tighter bounds: ESPresense's 2.5–3.5.
	tr = map[int64]truth{10: {-59, 2.0, 0}, 11: {-59, 3.0, 0}, 12: {-59, 4.0, 0}}
	obs = survey(4, gws, tr, 500, 2, 0, 0)
	res, err = FitSurvey(gws, obs, FitOptions{MinPathLoss: 2.5, MaxPathLoss: 3.5})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int64]struct {
		n  float64
		at []string
	}{10: {2.5, []string{ParamPathLossExponent}}, 11: {3.0, nil}, 12: {3.5, []string{ParamPathLossExponent}}} {
		r := reportFor(t, res, id)
		if math.Abs(r.PathLossExponent-want.n) > 0.1 || !slices.Equal(r.AtBound, want.at) {
			t.Errorf("gateway %d: n = %.3f AtBound %v, want %.1f %v", id, r.PathLossExponent, r.AtBound, want.n, want.at)
		}
	}
}

func TestFitSurveyNotFitted(t *testing.T) {
	gws := surveyGateways()[:3]
	for i := range gws {
		gws[i].RSSIAt1m, gws[i].PathLossExponent, gws[i].RxOffset = -61, 2.7, 1.5
	}
	tr := map[int64]truth{10: {-59, 2.5, 0}, 11: {-59, 2.5, 0}, 12: {-59, 2.5, 0}}
	var obs []Observation
	// Gateway 10: four observations only.
	obs = append(obs, survey(5, gws[:1], tr, 4, 2, 0, 0)...)
	// Gateway 11: 100 observations all on a ring 5–6 m away (0.08 decades).
	rng := rand.New(rand.NewPCG(6, 6))
	for range 100 {
		a, r := rng.Float64()*2*math.Pi, 5+rng.Float64()
		at := wardwatch.Point{X: gws[1].At.X + r*math.Cos(a), Y: gws[1].At.Y + r*math.Sin(a)}
		obs = append(obs, Observation{GatewayID: 11, At: at, Z: 2.5, RSSI: synthRSSI(gws[1], tr[11], at, 2.5) + rng.NormFloat64()})
	}
	// Gateway 12: a proper survey.
	obs = append(obs, survey(7, gws[2:], tr, 100, 2, 0, 0)...)
	res, err := FitSurvey(gws, obs, FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id     int64
		fitted bool
		reason string
	}{
		{10, false, "only 4 usable observations"},
		{11, false, "decades"},
		{12, true, ""},
	}
	for _, tt := range tests {
		r := reportFor(t, res, tt.id)
		if r.Fitted != tt.fitted || !strings.Contains(r.Reason, tt.reason) {
			t.Errorf("gateway %d: Fitted %v Reason %q, want %v %q", tt.id, r.Fitted, r.Reason, tt.fitted, tt.reason)
		}
		g := res.Gateways[slices.IndexFunc(res.Gateways, func(g wardwatch.Gateway) bool { return g.ID == tt.id })]
		if !tt.fitted && (g.RSSIAt1m != -61 || g.PathLossExponent != 2.7 || g.RxOffset != 1.5 ||
			r.RSSIAt1m != -61 || r.PathLossExponent != 2.7 || r.RxOffset != 1.5 || r.RMSE != 0) {
			t.Errorf("gateway %d: calibration not kept: %+v / %+v", tt.id, g, r)
		}
		if tt.fitted && g.RxOffset != 0 {
			t.Errorf("gateway %d: RxOffset %v after an unsplit fit, want 0", tt.id, g.RxOffset)
		}
	}
}

func TestFitSurveyInvalid(t *testing.T) {
	gws := surveyGateways()[:2]
	good := survey(8, gws, map[int64]truth{10: {-59, 2.5, 0}, 11: {-59, 2.5, 0}}, 20, 2, 0, 0)
	nan := math.NaN()
	tests := []struct {
		name string
		gws  []wardwatch.Gateway
		obs  []Observation
		opt  FitOptions
	}{
		{"no gateways", nil, good, FitOptions{}},
		{"no observations", gws, nil, FitOptions{}},
		{"duplicate gateway", []wardwatch.Gateway{gws[0], gws[0]}, good, FitOptions{}},
		{"all non-finite", gws, []Observation{{GatewayID: 10, RSSI: nan}, {GatewayID: 11, At: wardwatch.Point{X: math.Inf(1)}, RSSI: -60}}, FitOptions{}},
		{"all unknown gateways", gws, []Observation{{GatewayID: 99, RSSI: -60}}, FitOptions{}},
		{"NaN bound", gws, good, FitOptions{MaxPathLoss: nan}},
		{"inverted exponent bounds", gws, good, FitOptions{MinPathLoss: 4, MaxPathLoss: 2}},
		{"negative exponent bound", gws, good, FitOptions{MinPathLoss: -1}},
		{"inverted RSSI bounds", gws, good, FitOptions{MinRSSIAt1m: -20, MaxRSSIAt1m: -40}},
		{"positive reference power", gws, good, FitOptions{RefRSSIAt1m: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, f := range []func([]wardwatch.Gateway, []Observation, FitOptions) (Result, error){FitSurvey, FitGatewayToGateway} {
				_, err := f(tt.gws, tt.obs, tt.opt)
				if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
					t.Errorf("err = %v, want EINVALID", err)
				}
				var we *wardwatch.Error
				if err != nil && !errors.As(err, &we) {
					t.Errorf("err %T is not a *wardwatch.Error", err)
				}
			}
		})
	}
}

func TestFitSurveySkipped(t *testing.T) {
	gws := surveyGateways()[:2]
	gws[1].FloorID = 2
	tr := map[int64]truth{10: {-59, 2.5, 0}, 11: {-59, 2.5, 0}}
	obs := survey(9, gws, tr, 50, 2, 0, 0)
	nan, inf := math.NaN(), math.Inf(1)
	bad := []Observation{
		{GatewayID: 10, At: wardwatch.Point{X: nan, Y: 1}, RSSI: -60},
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, Z: inf, RSSI: -60},
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, RSSI: nan},
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, RSSI: 0},    // "none"
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, RSSI: -200}, // implausible
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, RSSI: -60, TxPower: inf},
		{GatewayID: 10, At: wardwatch.Point{X: 1, Y: 1}, RSSI: -60, TxPower: 12},
		{GatewayID: 11, At: wardwatch.Point{X: 1, Y: 1}, Floor: 1, RSSI: -80}, // other floor
		{GatewayID: 11, At: wardwatch.Point{X: 1, Y: 1}, Floor: 3, RSSI: -80}, // other floor
		{GatewayID: 77, At: wardwatch.Point{X: 1, Y: 1}, RSSI: -60},           // unknown gateway
	}
	res, err := FitSurvey(gws, append(bad, obs...), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r10, r11 := reportFor(t, res, 10), reportFor(t, res, 11)
	if r10.Skipped != 7 || r10.N != 50 || !r10.Fitted {
		t.Errorf("gateway 10: %+v, want 7 skipped, 50 used", r10)
	}
	if r11.OtherFloor != 2 || r11.Skipped != 0 || r11.N != 50 || !r11.Fitted {
		t.Errorf("gateway 11: %+v, want 2 from other floors", r11)
	}
	if res.UnknownGateway != 1 || res.Skipped != 10 {
		t.Errorf("result skipped %d (unknown %d), want 10 (1)", res.Skipped, res.UnknownGateway)
	}
}

func TestFitSurveyDeterministic(t *testing.T) {
	gws := surveyGateways()
	tr := map[int64]truth{10: {-59, 2.0, 0}, 11: {-62, 2.5, 0}, 12: {-55, 3.0, 0}, 13: {-66, 2.2, 0}, 14: {-50, 3.5, 0}, 15: {-70, 1.8, 0}}
	obs := survey(10, gws, tr, 150, 4, 0.1, -60)
	for _, split := range []bool{false, true} {
		a, err := FitSurvey(gws, obs, FitOptions{SplitOffset: split})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		obs2, gws2 := slices.Clone(obs), slices.Clone(gws)
		rng.Shuffle(len(obs2), func(i, j int) { obs2[i], obs2[j] = obs2[j], obs2[i] })
		rng.Shuffle(len(gws2), func(i, j int) { gws2[i], gws2[j] = gws2[j], gws2[i] })
		b, err := FitSurvey(gws2, obs2, FitOptions{SplitOffset: split})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.Reports, b.Reports) || !reflect.DeepEqual(a.Fleet, b.Fleet) {
			t.Errorf("split %v: reports differ with input order:\n%+v\n%+v", split, a.Reports, b.Reports)
		}
		for i, g := range b.Gateways {
			if g.ID != gws2[i].ID {
				t.Fatalf("Gateways not in input order")
			}
		}
		if !slices.IsSortedFunc(a.Reports, func(x, y GatewayReport) int { return int(x.GatewayID - y.GatewayID) }) {
			t.Errorf("reports not sorted by gateway ID")
		}
	}
}

// g2gGateways is eight gateways 10 m apart along two corridors of a
// 40 × 16 m floor, at 2.6 m.
func g2gGateways() []wardwatch.Gateway {
	var gws []wardwatch.Gateway
	for i := range 8 {
		gws = append(gws, wardwatch.Gateway{ID: int64(i + 1), FloorID: 3, At: wardwatch.Point{X: 5 + 10*float64(i%4), Y: 3 + 10*float64(i/4)}, Z: 2.6})
	}
	return gws
}

// g2g makes per observations of each ordered gateway pair, and a few of
// each gateway hearing itself.
func g2g(seed uint64, gws []wardwatch.Gateway, tr map[int64]truth, per int, sigma float64) []Observation {
	rng := rand.New(rand.NewPCG(seed, 11))
	var obs []Observation
	for _, rx := range gws {
		for _, tx := range gws {
			n := per
			if tx.ID == rx.ID {
				n = 3
			}
			for range n {
				obs = append(obs, Observation{GatewayID: rx.ID, At: tx.At, Z: tx.Z, Floor: tx.FloorID,
					RSSI: synthRSSI(rx, tr[rx.ID], tx.At, tx.Z) + sigma*rng.NormFloat64()})
			}
		}
	}
	return obs
}

func TestFitGatewayToGateway(t *testing.T) {
	gws := g2gGateways()
	offsets := []float64{-4, 3, 0, 5, -2, -3, 1, 0} // mean 0: offsets are relative to the fleet
	// With one exponent for all gateways the offsets are recovered. With
	// exponents that differ, an offset cannot be told from an exponent at
	// the distances gateways hear each other (10–32 m, 0.5 decades): the
	// offsets then absorb part of the difference, and the check is that
	// each gateway's model still predicts its readings.
	tests := []struct {
		name     string
		n        []float64
		sigma    float64
		offsetOK bool
	}{
		{"shared exponent, sigma 3", []float64{2.4, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4}, 3, true},
		{"shared exponent, sigma 5", []float64{2.8, 2.8, 2.8, 2.8, 2.8, 2.8, 2.8, 2.8}, 5, true},
		{"exponents 2.3-2.6, sigma 3", []float64{2.3, 2.5, 2.4, 2.6, 2.4, 2.3, 2.5, 2.4}, 3, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := map[int64]truth{}
			for j, g := range gws {
				tr[g.ID] = truth{-59, tt.n[j], offsets[j]}
			}
			obs := g2g(uint64(i+20), gws, tr, 40, tt.sigma)
			res, err := FitGatewayToGateway(gws, obs, FitOptions{SplitOffset: true})
			if err != nil {
				t.Fatal(err)
			}
			if res.Fleet == nil || !res.Fleet.Fitted || math.Abs(res.Fleet.RSSIAt1m - -59) > 1.5 {
				t.Fatalf("fleet: %+v", res.Fleet)
			}
			for j, g := range gws {
				r := reportFor(t, res, g.ID)
				if !r.Fitted || r.N != 7*40 || r.Skipped != 3 {
					t.Fatalf("gateway %d: %+v", g.ID, r)
				}
				if tt.offsetOK && math.Abs(r.RxOffset-offsets[j]) > 1 {
					t.Errorf("gateway %d: RxOffset %.2f, want %.1f ± 1", g.ID, r.RxOffset, offsets[j])
				}
				if tt.offsetOK && math.Abs(r.PathLossExponent-tt.n[j]) > 0.2 {
					t.Errorf("gateway %d: n %.3f, want %.2f ± 0.2", g.ID, r.PathLossExponent, tt.n[j])
				}
				// The reported RSSI the model predicts at every distance
				// the gateway hears from: within 1.5 dB of the truth.
				for _, tx := range gws {
					if tx.ID == g.ID {
						continue
					}
					want := synthRSSI(g, tr[g.ID], tx.At, tx.Z)
					fit := synthRSSI(g, truth{r.RSSIAt1m, r.PathLossExponent, r.RxOffset}, tx.At, tx.Z)
					if math.Abs(fit-want) > 1.5 {
						t.Errorf("gateway %d hearing %d: model %.2f dBm, truth %.2f", g.ID, tx.ID, fit, want)
					}
				}
				if r.RSSIAt1m != res.Fleet.RSSIAt1m {
					t.Errorf("gateway %d: RSSIAt1m %v, want the fleet's %v", g.ID, r.RSSIAt1m, res.Fleet.RSSIAt1m)
				}
				if math.Abs(r.RMSE-tt.sigma) > 0.25*tt.sigma {
					t.Errorf("gateway %d: RMSE %.2f, noise %.1f", g.ID, r.RMSE, tt.sigma)
				}
			}
		})
	}

	// Unsplit, each gateway's RSSI at 1 m absorbs its offset.
	tr := map[int64]truth{}
	for j, g := range gws {
		tr[g.ID] = truth{-59, 2.4, offsets[j]}
	}
	res, err := FitGatewayToGateway(gws, g2g(30, gws, tr, 200, 3), FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fleet != nil {
		t.Errorf("Fleet set without SplitOffset")
	}
	for j, g := range gws {
		r := reportFor(t, res, g.ID)
		if want := -59 - offsets[j]; math.Abs(r.RSSIAt1m-want) > 1.5 || r.RxOffset != 0 {
			t.Errorf("gateway %d: A %.2f offset %v, want %.1f and 0", g.ID, r.RSSIAt1m, r.RxOffset, want)
		}
	}
}

func TestFitSplitNotFitted(t *testing.T) {
	gws := g2gGateways()[:3]
	tr := map[int64]truth{1: {-59, 2.4, 0}, 2: {-59, 2.4, 0}, 3: {-59, 2.4, 0}}
	// Only gateway 1 hears enough; the fleet is then gateway 1 alone.
	obs := g2g(40, gws, tr, 20, 2)
	obs = slices.DeleteFunc(obs, func(o Observation) bool { return o.GatewayID == 3 })
	obs = append(obs, Observation{GatewayID: 3, At: gws[0].At, Z: gws[0].Z, RSSI: -70})
	res, err := FitGatewayToGateway(gws, obs, FitOptions{SplitOffset: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := reportFor(t, res, 3); r.Fitted || !strings.Contains(r.Reason, "only 1 usable") {
		t.Errorf("gateway 3: %+v", r)
	}
	// Gateway 2 hears gateways 1 and 3, 10 m and 10 m away: no spread of
	// its own, so it borrows the fleet's exponent but still gets an offset.
	if r := reportFor(t, res, 2); !r.Fitted || !strings.Contains(r.Reason, "fleet exponent") || r.PathLossExponent != res.Fleet.PathLossExponent {
		t.Errorf("gateway 2: %+v (fleet %+v)", r, res.Fleet)
	}

	// Every gateway too poor: the fleet cannot be fitted.
	res, err = FitGatewayToGateway(gws, obs[:4], FitOptions{SplitOffset: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fleet.Fitted || !strings.Contains(res.Fleet.Reason, "fleet") {
		t.Errorf("fleet: %+v", res.Fleet)
	}
	for _, r := range res.Reports {
		if r.Fitted {
			t.Errorf("gateway %d fitted without a fleet: %+v", r.GatewayID, r)
		}
	}
}

func TestSolveBox(t *testing.T) {
	// y = -50 - 30x exactly, x in [0, 2].
	var pts []point
	for i := range 21 {
		x := float64(i) / 10
		pts = append(pts, point{x, -50 - 30*x})
	}
	s := weightedSums(pts, nil, 0)
	inf := math.Inf(1)
	tests := []struct {
		name       string
		bx         box
		a, b       float64
		aAt, bAt   bool
		freeA, fb  float64
		checkFreeB bool
	}{
		{"inside", box{-80, -30, -45, -15}, -50, -30, false, false, -50, -30, true},
		{"b beyond", box{-80, -30, -25, -15}, 0, -25, false, true, -50, -30, true},
		{"a beyond", box{-80, -55, -45, -15}, -55, 0, true, false, -50, -30, true},
		{"fixed a", box{-52, -52, -45, -15}, -52, 0, false, false, -52, 0, false},
		{"location", box{-inf, inf, 0, 0}, -80, 0, false, false, -80, 0, true},
	}
	for _, tt := range tests {
		f := solveBox(s, tt.bx)
		if tt.name == "b beyond" {
			// b at its bound; a is the best a for it: mean(y) - b·mean(x) = -80 + 25 = -55.
			tt.a = -55
		}
		if tt.name == "a beyond" {
			// a at -55; the best b: Σx(y+55)/Σx².
			var sxy, sxx float64
			for _, p := range pts {
				sxy += p.x * (p.y + 55)
				sxx += p.x * p.x
			}
			tt.b = sxy / sxx
		}
		if tt.name == "fixed a" {
			var sxy, sxx float64
			for _, p := range pts {
				sxy += p.x * (p.y + 52)
				sxx += p.x * p.x
			}
			tt.b = sxy / sxx
		}
		if math.Abs(f.a-tt.a) > 1e-9 || math.Abs(f.b-tt.b) > 1e-9 || f.aClamped != tt.aAt || f.bClamped != tt.bAt {
			t.Errorf("%s: got a %.6f b %.6f clamped %v %v, want %.6f %.6f %v %v", tt.name, f.a, f.b, f.aClamped, f.bClamped, tt.a, tt.b, tt.aAt, tt.bAt)
		}
		if math.Abs(f.freeA-tt.freeA) > 1e-9 || (tt.checkFreeB && math.Abs(f.freeB-tt.fb) > 1e-9) {
			t.Errorf("%s: free %.6f %.6f, want %.6f %.6f", tt.name, f.freeA, f.freeB, tt.freeA, tt.fb)
		}
	}
}
