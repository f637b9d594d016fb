package replay

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/tracker"
)

// wantInvalid checks err is an EINVALID *wardwatch.Error whose message
// contains every part of want.
func wantInvalid(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID {
		t.Fatalf("error %v: code %q, want %q", err, code, wardwatch.EINVALID)
	}
	for _, w := range want {
		if !strings.Contains(wardwatch.ErrorMessage(err), w) {
			t.Errorf("error %q does not contain %q", wardwatch.ErrorMessage(err), w)
		}
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1700000000", time.Unix(1700000000, 0), true},
		{"1700000000.25", time.Unix(1700000000, 250_000_000), true},
		{"1700000000.123456789", time.Unix(1700000000, 123456789), true},
		{"1700000000.1234567899", time.Unix(1700000000, 123456789), true}, // beyond ns: truncated
		{" 1700000000.5 ", time.Unix(1700000000, 500_000_000), true},
		{"+1700000000", time.Unix(1700000000, 0), true},
		{".5", time.Unix(0, 500_000_000), true},
		{"1.7e9", time.Unix(1700000000, 0), true},
		{"2023-11-14T22:13:20Z", time.Unix(1700000000, 0), true},
		{"2023-11-14T23:13:20.25+01:00", time.Unix(1700000000, 250_000_000), true},
		{"", time.Time{}, false},
		{".", time.Time{}, false},
		{"-1", time.Time{}, false},
		{"-1e3", time.Time{}, false},
		{"1e300", time.Time{}, false},
		{"NaN", time.Time{}, false},
		{"Inf", time.Time{}, false},
		{"12a", time.Time{}, false},
		{"1.2.3", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
		{"2023-11-14 22:13:20", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseTime(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) is in %v, want UTC", tt.in, got.Location())
		}
	}
}

func TestFormatTime(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Unix(1700000000, 0), "1700000000.000"},
		{time.Unix(1700000000, 250_999_999), "1700000000.250"},
		{time.Unix(5, 7_000_000), "5.007"},
	} {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadGateways(t *testing.T) {
	got, err := ReadGateways(strings.NewReader("\uFEFFGateway_ID, floor ,x,y,z,rssi_at_1m,path_loss_exponent,rx_offset,anchor_zone\n" +
		"gw-a,2,1.5,2,2.7,-60,2.2,3,Room 1\n" +
		"\n" +
		"gw-b,-1,0,0,0,,,,\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Gateway{
		{ID: "gw-a", Floor: 2, X: 1.5, Y: 2, Z: 2.7, RSSIAt1m: -60, PathLossExponent: 2.2, RxOffset: 3, AnchorZone: "Room 1"},
		{ID: "gw-b", Floor: -1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"line 1", "empty file", "gateway_id,floor,x,y,z"}},
		{"missing column", "gateway_id,floor,x,y\n", []string{"line 1", `lacks column "z"`}},
		{"unknown column", "gateway_id,floor,x,y,z,height\n", []string{"line 1", `unknown column "height"`}},
		{"repeated column", "gateway_id,floor,x,y,z,x\n", []string{"line 1", `"x" appears twice`}},
		{"bad number", "gateway_id,floor,x,y,z\na,1,0,0,0\nb,1,one,0,0\n", []string{"line 3", `x "one"`}},
		{"infinite", "gateway_id,floor,x,y,z\na,1,0,Inf,0\n", []string{"line 2", "y", "finite"}},
		{"NaN", "gateway_id,floor,x,y,z\na,1,0,0,NaN\n", []string{"line 2", "z"}},
		{"bad floor", "gateway_id,floor,x,y,z\na,1.5,0,0,0\n", []string{"line 2", "floor", "integer"}},
		{"empty floor", "gateway_id,floor,x,y,z\na,,0,0,0\n", []string{"line 2", "floor is empty"}},
		{"empty id", "gateway_id,floor,x,y,z\n,1,0,0,0\n", []string{"line 2", "gateway_id is empty"}},
		{"duplicate", "gateway_id,floor,x,y,z\na,1,0,0,0\n\na,1,1,1,1\n", []string{"line 4", `"a" already on line 2`}},
		{"short row", "gateway_id,floor,x,y,z\na,1,0,0\n", []string{"line 2", "4 fields, want 5"}},
		{"negative path loss", "gateway_id,floor,x,y,z,path_loss_exponent\na,1,0,0,0,-2\n", []string{"line 2", "path_loss_exponent"}},
		{"bad quoting", "gateway_id,floor,x,y,z\n\"a,1,0,0,0\n", []string{"line 2"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadGateways(strings.NewReader(tt.in))
			wantInvalid(t, err, tt.want...)
		})
	}
}

func TestReadSightings(t *testing.T) {
	got, err := ReadSightings(strings.NewReader("ts,gateway_id,tag_id,rssi,tx_power\n" +
		"1700000001.5,gw-b,tag 1,-71,\n" +
		"2023-11-14T22:13:20Z,gw-a,tag 1,-65.5,-59\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Sighting{ // file order: Run sorts
		{Time: time.Unix(1700000001, 500_000_000).UTC(), GatewayID: "gw-b", TagID: "tag 1", RSSI: -71},
		{Time: time.Unix(1700000000, 0).UTC(), GatewayID: "gw-a", TagID: "tag 1", RSSI: -65.5, TxPower: -59},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got, err := ReadSightings(strings.NewReader("ts,gateway_id,tag_id,rssi\n")); err != nil || len(got) != 0 {
		t.Errorf("header only: %v, %v; want no sightings", got, err)
	}

	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"no rssi column", "ts,gateway_id,tag_id\n", []string{"line 1", `lacks column "rssi"`}},
		{"bad ts", "ts,gateway_id,tag_id,rssi\n1700000000,a,t,-70\nnoon,a,t,-70\n", []string{"line 3", `ts "noon"`, "RFC 3339"}},
		{"negative ts", "ts,gateway_id,tag_id,rssi\n-5,a,t,-70\n", []string{"line 2", "ts"}},
		{"empty tag", "ts,gateway_id,tag_id,rssi\n1,a,,-70\n", []string{"line 2", "tag_id is empty"}},
		{"bad rssi", "ts,gateway_id,tag_id,rssi\n1,a,t,loud\n", []string{"line 2", `rssi "loud"`}},
		{"bad tx_power", "ts,gateway_id,tag_id,rssi,tx_power\n1,a,t,-70,x\n", []string{"line 2", "tx_power"}},
		{"long field", "ts,gateway_id,tag_id,rssi\n1,a," + strings.Repeat("t", maxField+1) + ",-70\n", []string{"line 2", "longer than"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadSightings(strings.NewReader(tt.in))
			wantInvalid(t, err, tt.want...)
		})
	}
}

func TestReadTruth(t *testing.T) {
	got, err := ReadTruth(strings.NewReader("ts,tag_id,x,y,floor\n10,t,1,2,3\n11,t,1.5,2,\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Truth{
		{Time: time.Unix(10, 0).UTC(), TagID: "t", X: 1, Y: 2, Floor: 3, HasFloor: true},
		{Time: time.Unix(11, 0).UTC(), TagID: "t", X: 1.5, Y: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	_, err = ReadTruth(strings.NewReader("ts,tag_id,x,y\n10,t,1,\n"))
	wantInvalid(t, err, "line 2", "y is empty")
}

func TestWriteReadRoundTrip(t *testing.T) {
	ds := ESPresenseFlat(Flat{Seed: 3, Duration: 20 * time.Second})
	ds.Gateways[0].AnchorZone = "living"
	ds.Sightings[1].TxPower = -61
	ds.Truth[0].HasFloor = false

	var b bytes.Buffer
	if err := WriteGateways(&b, ds.Gateways); err != nil {
		t.Fatal(err)
	}
	gws, err := ReadGateways(&b)
	if err != nil || !reflect.DeepEqual(gws, ds.Gateways) {
		t.Errorf("gateways: %v\n got %+v\nwant %+v", err, gws, ds.Gateways)
	}
	b.Reset()
	if err := WriteSightings(&b, ds.Sightings); err != nil {
		t.Fatal(err)
	}
	ss, err := ReadSightings(&b)
	if err != nil || len(ss) != len(ds.Sightings) {
		t.Fatalf("sightings: %v, %d of %d", err, len(ss), len(ds.Sightings))
	}
	for i := range ss {
		w := ds.Sightings[i]
		w.Time = w.Time.Truncate(time.Microsecond)
		if ss[i] != w {
			t.Fatalf("sighting %d: got %+v, want %+v", i, ss[i], w)
		}
	}
	b.Reset()
	if err := WriteTruth(&b, ds.Truth); err != nil {
		t.Fatal(err)
	}
	truth, err := ReadTruth(&b)
	if err != nil || len(truth) != len(ds.Truth) || truth[0].HasFloor || !truth[1].HasFloor {
		t.Errorf("truth: %v, %+v", err, truth)
	}
	b.Reset()
	if err := WriteZones(&b, ds.Zones); err != nil {
		t.Fatal(err)
	}
	zones, err := ReadZones(&b)
	if err != nil || !reflect.DeepEqual(zones, ds.Zones) {
		t.Errorf("zones: %v\n got %+v\nwant %+v", err, zones, ds.Zones)
	}
}

func TestReadZones(t *testing.T) {
	got, err := ReadZones(strings.NewReader(`{"type": "FeatureCollection", "bbox": [0, 0, 10, 10], "features": [
	  {"type": "Feature", "id": 7, "properties": {"name": "4B-12", "floor": 2, "kind": "room", "colour": "red"},
	   "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 5, 2.7], [0, 5], [0, 0]]]}},
	  {"type": "Feature", "properties": {"name": "Corridor", "floor": -1, "kind": null},
	   "geometry": {"type": "Polygon", "coordinates": [[[0, 5], [40, 5], [40, 7.5]]]}}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Zone{
		{Name: "4B-12", Floor: 2, Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 0}, {X: 4, Y: 0}, {X: 4, Y: 5}, {X: 0, Y: 5}}},
		{Name: "Corridor", Floor: -1, Kind: wardwatch.ZoneRoom, Polygon: []wardwatch.Point{{X: 0, Y: 5}, {X: 40, Y: 5}, {X: 40, Y: 7.5}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	square := `"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}`
	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"line 1", "unexpected end"}},
		{"syntax", "{\"type\": \"FeatureCollection\",\n \"features\": [\n  {,}]}", []string{"line 3"}},
		{"type mismatch", "{\"type\": \"FeatureCollection\",\n \"features\": {}}", []string{"line 2", "features"}},
		{"not a collection", `{"type": "Feature"}`, []string{"FeatureCollection"}},
		{"feature type", `{"type": "FeatureCollection", "features": [{"type": "Point"}]}`, []string{"feature 1", `"Point"`}},
		{"no name", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"floor": 1}, ` + square + `}]}`, []string{"feature 1", `lack a "name"`}},
		{"name not string", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": 5, "floor": 1}, ` + square + `}]}`, []string{"feature 1", "name 5"}},
		{"no floor", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A"}, ` + square + `}]}`, []string{`feature 1 ("A")`, `"floor"`}},
		{"fractional floor", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1.5}, ` + square + `}]}`, []string{"floor 1.5"}},
		{"string floor", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": "1"}, ` + square + `}]}`, []string{"floor \"1\""}},
		{"bad kind", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1, "kind": "garden"}, ` + square + `}]}`, []string{`kind "garden"`}},
		{"duplicate name", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, ` + square + `}, {"type": "Feature", "properties": {"name": "A", "floor": 2}, ` + square + `}]}`, []string{"feature 2", "feature 1"}},
		{"no geometry", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}}]}`, []string{"no geometry"}},
		{"multipolygon", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "MultiPolygon", "coordinates": []}}]}`, []string{`"MultiPolygon"`}},
		{"hole", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[9,0],[9,9]], [[1,1],[2,1],[2,2]]]}}]}`, []string{"holes"}},
		{"no ring", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "Polygon", "coordinates": []}}]}`, []string{"no ring"}},
		{"bad coordinates", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "Polygon", "coordinates": [["a"]]}}]}`, []string{"coordinates"}},
		{"short position", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "Polygon", "coordinates": [[[0],[1,0],[1,1]]]}}]}`, []string{"fewer than two"}},
		{"degenerate", `{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"name": "A", "floor": 1}, "geometry": {"type": "Polygon", "coordinates": [[[0,0],[1,1],[2,2],[0,0]]]}}]}`, []string{"non-zero area"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadZones(strings.NewReader(tt.in))
			wantInvalid(t, err, tt.want...)
		})
	}
}

func TestSnakeCase(t *testing.T) {
	for in, want := range map[string]string{
		"Window":          "window",
		"MinDwell":        "min_dwell",
		"DefaultRSSIAt1m": "default_rssi_at_1m",
		"RSSINoise":       "rssi_noise",
		"MaxGateways":     "max_gateways",
		"TagHeight":       "tag_height",
		"OutlierK":        "outlier_k",
		"ID":              "id",
		"HTTPServer2":     "http_server_2",
	} {
		if got := snakeCase(in); got != want {
			t.Errorf("snakeCase(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReadConfig(t *testing.T) {
	cfg, err := ReadConfig(strings.NewReader("# tuned for ward 4\nwindow: 2s\nmin_dwell: 1500ms\nzone_margin: 0.75\nmax_gateways: 6\ndefault_rssi_at_1m: -61\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := tracker.DefaultConfig()
	want.Window, want.MinDwell, want.ZoneMargin, want.MaxGateways, want.DefaultRSSIAt1m = 2*time.Second, 1500*time.Millisecond, 0.75, 6, -61
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}

	for _, in := range []string{"", "# nothing set\n", "---\n"} {
		cfg, err := ReadConfig(strings.NewReader(in))
		if err != nil || !reflect.DeepEqual(cfg, tracker.DefaultConfig()) {
			t.Errorf("ReadConfig(%q) = %+v, %v; want the defaults", in, cfg, err)
		}
	}

	for _, tt := range []struct {
		name, in string
		want     []string
	}{
		{"unknown key", "window: 2s\nwindwo: 3s\n", []string{"line 2", "unknown key windwo", "known keys:", "min_dwell"}},
		{"bad duration", "window: soon\n", []string{"line 1", "soon"}},
		{"bare number for a duration", "window: 4\n", []string{"line 1"}},
		{"bad number", "zone_margin: wide\n", []string{"line 1", "wide"}},
		{"not a mapping", "- window\n", []string{"line 1"}},
		{"syntax", "window: [\n", []string{"line"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadConfig(strings.NewReader(tt.in))
			wantInvalid(t, err, tt.want...)
			if strings.Contains(err.Error(), "struct {") {
				t.Errorf("error %q shows the mirror type", err)
			}
		})
	}
}

// TestConfigKeysCoverConfig checks every plain field of tracker.Config can
// be set from YAML, so a field the engine adds is reachable by replay
// --config without a change here.
func TestConfigKeysCoverConfig(t *testing.T) {
	keys := ConfigKeys()
	ct := reflect.TypeFor[tracker.Config]()
	for f := range ct.Fields() {
		if !f.IsExported() {
			continue
		}
		switch f.Type.Kind() {
		case reflect.Interface, reflect.Func, reflect.Pointer, reflect.Map, reflect.Chan:
			continue
		}
		if !slices.Contains(keys, snakeCase(f.Name)) && !slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, snakeCase(f.Name)+".") }) {
			t.Errorf("tracker.Config.%s has no YAML key (keys: %v)", f.Name, keys)
		}
	}
	// Every key set to a distinct value reads back.
	var b strings.Builder
	v := reflect.ValueOf(tracker.DefaultConfig())
	for f := range ct.Fields() {
		switch f.Type.Kind() {
		case reflect.Int64:
			if f.Type == reflect.TypeFor[time.Duration]() {
				b.WriteString(snakeCase(f.Name) + ": 1234ms\n")
			}
		case reflect.Float64:
			b.WriteString(snakeCase(f.Name) + ": 0.125\n")
		}
	}
	cfg, err := ReadConfig(strings.NewReader(b.String()))
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	got := reflect.ValueOf(cfg)
	for f := range ct.Fields() {
		switch {
		case f.Type == reflect.TypeFor[time.Duration]():
			if d := got.FieldByIndex(f.Index).Interface().(time.Duration); d != 1234*time.Millisecond {
				t.Errorf("%s = %v, want 1.234s", f.Name, d)
			}
		case f.Type.Kind() == reflect.Float64:
			if x := got.FieldByIndex(f.Index).Float(); x != 0.125 {
				t.Errorf("%s = %v, want 0.125 (default %v)", f.Name, x, v.FieldByIndex(f.Index).Float())
			}
		}
	}
}

func TestPercentile(t *testing.T) {
	if !math.IsNaN(Percentile(nil, 50)) {
		t.Error("Percentile of nothing is not NaN")
	}
	vals := []float64{1, 2, 3, 4, 5}
	for p, want := range map[float64]float64{0: 1, 50: 3, 90: 4.6, 95: 4.8, 100: 5} {
		if got := Percentile(vals, p); math.Abs(got-want) > 1e-12 {
			t.Errorf("Percentile(%v, %v) = %v, want %v", vals, p, got, want)
		}
	}
	if got := Percentile([]float64{7}, 95); got != 7 {
		t.Errorf("Percentile of one value = %v, want 7", got)
	}
}

func TestInterpolate(t *testing.T) {
	at := func(s float64) time.Time { return time.Unix(100, 0).Add(time.Duration(s * float64(time.Second))) }
	ts := []Truth{
		{Time: at(0), X: 0, Y: 0, Floor: 1, HasFloor: true},
		{Time: at(10), X: 10, Y: 20, Floor: 2, HasFloor: true},
	}
	for _, tt := range []struct {
		s     float64
		want  wardwatch.Point
		floor int64
		ok    bool
	}{
		{-2, wardwatch.Point{}, 0, false},
		{-0.5, wardwatch.Point{}, 1, true},
		{0, wardwatch.Point{}, 1, true},
		{2.5, wardwatch.Point{X: 2.5, Y: 5}, 1, true},
		{7.5, wardwatch.Point{X: 7.5, Y: 15}, 2, true},
		{10, wardwatch.Point{X: 10, Y: 20}, 2, true},
		{10.9, wardwatch.Point{X: 10, Y: 20}, 2, true},
		{11.5, wardwatch.Point{}, 0, false},
	} {
		p, floor, _, ok := interpolate(ts, at(tt.s))
		if ok != tt.ok || (ok && (math.Abs(p.X-tt.want.X) > 1e-9 || math.Abs(p.Y-tt.want.Y) > 1e-9 || floor != tt.floor)) {
			t.Errorf("at %vs: %v floor %d ok %v; want %v floor %d ok %v", tt.s, p, floor, ok, tt.want, tt.floor, tt.ok)
		}
	}
}
