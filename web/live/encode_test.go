package live

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestAppendRounded(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{-0.001, "0"},
		{1, "1"},
		{1.5, "1.5"},
		{1.234, "1.23"},
		{1.235, "1.24"},
		{1.2349999, "1.23"},
		{0.284999, "0.28"},
		{0.29, "0.29"},
		{-3.456, "-3.46"},
		{123456.789, "123456.79"},
		{0.876, "0.88"},
		{1e21, "1000000000000000000000"},
		{math.MaxFloat64, strconv.FormatFloat(math.MaxFloat64, 'f', -1, 64)},
		{math.NaN(), "0"},
		{math.Inf(1), "0"},
		{math.Inf(-1), "0"},
	}
	for _, tt := range tests {
		if got := string(appendRounded(nil, tt.in)); got != tt.want {
			t.Errorf("appendRounded(%v) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestMessages(t *testing.T) {
	ts := time.UnixMilli(1_700_000_000_000).UTC()
	p1 := wardwatch.Position{AssetID: 1, FloorID: 3, At: wardwatch.Point{X: 10, Y: 20.004}, ZoneID: 0, Confidence: 1, Time: ts}
	p2 := wardwatch.Position{AssetID: 42, FloorID: 3, At: wardwatch.Point{X: 1.234, Y: 5.678}, ZoneID: 12, Confidence: 0.876, Time: ts.Add(1500 * time.Millisecond)}

	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"entry", appendEntry(nil, p2), `[42,1.23,5.68,12,1700000001500,0.88]`},
		{"snap", appendSnap(nil, 3, 1_700_000_009_999, []wardwatch.Position{p1, p2}),
			`{"t":"snap","floor":3,"now":1700000009999,"a":[[1,10,20,0,1700000000000,1],[42,1.23,5.68,12,1700000001500,0.88]]}`},
		{"empty snap", appendSnap(nil, 7, 5, nil), `{"t":"snap","floor":7,"now":5,"a":[]}`},
		{"pos", appendPos(nil, 77, [][]byte{appendEntry(nil, p1), appendEntry(nil, p2)}),
			`{"t":"pos","now":77,"a":[[1,10,20,0,1700000000000,1],[42,1.23,5.68,12,1700000001500,0.88]]}`},
		{"gone", appendGone(nil, []int64{4, 9}), `{"t":"gone","a":[4,9]}`},
		{"gone one", appendGone(nil, []int64{4}), `{"t":"gone","a":[4]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got  %s\nwant %s", tt.got, tt.want)
			}
			if !json.Valid(tt.got) {
				t.Errorf("not valid JSON: %s", tt.got)
			}
		})
	}
}

// FuzzAppendEntry checks that any position encodes to a valid JSON array
// of six numbers within rounding of the input.
func FuzzAppendEntry(f *testing.F) {
	f.Add(int64(1), 1.234, 5.678, int64(12), int64(1_700_000_000_000), 0.876)
	f.Add(int64(-1), -0.001, math.Copysign(0, -1), int64(0), int64(0), 0.0)
	f.Add(int64(math.MaxInt64), math.MaxFloat64, -math.MaxFloat64, int64(math.MinInt64), int64(-62135596800000), 1e300)
	f.Add(int64(7), math.NaN(), math.Inf(1), int64(3), int64(1), math.Inf(-1))
	f.Add(int64(9), 0.005, 0.015, int64(3), int64(1), 0.995)
	f.Fuzz(func(t *testing.T, asset int64, x, y float64, zone, tsMs int64, conf float64) {
		p := wardwatch.Position{AssetID: asset, At: wardwatch.Point{X: x, Y: y}, ZoneID: zone, Confidence: conf, Time: time.UnixMilli(tsMs)}
		b := appendEntry(nil, p)
		var got []json.Number
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if len(got) != 6 {
			t.Fatalf("%s: %d elements, want 6", b, len(got))
		}
		for i, want := range []int64{asset, zone, tsMs} {
			idx := []int{0, 3, 4}[i]
			if n, err := got[idx].Int64(); err != nil || n != want {
				t.Errorf("%s: element %d = %s, want %d", b, idx, got[idx], want)
			}
		}
		for i, want := range []float64{x, y, conf} {
			idx := []int{1, 2, 5}[i]
			v, err := got[idx].Float64()
			if err != nil {
				t.Fatalf("%s: element %d: %v", b, idx, err)
			}
			if !finite(want) {
				want = 0
			}
			if math.Abs(v-want) > 0.005+math.Abs(want)*1e-12 {
				t.Errorf("%s: element %d = %v, want %v rounded to 2 decimals", b, idx, v, want)
			}
		}
	})
}
