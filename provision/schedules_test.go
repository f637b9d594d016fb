package provision_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/provision"
)

const scheduleSite = `version: 1
units:
  - name: Fridge 1
    profile: vaccine_fridge
    schedules:
      - {kind: defrost, times: ["20:00", "2:00", "14:00", "08:00"], duration: 45m0s, reason: Frost-free defrost}
      - {kind: maintenance, times: ["23:30"], duration: 90m, by: biomed1}
  - name: Fridge 2
    profile: pharmacy_fridge
    schedules:
      - {kind: defrost, times: ["04:00"], duration: 30m}
`

// TestSchedules applies units with daily schedules (times and durations
// normalised), exports them back as a fixed point, updates one, and
// deletes the unlisted ones only with -prune.
func TestSchedules(t *testing.T) {
	s := openSQLite(t)
	ctx := t.Context()
	p := apply(t, s, []byte(scheduleSite), options(false))
	text := planText(t, p)
	for _, want := range []string{"unit schedule Fridge 1 defrost at 02:00, 08:00, 14:00, 20:00", "unit schedule Fridge 1 maintenance at 23:30",
		"unit schedule Fridge 2 defrost at 04:00"} {
		if !strings.Contains(text, want) {
			t.Errorf("plan lacks %q:\n%s", want, text)
		}
	}
	ss, err := s.UnitSchedules(ctx)
	if err != nil || len(ss) != 3 {
		t.Fatalf("stored: %+v, %v", ss, err)
	}
	d := ss[0]
	if d.Kind != alerts.SuppressDefrost || d.Duration != 45*time.Minute || len(d.Times) != 4 || d.Times[0] != 2*time.Hour ||
		d.By != provision.AuditUser || d.Reason != "Frost-free defrost" || !d.Created.Equal(testNow) {
		t.Errorf("stored defrost: %+v", d)
	}
	if ss[1].By != "biomed1" || ss[1].Duration != 90*time.Minute {
		t.Errorf("stored maintenance: %+v", ss[1])
	}
	out := export(t, s)
	for _, want := range []string{`times: ["02:00", "08:00", "14:00", "20:00"]`, "duration: 45m\n", "duration: 1h30m\n", "by: biomed1"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("export lacks %q:\n%s", want, out)
		}
	}
	for _, data := range [][]byte{[]byte(scheduleSite), out} {
		if p := planOf(t, s, data, options(true)); !p.Empty() {
			t.Fatalf("applying again would change:\n%s", planText(t, p))
		}
	}

	// A longer defrost is an update; Fridge 1's maintenance and Fridge 2's
	// schedule are not listed: left alone, then pruned.
	changed := []byte(`version: 1
units:
  - name: Fridge 1
    profile: vaccine_fridge
    schedules:
      - {kind: defrost, times: ["02:00", "08:00", "14:00", "20:00"], duration: 1h, reason: Frost-free defrost}
  - name: Fridge 2
    profile: pharmacy_fridge
`)
	p = apply(t, s, changed, options(false))
	if text := planText(t, p); len(p.Changes) != 1 || !strings.Contains(text, "duration") {
		t.Fatalf("update plan:\n%s", text)
	}
	if ss, _ := s.UnitSchedules(ctx); len(ss) != 3 || ss[0].ID != d.ID || ss[0].Duration != time.Hour || !ss[0].Created.Equal(d.Created) {
		t.Fatalf("after update: %+v", ss)
	}
	p = apply(t, s, changed, options(true))
	if text := planText(t, p); len(p.Changes) != 2 || strings.Count(text, "delete unit schedule") != 2 {
		t.Fatalf("prune plan:\n%s", text)
	}
	if ss, _ := s.UnitSchedules(ctx); len(ss) != 1 {
		t.Fatalf("after prune: %+v", ss)
	}
	// Pruning a unit takes its schedules first.
	p = apply(t, s, []byte("version: 1\nunits:\n  - {name: Fridge 2, profile: pharmacy_fridge}\n"), options(true))
	if text := planText(t, p); !strings.Contains(text, "delete unit schedule Fridge 1") || !strings.Contains(text, "delete unit Fridge 1") {
		t.Fatalf("unit prune plan:\n%s", text)
	}
	if ss, _ := s.UnitSchedules(ctx); len(ss) != 0 {
		t.Fatalf("after pruning the unit: %+v", ss)
	}
}

// TestScheduleErrors: bad schedules are refused with the unit's line
// before anything is written.
func TestScheduleErrors(t *testing.T) {
	for _, tc := range []struct{ schedule, want string }{
		{`{kind: out_of_service, times: ["02:00"], duration: 30m}`, "defrost or a maintenance"},
		{`{kind: defrost, times: ["24:00"], duration: 30m}`, `"24:00" is not one time of day`},
		{`{kind: defrost, times: ["02:00, 03:00"], duration: 30m}`, "is not one time of day"},
		{`{kind: defrost, times: [], duration: 30m}`, "at least one start time"},
		{`{kind: defrost, times: ["02:00", "03:00"], duration: 1h}`, "must end before the next one starts"},
		{`{kind: defrost, times: ["02:00"], duration: 24h}`, "not shorter than the 24h"},
		{`{kind: defrost, times: ["02:00"], duration: 90s}`, "whole minutes"},
		{`{kind: defrost, times: ["02:00"], duration: soon}`, `duration "soon"`},
		{`{kind: defrost, times: ["02:00", "2:00"], duration: 30m}`, "given twice"},
	} {
		file := "version: 1\nunits:\n  - name: Fridge 1\n    profile: vaccine_fridge\n    schedules:\n      - " + tc.schedule + "\n"
		_, err := provision.Parse("site.yaml", []byte(file))
		if err == nil || !strings.Contains(wardwatch.ErrorMessage(err), "site.yaml:3: unit \"Fridge 1\", schedule 1: ") ||
			!strings.Contains(wardwatch.ErrorMessage(err), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.schedule, err, tc.want)
		}
	}
	twice := "version: 1\nunits:\n  - name: Fridge 1\n    profile: vaccine_fridge\n    schedules:\n" +
		"      - {kind: defrost, times: [\"02:00\"], duration: 30m}\n      - {kind: defrost, times: [\"2:00\"], duration: 20m}\n"
	if _, err := provision.Parse("site.yaml", []byte(twice)); err == nil || !strings.Contains(wardwatch.ErrorMessage(err), "twice") {
		t.Errorf("the same schedule twice: %v", err)
	}
}
