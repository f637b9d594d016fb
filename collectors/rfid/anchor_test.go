package rfid_test

import (
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/rfid"
	"github.com/wardwatch/wardwatch/floorplan"
	"github.com/wardwatch/wardwatch/tracker"
)

// TestSightingsAnchorTheRoom feeds ToSightings' output to the real
// location engine: two rooms side by side, each with a ceiling antenna
// declared as the room's anchor near the shared wall. A tag in room A is
// read strongly by A's antenna and, through the wall, weakly by B's; it
// must stay in A for minutes of reads, then follow to B when only B's
// antenna reads it.
// The engine runs with its default configuration, sensitivity learning
// included: it must not learn a room anchor's sensitivity from the steady
// RSSI of RFID reads (that once pushed the tag out of anchor range).
func TestSightingsAnchorTheRoom(t *testing.T) {
	const epc = "3034257BF7194E4000001A85"
	site := tracker.Site{
		Floors: []wardwatch.Floor{{ID: 1, Width: 20, Height: 10}},
		Zones: []wardwatch.Zone{
			{ID: 101, FloorID: 1, Name: "A", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(0, 0, 10, 10)},
			{ID: 102, FloorID: 1, Name: "B", Kind: wardwatch.ZoneRoom, Polygon: floorplan.Rectangle(10, 0, 10, 10)},
		},
		Gateways: []wardwatch.Gateway{
			{ID: 1, Key: "dock-1/1", FloorID: 1, At: wardwatch.Point{X: 8, Y: 5}, Z: 2.5, AnchorZoneID: 101},
			{ID: 2, Key: "dock-1/2", FloorID: 1, At: wardwatch.Point{X: 12, Y: 5}, Z: 2.5, AnchorZoneID: 102},
		},
		Tags: []wardwatch.Tag{{ID: rfid.TagID(epc), AssetID: 7}},
	}
	e := tracker.New(tracker.DefaultConfig(), site)
	reader := rfid.Reader{Key: "dock-1", Antennas: map[int]rfid.Antenna{1: {GatewayID: 1, ZoneID: 101}, 2: {GatewayID: 2, ZoneID: 102}}}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

	zoneAt := map[int]int64{} // second → zone
	step := func(i int, reads []rfid.Read) {
		ss, dropped := rfid.ToSightings(reader, reads, nil)
		if dropped != 0 {
			t.Fatalf("dropped %d reads", dropped)
		}
		for _, s := range ss {
			if !e.Observe(s) {
				t.Fatalf("engine refused %+v", s)
			}
		}
		if i%10 == 9 {
			for _, p := range e.Update(reads[0].Time).Positions {
				zoneAt[i/10] = p.ZoneID
			}
		}
	}
	read := func(i, antenna int, rssi float64) rfid.Read {
		return rfid.Read{Reader: "dock-1", Antenna: antenna, EPC: epc, RSSI: rssi, Time: t0.Add(time.Duration(i) * 100 * time.Millisecond)}
	}
	const inA, inB = 3000, 600 // tenths of a second
	for i := range inA {
		reads := []rfid.Read{read(i, 1, -50)}
		if i%3 == 0 {
			reads = append(reads, read(i, 2, -75))
		}
		step(i, reads)
	}
	for i := inA; i < inA+inB; i++ {
		step(i, []rfid.Read{read(i, 2, -48)})
	}
	// The first position comes once the tag has been heard for FirstFix.
	for s := int(tracker.DefaultConfig().FirstFix / time.Second); s < inA/10; s++ {
		if zoneAt[s] != 101 {
			t.Fatalf("at %d s the tag is in zone %d, want A (101)", s, zoneAt[s])
		}
	}
	if z := zoneAt[(inA+inB)/10-1]; z != 102 {
		t.Fatalf("after a minute at B's antenna the tag is in zone %d, want B (102)", z)
	}
}
