package alerts

import (
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wardwatch/wardwatch"
)

// State is an alert's lifecycle state: ISA-18.2 / IEC 62682 with OPC UA's
// latched state (domain-requirements §3.3).
type State string

// Alert states.
const (
	// StateNormal: closed. The condition is normal and nothing is left to
	// do (acknowledged, or resolved when latched).
	StateNormal State = "normal"
	// StateUnack: active, not acknowledged. Annunciated and escalating.
	StateUnack State = "unacknowledged"
	// StateAck: active, acknowledged.
	StateAck State = "acknowledged"
	// StateRTNUnack: returned to normal without being acknowledged.
	StateRTNUnack State = "returned_unacknowledged"
	// StateLatched: a latched (compliance) alert whose condition cleared
	// and that was acknowledged, waiting for a resolution note.
	StateLatched State = "latched"
	// StateShelved: hidden by a user for a limited time.
	StateShelved State = "shelved"
	// StateSuppressed: suppressed by design (parent offline) or by a
	// defrost or maintenance window.
	StateSuppressed State = "suppressed"
	// StateOutOfService: its unit is out of service.
	StateOutOfService State = "out_of_service"
)

// Label is the state as users read it.
func (s State) Label() string {
	switch s {
	case StateNormal:
		return "Normal"
	case StateUnack:
		return "Unacknowledged"
	case StateAck:
		return "Acknowledged"
	case StateRTNUnack:
		return "Returned to normal, unacknowledged"
	case StateLatched:
		return "Cleared, awaiting resolution"
	case StateShelved:
		return "Shelved"
	case StateSuppressed:
		return "Suppressed"
	case StateOutOfService:
		return "Out of service"
	}
	return string(s)
}

// SystemUser is the user of transitions WardWatch makes itself.
const SystemUser = "system"

// Shelf is a user's timed shelving of an alert; the zero value means not
// shelved.
type Shelf struct {
	By     string
	Reason string
	At     time.Time
	Until  time.Time
}

// Resolution is the note that closes a latched alert: what caused it, what
// was done, and what became of the product (domain-requirements §3
// defaults: acknowledge ≠ resolve).
type Resolution struct {
	Cause       string
	Action      string
	Disposition string // product disposition; "none affected" when no product
	By          string
	At          time.Time
}

// Alert is one alert instance: at most one is open per (rule, subject).
// Raising again while it is open counts a re-trigger and widens its peak and
// trough instead of opening another. The condition (Active) and the human
// side (acknowledged, shelved, resolved) are kept apart; State follows from
// them.
type Alert struct {
	ID          int64
	Key         Key
	Rule        Rule
	Priority    Priority
	Team        Team
	UnitID      int64
	SubjectName string
	State       State

	Active         bool
	Value          float64 // the value of the latest raise or clear (NaN: none)
	Peak, Trough   float64 // extremes over every raise (NaN: none)
	Message        string  // the latest change's message
	OpenedAt       time.Time
	RaisedAt       time.Time // latest raise
	ClearedAt      time.Time // latest clear; zero while active
	ConditionSince time.Time // when the latest condition began
	Retriggers     int

	AckedBy     string
	AckedAt     time.Time
	Shelf       Shelf
	Suppression Suppression
	Resolution  Resolution
	ClosedAt    time.Time

	// AnnunciatedAt is when the alert was last annunciated (raised
	// unsuppressed, unshelved or unsuppressed while active); escalation
	// counts from it. Zero while it has never been annunciated.
	AnnunciatedAt time.Time
	Escalation    Escalation
}

// Acked reports whether the alert is acknowledged.
func (a *Alert) Acked() bool { return !a.AckedAt.IsZero() }

// Shelved reports whether the alert is shelved.
func (a *Alert) Shelved() bool { return !a.Shelf.Until.IsZero() }

// Closed reports whether the alert is closed.
func (a *Alert) Closed() bool { return !a.ClosedAt.IsZero() }

func (a *Alert) state() State {
	switch {
	case a.Closed():
		return StateNormal
	case a.Suppression.Kind == SuppressOutOfService:
		return StateOutOfService
	case !a.Suppression.IsZero():
		return StateSuppressed
	case a.Shelved():
		return StateShelved
	case a.Active && a.Acked():
		return StateAck
	case a.Active:
		return StateUnack
	case !a.Acked():
		return StateRTNUnack
	}
	return StateLatched
}

// Action is what an audit record records.
type Action string

// Audited actions.
const (
	ActionRaise       Action = "raise"
	ActionClear       Action = "clear"
	ActionAcknowledge Action = "acknowledge"
	ActionDecline     Action = "decline"
	ActionShelve      Action = "shelve"
	ActionUnshelve    Action = "unshelve"
	ActionSuppress    Action = "suppress"
	ActionUnsuppress  Action = "unsuppress"
	ActionResolve     Action = "resolve"
)

// Audit records one transition of an alert: who did what, when, why, and
// the state before and after. Compliance audit is append-only.
type Audit struct {
	AlertID int64
	Key     Key
	Action  Action
	From    State
	To      State
	User    string // SystemUser for WardWatch's own transitions
	Time    time.Time
	Reason  string
}

// Default shelving limits (domain-requirements §3 defaults: timed only,
// default 60 min, at most 8 h; proposals).
const (
	DefaultShelve = time.Hour
	MaxShelve     = 8 * time.Hour
)

// BookConfig configures a Book. Zero values take the defaults.
type BookConfig struct {
	Policies      Policies      // nil: DefaultPolicies()
	DefaultShelve time.Duration // shelving time when none is given
	MaxShelve     time.Duration
	// CanAcknowledge, CanShelve and CanResolve decide by the user's roles
	// (wardwatch.Role values); nil uses DefaultCanAcknowledge,
	// DefaultCanShelve and DefaultCanResolve.
	CanAcknowledge func(roles []string, a Alert) bool
	CanShelve      func(roles []string, a Alert) bool
	CanResolve     func(roles []string, a Alert) bool
}

func hasRole(roles []string, allowed ...wardwatch.Role) bool {
	for _, r := range roles {
		for _, a := range allowed {
			if r == string(a) {
				return true
			}
		}
	}
	return false
}

// DefaultCanAcknowledge lets every signed-in role but viewers acknowledge.
func DefaultCanAcknowledge(roles []string, _ Alert) bool {
	return hasRole(roles, wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy,
		wardwatch.RoleBiomed, wardwatch.RoleNurse)
}

// DefaultCanShelve lets every role but viewers shelve (domain-requirements
// §3 defaults: "not available to viewers").
func DefaultCanShelve(roles []string, a Alert) bool { return DefaultCanAcknowledge(roles, a) }

// DefaultCanResolve lets admins and the technical teams (facilities,
// pharmacy, biomed) resolve latched alerts; nurses acknowledge them.
func DefaultCanResolve(roles []string, _ Alert) bool {
	return hasRole(roles, wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed)
}

// Book is the set of open alerts and their lifecycle. Evaluators' changes
// and users' actions go through it; every transition comes back as an Audit
// record, and every call returns the alert as it now is (closed alerts
// leave the book: store them). It is safe for concurrent use.
type Book struct {
	mu     sync.Mutex
	cfg    BookConfig
	lastID int64
	open   map[Key]*Alert
	byID   map[int64]*Alert
}

// NewBook returns a book holding the open alerts (loaded from the store
// after a restart); new alerts get IDs above lastID and above every open
// alert's.
func NewBook(cfg BookConfig, lastID int64, open []Alert) (*Book, error) {
	if cfg.Policies == nil {
		cfg.Policies = DefaultPolicies()
	}
	if err := cfg.Policies.Validate(); err != nil {
		return nil, err
	}
	if cfg.DefaultShelve <= 0 {
		cfg.DefaultShelve = DefaultShelve
	}
	if cfg.MaxShelve <= 0 {
		cfg.MaxShelve = MaxShelve
	}
	if cfg.DefaultShelve > cfg.MaxShelve {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The default shelving time is longer than the maximum.")
	}
	if cfg.CanAcknowledge == nil {
		cfg.CanAcknowledge = DefaultCanAcknowledge
	}
	if cfg.CanShelve == nil {
		cfg.CanShelve = DefaultCanShelve
	}
	if cfg.CanResolve == nil {
		cfg.CanResolve = DefaultCanResolve
	}
	b := &Book{cfg: cfg, lastID: lastID, open: make(map[Key]*Alert), byID: make(map[int64]*Alert)}
	for _, a := range open {
		switch {
		case a.ID <= 0:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "An open alert needs a positive ID.")
		case a.Closed():
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Alert %d is closed.", a.ID)
		case b.byID[a.ID] != nil || b.open[a.Key] != nil:
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Alert %d (%s) is listed twice.", a.ID, a.Key)
		}
		a := clone(a)
		a.State = a.state()
		b.open[a.Key], b.byID[a.ID] = &a, &a
		b.lastID = max(b.lastID, a.ID)
	}
	return b, nil
}

// SetPolicies replaces the escalation policies.
func (b *Book) SetPolicies(ps Policies) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cfg.Policies = ps
	return nil
}

func clone(a Alert) Alert {
	a.Escalation.Reminders = slices.Clone(a.Escalation.Reminders)
	return a
}

// Open returns the open alerts by ID.
func (b *Book) Open() []Alert {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]Alert, 0, len(b.byID))
	for _, a := range b.byID {
		out = append(out, clone(*a))
	}
	slices.SortFunc(out, func(x, y Alert) int { return int(x.ID - y.ID) })
	return out
}

// Shelved returns the shelved alerts by ID, with who shelved them.
func (b *Book) Shelved() []Alert {
	var out []Alert
	for _, a := range b.Open() {
		if a.Shelved() {
			out = append(out, a)
		}
	}
	return out
}

// Get returns open alert id.
func (b *Book) Get(id int64) (Alert, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.byID[id]
	if a == nil {
		return Alert{}, false
	}
	return clone(*a), true
}

// ApplyAll applies changes in order and returns the alerts they touched
// (in order, an alert once per change) and the audit records. Invalid
// changes are skipped; the first error is returned after the rest are
// applied.
func (b *Book) ApplyAll(cs []Change) ([]Alert, []Audit, error) {
	var alerts []Alert
	var audits []Audit
	var first error
	for _, c := range cs {
		a, au, err := b.Apply(c)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if len(au) > 0 {
			alerts = append(alerts, a)
			audits = append(audits, au...)
		}
	}
	return alerts, audits, first
}

// Apply applies an evaluator's change. It returns the alert and the
// transition's audit record; none when the change changes nothing (a raise
// of an active alert only widens its extremes; a clear or unsuppress of an
// alert that is not open is ignored).
func (b *Book) Apply(c Change) (Alert, []Audit, error) {
	switch {
	case c.Key.Rule == "" || c.Key.Subject.Kind == "" || c.Key.Subject.ID == "":
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "A change needs a rule and a subject.")
	case c.Time.IsZero():
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "Change %s has no time.", c.Key)
	case !c.Priority.Valid():
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "Change %s has unknown priority %q.", c.Key, c.Priority)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.open[c.Key]
	switch c.Type {
	case ChangeRaise:
		if a == nil {
			return b.openAlert(c)
		}
		a.widen(c)
		a.Priority = c.Priority
		if a.Active {
			return clone(*a), nil, nil
		}
		from := a.State
		a.Active, a.Retriggers = true, a.Retriggers+1
		a.RaisedAt, a.ClearedAt, a.ConditionSince = c.Time, time.Time{}, c.Since
		// The raise carries the suppression in force now. A latched alert
		// that cleared during a window keeps that window's suppression
		// (no unsuppress comes for an inactive alert): a raise after the
		// window ended must not inherit it.
		stale := !a.Suppression.IsZero() && c.Suppression.IsZero()
		a.Suppression = c.Suppression
		if a.Acked() {
			// A latched alert raising again after its acknowledgement is a
			// new occurrence: annunciate it again.
			a.AckedBy, a.AckedAt = "", time.Time{}
			a.annunciate(c.Time)
		} else if stale && !a.Shelved() {
			a.annunciate(c.Time)
		}
		return b.transition(a, from, ActionRaise, SystemUser, c.Time, c.Message)
	case ChangeClear:
		if a == nil || !a.Active {
			return Alert{}, nil, nil
		}
		from := a.State
		a.widen(c)
		a.Active, a.ClearedAt = false, c.Time
		return b.transition(a, from, ActionClear, SystemUser, c.Time, c.Message)
	case ChangeSuppress:
		if c.Suppression.IsZero() {
			return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "Change %s suppresses without a reason.", c.Key)
		}
		if a == nil || (a.Suppression.Kind == c.Suppression.Kind && a.Suppression.Reason == c.Suppression.Reason) {
			return Alert{}, nil, nil
		}
		from := a.State
		a.Suppression = c.Suppression
		return b.transition(a, from, ActionSuppress, userOr(c.Suppression.By), c.Time, c.Suppression.Reason)
	case ChangeUnsuppress:
		if a == nil || a.Suppression.IsZero() {
			return Alert{}, nil, nil
		}
		from := a.State
		why := a.Suppression.Reason + " ended"
		a.Suppression = Suppression{}
		if a.Shelved() {
			// Still shelved: the shelf's expiry re-annunciates it.
		} else if a.Active && !a.Acked() || !a.Active && a.Rule.Latched && !a.Acked() {
			a.annunciate(c.Time)
		}
		return b.transition(a, from, ActionUnsuppress, SystemUser, c.Time, why)
	}
	return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "Unknown change type %q.", c.Type)
}

func userOr(u string) string {
	if strings.TrimSpace(u) == "" {
		return SystemUser
	}
	return u
}

// openAlert opens a new alert for a raise.
func (b *Book) openAlert(c Change) (Alert, []Audit, error) {
	if c.Type != ChangeRaise {
		return Alert{}, nil, nil
	}
	b.lastID++
	a := &Alert{ID: b.lastID, Key: c.Key, Rule: c.Rule, Priority: c.Priority, Team: c.Team, UnitID: c.UnitID,
		SubjectName: c.SubjectName, Active: true, Value: c.Value, Peak: c.Peak, Trough: c.Trough,
		Message: c.Message, OpenedAt: c.Time, RaisedAt: c.Time, ConditionSince: c.Since,
		Suppression: c.Suppression}
	if a.Suppression.IsZero() {
		a.annunciate(c.Time)
	}
	b.open[a.Key], b.byID[a.ID] = a, a
	return b.transition(a, StateNormal, ActionRaise, SystemUser, c.Time, c.Message)
}

// widen folds a change's values into the alert's.
func (a *Alert) widen(c Change) {
	if !math.IsNaN(c.Value) {
		a.Value = c.Value
	}
	for _, v := range []float64{c.Peak, c.Value} {
		if !math.IsNaN(v) && (math.IsNaN(a.Peak) || v > a.Peak) {
			a.Peak = v
		}
	}
	for _, v := range []float64{c.Trough, c.Value} {
		if !math.IsNaN(v) && (math.IsNaN(a.Trough) || v < a.Trough) {
			a.Trough = v
		}
	}
	if c.Message != "" {
		a.Message = c.Message
	}
	if c.SubjectName != "" {
		a.SubjectName = c.SubjectName
	}
}

// annunciate starts a fresh annunciation: escalation begins again.
func (a *Alert) annunciate(t time.Time) {
	a.AnnunciatedAt = t
	a.Escalation = Escalation{}
}

// transition closes a when nothing is left to do, sets its state, and
// records the transition.
func (b *Book) transition(a *Alert, from State, act Action, user string, t time.Time, reason string) (Alert, []Audit, error) {
	if !a.Active && !a.Closed() {
		done := a.Rule.Latched && !a.Resolution.At.IsZero() ||
			!a.Rule.Latched && (a.Acked() || a.Shelved() || !a.Suppression.IsZero())
		if done {
			a.ClosedAt = t
		}
	}
	a.State = a.state()
	au := Audit{AlertID: a.ID, Key: a.Key, Action: act, From: from, To: a.State, User: user, Time: t, Reason: reason}
	if a.Closed() {
		delete(b.open, a.Key)
		delete(b.byID, a.ID)
	}
	return clone(*a), []Audit{au}, nil
}

// lookup finds open alert id.
func (b *Book) lookup(id int64) (*Alert, error) {
	a := b.byID[id]
	if a == nil {
		return nil, wardwatch.Errorf(wardwatch.ENOTFOUND, "Alert %d is not open.", id)
	}
	return a, nil
}

func needUser(user string) error {
	if strings.TrimSpace(user) == "" || user == SystemUser {
		return wardwatch.Errorf(wardwatch.EINVALID, "The action needs the signed-in user's ID.")
	}
	return nil
}

// Acknowledge records user (with roles) acknowledging alert id at now. An
// alert that returned to normal closes (or, when latched, waits for its
// resolution). Errors: ENOTFOUND, EINVALID (no user), EFORBIDDEN (role),
// ECONFLICT (already acknowledged).
func (b *Book) Acknowledge(id int64, user string, roles []string, note string, now time.Time) (Alert, []Audit, error) {
	if err := needUser(user); err != nil {
		return Alert{}, nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.lookup(id)
	if err != nil {
		return Alert{}, nil, err
	}
	if !b.cfg.CanAcknowledge(roles, *a) {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not acknowledge alerts.")
	}
	if a.Acked() {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d was already acknowledged by %s.", id, a.AckedBy)
	}
	from := a.State
	a.AckedBy, a.AckedAt = user, now
	return b.transition(a, from, ActionAcknowledge, user, now, note)
}

// Decline records user declining alert id at now ("not me"): the next
// escalation tier is notified at once (IHE PCD ACM reject). The state does
// not change. Errors: ENOTFOUND, EINVALID, EFORBIDDEN, ECONFLICT (the alert
// is not escalating: acknowledged, shelved or suppressed).
func (b *Book) Decline(id int64, user string, roles []string, reason string, now time.Time) (Alert, []Audit, error) {
	if err := needUser(user); err != nil {
		return Alert{}, nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.lookup(id)
	if err != nil {
		return Alert{}, nil, err
	}
	if !b.cfg.CanAcknowledge(roles, *a) {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not respond to alerts.")
	}
	if !a.escalating() {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d is not escalating (it is %s).", id, a.State.Label())
	}
	a.decline(b.cfg.Policies.For(a.UnitID, a.Team, a.Priority), now)
	return b.transition(a, a.State, ActionDecline, user, now, reason)
}

// Shelve hides alert id for d (DefaultShelve when 0) at now; user gives a
// reason. Errors: EINVALID (no user or reason, d beyond the maximum),
// EFORBIDDEN (role), ECONFLICT (already shelved, suppressed, or cleared and
// waiting for resolution).
func (b *Book) Shelve(id int64, user string, roles []string, reason string, d time.Duration, now time.Time) (Alert, []Audit, error) {
	if err := needUser(user); err != nil {
		return Alert{}, nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "Shelving needs a reason.")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d == 0 {
		d = b.cfg.DefaultShelve
	}
	if d < 0 || d > b.cfg.MaxShelve {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "An alert may be shelved for up to %s.", fmtDuration(b.cfg.MaxShelve))
	}
	a, err := b.lookup(id)
	if err != nil {
		return Alert{}, nil, err
	}
	if !b.cfg.CanShelve(roles, *a) {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not shelve alerts.")
	}
	switch a.State {
	case StateUnack, StateAck, StateRTNUnack:
	default:
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d cannot be shelved: it is %s.", id, a.State.Label())
	}
	from := a.State
	a.Shelf = Shelf{By: user, Reason: reason, At: now, Until: now.Add(d)}
	return b.transition(a, from, ActionShelve, user, now, reason)
}

// Unshelve returns shelved alert id to view at now. If its condition is
// still active it is annunciated again, unacknowledged. Errors: ENOTFOUND,
// EINVALID, EFORBIDDEN, ECONFLICT (not shelved).
func (b *Book) Unshelve(id int64, user string, roles []string, now time.Time) (Alert, []Audit, error) {
	if err := needUser(user); err != nil {
		return Alert{}, nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.lookup(id)
	if err != nil {
		return Alert{}, nil, err
	}
	if !b.cfg.CanShelve(roles, *a) {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not unshelve alerts.")
	}
	if !a.Shelved() {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d is not shelved.", id)
	}
	return b.unshelve(a, user, now, "unshelved by user")
}

func (b *Book) unshelve(a *Alert, user string, t time.Time, reason string) (Alert, []Audit, error) {
	from := a.State
	a.Shelf = Shelf{}
	if a.Active && a.Suppression.IsZero() {
		// ISA-18.2: the condition persists, so annunciate it again.
		a.AckedBy, a.AckedAt = "", time.Time{}
		a.annunciate(t)
	}
	return b.transition(a, from, ActionUnshelve, user, t, reason)
}

// Resolve closes latched alert id with a resolution note (cause, action,
// product disposition) by user at now; an unacknowledged alert is
// acknowledged by the same act. Errors: EINVALID (missing fields),
// EFORBIDDEN (role), ECONFLICT (not latched, or its condition is still
// active).
func (b *Book) Resolve(id int64, user string, roles []string, res Resolution, now time.Time) (Alert, []Audit, error) {
	if err := needUser(user); err != nil {
		return Alert{}, nil, err
	}
	if strings.TrimSpace(res.Cause) == "" || strings.TrimSpace(res.Action) == "" || strings.TrimSpace(res.Disposition) == "" {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "A resolution needs the cause, the action taken and the product disposition.")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	a, err := b.lookup(id)
	if err != nil {
		return Alert{}, nil, err
	}
	if !b.cfg.CanResolve(roles, *a) {
		return Alert{}, nil, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Your role may not resolve compliance alerts.")
	}
	switch {
	case !a.Rule.Latched:
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d is not a compliance alert: acknowledge it instead.", id)
	case a.Active:
		return Alert{}, nil, wardwatch.Errorf(wardwatch.ECONFLICT, "Alert %d cannot be resolved while its condition is still active.", id)
	}
	from := a.State
	res.By, res.At = user, now
	a.Resolution = res
	if !a.Acked() {
		a.AckedBy, a.AckedAt = user, now
	}
	a.Shelf = Shelf{}
	return b.transition(a, from, ActionResolve, user, now, res.Cause)
}

// Tick unshelves alerts whose shelf ran out by now (at the instant it ran
// out, by SystemUser) and returns them with the audit records.
func (b *Book) Tick(now time.Time) ([]Alert, []Audit) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var due []*Alert
	for _, a := range b.byID {
		if a.Shelved() && !a.Shelf.Until.After(now) {
			due = append(due, a)
		}
	}
	slices.SortFunc(due, func(x, y *Alert) int { return int(x.ID - y.ID) })
	var alerts []Alert
	var audits []Audit
	for _, a := range due {
		al, au, _ := b.unshelve(a, SystemUser, a.Shelf.Until, "shelf expired")
		alerts = append(alerts, al)
		audits = append(audits, au...)
	}
	return alerts, audits
}
