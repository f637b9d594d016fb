package calibrate

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/internal/kolakowski"
)

// kolakowskiDir is the repository's copy of the public dataset.
var kolakowskiDir = filepath.Join("..", "..", "testdata", "kolakowski-flat-2021")

// kolakowskiSurvey turns the dataset's anchors into gateways on floor 1
// and its calibration run into survey observations, one per heard anchor
// per row.
func kolakowskiSurvey(t testing.TB) ([]wardwatch.Gateway, []Observation) {
	anchors, err := kolakowski.ReadAnchors(kolakowskiDir)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := kolakowski.ReadRows(kolakowskiDir, kolakowski.Calibration)
	if err != nil {
		t.Fatal(err)
	}
	gws := make([]wardwatch.Gateway, len(anchors))
	for i, a := range anchors {
		gws[i] = wardwatch.Gateway{ID: a.ID, FloorID: 1, At: wardwatch.Point{X: a.X, Y: a.Y}, Z: a.Z}
	}
	var obs []Observation
	for _, r := range rows {
		for i, v := range r.RSSI {
			if !math.IsNaN(v) {
				obs = append(obs, Observation{GatewayID: int64(i + 1), At: wardwatch.Point{X: r.X, Y: r.Y}, Z: kolakowski.TagHeight, Floor: 1, RSSI: v})
			}
		}
	}
	return gws, obs
}

// TestKolakowskiSurvey fits the six anchors of the public flat dataset
// from its robot calibration run and checks the fit is sane and better
// than the engine's defaults (−59 dBm, n = 2.5).
func TestKolakowskiSurvey(t *testing.T) {
	gws, obs := kolakowskiSurvey(t)
	for _, split := range []bool{false, true} {
		res, err := FitSurvey(gws, obs, FitOptions{SplitOffset: split})
		if err != nil {
			t.Fatal(err)
		}
		if res.Skipped != 0 {
			t.Errorf("split %v: %d observations skipped", split, res.Skipped)
		}
		if res.Fleet != nil {
			f := res.Fleet
			t.Logf("fleet: N %d  A %.2f dBm  n %.3f  RMSE %.2f dB  median|r| %.2f dB  %v %s", f.N, f.RSSIAt1m, f.PathLossExponent, f.RMSE, f.MedianAbsResidual, f.AtBound, f.Reason)
		}
		for _, r := range res.Reports {
			// The defaults' RMSE on the same observations, for comparison.
			var ss float64
			var cnt int
			for _, o := range obs {
				if o.GatewayID != r.GatewayID {
					continue
				}
				g := gws[r.GatewayID-1]
				d := max(math.Sqrt(sq(o.At.X-g.At.X)+sq(o.At.Y-g.At.Y)+sq(o.Z-g.Z)), MinDistance)
				ss += sq(o.RSSI - (DefaultRefRSSIAt1m - 25*math.Log10(d)))
				cnt++
			}
			def := math.Sqrt(ss / float64(cnt))
			t.Logf("split %-5v anchor %d: N %4d  A %7.2f dBm  n %.3f  RxOffset %+.2f  RMSE %.2f dB (defaults %.2f)  median|r| %.2f dB  %v %s",
				split, r.GatewayID, r.N, r.RSSIAt1m, r.PathLossExponent, r.RxOffset, r.RMSE, def, r.MedianAbsResidual, r.AtBound, r.Reason)
			if !r.Fitted || r.N < 3000 {
				t.Errorf("anchor %d not fitted: %+v", r.GatewayID, r)
			}
			// Regression guards, with room above what the fit gives today.
			if r.RMSE > 9 || r.MedianAbsResidual > 6.5 {
				t.Errorf("anchor %d: RMSE %.2f dB, median |residual| %.2f dB: worse than expected", r.GatewayID, r.RMSE, r.MedianAbsResidual)
			}
			if r.RMSE > def {
				t.Errorf("anchor %d: fitted RMSE %.2f dB is worse than the defaults' %.2f dB", r.GatewayID, r.RMSE, def)
			}
		}
	}
}

func sq(v float64) float64 { return v * v }
