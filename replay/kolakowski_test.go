package replay

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/internal/kolakowski"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/tracker/calibrate"
)

// The public-dataset benchmark of docs/ACCURACY.md, on the copy in
// testdata/kolakowski-flat-2021 (CC BY 4.0, M. Kolakowski 2021): calibrate
// the six anchors on the survey, replay the robot test run through the
// engine, and compare with a plain 1/d² weighted centroid on the same rows.
//
//	go test -run TestKolakowskiAccuracy -v ./replay/

// kolakowskiDir is the dataset copy.
var kolakowskiDir = filepath.Join("..", "testdata", "kolakowski-flat-2021")

// readAnchors reads anchors.csv as gateways "1"…"6" on floor 1.
func readAnchors(t *testing.T) []Gateway {
	t.Helper()
	anchors, err := kolakowski.ReadAnchors(kolakowskiDir)
	if err != nil {
		t.Fatal(err)
	}
	gws := make([]Gateway, len(anchors))
	for i, a := range anchors {
		gws[i] = Gateway{ID: strconv.FormatInt(a.ID, 10), Floor: 1, X: a.X, Y: a.Y, Z: a.Z}
	}
	return gws
}

// readKolakowski reads one of the dataset's runs.
func readKolakowski(t *testing.T, name string) []kolakowski.Row {
	t.Helper()
	rows, err := kolakowski.ReadRows(kolakowskiDir, name)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// fitAnchors calibrates the anchors on the survey rows with
// calibrate.FitSurvey and returns them with the fitted model.
func fitAnchors(t *testing.T, gws []Gateway, survey []kolakowski.Row) ([]Gateway, calibrate.Result) {
	t.Helper()
	in := make([]wardwatch.Gateway, len(gws))
	for i, g := range gws {
		in[i] = wardwatch.Gateway{ID: int64(i + 1), Key: g.ID, FloorID: 1, At: wardwatch.Point{X: g.X, Y: g.Y}, Z: g.Z}
	}
	var obs []calibrate.Observation
	for _, r := range survey {
		for i, v := range r.RSSI {
			if !math.IsNaN(v) {
				obs = append(obs, calibrate.Observation{GatewayID: int64(i + 1), At: wardwatch.Point{X: r.X, Y: r.Y}, Z: kolakowski.TagHeight, RSSI: v})
			}
		}
	}
	res, err := calibrate.FitSurvey(in, obs, calibrate.FitOptions{})
	if err != nil {
		t.Fatalf("FitSurvey: %v", err)
	}
	out := make([]Gateway, len(gws))
	for i, g := range gws {
		fg := res.Gateways[i]
		if fg.Key != g.ID {
			t.Fatalf("FitSurvey returned gateway %q at %d, want %q", fg.Key, i, g.ID)
		}
		g.RSSIAt1m, g.PathLossExponent, g.RxOffset = fg.RSSIAt1m, fg.PathLossExponent, fg.RxOffset
		out[i] = g
	}
	return out, res
}

// kolakowskiDataset turns the test run into sightings (one per anchor heard
// per row, tag "robot") and truth (the row's pose).
func kolakowskiDataset(gws []Gateway, rows []kolakowski.Row) Dataset {
	ds := Dataset{Gateways: gws}
	for _, r := range rows {
		for i, v := range r.RSSI {
			if !math.IsNaN(v) {
				ds.Sightings = append(ds.Sightings, Sighting{Time: r.Time, GatewayID: gws[i].ID, TagID: "robot", RSSI: v})
			}
		}
		ds.Truth = append(ds.Truth, Truth{Time: r.Time, TagID: "robot", X: r.X, Y: r.Y, Floor: 1, HasFloor: true})
	}
	return ds
}

// kolakowskiMeanGuard is the engine's mean error on the robot run when
// these figures were last recorded in docs/ACCURACY.md, and the margin a
// change may add before the guard fails.
const (
	kolakowskiMeanGuard  = 1.704
	kolakowskiMeanMargin = 0.05
)

func TestKolakowskiAccuracy(t *testing.T) {
	anchors := readAnchors(t)
	surveyRows := readKolakowski(t, kolakowski.Calibration)
	run := readKolakowski(t, kolakowski.RobotTest)
	fitted, res := fitAnchors(t, anchors, surveyRows)
	for _, r := range res.Reports {
		t.Logf("anchor %d: n %d  RSSI@1m %.1f dBm  n %.2f  RMSE %.1f dB  median |res| %.1f dB  fitted %v  at bound %v  %s",
			r.GatewayID, r.N, r.RSSIAt1m, r.PathLossExponent, r.RMSE, r.MedianAbsResidual, r.Fitted, r.AtBound, r.Reason)
	}

	cfg := tracker.Config{TagHeight: kolakowski.TagHeight}
	ds := kolakowskiDataset(fitted, run)
	sum, err := Run(Options{Gateways: ds.Gateways, Sightings: ds.Sightings, Truth: ds.Truth, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var survey []SurveyPoint
	for _, r := range surveyRows {
		sp := SurveyPoint{Floor: 1, X: r.X, Y: r.Y, RSSI: map[string]float64{}}
		for i, v := range r.RSSI {
			if !math.IsNaN(v) {
				sp.RSSI[fitted[i].ID] = v
			}
		}
		survey = append(survey, sp)
	}
	withMap, err := Run(Options{Gateways: ds.Gateways, Sightings: ds.Sightings, Truth: ds.Truth, Config: cfg, Survey: survey})
	if err != nil {
		t.Fatal(err)
	}
	raw := kolakowskiDataset(anchors, run)
	uncal, err := Run(Options{Gateways: raw.Gateways, Sightings: raw.Sightings, Truth: raw.Truth, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}

	def := tracker.DefaultConfig()
	fittedModel := rangeModel{rssiAt1m: def.DefaultRSSIAt1m, pathLoss: def.DefaultPathLoss, calibrated: true}
	defaultModel := rangeModel{rssiAt1m: def.DefaultRSSIAt1m, pathLoss: def.DefaultPathLoss}
	plainFitted, err := baselinePerSample(ds, fittedModel)
	if err != nil {
		t.Fatal(err)
	}
	plainDefault, err := baselinePerSample(ds, defaultModel)
	if err != nil {
		t.Fatal(err)
	}
	winFitted, err := baselineWindowed(ds, fittedModel, DefaultStep, def.Window)
	if err != nil {
		t.Fatal(err)
	}

	t.Logf("dataset: Kolakowski 2021 flat, %d survey rows, robot run of %d rows (%s), %d sightings; tag z %.1f m",
		len(surveyRows), len(run), run[len(run)-1].Time.Sub(run[0].Time).Round(time.Second), len(ds.Sightings), kolakowski.TagHeight)
	logAccuracy(t, "engine, fitted anchors", sum.Overall, false)
	logAccuracy(t, "engine, uncalibrated (defaults)", uncal.Overall, false)
	logAccuracy(t, "engine, fitted + fingerprint map of the survey", withMap.Overall, false)
	logAccuracy(t, "1/d² centroid per row, fitted model", plainFitted.Overall, false)
	logAccuracy(t, fmt.Sprintf("1/d² centroid per row, default (%.0f dBm, n %.1f)", def.DefaultRSSIAt1m, def.DefaultPathLoss), plainDefault.Overall, false)
	logAccuracy(t, "1/d² centroid, 4 s median window, fitted", winFitted.Overall, false)

	best := min(plainFitted.Overall.Mean, plainDefault.Overall.Mean)
	gain := 1 - sum.Overall.Mean/best
	t.Logf("engine mean %.3f m vs best plain centroid %.3f m: %.1f %% lower", sum.Overall.Mean, best, 100*gain)
	if gain < 0.25 {
		t.Errorf("engine mean error %.3f m is %.1f %% below the plain 1/d² centroid's %.3f m; want at least 25 %%", sum.Overall.Mean, 100*gain, best)
	}
	if sum.Overall.Mean > kolakowskiMeanGuard+kolakowskiMeanMargin {
		t.Errorf("engine mean error %.3f m regressed beyond the recorded %.3f m + %.2f m", sum.Overall.Mean, kolakowskiMeanGuard, kolakowskiMeanMargin)
	}
}
