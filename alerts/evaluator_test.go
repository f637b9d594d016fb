package alerts

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

const (
	sec    = time.Second
	minute = time.Minute
)

// TestThresholdSequences runs recorded sequences through the Evaluator and
// checks the condition changes, with ticks every 10 s and with no ticks at
// all: the result must not depend on the caller's tick cadence.
func TestThresholdSequences(t *testing.T) {
	temp := wardwatch.MetricTemperature
	fridge := Unit{Profile: wardwatch.ProfileVaccineFridge, Name: "Vaccine fridge"}
	cumulative := Unit{Name: "Custom", Rules: []Rule{{ID: "hot", Name: "Hot", Category: CategoryEnvironment,
		Priority: PriorityHigh, Metric: temp, Condition: Above, Limit: 8, Delay: 10 * minute,
		DelayMode: Cumulative, Window: time.Hour}}}
	tests := []struct {
		name     string
		unit     Unit
		interval time.Duration
		rs       []wardwatch.Reading
		rules    []string // rules whose changes are compared
		want     []string
	}{{
		name: "high sustained 15 minute raises; back under the deadband for 5 minute clears",
		unit: fridge, interval: minute,
		rs:    series("f", temp, 0, minute, join(repeat(5, 5), repeat(8.5, 26), repeat(7.5, 15))...),
		rules: []string{"temperature_high"},
		want:  []string{"raise temperature_high@sensor:f +20m0s", "clear temperature_high@sensor:f +36m0s"},
	}, {
		name: "excursion shorter than the delay does not raise",
		unit: fridge, interval: minute,
		rs:    series("f", temp, 0, minute, join(repeat(5, 5), repeat(8.5, 14), repeat(5, 10))...),
		rules: []string{"temperature_high"},
	}, {
		name: "chattering around the limit never holds for the delay",
		unit: fridge, interval: minute,
		rs: series("f", temp, 0, minute, func() []float64 {
			var v []float64
			for i := 0; i < 120; i++ {
				v = append(v, 7.9+0.2*float64(i%2))
			}
			return v
		}()...),
		rules: []string{"temperature_high"},
	}, {
		name: "chattering after a raise is held by the deadband: one raise, one clear",
		unit: fridge, interval: minute,
		rs: series("f", temp, 0, minute, join(repeat(8.5, 16), func() []float64 {
			var v []float64
			for i := 0; i < 60; i++ {
				v = append(v, 7.8+0.3*float64(i%2)) // 7.8 is inside the limit but not by the 0.3 deadband
			}
			return v
		}(), repeat(7.5, 10))...),
		rules: []string{"temperature_high"},
		want:  []string{"raise temperature_high@sensor:f +15m0s", "clear temperature_high@sensor:f +1h21m0s"},
	}, {
		name: "a return inside the deadband during the minimum clear time restarts it",
		unit: fridge, interval: minute,
		rs:    series("f", temp, 0, minute, join(repeat(8.5, 16), repeat(7.5, 4), []float64{7.8}, repeat(7.5, 6))...),
		rules: []string{"temperature_high"},
		want:  []string{"raise temperature_high@sensor:f +15m0s", "clear temperature_high@sensor:f +26m0s"},
	}, {
		name: "freezing raises at once; low raises after 5 minute",
		unit: fridge, interval: minute,
		rs:    series("f", temp, 0, minute, join(repeat(5, 10), repeat(-0.5, 7))...),
		rules: []string{"temperature_freezing", "temperature_low"},
		want:  []string{"raise temperature_freezing@sensor:f +10m0s", "raise temperature_low@sensor:f +15m0s"},
	}, {
		name: "a gap longer than the hold time breaks a continuous run",
		unit: fridge, interval: minute,
		rs: append(series("f", temp, 0, minute, repeat(8.5, 6)...),
			series("f", temp, 20*minute, minute, repeat(8.5, 21)...)...),
		rules: []string{"temperature_high"},
		want:  []string{"raise temperature_high@sensor:f +35m0s"},
	}, {
		name: "a sparse logger's value stands for its hold time",
		unit: fridge, interval: 30 * minute,
		rs:    series("f", temp, 0, 30*minute, 8.5, 8.5),
		rules: []string{"temperature_high"},
		want:  []string{"raise temperature_high@sensor:f +15m0s"},
	}, {
		name: "cumulative delay: door openings add up within the window",
		unit: cumulative, interval: minute,
		rs: series("f", temp, 0, minute, func() []float64 {
			var v []float64
			for i := 0; i < 80; i++ {
				if i%10 < 3 {
					v = append(v, 9)
				} else {
					v = append(v, 5)
				}
			}
			return v
		}()...),
		rules: []string{"hot"},
		want: []string{"raise hot@sensor:f +31m0s", "clear hot@sensor:f +33m0s",
			"raise hot@sensor:f +1h11m0s", "clear hot@sensor:f +1h13m0s"},
	}, {
		name: "cumulative delay: time out of range slides out of the window",
		unit: cumulative, interval: minute,
		rs: series("f", temp, 0, minute, func() []float64 {
			var v []float64
			for i := 0; i < 180; i++ {
				if i%30 < 3 { // 3 minute out every 30 minute: at most 6 minute within any hour
					v = append(v, 9)
				} else {
					v = append(v, 5)
				}
			}
			return v
		}()...),
		rules: []string{"hot"},
	}, {
		name: "door ajar after 90 s; a short opening does not raise",
		unit: fridge, interval: 10 * sec,
		rs: series("f", wardwatch.MetricDoorOpen, 0, 10*sec,
			join(repeat(1, 6), repeat(0, 6), repeat(1, 13), repeat(0, 2))...),
		rules: []string{"door_ajar"},
		want:  []string{"raise door_ajar@sensor:f +3m30s", "clear door_ajar@sensor:f +4m10s"},
	}, {
		name: "AII: a door spike averages out; a sustained reversal raises at once on the 30-s mean",
		unit: Unit{Profile: wardwatch.ProfileIsolationRoom, Name: "AII 4B-12"}, interval: 5 * sec,
		rs: series("p", wardwatch.MetricPressure, 0, 5*sec,
			join(repeat(-5, 12), []float64{3}, repeat(-5, 11), repeat(1, 17))...),
		rules: []string{"pressure_reversal", "pressure_high"},
		want:  []string{"raise pressure_reversal@sensor:p +2m25s", "raise pressure_high@sensor:p +3m10s"},
	}}
	for _, tc := range tests {
		for _, tick := range []time.Duration{0, 10 * sec} {
			name := tc.name + "/no ticks"
			if tick > 0 {
				name = tc.name + "/ticks"
			}
			t.Run(name, func(t *testing.T) {
				sensor := tc.rs[0].SensorID
				e := mustEvaluator(t, tc.unit, Sensor{ID: sensor, Interval: tc.interval})
				end := tc.rs[len(tc.rs)-1].Time
				out := run(t, e, slices.Clone(tc.rs), tick, end)
				diff(t, "changes", brief(only(out.Changes, tc.rules...)), tc.want)
			})
		}
	}
}

// TestRaiseCarriesPeakAndSince checks a raise's and a clear's values.
func TestRaiseCarriesPeakAndSince(t *testing.T) {
	e := mustEvaluator(t, Unit{Profile: wardwatch.ProfileVaccineFridge, Name: "Fridge 2"}, Sensor{ID: "f", Name: "probe", Interval: minute})
	rs := series("f", wardwatch.MetricTemperature, 0, minute, join(repeat(5, 5), repeat(8.5, 10), repeat(9.2, 16), repeat(7.5, 10))...)
	out := run(t, e, rs, 0, time.Time{})
	cs := only(out.Changes, "temperature_high")
	if len(cs) != 2 {
		t.Fatalf("got %v", brief(cs))
	}
	raise, clear := cs[0], cs[1]
	if !raise.Since.Equal(at(5*minute)) || raise.Peak != 9.2 || raise.Trough != 8.5 || raise.Value != 9.2 {
		t.Errorf("raise: since %v peak %v trough %v value %v", raise.Since.Sub(t0), raise.Peak, raise.Trough, raise.Value)
	}
	if raise.Priority != PriorityHigh || raise.Team != TeamPharmacy || raise.UnitID != 1 || !raise.Rule.Latched {
		t.Errorf("raise: priority %s team %s unit %d latched %v", raise.Priority, raise.Team, raise.UnitID, raise.Rule.Latched)
	}
	if raise.SubjectName != "Fridge 2 — probe" {
		t.Errorf("subject name %q", raise.SubjectName)
	}
	if !clear.Since.Equal(at(31*minute)) || !clear.Time.Equal(at(36*minute)) || clear.Peak != 9.2 || clear.Trough != 7.5 {
		t.Errorf("clear: since %v time %v peak %v trough %v", clear.Since.Sub(t0), clear.Time.Sub(t0), clear.Peak, clear.Trough)
	}
}

// TestExcursionRecord follows one excursion from the evaluator: opened on
// the first reading out of range, alarmed (quarantine) when the latched rule
// raises, closed on the first reading back; degree-minutes by hand:
// 10 minute at 8.5 (0.5 above) + 16 minute at 9.0 (1.0 above) = 21.0.
func TestExcursionRecord(t *testing.T) {
	e := mustEvaluator(t, Unit{Profile: wardwatch.ProfileVaccineFridge, Name: "Fridge 2"}, Sensor{ID: "f", Interval: minute})
	rs := series("f", wardwatch.MetricTemperature, 0, minute, join(repeat(5, 5), repeat(8.5, 10), repeat(9, 16), repeat(5, 5))...)
	out := run(t, e, rs, 0, time.Time{})
	if len(out.Excursions) != 3 {
		t.Fatalf("got %d excursion snapshots, want opened, alarmed, closed", len(out.Excursions))
	}
	opened, alarmed, closed := out.Excursions[0], out.Excursions[1], out.Excursions[2]
	if !opened.Start.Equal(at(5*minute)) || opened.Closed() || opened.Alarmed {
		t.Errorf("opened: %+v", opened)
	}
	if !alarmed.Alarmed || !alarmed.Quarantine || alarmed.AlarmRule != "temperature_high" || alarmed.Closed() {
		t.Errorf("alarmed: %+v", alarmed)
	}
	x := closed
	if !x.Closed() || !x.End.Equal(at(31*minute)) || x.Duration(time.Time{}) != 26*minute {
		t.Errorf("closed: start %v end %v", x.Start.Sub(t0), x.End.Sub(t0))
	}
	if x.Above != 26*minute || x.Below != 0 || math.Abs(x.DegreeMinutesAbove-21) > 1e-9 || x.DegreeMinutesBelow != 0 {
		t.Errorf("above %v below %v dm %v/%v", x.Above, x.Below, x.DegreeMinutesAbove, x.DegreeMinutesBelow)
	}
	if x.Peak != 9 || !x.PeakAt.Equal(at(15*minute)) || x.Trough != 8.5 || x.Samples != 26 {
		t.Errorf("peak %v at %v trough %v samples %d", x.Peak, x.PeakAt.Sub(t0), x.Trough, x.Samples)
	}
	if x.UnitID != 1 || x.UnitName != "Fridge 2" || x.Team != TeamPharmacy || x.Low != 2 || x.High != 8 || !x.Quarantined() {
		t.Errorf("identity: %+v", x)
	}
	from, to := x.SeriesWindow(time.Time{})
	if !from.Equal(at(-55*minute)) || !to.Equal(at(91*minute)) {
		t.Errorf("series window %v..%v", from.Sub(t0), to.Sub(t0))
	}

	// Quarantine clearing: pharmacist only, with a disposition.
	if err := x.ClearQuarantine("nurse1", []string{"nurse"}, DispositionUsed, at(2*time.Hour)); wardwatch.ErrorCode(err) != wardwatch.EFORBIDDEN {
		t.Errorf("nurse clearing: %v", err)
	}
	if err := x.ClearQuarantine("pharm1", []string{"pharmacy"}, "", at(2*time.Hour)); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("no disposition: %v", err)
	}
	if err := alarmed.ClearQuarantine("pharm1", []string{"pharmacy"}, DispositionUsed, at(2*time.Hour)); wardwatch.ErrorCode(err) != wardwatch.ECONFLICT {
		t.Errorf("open excursion: %v", err)
	}
	if err := x.ClearQuarantine("pharm1", []string{"pharmacy"}, DispositionWasted, at(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if x.Quarantined() || x.Troubleshooting.Disposition != DispositionWasted || x.QuarantineClearedBy != "pharm1" {
		t.Errorf("after clearing: %+v", x)
	}
	if err := x.ClearQuarantine("pharm1", []string{"pharmacy"}, DispositionWasted, at(3*time.Hour)); wardwatch.ErrorCode(err) != wardwatch.ECONFLICT {
		t.Errorf("clearing twice: %v", err)
	}
}

// TestExcursionAlarmedAtOnce: a rule without delay (freezing, ≤ 0 °C)
// raising on the very reading that opens the excursion marks that
// excursion alarmed and quarantines the unit, in order: opened, then
// alarmed.
func TestExcursionAlarmedAtOnce(t *testing.T) {
	e := mustEvaluator(t, Unit{Profile: wardwatch.ProfileVaccineFridge, Name: "Fridge 2"}, Sensor{ID: "f", Interval: minute})
	rs := series("f", wardwatch.MetricTemperature, 0, minute, join(repeat(5, 3), repeat(-1, 3), repeat(5, 2))...)
	out := run(t, e, rs, 0, time.Time{})
	if len(out.Excursions) != 3 {
		t.Fatalf("got %d excursion snapshots, want opened, alarmed, closed", len(out.Excursions))
	}
	opened, alarmed, closed := out.Excursions[0], out.Excursions[1], out.Excursions[2]
	if !opened.Start.Equal(at(3*minute)) || opened.Alarmed {
		t.Errorf("opened: %+v", opened)
	}
	if !alarmed.Start.Equal(at(3*minute)) || !alarmed.Alarmed || alarmed.AlarmRule != "temperature_freezing" || !alarmed.Quarantine {
		t.Errorf("alarmed: %+v", alarmed)
	}
	if !closed.Closed() || !closed.Quarantined() || closed.Trough != -1 {
		t.Errorf("closed: %+v", closed)
	}
}

// TestDefrostSuppression raises a freezer's high alarm during its scheduled
// defrost: the raise carries the suppression, and a tick after the window
// lifts it while the condition persists.
func TestDefrostSuppression(t *testing.T) {
	u := Unit{ID: 1, Name: "Freezer", Profile: wardwatch.ProfileVaccineFreezer}
	s := Sensor{ID: "z", UnitID: 1, Interval: minute}
	// Defrost daily at 08:05 local (UTC+1) — 07:05 UTC… use a zone where it lands at t0+5m.
	loc := time.FixedZone("UTC+1", 3600)
	sched := Schedule{UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{9*time.Hour + 5*minute}, Duration: 30 * minute, Location: loc}
	e, err := NewEvaluator(Config{Units: []Unit{u}, Sensors: []Sensor{s}, Schedules: []Schedule{sched}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	// −20 until 08:05, then −12 for 40 minute (past the window's end at 08:35).
	rs := series("z", wardwatch.MetricTemperature, 0, minute, join(repeat(-20, 5), repeat(-12, 41))...)
	out := run(t, e, rs, minute, at(45*minute))
	diff(t, "changes", brief(only(out.Changes, "temperature_high")), []string{
		"raise temperature_high@sensor:z +20m0s [defrost]",
		"unsuppress temperature_high@sensor:z +35m0s",
	})
	// The door is not a temperature rule: a defrost does not suppress it.
	if sup := e.suppressionFor(e.sensors["z"], doorAjar(), at(10*minute)); !sup.IsZero() {
		t.Errorf("door ajar suppressed by defrost: %+v", sup)
	}
}

// TestOutOfServiceWindow suppresses every rule of a unit out of service,
// including silence, and lifts it at the window's end.
func TestOutOfServiceWindow(t *testing.T) {
	u := Unit{ID: 1, Name: "Freezer", Profile: wardwatch.ProfileVaccineFreezer}
	s := Sensor{ID: "z", UnitID: 1, Interval: minute}
	w := Window{UnitID: 1, Kind: SuppressOutOfService, Start: t0, End: at(2 * time.Hour), By: "biomed1", Reason: "emptied for repair"}
	e, err := NewEvaluator(Config{Units: []Unit{u}, Sensors: []Sensor{s}, Windows: []Window{w}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	rs := series("z", wardwatch.MetricTemperature, 0, minute, repeat(5, 30)...) // switched off, warming up
	out := run(t, e, rs, minute, at(150*minute))
	diff(t, "changes", brief(out.Changes), []string{
		"raise temperature_high@sensor:z +15m0s [out_of_service]",
		"raise sensor_silent@sensor:z +31m0s [out_of_service]",
		"unsuppress temperature_high@sensor:z +2h0m0s",
		"unsuppress sensor_silent@sensor:z +2h0m0s",
	})
	if c := out.Changes[0]; c.Suppression.By != "biomed1" || c.Suppression.Reason != "emptied for repair" || !c.Suppression.Until.Equal(at(2*time.Hour)) {
		t.Errorf("suppression %+v", c.Suppression)
	}
}

// TestSilenceAndParents: a silent sensor raises after 2 intervals (capped at
// 30 minute); a gateway going offline raises one parent alert and suppresses
// its sensors' no-data alarms; coming back clears them and restarts the
// clock.
func TestSilenceAndParents(t *testing.T) {
	gw := Subject{Kind: SubjectGateway, ID: "7"}
	cfg := Config{
		Units: []Unit{{ID: 1, Name: "Fridge", Profile: wardwatch.ProfilePharmacyFridge}},
		Sensors: []Sensor{
			{ID: "a", UnitID: 1, Parent: gw, Interval: minute},
			{ID: "b", UnitID: 1, Parent: gw, Interval: time.Hour}, // capped at 30 minute
			{ID: "c", Interval: 5 * minute},                       // no parent, no unit
		},
		Parents: []Parent{{Subject: gw, Name: "Gateway 4B east"}},
	}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []Change
	feed := func(o Output, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, o.Changes...)
	}
	for m := time.Duration(0); m <= 5*minute; m += minute {
		for _, id := range []string{"a", "b", "c"} {
			feed(e.Observe(wardwatch.Reading{Time: at(m), SensorID: id, Metric: wardwatch.MetricTemperature, Value: 5}))
		}
	}
	// c keeps reporting; a and b stop at +5m.
	for m := 6 * minute; m <= 20*minute; m += minute {
		feed(e.Observe(wardwatch.Reading{Time: at(m), SensorID: "c", Metric: wardwatch.MetricTemperature, Value: 5}))
		if m == 10*minute {
			feed(e.ParentChange(gw, false, at(m)))
			feed(e.ParentChange(gw, false, at(m))) // repeated: nothing
		}
		got = append(got, e.Tick(at(m)).Changes...)
	}
	feed(e.ParentChange(gw, true, at(20*minute)))
	for m := 21 * minute; m <= 60*minute; m += minute {
		feed(e.Observe(wardwatch.Reading{Time: at(m), SensorID: "c", Metric: wardwatch.MetricTemperature, Value: 5}))
		got = append(got, e.Tick(at(m)).Changes...)
	}
	diff(t, "changes", brief(got), []string{
		"raise sensor_silent@sensor:a +7m0s",
		"raise gateway_offline@gateway:7 +10m0s",
		"suppress sensor_silent@sensor:a +10m0s [design]",
		"clear gateway_offline@gateway:7 +20m0s",
		"clear sensor_silent@sensor:a +20m0s",
		"raise sensor_silent@sensor:a +22m0s",
		"raise sensor_silent@sensor:b +50m0s",
	})
	if got[1].SubjectName != "Gateway 4B east" || got[1].Team != TeamFacilities || got[1].Priority != PriorityMedium {
		t.Errorf("parent alert: %+v", got[1])
	}
	if got[0].Team != TeamPharmacy || got[0].UnitID != 1 {
		t.Errorf("silent alert routed to %s unit %d, want the unit's team", got[0].Team, got[0].UnitID)
	}
	// A sensor that goes silent while its gateway is offline raises
	// suppressed.
	e2, _ := NewEvaluator(cfg, t0)
	if _, err := e2.ParentChange(gw, false, at(minute)); err != nil {
		t.Fatal(err)
	}
	out := e2.Tick(at(3 * minute))
	diff(t, "silent under an offline gateway", brief(only(out.Changes, RuleSensorSilent)), []string{"raise sensor_silent@sensor:a +2m0s [design]"})
	if _, err := e2.ParentChange(Subject{Kind: SubjectPump, ID: "x"}, false, t0); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("pump as parent: %v", err)
	}
}

// TestSensorFaultAndBattery: impossible readings raise a fault and are not
// judged; battery low after an hour below 20 %.
func TestSensorFaultAndBattery(t *testing.T) {
	e := mustEvaluator(t, Unit{Profile: wardwatch.ProfileVaccineFridge}, Sensor{ID: "f", Interval: minute})
	rs := append(series("f", wardwatch.MetricTemperature, 0, minute, join(repeat(5, 3), repeat(-200, 20), repeat(5, 110))...),
		series("f", wardwatch.MetricBatteryPercent, 0, 10*minute, join(repeat(30, 2), repeat(15, 8), repeat(26, 3))...)...)
	out := run(t, e, rs, 0, time.Time{})
	diff(t, "changes", brief(out.Changes), []string{
		"raise sensor_fault@sensor:f +3m0s",
		"clear sensor_fault@sensor:f +23m0s",
		"raise battery_low@sensor:f +1h20m0s",
		"clear battery_low@sensor:f +1h50m0s",
	})
	if len(out.Excursions) != 0 {
		t.Errorf("an impossible reading opened an excursion: %+v", out.Excursions)
	}
}

// TestCalibration warns 30 days ahead and raises on expiry; a new date
// clears both.
func TestCalibration(t *testing.T) {
	due := at(40 * 24 * time.Hour)
	cfg := Config{Units: []Unit{{ID: 1, Profile: wardwatch.ProfileVaccineFridge}},
		Sensors: []Sensor{{ID: "f", UnitID: 1, Interval: minute, CalibrationDue: due}}}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	var got []Change
	for d := time.Duration(0); d <= 45*24*time.Hour; d += 24 * time.Hour {
		if _, err := e.Observe(wardwatch.Reading{Time: at(d), SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5}); err != nil {
			t.Fatal(err)
		}
		got = append(got, only(e.Tick(at(d)).Changes, RuleCalibrationDue, RuleCalibrationExpired)...)
	}
	cfg.Sensors[0].CalibrationDue = due.AddDate(2, 0, 0)
	out, err := e.Configure(cfg, at(46*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, out.Changes...)
	got = append(got, only(e.Tick(at(46*24*time.Hour)).Changes, RuleCalibrationDue, RuleCalibrationExpired)...)
	diff(t, "changes", brief(got), []string{
		"raise calibration_due@sensor:f +240h0m0s",
		"clear calibration_due@sensor:f +960h0m0s",
		"raise calibration_expired@sensor:f +960h0m0s",
		"clear calibration_expired@sensor:f +1104h0m0s",
	})
}

// TestObserveRejects bad readings with errors and counts late and unknown
// ones.
func TestObserveRejects(t *testing.T) {
	e := mustEvaluator(t, Unit{Profile: wardwatch.ProfileVaccineFridge}, Sensor{ID: "f", Interval: minute})
	for _, r := range []wardwatch.Reading{
		{Time: t0, SensorID: "f", Metric: "radiation", Value: 1},
		{Time: t0, SensorID: "f", Metric: wardwatch.MetricTemperature, Value: math.NaN()},
		{Time: t0, SensorID: "f", Metric: wardwatch.MetricTemperature, Value: math.Inf(1)},
		{SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5},
	} {
		_, err := e.Observe(r)
		var we *wardwatch.Error
		if !errors.As(err, &we) || we.Code != wardwatch.EINVALID {
			t.Errorf("Observe(%+v) = %v, want EINVALID", r, err)
		}
	}
	mustObserve := func(r wardwatch.Reading) {
		if _, err := e.Observe(r); err != nil {
			t.Fatal(err)
		}
	}
	mustObserve(wardwatch.Reading{Time: at(minute), SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5})
	mustObserve(wardwatch.Reading{Time: at(minute), SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5}) // repeated
	mustObserve(wardwatch.Reading{Time: t0, SensorID: "f", Metric: wardwatch.MetricTemperature, Value: 5})         // older
	mustObserve(wardwatch.Reading{Time: at(minute), SensorID: "f", Metric: wardwatch.MetricDoorOpen, Value: 0})    // other metric: fine
	mustObserve(wardwatch.Reading{Time: at(minute), SensorID: "zz", Metric: wardwatch.MetricTemperature, Value: 5})
	want := Stats{Readings: 2, Rejected: 4, Late: 2, Unbound: 1}
	if got := e.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

// TestConfigure keeps the state of unchanged rules, clears alerts of changed
// rules and removed sensors, and refuses bad configurations without
// changing anything.
func TestConfigure(t *testing.T) {
	u := Unit{ID: 1, Name: "Fridge", Profile: wardwatch.ProfileVaccineFridge}
	cfg := Config{Units: []Unit{u}, Sensors: []Sensor{{ID: "f", UnitID: 1, Interval: minute}, {ID: "g", UnitID: 1, Interval: minute}}}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	rs := append(series("f", wardwatch.MetricTemperature, 0, minute, repeat(9, 20)...), series("g", wardwatch.MetricTemperature, 0, minute, repeat(9, 20)...)...)
	out := run(t, e, rs, 0, time.Time{})
	if n := len(only(out.Changes, "temperature_high")); n != 2 {
		t.Fatalf("%d raises", n)
	}
	// Same configuration: nothing changes.
	if o, err := e.Configure(cfg, at(20*minute)); err != nil || len(o.Changes) != 0 {
		t.Fatalf("reconfigure: %v %v", brief(o.Changes), err)
	}
	// Edit the high limit and drop sensor g.
	rules := mustProfile(t, wardwatch.ProfileVaccineFridge).Rules
	for i := range rules {
		if rules[i].ID == "temperature_high" {
			rules[i].Limit = 9.5
		}
	}
	cfg2 := Config{Units: []Unit{{ID: 1, Name: "Fridge", Profile: wardwatch.ProfileVaccineFridge, Rules: rules}},
		Sensors: []Sensor{{ID: "f", UnitID: 1, Interval: minute}}}
	o, err := e.Configure(cfg2, at(21*minute))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "reconfigure", brief(o.Changes), []string{
		"clear temperature_high@sensor:f +21m0s",
		"clear temperature_high@sensor:g +21m0s",
	})
	// Bad configurations.
	bad := []Config{
		{Sensors: []Sensor{{ID: "f", UnitID: 9}}},
		{Sensors: []Sensor{{ID: "f"}, {ID: "f"}}},
		{Sensors: []Sensor{{}}},
		{Units: []Unit{{ID: 1, Profile: "nope"}}},
		{Units: []Unit{{ID: 1, Profile: wardwatch.ProfileCRTRoom, Rules: []Rule{{ID: "x"}}}}},
		{Units: []Unit{{ID: 1, Profile: wardwatch.ProfileCRTRoom}}, Windows: []Window{{UnitID: 1, Kind: SuppressDefrost, Start: t0, End: t0}}},
		{Units: []Unit{{ID: 1, Profile: wardwatch.ProfileCRTRoom}}, Schedules: []Schedule{{UnitID: 1, Kind: SuppressDesign, Duration: minute}}},
		{Builtins: []Rule{{ID: "nope", Name: "x", Category: CategoryEquipment, Priority: PriorityLow}}},
		{Sensors: []Sensor{{ID: "f", Parent: Subject{Kind: SubjectAsset, ID: "1"}}}},
	}
	for i, c := range bad {
		if _, err := e.Configure(c, at(22*minute)); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("bad config %d: %v", i, err)
		}
	}
	if len(e.sensors) != 1 || e.sensors["f"] == nil {
		t.Errorf("a refused configuration changed the evaluator")
	}
}

// TestBuiltinOverride changes a built-in rule's priority and team.
func TestBuiltinOverride(t *testing.T) {
	cfg := Config{Sensors: []Sensor{{ID: "f", Interval: minute}},
		Builtins: []Rule{{ID: RuleSensorSilent, Name: "Logger silent", Category: CategoryEquipment, Priority: PriorityHigh, Team: TeamBiomed}}}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	cs := e.Tick(at(time.Hour)).Changes
	if len(cs) != 1 || cs[0].Priority != PriorityHigh || cs[0].Team != TeamBiomed || cs[0].Rule.Name != "Logger silent" {
		t.Errorf("got %+v", cs)
	}
}
