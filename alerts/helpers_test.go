package alerts

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// t0 is the start of every recorded sequence: a Monday morning.
var t0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// at is t0 plus d.
func at(d time.Duration) time.Time { return t0.Add(d) }

// series returns readings of one sensor and metric every step from start,
// one per value.
func series(sensor string, m wardwatch.Metric, start, step time.Duration, values ...float64) []wardwatch.Reading {
	rs := make([]wardwatch.Reading, len(values))
	for i, v := range values {
		rs[i] = wardwatch.Reading{Time: at(start + time.Duration(i)*step), SensorID: sensor, Metric: m, Value: v}
	}
	return rs
}

// repeat returns v n times.
func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// join concatenates value runs.
func join(runs ...[]float64) []float64 { return slices.Concat(runs...) }

// run feeds readings to e in time order, ticking every tick (0: never)
// between them and up to end, and returns everything it produced.
func run(t *testing.T, e *Evaluator, rs []wardwatch.Reading, tick time.Duration, end time.Time) Output {
	t.Helper()
	var all Output
	add := func(o Output) {
		all.Changes = append(all.Changes, o.Changes...)
		all.Excursions = append(all.Excursions, o.Excursions...)
	}
	slices.SortStableFunc(rs, func(a, b wardwatch.Reading) int { return a.Time.Compare(b.Time) })
	next := t0
	for _, r := range rs {
		for tick > 0 && next.Before(r.Time) {
			add(e.Tick(next))
			next = next.Add(tick)
		}
		o, err := e.Observe(r)
		if err != nil {
			t.Fatalf("Observe(%v): %v", r, err)
		}
		add(o)
	}
	for tick > 0 && !next.After(end) {
		add(e.Tick(next))
		next = next.Add(tick)
	}
	return all
}

// brief summarises changes as "type rule@subject +offset [suppression]".
func brief(cs []Change) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		s := fmt.Sprintf("%s %s +%s", c.Type, c.Key, c.Time.Sub(t0))
		if !c.Suppression.IsZero() {
			s += " [" + string(c.Suppression.Kind) + "]"
		}
		out = append(out, s)
	}
	return out
}

// only keeps changes of the given rules.
func only(cs []Change, rules ...string) []Change {
	var out []Change
	for _, c := range cs {
		if slices.Contains(rules, c.Key.Rule) {
			out = append(out, c)
		}
	}
	return out
}

func diff(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %s\n want %s", what, strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
}

// mustEvaluator builds an evaluator over one unit with one sensor.
func mustEvaluator(t *testing.T, u Unit, s Sensor) *Evaluator {
	t.Helper()
	if u.ID == 0 {
		u.ID = 1
	}
	if u.Name == "" {
		u.Name = "Unit"
	}
	s.UnitID = u.ID
	e, err := NewEvaluator(Config{Units: []Unit{u}, Sensors: []Sensor{s}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}
