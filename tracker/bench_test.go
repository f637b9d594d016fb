package tracker

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

const (
	benchTags     = 1000
	benchGateways = 8
)

// benchSite is one 40×20 floor of eight 10×10 rooms with a gateway at
// the ceiling in the middle of each, and tags tags.
func benchSite(tags int) Site {
	s := Site{Floors: []wardwatch.Floor{{ID: 1, Width: 40, Height: 20}}}
	for i := range benchGateways {
		x, y := float64(i%4)*10, float64(i/4)*10
		g := gw(int64(i+1), 1, x+5, y+5)
		g.Z = 2.7
		s.Gateways = append(s.Gateways, g)
		s.Zones = append(s.Zones, wardwatch.Zone{ID: int64(100 + i), FloorID: 1, Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(x, y, 10, 10)})
	}
	for i := range tags {
		s.Tags = append(s.Tags, wardwatch.Tag{ID: fmt.Sprintf("ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:%d", i), AssetID: int64(i + 1)})
	}
	return s
}

// benchPositions places each tag of site at a random point of the floor.
func benchPositions(site Site, seed uint64) []wardwatch.Point {
	rng := rand.New(rand.NewPCG(seed, 1))
	ps := make([]wardwatch.Point, len(site.Tags))
	for i := range ps {
		ps[i] = wardwatch.Point{X: 1 + rng.Float64()*38, Y: 1 + rng.Float64()*18}
	}
	return ps
}

// benchRSSI is what gateway g reads from a tag at p: the default
// log-distance model with 4.5 dB of Gaussian noise, in whole dBm.
func benchRSSI(rng *rand.Rand, g wardwatch.Gateway, p wardwatch.Point) float64 {
	dz := g.Z - 1
	d := math.Sqrt((p.X-g.At.X)*(p.X-g.At.X) + (p.Y-g.At.Y)*(p.Y-g.At.Y) + dz*dz)
	return math.Round(min(max(-59-25*math.Log10(d)+4.5*rng.NormFloat64(), -110), -20))
}

// benchRound is one sighting per (tag, gateway) link at time at.
func benchRound(rng *rand.Rand, site Site, pos []wardwatch.Point, at time.Time) []wardwatch.Sighting {
	ss := make([]wardwatch.Sighting, 0, len(site.Tags)*len(site.Gateways))
	for i, tag := range site.Tags {
		for _, g := range site.Gateways {
			ss = append(ss, wardwatch.Sighting{Time: at, GatewayID: g.ID, TagID: tag.ID, RSSI: benchRSSI(rng, g, pos[i])})
		}
	}
	return ss
}

// BenchmarkObserve measures one sighting of a known link: the steady state
// of ingest. It must not allocate.
func BenchmarkObserve(b *testing.B) {
	site := benchSite(benchTags)
	e := New(Config{}, site)
	ss := benchRound(rand.New(rand.NewPCG(1, 2)), site, benchPositions(site, 1), t0)
	for _, s := range ss { // create every link first
		e.Observe(s)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if !e.Observe(ss[i%len(ss)]) {
			b.Fatal("refused")
		}
	}
}

// BenchmarkUpdate measures one Update of 1000 tags each heard by 8
// gateways (8000 links) at 2 Hz; feeding the round's sightings is not
// timed.
func BenchmarkUpdate(b *testing.B) {
	site := benchSite(benchTags)
	pos := benchPositions(site, 1)
	e := New(Config{}, site)
	rng := rand.New(rand.NewPCG(3, 4))
	const rounds = 8
	var batches [rounds][]wardwatch.Sighting
	for r := range rounds {
		batches[r] = benchRound(rng, site, pos, t0)
	}
	step := 500 * time.Millisecond
	now := t0
	feed := func(round int) {
		for k := range batches[round%rounds] {
			s := &batches[round%rounds][k]
			s.Time = now
			e.Observe(*s)
		}
	}
	for r := range rounds { // fill the rings
		feed(r)
		e.Update(now)
		now = now.Add(step)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		feed(i)
		b.StartTimer()
		out := e.Update(now)
		if len(out.Positions) != benchTags {
			b.Fatalf("%d positions, want %d", len(out.Positions), benchTags)
		}
		now = now.Add(step)
	}
}

// BenchmarkSolve8 measures one position solve from 8 links (the robust
// LM from the weighted centroid, and the fix's covariance), over a set
// of tags at random places heard with 4.5 dB of noise averaged over four
// samples.
func BenchmarkSolve8(b *testing.B) {
	site := benchSite(0)
	e := New(Config{}, site)
	rng := rand.New(rand.NewPCG(5, 6))
	const cases = 256
	inputs := make([][]rangeFix, cases)
	ts := &tagState{}
	for c := range cases {
		p := wardwatch.Point{X: 1 + rng.Float64()*38, Y: 1 + rng.Float64()*18}
		for _, g := range site.Gateways {
			var sum float64
			for range 4 {
				sum += benchRSSI(rng, g, p)
			}
			f := rangeFix{gateway: e.gateways[g.ID], rssi: sum / 4, sigma: e.linkSigma(linkEstimate{n: 4, total: 4, spread: 4.5})}
			inputs[c] = append(inputs[c], f)
		}
		inputs[c], _, _ = e.prepare(ts, inputs[c], 1)
	}
	bounds := rect{-2, -2, 42, 22}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fx := solve(solveInput{fixes: inputs[i%cases], bounds: bounds})
		if fx.solver == "" {
			b.Fatal("no solver")
		}
	}
}

// BenchmarkMemoryPerTag measures the engine's memory per tracked tag at
// steady state: 100,000 tags, each heard by about four gateways with full
// sample rings, after an Update, against the same engine before any tag
// was heard. It reports bytes/tag (heap in use after a GC, divided by the
// tags); the site's own tables (the tag list New indexes) are reported
// apart as site-bytes/tag.
func BenchmarkMemoryPerTag(b *testing.B) {
	const tags = 100_000
	const links = 4
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		site := benchSite(tags)
		var empty, before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&empty)
		e := New(Config{}, site)
		runtime.GC()
		runtime.ReadMemStats(&before)
		now := t0
		s := wardwatch.Sighting{RSSI: -70}
		for round := range ringSize {
			for k, tag := range site.Tags {
				s.TagID = tag.ID
				s.Time = now
				for l := range links {
					s.GatewayID = int64((k+l)%benchGateways + 1)
					s.RSSI = -60 - float64((k+l+round)%20)
					e.Observe(s)
				}
			}
			now = now.Add(250 * time.Millisecond)
		}
		b.StartTimer()
		e.Update(now)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if e.Stats().Tags != tags {
			b.Fatalf("%d tags tracked, want %d", e.Stats().Tags, tags)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/tags, "bytes/tag")
		b.ReportMetric(float64(before.HeapAlloc-empty.HeapAlloc)/tags, "site-bytes/tag")
		runtime.KeepAlive(e)
		runtime.KeepAlive(site)
	}
}
