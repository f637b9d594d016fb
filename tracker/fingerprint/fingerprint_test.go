package fingerprint

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// room is a synthetic 10 × 8 m room with a gateway in each corner at
// 2.5 m, each with its own log-distance field, heard down to -90 dBm.
type room struct {
	gateways []wardwatch.Point
	ids      []int64
	a, n     []float64
}

func testRoom() room {
	return room{
		gateways: []wardwatch.Point{{X: 0.5, Y: 0.5}, {X: 9.5, Y: 0.5}, {X: 9.5, Y: 7.5}, {X: 0.5, Y: 7.5}},
		ids:      []int64{101, 102, 103, 104},
		a:        []float64{-59, -62, -57, -60},
		n:        []float64{2.2, 2.6, 2.0, 2.4},
	}
}

const (
	roomW, roomH = 10.0, 8.0
	sensitivity  = -90.0
)

// reading is what the gateways hear of a tag at p (1 m high), with noise
// sigma; gateways below the sensitivity are absent.
func (r room) reading(rng *rand.Rand, p wardwatch.Point, sigma float64) map[int64]float64 {
	m := map[int64]float64{}
	for i, g := range r.gateways {
		d := math.Sqrt((p.X-g.X)*(p.X-g.X) + (p.Y-g.Y)*(p.Y-g.Y) + 1.5*1.5)
		v := r.a[i] - 10*r.n[i]*math.Log10(d) + sigma*rng.NormFloat64()
		if v >= sensitivity {
			m[r.ids[i]] = v
		}
	}
	return m
}

// survey samples the room on a grid of step metres, with noise sigma.
func (r room) survey(rng *rand.Rand, floor int64, step, sigma float64) []Sample {
	var s []Sample
	for y := step / 2; y < roomH; y += step {
		for x := step / 2; x < roomW; x += step {
			p := wardwatch.Point{X: x, Y: y}
			s = append(s, Sample{Floor: floor, At: p, RSSI: r.reading(rng, p, sigma)})
		}
	}
	return s
}

func dist(a, b wardwatch.Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

func quantile(v []float64, q float64) float64 {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[int(math.Round(q*float64(len(v)-1)))]
}

// locateErrors locates n random points of the room read with noise sigma
// and returns the errors in metres and the mean confidence.
func locateErrors(t *testing.T, m *Map, r room, seed uint64, n int, sigma float64) ([]float64, float64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 3))
	var errs []float64
	var conf float64
	for range n {
		p := wardwatch.Point{X: 0.5 + rng.Float64()*(roomW-1), Y: 0.5 + rng.Float64()*(roomH-1)}
		got, c, ok := m.Locate(1, r.reading(rng, p, sigma))
		if !ok {
			t.Fatalf("Locate(%v) not ok", p)
		}
		if c < 0 || c > 1 || !finite(got.X) || !finite(got.Y) {
			t.Fatalf("Locate(%v) = %v, %v", p, got, c)
		}
		errs = append(errs, dist(got, p))
		conf += c
	}
	return errs, conf / float64(n)
}

func TestLocateSyntheticRoom(t *testing.T) {
	r := testRoom()
	tests := []struct {
		name          string
		surveySigma   float64
		querySigma    float64
		maxMedian     float64
		maxP90        float64
		minConfidence float64
	}{
		{"noise-free", 0, 0, 1.0, 1.5, 0.5},
		{"survey and query sigma 4 dB", 4, 4, 2.5, 4.5, 0.1},
	}
	var prevMedian, prevConf float64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			m, err := Build(r.survey(rng, 1, 0.25, tt.surveySigma), Options{})
			if err != nil {
				t.Fatal(err)
			}
			errs, conf := locateErrors(t, m, r, uint64(10+i), 500, tt.querySigma)
			med, p90 := quantile(errs, 0.5), quantile(errs, 0.9)
			t.Logf("median %.2f m, p90 %.2f m, mean confidence %.2f", med, p90, conf)
			if med > tt.maxMedian || p90 > tt.maxP90 || conf < tt.minConfidence {
				t.Errorf("median %.2f m (max %.1f), p90 %.2f m (max %.1f), confidence %.2f (min %.2f)", med, tt.maxMedian, p90, tt.maxP90, conf, tt.minConfidence)
			}
			if med < prevMedian {
				t.Errorf("noise improved the median: %.2f < %.2f", med, prevMedian)
			}
			if prevConf > 0 && conf >= prevConf {
				t.Errorf("noise did not lower the confidence: %.2f ≥ %.2f", conf, prevConf)
			}
			prevMedian, prevConf = med, conf
		})
	}
}

func TestLocateConfidence(t *testing.T) {
	r := testRoom()
	rng := rand.New(rand.NewPCG(5, 5))
	m, err := Build(r.survey(rng, 1, 0.25, 0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := wardwatch.Point{X: 3.3, Y: 4.1}
	_, clean, _ := m.Locate(1, r.reading(rng, p, 0))
	// Every gateway loud, as nowhere in the room: a poor match.
	_, loud, ok := m.Locate(1, map[int64]float64{101: -40, 102: -40, 103: -40, 104: -40})
	if !ok || !(loud < clean/2) {
		t.Errorf("confidence of an impossible reading %.2f, of a clean one %.2f", loud, clean)
	}
	// One gateway only: cells far apart match equally, a wide spread.
	_, one, ok := m.Locate(1, map[int64]float64{101: -70})
	if !ok || !(one < clean) {
		t.Errorf("confidence from one gateway %.2f, from four %.2f", one, clean)
	}
}

func TestLocateNotOK(t *testing.T) {
	r := testRoom()
	rng := rand.New(rand.NewPCG(6, 6))
	m, err := Build(r.survey(rng, 1, 0.5, 0), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		m     *Map
		floor int64
		rssi  map[int64]float64
	}{
		{"unknown floor", m, 2, map[int64]float64{101: -60}},
		{"nil map", nil, 1, map[int64]float64{101: -60}},
		{"empty reading", m, 1, nil},
		{"unknown gateways only", m, 1, map[int64]float64{7: -60, 8: -70}},
		{"non-finite only", m, 1, map[int64]float64{101: math.NaN(), 102: math.Inf(-1), 103: math.Inf(1)}},
		{"at or below Missing only", m, 1, map[int64]float64{101: -100, 102: -120}},
	}
	for _, tt := range tests {
		if p, c, ok := tt.m.Locate(tt.floor, tt.rssi); ok || c != 0 || p != (wardwatch.Point{}) {
			t.Errorf("%s: Locate = %v, %v, %v; want not ok", tt.name, p, c, ok)
		}
	}
	// A reading with unknown gateways besides a known one still locates.
	if _, _, ok := m.Locate(1, map[int64]float64{7: -60, 103: -65, 104: math.NaN()}); !ok {
		t.Errorf("a reading sharing one gateway was refused")
	}
}

func TestBuild(t *testing.T) {
	samples := []Sample{
		{Floor: 1, At: wardwatch.Point{X: 0.2, Y: 0.3}, RSSI: map[int64]float64{1: -60, 2: -80}},
		{Floor: 1, At: wardwatch.Point{X: 0.6, Y: 0.7}, RSSI: map[int64]float64{1: -64, 2: -82, 3: -90}},
		{Floor: 1, At: wardwatch.Point{X: 0.4, Y: 0.2}, RSSI: map[int64]float64{1: -62, 3: -120}},
		{Floor: 1, At: wardwatch.Point{X: 1.5, Y: 0.5}, RSSI: map[int64]float64{3: -70}},
		{Floor: 2, At: wardwatch.Point{X: -0.5, Y: 0.5}, RSSI: map[int64]float64{9: -50}},
		// Ignored: non-finite or far position, no usable reading.
		{Floor: 1, At: wardwatch.Point{X: math.NaN(), Y: 0.5}, RSSI: map[int64]float64{1: -50}},
		{Floor: 1, At: wardwatch.Point{X: 2e6, Y: 0.5}, RSSI: map[int64]float64{1: -50}},
		{Floor: 1, At: wardwatch.Point{X: 0.5, Y: 0.5}, RSSI: map[int64]float64{1: math.NaN(), 2: 0, 3: -131}},
		{Floor: 3, At: wardwatch.Point{X: 0.5, Y: 0.5}},
	}
	m, err := Build(samples, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Floors(); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("Floors() = %v", got)
	}
	fm := m.floors[1]
	if !slices.Equal(fm.gateways, []int64{1, 2, 3}) || len(fm.at) != 2 {
		t.Fatalf("floor 1: gateways %v, %d cells", fm.gateways, len(fm.at))
	}
	// Cell (0,0): three samples at a mean position of (0.4, 0.4); gateway
	// 1 heard in 3 (mean -62), 2 in 2 of 3 (mean -81), 3 in 2 of 3 but one
	// of them below Missing (counts as -100): mean -95.
	if fm.at[0] != (wardwatch.Point{X: 0.4, Y: 0.4}) || fm.n[0] != 3 {
		t.Errorf("cell 0 at %v n %d", fm.at[0], fm.n[0])
	}
	if want := []float64{-62, -81, -95}; !slices.Equal(fm.rssi[:3], want) {
		t.Errorf("cell 0 RSSI %v, want %v", fm.rssi[:3], want)
	}
	// Cell (1,0): gateway 3 only; the others at Missing.
	if want := []float64{-100, -100, -70}; !slices.Equal(fm.rssi[3:], want) {
		t.Errorf("cell 1 RSSI %v, want %v", fm.rssi[3:], want)
	}
	// A gateway heard in fewer than half a cell's samples is unheard there.
	m, err = Build([]Sample{
		{At: wardwatch.Point{X: 0.1, Y: 0.1}, RSSI: map[int64]float64{1: -60, 2: -70}},
		{At: wardwatch.Point{X: 0.2, Y: 0.2}, RSSI: map[int64]float64{1: -60}},
		{At: wardwatch.Point{X: 0.3, Y: 0.3}, RSSI: map[int64]float64{1: -60}},
		{At: wardwatch.Point{X: 5.3, Y: 0.3}, RSSI: map[int64]float64{2: -60}},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := m.floors[0].rssi; !slices.Equal(got, []float64{-60, -100, -100, -60}) {
		t.Errorf("RSSI %v", got)
	}
}

func TestBuildInvalid(t *testing.T) {
	good := []Sample{{At: wardwatch.Point{X: 1, Y: 1}, RSSI: map[int64]float64{1: -60}}}
	tests := []struct {
		name    string
		samples []Sample
		opt     Options
	}{
		{"no samples", nil, Options{}},
		{"no usable sample", []Sample{{At: wardwatch.Point{X: math.Inf(1)}, RSSI: map[int64]float64{1: -60}}, {RSSI: map[int64]float64{1: math.NaN()}}}, Options{}},
		{"everything below Missing", []Sample{{RSSI: map[int64]float64{1: -110}}}, Options{}},
		{"negative K", good, Options{K: -1}},
		{"huge K", good, Options{K: MaxK + 1}},
		{"tiny cell", good, Options{Cell: 0.01}},
		{"negative cell", good, Options{Cell: -1}},
		{"NaN cell", good, Options{Cell: math.NaN()}},
		{"positive Missing", good, Options{Missing: 5}},
		{"NaN Missing", good, Options{Missing: math.NaN()}},
	}
	for _, tt := range tests {
		m, err := Build(tt.samples, tt.opt)
		var we *wardwatch.Error
		if m != nil || !errors.As(err, &we) || we.Code != wardwatch.EINVALID {
			t.Errorf("%s: Build = %v, %v; want EINVALID", tt.name, m, err)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := testRoom()
	rng := rand.New(rand.NewPCG(8, 8))
	samples := r.survey(rng, 1, 0.5, 3)
	samples = append(samples, r.survey(rng, 4, 1, 3)...)
	m, err := Build(samples, Options{K: 4, Cell: 0.75, Missing: -95})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var back Map
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m, &back) {
		t.Fatalf("round trip changed the map")
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(data) {
		t.Fatalf("re-marshalled document differs (%v)", err)
	}
	for range 50 {
		p := wardwatch.Point{X: rng.Float64() * roomW, Y: rng.Float64() * roomH}
		q := r.reading(rng, p, 4)
		p1, c1, ok1 := m.Locate(1, q)
		p2, c2, ok2 := back.Locate(1, q)
		if p1 != p2 || c1 != c2 || ok1 != ok2 {
			t.Fatalf("Locate differs after the round trip")
		}
	}
	t.Logf("%d cells on 2 floors: %d bytes", len(m.floors[1].at)+len(m.floors[4].at), len(data))
	// A nil map marshals to null.
	var nilMap *Map
	if data, err := json.Marshal(nilMap); err != nil || string(data) != "null" {
		t.Errorf("nil map: %s, %v", data, err)
	}
}

func TestUnmarshalInvalid(t *testing.T) {
	valid := `{"version":1,"k":5,"cell":1,"missing":-100,"floors":[{"floor":1,"gateways":[1,2],"cells":[{"x":0.5,"y":0.5,"n":1,"rssi":[-60,null]}]}]}`
	var m Map
	if err := json.Unmarshal([]byte(valid), &m); err != nil {
		t.Fatalf("valid document: %v", err)
	}
	tests := map[string]string{
		"not JSON":           `{"version":`,
		"wrong type":         `{"version":"1"}`,
		"version 2":          strings.Replace(valid, `"version":1`, `"version":2`, 1),
		"k 0":                strings.Replace(valid, `"k":5`, `"k":0`, 1),
		"cell 0":             strings.Replace(valid, `"cell":1`, `"cell":0`, 1),
		"missing positive":   strings.Replace(valid, `"missing":-100`, `"missing":3`, 1),
		"no floors":          `{"version":1,"k":5,"cell":1,"missing":-100,"floors":[]}`,
		"duplicate floor":    strings.Replace(valid, `]}]}`, `]}]},{"floor":1,"gateways":[1],"cells":[{"x":0,"y":0,"n":1,"rssi":[-50]}]}]}`, 1),
		"unsorted gateways":  strings.Replace(valid, `[1,2]`, `[2,1]`, 1),
		"duplicate gateways": strings.Replace(valid, `[1,2]`, `[1,1]`, 1),
		"no gateways":        strings.Replace(strings.Replace(valid, `[1,2]`, `[]`, 1), `[-60,null]`, `[]`, 1),
		"short row":          strings.Replace(valid, `[-60,null]`, `[-60]`, 1),
		"RSSI positive":      strings.Replace(valid, `-60,`, `6,`, 1),
		"RSSI below missing": strings.Replace(valid, `-60,`, `-160,`, 1),
		"n 0":                strings.Replace(valid, `"n":1`, `"n":0`, 1),
		"far cell":           strings.Replace(valid, `"x":0.5`, `"x":1e9`, 1),
	}
	for name, doc := range tests {
		before := m
		err := m.UnmarshalJSON([]byte(doc))
		var we *wardwatch.Error
		if !errors.As(err, &we) || we.Code != wardwatch.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", name, err)
		}
		if !reflect.DeepEqual(before, m) {
			t.Errorf("%s: the map changed on error", name)
		}
	}
}
