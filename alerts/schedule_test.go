package alerts

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func TestParseTimesOfDay(t *testing.T) {
	h := func(hh, mm int) time.Duration { return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute }
	good := []struct {
		in   string
		want []time.Duration
	}{
		{"02:00,08:00,14:00,20:00", []time.Duration{h(2, 0), h(8, 0), h(14, 0), h(20, 0)}},
		{" 20:00, 2:00 ;14:00\t08:00 ", []time.Duration{h(2, 0), h(8, 0), h(14, 0), h(20, 0)}},
		{"00:00", []time.Duration{0}},
		{"23:59", []time.Duration{h(23, 59)}},
	}
	for _, g := range good {
		got, err := ParseTimesOfDay(g.in)
		if err != nil || !reflect.DeepEqual(got, g.want) {
			t.Errorf("ParseTimesOfDay(%q) = %v, %v; want %v", g.in, got, err, g.want)
		}
		if back, err := ParseTimesOfDay(FormatTimesOfDay(got, ",")); err != nil || !reflect.DeepEqual(back, got) {
			t.Errorf("%q does not round-trip: %v, %v", g.in, back, err)
		}
	}
	bad := map[string]string{
		"":                           "Give the start times",
		" , ":                        "Give the start times",
		"24:00":                      "not a time of day",
		"12:60":                      "not a time of day",
		"1200":                       "not a time of day",
		"-1:00":                      "not a time of day",
		"12:5":                       "not a time of day",
		"+1:00":                      "not a time of day",
		"٣:00":                       "not a time of day",
		"08:00, 8:00":                "given twice",
		strings.Repeat("01:00,", 13): "At most 12",
		strings.Repeat("x", 300):     "At most 12",
	}
	for in, want := range bad {
		_, err := ParseTimesOfDay(in)
		if wardwatch.ErrorCode(err) != wardwatch.EINVALID || !strings.Contains(wardwatch.ErrorMessage(err), want) {
			t.Errorf("ParseTimesOfDay(%q) = %v, want EINVALID with %q", in, err, want)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	four := []time.Duration{2 * time.Hour, 8 * time.Hour, 14 * time.Hour, 20 * time.Hour}
	ok := Schedule{UnitID: 1, Kind: SuppressDefrost, Times: four, Duration: 45 * time.Minute}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid schedule: %v", err)
	}
	many := make([]time.Duration, 13)
	for i := range many {
		many[i] = time.Duration(i) * time.Hour
	}
	bad := map[string]Schedule{
		"no unit":          {Kind: SuppressDefrost, Times: four, Duration: time.Minute},
		"out of service":   {UnitID: 1, Kind: SuppressOutOfService, Times: four, Duration: time.Minute},
		"design":           {UnitID: 1, Kind: SuppressDesign, Times: four, Duration: time.Minute},
		"no times":         {UnitID: 1, Kind: SuppressDefrost, Duration: time.Minute},
		"13 times":         {UnitID: 1, Kind: SuppressDefrost, Times: many, Duration: time.Minute},
		"zero duration":    {UnitID: 1, Kind: SuppressDefrost, Times: four},
		"seconds":          {UnitID: 1, Kind: SuppressDefrost, Times: four, Duration: 90 * time.Second},
		"gap":              {UnitID: 1, Kind: SuppressDefrost, Times: four, Duration: 6 * time.Hour},
		"midnight gap":     {UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{time.Hour, 23 * time.Hour}, Duration: 2 * time.Hour},
		"all day":          {UnitID: 1, Kind: SuppressMaintenance, Times: []time.Duration{0}, Duration: 24 * time.Hour},
		"over a day":       {UnitID: 1, Kind: SuppressMaintenance, Times: []time.Duration{0}, Duration: 25 * time.Hour},
		"24:00":            {UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{24 * time.Hour}, Duration: time.Minute},
		"negative":         {UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{-time.Minute}, Duration: time.Minute},
		"start not minute": {UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{time.Second}, Duration: time.Minute},
		"twice":            {UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{time.Hour, time.Hour}, Duration: time.Minute},
	}
	for name, s := range bad {
		if err := s.Validate(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: Validate = %v, want EINVALID", name, err)
		}
	}
	// Just under the gap is fine, across midnight too.
	edge := Schedule{UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{time.Hour, 23 * time.Hour}, Duration: 2*time.Hour - time.Minute}
	if err := edge.Validate(); err != nil {
		t.Errorf("edge: %v", err)
	}
	one := Schedule{UnitID: 1, Kind: SuppressMaintenance, Times: []time.Duration{0}, Duration: 24*time.Hour - time.Minute}
	if err := one.Validate(); err != nil {
		t.Errorf("one start: %v", err)
	}
}

// TestScheduleActiveAt: a 23:30 defrost of 45 minutes in Paris covers
// 00:10 the next day, and a clock change does not move the local start.
func TestScheduleActiveAt(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no tz data: %v", err)
	}
	s := Schedule{UnitID: 1, Kind: SuppressDefrost, Times: []time.Duration{2 * time.Hour, 23*time.Hour + 30*time.Minute}, Duration: 45 * time.Minute, Location: paris}
	cases := []struct {
		at        time.Time
		ok        bool
		wantStart time.Time
	}{
		{time.Date(2026, 3, 2, 0, 10, 0, 0, paris), true, time.Date(2026, 3, 1, 23, 30, 0, 0, paris)},
		{time.Date(2026, 3, 2, 0, 15, 0, 0, paris), false, time.Time{}},
		{time.Date(2026, 3, 2, 2, 0, 0, 0, paris), true, time.Date(2026, 3, 2, 2, 0, 0, 0, paris)},
		{time.Date(2026, 3, 2, 2, 45, 0, 0, paris), false, time.Time{}},
		{time.Date(2026, 7, 2, 2, 44, 0, 0, paris), true, time.Date(2026, 7, 2, 2, 0, 0, 0, paris)}, // summer time
		{time.Date(2026, 7, 2, 0, 30, 0, 0, time.UTC), true, time.Date(2026, 7, 2, 2, 0, 0, 0, paris)},
	}
	for _, c := range cases {
		start, end, ok := s.ActiveAt(c.at)
		if ok != c.ok || (ok && (!start.Equal(c.wantStart) || !end.Equal(c.wantStart.Add(45*time.Minute)))) {
			t.Errorf("ActiveAt(%s) = %s, %s, %v; want %v from %s", c.at, start, end, ok, c.ok, c.wantStart)
		}
	}
}

func FuzzParseTimesOfDay(f *testing.F) {
	for _, s := range []string{"02:00,08:00,14:00,20:00", "2:00 14:30", "", "24:00", "08:00,8:00", "9:99", "00:00;23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimesOfDay(s)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if len(ts) == 0 || len(ts) > MaxScheduleTimes {
			t.Fatalf("%d times", len(ts))
		}
		back, err := ParseTimesOfDay(FormatTimesOfDay(ts, ", "))
		if err != nil || !reflect.DeepEqual(back, ts) {
			t.Fatalf("%q → %v does not round-trip: %v, %v", s, ts, back, err)
		}
		// Such a list with a one-minute window is valid unless two starts
		// are a minute apart.
		err = (Schedule{UnitID: 1, Kind: SuppressDefrost, Times: ts, Duration: time.Minute}).Validate()
		if err != nil && !strings.Contains(wardwatch.ErrorMessage(err), "not shorter than the 1m") {
			t.Fatalf("%v: %v", ts, err)
		}
	})
}

// TestRaiseAfterScheduledWindowSounds: a latched alert raised during a
// defrost and cleared before the defrost ended keeps its suppression while
// inactive; a raise after the window (which carries no suppression) must
// sound, not inherit the ended defrost.
func TestRaiseAfterScheduledWindowSounds(t *testing.T) {
	b, err := NewBook(BookConfig{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defrost := Suppression{Kind: SuppressDefrost, Reason: "Scheduled defrost", By: "fac", Until: at(45 * time.Minute)}
	c := change(ChangeRaise, tempRule, 20*time.Minute, 11)
	c.Suppression = defrost
	if a, _, err := b.Apply(c); err != nil || a.State != StateSuppressed || !a.AnnunciatedAt.IsZero() {
		t.Fatalf("raise during the defrost: %s, annunciated %s, %v", a.State, a.AnnunciatedAt, err)
	}
	if a, _, err := b.Apply(change(ChangeClear, tempRule, 40*time.Minute, 5)); err != nil || a.Active || a.Closed() {
		t.Fatalf("clear during the defrost: %+v, %v", a, err)
	}
	a, _, err := b.Apply(change(ChangeRaise, tempRule, 8*time.Hour, 11))
	if err != nil || a.State == StateSuppressed || !a.Suppression.IsZero() || !a.AnnunciatedAt.Equal(at(8*time.Hour)) {
		t.Fatalf("raise after the defrost: state %s, suppression %+v, annunciated %s, %v", a.State, a.Suppression, a.AnnunciatedAt, err)
	}
	// A raise inside the next cycle is suppressed by it again.
	b.Apply(change(ChangeClear, tempRule, 9*time.Hour, 5))
	c = change(ChangeRaise, tempRule, 12*time.Hour, 11)
	c.Suppression = defrost
	if a, _, _ := b.Apply(c); a.Suppression.Kind != SuppressDefrost {
		t.Errorf("raise in the next cycle: %+v", a.Suppression)
	}
}
