package fingerprint

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/wardwatch/wardwatch"
)

// benchMap is a 10 × 10 m floor cut into 100 cells of 1 m, heard by 8
// gateways, and 64 readings to locate.
func benchMap(b *testing.B) (*Map, []Sample, []map[int64]float64) {
	rng := rand.New(rand.NewPCG(9, 9))
	gws := []wardwatch.Point{{X: 0, Y: 0}, {X: 5, Y: 0}, {X: 10, Y: 0}, {X: 10, Y: 5}, {X: 10, Y: 10}, {X: 5, Y: 10}, {X: 0, Y: 10}, {X: 0, Y: 5}}
	read := func(p wardwatch.Point, sigma float64) map[int64]float64 {
		m := map[int64]float64{}
		for i, g := range gws {
			d := math.Sqrt((p.X-g.X)*(p.X-g.X) + (p.Y-g.Y)*(p.Y-g.Y) + 2)
			m[int64(i+1)] = -59 - 25*math.Log10(d) + sigma*rng.NormFloat64()
		}
		return m
	}
	var samples []Sample
	for y := range 10 {
		for x := range 10 {
			p := wardwatch.Point{X: float64(x) + 0.5, Y: float64(y) + 0.5}
			samples = append(samples, Sample{Floor: 1, At: p, RSSI: read(p, 0)})
		}
	}
	m, err := Build(samples, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if len(m.floors[1].at) != 100 || len(m.floors[1].gateways) != 8 {
		b.Fatalf("map of %d cells × %d gateways", len(m.floors[1].at), len(m.floors[1].gateways))
	}
	var queries []map[int64]float64
	for range 64 {
		queries = append(queries, read(wardwatch.Point{X: rng.Float64() * 10, Y: rng.Float64() * 10}, 4))
	}
	return m, samples, queries
}

// BenchmarkLocate locates on a map of 100 cells × 8 gateways.
func BenchmarkLocate(b *testing.B) {
	m, _, queries := benchMap(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, ok := m.Locate(1, queries[i%len(queries)]); !ok {
			b.Fatal("not ok")
		}
		i++
	}
}

// BenchmarkLocateNaive is the naive reference for BenchmarkLocate: the
// survey samples kept as maps, every distance computed with map lookups,
// all of them sorted, the K best averaged.
func BenchmarkLocateNaive(b *testing.B) {
	_, samples, queries := benchMap(b)
	type cand struct {
		d  float64
		at wardwatch.Point
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		q := queries[i%len(queries)]
		i++
		var cands []cand
		for _, s := range samples {
			ids := map[int64]bool{}
			for id := range q {
				ids[id] = true
			}
			for id := range s.RSSI {
				ids[id] = true
			}
			var d2 float64
			for id := range ids {
				qv, ok := q[id]
				if !ok {
					qv = DefaultMissing
				}
				sv, ok := s.RSSI[id]
				if !ok {
					sv = DefaultMissing
				}
				d2 += (qv - sv) * (qv - sv)
			}
			cands = append(cands, cand{math.Sqrt(d2), s.At})
		}
		slices.SortFunc(cands, func(a, b cand) int {
			switch {
			case a.d < b.d:
				return -1
			case a.d > b.d:
				return 1
			}
			return 0
		})
		var p wardwatch.Point
		var sw float64
		for _, c := range cands[:DefaultK] {
			w := 1 / (c.d + epsilon)
			p.X += w * c.at.X
			p.Y += w * c.at.Y
			sw += w
		}
		if sw == 0 {
			b.Fatal("no weight")
		}
	}
}
