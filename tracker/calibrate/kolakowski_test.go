package calibrate

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// kolakowskiDir finds the public dataset of Kolakowski (2021, CC BY 4.0,
// doi:10.5281/zenodo.5457591): the repository's copy first, else the
// shared one next to the repository; it skips the test when neither is
// there.
func kolakowskiDir(t testing.TB) string {
	t.Helper()
	for _, dir := range []string{
		filepath.Join("..", "..", "testdata", "kolakowski-flat-2021"),
		filepath.Join("..", "..", "..", "shared", "datasets", "kolakowski-flat-2021"),
	} {
		if _, err := os.Stat(filepath.Join(dir, "anchors.csv")); err == nil {
			return dir
		}
	}
	t.Skip("dataset kolakowski-flat-2021 not found")
	return ""
}

// readCSV reads a CSV file with a header into rows of named fields.
func readCSV(t testing.TB, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var rows []map[string]string
	for _, rec := range recs[1:] {
		row := map[string]string{}
		for i, name := range recs[0] {
			row[strings.TrimSpace(name)] = strings.TrimSpace(rec[i])
		}
		rows = append(rows, row)
	}
	return rows
}

func num(t testing.TB, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return v
}

// kolakowskiTagZ is the height of the tag on the robot, metres.
const kolakowskiTagZ = 0.3

// kolakowskiSurvey turns the dataset's anchors into gateways on floor 1
// and its calibration run into survey observations, one per heard anchor
// per row.
func kolakowskiSurvey(t testing.TB) ([]wardwatch.Gateway, []Observation) {
	dir := kolakowskiDir(t)
	var gws []wardwatch.Gateway
	for _, r := range readCSV(t, filepath.Join(dir, "anchors.csv")) {
		gws = append(gws, wardwatch.Gateway{
			ID: int64(num(t, r["id"])), FloorID: 1,
			At: wardwatch.Point{X: num(t, r["x"]), Y: num(t, r["y"])}, Z: num(t, r["z"]),
		})
	}
	var obs []Observation
	for _, r := range readCSV(t, filepath.Join(dir, "calibration", "calibration_df.csv")) {
		at := wardwatch.Point{X: num(t, r["x"]), Y: num(t, r["y"])}
		for _, g := range gws {
			s := r["rssi_"+strconv.FormatInt(g.ID, 10)]
			if s == "" {
				continue
			}
			obs = append(obs, Observation{GatewayID: g.ID, At: at, Z: kolakowskiTagZ, Floor: 1, RSSI: num(t, s)})
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
