package rfid

import (
	"reflect"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Portal of the tests: antennas 1 and 2 inside (zone 10), 3 outside
// (zone 20).
var testPortal = Portal{Inside: []int{1, 2}, Outside: []int{3}, InsideZone: 10, OutsideZone: 20, Window: 3 * time.Second, MinInterval: 10 * time.Second}

const (
	in1, in2, out = 1, 2, 3
	tagA, tagB    = "3034257BF7194E4000001A85", "E280116060000209F2A3B4C5"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// ev is one step of a portal sequence: a read (ant > 0) at ms after t0,
// or an Advance (ant 0).
type ev struct {
	ms  int
	tag string
	ant int
}

func adv(ms int) ev                     { return ev{ms: ms} }
func rd(ms int, tag string, ant int) ev { return ev{ms, tag, ant} }

func ms(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }

func crossing(tag string, from, to int64, atMs int) wardwatch.ZoneChange {
	return wardwatch.ZoneChange{TagID: TagID(tag), FromZone: from, ToZone: to, Time: ms(atMs)}
}

func TestPortalTracker(t *testing.T) {
	tests := []struct {
		name   string
		portal Portal
		steps  []ev
		want   []wardwatch.ZoneChange
		stats  PortalStats
	}{
		{
			name:  "walks in",
			steps: []ev{rd(0, tagA, out), rd(400, tagA, out), rd(900, tagA, out), rd(1100, tagA, in1), rd(1500, tagA, in2), adv(4000), adv(4600)},
			want:  []wardwatch.ZoneChange{crossing(tagA, 20, 10, 1000)},
			stats: PortalStats{Crossings: 1},
		},
		{
			name:  "walks out, overlapping reads",
			steps: []ev{rd(0, tagA, in1), rd(300, tagA, out), rd(600, tagA, in2), rd(900, tagA, out), rd(1200, tagA, out), adv(5000)},
			// The sides overlap: the last read inside.
			want:  []wardwatch.ZoneChange{crossing(tagA, 10, 20, 600)},
			stats: PortalStats{Crossings: 1},
		},
		{
			name: "lingers in the doorway, then goes in",
			steps: func() []ev {
				var s []ev
				for i := range 60 { // 30 s read on both sides
					ant := out
					if i%2 == 1 {
						ant = in1
					}
					s = append(s, rd(i*500, tagA, ant), adv(i*500+1))
				}
				return append(s, rd(30000, tagA, in1), rd(30500, tagA, in1), adv(40000))
			}(),
			want:  []wardwatch.ZoneChange{crossing(tagA, 20, 10, 29000)},
			stats: PortalStats{Crossings: 1},
		},
		{
			name:  "lingers and turns back",
			steps: []ev{rd(0, tagA, out), rd(500, tagA, in1), rd(1000, tagA, out), rd(1500, tagA, in1), rd(2000, tagA, out), adv(9000)},
			stats: PortalStats{Undecided: 1},
		},
		{
			name:  "read on one side only",
			steps: []ev{rd(0, tagA, out), rd(500, tagA, out), rd(2000, tagA, out), adv(9000), rd(10000, tagA, in1), adv(20000)},
			stats: PortalStats{OneSided: 2},
		},
		{
			name: "interleaved tags",
			steps: []ev{
				rd(0, tagA, out), rd(100, tagB, in1), rd(500, tagA, out), rd(600, tagB, in2),
				rd(1000, tagA, in1), rd(1100, tagB, out), rd(1500, tagA, in2), rd(1600, tagB, out),
				adv(10000),
			},
			want: []wardwatch.ZoneChange{
				crossing(tagA, 20, 10, 750),
				crossing(tagB, 10, 20, 850),
			},
			stats: PortalStats{Crossings: 2},
		},
		{
			name: "out and straight back in: the second crossing is suppressed",
			steps: []ev{
				rd(0, tagA, in1), rd(500, tagA, out), adv(4000),
				rd(6000, tagA, out), rd(6500, tagA, in1), adv(10000),
				rd(30000, tagA, in1), rd(30500, tagA, out), adv(40000),
			},
			want: []wardwatch.ZoneChange{
				crossing(tagA, 10, 20, 250),
				crossing(tagA, 10, 20, 30250),
			},
			stats: PortalStats{Crossings: 2, Suppressed: 1},
		},
		{
			name:   "no minimum interval",
			portal: Portal{Inside: []int{1, 2}, Outside: []int{3}, InsideZone: 10, OutsideZone: 20, MinInterval: -1},
			steps: []ev{
				rd(0, tagA, in1), rd(500, tagA, out), adv(4000),
				rd(6000, tagA, out), rd(6500, tagA, in1), adv(10000),
			},
			want: []wardwatch.ZoneChange{
				crossing(tagA, 10, 20, 250),
				crossing(tagA, 20, 10, 6250),
			},
			stats: PortalStats{Crossings: 2},
		},
		{
			name: "the next read ends a quiet pass without Advance",
			steps: []ev{
				rd(0, tagA, out), rd(500, tagA, in1),
				rd(8000, tagA, in1), // 7.5 s later: the first pass is over
			},
			want:  []wardwatch.ZoneChange{crossing(tagA, 20, 10, 250)},
			stats: PortalStats{Crossings: 1},
		},
		{
			name: "late and foreign reads",
			steps: []ev{
				rd(0, tagA, out), rd(500, tagA, in1), adv(5000),
				rd(400, tagA, out), // belongs to the decided pass
				rd(6000, tagA, 7),  // not a portal antenna
				rd(20000, tagA, in1),
				rd(1000, tagA, out), // older than the new pass by more than a window
				adv(30000),
			},
			want:  []wardwatch.ZoneChange{crossing(tagA, 20, 10, 250)},
			stats: PortalStats{Crossings: 1, OneSided: 1, Late: 2, Ignored: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testPortal
			if tt.portal.Inside != nil {
				p = tt.portal
			}
			pt, err := NewPortalTracker(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []wardwatch.ZoneChange
			for _, s := range tt.steps {
				if s.ant == 0 {
					got = append(got, pt.Advance(ms(s.ms))...)
					continue
				}
				got = append(got, pt.Observe(Read{Reader: "door", Antenna: s.ant, EPC: s.tag, Time: ms(s.ms)})...)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("crossings:\n got %+v\nwant %+v", got, tt.want)
			}
			if pt.Stats() != tt.stats {
				t.Errorf("stats %+v, want %+v", pt.Stats(), tt.stats)
			}
		})
	}
}

// TestPortalOrderInsensitive: one pass's reads give the same crossing in
// whatever order they arrive (batches, retries, duplicates).
func TestPortalOrderInsensitive(t *testing.T) {
	reads := []Read{
		{Antenna: out, EPC: tagA, Time: ms(0)},
		{Antenna: out, EPC: tagA, Time: ms(400)},
		{Antenna: in1, EPC: tagA, Time: ms(800)},
		{Antenna: in2, EPC: tagA, Time: ms(1200)},
	}
	orders := [][]int{{0, 1, 2, 3}, {3, 2, 1, 0}, {2, 0, 3, 1}, {1, 3, 0, 2, 1, 3}}
	want := []wardwatch.ZoneChange{crossing(tagA, 20, 10, 600)}
	for _, order := range orders {
		pt, _ := NewPortalTracker(testPortal)
		var got []wardwatch.ZoneChange
		for _, i := range order { // one read per batch: no sorting to help
			got = append(got, pt.Observe(reads[i])...)
		}
		got = append(got, pt.Advance(ms(10000))...)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("order %v: got %+v, want %+v", order, got, want)
		}
	}
}

func TestPortalForgetsAndBounds(t *testing.T) {
	pt, _ := NewPortalTracker(testPortal)
	pt.maxTags = 2
	pt.Observe(Read{Antenna: out, EPC: tagA, Time: ms(0)}, Read{Antenna: in1, EPC: tagA, Time: ms(500)})
	pt.Observe(Read{Antenna: out, EPC: tagB, Time: ms(0)})
	pt.Observe(Read{Antenna: out, EPC: "AAAAAAAAAAAAAAAAAAAAAAAA", Time: ms(100)})
	if s := pt.Stats(); s.Dropped != 1 || pt.Tracking() != 2 {
		t.Fatalf("stats %+v, tracking %d; want 1 dropped, 2 tracked", s, pt.Tracking())
	}
	pt.Advance(ms(5000))
	if pt.Tracking() != 2 {
		t.Fatalf("tracking %d right after deciding, want 2 (MinInterval and late reads)", pt.Tracking())
	}
	pt.Advance(ms(60000))
	if pt.Tracking() != 0 {
		t.Fatalf("tracking %d a minute later, want 0", pt.Tracking())
	}
}

func TestNewPortalTrackerInvalid(t *testing.T) {
	for _, p := range []Portal{
		{Outside: []int{1}, InsideZone: 1, OutsideZone: 2},
		{Inside: []int{1}, InsideZone: 1, OutsideZone: 2},
		{Inside: []int{1}, Outside: []int{1}, InsideZone: 1, OutsideZone: 2},
		{Inside: []int{0}, Outside: []int{1}, InsideZone: 1, OutsideZone: 2},
		{Inside: []int{1}, Outside: []int{70000}, InsideZone: 1, OutsideZone: 2},
		{Inside: []int{1}, Outside: []int{2}, InsideZone: 3, OutsideZone: 3},
	} {
		if _, err := NewPortalTracker(p); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("NewPortalTracker(%+v): %v, want invalid", p, err)
		}
	}
}
