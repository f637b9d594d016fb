package snmp

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/sim/snmpsim"
)

// simTarget is a target polling agent a as the pump server, with v3
// authPriv (version "v3") or v2c.
func simTarget(a *snmpsim.Agent, version string) Target {
	t := Target{
		ID:       7,
		Name:     "Ward 4B pump server",
		Address:  a.Addr(),
		Version:  version,
		Profile:  ExamplePumpServerProfile,
		Interval: 10 * time.Second,
		Timeout:  time.Second,
		Retries:  1,
		Enabled:  true,
	}
	if version == "v3" {
		t.User = snmpsim.User
		t.AuthProtocol, t.AuthPassword = snmpsim.AuthProtocol, snmpsim.AuthPassword
		t.PrivProtocol, t.PrivPassword = snmpsim.PrivProtocol, snmpsim.PrivPassword
	} else {
		t.Community = snmpsim.Community
	}
	return t
}

func startSim(t *testing.T, addr string, pumps int, now func() time.Time) *snmpsim.Agent {
	t.Helper()
	a, err := snmpsim.Start(t.Context(), addr, pumps, 42, now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// withTarget sets the TargetID the collector stamps on states.
func withTarget(ps []wardwatch.PumpState, id int64) []wardwatch.PumpState {
	for i := range ps {
		ps[i].TargetID = id
	}
	return ps
}

// TestSimPumpServer reads the simulated pump server's tables with the
// built-in profile and compares them with what the simulator says it
// serves.
func TestSimPumpServer(t *testing.T) {
	clock := newTestClock()
	a := startSim(t, "127.0.0.1:0", 12, clock.now)
	c := NewCollector(Options{Sink: newTestSink(), Now: clock.now})
	prof, _ := BuiltinProfile(ExamplePumpServerProfile)
	for _, version := range []string{"v3", "v2c", "v1"} {
		t.Run(version, func(t *testing.T) {
			target := simTarget(a, version)
			for poll := range 2 {
				res, err := c.TestTarget(t.Context(), target, prof)
				if err != nil {
					t.Fatal(err)
				}
				want := withTarget(a.PumpStates(), target.ID)
				if d := diffStates(res.Pumps, want); d != "" {
					t.Fatalf("poll %d:\n%s", poll, d)
				}
				if len(res.Warnings) > 0 {
					t.Errorf("warnings: %q", res.Warnings)
				}
				clock.add(5 * time.Minute)
			}
		})
	}
	t.Run("alarms and the old drug library", func(t *testing.T) {
		// Over a simulated day some pumps alarm; one pump always runs the
		// old library.
		sawAlarm := false
		for range 48 {
			clock.add(30 * time.Minute)
			res, err := c.TestTarget(t.Context(), simTarget(a, "v3"), prof)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffStates(res.Pumps, withTarget(a.PumpStates(), 7)); d != "" {
				t.Fatal(d)
			}
			old := 0
			for _, p := range res.Pumps {
				if p.DrugLibraryVersion != res.Pumps[0].DrugLibraryVersion {
					old++
				}
				sawAlarm = sawAlarm || len(p.Alarms) > 0
			}
			if res.Pumps[0].DrugLibraryVersion == res.Pumps[2].DrugLibraryVersion || old != 1 {
				t.Fatalf("want exactly pump 3 on another drug library, got %d", old)
			}
		}
		if !sawAlarm {
			t.Error("no pump alarmed in a simulated day")
		}
	})
}

// TestSimSinglePump reads pumps' own agents with the single-pump profile.
func TestSimSinglePump(t *testing.T) {
	clock := newTestClock()
	a := startSim(t, "127.0.0.1:0", 6, clock.now)
	c := NewCollector(Options{Sink: newTestSink(), Now: clock.now})
	prof, _ := BuiltinProfile(ExamplePumpProfile)
	codes := map[string]string{"OCCL": "occlusion", "AIL": "air_in_line", "NEAREND": "near_end", "LOWBAT": "low_battery"}
	for range 6 {
		truth := a.PumpStates()
		for i := range truth {
			target := simTarget(a, "v3")
			target.User = snmpsim.PumpUser(i + 1)
			target.Profile = prof.Name
			res, err := c.TestTarget(t.Context(), target, prof)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Pumps) != 1 {
				t.Fatalf("pump %d: got %d pumps", i+1, len(res.Pumps))
			}
			got, want := res.Pumps[0], truth[i]
			if got.Serial != want.Serial || got.Status != want.Status || got.OnAC != want.OnAC || got.Battery != want.Battery ||
				got.Rate != want.Rate || got.VTBI != want.VTBI || math.Abs(got.Infused-want.Infused) > 0.051 ||
				got.DrugLibraryVersion != want.DrugLibraryVersion || got.Model != want.Model || got.Firmware != want.Firmware {
				t.Errorf("pump %d:\n got %+v\nwant %+v", i+1, got, want)
			}
			if len(got.Alarms) != len(want.Alarms) {
				t.Errorf("pump %d alarms: got %v, want %v", i+1, got.Alarms, want.Alarms)
			}
			for k := range min(len(got.Alarms), len(want.Alarms)) {
				if got.Alarms[k].Code != codes[want.Alarms[k].Code] || got.Alarms[k].Priority != want.Alarms[k].Priority {
					t.Errorf("pump %d alarm %d: got %v, want %v", i+1, k, got.Alarms[k], want.Alarms[k])
				}
			}
		}
		clock.add(47 * time.Minute)
	}
}

// TestSimTestTargetFields checks the "test connection" result shows each
// field's raw value and its reading, and explains fields the agent lacks.
func TestSimTestTargetFields(t *testing.T) {
	a := startSim(t, "127.0.0.1:0", 3, newTestClock().now)
	c := NewCollector(Options{Sink: newTestSink()})
	prof, _ := BuiltinProfile(ExamplePumpServerProfile)
	prof.Name = "with-extra-column"
	prof.Model = &Field{OID: prof.Table + ".99"} // a column the agent does not have
	res, err := c.TestTarget(t.Context(), simTarget(a, "v3"), prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pumps) != 3 || res.Pumps[0].Model != "" {
		t.Fatalf("pumps: %+v", res.Pumps)
	}
	var status, model *FieldRead
	for i := range res.Fields {
		f := &res.Fields[i]
		switch {
		case f.Field == "status" && f.Row == "1":
			status = f
		case f.Field == "model":
			model = f
		}
	}
	if status == nil || status.Raw != "INTEGER 2" || status.Value != "infusing" || status.OID != prof.Table+".5.1" {
		t.Errorf("status read: %+v", status)
	}
	if model == nil || !strings.Contains(model.Error, "not supported") {
		t.Errorf("model read: %+v", model)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "not supported by the agent") {
		t.Errorf("warnings: %q", res.Warnings)
	}

	t.Run("serial not supported", func(t *testing.T) {
		single, _ := BuiltinProfile(ExamplePumpProfile)
		_, err := c.TestTarget(t.Context(), simTarget(a, "v2c"), single) // the server has no single-pump scalars
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(wardwatch.ErrorMessage(err), "OID 1.3.6.1.4.1.32473.7.1.1.0 (serial) not supported by the agent") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestSimRefusals checks the messages an admin sees for wrong settings.
func TestSimRefusals(t *testing.T) {
	a := startSim(t, "127.0.0.1:0", 2, nil)
	c := NewCollector(Options{Sink: newTestSink()})
	prof, _ := BuiltinProfile(ExamplePumpServerProfile)
	fast := func(t Target) Target { t.Timeout, t.Retries = 200*time.Millisecond, 2; return t }
	for _, tc := range []struct {
		name   string
		change func(*Target)
		is     error
		msg    string
	}{
		{"wrong community", func(t *Target) { *t = fast(simTarget(a, "v2c")); t.Community = "public" }, ErrNoAnswer,
			"No answer from " + a.Addr() + " after 3 tries (check the address and the community"},
		{"wrong auth password", func(t *Target) { t.AuthPassword = "not-the-password" }, ErrAuth,
			"wrong authentication password or protocol for user \"wardwatch-sim\""},
		{"wrong auth protocol", func(t *Target) { t.AuthProtocol = "SHA512" }, ErrAuth,
			"wrong authentication password or protocol"},
		{"wrong priv password", func(t *Target) { t.PrivPassword = "not-the-password" }, ErrAuth,
			"wrong privacy password or protocol"},
		{"unknown user", func(t *Target) { t.User = "nobody" }, ErrAuth,
			"the agent does not know the user \"nobody\""},
		{"nothing listens", func(t *Target) { t.Address = "127.0.0.1:1" }, ErrNoAnswer,
			"No answer from 127.0.0.1:1 after 3 tries: nothing listens on that port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := fast(simTarget(a, "v3"))
			if tc.change != nil {
				tc.change(&target)
			}
			_, err := c.TestTarget(t.Context(), target, prof)
			if !errors.Is(err, tc.is) {
				t.Fatalf("err = %v, want %v", err, tc.is)
			}
			if msg := wardwatch.ErrorMessage(err); !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
}

// TestSimCollector runs the collector against the simulator: states
// arrive and change between polls, the target goes offline when the agent
// goes away and online again when it comes back on the same port, without
// restarting the collector; removing the target stops its polls; Run
// returns when its context ends.
func TestSimCollector(t *testing.T) {
	clock := newTestClock()
	a := startSim(t, "127.0.0.1:0", 12, clock.now)
	addr := a.Addr()
	reg := prometheus.NewRegistry()
	sink := newTestSink()
	c := NewCollector(Options{Sink: sink, Now: clock.now, Registerer: reg, Profiles: profiles(), MaxBackoff: 400 * time.Millisecond})
	target := simTarget(a, "v3")
	target.Interval, target.Timeout, target.Retries = 200*time.Millisecond, 50*time.Millisecond, 1
	c.SetTargets([]Target{target})

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("status: %+v", c.Status())
		}
	})
	first := sink.nextStates(t, 10*time.Second)
	if d := diffStates(first, withTarget(a.PumpStates(), target.ID)); d != "" {
		t.Fatal(d)
	}
	sink.waitStatus(t, 5*time.Second, "online", func(s TargetStatus) bool { return s.Online && s.Pumps == 12 })
	clock.add(2 * time.Minute)
	second := sink.nextStates(t, 10*time.Second)
	grew := 0
	for i := range second {
		if second[i].Infused > first[i].Infused {
			grew++
		}
	}
	if grew == 0 || !second[0].Time.After(first[0].Time) {
		t.Errorf("no volume grew between polls two minutes apart")
	}

	a.Close()
	off := sink.waitStatus(t, 10*time.Second, "offline", func(s TargetStatus) bool { return !s.Online })
	if off.ConsecutiveFailures < 2 || !strings.Contains(off.LastError, "No answer from "+addr) {
		t.Errorf("offline status %+v", off)
	}
	if got := testutil.ToFloat64(c.m.online); got != 0 {
		t.Errorf("online gauge %v", got)
	}

	startSim(t, addr, 12, clock.now) // back, same port, new engine ID
	on := sink.waitStatus(t, 10*time.Second, "online again", func(s TargetStatus) bool { return s.Online })
	if on.LastError != "" || on.ConsecutiveFailures != 0 {
		t.Errorf("online status %+v", on)
	}
	if got := testutil.ToFloat64(c.m.pumps); got != 12 {
		t.Errorf("pumps gauge %v, want 12", got)
	}
	if got := testutil.ToFloat64(c.m.polls.WithLabelValues(resultTimeout)); got < 2 {
		t.Errorf("timeout polls %v, want ≥ 2", got)
	}
	if got := testutil.ToFloat64(c.m.polls.WithLabelValues(resultOK)); got < 3 {
		t.Errorf("ok polls %v, want ≥ 3", got)
	}
	if st := c.Status(); len(st) != 1 || !st[0].Online || st[0].TargetID != target.ID {
		t.Errorf("Status() = %+v", st)
	}

	c.SetTargets(nil)
	if st := c.Status(); len(st) != 0 {
		t.Errorf("Status() after removing the target = %+v", st)
	}
	time.Sleep(50 * time.Millisecond) // a poll in flight may still land
	for len(sink.states) > 0 {
		<-sink.states
	}
	time.Sleep(3 * target.Interval)
	if n := len(sink.states); n != 0 {
		t.Errorf("%d polls after the target was removed", n)
	}
	if got := testutil.ToFloat64(c.m.targets); got != 0 {
		t.Errorf("targets gauge %v", got)
	}
}
