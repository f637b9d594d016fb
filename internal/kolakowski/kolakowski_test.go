package kolakowski

import (
	"math"
	"path/filepath"
	"testing"
)

var dir = filepath.Join("..", "..", "testdata", "kolakowski-flat-2021")

func TestReadDataset(t *testing.T) {
	anchors, err := ReadAnchors(dir)
	if err != nil {
		t.Fatal(err)
	}
	if anchors[0].ID != 1 || anchors[0].X != 5.48 || anchors[0].Z != 2.08 {
		t.Errorf("first anchor = %+v", anchors[0])
	}
	for _, name := range []string{Calibration, RobotTest} {
		rows, err := ReadRows(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		heard := 0
		for _, r := range rows {
			for _, v := range r.RSSI {
				if !math.IsNaN(v) {
					heard++
				}
			}
		}
		t.Logf("%s: %d rows, %d readings, %s to %s", name, len(rows), heard, rows[0].Time, rows[len(rows)-1].Time)
		if len(rows) < 500 || heard < 3*len(rows) || rows[0].Time.Year() != 2021 {
			t.Errorf("%s: %d rows, %d readings, first at %s: not the dataset", name, len(rows), heard, rows[0].Time)
		}
	}
	if _, err := ReadRows(dir, "anchors.csv"); err == nil {
		t.Error("a file with the wrong header was accepted")
	}
}
