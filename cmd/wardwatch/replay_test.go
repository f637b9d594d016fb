package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// sampleReplay is the sample replay committed for users to try.
var sampleReplay = filepath.Join("..", "..", "testdata", "replay-sample")

func sampleArgs(out string, extra ...string) []string {
	args := []string{
		"--gateways", filepath.Join(sampleReplay, "gateways.csv"),
		"--sightings", filepath.Join(sampleReplay, "sightings.csv"),
		"--zones", filepath.Join(sampleReplay, "zones.geojson"),
		"--config", filepath.Join(sampleReplay, "engine.yaml"),
		"--truth", filepath.Join(sampleReplay, "truth.csv"),
		"--out", out,
	}
	return append(args, extra...)
}

func TestReplay(t *testing.T) {
	out := filepath.Join(t.TempDir(), "P.csv")
	var stdout, stderr bytes.Buffer
	if err := runReplay(context.Background(), sampleArgs(out), replayNoEnv, &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	for _, want := range []string{"sightings", "240", "scored", "error mean", "error median", "error p90", "error p95", "room correct", "zone changes", "wrote"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) < 30 || strings.Join(recs[0], ",") != "ts,tag_id,floor,x,y,zone,confidence,solver" {
		t.Fatalf("P.csv: %d rows, header %v", len(recs), recs[0])
	}
	for _, r := range recs[1:] {
		if r[1] != "walker" || r[2] != "1" || (r[5] != "living" && r[5] != "bedroom" && r[5] != "") || r[7] == "" {
			t.Fatalf("P.csv row %v", r)
		}
	}
}

// TestReplayToStdout checks --out - keeps the CSV alone on stdout.
func TestReplayToStdout(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := runReplay(context.Background(), sampleArgs("-"), replayNoEnv, &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(&stdout).ReadAll()
	if err != nil || len(recs) < 30 || recs[0][0] != "ts" {
		t.Fatalf("stdout is not P.csv: %v, %d rows", err, len(recs))
	}
	if !strings.Contains(stderr.String(), "error median") {
		t.Errorf("report not on stderr:\n%s", stderr.String())
	}
}

func TestReplayErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("ts,gateway_id,tag_id,rssi\n1700000000,a,t,-70\nlater,a,t,-70\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badYAML := filepath.Join(dir, "engine.yaml")
	if err := os.WriteFile(badYAML, []byte("window: 2s\nwindwo: 3s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "P.csv")
	gateways := filepath.Join(sampleReplay, "gateways.csv")
	for _, tt := range []struct {
		name  string
		args  []string
		usage bool
		want  []string
	}{
		{"nothing", nil, true, []string{"--gateways, --sightings, --out required"}},
		{"no out", []string{"--gateways", gateways, "--sightings", bad}, true, []string{"--out required"}},
		{"stray argument", []string{"--gateways", gateways, "--sightings", bad, "--out", out, "extra"}, true, []string{`unexpected argument "extra"`}},
		{"bad step", []string{"--gateways", gateways, "--sightings", bad, "--out", out, "--step", "0s"}, true, []string{"--step"}},
		{"bad sightings", []string{"--gateways", gateways, "--sightings", bad, "--out", out}, false, []string{"bad.csv", "line 3", `ts "later"`}},
		{"bad config", sampleArgs(out, "--config", badYAML), false, []string{"engine.yaml", "line 2", "unknown key windwo"}},
		{"missing file", []string{"--gateways", filepath.Join(dir, "none.csv"), "--sightings", bad, "--out", out}, false, []string{"none.csv"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runReplay(context.Background(), tt.args, replayNoEnv, &stdout, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			if errors.Is(err, errUsage) != tt.usage {
				t.Errorf("err %v: usage error %v, want %v", err, errors.Is(err, errUsage), tt.usage)
			}
			msg := err.Error() + stderr.String()
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q (stderr %q) lacks %q", err, stderr.String(), w)
				}
			}
			if !tt.usage && wardwatch.ErrorCode(err) != wardwatch.EINVALID && tt.name != "missing file" {
				t.Errorf("err %v: code %q, want invalid", err, wardwatch.ErrorCode(err))
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("P.csv written despite the error")
			}
		})
	}

	var stdout, stderr bytes.Buffer
	if err := runReplay(context.Background(), []string{"-h"}, replayNoEnv, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "wardwatch replay --gateways") {
		t.Errorf("-h: %v\n%s", err, stderr.String())
	}
}

func replayNoEnv(string) string { return "" }

// TestReplayFingerprintMode builds a radio map from a survey (here the
// sample's own tag and path) and checks the engine blends its fixes.
func TestReplayFingerprintMode(t *testing.T) {
	out := filepath.Join(t.TempDir(), "P.csv")
	var stdout, stderr bytes.Buffer
	args := sampleArgs(out,
		"--survey-sightings", filepath.Join(sampleReplay, "sightings.csv"),
		"--survey-truth", filepath.Join(sampleReplay, "truth.csv"))
	if err := runReplay(context.Background(), args, replayNoEnv, &stdout, &stderr); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "+fingerprint") {
		t.Errorf("no position used the radio map:\n%s", data)
	}
	half := sampleArgs(out, "--survey-sightings", filepath.Join(sampleReplay, "sightings.csv"))
	if err := runReplay(context.Background(), half, replayNoEnv, &stdout, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("--survey-sightings without --survey-truth: %v, want errUsage", err)
	}
}
