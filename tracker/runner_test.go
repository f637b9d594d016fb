package tracker

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/wardwatch/wardwatch"
)

// TestRunner drives a Runner on its own goroutine inside a synctest bubble,
// where the ticker and time.Now run on the bubble's fake clock.
func TestRunner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := New(Config{}, zoneSite())
		outs := make(chan Output, 16)
		r := NewRunner(e, 100*time.Millisecond, 0, func(o Output) { outs <- o })
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()

		now := time.Now().UTC()
		batch := []wardwatch.Sighting{
			{Time: now, GatewayID: 'A', TagID: "t", RSSI: -60},
			{Time: now, GatewayID: 'A', TagID: "stranger", RSSI: -60},
		}
		if err := r.Submit(ctx, batch); err != nil {
			t.Fatalf("Submit: %v", err)
		}
		out := <-outs // the next tick
		if len(out.Positions) != 1 || out.Positions[0].TagID != "t" || out.Positions[0].ZoneID != 101 {
			t.Fatalf("positions %+v, want t in zone 101", out.Positions)
		}
		if len(out.ZoneChanges) != 1 || out.ZoneChanges[0].ToZone != 101 {
			t.Fatalf("zone changes %+v, want one into 101", out.ZoneChanges)
		}
		if s := r.Stats(); s != (Stats{Accepted: 1, UnknownTag: 1, Tags: 1}) {
			t.Errorf("Stats = %+v", s)
		}

		// A site change goes through the loop; t is no longer in the site.
		site := zoneSite()
		site.Tags = site.Tags[1:]
		r.SetSite(site)
		time.Sleep(time.Second) // several ticks, nothing heard
		synctest.Wait()
		if s := r.Stats(); s.Tags != 0 {
			t.Errorf("after SetSite Tags = %d, want 0", s.Tags)
		}
		select {
		case o := <-outs:
			t.Errorf("output without sightings: %+v", o)
		default:
		}
		if err := r.Submit(ctx, []wardwatch.Sighting{{Time: time.Now(), GatewayID: 'A', TagID: "t", RSSI: -60}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := r.Stats(); s.UnknownTag != 2 {
			t.Errorf("UnknownTag = %d, want 2", s.UnknownTag)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

// TestRunnerRealClock runs the loop on the real clock: submit, receive the
// output through the callback, cancel, and Run returns.
func TestRunnerRealClock(t *testing.T) {
	e := New(Config{}, zoneSite())
	outs := make(chan Output, 1)
	r := NewRunner(e, 10*time.Millisecond, 0, func(o Output) {
		select {
		case outs <- o:
		default:
		}
	})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()

	if err := r.Submit(ctx, []wardwatch.Sighting{{Time: time.Now().UTC(), GatewayID: 'B', TagID: "u", RSSI: -62}}); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	out := <-outs
	if len(out.Positions) != 1 || out.Positions[0].TagID != "u" || out.Positions[0].AssetID != 10 {
		t.Fatalf("positions %+v", out.Positions)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestRunnerSubmit(t *testing.T) {
	r := NewRunner(New(Config{}, zoneSite()), 0, 1, nil) // not running: nothing drains the queue
	ctx := t.Context()
	one := []wardwatch.Sighting{{Time: time.Now(), GatewayID: 'A', TagID: "t", RSSI: -60}}
	if err := r.Submit(ctx, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if err := r.Submit(ctx, one); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	err := r.Submit(ctx, one)
	if wardwatch.ErrorCode(err) != wardwatch.EUNAVAILABLE || wardwatch.ErrorMessage(err) != "location engine busy" {
		t.Errorf("full queue: %v, want EUNAVAILABLE", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := r.Submit(cancelled, one); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if r.interval != defaultInterval || cap(NewRunner(New(Config{}, Site{}), 0, 0, nil).batches) != defaultQueue {
		t.Error("defaults not applied")
	}
}

func TestRunnerSiteBeforeRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewRunner(New(Config{}, Site{}), time.Second, 0, nil)
		r.SetSite(zoneSite()) // before Run: applied when the loop starts
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		if err := r.Submit(ctx, []wardwatch.Sighting{{Time: time.Now(), GatewayID: 'A', TagID: "t", RSSI: -60}}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if s := r.Stats(); s.Accepted != 1 {
			t.Errorf("Stats = %+v, want the sighting accepted", s)
		}
		cancel()
		<-done
	})
}
