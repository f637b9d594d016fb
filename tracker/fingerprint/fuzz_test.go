package fingerprint

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// fuzzMap is a small radio map of the synthetic room on floor 1.
func fuzzMap(t testing.TB) *Map {
	r := testRoom()
	m, err := Build(r.survey(rand.New(rand.NewPCG(1, 1)), 1, 1, 2), Options{K: 3})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzLocate feeds hostile readings: Locate never panics, and a located
// point is finite with a confidence in [0, 1].
func FuzzLocate(f *testing.F) {
	m := fuzzMap(f)
	le := func(v ...float64) []byte {
		var b []byte
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
		return b
	}
	f.Add(int64(1), []byte{})
	f.Add(int64(1), append([]byte{101, 0, 0, 0, 0, 0, 0, 0}, le(-60)...))
	f.Add(int64(1), append(append([]byte{102, 0, 0, 0, 0, 0, 0, 0}, le(math.NaN())...), append([]byte{103, 0, 0, 0, 0, 0, 0, 0}, le(math.Inf(1))...)...))
	f.Add(int64(2), append([]byte{101, 0, 0, 0, 0, 0, 0, 0}, le(-60)...))
	f.Add(int64(1), append([]byte{104, 0, 0, 0, 0, 0, 0, 0}, le(1e308)...))
	f.Fuzz(func(t *testing.T, floor int64, data []byte) {
		q := map[int64]float64{}
		for len(data) >= 16 {
			q[int64(binary.LittleEndian.Uint64(data))] = math.Float64frombits(binary.LittleEndian.Uint64(data[8:]))
			data = data[16:]
		}
		p, c, ok := m.Locate(floor, q)
		if !ok {
			return
		}
		if !finite(p.X) || !finite(p.Y) || !(c >= 0 && c <= 1) {
			t.Fatalf("Locate(%d, %v) = %v, %v", floor, q, p, c)
		}
	})
}

// FuzzUnmarshalJSON feeds hostile documents: UnmarshalJSON never panics,
// fails only with EINVALID, and what it accepts marshals back to a
// document that loads to the same map and can be located on.
func FuzzUnmarshalJSON(f *testing.F) {
	good, err := json.Marshal(fuzzMap(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"version":1,"k":5,"cell":1,"missing":-100,"floors":[{"floor":1,"gateways":[1,2],"cells":[{"x":0.5,"y":0.5,"n":1,"rssi":[-60,null]}]}]}`))
	f.Add([]byte(`{"version":1,"k":1,"cell":0.1,"missing":-130,"floors":[{"floor":-9,"gateways":[-3],"cells":[{"x":-1e6,"y":1e6,"n":9,"rssi":[-0.5]}]}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"floors":null}`))
	f.Add([]byte(`{"version":1,"k":5,"cell":1,"missing":-100,"floors":[{"floor":1,"gateways":[1],"cells":[{"x":1e400}]}]}`))
	f.Add([]byte(`[1,2,3]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Map
		if err := m.UnmarshalJSON(data); err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			return
		}
		out, err := json.Marshal(&m)
		if err != nil {
			t.Fatal(err)
		}
		var back Map
		if err := back.UnmarshalJSON(out); err != nil {
			t.Fatalf("re-load of %s: %v", out, err)
		}
		if !reflect.DeepEqual(m, back) {
			t.Fatalf("round trip changed the map")
		}
		for _, id := range m.Floors() {
			fm := m.floors[id]
			q := map[int64]float64{}
			for _, g := range fm.gateways {
				q[g] = -70
			}
			if p, c, ok := m.Locate(id, q); !ok || !finite(p.X) || !finite(p.Y) || !(c >= 0 && c <= 1) {
				t.Fatalf("Locate on floor %d: %v %v %v", id, p, c, ok)
			}
		}
	})
}
