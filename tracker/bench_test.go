package tracker

import (
	"fmt"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

const (
	benchTags     = 1000
	benchGateways = 8
)

// benchSite is one 40×20 floor of eight 10×10 rooms with a gateway in the
// middle of each, and benchTags tags.
func benchSite() Site {
	s := Site{Floors: []wardwatch.Floor{{ID: 1, Width: 40, Height: 20}}}
	for i := range benchGateways {
		x, y := float64(i%4)*10, float64(i/4)*10
		s.Gateways = append(s.Gateways, gw(int64(i+1), 1, x+5, y+5))
		s.Zones = append(s.Zones, wardwatch.Zone{ID: int64(100 + i), FloorID: 1, Polygon: floorplan.Rectangle(x, y, 10, 10)})
	}
	for i := range benchTags {
		s.Tags = append(s.Tags, wardwatch.Tag{ID: fmt.Sprintf("ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:%d", i), AssetID: int64(i + 1)})
	}
	return s
}

// benchRound is one sighting per (tag, gateway) link at time at, with an
// RSSI that varies by tag, gateway and round.
func benchRound(site Site, round int, at time.Time) []wardwatch.Sighting {
	ss := make([]wardwatch.Sighting, 0, len(site.Tags)*len(site.Gateways))
	for i, tag := range site.Tags {
		for j, g := range site.Gateways {
			rssi := -55 - float64((i*7+j*13+round*3)%40)
			ss = append(ss, wardwatch.Sighting{Time: at, GatewayID: g.ID, TagID: tag.ID, RSSI: rssi})
		}
	}
	return ss
}

// BenchmarkObserve measures one sighting of a known link: the steady state
// of ingest. It should not allocate.
func BenchmarkObserve(b *testing.B) {
	site := benchSite()
	e := New(Config{}, site)
	ss := benchRound(site, 0, t0)
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
// gateways (8000 links); feeding the round's sightings is not timed.
func BenchmarkUpdate(b *testing.B) {
	site := benchSite()
	e := New(Config{}, site)
	const rounds = 8
	var batches [rounds][]wardwatch.Sighting
	for r := range rounds {
		batches[r] = benchRound(site, r, t0)
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
