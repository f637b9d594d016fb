package sql

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

func TestPoliciesFormatParse(t *testing.T) {
	ps := append(alerts.DefaultPolicies(), alerts.Policy{UnitID: 3, Team: alerts.TeamBiomed, Priority: alerts.PriorityLow,
		Reminder: 2 * time.Hour, Tiers: []alerts.Tier{{After: 90 * time.Second, Targets: []alerts.Target{{Channel: alerts.ChannelEmail, Address: "biomed@example.org"}}}}})
	doc, err := formatPolicies(ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"after": "10m0s"`, `"reminder": "2h0m0s"`, `"after": "1m30s"`, `"unit_id": 3`} {
		if !bytes.Contains(doc, []byte(want)) {
			t.Errorf("formatted policies lack %s:\n%s", want, doc)
		}
	}
	got, err := parsePolicies(doc)
	if err != nil || !reflect.DeepEqual(got, ps) {
		t.Fatalf("parsePolicies(formatPolicies(ps)) = %+v, %v\nwant %+v", got, err, ps)
	}
	if again, _ := formatPolicies(got); !bytes.Equal(again, doc) {
		t.Fatalf("formatting is not stable:\n%s\nthen\n%s", doc, again)
	}

	for name, tc := range map[string]struct {
		doc, code string
	}{
		"empty":            {``, wardwatch.EINVALID},
		"null":             {`null`, wardwatch.EINVALID},
		"object":           {`{}`, wardwatch.EINVALID},
		"trailing data":    {`[] []`, wardwatch.EINVALID},
		"unknown field":    {`[{"priority":"high","tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}],"escalate":true}]`, wardwatch.EINVALID},
		"bad duration":     {`[{"priority":"high","tiers":[{"after":"10 minutes","targets":[{"channel":"in_app","group":"team"}]}]}]`, wardwatch.EINVALID},
		"bad reminder":     {`[{"priority":"high","reminder":"often","tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}]}]`, wardwatch.EINVALID},
		"no tiers":         {`[{"priority":"high","tiers":[]}]`, wardwatch.EINVALID},
		"unknown priority": {`[{"priority":"urgent","tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}]}]`, wardwatch.EINVALID},
		"tiers out of order": {`[{"priority":"high","tiers":[{"after":"5m","targets":[{"channel":"in_app","group":"team"}]},
			{"after":"1m","targets":[{"channel":"in_app","group":"team"}]}]}]`, wardwatch.EINVALID},
		"group and address": {`[{"priority":"high","tiers":[{"after":"0s","targets":[{"channel":"email","group":"team","address":"a@b"}]}]}]`, wardwatch.EINVALID},
		"too large":         {`[` + strings.Repeat(" ", maxPoliciesSize) + `]`, wardwatch.ETOOLARGE},
	} {
		_, err := parsePolicies([]byte(tc.doc))
		if got := wardwatch.ErrorCode(err); got != tc.code || wardwatch.ErrorMessage(err) == "" {
			t.Errorf("parsePolicies(%s) = %v (code %q), want code %q", name, err, got, tc.code)
		}
	}
	if ps, err := parsePolicies([]byte(`[]`)); err != nil || ps == nil || len(ps) != 0 {
		t.Errorf("parsePolicies([]) = %#v, %v; want an empty set", ps, err)
	}
}

// FuzzPolicies checks that parsePolicies never panics, refuses with a
// user-facing error, and that whatever it accepts formats to a stable
// document that parses back to the same policies.
func FuzzPolicies(f *testing.F) {
	def, err := formatPolicies(alerts.DefaultPolicies())
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(def),
		`[]`,
		`null`,
		`[{"priority":"high","tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}]}]`,
		`[{"unit_id":4,"team":"lab","priority":"critical","reminder":"5m","tiers":[{"after":"0s","targets":[{"channel":"webhook","address":"pager"}]},{"after":"1h","targets":[{"channel":"email","group":"on_call"}]}]}]`,
		`[{"priority":"low","tiers":[{"after":"-1s","targets":[{"channel":"in_app","group":"team"}]}]}]`,
		`[{"priority":"medium","reminder":"30s","tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}]}]`,
		`[{"priority":"high","tiers":[{"after":"9223372036854775807ns","targets":[{"channel":"sms","group":"team"}]}]}]`,
		`[{"priority":"high","tiers":[{"after":"1.5h","targets":[{"channel":"email","address":"a@b"}]}]},{"priority":"high","tiers":[]}]`,
		`[{"priority":"info","unit_id":-1,"tiers":[{"after":"0s","targets":[{"channel":"in_app","group":"team"}]}]}] x`,
		`{"priority":"high"}`,
		"[{\"priority\":\"high\",\"tiers\":[{\"after\":\"0s\",\"targets\":[{\"channel\":\"in_app\",\"group\":\"\xff\x00\"}]}]}]",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, err := parsePolicies(data)
		if err != nil {
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ETOOLARGE {
				t.Fatalf("parsePolicies error %v has code %q", err, code)
			}
			if wardwatch.ErrorMessage(err) == "" {
				t.Fatalf("parsePolicies error %v has no message", err)
			}
			return
		}
		doc, err := formatPolicies(ps)
		if err != nil {
			t.Fatalf("formatPolicies of parsed policies: %v", err)
		}
		again, err := parsePolicies(doc)
		if err != nil {
			t.Fatalf("parsePolicies of formatted policies: %v\n%s", err, doc)
		}
		if !reflect.DeepEqual(normPolicies(again), normPolicies(ps)) {
			t.Fatalf("round trip changed the policies:\n%+v\n%+v", ps, again)
		}
		if doc2, _ := formatPolicies(again); !bytes.Equal(doc, doc2) {
			t.Fatalf("formatting is not stable:\n%s\n%s", doc, doc2)
		}
	})
}

// normPolicies makes empty and nil slices alike.
func normPolicies(ps alerts.Policies) alerts.Policies {
	out := make(alerts.Policies, 0, len(ps))
	for _, p := range ps {
		q := p
		q.Tiers = nil
		for _, t := range p.Tiers {
			u := alerts.Tier{After: t.After}
			u.Targets = append(u.Targets, t.Targets...)
			q.Tiers = append(q.Tiers, u)
		}
		out = append(out, q)
	}
	return out
}

// FuzzStoredAlertJSON checks that the parsers of the JSON columns the alert
// tables hold (escalation progress, troubleshooting records, PAR zone
// lists) never panic on whatever a damaged database holds, and that what
// they accept formats back to something they read the same.
func FuzzStoredAlertJSON(f *testing.F) {
	for _, seed := range []string{
		`{"tiers":2,"shift_ns":90000000000,"reminders":["2026-03-02T08:10:00.000001Z","0001-01-01T00:00:00Z"]}`,
		`{"reporter_name":"Al","unit_temp_discovered":9.5,"discovered_at":"2026-03-02T08:05:00Z"}`,
		`{"discovered_at":"yesterday"}`,
		`[1,2,3]`, `[]`, `null`, `{"tiers":-1}`, `[1e400]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := parseEscalation(string(data)); err == nil {
			doc, err := formatEscalation(e)
			if err != nil {
				t.Fatalf("formatEscalation: %v", err)
			}
			if e2, err := parseEscalation(doc); err != nil || !same(normEscalation(e2), normEscalation(e)) {
				t.Fatalf("escalation round trip: %+v, %v; want %+v", e2, err, e)
			}
		}
		if tr, err := parseTroubleshooting(string(data), alerts.DispositionUsed); err == nil {
			doc, err := formatTroubleshooting(tr)
			if err != nil {
				t.Fatalf("formatTroubleshooting: %v", err)
			}
			if tr2, err := parseTroubleshooting(doc, alerts.DispositionUsed); err != nil || !same(normTroubleshooting(tr2), normTroubleshooting(tr)) {
				t.Fatalf("troubleshooting round trip: %+v, %v; want %+v", tr2, err, tr)
			}
		}
		if zs, err := parseZoneIDs(string(data)); err == nil {
			if zs2, err := parseZoneIDs(formatZoneIDs(zs)); err != nil || !reflect.DeepEqual(zs2, zs) {
				t.Fatalf("zone IDs round trip: %v, %v; want %v", zs2, err, zs)
			}
		}
	})
}

// normEscalation is e with its times as the store keeps them.
func normEscalation(e alerts.Escalation) alerts.Escalation {
	var rs []time.Time
	for _, r := range e.Reminders {
		rs = append(rs, normTime(r))
	}
	e.Reminders = rs
	return e
}

// normTroubleshooting is t with its times as the store keeps them.
func normTroubleshooting(t alerts.Troubleshooting) alerts.Troubleshooting {
	t.DiscoveredAt, t.ReturnedToStorage = normTime(t.DiscoveredAt), normTime(t.ReturnedToStorage)
	return t
}
