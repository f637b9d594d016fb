package alerts

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// rounds runs Due every step from..to and summarises each call's
// notifications as "+offset: tier/reminder group, …" per distinct tier.
func rounds(b *Book, from, to, step time.Duration, act map[time.Duration]func()) []string {
	var out []string
	for d := from; d <= to; d += step {
		if f := act[d]; f != nil {
			f()
		}
		ns := b.Due(at(d))
		if len(ns) == 0 {
			continue
		}
		var parts []string
		for _, n := range ns {
			p := fmt.Sprintf("t%d", n.Tier)
			if n.Reminder {
				p += "r"
			}
			if n.Due != at(d) {
				p += "@" + n.Due.Sub(t0).String()
			}
			if !slices.Contains(parts, p) {
				parts = append(parts, p)
			}
		}
		out = append(out, fmt.Sprintf("+%s: %s", d, strings.Join(parts, " ")))
	}
	return out
}

func raised(t *testing.T, b *Book, r Rule, p Priority) Alert {
	t.Helper()
	c := change(ChangeRaise, r, 0, 9)
	c.Priority = p
	a, _, err := b.Apply(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestEscalationTiming checks the default policies' timing with simulated
// time (domain-requirements §3 defaults).
func TestEscalationTiming(t *testing.T) {
	newBook := func() *Book {
		b, err := NewBook(BookConfig{}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("high: 0/10/20 min, reminders every 10 min until acknowledged", func(t *testing.T) {
		b := newBook()
		a := raised(t, b, tempRule, PriorityHigh)
		got := rounds(b, 0, 60*minute, minute, map[time.Duration]func(){
			35 * minute: func() {
				if _, _, err := b.Acknowledge(a.ID, "nurse1", staffRoles, "", at(35*minute)); err != nil {
					t.Fatal(err)
				}
			},
		})
		diff(t, "rounds", got, []string{
			"+0s: t1",
			"+10m0s: t1r t2",
			"+20m0s: t1r t2r t3",
			"+30m0s: t1r t2r t3r",
		})
	})
	t.Run("critical: 5-minute cadence", func(t *testing.T) {
		b := newBook()
		raised(t, b, tempRule, PriorityCritical)
		diff(t, "rounds", rounds(b, 0, 15*minute, minute, nil), []string{
			"+0s: t1", "+5m0s: t1r t2", "+10m0s: t1r t2r t3", "+15m0s: t1r t2r t3r",
		})
	})
	t.Run("low: in-app once, no reminders", func(t *testing.T) {
		b := newBook()
		raised(t, b, tempRule, PriorityLow)
		diff(t, "rounds", rounds(b, 0, 3*time.Hour, minute, nil), []string{"+0s: t1"})
		ns := b.Due(at(0))
		_ = ns
	})
	t.Run("a decline brings the next tier forward at once", func(t *testing.T) {
		b := newBook()
		a := raised(t, b, tempRule, PriorityHigh)
		got := rounds(b, 0, 25*minute, minute, map[time.Duration]func(){
			3 * minute: func() {
				if _, au, err := b.Decline(a.ID, "nurse1", staffRoles, "in theatre", at(3*minute)); err != nil || au[0].Action != ActionDecline {
					t.Fatal(err)
				}
			},
		})
		diff(t, "rounds", got, []string{
			"+0s: t1", "+3m0s: t2", "+10m0s: t1r", "+13m0s: t2r t3", "+20m0s: t1r", "+23m0s: t2r t3r",
		})
	})
	t.Run("a decline after the last tier reminds everyone at once", func(t *testing.T) {
		b := newBook()
		a := raised(t, b, tempRule, PriorityHigh)
		got := rounds(b, 0, 26*minute, minute, map[time.Duration]func(){
			25 * minute: func() {
				if _, _, err := b.Decline(a.ID, "nurse1", staffRoles, "", at(25*minute)); err != nil {
					t.Fatal(err)
				}
			},
		})
		diff(t, "rounds", got, []string{"+0s: t1", "+10m0s: t1r t2", "+20m0s: t1r t2r t3", "+25m0s: t1r t2r t3r"})
	})
	t.Run("after a long pause overdue notifications collapse", func(t *testing.T) {
		b := newBook()
		raised(t, b, tempRule, PriorityHigh)
		b.Due(at(0))
		got := rounds(b, 35*minute, 40*minute, minute, nil)
		diff(t, "rounds", got, []string{"+35m0s: t1r@10m0s t2@10m0s t3@20m0s", "+40m0s: t1r t2r t3r"})
	})
	t.Run("shelving pauses escalation; unshelving starts again at tier 1", func(t *testing.T) {
		b := newBook()
		a := raised(t, b, tempRule, PriorityHigh)
		got := rounds(b, 0, 50*minute, minute, map[time.Duration]func(){
			5 * minute: func() {
				if _, _, err := b.Shelve(a.ID, "nurse1", staffRoles, "probe swap", 30*minute, at(5*minute)); err != nil {
					t.Fatal(err)
				}
			},
			35 * minute: func() { b.Tick(at(35 * minute)) },
		})
		diff(t, "rounds", got, []string{"+0s: t1", "+35m0s: t1", "+45m0s: t1r t2"})
	})
	t.Run("a non-latched alert that returns to normal stops escalating", func(t *testing.T) {
		b := newBook()
		raised(t, b, doorRule, PriorityHigh)
		got := rounds(b, 0, 30*minute, minute, map[time.Duration]func(){
			5 * minute: func() { b.Apply(change(ChangeClear, doorRule, 5*minute, 0)) },
		})
		diff(t, "rounds", got, []string{"+0s: t1"})
	})
	t.Run("a latched alert keeps escalating after it returns to normal", func(t *testing.T) {
		b := newBook()
		raised(t, b, tempRule, PriorityHigh)
		got := rounds(b, 0, 10*minute, minute, map[time.Duration]func(){
			5 * minute: func() { b.Apply(change(ChangeClear, tempRule, 5*minute, 0)) },
		})
		diff(t, "rounds", got, []string{"+0s: t1", "+10m0s: t1r t2"})
	})
	t.Run("chattering re-triggers do not restart escalation", func(t *testing.T) {
		b := newBook()
		r := doorRule
		r.Priority = PriorityHigh
		raised(t, b, r, PriorityHigh)
		act := map[time.Duration]func(){}
		for m := 1; m < 25; m += 2 {
			d := time.Duration(m) * minute
			act[d] = func() { b.Apply(change(ChangeClear, r, d, 0)) }
			act[d+minute] = func() { b.Apply(change(ChangeRaise, r, d+minute, 9)) }
		}
		got := rounds(b, 0, 24*minute, minute, act)
		diff(t, "rounds", got, []string{"+0s: t1", "+10m0s: t1r t2", "+20m0s: t1r t2r t3"})
	})
	t.Run("suppressed alerts are not escalated until released", func(t *testing.T) {
		b := newBook()
		c := change(ChangeRaise, doorRule, 0, 9)
		c.Priority = PriorityHigh
		c.Suppression = Suppression{Kind: SuppressDefrost, Reason: "defrost"}
		b.Apply(c)
		got := rounds(b, 0, 20*minute, minute, map[time.Duration]func(){
			12 * minute: func() { b.Apply(change(ChangeUnsuppress, doorRule, 12*minute, 0)) },
		})
		diff(t, "rounds", got, []string{"+12m0s: t1"})
	})
}

// TestNotificationContent checks targets, IDs and text.
func TestNotificationContent(t *testing.T) {
	b, err := NewBook(BookConfig{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := raised(t, b, tempRule, PriorityHigh)
	ns := b.Due(t0)
	if len(ns) != 3 {
		t.Fatalf("%d notifications", len(ns))
	}
	chans := map[Channel]bool{}
	ids := map[string]bool{}
	for _, n := range ns {
		chans[n.Channel] = true
		ids[n.ID] = true
		if n.AlertID != a.ID || n.Group != GroupTeam || n.Team != TeamPharmacy || n.UnitID != 1 || n.Tier != 1 || n.Reminder || !n.Due.Equal(t0) {
			t.Errorf("notification %+v", n)
		}
		if n.Title != "[HIGH] Temperature above 8.0 °C — Fridge 2" {
			t.Errorf("title %q", n.Title)
		}
		if !strings.Contains(n.Text, "Compliance alert") || !strings.Contains(n.Text, "alert 1") {
			t.Errorf("text %q", n.Text)
		}
	}
	if len(chans) != 3 || len(ids) != 3 {
		t.Errorf("channels %v ids %v", chans, ids)
	}
}

// TestPolicies checks policy lookup and validation.
func TestPolicies(t *testing.T) {
	unitTeam := Policy{UnitID: 5, Team: TeamPharmacy, Priority: PriorityHigh, Tiers: []Tier{{Targets: []Target{{Channel: ChannelEmail, Address: "a@example.org"}}}}}
	unit := Policy{UnitID: 5, Priority: PriorityHigh, Tiers: []Tier{{Targets: []Target{{Channel: ChannelEmail, Address: "b@example.org"}}}}}
	team := Policy{Team: TeamPharmacy, Priority: PriorityHigh, Tiers: []Tier{{Targets: []Target{{Channel: ChannelEmail, Address: "c@example.org"}}}}}
	ps := Policies{team, unit, unitTeam}
	if err := ps.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		unit int64
		team Team
		p    Priority
		want string
	}{
		{5, TeamPharmacy, PriorityHigh, "a@example.org"},
		{5, TeamFacilities, PriorityHigh, "b@example.org"},
		{6, TeamPharmacy, PriorityHigh, "c@example.org"},
		{6, TeamFacilities, PriorityHigh, ""}, // the default
	} {
		got := ps.For(tc.unit, tc.team, tc.p).Tiers[0].Targets[0].Address
		if got != tc.want {
			t.Errorf("For(%d, %s, %s) = %q, want %q", tc.unit, tc.team, tc.p, got, tc.want)
		}
	}
	if err := DefaultPolicies().Validate(); err != nil {
		t.Fatal(err)
	}
	tg := []Target{{Channel: ChannelInApp, Group: GroupTeam}}
	for name, p := range map[string]Policies{
		"priority":  {{Priority: "x", Tiers: []Tier{{Targets: tg}}}},
		"team":      {{Priority: PriorityHigh, Team: "x", Tiers: []Tier{{Targets: tg}}}},
		"no tiers":  {{Priority: PriorityHigh}},
		"order":     {{Priority: PriorityHigh, Tiers: []Tier{{After: time.Hour, Targets: tg}, {Targets: tg}}}},
		"no target": {{Priority: PriorityHigh, Tiers: []Tier{{}}}},
		"channel":   {{Priority: PriorityHigh, Tiers: []Tier{{Targets: []Target{{Channel: "sms", Group: "x"}}}}}},
		"both":      {{Priority: PriorityHigh, Tiers: []Tier{{Targets: []Target{{Channel: ChannelEmail, Group: "x", Address: "y"}}}}}},
		"reminder":  {{Priority: PriorityHigh, Reminder: time.Second, Tiers: []Tier{{Targets: tg}}}},
		"duplicate": {{Priority: PriorityHigh, Tiers: []Tier{{Targets: tg}}}, {Priority: PriorityHigh, Tiers: []Tier{{Targets: tg}}}},
	} {
		if err := p.Validate(); wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
	}
}
