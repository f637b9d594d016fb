package alerts

import (
	"fmt"
	"math"
	"time"
)

// track is the state of one threshold rule on one sensor.
type track struct {
	rule   Rule
	sensor *sensorState
	key    Key

	have  bool      // a value has been judged
	lastT time.Time // when
	lastV float64   // the (averaged) value judged

	active      bool
	suppression Suppression // as last reported for the active alert

	// The current run of the condition (pending or active): when it began
	// and its extremes.
	since        time.Time
	peak, trough float64

	// clearSince is when values entered the clear zone while active; zero
	// when they are not in it.
	clearSince time.Time

	// Cumulative delay: closed spans of time the condition held, and the
	// start of the open one (zero: none).
	spans     []span
	openStart time.Time
}

type span struct{ start, end time.Time }

// heldUntil is how far the last value stands toward to (see
// sensorState.standsUntil).
func (tr *track) heldUntil(to time.Time) time.Time { return tr.sensor.standsUntil(tr.lastT, to) }

// advance lets time run to `to` on the last value: a pending delay or a
// minimum clear time that runs out before `to` (and before the value's hold
// time ends) raises or clears the alert at the instant it ran out.
func (e *Evaluator) advance(tr *track, to time.Time, out *Output) {
	if !tr.have || !to.After(tr.lastT) {
		return
	}
	held := tr.heldUntil(to)
	if !tr.active {
		if !tr.rule.met(tr.lastV) {
			return
		}
		switch tr.rule.Mode() {
		case Continuous:
			if due := tr.since.Add(tr.rule.Delay); !due.After(held) {
				e.raiseTrack(tr, due, out)
			}
		case Cumulative:
			if at, ok := tr.crossing(tr.lastT, held); ok {
				e.raiseTrack(tr, at, out)
			}
		}
		return
	}
	if !tr.clearSince.IsZero() {
		if due := tr.clearSince.Add(tr.rule.MinClear); !due.After(held) {
			e.clearTrack(tr, due, "", out)
		}
	}
}

// apply judges value v read at t (after advance(t)).
func (e *Evaluator) apply(tr *track, t time.Time, v float64, out *Output) {
	gap := !tr.have || tr.sensor.brokeSince(tr.lastT)
	wasMet := tr.have && !gap && tr.rule.met(tr.lastV)
	met := tr.rule.met(v)
	cum := tr.rule.Mode() == Cumulative

	// Close the open cumulative span where the last value stopped standing.
	if cum && !tr.openStart.IsZero() && (!met || gap) {
		tr.spans = append(tr.spans, span{tr.openStart, tr.heldUntil(t)})
		tr.openStart = time.Time{}
	}
	tr.have, tr.lastT, tr.lastV = true, t, v

	if !tr.active {
		switch {
		case met && !wasMet && !cum:
			tr.since, tr.peak, tr.trough = t, v, v
		case met && cum && tr.openStart.IsZero():
			tr.openStart = t
			if len(tr.spans) == 0 {
				tr.peak, tr.trough = v, v
			}
		}
		if met {
			tr.peak, tr.trough = math.Max(tr.peak, v), math.Min(tr.trough, v)
		}
		if cum {
			tr.prune(t)
			if met && tr.total(t) >= tr.rule.Delay {
				e.raiseTrack(tr, t, out)
			}
			return
		}
		if met && !tr.since.Add(tr.rule.Delay).After(t) {
			e.raiseTrack(tr, t, out)
		}
		return
	}

	// Active: extremes run on (from this value when none is known: a
	// resumed tag alert); the alert clears after MinClear in the clear zone.
	if math.IsNaN(tr.peak) {
		tr.peak, tr.trough = v, v
	}
	tr.peak, tr.trough = math.Max(tr.peak, v), math.Min(tr.trough, v)
	if !tr.rule.cleared(v) {
		tr.clearSince = time.Time{}
		return
	}
	if tr.clearSince.IsZero() || gap {
		tr.clearSince = t
	}
	if due := tr.clearSince.Add(tr.rule.MinClear); !due.After(t) {
		e.clearTrack(tr, due, "", out)
	}
}

// prune drops cumulative spans that ended before the window at now.
func (tr *track) prune(now time.Time) {
	from := now.Add(-tr.rule.Window)
	i := 0
	for i < len(tr.spans) && tr.spans[i].end.Before(from) {
		i++
	}
	if i > 0 {
		tr.spans = append(tr.spans[:0], tr.spans[i:]...)
	}
	switch {
	case len(tr.spans) > 0:
		tr.since = tr.spans[0].start
	case !tr.openStart.IsZero():
		tr.since = tr.openStart
	default:
		tr.since = time.Time{}
	}
}

// total is how long the condition held within the window ending at τ,
// counting the open span up to where the last value stops standing.
func (tr *track) total(τ time.Time) time.Duration {
	from := τ.Add(-tr.rule.Window)
	var sum time.Duration
	add := func(s, e time.Time) {
		if s.Before(from) {
			s = from
		}
		if e.After(τ) {
			e = τ
		}
		if e.After(s) {
			sum += e.Sub(s)
		}
	}
	for _, s := range tr.spans {
		add(s.start, s.end)
	}
	if !tr.openStart.IsZero() {
		add(tr.openStart, tr.heldUntil(τ))
	}
	return sum
}

// crossing finds the first instant in (from, to] at which the cumulative
// total reaches the delay. While the condition holds the total cannot fall
// (the open span grows as fast as anything can slide out of the window), so
// a bisection to the millisecond finds it.
func (tr *track) crossing(from, to time.Time) (time.Time, bool) {
	if tr.openStart.IsZero() || tr.total(to) < tr.rule.Delay {
		return time.Time{}, false
	}
	lo, hi := from, to
	for hi.Sub(lo) > time.Millisecond {
		mid := lo.Add(hi.Sub(lo) / 2)
		if tr.total(mid) >= tr.rule.Delay {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, true
}

// raiseTrack raises tr's alert at `at`.
func (e *Evaluator) raiseTrack(tr *track, at time.Time, out *Output) {
	st := tr.sensor
	tr.active = true
	tr.clearSince = time.Time{}
	tr.suppression = e.suppressionFor(st, tr.rule, at)
	r := tr.rule
	if st.tag != nil && !e.tagRaised(tr) {
		return // the asset's alert is active already, raised by another of its tags
	}
	var msg string
	switch {
	case r.Delay == 0:
		msg = fmt.Sprintf("%s: %s (%s)", st.label(), r.Name, unitText(r.Metric, tr.lastV))
	case r.Mode() == Cumulative:
		msg = fmt.Sprintf("%s: %s for %s in total within %s (now %s)", st.label(), r.Name,
			fmtDuration(r.Delay), fmtDuration(r.Window), unitText(r.Metric, tr.lastV))
	default:
		msg = fmt.Sprintf("%s: %s for %s (now %s)", st.label(), r.Name, fmtDuration(r.Delay), unitText(r.Metric, tr.lastV))
	}
	c := e.change(ChangeRaise, r, st, tr.key, at, tr.since, msg)
	c.Value, c.Peak, c.Trough = tr.lastV, tr.peak, tr.trough
	c.Suppression = tr.suppression
	out.Changes = append(out.Changes, c)
	if r.Latched {
		for _, acc := range st.exc {
			if acc.rng.Metric == r.Metric && acc.alarm(r.ID) {
				out.Excursions = append(out.Excursions, acc.snapshot())
			}
		}
	}
}

// clearTrack clears tr's alert at `at`; why, when not empty, says why it
// cleared other than by its values (a rule change).
func (e *Evaluator) clearTrack(tr *track, at time.Time, why string, out *Output) {
	st := tr.sensor
	r := tr.rule
	if st.tag == nil || e.tagCleared(tr) { // a tag: the last of the asset's tags to clear
		msg := fmt.Sprintf("%s: %s cleared (now %s)", st.label(), r.Name, unitText(r.Metric, tr.lastV))
		if !tr.have {
			msg = fmt.Sprintf("%s: %s cleared", st.label(), r.Name)
		}
		if why != "" {
			msg = fmt.Sprintf("%s: %s cleared: %s", st.label(), r.Name, why)
		}
		since := tr.clearSince
		if since.IsZero() {
			since = at
		}
		c := e.change(ChangeClear, r, st, tr.key, at, since, msg)
		c.Value, c.Peak, c.Trough = tr.lastV, tr.peak, tr.trough
		if !tr.have {
			c.Value = math.NaN()
		}
		out.Changes = append(out.Changes, c)
	}
	tr.active = false
	tr.suppression = Suppression{}
	tr.clearSince, tr.since = time.Time{}, time.Time{}
	tr.spans, tr.openStart = nil, time.Time{}
	tr.peak, tr.trough = math.NaN(), math.NaN()
}

// change builds a Change of st's for rule r.
func (e *Evaluator) change(typ ChangeType, r Rule, st *sensorState, key Key, at, since time.Time, msg string) Change {
	team := r.Team
	var unitID int64
	if st.unit != nil {
		unitID = st.unit.ID
		if team == "" {
			team = st.unit.team
		}
	}
	name := st.label()
	if st.tag != nil {
		name = st.tag.name()
		if team == "" {
			team = TeamBiomed
		}
	}
	return newChange(typ, r, key, team, unitID, name, at, since, msg)
}

// fmtDuration prints d the way staff say it: "90 s", "15 min", "1 h 30 min",
// "7 d".
func fmtDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		if d%time.Minute != 0 {
			return fmt.Sprintf("%d min %d s", int(d.Minutes()), int((d % time.Minute).Seconds()))
		}
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 24*time.Hour:
		if m := (d % time.Hour) / time.Minute; m != 0 {
			return fmt.Sprintf("%d h %d min", int(d.Hours()), m)
		}
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	if h := (d % (24 * time.Hour)) / time.Hour; h != 0 {
		return fmt.Sprintf("%d d %d h", int(d.Hours()/24), h)
	}
	return fmt.Sprintf("%d d", int(d.Hours()/24))
}
