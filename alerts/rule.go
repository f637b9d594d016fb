package alerts

import (
	"fmt"
	"math"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Priority is an alert's priority. WardWatch uses five levels
// (domain-requirements §3 defaults): Critical, High, Medium, Low and Info,
// mapped onto IEC 60601-1-8's high/medium/low for device-style export.
type Priority string

// Priorities, highest first.
const (
	PriorityCritical Priority = "critical" // vaccine ≤ 0 °C, AII reversal, blood fridge out of range
	PriorityHigh     Priority = "high"     // other cold-chain excursions, OR RH < 20 %
	PriorityMedium   Priority = "medium"   // sensor offline, low battery, calibration expiring
	PriorityLow      Priority = "low"      // PAR below minimum, PM due
	PriorityInfo     Priority = "info"
)

// Priorities lists every priority, highest first.
func Priorities() []Priority {
	return []Priority{PriorityCritical, PriorityHigh, PriorityMedium, PriorityLow, PriorityInfo}
}

// Valid reports whether p is a known priority.
func (p Priority) Valid() bool { return p.Rank() >= 0 }

// Rank orders priorities: 0 for Critical up to 4 for Info, -1 for an unknown
// priority.
func (p Priority) Rank() int {
	switch p {
	case PriorityCritical:
		return 0
	case PriorityHigh:
		return 1
	case PriorityMedium:
		return 2
	case PriorityLow:
		return 3
	case PriorityInfo:
		return 4
	}
	return -1
}

// Label is the priority as users read it.
func (p Priority) Label() string {
	switch p {
	case PriorityCritical:
		return "Critical"
	case PriorityHigh:
		return "High"
	case PriorityMedium:
		return "Medium"
	case PriorityLow:
		return "Low"
	case PriorityInfo:
		return "Info"
	}
	return string(p)
}

// Device maps p onto IEC 60601-1-8's three alarm priorities (Critical and
// High are high; Low and Info are low).
func (p Priority) Device() wardwatch.Priority {
	switch p {
	case PriorityCritical, PriorityHigh:
		return wardwatch.PriorityHigh
	case PriorityMedium:
		return wardwatch.PriorityMedium
	}
	return wardwatch.PriorityLow
}

// FromDevice maps a device alarm priority (a pump's) onto WardWatch's.
// Unknown priorities are Medium.
func FromDevice(p wardwatch.Priority) Priority {
	switch p {
	case wardwatch.PriorityHigh:
		return PriorityHigh
	case wardwatch.PriorityLow:
		return PriorityLow
	}
	return PriorityMedium
}

// Team is the group of staff an alert is routed to first.
type Team string

// Teams WardWatch routes to.
const (
	TeamPharmacy   Team = "pharmacy"   // vaccine and pharmacy fridges, compounding rooms
	TeamFacilities Team = "facilities" // HVAC, rooms, sensors and gateways
	TeamBiomed     Team = "biomed"     // pumps, tracked equipment, PM
	TeamLab        Team = "lab"        // laboratory and blood-bank units
	TeamEVS        Team = "evs"        // environmental services: linen, trash, cleaning
	TeamNursing    Team = "nursing"
)

// Valid reports whether t is a known team.
func (t Team) Valid() bool {
	switch t {
	case TeamPharmacy, TeamFacilities, TeamBiomed, TeamLab, TeamEVS, TeamNursing:
		return true
	}
	return false
}

// Label is the team as users read it.
func (t Team) Label() string {
	switch t {
	case TeamPharmacy:
		return "Pharmacy"
	case TeamFacilities:
		return "Facilities"
	case TeamBiomed:
		return "Biomed"
	case TeamLab:
		return "Laboratory"
	case TeamEVS:
		return "Environmental services"
	case TeamNursing:
		return "Nursing"
	}
	return string(t)
}

// Category groups rules by what they watch; shelving limits and reports key
// on it.
type Category string

// Rule categories.
const (
	CategoryEnvironment Category = "environment" // temperature, humidity, pressure, doors
	CategoryEquipment   Category = "equipment"   // sensors, gateways, batteries, calibration
	CategoryAsset       Category = "asset"       // tracked equipment: geofences, PAR, PM, missing
	CategoryPump        Category = "pump"        // infusion pumps
)

// Valid reports whether c is a known category.
func (c Category) Valid() bool {
	switch c {
	case CategoryEnvironment, CategoryEquipment, CategoryAsset, CategoryPump:
		return true
	}
	return false
}

// Condition is how a threshold rule compares a value with its limits.
type Condition string

// Conditions. A rule is met when:
const (
	Above     Condition = "above"       // value > Limit
	AtOrAbove Condition = "at_or_above" // value ≥ Limit
	Below     Condition = "below"       // value < Limit
	AtOrBelow Condition = "at_or_below" // value ≤ Limit
	Outside   Condition = "outside"     // value < Low or value > High
)

// Valid reports whether c is a known condition.
func (c Condition) Valid() bool {
	switch c {
	case Above, AtOrAbove, Below, AtOrBelow, Outside:
		return true
	}
	return false
}

// DelayMode is how a rule's delay is counted.
type DelayMode string

// Delay modes (domain-requirements §1.5: vendors differ; we support both and
// show which one a rule uses).
const (
	// Continuous raises when the condition has held without a break for
	// the delay (Berlinger Fridge-tag "single event"). The default.
	Continuous DelayMode = "continuous"
	// Cumulative raises when the condition has held for the delay in
	// total within the rolling Window (Controlant "accumulated").
	Cumulative DelayMode = "cumulative"
)

// Limits on rule parameters, so a typo cannot make a rule that never fires.
const (
	MaxDelay    = 7 * 24 * time.Hour
	MaxMinClear = 24 * time.Hour
	MaxAverage  = time.Hour
)

// Rule is one alarm rule: what raises an alert, at what priority, to which
// team, and how the alert behaves. Threshold rules (the environment rules of
// a unit's profile, and battery rules) use the threshold fields; the
// built-in rules of the other evaluators (sensor silent, gateway offline,
// geofences, pumps…) carry only the descriptive fields and are configured on
// their evaluator.
type Rule struct {
	// ID identifies the rule within its unit (threshold rules) or globally
	// (built-in rules): lower-case letters, digits and "_.:-".
	ID       string
	Name     string // as users read it: "Temperature above 8.0 °C"
	Category Category
	Priority Priority
	// Team is who the alert goes to first; "" means the team of the unit
	// the subject belongs to (or facilities when it has none).
	Team Team
	// Latched alerts stay open after the condition clears until a user
	// resolves them with a note (cause, action, product disposition):
	// compliance alerts (cold-chain excursions, loss of AII pressure).
	Latched bool

	// Threshold rules: the metric judged and how.
	Metric    wardwatch.Metric
	Condition Condition
	Limit     float64 // Above, AtOrAbove, Below, AtOrBelow
	Low, High float64 // Outside
	// Delay is how long the condition must hold before the alert raises;
	// 0 raises on the first reading that meets it.
	Delay     time.Duration
	DelayMode DelayMode     // "" means Continuous
	Window    time.Duration // Cumulative only: the rolling window
	// Deadband is how far back inside the limit (in the metric's unit) a
	// value must be before an active alert may clear (hysteresis).
	Deadband float64
	// MinClear is how long values must stay cleared (inside by the
	// deadband) before an active alert clears.
	MinClear time.Duration
	// Average, when > 0, judges the mean of the readings over that trailing
	// window instead of each raw reading (pressure: 30 s).
	Average time.Duration
}

// IsThreshold reports whether r is a threshold rule (it names a metric).
func (r Rule) IsThreshold() bool { return r.Metric != "" }

// Mode is r's delay mode, Continuous when unset.
func (r Rule) Mode() DelayMode {
	if r.DelayMode == "" {
		return Continuous
	}
	return r.DelayMode
}

// Validate checks r and returns a *wardwatch.Error (EINVALID) saying what is
// wrong.
func (r Rule) Validate() error {
	if err := validID(r.ID); err != nil {
		return err
	}
	bad := func(format string, args ...any) error {
		return wardwatch.Errorf(wardwatch.EINVALID, "Rule %q: %s.", r.ID, fmt.Sprintf(format, args...))
	}
	switch {
	case r.Name == "":
		return bad("a name is required")
	case len(r.Name) > 200:
		return bad("the name is longer than 200 characters")
	case !r.Category.Valid():
		return bad("unknown category %q", r.Category)
	case !r.Priority.Valid():
		return bad("unknown priority %q", r.Priority)
	case r.Team != "" && !r.Team.Valid():
		return bad("unknown team %q", r.Team)
	}
	if !r.IsThreshold() {
		return nil
	}
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case !r.Metric.Valid():
		return bad("unknown metric %q", r.Metric)
	case !r.Condition.Valid():
		return bad("unknown condition %q", r.Condition)
	case r.Condition == Outside && (!finite(r.Low) || !finite(r.High)):
		return bad("the band limits must be numbers")
	case r.Condition == Outside && r.Low >= r.High:
		return bad("the low limit %g must be below the high limit %g", r.Low, r.High)
	case r.Condition != Outside && !finite(r.Limit):
		return bad("the limit must be a number")
	case !finite(r.Deadband) || r.Deadband < 0:
		return bad("the deadband must be zero or more")
	case r.Condition == Outside && r.Low+r.Deadband > r.High-r.Deadband:
		return bad("the deadband %g is wider than half the band", r.Deadband)
	case r.Delay < 0 || r.Delay > MaxDelay:
		return bad("the delay must be between 0 and %s", MaxDelay)
	case r.DelayMode != "" && r.DelayMode != Continuous && r.DelayMode != Cumulative:
		return bad("unknown delay mode %q", r.DelayMode)
	case r.Mode() == Cumulative && (r.Window <= 0 || r.Window > MaxDelay):
		return bad("a cumulative delay needs a window between 0 and %s", MaxDelay)
	case r.Mode() == Cumulative && r.Window < r.Delay:
		return bad("the window %s is shorter than the delay %s", r.Window, r.Delay)
	case r.Mode() == Continuous && r.Window != 0:
		return bad("a window is for cumulative delays only")
	case r.MinClear < 0 || r.MinClear > MaxMinClear:
		return bad("the minimum clear time must be between 0 and %s", MaxMinClear)
	case r.Average < 0 || r.Average > MaxAverage:
		return bad("the averaging window must be between 0 and %s", MaxAverage)
	}
	return nil
}

// validID checks a rule ID: 1–64 characters of a–z, 0–9 and "_.:-".
func validID(id string) error {
	if id == "" || len(id) > 64 {
		return wardwatch.Errorf(wardwatch.EINVALID, "A rule ID must be 1 to 64 characters long.")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return wardwatch.Errorf(wardwatch.EINVALID, "Rule ID %q may use only a–z, 0–9 and _ . : -.", id)
		}
	}
	return nil
}

// met reports whether v meets r's condition (the raise side, no deadband).
func (r Rule) met(v float64) bool {
	switch r.Condition {
	case Above:
		return v > r.Limit
	case AtOrAbove:
		return v >= r.Limit
	case Below:
		return v < r.Limit
	case AtOrBelow:
		return v <= r.Limit
	case Outside:
		return v < r.Low || v > r.High
	}
	return false
}

// cleared reports whether v is back inside r's limits by the deadband (the
// clear side of the hysteresis).
func (r Rule) cleared(v float64) bool {
	d := r.Deadband
	switch r.Condition {
	case Above:
		return v <= r.Limit-d
	case AtOrAbove:
		if d == 0 {
			return v < r.Limit
		}
		return v <= r.Limit-d
	case Below:
		return v >= r.Limit+d
	case AtOrBelow:
		if d == 0 {
			return v > r.Limit
		}
		return v >= r.Limit+d
	case Outside:
		return v >= r.Low+d && v <= r.High-d
	}
	return true
}

// SubjectKind says what an alert is about.
type SubjectKind string

// Subject kinds.
const (
	SubjectSensor     SubjectKind = "sensor"      // ID: the sensor ID
	SubjectUnit       SubjectKind = "unit"        // ID: the monitored unit's decimal ID
	SubjectGateway    SubjectKind = "gateway"     // ID: the gateway's decimal ID
	SubjectDevice     SubjectKind = "device"      // ID: a Modbus device's name
	SubjectAsset      SubjectKind = "asset"       // ID: the asset's decimal ID
	SubjectPump       SubjectKind = "pump"        // ID: the pump's serial
	SubjectPumpTarget SubjectKind = "pump_target" // ID: the SNMP target's decimal ID
	SubjectPAR        SubjectKind = "par"         // ID: the PAR level's ID
	SubjectSystem     SubjectKind = "system"      // ID: a part of WardWatch itself ("telemetry-spool")
)

// Subject is the thing an alert is about.
type Subject struct {
	Kind SubjectKind
	ID   string
}

// String is "kind:id".
func (s Subject) String() string { return string(s.Kind) + ":" + s.ID }

// IsZero reports whether s is unset.
func (s Subject) IsZero() bool { return s.Kind == "" && s.ID == "" }

// Key identifies an alert: at most one is open per (rule, subject).
type Key struct {
	Rule    string
	Subject Subject
}

// String is "rule@kind:id".
func (k Key) String() string { return k.Rule + "@" + k.Subject.String() }

// SuppressionKind says why an alert is suppressed.
type SuppressionKind string

// Suppression kinds.
const (
	// SuppressDesign is suppression by design: a parent (gateway, device,
	// pump server) is offline, so its children's no-data alarms say nothing
	// new.
	SuppressDesign SuppressionKind = "design"
	// SuppressDefrost is a unit's scheduled defrost window: its temperature
	// rules are suppressed.
	SuppressDefrost SuppressionKind = "defrost"
	// SuppressMaintenance is a unit's maintenance window: all its rules.
	SuppressMaintenance SuppressionKind = "maintenance"
	// SuppressOutOfService is a unit taken out of service (an emptied
	// freezer): all its rules, state "out of service".
	SuppressOutOfService SuppressionKind = "out_of_service"
)

// Suppression is why an alert is suppressed; the zero value means it is not.
type Suppression struct {
	Kind   SuppressionKind
	Reason string // "Gateway 12 offline", "Scheduled defrost"
	By     string // the user who set the window; "system" for design
	Until  time.Time
}

// IsZero reports whether s means "not suppressed".
func (s Suppression) IsZero() bool { return s.Kind == "" }

// ChangeType is what a Change does to its alert.
type ChangeType string

// Change types.
const (
	ChangeRaise      ChangeType = "raise"      // the condition became active
	ChangeClear      ChangeType = "clear"      // the condition returned to normal
	ChangeSuppress   ChangeType = "suppress"   // suppression began (Suppression says why)
	ChangeUnsuppress ChangeType = "unsuppress" // suppression ended
)

// Change is an evaluator's verdict on one (rule, subject): its condition
// raised or cleared, or its suppression began or ended. The Book applies
// changes to alerts.
type Change struct {
	Type        ChangeType
	Key         Key
	Rule        Rule
	Priority    Priority // effective priority (a pump alarm's follows the pump)
	Team        Team     // resolved: never ""
	UnitID      int64    // the monitored unit the subject belongs to; 0: none
	SubjectName string   // as users read it; never patient data
	// Time is when the change happened: for a raise, the instant the rule
	// was met (condition start + delay); for a clear, the instant the
	// minimum clear time ran out.
	Time time.Time
	// Since is when the condition began (raise) or when values first
	// returned inside the limits (clear).
	Since time.Time
	// Value is the value that decided the change; Peak and Trough are the
	// highest and lowest values since the condition began. NaN when the
	// rule judges no value (silence, geofence…).
	Value, Peak, Trough float64
	Message             string // one line, no patient data
	// Suppression is set on raises that happen while suppressed and on
	// ChangeSuppress.
	Suppression Suppression
}

// unitText formats v in m's unit: "8.4 °C", "-3.1 Pa", "2.45 V", "1".
func unitText(m wardwatch.Metric, v float64) string {
	if m == wardwatch.MetricBatteryVoltage { // a coin cell's 0.1 V is most of its life
		return fmt.Sprintf("%.2f V", v)
	}
	if u := m.Unit(); u != "" {
		return fmt.Sprintf("%.1f %s", v, u)
	}
	return fmt.Sprintf("%g", v)
}
