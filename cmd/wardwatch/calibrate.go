package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/wardwatch/wardwatch/replay"
	"github.com/wardwatch/wardwatch/tracker/calibrate"
)

const calibrateUsage = `Usage:
  wardwatch calibrate --gateways G.csv --sightings S.csv --truth T.csv [--tag-height 1.0] --out G2.csv
  wardwatch calibrate --gateways G.csv --sightings S.csv --gateway-to-gateway [--split-offset] --out G2.csv

Fits each gateway's RSSI at 1 m and path-loss exponent (and, with
--split-offset, its receive offset) and writes G.csv again with the fitted
columns, for wardwatch replay and for the gateways' settings. It prints, per
gateway, the fit and its residuals; a parameter the data pushed past its
bound is named, never clamped silently.

Two ways to collect the sightings (same S.csv format as replay):
  survey              carry a reference tag along a known path; T.csv is
                      where it was (ts,tag_id,x,y[,floor])
  gateway-to-gateway  gateways that also advertise hear each other; each
                      sighting's tag_id is the transmitting gateway's id

Flags:
`

// runCalibrate is `wardwatch calibrate`: fit gateway radio parameters.
func runCalibrate(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("calibrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, calibrateUsage)
		fs.PrintDefaults()
	}
	gatewaysPath := fs.String("gateways", "", "gateways `G.csv` (required)")
	sightingsPath := fs.String("sightings", "", "sightings `S.csv` (required)")
	truthPath := fs.String("truth", "", "the survey tag's true path `T.csv`")
	g2g := fs.Bool("gateway-to-gateway", false, "the sightings are gateways hearing each other")
	splitOffset := fs.Bool("split-offset", false, "fit a receive offset per gateway against a shared model")
	tagHeight := fs.Float64("tag-height", 1.0, "the survey tag's height above the floor, `metres`")
	maxDistance := fs.Float64("max-distance", 0, "leave out readings from farther than this, `metres` (0: 10 for a survey, 25 gateway-to-gateway)")
	outPath := fs.String("out", "", "calibrated gateways `G2.csv`, \"-\" for standard output (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "wardwatch calibrate: unexpected argument %q\n", fs.Arg(0))
	case *gatewaysPath == "" || *sightingsPath == "" || *outPath == "":
		fmt.Fprintln(stderr, "wardwatch calibrate: --gateways, --sightings and --out are required")
	case (*truthPath == "") == !*g2g:
		fmt.Fprintln(stderr, "wardwatch calibrate: give either --truth (a survey) or --gateway-to-gateway")
	default:
		return calibrateFiles(replayCalibration{
			gateways: *gatewaysPath, sightings: *sightingsPath, truth: *truthPath, out: *outPath,
			c: replay.Calibration{GatewayToGateway: *g2g, TagHeight: *tagHeight, MaxDistance: *maxDistance,
				Options: calibrate.FitOptions{SplitOffset: *splitOffset}},
		}, stdout, stderr)
	}
	fs.Usage()
	return errUsage
}

type replayCalibration struct {
	gateways, sightings, truth, out string
	c                               replay.Calibration
}

func calibrateFiles(rc replayCalibration, stdout, stderr io.Writer) error {
	c := rc.c
	var err error
	if c.Gateways, err = readInput(rc.gateways, replay.ReadGateways); err != nil {
		return err
	}
	if c.Sightings, err = readInput(rc.sightings, replay.ReadSightings); err != nil {
		return err
	}
	if rc.truth != "" {
		if c.Truth, err = readInput(rc.truth, replay.ReadTruth); err != nil {
			return err
		}
	}
	res, err := replay.Calibrate(c)
	if err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	var csv bytes.Buffer
	if err := replay.WriteGateways(&csv, res.Gateways); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	report := stdout
	if rc.out == "-" {
		report = stderr // keep the CSV clean
		if _, err := stdout.Write(csv.Bytes()); err != nil {
			return fmt.Errorf("calibrate: %w", err)
		}
	} else if err := os.WriteFile(rc.out, csv.Bytes(), 0o644); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	if err := res.WriteReport(report); err != nil {
		return fmt.Errorf("calibrate: %w", err)
	}
	fitted := 0
	for _, r := range res.Reports {
		if r.Fitted {
			fitted++
		}
	}
	if rc.out != "-" {
		fmt.Fprintf(report, "fitted %d of %d gateways; wrote %s\n", fitted, len(res.Reports), rc.out)
	}
	if fitted == 0 {
		return fmt.Errorf("calibrate: no gateway could be fitted (%s)", strings.TrimSpace(res.Reports[0].Reason))
	}
	return nil
}
