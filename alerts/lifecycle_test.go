package alerts

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

var (
	tempRule    = Rule{ID: "temperature_high", Name: "Temperature above 8.0 °C", Category: CategoryEnvironment, Priority: PriorityHigh, Latched: true}
	doorRule    = Rule{ID: "door_ajar", Name: "Door ajar", Category: CategoryEnvironment, Priority: PriorityMedium}
	staffRoles  = []string{"nurse"}
	pharmRoles  = []string{"pharmacy"}
	viewerRoles = []string{"viewer"}
	resolution  = Resolution{Cause: "door left open", Action: "closed door, retrained staff", Disposition: "manufacturer: usable"}
)

func change(typ ChangeType, r Rule, d time.Duration, v float64) Change {
	return Change{Type: typ, Key: Key{Rule: r.ID, Subject: Subject{Kind: SubjectSensor, ID: "f"}}, Rule: r,
		Priority: r.Priority, Team: TeamPharmacy, UnitID: 1, SubjectName: "Fridge 2", Time: at(d), Since: at(d),
		Value: v, Peak: v, Trough: v, Message: fmt.Sprintf("%s %g", typ, v)}
}

// step is one action on the book and what must come of it.
type step struct {
	do    string // raise, clear, ack, shelve, unshelve, resolve, suppress, oos, unsuppress, tick, decline
	t     time.Duration
	arg   string        // ack/shelve/unshelve/resolve/decline: roles ("viewer", "pharmacy"…); shelve: reason ("-" none)
	d     time.Duration // shelve duration
	state State         // the alert's state afterwards ("" when an error is expected)
	err   string        // wanted error code
	res   *Resolution   // resolve: the note (default resolution)
	check func(a Alert) string
}

func playBook(t *testing.T, r Rule, steps []step) (*Book, []Audit) {
	t.Helper()
	b, err := NewBook(BookConfig{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var audits []Audit
	var id int64
	for i, s := range steps {
		roles := staffRoles
		if s.arg != "" && s.do != "shelve" {
			roles = []string{s.arg}
		}
		var a Alert
		var au []Audit
		var err error
		switch s.do {
		case "raise", "clear":
			typ := ChangeRaise
			if s.do == "clear" {
				typ = ChangeClear
			}
			a, au, err = b.Apply(change(typ, r, s.t, 9+float64(i)))
		case "suppress", "oos":
			kind := SuppressDefrost
			if s.do == "oos" {
				kind = SuppressOutOfService
			}
			c := change(ChangeSuppress, r, s.t, math.NaN())
			c.Suppression = Suppression{Kind: kind, Reason: "window", By: "facilities1"}
			a, au, err = b.Apply(c)
		case "raise-suppressed":
			c := change(ChangeRaise, r, s.t, 9)
			c.Suppression = Suppression{Kind: SuppressDesign, Reason: "Gateway 7 offline", By: SystemUser}
			a, au, err = b.Apply(c)
		case "unsuppress":
			a, au, err = b.Apply(change(ChangeUnsuppress, r, s.t, math.NaN()))
		case "ack":
			a, au, err = b.Acknowledge(id, "nurse1", roles, "on it", at(s.t))
		case "decline":
			a, au, err = b.Decline(id, "nurse1", roles, "busy", at(s.t))
		case "shelve":
			reason := s.arg
			if reason == "" {
				reason = "technician replacing the probe"
			} else if reason == "-" {
				reason = ""
			}
			role := staffRoles
			if reason == "viewer" {
				role = viewerRoles
			}
			a, au, err = b.Shelve(id, "nurse1", role, reason, s.d, at(s.t))
		case "unshelve":
			a, au, err = b.Unshelve(id, "nurse1", roles, at(s.t))
		case "resolve":
			res := resolution
			if s.res != nil {
				res = *s.res
			}
			if s.arg == "" {
				roles = pharmRoles
			}
			a, au, err = b.Resolve(id, "pharm1", roles, res, at(s.t))
		case "tick":
			as, aus := b.Tick(at(s.t))
			if len(as) > 0 {
				a = as[len(as)-1]
			} else if g, ok := b.Get(id); ok {
				a = g
			}
			au = aus
		default:
			t.Fatalf("unknown step %q", s.do)
		}
		if s.err != "" {
			if wardwatch.ErrorCode(err) != s.err {
				t.Fatalf("step %d %s: err %v, want %s", i, s.do, err, s.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("step %d %s: %v", i, s.do, err)
		}
		if a.ID != 0 {
			id = a.ID
		}
		if a.State != s.state {
			t.Fatalf("step %d %s: state %s, want %s", i, s.do, a.State, s.state)
		}
		if s.check != nil {
			if msg := s.check(a); msg != "" {
				t.Fatalf("step %d %s: %s", i, s.do, msg)
			}
		}
		audits = append(audits, au...)
	}
	return b, audits
}

// TestLifecycle runs ISA-18.2 transitions (with latching) valid and
// invalid.
func TestLifecycle(t *testing.T) {
	tests := []struct {
		name   string
		rule   Rule
		steps  []step
		audits string // "action:from>to:user" joined by spaces, or "" to skip
	}{{
		name: "raise, acknowledge, clear: normal",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "ack", t: minute, state: StateAck, check: func(a Alert) string {
				if a.AckedBy != "nurse1" || !a.AckedAt.Equal(at(minute)) {
					return fmt.Sprintf("acked by %q at %v", a.AckedBy, a.AckedAt)
				}
				return ""
			}},
			{do: "clear", t: 2 * minute, state: StateNormal, check: func(a Alert) string {
				if !a.Closed() || a.Active {
					return "not closed"
				}
				return ""
			}},
		},
		audits: "raise:normal>unacknowledged:system acknowledge:unacknowledged>acknowledged:nurse1 clear:acknowledged>normal:system",
	}, {
		name: "raise, clear, acknowledge: returned unacknowledged then normal",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "clear", t: minute, state: StateRTNUnack},
			{do: "ack", t: 2 * minute, state: StateNormal},
		},
		audits: "raise:normal>unacknowledged:system clear:unacknowledged>returned_unacknowledged:system acknowledge:returned_unacknowledged>normal:nurse1",
	}, {
		name: "re-trigger while returned: one alert, count and extremes",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "clear", t: minute, state: StateRTNUnack},
			{do: "raise", t: 2 * minute, state: StateUnack, check: func(a Alert) string {
				if a.Retriggers != 1 || a.ID != 1 || a.Peak != 11 || a.Trough != 9 || !a.OpenedAt.Equal(t0) || !a.RaisedAt.Equal(at(2*minute)) {
					return fmt.Sprintf("retriggers %d id %d peak %g trough %g", a.Retriggers, a.ID, a.Peak, a.Trough)
				}
				return ""
			}},
			{do: "raise", t: 3 * minute, state: StateUnack, check: func(a Alert) string {
				if a.Retriggers != 1 || a.Peak != 12 {
					return fmt.Sprintf("a raise of an active alert counted: %d, peak %g", a.Retriggers, a.Peak)
				}
				return ""
			}},
		},
		audits: "raise:normal>unacknowledged:system clear:unacknowledged>returned_unacknowledged:system raise:returned_unacknowledged>unacknowledged:system",
	}, {
		name: "latched: acknowledged and cleared waits for a resolution note",
		rule: tempRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "resolve", t: minute, err: wardwatch.ECONFLICT}, // still active
			{do: "ack", t: minute, state: StateAck},
			{do: "clear", t: 2 * minute, state: StateLatched},
			{do: "ack", t: 3 * minute, err: wardwatch.ECONFLICT},
			{do: "shelve", t: 3 * minute, d: time.Hour, err: wardwatch.ECONFLICT},
			{do: "resolve", t: 4 * minute, res: &Resolution{Cause: "x", Action: "y"}, err: wardwatch.EINVALID},
			{do: "resolve", t: 4 * minute, arg: "nurse", err: wardwatch.EFORBIDDEN},
			{do: "resolve", t: 5 * minute, state: StateNormal, check: func(a Alert) string {
				if a.Resolution.By != "pharm1" || a.Resolution.Cause != resolution.Cause || !a.ClosedAt.Equal(at(5*minute)) {
					return fmt.Sprintf("resolution %+v closed %v", a.Resolution, a.ClosedAt)
				}
				return ""
			}},
		},
		audits: "raise:normal>unacknowledged:system acknowledge:unacknowledged>acknowledged:nurse1 clear:acknowledged>latched:system resolve:latched>normal:pharm1",
	}, {
		name: "latched: returned unacknowledged, resolving acknowledges too",
		rule: tempRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "clear", t: minute, state: StateRTNUnack},
			{do: "ack", t: 2 * minute, state: StateLatched},
			{do: "resolve", t: 3 * minute, state: StateNormal},
		},
	}, {
		name: "latched: raising again after acknowledgement annunciates again",
		rule: tempRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "ack", t: minute, state: StateAck},
			{do: "clear", t: 2 * minute, state: StateLatched},
			{do: "raise", t: 3 * minute, state: StateUnack, check: func(a Alert) string {
				if a.Acked() || a.Retriggers != 1 || !a.AnnunciatedAt.Equal(at(3*minute)) {
					return fmt.Sprintf("acked %v retriggers %d annunciated %v", a.Acked(), a.Retriggers, a.AnnunciatedAt)
				}
				return ""
			}},
		},
	}, {
		name: "shelve expires and re-annunciates while active",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "ack", t: minute, state: StateAck},
			{do: "shelve", t: 2 * minute, d: 30 * minute, state: StateShelved, check: func(a Alert) string {
				if a.Shelf.By != "nurse1" || !a.Shelf.Until.Equal(at(32*minute)) || a.Shelf.Reason == "" {
					return fmt.Sprintf("shelf %+v", a.Shelf)
				}
				return ""
			}},
			{do: "shelve", t: 3 * minute, d: 30 * minute, err: wardwatch.ECONFLICT},
			{do: "tick", t: 31 * minute, state: StateShelved},
			{do: "tick", t: 40 * minute, state: StateUnack, check: func(a Alert) string {
				if !a.AnnunciatedAt.Equal(at(32*minute)) || a.Acked() {
					return fmt.Sprintf("annunciated %v acked %v", a.AnnunciatedAt, a.Acked())
				}
				return ""
			}},
		},
		audits: "raise:normal>unacknowledged:system acknowledge:unacknowledged>acknowledged:nurse1 shelve:acknowledged>shelved:nurse1 unshelve:shelved>unacknowledged:system",
	}, {
		name: "a shelved alert that returns to normal closes",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "shelve", t: minute, state: StateShelved},
			{do: "clear", t: 2 * minute, state: StateNormal},
		},
	}, {
		name: "a shelved latched alert that returns stays for resolution",
		rule: tempRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "shelve", t: minute, d: time.Hour, state: StateShelved},
			{do: "clear", t: 2 * minute, state: StateShelved},
			{do: "unshelve", t: 3 * minute, state: StateRTNUnack},
			{do: "unshelve", t: 4 * minute, err: wardwatch.ECONFLICT},
		},
	}, {
		name: "shelving rules",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "shelve", t: minute, arg: "-", err: wardwatch.EINVALID},
			{do: "shelve", t: minute, d: 9 * time.Hour, err: wardwatch.EINVALID},
			{do: "shelve", t: minute, d: -time.Minute, err: wardwatch.EINVALID},
			{do: "shelve", t: minute, arg: "viewer", err: wardwatch.EFORBIDDEN},
			{do: "shelve", t: minute, state: StateShelved, check: func(a Alert) string {
				if !a.Shelf.Until.Equal(at(61 * minute)) {
					return "default shelving is not 60 min"
				}
				return ""
			}},
			{do: "unshelve", t: 2 * minute, arg: "viewer", err: wardwatch.EFORBIDDEN},
			{do: "unshelve", t: 2 * minute, state: StateUnack},
		},
	}, {
		name: "acknowledgement rules",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "ack", t: minute, arg: "viewer", err: wardwatch.EFORBIDDEN},
			{do: "ack", t: minute, state: StateAck},
			{do: "ack", t: minute, err: wardwatch.ECONFLICT},
			{do: "resolve", t: minute, err: wardwatch.ECONFLICT}, // not latched
			{do: "decline", t: minute, err: wardwatch.ECONFLICT}, // not escalating
		},
	}, {
		name: "suppressed by design, then released while active",
		rule: doorRule,
		steps: []step{
			{do: "raise-suppressed", state: StateSuppressed, check: func(a Alert) string {
				if !a.AnnunciatedAt.IsZero() {
					return "a suppressed raise was annunciated"
				}
				return ""
			}},
			{do: "unsuppress", t: minute, state: StateUnack, check: func(a Alert) string {
				if !a.AnnunciatedAt.Equal(at(minute)) {
					return "not annunciated on release"
				}
				return ""
			}},
		},
		audits: "raise:normal>suppressed:system unsuppress:suppressed>unacknowledged:system",
	}, {
		name: "suppressed alert returning to normal closes",
		rule: doorRule,
		steps: []step{
			{do: "raise-suppressed", state: StateSuppressed},
			{do: "clear", t: minute, state: StateNormal},
		},
	}, {
		name: "out of service and back, acknowledgement kept",
		rule: doorRule,
		steps: []step{
			{do: "raise", state: StateUnack},
			{do: "ack", t: minute, state: StateAck},
			{do: "oos", t: 2 * minute, state: StateOutOfService},
			{do: "shelve", t: 3 * minute, err: wardwatch.ECONFLICT},
			{do: "unsuppress", t: 4 * minute, state: StateAck},
		},
		audits: "raise:normal>unacknowledged:system acknowledge:unacknowledged>acknowledged:nurse1 suppress:acknowledged>out_of_service:facilities1 unsuppress:out_of_service>acknowledged:system",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, audits := playBook(t, tc.rule, tc.steps)
			if tc.audits == "" {
				return
			}
			var got []string
			for _, a := range audits {
				got = append(got, fmt.Sprintf("%s:%s>%s:%s", a.Action, a.From, a.To, a.User))
			}
			if g := strings.Join(got, " "); g != tc.audits {
				t.Errorf("audits:\n got  %s\n want %s", g, tc.audits)
			}
		})
	}
}

// TestBookAudits checks audit records carry the alert, time and reason, and
// that unknown alerts and users are refused.
func TestBookAudits(t *testing.T) {
	b, err := NewBook(BookConfig{}, 41, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, au, err := b.Apply(change(ChangeRaise, doorRule, 0, 1))
	if err != nil || a.ID != 42 || len(au) != 1 {
		t.Fatalf("raise: %+v %v %v", a, au, err)
	}
	_, au, err = b.Shelve(a.ID, "nurse1", staffRoles, "cleaning the unit", 20*time.Minute, at(minute))
	if err != nil {
		t.Fatal(err)
	}
	want := Audit{AlertID: 42, Key: a.Key, Action: ActionShelve, From: StateUnack, To: StateShelved, User: "nurse1", Time: at(minute), Reason: "cleaning the unit"}
	if au[0] != want {
		t.Errorf("audit %+v, want %+v", au[0], want)
	}
	if got := b.Shelved(); len(got) != 1 || got[0].Shelf.By != "nurse1" {
		t.Errorf("shelved list %+v", got)
	}
	if _, _, err := b.Acknowledge(99, "nurse1", staffRoles, "", t0); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Errorf("unknown alert: %v", err)
	}
	for _, user := range []string{"", " ", SystemUser} {
		if _, _, err := b.Acknowledge(42, user, staffRoles, "", t0); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("user %q: %v", user, err)
		}
	}
	for _, c := range []Change{
		{Type: ChangeRaise, Priority: PriorityHigh, Time: t0},
		{Type: ChangeRaise, Key: a.Key, Priority: PriorityHigh},
		{Type: ChangeRaise, Key: a.Key, Priority: "urgent", Time: t0},
		{Type: "explode", Key: a.Key, Priority: PriorityHigh, Time: t0},
		{Type: ChangeSuppress, Key: a.Key, Priority: PriorityHigh, Time: t0},
	} {
		if _, _, err := b.Apply(c); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("Apply(%+v): %v", c, err)
		}
	}
	// A clear of an alert that is not open changes nothing.
	if _, au, err := b.Apply(change(ChangeClear, tempRule, 0, 1)); err != nil || au != nil {
		t.Errorf("clear of nothing: %v %v", au, err)
	}
	// Restore: open alerts come back with their IDs; new IDs go above.
	open := b.Open()
	b2, err := NewBook(BookConfig{}, 10, open)
	if err != nil {
		t.Fatal(err)
	}
	a2, _, _ := b2.Apply(change(ChangeRaise, tempRule, 0, 1))
	if a2.ID != 43 {
		t.Errorf("new ID %d after restore, want 43", a2.ID)
	}
	if _, err := NewBook(BookConfig{}, 0, append(open, open...)); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("duplicate restore: %v", err)
	}
}
