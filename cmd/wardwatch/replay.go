package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/tracker"
)

const replayUsage = `Usage:
  wardwatch replay --gateways G.csv --sightings S.csv [--zones Z.geojson]
                   [--config engine.yaml] [--truth T.csv] [--step 500ms] --out P.csv

Runs the location engine over recorded sightings, as the live service runs
it, and writes one row per position it outputs to P.csv ("-" for standard
output). With --truth it prints the position error (n, mean, median, p90,
p95) and, with --zones, room accuracy and zone changes per hour.

  G.csv      gateway_id,floor,x,y,z[,rssi_at_1m,path_loss_exponent,rx_offset,anchor_zone]
  S.csv      ts,gateway_id,tag_id,rssi[,tx_power]   (ts: epoch seconds or RFC 3339; any order)
  T.csv      ts,tag_id,x,y[,floor]
  Z.geojson  FeatureCollection of Polygons in metres, properties {name, floor, kind}
  P.csv      ts,tag_id,floor,x,y,zone,confidence,solver
  engine.yaml  the engine's settings in snake_case (window: 4s, min_dwell: 2s, …)

Fingerprint mode: --survey-sightings and --survey-truth record a reference
tag carried along a known path; the engine blends kNN fixes in that radio
map with its ranging fixes.

Flags:
`

// runReplay is `wardwatch replay`: the engine over recorded sightings.
func runReplay(ctx context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, replayUsage)
		fs.PrintDefaults()
	}
	gatewaysPath := fs.String("gateways", "", "gateways `G.csv` (required)")
	sightingsPath := fs.String("sightings", "", "sightings `S.csv` (required)")
	zonesPath := fs.String("zones", "", "zones `Z.geojson`")
	configPath := fs.String("config", "", "engine settings `engine.yaml`; keys: "+strings.Join(replay.ConfigKeys(), ", "))
	truthPath := fs.String("truth", "", "true positions `T.csv`, to score the output")
	surveySightings := fs.String("survey-sightings", "", "fingerprint mode: a radio-map survey's sightings `S.csv` (a reference tag along a known path)")
	surveyTruth := fs.String("survey-truth", "", "fingerprint mode: the survey tag's path `T.csv`")
	outPath := fs.String("out", "", "positions output `P.csv`, \"-\" for standard output (required)")
	step := fs.Duration("step", replay.DefaultStep, "engine update interval, in recorded time")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "wardwatch replay: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	var missing []string
	for _, f := range []struct{ name, v string }{{"--gateways", *gatewaysPath}, {"--sightings", *sightingsPath}, {"--out", *outPath}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(stderr, "wardwatch replay: %s required\n", strings.Join(missing, ", "))
		fs.Usage()
		return errUsage
	}
	if *step <= 0 {
		fmt.Fprintf(stderr, "wardwatch replay: --step %s: want a positive duration\n", *step)
		return errUsage
	}

	opts := replay.Options{Step: *step, Config: tracker.DefaultConfig()}
	var err error
	if opts.Gateways, err = readInput(*gatewaysPath, replay.ReadGateways); err != nil {
		return err
	}
	if opts.Sightings, err = readInput(*sightingsPath, replay.ReadSightings); err != nil {
		return err
	}
	if *zonesPath != "" {
		if opts.Zones, err = readInput(*zonesPath, replay.ReadZones); err != nil {
			return err
		}
	}
	if *configPath != "" {
		if opts.Config, err = readInput(*configPath, replay.ReadConfig); err != nil {
			return err
		}
	}
	if *truthPath != "" {
		if opts.Truth, err = readInput(*truthPath, replay.ReadTruth); err != nil {
			return err
		}
	}
	if (*surveySightings == "") != (*surveyTruth == "") {
		fmt.Fprintln(stderr, "wardwatch replay: fingerprint mode needs both --survey-sightings and --survey-truth")
		return errUsage
	}
	if *surveySightings != "" {
		ss, err := readInput(*surveySightings, replay.ReadSightings)
		if err != nil {
			return err
		}
		st, err := readInput(*surveyTruth, replay.ReadTruth)
		if err != nil {
			return err
		}
		if opts.Survey = replay.SurveyFromSightings(ss, st, time.Second); len(opts.Survey) == 0 {
			return fmt.Errorf("replay: the survey's sightings and path do not overlap in time")
		}
	}

	report := stdout
	var file *os.File
	var buf *bufio.Writer
	if *outPath == "-" {
		opts.Out, report = stdout, stderr // keep the CSV clean
	} else {
		if file, err = os.Create(*outPath); err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		buf = bufio.NewWriterSize(file, 1<<16)
		opts.Out = buf
	}
	sum, runErr := replay.RunContext(ctx, opts)
	if file != nil {
		if runErr == nil {
			runErr = buf.Flush()
		}
		if err := file.Close(); runErr == nil && err != nil {
			runErr = err
		}
		if runErr != nil {
			os.Remove(*outPath) // a partial file would look like a result
		}
	}
	if runErr != nil {
		return fmt.Errorf("replay: %w", runErr)
	}
	if err := sum.WriteReport(report); err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	if *outPath != "-" {
		fmt.Fprintf(report, "wrote %d positions to %s\n", sum.Estimates, *outPath)
	}
	return nil
}

// readInput opens path and parses it with read, naming the file in errors.
func readInput[T any](path string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, err // names the path
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}
