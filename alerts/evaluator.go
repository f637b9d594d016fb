package alerts

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Defaults of the Evaluator (domain-requirements §1 defaults,
// "Equipment-health alarms"; proposals).
const (
	// DefaultSilentAfter caps how long a sensor may be silent: no data
	// after 2 missed intervals or 30 min, whichever is shorter.
	DefaultSilentAfter = 30 * time.Minute
	// DefaultCalibrationWarn is how far ahead a calibration due date
	// warns.
	DefaultCalibrationWarn = 30 * 24 * time.Hour
	// DefaultTagHold is how long a tag's battery reading stands without a
	// newer one. It is shorter than the tag rules' delays, so one low
	// reading followed by silence never raises: a tag must keep reading
	// low, heard at least every 4 h, for the whole delay. Longer silences
	// start the delay again (an asset out of coverage is the missing
	// rule's business).
	DefaultTagHold = 4 * time.Hour
)

// Sensor is a sensor the Evaluator judges.
type Sensor struct {
	ID     string // wardwatch.Reading.SensorID
	Name   string // as users read it; "" shows the ID
	UnitID int64  // the monitored unit it measures; 0: none (equipment rules only)
	// Parent is the gateway (SubjectGateway) or Modbus device
	// (SubjectDevice) the sensor reports through; zero: none. While the
	// parent is offline the sensor's no-data alarm is suppressed.
	Parent Subject
	// Interval is how often the sensor should report; 0: unknown (silent
	// after the Evaluator's SilentAfter).
	Interval time.Duration
	// CalibrationDue is when the probe's calibration certificate runs out;
	// zero: not tracked.
	CalibrationDue time.Time
	// LastSeen, when known (from the store after a restart), is when the
	// sensor last reported; zero starts its silence clock at configuration.
	LastSeen time.Time
}

// Tag is a tracked asset's BLE tag whose battery the Evaluator judges
// (Eddystone-TLM battery volts, or a vendor's battery percent). Its readings
// carry the tag's ID as their SensorID. A tag is judged by the tag rules only
// (TagRules): no equipment rules, no silence, fault or calibration alerts.
// Its alerts are about the asset (SubjectAsset): one alert per rule and
// asset, active while any of the asset's tags meets the rule.
type Tag struct {
	ID        string // wardwatch.Tag.ID, the readings' SensorID
	AssetID   int64
	AssetName string // as users read it; "" shows "Asset <id>"
}

// Unit is a monitored unit (fridge, freezer, room) the Evaluator judges.
type Unit struct {
	ID      int64
	Name    string
	Profile wardwatch.UnitProfile
	Options ProfileOptions
	// Rules, when not nil, replace the profile's seeded rules (a unit's
	// edited rule set, see ParseRules); Ranges likewise.
	Rules  []Rule
	Ranges []Range
	Team   Team // "": the profile's team
}

// Window is a maintenance window of one unit: a defrost, a maintenance
// period, or the unit out of service (an emptied freezer). Alerts of the
// unit are suppressed from Start to End (End exclusive).
type Window struct {
	ID     int64 // the store's ID; 0 until stored
	UnitID int64
	Kind   SuppressionKind // SuppressDefrost, SuppressMaintenance or SuppressOutOfService
	Start  time.Time
	End    time.Time
	By     string // the user who set it
	Reason string
}

// Schedule is a daily recurring window of one unit: a defrost cycle at fixed
// local times. Validate checks what the store keeps.
type Schedule struct {
	ID       int64 // the store's ID; 0 until stored
	UnitID   int64
	Kind     SuppressionKind // SuppressDefrost or SuppressMaintenance
	Times    []time.Duration // start times as offsets from local midnight
	Duration time.Duration   // at most 24 h
	Location *time.Location  // nil: UTC
	By       string
	Reason   string
	Created  time.Time // when it was stored; zero until stored
}

// Parent names a gateway or device for alert text.
type Parent struct {
	Subject Subject
	Name    string
}

// Config is everything the Evaluator judges.
type Config struct {
	Units     []Unit
	Sensors   []Sensor
	Parents   []Parent
	Windows   []Window
	Schedules []Schedule
	// EquipmentRules are judged on every sensor; nil means
	// EquipmentRules().
	EquipmentRules []Rule
	// Tags are the assets' tags; their IDs must differ from the sensors'.
	Tags []Tag
	// TagRules are judged on every tag; nil means TagRules().
	TagRules []Rule
	// Builtins replace built-in rule descriptors by ID (priority, team,
	// name).
	Builtins []Rule
	// SilentAfter caps the silence threshold (default 30 min);
	// CalibrationWarn is the calibration warning lead (default 30 days).
	SilentAfter     time.Duration
	CalibrationWarn time.Duration
}

// Stats counts what the Evaluator refused; the caller exports them as
// metrics.
type Stats struct {
	Readings uint64 // readings judged
	Rejected uint64 // invalid readings (unknown metric, NaN, no time)
	Late     uint64 // readings not newer than the sensor's previous one of that metric
	Unbound  uint64 // readings from sensors not configured
}

// Output is what an evaluator call produced.
type Output struct {
	Changes []Change
	// Excursions are snapshots of the excursion records this call opened,
	// alarmed or closed (upsert them by SensorID, Metric and Start).
	Excursions []Excursion
	// Statuses are asset status changes (AssetEvaluator only).
	Statuses []StatusChange
}

// Empty reports whether o holds nothing.
func (o Output) Empty() bool {
	return len(o.Changes) == 0 && len(o.Excursions) == 0 && len(o.Statuses) == 0
}

// Evaluator judges sensor readings against their units' threshold rules and
// watches the sensors' health: silence, physically impossible readings, low
// battery, calibration, and their gateways and devices going offline; and it
// judges the batteries of assets' tags (Tag, TagRules). It keeps excursion
// records for the units' ranges. It is safe for concurrent use; every method
// takes the time it acts at.
type Evaluator struct {
	mu sync.Mutex

	units     map[int64]*unitConf
	sensors   map[string]*sensorState
	order     []*sensorState // by ID, for deterministic output
	parents   map[Subject]*parentState
	windows   []Window
	schedules []Schedule
	equipment []Rule
	tagRules  []Rule
	// tagLow holds, per tag alert (rule and asset), the tags whose track
	// is active: the asset's alert raises with the first and clears with
	// the last.
	tagLow      map[Key]map[string]bool
	builtins    builtins
	silentAfter time.Duration
	calWarn     time.Duration
	stats       Stats
}

type unitConf struct {
	Unit
	team   Team
	rules  []Rule
	ranges []Range
}

type parentState struct {
	name    string
	offline bool
	since   time.Time // went offline
	backAt  time.Time // came back online
}

// flag is the state of a built-in per-sensor alert.
type flag struct {
	active      bool
	suppression Suppression
}

type sensorState struct {
	Sensor
	unit     *unitConf
	tag      *Tag          // set for an asset's tag
	hold     time.Duration // silence threshold
	baseline time.Time     // start of the silence clock (configuration or LastSeen)
	lastSeen time.Time     // latest reading of any metric
	gaps     []span        // recent silences longer than hold, oldest first
	last     map[wardwatch.Metric]time.Time
	hist     map[wardwatch.Metric][]sample // recent readings, for averaging
	tracks   []*track
	exc      []*excursionAcc

	silent, fault, calDue, calExpired flag
	faulty                            map[wardwatch.Metric]bool
}

type sample struct {
	t time.Time
	v float64
}

// NewEvaluator returns an Evaluator judging cfg from now on.
func NewEvaluator(cfg Config, now time.Time) (*Evaluator, error) {
	e := &Evaluator{sensors: make(map[string]*sensorState), parents: make(map[Subject]*parentState),
		tagLow: make(map[Key]map[string]bool)}
	if _, err := e.Configure(cfg, now); err != nil {
		return nil, err
	}
	return e, nil
}

// Stats returns the refusal counters.
func (e *Evaluator) Stats() Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stats
}

// Configure replaces the configuration at now, keeping the state of every
// (rule, sensor) whose rule is unchanged. Active alerts of removed sensors or
// changed rules are cleared. On error nothing changes.
func (e *Evaluator) Configure(cfg Config, now time.Time) (Output, error) {
	units, err := buildUnits(cfg.Units)
	if err != nil {
		return Output{}, err
	}
	b, err := newBuiltins(cfg.Builtins)
	if err != nil {
		return Output{}, err
	}
	equipment := cfg.EquipmentRules
	if equipment == nil {
		equipment = EquipmentRules()
	}
	if err := validRuleSet(equipment); err != nil {
		return Output{}, err
	}
	tagRules := cfg.TagRules
	if tagRules == nil {
		tagRules = TagRules()
	}
	if err := validRuleSet(tagRules); err != nil {
		return Output{}, err
	}
	if err := validWindows(cfg.Windows, cfg.Schedules, units); err != nil {
		return Output{}, err
	}
	silentAfter, calWarn := cfg.SilentAfter, cfg.CalibrationWarn
	if silentAfter <= 0 {
		silentAfter = DefaultSilentAfter
	}
	if calWarn <= 0 {
		calWarn = DefaultCalibrationWarn
	}
	seen := make(map[string]bool, len(cfg.Sensors))
	for _, s := range cfg.Sensors {
		switch {
		case s.ID == "":
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A sensor needs an ID.")
		case seen[s.ID]:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Sensor %q is listed twice.", s.ID)
		case s.UnitID != 0 && units[s.UnitID] == nil:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Sensor %q names unknown unit %d.", s.ID, s.UnitID)
		case !s.Parent.IsZero() && s.Parent.Kind != SubjectGateway && s.Parent.Kind != SubjectDevice:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Sensor %q: a parent is a gateway or a device.", s.ID)
		case s.Interval < 0:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Sensor %q: the interval must not be negative.", s.ID)
		}
		seen[s.ID] = true
	}
	for _, tg := range cfg.Tags {
		switch {
		case tg.ID == "":
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "A tag needs an ID.")
		case seen[tg.ID]:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Tag %q is listed twice or is also a sensor.", tg.ID)
		case tg.AssetID <= 0:
			return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Tag %q needs its asset.", tg.ID)
		}
		seen[tg.ID] = true
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	var out Output
	e.units, e.builtins, e.equipment, e.tagRules = units, b, equipment, tagRules
	e.windows, e.schedules = slices.Clone(cfg.Windows), slices.Clone(cfg.Schedules)
	e.silentAfter, e.calWarn = silentAfter, calWarn
	for _, p := range cfg.Parents {
		ps := e.parent(p.Subject)
		ps.name = p.Name
	}

	old := e.sensors
	e.sensors = make(map[string]*sensorState, len(cfg.Sensors)+len(cfg.Tags))
	e.order = e.order[:0]
	fresh := func(baseline time.Time) *sensorState {
		return &sensorState{baseline: baseline, last: make(map[wardwatch.Metric]time.Time),
			hist: make(map[wardwatch.Metric][]sample), faulty: make(map[wardwatch.Metric]bool)}
	}
	var moved []*sensorState // tags bound to another asset, sensors become tags and back
	for _, s := range cfg.Sensors {
		st := old[s.ID]
		if st != nil && st.tag != nil {
			moved, st = append(moved, st), nil
		}
		if st == nil {
			st = fresh(now)
			if !s.LastSeen.IsZero() {
				st.baseline = s.LastSeen
			}
		}
		delete(old, s.ID)
		st.Sensor = s
		st.unit = units[s.UnitID]
		st.hold = silenceThreshold(s.Interval, silentAfter)
		e.rebuildTracks(st, now, &out)
		e.rebuildExcursions(st)
		e.sensors[s.ID] = st
		e.order = append(e.order, st)
	}
	for _, tg := range cfg.Tags {
		st := old[tg.ID]
		if st != nil && (st.tag == nil || st.tag.AssetID != tg.AssetID) {
			moved, st = append(moved, st), nil
		}
		if st == nil {
			st = fresh(now)
		}
		delete(old, tg.ID)
		tag := tg
		st.Sensor = Sensor{ID: tg.ID, Name: "tag " + tg.ID}
		st.tag, st.unit, st.hold = &tag, nil, DefaultTagHold
		e.rebuildTracks(st, now, &out)
		e.sensors[tg.ID] = st
		e.order = append(e.order, st)
	}
	slices.SortFunc(e.order, func(a, b *sensorState) int {
		if a.ID < b.ID {
			return -1
		} else if a.ID > b.ID {
			return 1
		}
		return 0
	})
	// Sensors and tags no longer configured (or a tag now on another
	// asset): clear what they had raised.
	gone := moved
	for _, st := range old {
		gone = append(gone, st)
	}
	slices.SortFunc(gone, func(a, b *sensorState) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	for _, st := range gone {
		for _, tr := range st.tracks {
			if tr.active {
				why := "sensor removed from monitoring"
				if st.tag != nil {
					why = "tag removed from the asset"
				}
				e.clearTrack(tr, now, why, &out)
			}
		}
		for _, f := range []struct {
			fl   *flag
			rule string
		}{{&st.silent, RuleSensorSilent}, {&st.fault, RuleSensorFault}, {&st.calDue, RuleCalibrationDue}, {&st.calExpired, RuleCalibrationExpired}} {
			if f.fl.active {
				e.clearFlag(st, f.fl, f.rule, now, "sensor removed from monitoring", &out)
			}
		}
	}
	return out, nil
}

// silenceThreshold is how long a sensor reporting every interval may be
// silent: 2 intervals, at most max.
func silenceThreshold(interval, max time.Duration) time.Duration {
	if interval <= 0 || 2*interval > max {
		return max
	}
	return 2 * interval
}

func buildUnits(us []Unit) (map[int64]*unitConf, error) {
	units := make(map[int64]*unitConf, len(us))
	for _, u := range us {
		if u.ID <= 0 {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "A unit needs a positive ID.")
		}
		if units[u.ID] != nil {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unit %d is listed twice.", u.ID)
		}
		if u.Team != "" && !u.Team.Valid() {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unit %d: unknown team %q.", u.ID, u.Team)
		}
		uc := &unitConf{Unit: u, team: u.Team, rules: u.Rules, ranges: u.Ranges}
		if p, err := ProfileFor(u.Profile, u.Options); err == nil {
			if uc.team == "" {
				uc.team = p.Team
			}
			if uc.rules == nil {
				uc.rules = p.Rules
			}
			if uc.ranges == nil {
				uc.ranges = p.Ranges
			}
		} else if u.Rules == nil {
			return nil, fmt.Errorf("unit %d: %w", u.ID, err)
		}
		if uc.team == "" {
			uc.team = TeamFacilities
		}
		if err := validRuleSet(uc.rules); err != nil {
			return nil, fmt.Errorf("unit %d: %w", u.ID, err)
		}
		for _, r := range uc.ranges {
			if !r.Metric.Valid() || math.IsNaN(r.Low) || math.IsNaN(r.High) || r.Low >= r.High {
				return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unit %d: a range needs a metric and low below high.", u.ID)
			}
		}
		units[u.ID] = uc
	}
	return units, nil
}

// validRuleSet validates threshold rules with unique IDs.
func validRuleSet(rules []Rule) error {
	ids := make(map[string]bool, len(rules))
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			return err
		}
		if !r.IsThreshold() {
			return wardwatch.Errorf(wardwatch.EINVALID, "Rule %q names no metric.", r.ID)
		}
		if ids[r.ID] {
			return wardwatch.Errorf(wardwatch.EINVALID, "Rule %q is listed twice.", r.ID)
		}
		ids[r.ID] = true
	}
	return nil
}

func validWindows(ws []Window, ss []Schedule, units map[int64]*unitConf) error {
	for _, w := range ws {
		switch {
		case units[w.UnitID] == nil:
			return wardwatch.Errorf(wardwatch.EINVALID, "A window names unknown unit %d.", w.UnitID)
		case w.Kind != SuppressDefrost && w.Kind != SuppressMaintenance && w.Kind != SuppressOutOfService:
			return wardwatch.Errorf(wardwatch.EINVALID, "Unknown window kind %q.", w.Kind)
		case !w.End.After(w.Start):
			return wardwatch.Errorf(wardwatch.EINVALID, "A window must end after it starts.")
		}
	}
	for _, s := range ss {
		switch {
		case units[s.UnitID] == nil:
			return wardwatch.Errorf(wardwatch.EINVALID, "A schedule names unknown unit %d.", s.UnitID)
		case s.Kind != SuppressDefrost && s.Kind != SuppressMaintenance:
			return wardwatch.Errorf(wardwatch.EINVALID, "A schedule is a defrost or a maintenance schedule.")
		case s.Duration <= 0 || s.Duration > 24*time.Hour:
			return wardwatch.Errorf(wardwatch.EINVALID, "A scheduled window lasts between 0 and 24 h.")
		}
		for _, t := range s.Times {
			if t < 0 || t >= 24*time.Hour {
				return wardwatch.Errorf(wardwatch.EINVALID, "A scheduled start is a time of day.")
			}
		}
	}
	return nil
}

// rebuildTracks gives st one track per rule that applies to it, keeping
// the state of unchanged rules and clearing alerts of dropped ones.
func (e *Evaluator) rebuildTracks(st *sensorState, now time.Time, out *Output) {
	var rules []Rule
	subject := Subject{Kind: SubjectSensor, ID: st.ID}
	switch {
	case st.tag != nil:
		rules = e.tagRules
		subject = Subject{Kind: SubjectAsset, ID: strconv.FormatInt(st.tag.AssetID, 10)}
	case st.unit != nil:
		rules = append(rules, st.unit.rules...)
		fallthrough
	default:
		rules = append(rules, e.equipment...)
	}
	old := make(map[string]*track, len(st.tracks))
	for _, tr := range st.tracks {
		old[tr.rule.ID] = tr
	}
	st.tracks = st.tracks[:0:0]
	for _, r := range rules {
		if tr := old[r.ID]; tr != nil && tr.rule == r {
			delete(old, r.ID)
			st.tracks = append(st.tracks, tr)
			continue
		}
		st.tracks = append(st.tracks, &track{rule: r, sensor: st, key: Key{Rule: r.ID, Subject: subject}})
	}
	// What is left was removed or changed: clear its alerts.
	ids := make([]string, 0, len(old))
	for id := range old {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if tr := old[id]; tr.active {
			e.clearTrack(tr, now, "rule changed or removed", out)
		}
	}
}

func (e *Evaluator) rebuildExcursions(st *sensorState) {
	var ranges []Range
	if st.unit != nil {
		ranges = st.unit.ranges
	}
	keep := st.exc[:0:0]
	for _, r := range ranges {
		var acc *excursionAcc
		for _, a := range st.exc {
			if a.rng == r {
				acc = a
				break
			}
		}
		if acc == nil {
			acc = &excursionAcc{rng: r}
		}
		acc.base = Excursion{UnitID: st.UnitID, UnitName: st.unit.Name, Team: st.unit.team,
			SensorID: st.ID, Metric: r.Metric, Low: r.Low, High: r.High}
		keep = append(keep, acc)
	}
	st.exc = keep
}

func (e *Evaluator) parent(s Subject) *parentState {
	p := e.parents[s]
	if p == nil {
		p = &parentState{}
		e.parents[s] = p
	}
	return p
}

// physical is the range a reading of each metric can physically take;
// outside it the probe is faulty (disconnected, shorted, out of its range).
var physical = map[wardwatch.Metric][2]float64{
	wardwatch.MetricTemperature:    {-120, 150},
	wardwatch.MetricHumidity:       {0, 100},
	wardwatch.MetricPressure:       {-1000, 1000},
	wardwatch.MetricDoorOpen:       {0, 1},
	wardwatch.MetricAlarm:          {0, 1},
	wardwatch.MetricAirChanges:     {0, 200},
	wardwatch.MetricBatteryPercent: {0, 100},
	wardwatch.MetricBatteryVoltage: {0, 50},
}

func plausible(m wardwatch.Metric, v float64) bool {
	r, ok := physical[m]
	if !ok {
		return true
	}
	if m == wardwatch.MetricDoorOpen || m == wardwatch.MetricAlarm {
		return v == 0 || v == 1
	}
	return v >= r[0] && v <= r[1]
}

// Observe judges one reading. Readings must come in time order per sensor
// and metric: an older or repeated one is ignored (counted in Stats.Late).
// A reading from an unknown sensor is ignored (Stats.Unbound). An invalid
// reading (unknown metric, NaN or infinite value, zero time) is an EINVALID
// error. A physically impossible value raises the sensor-fault alert and is
// not judged against the thresholds.
func (e *Evaluator) Observe(r wardwatch.Reading) (Output, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case !r.Metric.Valid():
		e.stats.Rejected++
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Reading from %q: unknown metric %q.", r.SensorID, r.Metric)
	case math.IsNaN(r.Value) || math.IsInf(r.Value, 0):
		e.stats.Rejected++
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Reading from %q: the value is not a number.", r.SensorID)
	case r.Time.IsZero():
		e.stats.Rejected++
		return Output{}, wardwatch.Errorf(wardwatch.EINVALID, "Reading from %q: no time.", r.SensorID)
	}
	st := e.sensors[r.SensorID]
	if st == nil {
		e.stats.Unbound++
		return Output{}, nil
	}
	if last, ok := st.last[r.Metric]; ok && !r.Time.After(last) {
		e.stats.Late++
		return Output{}, nil
	}
	e.stats.Readings++
	st.last[r.Metric] = r.Time
	var out Output
	t := r.Time
	st.noteReading(t)
	if st.silent.active {
		e.clearFlag(st, &st.silent, RuleSensorSilent, t, "sensor reporting again", &out)
	}

	if !plausible(r.Metric, r.Value) && st.tag != nil {
		return out, nil // a tag raises no fault alert: the value is not judged
	}
	if !plausible(r.Metric, r.Value) {
		st.faulty[r.Metric] = true
		if !st.fault.active {
			msg := fmt.Sprintf("%s: %s reading %s is physically impossible (probe disconnected or out of range)",
				st.label(), r.Metric, unitText(r.Metric, r.Value))
			e.raiseFlag(st, &st.fault, RuleSensorFault, t, t, r.Value, msg, &out)
		}
		return out, nil
	}
	if st.faulty[r.Metric] {
		delete(st.faulty, r.Metric)
		if st.fault.active && len(st.faulty) == 0 {
			e.clearFlag(st, &st.fault, RuleSensorFault, t, "readings plausible again", &out)
		}
	}

	// Delayed raises that fell due before this reading come first, while
	// the excursion they belong to is still open; then the reading opens
	// or closes excursions; then the rules judge it, so a rule without
	// delay that raises on the first reading out of range marks the
	// excursion it opened.
	for _, tr := range st.tracks {
		if tr.rule.Metric == r.Metric {
			e.advance(tr, t, &out)
		}
	}
	for _, acc := range st.exc {
		if acc.rng.Metric != r.Metric {
			continue
		}
		held := t
		if acc.have {
			held = st.standsUntil(acc.lastT, t)
		}
		if changed := acc.add(t, r.Value, held); changed {
			out.Excursions = append(out.Excursions, acc.snapshot())
		}
	}
	for _, tr := range st.tracks {
		if tr.rule.Metric != r.Metric {
			continue
		}
		v := r.Value
		if tr.rule.Average > 0 {
			v = st.average(r.Metric, t, tr.rule.Average, r.Value)
		}
		e.apply(tr, t, v, &out)
	}
	st.remember(r.Metric, t, r.Value, e.maxAverage(st, r.Metric))
	return out, nil
}

// maxGaps bounds the silences a sensor remembers.
const maxGaps = 16

// noteReading records a reading of any metric at t, and the silence before
// it when the sensor was quiet for longer than its hold time.
func (st *sensorState) noteReading(t time.Time) {
	if !st.lastSeen.IsZero() && t.Sub(st.lastSeen) > st.hold {
		st.gaps = append(st.gaps, span{st.lastSeen.Add(st.hold), t})
		if len(st.gaps) > maxGaps {
			st.gaps = append(st.gaps[:0], st.gaps[len(st.gaps)-maxGaps:]...)
		}
	}
	if t.After(st.lastSeen) {
		st.lastSeen = t
	}
}

// standsUntil is how far a value read at from stands toward to: a value
// stands until the next reading of its metric while the sensor keeps
// reporting (any metric), and stops when the sensor falls silent for longer
// than its hold time (2 intervals, at most SilentAfter). So a battery level
// sent hourly stands between its readings while temperatures flow, and a
// door contact that reports only changes stands while its heartbeats come.
func (st *sensorState) standsUntil(from, to time.Time) time.Time {
	h := to
	for _, g := range st.gaps {
		if g.end.After(from) {
			if g.start.Before(h) {
				h = g.start
			}
			break
		}
	}
	if live := st.lastSeen.Add(st.hold); live.Before(h) {
		h = live
	}
	if h.Before(from) {
		h = from
	}
	return h
}

// brokeSince reports whether the sensor fell silent after from.
func (st *sensorState) brokeSince(from time.Time) bool {
	return len(st.gaps) > 0 && st.gaps[len(st.gaps)-1].end.After(from)
}

func (st *sensorState) label() string {
	if st.tag != nil {
		return st.tag.name() + " — tag " + st.ID
	}
	name := st.Name
	if name == "" {
		name = st.ID
	}
	if st.unit != nil && st.unit.Name != "" {
		return st.unit.Name + " — " + name
	}
	return name
}

func (e *Evaluator) maxAverage(st *sensorState, m wardwatch.Metric) time.Duration {
	var d time.Duration
	for _, tr := range st.tracks {
		if tr.rule.Metric == m && tr.rule.Average > d {
			d = tr.rule.Average
		}
	}
	return d
}

// average is the mean of the readings of m within (t−window, t], including
// the new value v at t.
func (st *sensorState) average(m wardwatch.Metric, t time.Time, window time.Duration, v float64) float64 {
	sum, n := v, 1.0
	from := t.Add(-window)
	for _, s := range st.hist[m] {
		if s.t.After(from) {
			sum += s.v
			n++
		}
	}
	return sum / n
}

// remember keeps the readings of m within the longest averaging window.
func (st *sensorState) remember(m wardwatch.Metric, t time.Time, v float64, window time.Duration) {
	if window <= 0 {
		delete(st.hist, m)
		return
	}
	h := append(st.hist[m], sample{t, v})
	from := t.Add(-window)
	i := 0
	for i < len(h) && !h[i].t.After(from) {
		i++
	}
	st.hist[m] = append(h[:0], h[i:]...)
}

// Tick advances time to now: delays and minimum clear times that ran out
// while the last value stood, silent sensors, calibration dates, and
// maintenance windows that began or ended.
func (e *Evaluator) Tick(now time.Time) Output {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out Output
	for _, st := range e.order {
		for _, tr := range st.tracks {
			e.advance(tr, now, &out)
		}
		if st.tag != nil {
			continue // no silence, calibration or suppression for tags
		}
		e.checkSilence(st, now, &out)
		e.checkCalibration(st, now, &out)
		e.resuppress(st, now, &out)
	}
	return out
}
