package snmp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gosnmp/gosnmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeSessions stands in for the network in scheduler tests: each poll of
// a target gets a session on an in-memory agent, or an error.
type fakeSessions struct {
	mu       sync.Mutex
	polls    map[int64][]time.Time // when each target was polled
	down     map[int64]bool        // targets whose polls time out
	block    chan struct{}         // non-nil: polls wait for it (or cancellation)
	inflight atomic.Int32
	maxIn    atomic.Int32
}

func newFakeSessions() *fakeSessions {
	return &fakeSessions{polls: map[int64][]time.Time{}, down: map[int64]bool{}}
}

func (f *fakeSessions) open(ctx context.Context, s *settings) (session, error) {
	f.mu.Lock()
	f.polls[s.ID] = append(f.polls[s.ID], time.Now())
	down, block := f.down[s.ID], f.block
	f.mu.Unlock()
	n := f.inflight.Add(1)
	for {
		m := f.maxIn.Load()
		if n <= m || f.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	done := func() { f.inflight.Add(-1) }
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			done()
			return session{}, ctx.Err()
		}
	}
	a := newFakeAgent(serverMIB()...)
	if down {
		a.err = fmt.Errorf("request timeout (after 1 retries): %w", gosnmp.ErrMaxRetriesExceeded)
	}
	return session{r: a, close: done}, nil
}

func (f *fakeSessions) count(id int64) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.polls[id])
}

func (f *fakeSessions) times(id int64) []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.polls[id]...)
}

func (f *fakeSessions) setDown(id int64, down bool) {
	f.mu.Lock()
	f.down[id] = down
	f.mu.Unlock()
}

func fakeTarget(id int64, interval time.Duration) Target {
	return Target{ID: id, Name: fmt.Sprintf("server %d", id), Address: "192.0.2.1", Version: "v2c", Community: "ro",
		Profile: ExamplePumpServerProfile, Interval: interval, Timeout: time.Second, Retries: 1, Enabled: true}
}

// runCollector starts c.Run and returns a function that stops it and
// checks it returned nil.
func runCollector(t *testing.T, c *Collector) func() {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}

func TestCollectorSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		sink := newTestSink()
		c := NewCollector(Options{Sink: sink, Profiles: profiles()})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()
		start := time.Now()
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second), fakeTarget(2, time.Minute)})
		time.Sleep(10*time.Minute + time.Second)
		synctest.Wait()

		ts := f.times(1)
		if first := ts[0].Sub(start); first >= 10*time.Second {
			t.Errorf("first poll after %v, want within the interval", first)
		}
		for i := 1; i < len(ts); i++ {
			if gap := ts[i].Sub(ts[i-1]); gap < 9*time.Second || gap > 11*time.Second {
				t.Errorf("poll %d came %v after the previous one, want 10s ± 10%%", i, gap)
			}
		}
		if n := len(ts); n < 58 || n > 62 {
			t.Errorf("%d polls of a 10s target in 10 min, want about 60", n)
		}
		if n := f.count(2); n < 9 || n > 11 {
			t.Errorf("%d polls of a 1 min target in 10 min, want about 10", n)
		}
		st := c.Status()
		if len(st) != 2 || !st[0].Online || st[0].Pumps != 3 || st[0].LastOK.IsZero() || st[0].LastError != "" {
			t.Errorf("status %+v", st)
		}
		if got := testutil.ToFloat64(c.m.pumps); got != 6 {
			t.Errorf("pumps gauge %v, want 6", got)
		}
		sink.mu.Lock()
		batches := len(sink.batches)
		sink.mu.Unlock()
		if batches != len(ts)+f.count(2) {
			t.Errorf("%d batches for %d polls", batches, len(ts)+f.count(2))
		}
	})
}

// TestCollectorOffline checks a target goes offline after OfflineAfter
// failures in a row, is polled with exponential backoff capped at
// MaxBackoff meanwhile, and is online again at its next success.
func TestCollectorOffline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		sink := newTestSink()
		c := NewCollector(Options{Sink: sink, Profiles: profiles(), MaxBackoff: 80 * time.Second})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second)})
		time.Sleep(25 * time.Second)
		synctest.Wait()
		if st := c.Status()[0]; !st.Online {
			t.Fatalf("not online: %+v", st)
		}

		f.setDown(1, true)
		before := f.count(1)
		var downAt time.Time
		for i := 0; ; i++ {
			time.Sleep(time.Second)
			synctest.Wait()
			st := c.Status()[0]
			if st.ConsecutiveFailures == 1 && downAt.IsZero() {
				downAt = time.Now()
				if !st.Online {
					t.Errorf("offline after one failure")
				}
				if !strings.Contains(st.LastError, "No answer from 192.0.2.1:161 after 2 tries") {
					t.Errorf("last error %q", st.LastError)
				}
			}
			if !st.Online {
				break
			}
			if i > 60 {
				t.Fatal("never went offline")
			}
		}
		if c := c.Status()[0].ConsecutiveFailures; c != 2 {
			t.Errorf("offline after %d failures, want 2", c)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		ts := f.times(1)[before:]
		var gaps []time.Duration
		for i := 1; i < len(ts); i++ {
			gaps = append(gaps, ts[i].Sub(ts[i-1]).Round(5*time.Second))
		}
		// interval, 2×, 4×, 8× = the cap, then the cap.
		want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 80 * time.Second}
		for i, w := range want {
			if i >= len(gaps) || gaps[i] < w*9/10 || gaps[i] > w*11/10 {
				t.Errorf("backoff gaps %v, want them to start %v", gaps, want)
				break
			}
		}
		if got := testutil.ToFloat64(c.m.online); got != 0 {
			t.Errorf("online gauge %v", got)
		}

		f.setDown(1, false)
		time.Sleep(90 * time.Second)
		synctest.Wait()
		if st := c.Status()[0]; !st.Online || st.ConsecutiveFailures != 0 || st.LastError != "" {
			t.Errorf("not online again: %+v", st)
		}
		if got := testutil.ToFloat64(c.m.polls.WithLabelValues(resultTimeout)); got < 5 {
			t.Errorf("timeout polls %v", got)
		}
		var flips []bool
		sink.mu.Lock()
		for _, s := range sink.statuses {
			if len(flips) == 0 || flips[len(flips)-1] != s.Online {
				flips = append(flips, s.Online)
			}
		}
		sink.mu.Unlock()
		if fmt.Sprint(flips) != "[true false true]" {
			t.Errorf("status changes %v, want online, offline, online", flips)
		}
	})
}

func TestCollectorSetTargets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		sink := newTestSink()
		c := NewCollector(Options{Sink: sink, Profiles: profiles()})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()

		disabled := fakeTarget(4, time.Second)
		disabled.Enabled = false
		invalid := fakeTarget(5, time.Second)
		invalid.Community = ""
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second), fakeTarget(2, 10*time.Second), fakeTarget(3, 10*time.Second), disabled, invalid})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		st := c.Status()
		if len(st) != 4 || st[3].TargetID != 5 || !strings.Contains(st[3].LastError, "v2c needs a community") {
			t.Fatalf("status %+v", st)
		}
		if f.count(4) != 0 || f.count(5) != 0 {
			t.Errorf("disabled or invalid targets polled: %d, %d", f.count(4), f.count(5))
		}

		// Change 1 (restarted within a second), keep 2, remove 3.
		changed := fakeTarget(1, time.Minute)
		polls1, polls2, polls3 := f.count(1), f.count(2), f.count(3)
		c.SetTargets([]Target{changed, fakeTarget(2, 10*time.Second)})
		time.Sleep(time.Second)
		synctest.Wait()
		if f.count(1) != polls1+1 {
			t.Errorf("changed target not polled again within a second")
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if n := f.count(1) - polls1; n < 2 || n > 4 {
			t.Errorf("changed target polled %d times in 2 min at its new 1 min interval", n)
		}
		if f.count(2) <= polls2+10 {
			t.Errorf("unchanged target stopped")
		}
		if f.count(3) != polls3 {
			t.Errorf("removed target still polled")
		}
		if st := c.Status(); len(st) != 2 || st[0].TargetID != 1 || st[1].TargetID != 2 {
			t.Errorf("status %+v", st)
		}
		if got := testutil.ToFloat64(c.m.targets); got != 2 {
			t.Errorf("targets gauge %v", got)
		}
	})
}

// TestCollectorCancelsRemoved checks removing a target cancels its poll in
// flight and nothing of it reaches the sink.
func TestCollectorCancelsRemoved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		f.block = make(chan struct{}) // polls hang until cancelled
		sink := newTestSink()
		c := NewCollector(Options{Sink: sink, Profiles: profiles()})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second)})
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if f.inflight.Load() != 1 {
			t.Fatalf("%d polls in flight, want 1", f.inflight.Load())
		}
		c.SetTargets(nil)
		synctest.Wait()
		if f.inflight.Load() != 0 {
			t.Errorf("poll of a removed target still in flight")
		}
		if len(sink.batches) != 0 || len(sink.statuses) != 0 {
			t.Errorf("sink got %d batches and %d statuses", len(sink.batches), len(sink.statuses))
		}
	})
}

func TestCollectorConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		f.block = make(chan struct{})
		c := NewCollector(Options{Sink: newTestSink(), Profiles: profiles(), Concurrency: 3})
		c.open = f.open
		stop := runCollector(t, c)
		var targets []Target
		for i := range 20 {
			targets = append(targets, fakeTarget(int64(i+1), 10*time.Second))
		}
		c.SetTargets(targets)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if n := f.inflight.Load(); n != 3 {
			t.Errorf("%d polls in flight, want the 3 allowed", n)
		}
		close(f.block)
		time.Sleep(time.Minute)
		synctest.Wait()
		if m := f.maxIn.Load(); m != 3 {
			t.Errorf("at most %d polls ran at once, want 3", m)
		}
		for i := range 20 {
			if f.count(int64(i+1)) == 0 {
				t.Errorf("target %d never polled", i+1)
			}
		}
		stop() // Run returns only when its polls have returned: synctest fails on leaked goroutines
	})
}

// TestCollectorShutdown checks Run cancels polls in flight and returns
// when its context ends, and can run again afterwards.
func TestCollectorShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		f.block = make(chan struct{})
		c := NewCollector(Options{Sink: newTestSink(), Profiles: profiles()})
		c.open = f.open
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second), fakeTarget(2, 10*time.Second)})
		stop := runCollector(t, c)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if n := f.inflight.Load(); n != 2 {
			t.Fatalf("%d polls in flight", n)
		}
		if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "already running") {
			t.Errorf("second Run: %v", err)
		}
		stop()
		if n := f.inflight.Load(); n != 0 {
			t.Errorf("%d polls still in flight after Run returned", n)
		}

		// Running again polls the targets again.
		close(f.block)
		before := f.count(1)
		stop = runCollector(t, c)
		time.Sleep(time.Second)
		synctest.Wait()
		if f.count(1) == before {
			t.Error("target not polled after Run restarted")
		}
		stop()
	})
}

func TestCollectorSinkError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		sink := newTestSink()
		sink.err = errors.New("store down")
		reg := prometheus.NewRegistry()
		c := NewCollector(Options{Sink: sink, Profiles: profiles(), Registerer: reg})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()
		c.SetTargets([]Target{fakeTarget(1, 10*time.Second)})
		time.Sleep(time.Minute)
		synctest.Wait()
		if got := testutil.ToFloat64(c.m.sinkErrors); got < 5 {
			t.Errorf("sink errors %v", got)
		}
		if st := c.Status()[0]; !st.Online {
			t.Errorf("a sink error took the target offline: %+v", st)
		}
		names, err := testutil.GatherAndCount(reg)
		if err != nil || names == 0 {
			t.Errorf("gather: %d, %v", names, err)
		}
		for _, name := range []string{"wardwatch_snmp_polls_total", "wardwatch_snmp_poll_duration_seconds", "wardwatch_snmp_targets_online",
			"wardwatch_snmp_pumps", "wardwatch_snmp_sink_errors_total"} {
			if n, _ := testutil.GatherAndCount(reg, name); n == 0 {
				t.Errorf("metric %s not exported", name)
			}
		}
	})
}

// TestCollectorProfileMissing checks a target whose profile does not exist
// fails its polls with a clear error, without touching the network.
func TestCollectorProfileMissing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSessions()
		c := NewCollector(Options{Sink: newTestSink(), Profiles: profiles()})
		c.open = f.open
		stop := runCollector(t, c)
		defer stop()
		target := fakeTarget(1, 10*time.Second)
		target.Profile = "acme-gateway"
		c.SetTargets([]Target{target})
		time.Sleep(30 * time.Second)
		synctest.Wait()
		st := c.Status()[0]
		if !strings.Contains(st.LastError, `profile "acme-gateway" does not exist`) || f.count(1) != 0 {
			t.Errorf("status %+v, %d sessions", st, f.count(1))
		}
		if got := testutil.ToFloat64(c.m.polls.WithLabelValues(resultError)); got == 0 {
			t.Error("no error polls counted")
		}
	})
}
