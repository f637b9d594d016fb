package alerts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Limits of a daily schedule (domain-requirements §1.5 defrost cycles: a
// frost-free fridge defrosts a few times a day for tens of minutes).
const (
	// MaxScheduleTimes is the most starts a schedule has in a day.
	MaxScheduleTimes = 12
	// maxTimesText bounds the text ParseTimesOfDay reads.
	maxTimesText = 200
)

// ParseTimesOfDay reads start times of day as a person types them,
// "02:00, 08:00 14:00,20:00" (24-hour H:MM or HH:MM, separated by commas or
// spaces), as offsets from midnight in ascending order. It refuses an
// empty list, more than MaxScheduleTimes times, a time twice and anything
// not a time of day from 00:00 to 23:59 (EINVALID).
func ParseTimesOfDay(s string) ([]time.Duration, error) {
	if len(s) > maxTimesText {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "At most %d start times, such as 02:00, 08:00, 14:00, 20:00.", MaxScheduleTimes)
	}
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	switch {
	case len(fields) == 0:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Give the start times of day, such as 02:00, 08:00, 14:00, 20:00.")
	case len(fields) > MaxScheduleTimes:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "At most %d start times a day.", MaxScheduleTimes)
	}
	out := make([]time.Duration, 0, len(fields))
	for _, f := range fields {
		t, ok := parseTimeOfDay(f)
		if !ok {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "%q is not a time of day from 00:00 to 23:59.", clipText(f, 20))
		}
		if slices.Contains(out, t) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "%s is given twice.", TimeOfDay(t))
		}
		out = append(out, t)
	}
	slices.Sort(out)
	return out, nil
}

func parseTimeOfDay(s string) (time.Duration, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 {
		return 0, false
	}
	for _, r := range h + m {
		if r < '0' || r > '9' {
			return 0, false
		}
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

func clipText(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// TimeOfDay prints an offset from midnight as "HH:MM".
func TimeOfDay(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// FormatTimesOfDay prints start times as ParseTimesOfDay reads them,
// separated by sep: "02:00,08:00" with ",".
func FormatTimesOfDay(ts []time.Duration, sep string) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = TimeOfDay(t)
	}
	return strings.Join(parts, sep)
}

// Validate checks a schedule as it may be stored: a unit, a defrost or
// maintenance kind, 1 to MaxScheduleTimes distinct starts from 00:00 to
// 23:59 in whole minutes, and a duration of whole minutes, at least one,
// shorter than the gap between two consecutive starts (across midnight too,
// so a single start runs less than 24 h): the unit is never suppressed all
// day. Errors are EINVALID.
func (s Schedule) Validate() error {
	switch {
	case s.UnitID <= 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A schedule needs its unit.")
	case s.Kind != SuppressDefrost && s.Kind != SuppressMaintenance:
		return wardwatch.Errorf(wardwatch.EINVALID, "A schedule is a defrost or a maintenance schedule.")
	case len(s.Times) == 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A schedule needs at least one start time.")
	case len(s.Times) > MaxScheduleTimes:
		return wardwatch.Errorf(wardwatch.EINVALID, "A schedule has at most %d start times a day.", MaxScheduleTimes)
	case s.Duration < time.Minute || s.Duration%time.Minute != 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A scheduled window lasts whole minutes, at least one.")
	case s.Duration > 24*time.Hour:
		return wardwatch.Errorf(wardwatch.EINVALID, "A scheduled window lasts at most 24 h.")
	}
	ts := slices.Clone(s.Times)
	slices.Sort(ts)
	for i, t := range ts {
		if t < 0 || t >= 24*time.Hour || t%time.Minute != 0 {
			return wardwatch.Errorf(wardwatch.EINVALID, "A scheduled start is a time of day from 00:00 to 23:59.")
		}
		if i > 0 && ts[i-1] == t {
			return wardwatch.Errorf(wardwatch.EINVALID, "%s is given twice.", TimeOfDay(t))
		}
	}
	gap := ts[0] + 24*time.Hour - ts[len(ts)-1] // across midnight
	for i := 1; i < len(ts); i++ {
		gap = min(gap, ts[i]-ts[i-1])
	}
	if s.Duration >= gap {
		return wardwatch.Errorf(wardwatch.EINVALID, "Each window must end before the next one starts: %s is not shorter than the %s between two starts.",
			shortDuration(s.Duration), shortDuration(gap))
	}
	return nil
}

// shortDuration prints whole-minute durations as "45m" or "6h" or "1h30m".
func shortDuration(d time.Duration) string {
	s := d.String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ActiveAt returns the occurrence of the schedule that contains at (start
// inclusive, end exclusive) in the schedule's location (nil: UTC). An
// occurrence may have started the day before and run past midnight.
func (s Schedule) ActiveAt(at time.Time) (start, end time.Time, ok bool) {
	loc := s.Location
	if loc == nil {
		loc = time.UTC
	}
	local := at.In(loc)
	for _, back := range []int{0, -1} {
		y, m, d := local.AddDate(0, 0, back).Date()
		for _, off := range s.Times {
			start := time.Date(y, m, d, int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second), 0, loc)
			end := start.Add(s.Duration)
			if !at.Before(start) && at.Before(end) {
				return start, end, true
			}
		}
	}
	return time.Time{}, time.Time{}, false
}
