package replay

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestCalibrateSurvey fits the simulated ward's gateways from a survey (the
// moving tags' sightings and their true paths), starting from blank
// calibration, and recovers the simulated radio.
func TestCalibrateSurvey(t *testing.T) {
	ds := HospitalCorridor(Corridor{Seed: 3, Duration: 20 * time.Minute, Moving: 8, Stationary: 0})
	radio := HospitalRadio()
	blank := append([]Gateway(nil), ds.Gateways...)
	for i := range blank {
		blank[i].RSSIAt1m, blank[i].PathLossExponent, blank[i].RxOffset = 0, 0, 0
	}
	res, err := Calibrate(Calibration{Gateways: blank, Sightings: ds.Sightings, Truth: ds.Truth, TagHeight: 1.0})
	if err != nil {
		t.Fatal(err)
	}
	var report strings.Builder
	if err := res.WriteReport(&report); err != nil {
		t.Fatal(err)
	}
	t.Logf("true radio: RSSI@1m %.1f dBm, path loss %.2f\n%s", radio.RSSIAt1m, radio.PathLoss, report.String())
	for i, rep := range res.Reports {
		g := res.Gateways[i]
		if !rep.Fitted {
			t.Errorf("gateway %s not fitted: %s", g.ID, rep.Reason)
			continue
		}
		if math.Abs(g.RSSIAt1m-radio.RSSIAt1m) > 1.5 || math.Abs(g.PathLossExponent-radio.PathLoss) > 0.2 {
			t.Errorf("gateway %s fitted to %.1f dBm, n %.2f; simulated %.1f dBm, n %.2f",
				g.ID, g.RSSIAt1m, g.PathLossExponent, radio.RSSIAt1m, radio.PathLoss)
		}
	}
}

// TestCalibrateGatewayToGateway fits from gateways hearing each other: each
// sighting's tag is another gateway.
func TestCalibrateGatewayToGateway(t *testing.T) {
	gws := []Gateway{
		{ID: "a", Floor: 1, X: 0, Y: 0, Z: 2.7}, {ID: "b", Floor: 1, X: 8, Y: 0, Z: 2.7},
		{ID: "c", Floor: 1, X: 0, Y: 6, Z: 2.7}, {ID: "d", Floor: 1, X: 8, Y: 6, Z: 2.7},
		{ID: "e", Floor: 1, X: 16, Y: 3, Z: 2.7}, {ID: "f", Floor: 1, X: 24, Y: 0, Z: 2.7},
	}
	const a1m, n = -61.0, 2.4
	start := time.Date(2026, 11, 23, 2, 0, 0, 0, time.UTC)
	var ss []Sighting
	for k := range 40 {
		for _, rx := range gws {
			for _, tx := range gws {
				if rx.ID == tx.ID {
					continue
				}
				d := math.Hypot(rx.X-tx.X, rx.Y-tx.Y)
				noise := float64((k*7+len(rx.ID+tx.ID)*3)%9) - 4 // deterministic ±4 dB
				ss = append(ss, Sighting{Time: start.Add(time.Duration(k) * time.Second), GatewayID: rx.ID, TagID: tx.ID,
					RSSI: math.Round(a1m - 10*n*math.Log10(d) + noise)})
			}
		}
	}
	ss = append(ss, Sighting{Time: start, GatewayID: "nobody", TagID: "a", RSSI: -70})
	res, err := Calibrate(Calibration{Gateways: gws, Sightings: ss, GatewayToGateway: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unused != 1 {
		t.Errorf("unused sightings = %d, want 1 (the unknown gateway)", res.Unused)
	}
	for i, g := range res.Gateways {
		if !res.Reports[i].Fitted || math.Abs(g.RSSIAt1m-a1m) > 2 || math.Abs(g.PathLossExponent-n) > 0.3 {
			t.Errorf("gateway %s: fitted %v, %.1f dBm, n %.2f; want ≈ %.1f dBm, n %.2f (%s)",
				g.ID, res.Reports[i].Fitted, g.RSSIAt1m, g.PathLossExponent, a1m, n, res.Reports[i].Reason)
		}
	}
}

func TestSurveyFromSightings(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 3, 0, 0, 0, time.UTC)
	ss := []Sighting{
		{Time: t0.Add(100 * time.Millisecond), GatewayID: "a", TagID: "ref", RSSI: -60},
		{Time: t0.Add(600 * time.Millisecond), GatewayID: "a", TagID: "ref", RSSI: -64},
		{Time: t0.Add(700 * time.Millisecond), GatewayID: "b", TagID: "ref", RSSI: -70},
		{Time: t0.Add(1500 * time.Millisecond), GatewayID: "a", TagID: "ref", RSSI: -66},
		{Time: t0.Add(9 * time.Second), GatewayID: "a", TagID: "ref", RSSI: -50}, // no truth then
	}
	truth := []Truth{
		{Time: t0, TagID: "ref", X: 0, Y: 0, Floor: 2, HasFloor: true},
		{Time: t0.Add(2 * time.Second), TagID: "ref", X: 4, Y: 0, Floor: 2, HasFloor: true},
	}
	got := SurveyFromSightings(ss, truth, time.Second)
	if len(got) != 2 {
		t.Fatalf("got %d survey points, want 2: %+v", len(got), got)
	}
	first := got[0]
	if first.X != 1 || first.Floor != 2 || first.RSSI["a"] != -62 || first.RSSI["b"] != -70 {
		t.Errorf("first window = %+v, want x 1 (mid-window), floor 2, a -62 (mean), b -70", first)
	}
	if got[1].X != 3 || got[1].RSSI["a"] != -66 {
		t.Errorf("second window = %+v", got[1])
	}
}
