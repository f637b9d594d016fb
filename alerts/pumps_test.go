package alerts

import (
	"math"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func pstate(serial string, d time.Duration, mut func(*wardwatch.PumpState)) wardwatch.PumpState {
	s := wardwatch.PumpState{Time: at(d), TargetID: 3, Serial: serial, Model: "LVP", Status: wardwatch.PumpInfusing,
		OnAC: true, Battery: 90, Rate: 50, VTBI: math.NaN(), Infused: math.NaN(),
		DrugLibrary: "Adult ICU", DrugLibraryVersion: "2026.1"}
	if mut != nil {
		mut(&s)
	}
	return s
}

// TestPumpRules: alarms (priority follows the pump), low battery off mains,
// drug library version, offline with server suppression.
func TestPumpRules(t *testing.T) {
	e, err := NewPumpEvaluator(PumpConfig{
		ApprovedLibraries: map[string]string{"Adult ICU": "2026.1"},
		Names:             map[string]string{"SN1": "Pump 0412"},
		TargetNames:       map[int64]string{3: "Alaris server"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []Change
	obs := func(s wardwatch.PumpState) {
		t.Helper()
		o, err := e.ObservePump(s)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Changes...)
	}
	obs(pstate("SN1", 0, nil))
	obs(pstate("SN1", minute, func(s *wardwatch.PumpState) {
		s.Status = wardwatch.PumpAlarming
		s.Alarms = []wardwatch.PumpAlarm{{Code: "OCCL", Text: "Occlusion downstream", Priority: wardwatch.PriorityMedium}}
	}))
	obs(pstate("SN1", 2*minute, func(s *wardwatch.PumpState) { // alarm set changes: raised again, higher priority
		s.Alarms = []wardwatch.PumpAlarm{{Code: "OCCL", Text: "Occlusion downstream", Priority: wardwatch.PriorityMedium},
			{Code: "AIR", Text: "Air in line", Priority: wardwatch.PriorityHigh}}
	}))
	obs(pstate("SN1", 3*minute, func(s *wardwatch.PumpState) { s.OnAC, s.Battery = false, 15 }))   // alarms cleared, battery low
	obs(pstate("SN1", 4*minute, func(s *wardwatch.PumpState) { s.OnAC, s.Battery = false, 22 }))   // inside the hysteresis
	obs(pstate("SN1", 5*minute, func(s *wardwatch.PumpState) { s.Battery = math.NaN() }))          // on AC, battery unknown: nothing
	obs(pstate("SN1", 6*minute, func(s *wardwatch.PumpState) { s.OnAC, s.Battery = false, 30 }))   // clears
	obs(pstate("SN1", 7*minute, func(s *wardwatch.PumpState) { s.DrugLibraryVersion = "2025.4" })) // old library
	obs(pstate("SN1", 8*minute, func(s *wardwatch.PumpState) { s.DrugLibraryVersion = "" }))       // not reported: nothing
	obs(pstate("SN1", 9*minute, nil))                                                              // approved again
	obs(pstate("SN1", 9*minute, nil))                                                              // repeated: ignored
	diff(t, "changes", brief(got), []string{
		"raise pump_alarm@pump:SN1 +1m0s",
		"raise pump_alarm@pump:SN1 +2m0s",
		"clear pump_alarm@pump:SN1 +3m0s",
		"raise pump_battery_low@pump:SN1 +3m0s",
		"clear pump_battery_low@pump:SN1 +6m0s",
		"raise pump_drug_library@pump:SN1 +7m0s",
		"clear pump_drug_library@pump:SN1 +9m0s",
	})
	if got[0].Priority != PriorityMedium || got[1].Priority != PriorityHigh || got[0].Team != TeamBiomed {
		t.Errorf("alarm priorities %s, %s team %s", got[0].Priority, got[1].Priority, got[0].Team)
	}
	if got[1].Message != "Pump 0412 alarm: AIR Air in line; OCCL Occlusion downstream" {
		t.Errorf("message %q", got[1].Message)
	}
	if e.Stats().Late != 1 {
		t.Errorf("stats %+v", e.Stats())
	}

	// Offline after 15 min; a server going offline suppresses its pumps'
	// offline alerts and coming back clears them.
	got = nil
	obs(pstate("SN2", 9*minute, nil))
	got = append(got, e.Tick(at(20*minute)).Changes...)
	got = append(got, e.Tick(at(24*minute)).Changes...)
	o, err := e.TargetChange(3, false, at(25*minute))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, o.Changes...)
	o, _ = e.TargetChange(3, true, at(40*minute))
	got = append(got, o.Changes...)
	got = append(got, e.Tick(at(50*minute)).Changes...)
	got = append(got, e.Tick(at(55*minute)).Changes...)
	diff(t, "offline", brief(got), []string{
		"raise pump_offline@pump:SN1 +24m0s",
		"raise pump_offline@pump:SN2 +24m0s",
		"raise pump_target_offline@pump_target:3 +25m0s",
		"suppress pump_offline@pump:SN1 +25m0s [design]",
		"suppress pump_offline@pump:SN2 +25m0s [design]",
		"clear pump_target_offline@pump_target:3 +40m0s",
		"clear pump_offline@pump:SN1 +40m0s",
		"clear pump_offline@pump:SN2 +40m0s",
		"raise pump_offline@pump:SN1 +55m0s",
		"raise pump_offline@pump:SN2 +55m0s",
	})
	if out := e.Forget("SN1", at(56*minute)); len(out.Changes) != 1 {
		t.Errorf("forget: %v", brief(out.Changes))
	}
	for _, s := range []wardwatch.PumpState{{Time: t0}, {Serial: "x"}, {Serial: "x", Time: t0, Status: "exploded"}} {
		if _, err := e.ObservePump(s); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("ObservePump(%+v): %v", s, err)
		}
	}
	if _, err := NewPumpEvaluator(PumpConfig{LowBattery: 30, BatteryClear: 20}); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("inverted battery limits: %v", err)
	}
}
