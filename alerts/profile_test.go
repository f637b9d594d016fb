package alerts

import (
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func mustProfile(t *testing.T, p wardwatch.UnitProfile) Profile {
	t.Helper()
	pr, err := ProfileFor(p, ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func ruleByID(p Profile, id string) (Rule, bool) {
	for _, r := range p.Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// TestEveryProfileIsValid builds every profile with every option and checks
// the rules validate, IDs are unique and the team is known.
func TestEveryProfileIsValid(t *testing.T) {
	opts := []ProfileOptions{{}, {BareProbe: true, HoldsTwoToEight: true, NoRHWaiver: true, IsolationIdle: true, Hazardous: true}}
	for _, q := range wardwatch.UnitProfiles() {
		for _, o := range opts {
			p, err := ProfileFor(q.Profile, o)
			if err != nil {
				t.Fatalf("%s: %v", q.Profile, err)
			}
			if err := validRuleSet(p.Rules); err != nil {
				t.Errorf("%s %+v: %v", q.Profile, o, err)
			}
			if !p.Team.Valid() || len(p.Ranges) == 0 || len(p.Rules) == 0 {
				t.Errorf("%s: team %q, %d ranges, %d rules", q.Profile, p.Team, len(p.Ranges), len(p.Rules))
			}
		}
	}
	if _, err := ProfileFor("nope", ProfileOptions{}); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("unknown profile: %v", err)
	}
	for _, r := range append(BuiltinRules(), EquipmentRules()...) {
		if err := r.Validate(); err != nil {
			t.Errorf("built-in %s: %v", r.ID, err)
		}
	}
}

// TestProfileFigures spot-checks the seeded figures against
// domain-requirements.md.
func TestProfileFigures(t *testing.T) {
	type want struct {
		profile  wardwatch.UnitProfile
		opts     ProfileOptions
		rule     string
		cond     Condition
		limit    float64 // or Low for Outside
		high     float64
		delay    time.Duration
		priority Priority
		latched  bool
	}
	for _, w := range []want{
		{wardwatch.ProfileVaccineFridge, ProfileOptions{}, "temperature_high", Above, 8, 0, 15 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileVaccineFridge, ProfileOptions{}, "temperature_low", Below, 2, 0, 5 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileVaccineFridge, ProfileOptions{BareProbe: true}, "temperature_low", Below, 2, 0, 30 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileVaccineFridge, ProfileOptions{}, "temperature_freezing", AtOrBelow, 0, 0, 0, PriorityCritical, true},
		{wardwatch.ProfileVaccineFridge, ProfileOptions{}, "door_ajar", Above, 0.5, 0, 90 * time.Second, PriorityMedium, false},
		{wardwatch.ProfileVaccineFreezer, ProfileOptions{}, "temperature_high", Above, -15, 0, 15 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileVaccineFreezer, ProfileOptions{}, "temperature_low", Below, -50, 0, 15 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileUltraColdFreeze, ProfileOptions{}, "temperature_low", Below, -80, 0, 0, PriorityHigh, true},
		{wardwatch.ProfilePharmacyFreezer, ProfileOptions{}, "temperature_high", Above, -10, 0, 15 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileBloodFridge, ProfileOptions{}, "temperature_out_of_range", Outside, 1, 6, 0, PriorityCritical, true},
		{wardwatch.ProfileBloodFridge, ProfileOptions{}, "temperature_low", Below, 1.5, 0, 5 * time.Minute, PriorityHigh, false},
		{wardwatch.ProfileBloodFridge, ProfileOptions{HoldsTwoToEight: true}, "temperature_low", Below, 2.5, 0, 5 * time.Minute, PriorityHigh, false},
		{wardwatch.ProfileBloodFridge, ProfileOptions{}, "temperature_high", Above, 5.5, 0, 5 * time.Minute, PriorityHigh, false},
		{wardwatch.ProfilePlasmaFreezer, ProfileOptions{}, "temperature_high", Above, -20, 0, 15 * time.Minute, PriorityHigh, false},
		{wardwatch.ProfileCRTRoom, ProfileOptions{}, "temperature_warning", Outside, 20, 25, time.Hour, PriorityMedium, false},
		{wardwatch.ProfileCRTRoom, ProfileOptions{}, "temperature_alarm", Outside, 15, 30, 15 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileCRTRoom, ProfileOptions{}, "temperature_critical", Above, 40, 0, 0, PriorityCritical, true},
		{wardwatch.ProfileOperatingRoom, ProfileOptions{}, "humidity_low", Below, 20, 0, 10 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileOperatingRoom, ProfileOptions{NoRHWaiver: true}, "humidity_low", Below, 35, 0, 10 * time.Minute, PriorityHigh, true},
		{wardwatch.ProfileOperatingRoom, ProfileOptions{}, "pressure_low", Below, 2.5, 0, time.Minute, PriorityHigh, false},
		{wardwatch.ProfileIsolationRoom, ProfileOptions{}, "pressure_high", Above, -2.5, 0, time.Minute, PriorityHigh, false},
		{wardwatch.ProfileIsolationRoom, ProfileOptions{}, "pressure_reversal", Above, 0, 0, 0, PriorityCritical, true},
		{wardwatch.ProfileIsolationRoom, ProfileOptions{}, "pressure_loss_persistent", Above, -2.5, 0, 10 * time.Minute, PriorityCritical, true},
		{wardwatch.ProfileIsolationRoom, ProfileOptions{IsolationIdle: true}, "pressure_reversal", Above, 0, 0, 0, PriorityMedium, false},
		{wardwatch.ProfileProtectiveRoom, ProfileOptions{}, "pressure_low", Below, 2.5, 0, time.Minute, PriorityHigh, false},
		{wardwatch.ProfileCompounding, ProfileOptions{}, "pressure_low", Below, 5, 0, time.Minute, PriorityHigh, false},
		{wardwatch.ProfileCompounding, ProfileOptions{Hazardous: true}, "pressure_out_of_band", Outside, -7.5, -2.5, time.Minute, PriorityHigh, false},
	} {
		p, err := ProfileFor(w.profile, w.opts)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := ruleByID(p, w.rule)
		if !ok {
			t.Errorf("%s: no rule %s", w.profile, w.rule)
			continue
		}
		lim := r.Limit
		if r.Condition == Outside {
			lim = r.Low
		}
		if r.Condition != w.cond || lim != w.limit || (w.cond == Outside && r.High != w.high) ||
			r.Delay != w.delay || r.Priority != w.priority || r.Latched != w.latched {
			t.Errorf("%s %+v %s: got %s %g/%g delay %s %s latched %v", w.profile, w.opts, w.rule,
				r.Condition, lim, r.High, r.Delay, r.Priority, r.Latched)
		}
		if r.Metric == wardwatch.MetricPressure && r.Average != 30*time.Second {
			t.Errorf("%s %s: pressure judged on the %s mean, want 30 s", w.profile, w.rule, r.Average)
		}
	}
	if p := mustProfile(t, wardwatch.ProfileCRTRoom); p.MKTLimit != 25 {
		t.Errorf("CRT MKT limit %g", p.MKTLimit)
	}
	if p := mustProfile(t, wardwatch.ProfilePharmacyFridge); p.MKTLimit != 8 {
		t.Errorf("pharmacy fridge MKT limit %g", p.MKTLimit)
	}
}

// TestRuleValidate lists invalid rules.
func TestRuleValidate(t *testing.T) {
	ok := Rule{ID: "t", Name: "T", Category: CategoryEnvironment, Priority: PriorityHigh,
		Metric: wardwatch.MetricTemperature, Condition: Above, Limit: 8}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Rule){
		"empty id":             func(r *Rule) { r.ID = "" },
		"bad id":               func(r *Rule) { r.ID = "Temp High" },
		"no name":              func(r *Rule) { r.Name = "" },
		"bad priority":         func(r *Rule) { r.Priority = "urgent" },
		"bad category":         func(r *Rule) { r.Category = "x" },
		"bad team":             func(r *Rule) { r.Team = "x" },
		"bad metric":           func(r *Rule) { r.Metric = "x" },
		"bad condition":        func(r *Rule) { r.Condition = "x" },
		"nan limit":            func(r *Rule) { r.Limit = inf - inf },
		"inverted band":        func(r *Rule) { r.Condition, r.Low, r.High = Outside, 5, 2 },
		"wide deadband":        func(r *Rule) { r.Condition, r.Low, r.High, r.Deadband = Outside, 2, 3, 0.6 },
		"negative deadband":    func(r *Rule) { r.Deadband = -1 },
		"negative delay":       func(r *Rule) { r.Delay = -1 },
		"huge delay":           func(r *Rule) { r.Delay = MaxDelay + 1 },
		"bad mode":             func(r *Rule) { r.DelayMode = "x" },
		"cumulative no window": func(r *Rule) { r.DelayMode = Cumulative },
		"window < delay":       func(r *Rule) { r.DelayMode, r.Delay, r.Window = Cumulative, time.Hour, time.Minute },
		"window continuous":    func(r *Rule) { r.Window = time.Hour },
		"min clear":            func(r *Rule) { r.MinClear = -1 },
		"average":              func(r *Rule) { r.Average = 2 * time.Hour },
	} {
		r := ok
		mut(&r)
		if err := r.Validate(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestConditions checks the raise and clear sides of every condition.
func TestConditions(t *testing.T) {
	for _, tc := range []struct {
		r              Rule
		v              float64
		met, clearedTo bool
	}{
		{Rule{Condition: Above, Limit: 8, Deadband: 0.3}, 8, false, false},
		{Rule{Condition: Above, Limit: 8, Deadband: 0.3}, 8.01, true, false},
		{Rule{Condition: Above, Limit: 8, Deadband: 0.3}, 7.7, false, true},
		{Rule{Condition: AtOrAbove, Limit: 8}, 8, true, false},
		{Rule{Condition: AtOrAbove, Limit: 8}, 7.99, false, true},
		{Rule{Condition: Below, Limit: 2, Deadband: 0.3}, 2, false, false},
		{Rule{Condition: Below, Limit: 2, Deadband: 0.3}, 2.3, false, true},
		{Rule{Condition: AtOrBelow, Limit: 0}, 0, true, false},
		{Rule{Condition: AtOrBelow, Limit: 0, Deadband: 0.3}, 0.2, false, false},
		{Rule{Condition: Outside, Low: -7.5, High: -2.5, Deadband: 0.5}, -2.4, true, false},
		{Rule{Condition: Outside, Low: -7.5, High: -2.5, Deadband: 0.5}, -2.7, false, false},
		{Rule{Condition: Outside, Low: -7.5, High: -2.5, Deadband: 0.5}, -3, false, true},
		{Rule{Condition: Outside, Low: -7.5, High: -2.5, Deadband: 0.5}, -7.6, true, false},
	} {
		if m, c := tc.r.met(tc.v), tc.r.cleared(tc.v); m != tc.met || c != tc.clearedTo {
			t.Errorf("%s %g/%g/%g db %g at %g: met %v cleared %v", tc.r.Condition, tc.r.Limit, tc.r.Low, tc.r.High, tc.r.Deadband, tc.v, m, c)
		}
	}
}
