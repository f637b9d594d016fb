package fingerprint

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/tracker/calibrate"
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

// kolakowskiRows reads one of the dataset's *_df.csv files as samples on
// floor 1: the robot's true position and the RSSI of each anchor heard.
func kolakowskiRows(t testing.TB, dir, name string) []Sample {
	var out []Sample
	for _, r := range readCSV(t, filepath.Join(dir, name)) {
		s := Sample{Floor: 1, At: wardwatch.Point{X: num(t, r["x"]), Y: num(t, r["y"])}, RSSI: map[int64]float64{}}
		for id := int64(1); id <= 6; id++ {
			if v := r["rssi_"+strconv.FormatInt(id, 10)]; v != "" {
				s.RSSI[id] = num(t, v)
			}
		}
		out = append(out, s)
	}
	return out
}

// TestKolakowskiFingerprint builds a radio map from the dataset's robot
// calibration run and locates the robot test run with it, next to a 1/d²
// weighted centroid of the anchors with distances from a calibrated
// log-distance model (calibrate.FitSurvey on the same calibration run).
func TestKolakowskiFingerprint(t *testing.T) {
	dir := kolakowskiDir(t)
	train := kolakowskiRows(t, dir, filepath.Join("calibration", "calibration_df.csv"))
	test := kolakowskiRows(t, dir, filepath.Join("tests", "test_robot_df.csv"))

	// The centroid baseline.
	var gws []wardwatch.Gateway
	for _, r := range readCSV(t, filepath.Join(dir, "anchors.csv")) {
		gws = append(gws, wardwatch.Gateway{ID: int64(num(t, r["id"])), FloorID: 1,
			At: wardwatch.Point{X: num(t, r["x"]), Y: num(t, r["y"])}, Z: num(t, r["z"])})
	}
	var obs []calibrate.Observation
	for _, s := range train {
		for id, v := range s.RSSI {
			obs = append(obs, calibrate.Observation{GatewayID: id, At: s.At, Z: 0.3, Floor: 1, RSSI: v})
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
