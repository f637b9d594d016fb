package fingerprint

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/internal/kolakowski"
	"github.com/wardwatch/wardwatch/tracker/calibrate"
)

// kolakowskiDir is the repository's copy of the public dataset.
var kolakowskiDir = filepath.Join("..", "..", "testdata", "kolakowski-flat-2021")

// kolakowskiRows reads one of the dataset's runs as samples on floor 1: the
// robot's true position and the RSSI of each anchor heard.
func kolakowskiRows(t testing.TB, name string) []Sample {
	rows, err := kolakowski.ReadRows(kolakowskiDir, name)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]Sample, len(rows))
	for i, r := range rows {
		s := Sample{Floor: 1, At: wardwatch.Point{X: r.X, Y: r.Y}, RSSI: map[int64]float64{}}
		for a, v := range r.RSSI {
			if !math.IsNaN(v) {
				s.RSSI[int64(a+1)] = v
			}
		}
		out[i] = s
	}
	return out
}

// TestKolakowskiFingerprint builds a radio map from the dataset's robot
// calibration run and locates the robot test run with it, next to a 1/d²
// weighted centroid of the anchors with distances from a calibrated
// log-distance model (calibrate.FitSurvey on the same calibration run).
func TestKolakowskiFingerprint(t *testing.T) {
	train := kolakowskiRows(t, kolakowski.Calibration)
	test := kolakowskiRows(t, kolakowski.RobotTest)

	// The centroid baseline.
	anchors, err := kolakowski.ReadAnchors(kolakowskiDir)
	if err != nil {
		t.Fatal(err)
	}
	gws := make([]wardwatch.Gateway, len(anchors))
	for i, a := range anchors {
		gws[i] = wardwatch.Gateway{ID: a.ID, FloorID: 1, At: wardwatch.Point{X: a.X, Y: a.Y}, Z: a.Z}
	}
	var obs []calibrate.Observation
	for _, s := range train {
		for id, v := range s.RSSI {
			obs = append(obs, calibrate.Observation{GatewayID: id, At: s.At, Z: kolakowski.TagHeight, Floor: 1, RSSI: v})
		}
	}
	fit, err := calibrate.FitSurvey(gws, obs, calibrate.FitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var centroidErrs []float64
	for _, s := range test {
		var p wardwatch.Point
		var sw float64
		for _, g := range fit.Gateways {
			v, ok := s.RSSI[g.ID]
			if !ok {
				continue
			}
			d := math.Pow(10, (g.RSSIAt1m-v)/(10*g.PathLossExponent))
			w := 1 / max(d*d, 0.25)
			p.X += w * g.At.X
			p.Y += w * g.At.Y
			sw += w
		}
		if sw > 0 {
			centroidErrs = append(centroidErrs, dist(wardwatch.Point{X: p.X / sw, Y: p.Y / sw}, s.At))
		}
	}
	cMean, cMed, cP90 := mean(centroidErrs), quantile(centroidErrs, 0.5), quantile(centroidErrs, 0.9)
	t.Logf("weighted centroid (calibrated 1/d²): n %d  mean %.2f m  median %.2f m  p90 %.2f m", len(centroidErrs), cMean, cMed, cP90)

	for _, opt := range []Options{{Cell: 0.5}, {Cell: 1}, {Cell: 0.5, K: 9}} {
		m, err := Build(train, opt)
		if err != nil {
			t.Fatal(err)
		}
		var errs []float64
		var conf float64
		for _, s := range test {
			p, c, ok := m.Locate(1, s.RSSI)
			if !ok {
				t.Fatalf("Locate refused a test row: %v", s.RSSI)
			}
			errs = append(errs, dist(p, s.At))
			conf += c
		}
		fMean, fMed, fP90 := mean(errs), quantile(errs, 0.5), quantile(errs, 0.9)
		t.Logf("fingerprint cell %.1f m, K %d (%d cells): n %d  mean %.2f m  median %.2f m  p90 %.2f m  mean confidence %.2f",
			m.opt.Cell, m.opt.K, len(m.floors[1].at), len(errs), fMean, fMed, fP90, conf/float64(len(errs)))
		// Regression guard: well ahead of the centroid, with margin over
		// today's figures.
		if fMean > 0.75*cMean || fMean > 1.6 || fP90 > 2.8 {
			t.Errorf("cell %.1f K %d: mean %.2f m, p90 %.2f m (centroid mean %.2f m)", m.opt.Cell, m.opt.K, fMean, fP90, cMean)
		}
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
