package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Limits of ParseRules.
const (
	MaxRulesSize = 1 << 20 // bytes
	MaxRules     = 200
)

// ruleJSON is a rule as stored and edited: durations as Go duration
// strings ("15m", "90s"), limits only where the condition uses them.
type ruleJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Category  Category `json:"category"`
	Priority  Priority `json:"priority"`
	Team      Team     `json:"team,omitempty"`
	Latched   bool     `json:"latched,omitempty"`
	Metric    string   `json:"metric,omitempty"`
	Condition string   `json:"condition,omitempty"`
	Limit     *float64 `json:"limit,omitempty"`
	Low       *float64 `json:"low,omitempty"`
	High      *float64 `json:"high,omitempty"`
	Delay     string   `json:"delay,omitempty"`
	DelayMode string   `json:"delay_mode,omitempty"`
	Window    string   `json:"window,omitempty"`
	Deadband  float64  `json:"deadband,omitempty"`
	MinClear  string   `json:"min_clear,omitempty"`
	Average   string   `json:"average,omitempty"`
}

func durText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// MarshalJSON encodes r with durations as strings ("15m0s").
func (r Rule) MarshalJSON() ([]byte, error) {
	j := ruleJSON{ID: r.ID, Name: r.Name, Category: r.Category, Priority: r.Priority, Team: r.Team, Latched: r.Latched,
		Metric: string(r.Metric), Condition: string(r.Condition), Delay: durText(r.Delay), DelayMode: string(r.DelayMode),
		Window: durText(r.Window), Deadband: r.Deadband, MinClear: durText(r.MinClear), Average: durText(r.Average)}
	if r.IsThreshold() {
		if r.Condition == Outside {
			lo, hi := r.Low, r.High
			j.Low, j.High = &lo, &hi
		} else {
			l := r.Limit
			j.Limit = &l
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a rule, rejecting unknown fields and malformed
// durations; it does not validate (ParseRules does).
func (r *Rule) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j ruleJSON
	if err := dec.Decode(&j); err != nil {
		return err
	}
	var errs []error
	dur := func(field, s string) time.Duration {
		if s == "" {
			return 0
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not a duration like \"15m\" or \"90s\"", field, s))
		}
		return d
	}
	out := Rule{ID: j.ID, Name: j.Name, Category: j.Category, Priority: j.Priority, Team: j.Team, Latched: j.Latched,
		Metric: wardwatch.Metric(j.Metric), Condition: Condition(j.Condition), DelayMode: DelayMode(j.DelayMode),
		Deadband: j.Deadband, Delay: dur("delay", j.Delay), Window: dur("window", j.Window),
		MinClear: dur("min_clear", j.MinClear), Average: dur("average", j.Average)}
	if out.IsThreshold() {
		if out.Condition == Outside {
			if j.Low == nil || j.High == nil || j.Limit != nil {
				errs = append(errs, errors.New(`an "outside" rule takes "low" and "high" (no "limit")`))
			} else {
				out.Low, out.High = *j.Low, *j.High
			}
		} else {
			if j.Limit == nil || j.Low != nil || j.High != nil {
				errs = append(errs, fmt.Errorf("a %q rule takes a \"limit\" (no \"low\" or \"high\")", j.Condition))
			} else {
				out.Limit = *j.Limit
			}
		}
	} else if j.Limit != nil || j.Low != nil || j.High != nil {
		errs = append(errs, errors.New("limits need a metric"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	*r = out
	return nil
}

// ParseRules decodes and validates a unit's threshold rule set: a JSON array
// of rules (at most MaxRules, MaxRulesSize bytes) with unique IDs. Errors
// are *wardwatch.Error: EINVALID saying what is wrong, ETOOLARGE.
func ParseRules(data []byte) ([]Rule, error) {
	if len(data) > MaxRulesSize {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "A rule set is limited to %d bytes.", MaxRulesSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var rules []Rule
	if err := dec.Decode(&rules); err != nil {
		e := wardwatch.Errorf(wardwatch.EINVALID, "The rule set is not valid JSON rules: %s.", jsonMessage(err))
		e.Err = err
		return nil, e
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The rule set has data after its closing bracket.")
	}
	if rules == nil {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "A rule set is a JSON array of rules.")
	}
	if len(rules) > MaxRules {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "A rule set is limited to %d rules.", MaxRules)
	}
	if err := validRuleSet(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// jsonMessage shortens a decoding error for users.
func jsonMessage(err error) string {
	return clip(err.Error(), 200)
}

// FormatRules encodes a rule set as ParseRules reads it, indented.
func FormatRules(rules []Rule) ([]byte, error) {
	if rules == nil {
		rules = []Rule{}
	}
	b, err := json.MarshalIndent(rules, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("format rules: %w", err)
	}
	return b, nil
}

// RuleEdit is one difference between two versions of a unit's rule set,
// for the audit log (domain-requirements §1 defaults: setpoint changes are
// audit events with the old and new value; the caller adds who, when and
// why). Values are as ParseRules reads them; "" means absent.
type RuleEdit struct {
	RuleID string
	Field  string // a JSON field name ("limit", "delay"…), or "rule" when the rule was added or removed
	Old    string
	New    string
}

// DiffRules lists the edits that turn old into new, by rule ID and field
// name.
func DiffRules(old, new []Rule) []RuleEdit {
	fields := func(r Rule) map[string]string {
		b, _ := json.Marshal(r)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = strings.Trim(string(v), `"`)
		}
		return out
	}
	byID := func(rs []Rule) map[string]Rule {
		m := make(map[string]Rule, len(rs))
		for _, r := range rs {
			m[r.ID] = r
		}
		return m
	}
	om, nm := byID(old), byID(new)
	var edits []RuleEdit
	for _, r := range old {
		if _, ok := nm[r.ID]; !ok {
			edits = append(edits, RuleEdit{RuleID: r.ID, Field: "rule", Old: "present", New: "removed"})
		}
	}
	for _, r := range new {
		o, ok := om[r.ID]
		if !ok {
			edits = append(edits, RuleEdit{RuleID: r.ID, Field: "rule", Old: "", New: "added"})
			continue
		}
		of, nf := fields(o), fields(r)
		keys := make([]string, 0, len(of)+len(nf))
		for k := range of {
			keys = append(keys, k)
		}
		for k := range nf {
			if _, ok := of[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			if of[k] != nf[k] {
				edits = append(edits, RuleEdit{RuleID: r.ID, Field: k, Old: of[k], New: nf[k]})
			}
		}
	}
	return edits
}
