package alerts

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

const hour = time.Hour

// TestTagBatterySequences runs tag battery readings through the Evaluator
// and checks the asset's alerts, ticking every 10 min and never: the result
// must not depend on the caller's tick cadence.
func TestTagBatterySequences(t *testing.T) {
	volts, pct := wardwatch.MetricBatteryVoltage, wardwatch.MetricBatteryPercent
	pump := []Tag{{ID: "eddystone:aa:01", AssetID: 7, AssetName: "Infusion pump 0412"}}
	twoTags := []Tag{
		{ID: "eddystone:aa:01", AssetID: 7, AssetName: "Bed 12"},
		{ID: "eddystone:aa:02", AssetID: 7, AssetName: "Bed 12"},
	}
	// dips returns n readings of good volts every step with a radio-burst
	// dip to low every k-th.
	dips := func(n, k int, good, low float64) []float64 {
		v := repeat(good, n)
		for i := k - 1; i < n; i += k {
			v[i] = low
		}
		return v
	}
	const step = 10 * time.Minute
	tests := []struct {
		name string
		tags []Tag
		rs   []wardwatch.Reading
		end  time.Duration
		want []string
	}{{
		name: "a cell past its knee: low for 24 h raises; a new battery held 1 h clears",
		tags: pump,
		rs: series("eddystone:aa:01", volts, 0, step,
			join(repeat(2.95, 6), repeat(2.45, 6*26), repeat(3.05, 6*2))...), // 1 h good, 26 h low, 2 h new cell
		end:  30 * hour,
		want: []string{"raise tag_battery_low@asset:7 +25h0m0s", "clear tag_battery_low@asset:7 +28h0m0s"},
	}, {
		name: "radio-burst dips between good readings never raise",
		tags: pump,
		rs:   series("eddystone:aa:01", volts, 0, step, dips(6*72, 3, 2.9, 2.3)...),
		end:  72 * hour,
	}, {
		name: "a cold night (12 h low) does not raise",
		tags: pump,
		rs:   series("eddystone:aa:01", volts, 0, step, join(repeat(2.9, 6), repeat(2.35, 6*12), repeat(2.9, 6*24))...),
		end:  48 * hour,
	}, {
		name: "inside the deadband (2.7 V) does not clear; one good reading is not an hour",
		tags: pump,
		rs: series("eddystone:aa:01", volts, 0, step,
			join(repeat(2.4, 6*25), repeat(2.7, 6*10), []float64{2.9}, repeat(2.7, 6), repeat(2.95, 7))...),
		end:  60 * hour,
		want: []string{"raise tag_battery_low@asset:7 +24h0m0s", "clear tag_battery_low@asset:7 +37h10m0s"},
	}, {
		name: "a silence longer than the hold restarts the delay",
		tags: pump,
		rs: append(series("eddystone:aa:01", volts, 0, step, repeat(2.4, 6*10)...), // 0–10 h
			series("eddystone:aa:01", volts, 16*hour, step, repeat(2.4, 6*25)...)...), // 16–41 h
		end:  48 * hour,
		want: []string{"raise tag_battery_low@asset:7 +40h0m0s"},
	}, {
		name: "gaps shorter than the hold keep the delay running",
		tags: pump,
		rs: func() []wardwatch.Reading {
			var rs []wardwatch.Reading
			for h := time.Duration(0); h <= 30*hour; h += 3 * hour { // heard every 3 h
				rs = append(rs, wardwatch.Reading{Time: at(h), SensorID: "eddystone:aa:01", Metric: volts, Value: 2.42})
			}
			return rs
		}(),
		end:  36 * hour,
		want: []string{"raise tag_battery_low@asset:7 +24h0m0s"},
	}, {
		name: "one low reading and then silence never raises",
		tags: pump,
		rs: []wardwatch.Reading{{Time: at(0), SensorID: "eddystone:aa:01", Metric: volts, Value: 2.2},
			{Time: at(0), SensorID: "eddystone:aa:01", Metric: pct, Value: 5}},
		end: 72 * hour,
	}, {
		name: "percent: below 20 % for 6 h raises; 25 % holds; 30 % for an hour clears",
		tags: pump,
		rs: series("eddystone:aa:01", pct, 0, step,
			join(repeat(60, 6), repeat(15, 6*7), repeat(25, 6*3), repeat(30, 7))...),
		end:  20 * hour,
		want: []string{"raise tag_battery_percent_low@asset:7 +7h0m0s", "clear tag_battery_percent_low@asset:7 +12h0m0s"},
	}, {
		name: "two tags on one asset: one alert, cleared when the last tag has a new cell",
		tags: twoTags,
		rs: append(series("eddystone:aa:01", volts, 0, step, join(repeat(2.4, 6*30), repeat(3.0, 6*20))...), // new cell at 30 h
			series("eddystone:aa:02", volts, 5*time.Minute, step, join(repeat(2.4, 6*40), repeat(3.0, 6*10))...)...), // at 40 h
		end:  50 * hour,
		want: []string{"raise tag_battery_low@asset:7 +24h0m0s", "clear tag_battery_low@asset:7 +41h5m0s"},
	}, {
		name: "tag temperatures and impossible values are not judged",
		tags: pump,
		rs: append(series("eddystone:aa:01", wardwatch.MetricTemperature, 0, step, repeat(45, 6*30)...),
			series("eddystone:aa:01", pct, 0, step, repeat(150, 6*30)...)...),
		end: 30 * hour,
	}}
	for _, tc := range tests {
		for _, tick := range []time.Duration{0, step} {
			t.Run(tc.name+"/tick "+tick.String(), func(t *testing.T) {
				e, err := NewEvaluator(Config{Tags: tc.tags}, t0)
				if err != nil {
					t.Fatal(err)
				}
				out := run(t, e, slices.Clone(tc.rs), tick, at(tc.end))
				diff(t, "changes", brief(out.Changes), tc.want)
			})
		}
	}
}

// TestTagBatteryAlert checks what an asset's tag battery alert says and
// where it goes, and that a tag is judged by nothing else.
func TestTagBatteryAlert(t *testing.T) {
	tag := Tag{ID: "eddystone:edd1ebeac04e5defa017:0bdb87539b67", AssetID: 12, AssetName: "Wheelchair 3"}
	e, err := NewEvaluator(Config{Tags: []Tag{tag},
		Units:   []Unit{{ID: 1, Name: "Fridge", Profile: wardwatch.ProfileVaccineFridge}},
		Sensors: []Sensor{{ID: "fridge/t", UnitID: 1}}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	rs := series(tag.ID, wardwatch.MetricBatteryVoltage, 0, 30*time.Minute, join(repeat(2.41, 50), repeat(3.02, 3))...)
	out := run(t, e, rs, 15*time.Minute, at(27*hour))
	cs := slices.DeleteFunc(out.Changes, func(c Change) bool { return c.Key.Subject.Kind == SubjectSensor && c.Key.Subject.ID == "fridge/t" })
	diff(t, "changes", brief(cs), []string{"raise tag_battery_low@asset:12 +24h0m0s", "clear tag_battery_low@asset:12 +26h0m0s"})
	if len(cs) != 2 {
		t.FailNow()
	}
	r := cs[0]
	if r.SubjectName != "Wheelchair 3" || r.Team != TeamBiomed || r.Priority != PriorityMedium ||
		r.Rule.Category != CategoryEquipment || r.UnitID != 0 || r.Value != 2.41 || r.Since != t0 {
		t.Errorf("raise %+v", r)
	}
	for _, want := range []string{tag.ID, "2.41 V", "Tag battery low (below 2.5 V)", "for 1 d"} {
		if !strings.Contains(r.Message, want) {
			t.Errorf("raise message %q does not say %q", r.Message, want)
		}
	}
	if c := cs[1]; c.SubjectName != "Wheelchair 3" || c.Value != 3.02 || !strings.Contains(c.Message, "3.02 V") {
		t.Errorf("clear %+v", c)
	}

	// No equipment rule, silence or fault for a tag, days later.
	out = run(t, e, []wardwatch.Reading{{Time: at(30 * hour), SensorID: tag.ID, Metric: wardwatch.MetricBatteryPercent, Value: 3}}, 0, at(30*hour))
	out.Changes = append(out.Changes, e.Tick(at(200*hour)).Changes...)
	for _, c := range out.Changes {
		if c.Key.Subject.Kind != SubjectSensor || c.Key.Subject.ID != "fridge/t" {
			t.Errorf("a tag raised %s", c.Key)
		}
	}
	if s := e.Stats(); s.Unbound != 0 {
		t.Errorf("stats %+v: the tag's readings are bound", s)
	}
}

// TestTagReconfigure: a tag moved to another asset clears its old asset's
// alert and starts afresh; a tag removed clears its alert; invalid tags are
// refused.
func TestTagReconfigure(t *testing.T) {
	const id = "ibeacon:f7826da6-4fa2-4e98-8024-bc5b71e0893e:1:2"
	cfg := Config{Tags: []Tag{{ID: id, AssetID: 5, AssetName: "Pump A"}}}
	e, err := NewEvaluator(cfg, t0)
	if err != nil {
		t.Fatal(err)
	}
	out := run(t, e, series(id, wardwatch.MetricBatteryVoltage, 0, time.Hour, repeat(2.3, 26)...), 0, at(25*hour))
	diff(t, "low", brief(out.Changes), []string{"raise tag_battery_low@asset:5 +24h0m0s"})

	// Unchanged configuration: the alert stays.
	if o, err := e.Configure(cfg, at(26*hour)); err != nil || len(o.Changes) != 0 {
		t.Fatalf("reconfigure unchanged: %v %v", brief(o.Changes), err)
	}
	// The tag moves to pump B: pump A's alert clears; pump B's needs 24 h.
	cfg.Tags[0].AssetID, cfg.Tags[0].AssetName = 6, "Pump B"
	o, err := e.Configure(cfg, at(26*hour))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "moved", brief(o.Changes), []string{"clear tag_battery_low@asset:5 +26h0m0s"})
	if len(o.Changes) == 1 && (o.Changes[0].SubjectName != "Pump A" || !strings.Contains(o.Changes[0].Message, "tag removed")) {
		t.Errorf("clear %+v", o.Changes[0])
	}
	out = run(t, e, series(id, wardwatch.MetricBatteryVoltage, 27*hour, time.Hour, repeat(2.3, 26)...), 0, at(53*hour))
	diff(t, "on pump B", brief(out.Changes), []string{"raise tag_battery_low@asset:6 +51h0m0s"})

	// Removed from the site.
	o, err = e.Configure(Config{}, at(60*hour))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "removed", brief(o.Changes), []string{"clear tag_battery_low@asset:6 +60h0m0s"})

	for _, bad := range []Config{
		{Tags: []Tag{{AssetID: 1}}},
		{Tags: []Tag{{ID: "x"}}},
		{Tags: []Tag{{ID: "x", AssetID: 1}, {ID: "x", AssetID: 2}}},
		{Tags: []Tag{{ID: "x", AssetID: 1}}, Sensors: []Sensor{{ID: "x"}}},
		{Tags: []Tag{{ID: "x", AssetID: 1}}, TagRules: []Rule{{ID: "t", Name: "T", Category: CategoryEquipment, Priority: PriorityMedium}}},
	} {
		if _, err := NewEvaluator(bad, t0); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("NewEvaluator(%+v): %v, want EINVALID", bad, err)
		}
	}
}

// TestResumeTagAlert: after a restart the stored alert is taken over by the
// asset's tags, so low readings keep it (no second raise a day later) and a
// battery change clears it.
func TestResumeTagAlert(t *testing.T) {
	const id = "eddystone:aa:01"
	e, err := NewEvaluator(Config{Tags: []Tag{{ID: id, AssetID: 9, AssetName: "Pump"}}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	key := Key{Rule: RuleTagBatteryLow, Subject: Subject{Kind: SubjectAsset, ID: "9"}}
	if e.ResumeTagAlert(Key{Rule: RuleTagBatteryLow, Subject: Subject{Kind: SubjectAsset, ID: "10"}}, t0) ||
		e.ResumeTagAlert(Key{Rule: RuleSensorSilent, Subject: Subject{Kind: SubjectAsset, ID: "9"}}, t0) {
		t.Error("resumed an alert of another asset or rule")
	}
	if !e.ResumeTagAlert(key, t0.Add(-30*hour)) {
		t.Fatal("the tag did not take its alert over")
	}
	out := run(t, e, series(id, wardwatch.MetricBatteryVoltage, 0, time.Hour, join(repeat(2.3, 30), repeat(3.1, 2))...), time.Hour, at(32*hour))
	diff(t, "resumed", brief(out.Changes), []string{"clear tag_battery_low@asset:9 +31h0m0s"})
	if len(out.Changes) == 1 {
		if c := out.Changes[0]; c.Peak != 3.1 || c.Trough != 2.3 || math.IsNaN(c.Value) {
			t.Errorf("clear extremes %g–%g", c.Trough, c.Peak)
		}
	}
}
