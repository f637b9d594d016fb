package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch/replay"
)

// TestCalibrateCommand fits the simulated ward's gateways from a survey
// written in replay's file formats, and the output feeds replay.
func TestCalibrateCommand(t *testing.T) {
	dir := t.TempDir()
	ds := replay.HospitalCorridor(replay.Corridor{Seed: 5, Duration: 20 * time.Minute, Moving: 8, Stationary: 0})
	write := func(name string, fn func(*bytes.Buffer) error) string {
		var b bytes.Buffer
		if err := fn(&b); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	blank := append([]replay.Gateway(nil), ds.Gateways...)
	for i := range blank {
		blank[i].RSSIAt1m, blank[i].PathLossExponent = 0, 0
	}
	g := write("G.csv", func(b *bytes.Buffer) error { return replay.WriteGateways(b, blank) })
	s := write("S.csv", func(b *bytes.Buffer) error { return replay.WriteSightings(b, ds.Sightings) })
	tr := write("T.csv", func(b *bytes.Buffer) error { return replay.WriteTruth(b, ds.Truth) })
	out := filepath.Join(dir, "G2.csv")

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"wardwatch", "calibrate", "--gateways", g, "--sightings", s, "--truth", tr, "--out", out},
		noEnv, &stdout, &stderr)
	if err != nil {
		t.Fatalf("calibrate: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "rmse_db") || !strings.Contains(stdout.String(), "fitted 10 of 10 gateways") {
		t.Errorf("report:\n%s", stdout.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fitted, err := replay.ReadGateways(f)
	if err != nil {
		t.Fatalf("the calibrated G.csv does not read back: %v", err)
	}
	for _, gw := range fitted {
		if gw.RSSIAt1m > -57 || gw.RSSIAt1m < -61 || gw.PathLossExponent < 2.4 || gw.PathLossExponent > 3.0 {
			t.Errorf("gateway %s fitted to %.1f dBm, n %.2f; the simulated radio is -59 dBm, n 2.7", gw.ID, gw.RSSIAt1m, gw.PathLossExponent)
		}
	}

	for _, args := range [][]string{
		{"--gateways", g, "--sightings", s, "--out", out},                                        // neither mode
		{"--gateways", g, "--sightings", s, "--truth", tr, "--gateway-to-gateway", "--out", out}, // both
		{"--gateways", g, "--truth", tr, "--out", out},                                           // no sightings
	} {
		if err := run(context.Background(), append([]string{"wardwatch", "calibrate"}, args...), noEnv, &stdout, &stderr); !errors.Is(err, errUsage) {
			t.Errorf("calibrate %v: %v, want errUsage", args, err)
		}
	}
}
