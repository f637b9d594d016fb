package alerts

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Channel is how a notification is delivered.
type Channel string

// Channels.
const (
	ChannelInApp   Channel = "in_app"  // the web UI's live inbox (websocket)
	ChannelWebhook Channel = "webhook" // JSON POST, HMAC-signed (nurse call, paging middleware)
	ChannelEmail   Channel = "email"   // e-mail over SMTP
)

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool { return c == ChannelInApp || c == ChannelWebhook || c == ChannelEmail }

// Recipient groups a Target may name; the caller expands them to people
// (by team and unit) when it delivers.
const (
	GroupTeam       = "team"       // the alert's team on shift (unit owner group)
	GroupSupervisor = "supervisor" // supervisor / charge
	GroupOnCall     = "on_call"    // facilities, pharmacy or biomed on call
)

// Target is who a tier notifies and how: a group (expanded by the caller
// for the alert's team and unit) or a fixed address (an e-mail address, a
// webhook endpoint's name).
type Target struct {
	Channel Channel
	Group   string
	Address string
}

// Tier is one step of an escalation: its targets are notified After the
// alert is annunciated, if it is still unacknowledged.
type Tier struct {
	After   time.Duration
	Targets []Target
}

// Policy is an escalation policy for alerts of one priority, optionally of
// one unit and one team. Tiers run in order; every notified tier is
// reminded every Reminder (0: never) until someone acknowledges.
type Policy struct {
	UnitID   int64 // 0: any unit
	Team     Team  // "": any team
	Priority Priority
	Tiers    []Tier
	Reminder time.Duration
}

// Policies is a set of escalation policies.
type Policies []Policy

// DefaultPolicies are the escalation defaults of domain-requirements §3
// (proposals): High notifies the team at once, the supervisor at 10 min,
// on-call at 20 min, and reminds every 10 min; Critical runs the same on a
// 5-minute cadence. Medium (our proposal) notifies the team at once and the
// supervisor after an hour, reminding hourly; Low and Info appear in the
// inbox only.
func DefaultPolicies() Policies {
	page := func(group string) []Target {
		return []Target{{Channel: ChannelInApp, Group: group}, {Channel: ChannelEmail, Group: group}, {Channel: ChannelWebhook, Group: group}}
	}
	chain := func(p Priority, step, reminder time.Duration) Policy {
		return Policy{Priority: p, Reminder: reminder, Tiers: []Tier{
			{After: 0, Targets: page(GroupTeam)},
			{After: step, Targets: page(GroupSupervisor)},
			{After: 2 * step, Targets: page(GroupOnCall)},
		}}
	}
	return Policies{
		chain(PriorityCritical, 5*time.Minute, 5*time.Minute),
		chain(PriorityHigh, 10*time.Minute, 10*time.Minute),
		{Priority: PriorityMedium, Reminder: time.Hour, Tiers: []Tier{
			{After: 0, Targets: []Target{{Channel: ChannelInApp, Group: GroupTeam}, {Channel: ChannelEmail, Group: GroupTeam}}},
			{After: time.Hour, Targets: []Target{{Channel: ChannelInApp, Group: GroupSupervisor}, {Channel: ChannelEmail, Group: GroupSupervisor}}},
		}},
		{Priority: PriorityLow, Tiers: []Tier{{Targets: []Target{{Channel: ChannelInApp, Group: GroupTeam}}}}},
		{Priority: PriorityInfo, Tiers: []Tier{{Targets: []Target{{Channel: ChannelInApp, Group: GroupTeam}}}}},
	}
}

// Validate checks every policy (EINVALID): a known priority and team, tiers
// in order of delay with at least one valid target each, no two policies
// for the same (unit, team, priority).
func (ps Policies) Validate() error {
	type key struct {
		unit int64
		team Team
		p    Priority
	}
	seen := make(map[key]bool)
	for _, p := range ps {
		k := key{p.UnitID, p.Team, p.Priority}
		switch {
		case !p.Priority.Valid():
			return wardwatch.Errorf(wardwatch.EINVALID, "An escalation policy has unknown priority %q.", p.Priority)
		case p.Team != "" && !p.Team.Valid():
			return wardwatch.Errorf(wardwatch.EINVALID, "An escalation policy has unknown team %q.", p.Team)
		case p.UnitID < 0:
			return wardwatch.Errorf(wardwatch.EINVALID, "An escalation policy has a negative unit ID.")
		case len(p.Tiers) == 0 || len(p.Tiers) > 10:
			return wardwatch.Errorf(wardwatch.EINVALID, "An escalation policy has 1 to 10 tiers.")
		case p.Reminder < 0 || p.Reminder > 0 && p.Reminder < time.Minute:
			return wardwatch.Errorf(wardwatch.EINVALID, "Reminders repeat every minute or less often.")
		case seen[k]:
			return wardwatch.Errorf(wardwatch.EINVALID, "Two escalation policies cover unit %d, team %q, priority %s.", p.UnitID, p.Team, p.Priority)
		}
		seen[k] = true
		for i, t := range p.Tiers {
			if t.After < 0 || i > 0 && t.After < p.Tiers[i-1].After {
				return wardwatch.Errorf(wardwatch.EINVALID, "Escalation tiers must come in order of their delay.")
			}
			if len(t.Targets) == 0 {
				return wardwatch.Errorf(wardwatch.EINVALID, "Escalation tier %d has no one to notify.", i+1)
			}
			for _, tg := range t.Targets {
				if !tg.Channel.Valid() || (tg.Group == "") == (tg.Address == "") {
					return wardwatch.Errorf(wardwatch.EINVALID, "An escalation target needs a channel and either a group or an address.")
				}
			}
		}
	}
	return nil
}

// For returns the policy for an alert of unit, team and priority: the most
// specific match (unit and team, then unit, then team, then any), else the
// default policy for the priority.
func (ps Policies) For(unit int64, team Team, p Priority) Policy {
	best, score := -1, -1
	for i, q := range ps {
		if q.Priority != p || q.UnitID != 0 && q.UnitID != unit || q.Team != "" && q.Team != team {
			continue
		}
		s := 0
		if q.UnitID != 0 {
			s += 2
		}
		if q.Team != "" {
			s++
		}
		if s > score {
			best, score = i, s
		}
	}
	if best >= 0 {
		return ps[best]
	}
	for _, q := range DefaultPolicies() {
		if q.Priority == p {
			return q
		}
	}
	return Policy{Priority: p, Tiers: []Tier{{Targets: []Target{{Channel: ChannelInApp, Group: GroupTeam}}}}}
}

// Escalation is an alert's progress through its policy since it was last
// annunciated. Store it with the alert.
type Escalation struct {
	Tiers int // tiers notified so far
	// Shift brings later tiers forward after a decline.
	Shift time.Duration
	// Reminders holds, per notified tier, when its next reminder is due.
	Reminders []time.Time
}

// escalating reports whether notifications are due for a: annunciated,
// unacknowledged, not shelved or suppressed, and either active or latched.
func (a *Alert) escalating() bool {
	return !a.Closed() && !a.Acked() && !a.Shelved() && a.Suppression.IsZero() &&
		!a.AnnunciatedAt.IsZero() && (a.Active || a.Rule.Latched)
}

// decline brings the next tier forward to now; when every tier has been
// notified, every tier is reminded now.
func (a *Alert) decline(p Policy, now time.Time) {
	es := &a.Escalation
	if es.Tiers < len(p.Tiers) {
		due := a.AnnunciatedAt.Add(p.Tiers[es.Tiers].After - es.Shift)
		if due.After(now) {
			es.Shift += due.Sub(now)
		}
		return
	}
	for i := range es.Reminders {
		es.Reminders[i] = now
	}
}

// Notification is one message due to one target.
type Notification struct {
	// ID identifies the notification (alert, tier, due time, target), so
	// a receiver can drop duplicates of retried deliveries.
	ID       string
	AlertID  int64
	Key      Key
	Tier     int  // 1-based
	Reminder bool // a reminder of an earlier notification of this tier
	Channel  Channel
	Group    string // expand for Team and UnitID
	Address  string
	Team     Team
	UnitID   int64
	Priority Priority
	State    State
	Due      time.Time // when it fell due
	Title    string    // one line
	Text     string    // a few lines; never patient data
}

// Due advances every escalating alert's escalation to now and returns the
// notifications that fell due, by alert ID, tier and target. Tiers fall due
// After their alert was annunciated (brought forward by declines); after a
// tier is notified it is reminded every Reminder until someone acknowledges.
// Call it every few seconds; after a long pause overdue reminders collapse
// into one.
func (b *Book) Due(now time.Time) []Notification {
	b.mu.Lock()
	defer b.mu.Unlock()
	ids := make([]int64, 0, len(b.byID))
	for id, a := range b.byID {
		if a.escalating() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []Notification
	for _, id := range ids {
		a := b.byID[id]
		out = append(out, a.escalate(b.cfg.Policies.For(a.UnitID, a.Team, a.Priority), now)...)
	}
	return out
}

// escalate returns a's notifications due by now and records them.
func (a *Alert) escalate(p Policy, now time.Time) []Notification {
	es := &a.Escalation
	var out []Notification
	// Reminders of tiers notified before this call.
	for i := range es.Reminders {
		if p.Reminder <= 0 || i >= len(p.Tiers) || es.Reminders[i].After(now) {
			continue
		}
		due := es.Reminders[i]
		out = append(out, a.notifications(p.Tiers[i], i, true, due)...)
		es.Reminders[i] = nextReminder(due, p.Reminder, now)
	}
	// Tiers that fell due.
	for es.Tiers < len(p.Tiers) {
		due := a.AnnunciatedAt.Add(p.Tiers[es.Tiers].After - es.Shift)
		if due.After(now) {
			break
		}
		out = append(out, a.notifications(p.Tiers[es.Tiers], es.Tiers, false, due)...)
		es.Reminders = append(es.Reminders, nextReminder(due, p.Reminder, now))
		es.Tiers++
	}
	return out
}

// nextReminder is the first instant on the cadence due + k·every (k ≥ 1)
// after now; overdue reminders collapse into the one just sent.
func nextReminder(due time.Time, every time.Duration, now time.Time) time.Time {
	if every <= 0 {
		return time.Time{}
	}
	next := due.Add(every)
	if !next.After(now) {
		next = now.Add(every - now.Sub(due)%every)
	}
	return next
}

func (a *Alert) notifications(t Tier, tier int, reminder bool, due time.Time) []Notification {
	title := fmt.Sprintf("[%s] %s — %s", strings.ToUpper(a.Priority.Label()), a.Rule.Name, a.SubjectName)
	if reminder {
		title = "Reminder: " + title
	}
	var text strings.Builder
	fmt.Fprintf(&text, "%s\n", a.Message)
	fmt.Fprintf(&text, "State: %s. Raised %s", a.State.Label(), a.RaisedAt.UTC().Format("2006-01-02 15:04:05 UTC"))
	if a.Retriggers > 0 {
		fmt.Fprintf(&text, ", re-triggered %d times", a.Retriggers)
	}
	text.WriteString(".\n")
	if a.Rule.Latched {
		text.WriteString("Compliance alert: it stays open until resolved with a note (cause, action, product disposition).\n")
	}
	fmt.Fprintf(&text, "Escalation tier %d. Acknowledge in WardWatch (alert %d).", tier+1, a.ID)
	out := make([]Notification, 0, len(t.Targets))
	for _, tg := range t.Targets {
		who := tg.Group
		if who == "" {
			who = tg.Address
		}
		out = append(out, Notification{
			ID:      fmt.Sprintf("%d-%d-%d-%s-%s", a.ID, tier+1, due.UnixMilli(), tg.Channel, who),
			AlertID: a.ID, Key: a.Key, Tier: tier + 1, Reminder: reminder,
			Channel: tg.Channel, Group: tg.Group, Address: tg.Address,
			Team: a.Team, UnitID: a.UnitID, Priority: a.Priority, State: a.State, Due: due,
			Title: title, Text: text.String(),
		})
	}
	return out
}

// Contact is a person or service a group target reaches: the team on shift
// for a team (and optionally one unit), its supervisor or charge, or the
// on-call engineer. Email is used by e-mail targets; Webhook names a
// configured webhook endpoint for webhook targets.
type Contact struct {
	ID      int64
	Name    string
	Group   string // GroupTeam, GroupSupervisor or GroupOnCall
	Team    Team
	UnitID  int64 // 0: every unit of the team
	Email   string
	Webhook string
	Enabled bool
}

// Validate checks c (EINVALID): a name, a known group and team, and an
// e-mail address or a webhook endpoint.
func (c Contact) Validate() error {
	switch {
	case strings.TrimSpace(c.Name) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "A contact needs a name.")
	case c.Group != GroupTeam && c.Group != GroupSupervisor && c.Group != GroupOnCall:
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose the contact's role: team, supervisor or on call.")
	case !c.Team.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose the contact's team.")
	case c.UnitID < 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "The unit is not valid.")
	case strings.TrimSpace(c.Email) == "" && strings.TrimSpace(c.Webhook) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "A contact needs an e-mail address or a webhook endpoint.")
	case c.Email != "" && !strings.Contains(c.Email, "@"):
		return wardwatch.Errorf(wardwatch.EINVALID, "%q is not an e-mail address.", c.Email)
	}
	return nil
}

// Expand turns a group notification into one notification per contact who
// receives it (same team, same unit or every unit, enabled, with an address
// for the channel), with Address set. Notifications that already carry an
// Address, and in-app ones (the inbox shows every alert to its viewers),
// come back as they are. A group with nobody in it expands to nothing: the
// caller counts and logs that.
func Expand(n Notification, contacts []Contact) []Notification {
	if n.Address != "" || n.Channel == ChannelInApp {
		return []Notification{n}
	}
	var out []Notification
	seen := map[string]bool{}
	for _, c := range contacts {
		if !c.Enabled || c.Group != n.Group || c.Team != n.Team || (c.UnitID != 0 && c.UnitID != n.UnitID) {
			continue
		}
		addr := c.Email
		if n.Channel == ChannelWebhook {
			addr = c.Webhook
		}
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		m := n
		m.Address = addr
		m.ID = n.ID + "/" + addr
		out = append(out, m)
	}
	return out
}
