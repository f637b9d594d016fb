package live

import (
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestSubscribe(t *testing.T) {
	h := NewHub(nil, nil, Options{})
	batches, cancel := h.Subscribe(2)
	p := wardwatch.Position{AssetID: 1, FloorID: 1, At: wardwatch.Point{X: 1, Y: 2}, Confidence: 0.5, Time: time.Unix(100, 0)}
	h.Publish([]wardwatch.Position{p, {AssetID: 0}}) // the second is not publishable
	h.Publish([]wardwatch.Position{p})               // unchanged: not delivered
	got := <-batches
	if len(got) != 1 || got[0] != p {
		t.Fatalf("batch = %+v, want [%+v]", got, p)
	}

	// A subscriber that does not read is dropped once its buffer is full.
	for i := range 3 {
		p.Time = p.Time.Add(time.Second * time.Duration(i+1))
		h.Publish([]wardwatch.Position{p})
	}
	n := 0
	for range batches {
		n++
	}
	if n != 2 {
		t.Fatalf("got %d batches before the drop, want 2 (the buffer)", n)
	}
	cancel() // after a drop: harmless
	cancel()
	if h.subs.n.Load() != 0 {
		t.Fatalf("subscribers left: %d", h.subs.n.Load())
	}

	_, cancel2 := h.Subscribe(1)
	cancel2()
	if h.subs.n.Load() != 0 {
		t.Fatalf("subscribers after cancel: %d", h.subs.n.Load())
	}
}
