package snmp

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)}
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testSink records what a Collector hands it.
type testSink struct {
	mu       sync.Mutex
	batches  [][]wardwatch.PumpState
	statuses []TargetStatus
	states   chan []wardwatch.PumpState
	changes  chan TargetStatus
	err      error // returned by SubmitPumpStates
}

func newTestSink() *testSink {
	return &testSink{states: make(chan []wardwatch.PumpState, 1000), changes: make(chan TargetStatus, 1000)}
}

func (s *testSink) SubmitPumpStates(_ context.Context, ps []wardwatch.PumpState) error {
	s.mu.Lock()
	s.batches = append(s.batches, ps)
	err := s.err
	s.mu.Unlock()
	select {
	case s.states <- ps:
	default:
	}
	return err
}

func (s *testSink) TargetStatusChanged(st TargetStatus) {
	s.mu.Lock()
	s.statuses = append(s.statuses, st)
	s.mu.Unlock()
	select {
	case s.changes <- st:
	default:
	}
}

// nextStates waits for the next batch of pump states.
func (s *testSink) nextStates(t *testing.T, within time.Duration) []wardwatch.PumpState {
	t.Helper()
	select {
	case ps := <-s.states:
		return ps
	case <-time.After(within):
		t.Fatalf("no pump states within %v", within)
		return nil
	}
}

// waitStatus waits for a status change satisfying ok.
func (s *testSink) waitStatus(t *testing.T, within time.Duration, what string, ok func(TargetStatus) bool) TargetStatus {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case st := <-s.changes:
			if ok(st) {
				return st
			}
		case <-deadline:
			t.Fatalf("no status change within %v: %s", within, what)
			return TargetStatus{}
		}
	}
}

// sameFloat compares two readings, NaN equal to NaN.
func sameFloat(a, b float64) bool {
	return a == b || math.IsNaN(a) && math.IsNaN(b)
}

// diffStates describes how got differs from want, "" when equal.
func diffStates(got, want []wardwatch.PumpState) string {
	var d []string
	if len(got) != len(want) {
		return "got " + itoa(len(got)) + " pumps, want " + itoa(len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		add := func(field string, ok bool, gv, wv any) {
			if !ok {
				d = append(d, "pump "+itoa(i)+" "+w.Serial+" "+field+": got "+sprint(gv)+", want "+sprint(wv))
			}
		}
		add("Time", g.Time.Equal(w.Time), g.Time, w.Time)
		add("TargetID", g.TargetID == w.TargetID, g.TargetID, w.TargetID)
		add("Serial", g.Serial == w.Serial, g.Serial, w.Serial)
		add("Model", g.Model == w.Model, g.Model, w.Model)
		add("Status", g.Status == w.Status, g.Status, w.Status)
		add("OnAC", g.OnAC == w.OnAC, g.OnAC, w.OnAC)
		add("Battery", sameFloat(g.Battery, w.Battery), g.Battery, w.Battery)
		add("Rate", sameFloat(g.Rate, w.Rate), g.Rate, w.Rate)
		add("VTBI", sameFloat(g.VTBI, w.VTBI), g.VTBI, w.VTBI)
		add("Infused", sameFloat(g.Infused, w.Infused), g.Infused, w.Infused)
		add("Firmware", g.Firmware == w.Firmware, g.Firmware, w.Firmware)
		add("DrugLibrary", g.DrugLibrary == w.DrugLibrary, g.DrugLibrary, w.DrugLibrary)
		add("DrugLibraryVersion", g.DrugLibraryVersion == w.DrugLibraryVersion, g.DrugLibraryVersion, w.DrugLibraryVersion)
		add("Alarms", slices.Equal(g.Alarms, w.Alarms), g.Alarms, w.Alarms)
	}
	return strings.Join(d, "\n")
}

func itoa(n int) string { return fmt.Sprint(n) }

func sprint(v any) string { return fmt.Sprint(v) }

// ciRequired fails the test under CI=true and skips it otherwise.
func ciRequired(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// profiles returns a Profiles function serving the built-in profiles and
// extra ones.
func profiles(extra ...Profile) func(string) (Profile, bool) {
	return func(name string) (Profile, bool) {
		for _, p := range extra {
			if p.Name == name {
				return p, true
			}
		}
		return BuiltinProfile(name)
	}
}

func init() {
	// Poll simulated agents every few hundred milliseconds, not seconds.
	minInterval = 50 * time.Millisecond
}
