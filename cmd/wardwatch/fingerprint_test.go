package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/sim"
)

// surveyRSSI is what a gateway hears from a tag 1 m above the floor at p
// in these tests: a noiseless log-distance channel, -59 dBm at 1 m, path
// loss 2.7, as the gateway reports it (before its RxOffset).
func surveyRSSI(g wardwatch.Gateway, p wardwatch.Point) float64 {
	d := math.Sqrt(math.Pow(g.At.X-p.X, 2) + math.Pow(g.At.Y-p.Y, 2) + math.Pow(g.Z-1, 2))
	return math.Round(-59 - 10*2.7*math.Log10(max(d, 0.1)) - g.RxOffset)
}

// writeSurvey records a survey of floor (level) walked on a 1 m grid in
// the replay formats, a second per point, and returns the two files.
func writeSurvey(t *testing.T, dir string, level int, gws []wardwatch.Gateway, from, to wardwatch.Point) (sightings, truth string) {
	t.Helper()
	var ss []replay.Sighting
	var path []replay.Truth
	start := time.Date(2026, 11, 24, 6, 0, 0, 0, time.UTC)
	i := 0
	for y := from.Y; y <= to.Y; y++ {
		for x := from.X; x <= to.X; x++ {
			p := wardwatch.Point{X: x, Y: y}
			at := start.Add(time.Duration(i) * time.Second)
			path = append(path, replay.Truth{Time: at, TagID: "survey", X: x, Y: y, Floor: int64(level), HasFloor: true},
				replay.Truth{Time: at.Add(999 * time.Millisecond), TagID: "survey", X: x, Y: y, Floor: int64(level), HasFloor: true})
			for _, g := range gws {
				if rssi := surveyRSSI(g, p); rssi > -95 {
					ss = append(ss, replay.Sighting{Time: at.Add(500 * time.Millisecond), GatewayID: g.Key, TagID: "survey", RSSI: rssi})
				}
			}
			i++
		}
	}
	sightings, truth = filepath.Join(dir, "survey-sightings.csv"), filepath.Join(dir, "survey-truth.csv")
	for _, f := range []struct {
		path  string
		write func(io.Writer) error
	}{
		{sightings, func(w io.Writer) error { return replay.WriteSightings(w, ss) }},
		{truth, func(w io.Writer) error { return replay.WriteTruth(w, path) }},
	} {
		out, err := os.Create(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.write(out); err != nil {
			t.Fatal(err)
		}
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return sightings, truth
}

// TestFingerprintModeLive: with tracker.survey_* set, the live engine gets
// the survey's radio map in the site's IDs and blends its fixes (the
// positions say "+fingerprint"); a survey that does not fit the site stops
// the start with a clear error.
func TestFingerprintModeLive(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cfg, err := LoadConfig("", testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hospital := sim.NewHospital()
	if err := hospital.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	site, err := loadSite(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	floor := site.Floors[0]
	var gws []wardwatch.Gateway
	for _, g := range site.Gateways {
		if g.FloorID == floor.ID {
			gws = append(gws, g)
		}
	}
	// The west end of the floor, around the first gateways.
	from, to := wardwatch.Point{X: 2, Y: 2}, wardwatch.Point{X: 20, Y: 14}
	sightings, truth := writeSurvey(t, dir, floor.Level, gws, from, to)

	t.Run("a survey from another building", func(t *testing.T) {
		bad := filepath.Join(dir, "other")
		os.MkdirAll(bad, 0o755)
		other := make([]wardwatch.Gateway, len(gws))
		for i, g := range gws {
			g.Key = "elsewhere-" + g.Key
			other[i] = g
		}
		s, tr := writeSurvey(t, bad, floor.Level, other, from, to)
		c := cfg
		c.Tracker.SurveySightings, c.Tracker.SurveyTruth = s, tr
		_, err := newApp(ctx, c, store, logger)
		if err == nil || !strings.Contains(err.Error(), "none of its") {
			t.Fatalf("newApp with a survey of unknown gateways: %v, want it refused", err)
		}
	})
	t.Run("a path that does not overlap the sightings", func(t *testing.T) {
		empty := filepath.Join(dir, "empty-truth.csv")
		os.WriteFile(empty, []byte("ts,tag_id,x,y,floor\n2020-01-01T00:00:00Z,survey,1,1,1\n"), 0o644)
		c := cfg
		c.Tracker.SurveySightings, c.Tracker.SurveyTruth = sightings, empty
		if _, err := newApp(ctx, c, store, logger); err == nil || !strings.Contains(err.Error(), "do not overlap") {
			t.Fatalf("newApp: %v, want the overlap refused", err)
		}
	})
	t.Run("only one file", func(t *testing.T) {
		_, err := LoadConfig("", testEnv(dir, map[string]string{"WARDWATCH_TRACKER_SURVEY_SIGHTINGS": sightings}))
		if err == nil || !strings.Contains(err.Error(), "needs both") {
			t.Fatalf("LoadConfig: %v, want both files required", err)
		}
	})

	cfg.Tracker.SurveySightings, cfg.Tracker.SurveyTruth = sightings, truth
	a, err := newApp(ctx, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer a.close()
	if a.site.Load().Fingerprints == nil {
		t.Fatal("the site has no radio map")
	}
	go a.runner.Run(ctx)

	tags, err := store.Tags(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tag := tags[0]
	at := wardwatch.Point{X: 9.5, Y: 7.5}
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Every gateway that hears the tag pushes what it heard.
		now := time.Now().UTC()
		for _, g := range gws {
			rssi := surveyRSSI(g, at)
			if rssi <= -95 {
				continue
			}
			body := fmt.Sprintf(`{"sightings":[{"ts":%q,"tag":%q,"rssi":%g}]}`, now.Format(time.RFC3339Nano), tag.ID, rssi)
			req := httptest.NewRequest(http.MethodPost, "/ingest/v1/gateways/"+g.Key+"/sightings", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+hospital.Tokens()[g.Key])
			w := httptest.NewRecorder()
			a.handler.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				t.Fatalf("push from %s: %d %s", g.Key, w.Code, w.Body.String())
			}
		}
		for _, p := range a.hub.Snapshot(floor.ID) {
			if p.AssetID == tag.AssetID && strings.HasSuffix(p.Solver, "+fingerprint") {
				if d := math.Hypot(p.At.X-at.X, p.At.Y-at.Y); d > 2 {
					t.Fatalf("position %+v is %.1f m from the tag", p, d)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no fingerprint-blended position for %s; snapshot %+v", tag.ID, a.hub.Snapshot(floor.ID))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
