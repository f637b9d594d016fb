package alerts

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// TestRulesRoundTrip formats every profile's rules and parses them back.
func TestRulesRoundTrip(t *testing.T) {
	for _, q := range wardwatch.UnitProfiles() {
		p := mustProfile(t, q.Profile)
		b, err := FormatRules(p.Rules)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseRules(b)
		if err != nil {
			t.Fatalf("%s: %v\n%s", q.Profile, err, b)
		}
		if !reflect.DeepEqual(got, p.Rules) {
			t.Errorf("%s: round trip changed the rules:\n%s", q.Profile, b)
		}
	}
	b, _ := FormatRules(nil)
	if string(b) != "[]" {
		t.Errorf("empty set %q", b)
	}
}

// TestParseRulesErrors lists rejected rule sets; every error is EINVALID
// (or ETOOLARGE) with a message for users.
func TestParseRulesErrors(t *testing.T) {
	ok := `{"id":"t","name":"T","category":"environment","priority":"high","metric":"temperature","condition":"above","limit":8,"delay":"15m"}`
	if _, err := ParseRules([]byte("[" + ok + "]")); err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"not json":        `{`,
		"object":          `{"rules":[]}`,
		"null":            `null`,
		"trailing":        `[]x`,
		"unknown field":   `[{"id":"t","name":"T","category":"environment","priority":"high","metric":"temperature","condition":"above","limit":8,"colour":"red"}]`,
		"bad duration":    strings.Replace("["+ok+"]", `"15m"`, `"15 minutes"`, 1),
		"no limit":        `[{"id":"t","name":"T","category":"environment","priority":"high","metric":"temperature","condition":"above"}]`,
		"band limit":      `[{"id":"t","name":"T","category":"environment","priority":"high","metric":"temperature","condition":"outside","limit":3}]`,
		"limit no metric": `[{"id":"t","name":"T","category":"environment","priority":"high","limit":3}]`,
		"no metric":       `[{"id":"t","name":"T","category":"environment","priority":"high"}]`,
		"duplicate":       "[" + ok + "," + ok + "]",
		"invalid rule":    strings.Replace("["+ok+"]", `"high"`, `"urgent"`, 1),
		"string limit":    strings.Replace("["+ok+"]", `8`, `"8"`, 1),
	} {
		_, err := ParseRules([]byte(in))
		if wardwatch.ErrorCode(err) != wardwatch.EINVALID || wardwatch.ErrorMessage(err) == "Internal error." {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := "[" + strings.Repeat(ok+",", MaxRules) + ok + "]"
	if _, err := ParseRules([]byte(big)); wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		t.Errorf("too many rules: %v", err)
	}
	if _, err := ParseRules(make([]byte, MaxRulesSize+1)); wardwatch.ErrorCode(err) != wardwatch.ETOOLARGE {
		t.Errorf("too large: %v", err)
	}
}

// FuzzParseRules checks the rule parser never panics, every refusal is a
// *wardwatch.Error, and whatever it accepts formats and parses back the
// same. Seeds: the profiles' rule sets and testdata/fuzz/FuzzParseRules.
func FuzzParseRules(f *testing.F) {
	for _, q := range wardwatch.UnitProfiles() {
		p, _ := ProfileFor(q.Profile, ProfileOptions{})
		b, _ := FormatRules(p.Rules)
		f.Add(b)
	}
	f.Add([]byte(`[{"id":"hot","name":"Hot","category":"environment","priority":"high","metric":"temperature","condition":"above","limit":8,"delay":"10m","delay_mode":"cumulative","window":"1h"}]`))
	f.Add([]byte(`[{"id":"p","name":"P","category":"environment","priority":"critical","metric":"pressure","condition":"outside","low":-7.5,"high":-2.5,"average":"30s","deadband":0.5}]`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"id":"x","limit":1e400}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rules, err := ParseRules(data)
		if err != nil {
			if code := wardwatch.ErrorCode(err); code != wardwatch.EINVALID && code != wardwatch.ETOOLARGE {
				t.Fatalf("error code %q: %v", code, err)
			}
			return
		}
		b, err := FormatRules(rules)
		if err != nil {
			t.Fatalf("format accepted rules: %v", err)
		}
		again, err := ParseRules(b)
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(again, rules) {
			t.Fatalf("round trip changed the rules:\n%s", b)
		}
	})
}

// TestDiffRules lists setpoint edits for the audit log.
func TestDiffRules(t *testing.T) {
	old := mustProfile(t, wardwatch.ProfileVaccineFridge).Rules
	var edited []Rule
	for _, r := range old {
		switch r.ID {
		case "temperature_high":
			r.Limit, r.Delay = 8.5, 30*time.Minute
		case "door_ajar":
			continue
		}
		edited = append(edited, r)
	}
	edited = append(edited, Rule{ID: "humidity_high", Name: "Humidity", Category: CategoryEnvironment, Priority: PriorityLow,
		Metric: wardwatch.MetricHumidity, Condition: Above, Limit: 80})
	got := DiffRules(old, edited)
	want := []RuleEdit{
		{RuleID: "door_ajar", Field: "rule", Old: "present", New: "removed"},
		{RuleID: "temperature_high", Field: "delay", Old: "15m0s", New: "30m0s"},
		{RuleID: "temperature_high", Field: "limit", Old: "8", New: "8.5"},
		{RuleID: "humidity_high", Field: "rule", New: "added"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if d := DiffRules(old, old); len(d) != 0 {
		t.Errorf("no edits: %+v", d)
	}
}
