package health

import (
	"math"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestBoardCountsAndRate(t *testing.T) {
	b := NewBoard(time.Minute)
	b.Track([]int64{1, 2})
	// Gateway 1: one message a second for 90 s.
	for i := range 90 {
		b.GatewayMessage(1, t0.Add(time.Duration(i)*time.Second), 3, 0, 1)
	}
	b.GatewayMessage(1, t0.Add(89*time.Second), 0, 2, 0) // a partly malformed one
	now := t0.Add(90 * time.Second)
	snap := b.Snapshot(now)
	if len(snap) != 2 {
		t.Fatalf("Snapshot has %d gateways, want 2", len(snap))
	}
	g1, g2 := snap[0], snap[1]
	if g1.GatewayID != 1 || g1.Messages != 91 || g1.Accepted != 270 || g1.Malformed != 2 || g1.Dropped != 90 {
		t.Errorf("gateway 1 = %+v", g1)
	}
	if !g1.Online || !g1.LastSeen.Equal(t0.Add(89*time.Second)) {
		t.Errorf("gateway 1 online %v last seen %v", g1.Online, g1.LastSeen)
	}
	// The window holds the 60 s before now's bucket boundary: 50–61
	// messages depending on alignment; at one a second the rate is ≈ 1.
	if math.Abs(g1.Rate-1) > 0.2 {
		t.Errorf("gateway 1 rate = %.2f/s, want ≈ 1", g1.Rate)
	}
	if g2.GatewayID != 2 || g2.Online || !g2.LastSeen.IsZero() || g2.Rate != 0 {
		t.Errorf("gateway 2 (never heard) = %+v", g2)
	}
	// Ten minutes later the rate has decayed to zero and it is offline.
	if h, ok := b.Gateway(1, now.Add(10*time.Minute)); !ok || h.Rate != 0 || h.Online {
		t.Errorf("gateway 1 later = %+v, %v", h, ok)
	}
	if _, ok := b.Gateway(99, now); ok {
		t.Error("Gateway(99) found an unknown gateway")
	}
}

func TestBoardTransitions(t *testing.T) {
	b := NewBoard(2 * time.Minute)
	b.Track([]int64{7, 8})
	steps := []struct {
		name string
		at   time.Duration
		hear []int64
		want []Transition
	}{
		{"nothing heard yet: no transitions", 0, nil, nil},
		{"7 heard: online", 10 * time.Second, []int64{7}, []Transition{{GatewayID: 7, Online: true, LastSeen: t0.Add(10 * time.Second), At: t0.Add(10 * time.Second)}}},
		{"still within the threshold", 2 * time.Minute, nil, nil},
		{"silent past the threshold: offline at last seen + threshold", 3 * time.Minute, nil,
			[]Transition{{GatewayID: 7, Online: false, LastSeen: t0.Add(10 * time.Second), At: t0.Add(130 * time.Second)}}},
		{"no repeat while offline", 5 * time.Minute, nil, nil},
		{"back", 6 * time.Minute, []int64{7}, []Transition{{GatewayID: 7, Online: true, LastSeen: t0.Add(6 * time.Minute), At: t0.Add(6 * time.Minute)}}},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		for _, id := range s.hear {
			b.GatewayMessage(id, now, 1, 0, 0)
		}
		got := b.Transitions(now)
		if len(got) != len(s.want) {
			t.Fatalf("%s: transitions %+v, want %+v", s.name, got, s.want)
		}
		for i := range got {
			if got[i] != s.want[i] {
				t.Fatalf("%s: transition %+v, want %+v", s.name, got[i], s.want[i])
			}
		}
	}
}

func TestBoardTrackRemoves(t *testing.T) {
	b := NewBoard(0)
	if b.OfflineAfter() != DefaultOfflineAfter {
		t.Fatalf("OfflineAfter = %v", b.OfflineAfter())
	}
	b.GatewayMessage(3, t0, 1, 0, 0)
	b.Track([]int64{4})
	snap := b.Snapshot(t0)
	if len(snap) != 1 || snap[0].GatewayID != 4 {
		t.Fatalf("Snapshot after Track = %+v", snap)
	}
}

func TestBoardConcurrent(t *testing.T) {
	b := NewBoard(time.Minute)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				b.GatewayMessage(int64(g%2), t0.Add(time.Duration(i)*time.Millisecond), 1, 0, 0)
				if i%100 == 0 {
					b.Snapshot(t0)
					b.Transitions(t0)
				}
			}
		})
	}
	wg.Wait()
	var n uint64
	for _, h := range b.Snapshot(t0.Add(time.Second)) {
		n += h.Messages
	}
	if n != 4000 {
		t.Fatalf("messages = %d, want 4000", n)
	}
}
