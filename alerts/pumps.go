package alerts

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Defaults of the PumpEvaluator (domain-requirements §5 defaults,
// "Polling/freshness": offline after 15 min without an update; the battery
// limits are proposals).
const (
	DefaultPumpOfflineAfter = 15 * time.Minute
	DefaultPumpLowBattery   = 20.0 // %
	DefaultPumpBatteryClear = 25.0 // %
)

// PumpConfig configures the PumpEvaluator.
type PumpConfig struct {
	// ApprovedLibraries maps a drug library's name to its approved
	// version. When it is not empty, a pump reporting a library not listed,
	// or another version, raises the drug-library alert; the "" key, when
	// present, is the version approved whatever the library's name.
	ApprovedLibraries map[string]string
	// LowBattery raises the battery alert of a pump not on mains below it
	// (percent); it clears at or above BatteryClear. Defaults 20 and 25.
	LowBattery   float64
	BatteryClear float64
	// OfflineAfter is how long a pump may go without a state (default 15
	// min).
	OfflineAfter time.Duration
	// Names are pumps' names by serial ("Pump 0412", from the asset
	// register); targets' names by ID.
	Names       map[string]string
	TargetNames map[int64]string
	Builtins    []Rule
}

// PumpEvaluator judges infusion-pump states (domain-requirements §5
// defaults): alarms active on the pump (routed to biomed), low battery
// unless on mains, no state for OfflineAfter, and a drug library other than
// the approved version. A pump server (SNMP target) going offline raises one
// alert and suppresses its pumps' offline alerts. It is safe for concurrent
// use.
type PumpEvaluator struct {
	mu       sync.Mutex
	cfg      PumpConfig
	builtins builtins
	pumps    map[string]*pumpState
	targets  map[int64]*parentState
	stats    Stats
}

type pumpState struct {
	serial   string
	target   int64
	baseline time.Time
	last     time.Time
	alarmKey string // the active alarm set, "" when none
	alarm    flag
	battery  flag
	offline  flag
	library  flag
}

// NewPumpEvaluator returns a PumpEvaluator.
func NewPumpEvaluator(cfg PumpConfig) (*PumpEvaluator, error) {
	e := &PumpEvaluator{pumps: make(map[string]*pumpState), targets: make(map[int64]*parentState)}
	if err := e.Configure(cfg); err != nil {
		return nil, err
	}
	return e, nil
}

// Configure replaces the configuration; it takes effect on the next state
// of each pump.
func (e *PumpEvaluator) Configure(cfg PumpConfig) error {
	b, err := newBuiltins(cfg.Builtins)
	if err != nil {
		return err
	}
	if cfg.LowBattery == 0 {
		cfg.LowBattery = DefaultPumpLowBattery
	}
	if cfg.BatteryClear == 0 {
		cfg.BatteryClear = max(DefaultPumpBatteryClear, cfg.LowBattery)
	}
	if cfg.OfflineAfter <= 0 {
		cfg.OfflineAfter = DefaultPumpOfflineAfter
	}
	if cfg.LowBattery < 0 || cfg.LowBattery > 100 || cfg.BatteryClear < cfg.LowBattery || cfg.BatteryClear > 100 {
		return wardwatch.Errorf(wardwatch.EINVALID, "Pump battery limits must lie in 0–100 %% with the clear level at or above the alarm level.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cfg, e.builtins = cfg, b
	return nil
}

// Stats returns the refusal counters.
func (e *PumpEvaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

func (e *PumpEvaluator) name(serial string) string {
	if n := e.cfg.Names[serial]; n != "" {
		return n
	}
	return "Pump " + serial
}

func (e *PumpEvaluator) pumpChange(typ ChangeType, ps *pumpState, ruleID string, at, since time.Time, msg string) Change {
	r := e.builtins[ruleID]
	return newChange(typ, r, Key{Rule: r.ID, Subject: Subject{Kind: SubjectPump, ID: ps.serial}}, "", 0, e.name(ps.serial), at, since, msg)
}

// ObservePump judges one poll's state of one pump. States older than the
// pump's last are ignored (Stats.Late). A state without a serial or time,
// or with an unknown status, is an EINVALID error.
func (e *PumpEvaluator) ObservePump(s wardwatch.PumpState) (Output, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case s.Serial == "" || s.Time.IsZero():
		e.stats.Rejected++
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A pump state needs a serial and a time.")
	case !s.Status.Valid():
		e.stats.Rejected++
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Pump %q: unknown status %q.", s.Serial, s.Status)
	}
	ps := e.pumps[s.Serial]
	if ps == nil {
		ps = &pumpState{serial: s.Serial, baseline: s.Time}
		e.pumps[s.Serial] = ps
	} else if !s.Time.After(ps.last) {
		e.stats.Late++
		return Output{}, nil
	}
	e.stats.Readings++
	t := s.Time
	ps.last, ps.target = t, s.TargetID
	name := e.name(s.Serial)
	var out Output
	if ps.offline.active {
		ps.offline = flag{}
		out.Changes = append(out.Changes, e.pumpChange(ChangeClear, ps, RulePumpOffline, t, t, name+" reporting again"))
	}

	// Alarms: one alert per pump; its priority follows the pump's highest
	// alarm, its text the active alarms.
	alarms := slices.Clone(s.Alarms)
	if len(alarms) == 0 && s.Status == wardwatch.PumpAlarming {
		alarms = []wardwatch.PumpAlarm{{Text: "alarm", Priority: wardwatch.PriorityHigh}}
	}
	if len(alarms) > 0 {
		prio := PriorityLow
		var texts []string
		for _, a := range alarms {
			if p := FromDevice(a.Priority); p.Rank() < prio.Rank() {
				prio = p
			}
			texts = append(texts, strings.TrimSpace(strings.TrimSpace(a.Code)+" "+strings.TrimSpace(a.Text)))
		}
		slices.Sort(texts)
		key := string(prio) + "|" + strings.Join(texts, "; ")
		if key != ps.alarmKey {
			// A changed alarm set of an active alert raises again: the Book
			// updates its message and priority without a new alert.
			ps.alarmKey = key
			ps.alarm.active = true
			msg := clip(fmt.Sprintf("%s alarm: %s", name, strings.Join(texts, "; ")), 300)
			c := e.pumpChange(ChangeRaise, ps, RulePumpAlarm, t, t, msg)
			c.Priority = prio
			out.Changes = append(out.Changes, c)
		}
	} else if ps.alarm.active {
		ps.alarm, ps.alarmKey = flag{}, ""
		out.Changes = append(out.Changes, e.pumpChange(ChangeClear, ps, RulePumpAlarm, t, t, name+": alarms cleared"))
	}

	// Battery: low only when not on mains; NaN (not reported) decides
	// nothing.
	if !math.IsNaN(s.Battery) {
		low := !s.OnAC && s.Battery < e.cfg.LowBattery
		clear := s.OnAC || s.Battery >= e.cfg.BatteryClear
		switch {
		case low && !ps.battery.active:
			ps.battery.active = true
			c := e.pumpChange(ChangeRaise, ps, RulePumpBatteryLow, t, t, fmt.Sprintf("%s on battery at %.0f %%", name, s.Battery))
			c.Value, c.Peak, c.Trough = s.Battery, s.Battery, s.Battery
			out.Changes = append(out.Changes, c)
		case clear && ps.battery.active:
			ps.battery.active = false
			why := fmt.Sprintf("battery at %.0f %%", s.Battery)
			if s.OnAC {
				why = "on mains"
			}
			c := e.pumpChange(ChangeClear, ps, RulePumpBatteryLow, t, t, name+" battery alert cleared: "+why)
			c.Value = s.Battery
			out.Changes = append(out.Changes, c)
		}
	}

	// Drug library.
	if len(e.cfg.ApprovedLibraries) > 0 && s.DrugLibraryVersion != "" {
		want, ok := e.cfg.ApprovedLibraries[s.DrugLibrary]
		if !ok {
			want, ok = e.cfg.ApprovedLibraries[""]
		}
		bad := !ok || want != s.DrugLibraryVersion
		switch {
		case bad && !ps.library.active:
			ps.library.active = true
			msg := fmt.Sprintf("%s runs drug library %q version %q", name, s.DrugLibrary, s.DrugLibraryVersion)
			if ok {
				msg += fmt.Sprintf("; approved is %q", want)
			} else {
				msg += ", which is not approved"
			}
			out.Changes = append(out.Changes, e.pumpChange(ChangeRaise, ps, RulePumpDrugLibrary, t, t, clip(msg, 300)))
		case !bad && ps.library.active:
			ps.library.active = false
			out.Changes = append(out.Changes, e.pumpChange(ChangeClear, ps, RulePumpDrugLibrary, t, t, name+" runs the approved drug library"))
		}
	}
	return out, nil
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8Start(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// TargetChange records a pump server (SNMP target) going offline or coming
// back at `at`: offline raises one alert and suppresses its pumps' offline
// alerts; back online clears it, clears those alerts and restarts their
// clocks.
func (e *PumpEvaluator) TargetChange(target int64, online bool, at time.Time) (Output, error) {
	if target <= 0 || at.IsZero() {
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A target change needs the target's ID and a time.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := e.targets[target]
	if ts == nil {
		ts = &parentState{}
		e.targets[target] = ts
	}
	if ts.offline == !online {
		return Output{}, nil
	}
	r := e.builtins[RulePumpTargetOffline]
	name := e.cfg.TargetNames[target]
	if name == "" {
		name = "Pump server " + strconv.FormatInt(target, 10)
	}
	key := Key{Rule: r.ID, Subject: Subject{Kind: SubjectPumpTarget, ID: strconv.FormatInt(target, 10)}}
	var out Output
	if !online {
		ts.offline, ts.since = true, at
		out.Changes = append(out.Changes, newChange(ChangeRaise, r, key, "", 0, name, at, at, name+" offline; its pumps' offline alarms suppressed"))
		for _, ps := range e.sorted() {
			if ps.target == target && ps.offline.active && ps.offline.suppression.IsZero() {
				ps.offline.suppression = Suppression{Kind: SuppressDesign, Reason: name + " offline", By: SystemUser}
				c := e.pumpChange(ChangeSuppress, ps, RulePumpOffline, at, at, e.name(ps.serial)+" offline alarm suppressed: "+name+" offline")
				c.Suppression = ps.offline.suppression
				out.Changes = append(out.Changes, c)
			}
		}
		return out, nil
	}
	ts.offline, ts.backAt = false, at
	out.Changes = append(out.Changes, newChange(ChangeClear, r, key, "", 0, name, at, at,
		fmt.Sprintf("%s back online after %s", name, fmtDuration(at.Sub(ts.since)))))
	for _, ps := range e.sorted() {
		if ps.target == target && ps.offline.active {
			ps.offline = flag{}
			out.Changes = append(out.Changes, e.pumpChange(ChangeClear, ps, RulePumpOffline, at, at, name+" back online"))
		}
	}
	return out, nil
}

func (e *PumpEvaluator) sorted() []*pumpState {
	ps := make([]*pumpState, 0, len(e.pumps))
	for _, p := range e.pumps {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *pumpState) int { return cmp.Compare(a.serial, b.serial) })
	return ps
}

// Forget stops watching a pump (retired, or moved to another server), and
// clears its alerts at now.
func (e *PumpEvaluator) Forget(serial string, now time.Time) Output {
	e.mu.Lock()
	defer e.mu.Unlock()
	ps := e.pumps[serial]
	if ps == nil {
		return Output{}
	}
	delete(e.pumps, serial)
	var out Output
	for _, f := range []struct {
		fl   flag
		rule string
	}{{ps.alarm, RulePumpAlarm}, {ps.battery, RulePumpBatteryLow}, {ps.offline, RulePumpOffline}, {ps.library, RulePumpDrugLibrary}} {
		if f.fl.active {
			out.Changes = append(out.Changes, e.pumpChange(ChangeClear, ps, f.rule, now, now, e.name(serial)+" no longer watched"))
		}
	}
	return out
}

// Tick raises the offline alert of pumps without a state for OfflineAfter
// (suppressed while their pump server is offline).
func (e *PumpEvaluator) Tick(now time.Time) Output {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out Output
	for _, ps := range e.sorted() {
		if ps.offline.active {
			continue
		}
		base := ps.last
		ts := e.targets[ps.target]
		if ts != nil && ts.backAt.After(base) {
			base = ts.backAt
		}
		due := base.Add(e.cfg.OfflineAfter)
		if now.Before(due) {
			continue
		}
		ps.offline.active = true
		c := e.pumpChange(ChangeRaise, ps, RulePumpOffline, due, base,
			fmt.Sprintf("%s: no state for %s", e.name(ps.serial), fmtDuration(e.cfg.OfflineAfter)))
		if ts != nil && ts.offline {
			name := e.cfg.TargetNames[ps.target]
			if name == "" {
				name = "Pump server " + strconv.FormatInt(ps.target, 10)
			}
			ps.offline.suppression = Suppression{Kind: SuppressDesign, Reason: name + " offline", By: SystemUser}
			c.Suppression = ps.offline.suppression
		}
		out.Changes = append(out.Changes, c)
	}
	return out
}
