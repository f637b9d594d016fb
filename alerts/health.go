package alerts

import (
	"fmt"
	"math"
	"time"

	"github.com/wardwatch/wardwatch"
)

// newChange builds a change with no values (NaN).
func newChange(typ ChangeType, r Rule, key Key, team Team, unitID int64, name string, at, since time.Time, msg string) Change {
	if team == "" {
		team = r.Team
	}
	if team == "" {
		team = TeamFacilities
	}
	return Change{Type: typ, Key: key, Rule: r, Priority: r.Priority, Team: team, UnitID: unitID,
		SubjectName: name, Time: at, Since: since, Message: msg,
		Value: math.NaN(), Peak: math.NaN(), Trough: math.NaN()}
}

// raiseFlag raises one of st's built-in alerts.
func (e *Evaluator) raiseFlag(st *sensorState, fl *flag, ruleID string, at, since time.Time, v float64, msg string, out *Output) {
	r := e.builtins[ruleID]
	fl.active = true
	fl.suppression = e.suppressionFor(st, r, at)
	c := e.change(ChangeRaise, r, st, Key{Rule: r.ID, Subject: Subject{Kind: SubjectSensor, ID: st.ID}}, at, since, msg)
	c.Value, c.Peak, c.Trough = v, v, v
	c.Suppression = fl.suppression
	out.Changes = append(out.Changes, c)
}

// clearFlag clears one of st's built-in alerts.
func (e *Evaluator) clearFlag(st *sensorState, fl *flag, ruleID string, at time.Time, why string, out *Output) {
	r := e.builtins[ruleID]
	fl.active = false
	fl.suppression = Suppression{}
	msg := fmt.Sprintf("%s: %s cleared: %s", st.label(), r.Name, why)
	out.Changes = append(out.Changes, e.change(ChangeClear, r, st, Key{Rule: r.ID, Subject: Subject{Kind: SubjectSensor, ID: st.ID}}, at, at, msg))
}

// checkSilence raises st's no-data alert once it has been silent for its
// threshold (2 intervals, at most SilentAfter). Its clock starts at the last
// reading, at configuration, or when its parent came back online, whichever
// is latest.
func (e *Evaluator) checkSilence(st *sensorState, now time.Time, out *Output) {
	base := st.lastSeen
	if st.baseline.After(base) {
		base = st.baseline
	}
	if ps := e.parents[st.Parent]; ps != nil && !st.Parent.IsZero() && ps.backAt.After(base) {
		base = ps.backAt
	}
	due := base.Add(st.hold)
	silent := !now.Before(due)
	switch {
	case silent && !st.silent.active:
		msg := fmt.Sprintf("%s: no data for %s (last reading %s)", st.label(), fmtDuration(st.hold), lastSeenText(st.lastSeen))
		e.raiseFlag(st, &st.silent, RuleSensorSilent, due, base, math.NaN(), msg, out)
	case !silent && st.silent.active:
		e.clearFlag(st, &st.silent, RuleSensorSilent, now, "silence clock restarted", out)
	}
}

func lastSeenText(t time.Time) string {
	if t.IsZero() {
		return "none since monitoring began"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// checkCalibration raises the calibration warning DefaultCalibrationWarn
// before the due date and the expiry alert on it; a new due date clears
// them.
func (e *Evaluator) checkCalibration(st *sensorState, now time.Time, out *Output) {
	due := st.CalibrationDue
	if due.IsZero() {
		if st.calDue.active {
			e.clearFlag(st, &st.calDue, RuleCalibrationDue, now, "calibration no longer tracked", out)
		}
		if st.calExpired.active {
			e.clearFlag(st, &st.calExpired, RuleCalibrationExpired, now, "calibration no longer tracked", out)
		}
		return
	}
	expired := !now.Before(due)
	warn := due.Add(-e.calWarn)
	soon := !expired && !now.Before(warn)
	at := func(t time.Time) time.Time {
		if t.Before(st.baseline) {
			return st.baseline
		}
		return t
	}
	switch {
	case soon && !st.calDue.active:
		e.raiseFlag(st, &st.calDue, RuleCalibrationDue, at(warn), warn, math.NaN(),
			fmt.Sprintf("%s: calibration due on %s", st.label(), due.UTC().Format(time.DateOnly)), out)
	case !soon && st.calDue.active:
		why := "new calibration date"
		if expired {
			why = "calibration expired"
		}
		e.clearFlag(st, &st.calDue, RuleCalibrationDue, now, why, out)
	}
	switch {
	case expired && !st.calExpired.active:
		e.raiseFlag(st, &st.calExpired, RuleCalibrationExpired, at(due), due, math.NaN(),
			fmt.Sprintf("%s: calibration expired on %s; monitoring is not compliant", st.label(), due.UTC().Format(time.DateOnly)), out)
	case !expired && st.calExpired.active:
		e.clearFlag(st, &st.calExpired, RuleCalibrationExpired, now, "new calibration date", out)
	}
}

// ParentChange records a gateway (SubjectGateway) or Modbus device
// (SubjectDevice) going offline or coming back at `at` (from the gateway
// health board or the collector). Offline raises one parent alert and
// suppresses its sensors' no-data alerts; back online clears it, clears
// those no-data alerts, and restarts their silence clocks. Repeated states
// change nothing.
func (e *Evaluator) ParentChange(p Subject, online bool, at time.Time) (Output, error) {
	var ruleID, what string
	switch p.Kind {
	case SubjectGateway:
		ruleID, what = RuleGatewayOffline, "Gateway"
	case SubjectDevice:
		ruleID, what = RuleDeviceOffline, "Device"
	default:
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A parent is a gateway or a device, not %q.", p.Kind)
	}
	if p.ID == "" || at.IsZero() {
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A parent change needs the parent's ID and a time.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := e.parent(p)
	if ps.offline == !online {
		return Output{}, nil
	}
	r := e.builtins[ruleID]
	name := ps.name
	if name == "" {
		name = what + " " + p.ID
	}
	key := Key{Rule: r.ID, Subject: p}
	var out Output
	var children int
	for _, st := range e.order {
		if st.Parent == p {
			children++
		}
	}
	if !online {
		ps.offline, ps.since = true, at
		out.Changes = append(out.Changes, newChange(ChangeRaise, r, key, "", 0, name, at, at,
			fmt.Sprintf("%s offline; no-data alarms of its %d sensors suppressed", name, children)))
		for _, st := range e.order {
			if st.Parent == p {
				e.resuppress(st, at, &out)
			}
		}
		return out, nil
	}
	ps.offline, ps.backAt = false, at
	out.Changes = append(out.Changes, newChange(ChangeClear, r, key, "", 0, name, at, at,
		fmt.Sprintf("%s back online after %s", name, fmtDuration(at.Sub(ps.since)))))
	for _, st := range e.order {
		if st.Parent == p && st.silent.active {
			e.clearFlag(st, &st.silent, RuleSensorSilent, at, name+" back online", &out)
		}
	}
	return out, nil
}

// suppressionFor is why an alert of rule r on st raised at `at` is
// suppressed: the unit out of service or in maintenance (every rule), the
// parent offline (no-data alarm), or a defrost (temperature rules).
func (e *Evaluator) suppressionFor(st *sensorState, r Rule, at time.Time) Suppression {
	if st.unit != nil {
		if s, ok := e.windowAt(st.unit.ID, SuppressOutOfService, at); ok {
			return s
		}
		if s, ok := e.windowAt(st.unit.ID, SuppressMaintenance, at); ok {
			return s
		}
	}
	if r.ID == RuleSensorSilent && !st.Parent.IsZero() {
		if ps := e.parents[st.Parent]; ps != nil && ps.offline {
			name := ps.name
			if name == "" {
				name = st.Parent.String()
			}
			return Suppression{Kind: SuppressDesign, Reason: name + " offline", By: "system"}
		}
	}
	if st.unit != nil && r.Metric == wardwatch.MetricTemperature {
		if s, ok := e.windowAt(st.unit.ID, SuppressDefrost, at); ok {
			return s
		}
	}
	return Suppression{}
}

// windowAt finds a window of the kind on the unit that contains at.
func (e *Evaluator) windowAt(unitID int64, kind SuppressionKind, at time.Time) (Suppression, bool) {
	reason := func(r string) string {
		if r != "" {
			return r
		}
		switch kind {
		case SuppressDefrost:
			return "Scheduled defrost"
		case SuppressMaintenance:
			return "Maintenance"
		}
		return "Out of service"
	}
	for _, w := range e.windows {
		if w.UnitID == unitID && w.Kind == kind && !at.Before(w.Start) && at.Before(w.End) {
			return Suppression{Kind: kind, Reason: reason(w.Reason), By: w.By, Until: w.End}, true
		}
	}
	for _, s := range e.schedules {
		if s.UnitID != unitID || s.Kind != kind {
			continue
		}
		if _, end, ok := s.ActiveAt(at); ok {
			return Suppression{Kind: kind, Reason: reason(s.Reason), By: s.By, Until: end}, true
		}
	}
	return Suppression{}, false
}

// resuppress reports suppression beginning or ending for st's active alerts
// at now.
func (e *Evaluator) resuppress(st *sensorState, now time.Time, out *Output) {
	for _, tr := range st.tracks {
		if tr.active {
			e.recheck(st, tr.rule, tr.key, &tr.suppression, now, out)
		}
	}
	flags := [...]struct {
		fl   *flag
		rule string
	}{{&st.silent, RuleSensorSilent}, {&st.fault, RuleSensorFault}, {&st.calDue, RuleCalibrationDue}, {&st.calExpired, RuleCalibrationExpired}}
	for _, f := range flags {
		if f.fl.active {
			r := e.builtins[f.rule]
			e.recheck(st, r, Key{Rule: r.ID, Subject: Subject{Kind: SubjectSensor, ID: st.ID}}, &f.fl.suppression, now, out)
		}
	}
}

// recheck compares an active alert's suppression with what it should be
// at now and reports the difference.
func (e *Evaluator) recheck(st *sensorState, r Rule, key Key, cur *Suppression, now time.Time, out *Output) {
	want := e.suppressionFor(st, r, now)
	if want.Kind == cur.Kind && want.Reason == cur.Reason {
		return
	}
	*cur = want
	typ, msg := ChangeSuppress, fmt.Sprintf("%s: %s suppressed: %s", st.label(), r.Name, want.Reason)
	if want.IsZero() {
		typ, msg = ChangeUnsuppress, fmt.Sprintf("%s: %s no longer suppressed", st.label(), r.Name)
	}
	c := e.change(typ, r, st, key, now, now, msg)
	c.Suppression = want
	out.Changes = append(out.Changes, c)
}
