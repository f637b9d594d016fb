package replay

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch/floorplan"
	"github.com/wardwatch/wardwatch/tracker"
)

// addFile seeds f with a committed file, when it exists.
func addFile(f *testing.F, path string) {
	if data, err := os.ReadFile(path); err == nil {
		f.Add(string(data))
	}
}

// The readers never panic, refuse what they cannot represent, and what
// they accept survives a write and a read unchanged.

func FuzzReadGateways(f *testing.F) {
	f.Add("gateway_id,floor,x,y,z\ngw-1,1,0,0,2.7\n")
	f.Add("gateway_id,floor,x,y,z,rssi_at_1m,path_loss_exponent,rx_offset,anchor_zone\n\"gw, 2\",-1,1e3,-0,2,,2.5,,Room 1\n")
	f.Add("\uFEFFGATEWAY_ID , Floor,x,y,z\r\na,1,1,1,1\r\n")
	f.Add("gateway_id,floor,x,y,z\n\"#a\",1,0,0,0\n")
	f.Add("gateway_id,floor,x,y,z\na,1,0,0\n")
	f.Add("gateway_id,floor,x,y,z\na,9223372036854775808,0,0,0\n")
	addFile(f, filepath.Join(sampleDir, "gateways.csv"))
	f.Fuzz(func(t *testing.T, in string) {
		gws, err := ReadGateways(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, g := range gws {
			if g.ID == "" || seen[g.ID] {
				t.Fatalf("gateway ID %q empty or repeated", g.ID)
			}
			seen[g.ID] = true
			for _, v := range []float64{g.X, g.Y, g.Z, g.RSSIAt1m, g.PathLossExponent, g.RxOffset} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("gateway %+v: not finite", g)
				}
			}
		}
		var b bytes.Buffer
		if err := WriteGateways(&b, gws); err != nil {
			t.Fatal(err)
		}
		again, err := ReadGateways(&b)
		if err != nil {
			t.Fatalf("reading back %q: %v", b.String(), err)
		}
		if len(gws) > 0 && !reflect.DeepEqual(again, gws) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, gws)
		}
	})
}

func FuzzReadSightings(f *testing.F) {
	f.Add("ts,gateway_id,tag_id,rssi\n1700000000.25,gw-1,tag-1,-70\n")
	f.Add("ts,gateway_id,tag_id,rssi,tx_power\n2023-11-14T22:13:20.123456789Z,a,\"t,1\",-70.5,-59\n1.7e9,a,t,-1,\n")
	f.Add("ts,gateway_id,tag_id,rssi\n.5,a,t,0\n")
	f.Add("ts,gateway_id,tag_id,rssi\n9223372036,a,t,-70\n")
	f.Add("rssi,tag_id,gateway_id,ts\n-70,t,a,1\n")
	addFile(f, filepath.Join(sampleDir, "sightings.csv"))
	f.Fuzz(func(t *testing.T, in string) {
		ss, err := ReadSightings(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, s := range ss {
			if s.Time.Unix() < 0 || s.Time.Location() != time.UTC || s.GatewayID == "" || s.TagID == "" ||
				math.IsNaN(s.RSSI) || math.IsInf(s.RSSI, 0) || math.IsNaN(s.TxPower) || math.IsInf(s.TxPower, 0) {
				t.Fatalf("sighting %+v accepted", s)
			}
		}
		var b bytes.Buffer
		if err := WriteSightings(&b, ss); err != nil {
			t.Fatal(err)
		}
		again, err := ReadSightings(&b)
		if err != nil {
			t.Fatalf("reading back %q: %v", b.String(), err)
		}
		if len(again) != len(ss) {
			t.Fatalf("read back %d sightings of %d", len(again), len(ss))
		}
		for i := range ss {
			want := ss[i]
			want.Time = want.Time.Truncate(time.Microsecond)
			if again[i] != want {
				t.Fatalf("round trip: got %+v, want %+v", again[i], want)
			}
		}
	})
}

func FuzzReadTruth(f *testing.F) {
	f.Add("ts,tag_id,x,y\n1700000000,t,1,2\n")
	f.Add("ts,tag_id,x,y,floor\n1700000000,t,1,2,\n2023-11-14T22:13:20Z,t,1,2,-3\n")
	addFile(f, filepath.Join(sampleDir, "truth.csv"))
	f.Fuzz(func(t *testing.T, in string) {
		truth, err := ReadTruth(strings.NewReader(in))
		if err != nil {
			return
		}
		var b bytes.Buffer
		if err := WriteTruth(&b, truth); err != nil {
			t.Fatal(err)
		}
		again, err := ReadTruth(&b)
		if err != nil || len(again) != len(truth) {
			t.Fatalf("reading back %q: %v, %d of %d", b.String(), err, len(again), len(truth))
		}
		for i := range truth {
			want := truth[i]
			want.Time = want.Time.Truncate(time.Microsecond)
			if again[i] != want {
				t.Fatalf("round trip: got %+v, want %+v", again[i], want)
			}
		}
	})
}

func FuzzReadZones(f *testing.F) {
	f.Add(`{"type": "FeatureCollection", "features": []}`)
	f.Add(`{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1, "kind": "lift"}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,0],[1,1],[0,0]]]}}]}`)
	f.Add(`{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1e300}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1e308,0],[1e308,1e308]]]}}]}`)
	f.Add(`{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": null, "geometry": null}]}`)
	f.Add("{\"type\": \"FeatureCollection\",\n\"features\": [\n{\"type\": \"Feature\"")
	f.Add(`[]`)
	addFile(f, filepath.Join(sampleDir, "zones.geojson"))
	f.Fuzz(func(t *testing.T, in string) {
		zones, err := ReadZones(strings.NewReader(in))
		if err != nil {
			return
		}
		names := map[string]bool{}
		for _, z := range zones {
			if z.Name == "" || names[z.Name] || !z.Kind.Valid() || !floorplan.ValidPolygon(z.Polygon) {
				t.Fatalf("zone %+v accepted", z)
			}
			names[z.Name] = true
		}
		var b bytes.Buffer
		if err := WriteZones(&b, zones); err != nil {
			t.Fatal(err)
		}
		again, err := ReadZones(&b)
		if err != nil {
			t.Fatalf("reading back %q: %v", b.String(), err)
		}
		if len(zones) > 0 && !reflect.DeepEqual(again, zones) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", again, zones)
		}
	})
}

func FuzzReadConfig(f *testing.F) {
	f.Add("window: 2s\nmin_dwell: -1s\nzone_margin: 0.5\n")
	f.Add("max_gateways: 99999999999\n")
	f.Add("tag_height: .nan\nmax_speed: .inf\n")
	f.Add("window: !!binary AAAA\n")
	f.Add("&a [*a]")
	addFile(f, filepath.Join(sampleDir, "engine.yaml"))
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := ReadConfig(strings.NewReader(in))
		if err != nil {
			return
		}
		// Whatever the file says, the engine must start and run.
		e := tracker.New(cfg, tracker.Site{})
		e.Update(time.Unix(1_700_000_000, 0))
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"1700000000.25", "2023-11-14T22:13:20Z", "1.7e9", ".5", "+0", "9223372035", "2262-04-11T23:47:16Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		ts, ok := ParseTime(in)
		if !ok {
			return
		}
		if ts.Unix() < 0 || ts.Unix() > maxEpochSeconds || ts.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v", in, ts)
		}
		back, ok := ParseTime(formatMicros(ts))
		if !ok || !back.Equal(ts.Truncate(time.Microsecond)) {
			t.Fatalf("ParseTime(formatMicros(%v)) = %v, %v", ts, back, ok)
		}
	})
}
