// Package kolakowski reads the public BLE dataset of M. Kolakowski,
// "Automated Calibration of RSS Fingerprinting Based Systems Using a Mobile
// Robot and Machine Learning", Sensors 21, 6270 (2021), data
// doi:10.5281/zenodo.5457591, CC BY 4.0 — the copy kept, with its
// attribution, in testdata/kolakowski-flat-2021 for WardWatch's accuracy
// tests: six anchors in a flat hear a tag on a robot whose pose is known.
package kolakowski

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Files of the dataset, relative to its directory.
const (
	Calibration = "calibration/calibration_df.csv" // the robot's survey run
	RobotTest   = "tests/test_robot_df.csv"        // the evaluation run
)

// TagHeight is the height of the robot's tag above the floor, metres.
const TagHeight = 0.3

// Anchors is how many anchors (receivers) the flat has; their IDs are 1…6.
const Anchors = 6

// Anchor is one receiver of anchors.csv, metres.
type Anchor struct {
	ID      int64
	X, Y, Z float64
}

// Row is one row of a *_df.csv file: the robot's pose and the RSSI (dBm)
// each anchor heard, RSSI[id-1]; NaN where the anchor heard nothing.
type Row struct {
	Time time.Time
	X, Y float64
	RSSI [Anchors]float64
}

// ReadAnchors reads dir/anchors.csv.
func ReadAnchors(dir string) ([]Anchor, error) {
	recs, err := readCSV(filepath.Join(dir, "anchors.csv"), "id,x,y,z")
	if err != nil {
		return nil, err
	}
	out := make([]Anchor, 0, len(recs))
	for i, r := range recs {
		var a Anchor
		var errs [4]error
		a.ID, errs[0] = strconv.ParseInt(r[0], 10, 64)
		a.X, errs[1] = strconv.ParseFloat(r[1], 64)
		a.Y, errs[2] = strconv.ParseFloat(r[2], 64)
		a.Z, errs[3] = strconv.ParseFloat(r[3], 64)
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("anchors.csv row %d: %w", i+1, err)
			}
		}
		out = append(out, a)
	}
	if len(out) != Anchors {
		return nil, fmt.Errorf("anchors.csv: %d anchors, want %d", len(out), Anchors)
	}
	return out, nil
}

// ReadRows reads one of the dataset's *_df.csv files (Calibration,
// RobotTest) under dir: ",ts,x,heading,y,rssi_1,…,rssi_6" with ts in
// nanoseconds since the epoch.
func ReadRows(dir, name string) ([]Row, error) {
	recs, err := readCSV(filepath.Join(dir, name), ",ts,x,heading,y,rssi_1,rssi_2,rssi_3,rssi_4,rssi_5,rssi_6")
	if err != nil {
		return nil, err
	}
	out := make([]Row, 0, len(recs))
	for i, r := range recs {
		num := func(s string) float64 {
			v, perr := strconv.ParseFloat(s, 64)
			if perr != nil && err == nil {
				err = fmt.Errorf("%s row %d: %w", name, i+1, perr)
			}
			return v
		}
		row := Row{Time: time.Unix(0, int64(num(r[1]))).UTC(), X: num(r[2]), Y: num(r[4])}
		for a := range Anchors {
			row.RSSI[a] = math.NaN()
			if s := r[5+a]; s != "" {
				row.RSSI[a] = num(s)
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, nil
}

// readCSV reads path, checks its header and returns the rows after it.
func readCSV(path, header string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: empty", path)
	}
	for i := range recs[0] {
		recs[0][i] = strings.TrimSpace(recs[0][i])
	}
	if got := strings.Join(recs[0], ","); got != header {
		return nil, fmt.Errorf("%s: header %q, want %q", path, got, header)
	}
	return recs[1:], nil
}
