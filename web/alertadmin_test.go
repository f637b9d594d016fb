package web

import (
	"context"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// fakeAlertSettings is an in-memory AlertSettings with the real store's
// error codes.
type fakeAlertSettings struct {
	mu       sync.Mutex
	rules    map[int64][]alerts.Rule
	policies alerts.Policies
	windows  []alerts.Window
	scheds   []alerts.Schedule // schedules_test.go
	contacts []alerts.Contact
	par      []alerts.PARLevel
	nextID   int64
}

func newFakeAlertSettings() *fakeAlertSettings {
	return &fakeAlertSettings{rules: map[int64][]alerts.Rule{}, nextID: 100}
}

func (s *fakeAlertSettings) UnitRules(context.Context) (map[int64][]alerts.Rule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int64][]alerts.Rule, len(s.rules))
	for k, v := range s.rules {
		out[k] = slices.Clone(v)
	}
	return out, nil
}

func (s *fakeAlertSettings) SetUnitRules(_ context.Context, unitID int64, rules []alerts.Rule) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rules == nil {
		delete(s.rules, unitID)
		return nil
	}
	s.rules[unitID] = slices.Clone(rules)
	return nil
}

func (s *fakeAlertSettings) EscalationPolicies(context.Context) (alerts.Policies, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.policies), nil
}

func (s *fakeAlertSettings) SetEscalationPolicies(_ context.Context, ps alerts.Policies) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies = slices.Clone(ps)
	return nil
}

func (s *fakeAlertSettings) AlertWindows(context.Context) ([]alerts.Window, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.windows), nil
}

func (s *fakeAlertSettings) SaveAlertWindow(_ context.Context, w alerts.Window) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	w.ID = s.nextID
	s.windows = append(s.windows, w)
	return w.ID, nil
}

func (s *fakeAlertSettings) DeleteAlertWindow(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.windows, func(w alerts.Window) bool { return w.ID == id })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "window %d not found", id)
	}
	s.windows = slices.Delete(s.windows, i, i+1)
	return nil
}

func (s *fakeAlertSettings) Contacts(context.Context) ([]alerts.Contact, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.contacts), nil
}

func (s *fakeAlertSettings) SaveContact(_ context.Context, c alerts.Contact) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == 0 {
		s.nextID++
		c.ID = s.nextID
		s.contacts = append(s.contacts, c)
		return c.ID, nil
	}
	i := slices.IndexFunc(s.contacts, func(x alerts.Contact) bool { return x.ID == c.ID })
	if i < 0 {
		return 0, wardwatch.Errorf(wardwatch.ENOTFOUND, "contact %d not found", c.ID)
	}
	s.contacts[i] = c
	return c.ID, nil
}

func (s *fakeAlertSettings) DeleteContact(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.contacts, func(x alerts.Contact) bool { return x.ID == id })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "contact %d not found", id)
	}
	s.contacts = slices.Delete(s.contacts, i, i+1)
	return nil
}

func (s *fakeAlertSettings) PARLevels(context.Context) ([]alerts.PARLevel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.par), nil
}

func (s *fakeAlertSettings) SavePARLevel(_ context.Context, p alerts.PARLevel) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i := slices.IndexFunc(s.par, func(x alerts.PARLevel) bool { return x.ID == p.ID }); i >= 0 {
		s.par[i] = p
		return nil
	}
	s.par = append(s.par, p)
	return nil
}

func (s *fakeAlertSettings) DeletePARLevel(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.par, func(x alerts.PARLevel) bool { return x.ID == id })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "PAR level %q not found", id)
	}
	s.par = slices.Delete(s.par, i, i+1)
	return nil
}

// settingsUnits is a DeviceStore holding only monitored units (the other
// methods are not used by the alert settings pages).
type settingsUnits struct {
	DeviceStore
	units []wardwatch.MonitoredUnit
}

func (s *settingsUnits) Units(context.Context) ([]wardwatch.MonitoredUnit, error) {
	return slices.Clone(s.units), nil
}

// settingsAudit records audit entries.
type settingsAudit struct {
	mu      sync.Mutex
	entries []wardwatch.AuditEntry
}

func (a *settingsAudit) AppendAudit(_ context.Context, e *wardwatch.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, *e)
	return nil
}

func (a *settingsAudit) AuditLog(context.Context, wardwatch.AuditQuery) ([]wardwatch.AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries), nil
}

func (a *settingsAudit) last() wardwatch.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.entries) == 0 {
		return wardwatch.AuditEntry{}
	}
	return a.entries[len(a.entries)-1]
}

type settingsHarness struct {
	*harness
	settings *fakeAlertSettings
	audit    *settingsAudit
	changes  int
	mu       sync.Mutex
}

func (h *settingsHarness) changed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.changes
}

func newSettingsHarness(t *testing.T) *settingsHarness {
	sh := &settingsHarness{settings: newFakeAlertSettings(), audit: &settingsAudit{}}
	units := &settingsUnits{units: []wardwatch.MonitoredUnit{
		{ID: 1, Name: "Pharmacy vaccine fridge", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
		{ID: 2, Name: "OR 3", Profile: wardwatch.ProfileOperatingRoom},
	}}
	sh.harness = newHarness(t, func(c *Config) {
		c.AlertSettings = sh.settings
		c.Devices = units
		c.Audit = sh.audit
		c.Location = time.UTC
		c.AlertsChanged = func(context.Context) {
			sh.mu.Lock()
			sh.changes++
			sh.mu.Unlock()
		}
	})
	addUsers(sh.store, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleViewer)
	return sh
}

// ruleValues is the rule editor's form for rows.
func ruleValues(rows []ruleFormRow) url.Values {
	v := url.Values{"rows": {strconv.Itoa(len(rows))}}
	for i, r := range rows {
		set := func(f, val string) {
			if val != "" {
				v.Set(ruleField(i, f), val)
			}
		}
		set("id", r.ID)
		set("name", r.Name)
		set("category", r.Category)
		set("priority", r.Priority)
		set("team", r.Team)
		set("metric", r.Metric)
		set("condition", r.Condition)
		set("limit", r.Limit)
		set("low", r.Low)
		set("high", r.High)
		set("delay", r.Delay)
		set("mode", r.Mode)
		set("window", r.Window)
		set("deadband", r.Deadband)
		set("min_clear", r.MinClear)
		set("average", r.Avg)
		if r.Latched {
			set("latched", "1")
		}
		if r.Remove {
			set("remove", "1")
		}
	}
	return v
}

func profileRows(t *testing.T, p wardwatch.UnitProfile) ([]alerts.Rule, []ruleFormRow) {
	t.Helper()
	pr, err := alerts.ProfileFor(p, alerts.ProfileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var rows []ruleFormRow
	for _, r := range pr.Rules {
		rows = append(rows, ruleRowOf(r))
	}
	return pr.Rules, rows
}

func TestSettingsDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{"0", 0, false},
		{"0.0", 0, false},
		{"15m", 15 * time.Minute, false},
		{"90s", 90 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"1h30m0s", 90 * time.Minute, false},
		{"1.5h", 90 * time.Minute, false},
		{"15 min", 15 * time.Minute, false},
		{"1 h 30 min", 90 * time.Minute, false},
		{"90 seconds", 90 * time.Second, false},
		{"2 Hours", 2 * time.Hour, false},
		{"500ms", 500 * time.Millisecond, false},
		{"15", 0, true},
		{"-5m", 0, true},
		{"5 days", 0, true},
		{"m", 0, true},
		{"1..5m", 0, true},
		{"99999999999h", 0, true},
		{"15m garbage", 0, true},
		{strings.Repeat("1", 100) + "s", 0, true},
	}
	for _, tt := range tests {
		got, err := settingsDuration(tt.in, "Delay")
		if tt.bad {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("settingsDuration(%q) = %v, %v; want EINVALID", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("settingsDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	for _, d := range []time.Duration{0, time.Second, 90 * time.Second, 15 * time.Minute, time.Hour, 90 * time.Minute, 7 * 24 * time.Hour, 1500 * time.Millisecond} {
		got, err := settingsDuration(settingsDurInput(d), "x")
		if err != nil || got != d {
			t.Errorf("round trip of %v via %q: %v, %v", d, settingsDurInput(d), got, err)
		}
	}
}

func TestSettingsNumber(t *testing.T) {
	tests := []struct {
		in   string
		m    wardwatch.Metric
		want float64
		bad  bool
	}{
		{"8", wardwatch.MetricTemperature, 8, false},
		{"8 °C", wardwatch.MetricTemperature, 8, false},
		{"7.5°C", wardwatch.MetricTemperature, 7.5, false},
		{"−2.5", wardwatch.MetricPressure, -2.5, false},
		{"-2.5 Pa", wardwatch.MetricPressure, -2.5, false},
		{"2,5", wardwatch.MetricTemperature, 2.5, false},
		{"60 %RH", wardwatch.MetricHumidity, 60, false},
		{"60%", wardwatch.MetricHumidity, 60, false},
		{"1e-3", wardwatch.MetricPressure, 0.001, false},
		{"46 °F", wardwatch.MetricTemperature, 0, true},
		{"8 Pa", wardwatch.MetricTemperature, 0, true},
		{"0.5 x", wardwatch.MetricDoorOpen, 0, true},
		{"", wardwatch.MetricTemperature, 0, true},
		{"NaN", wardwatch.MetricTemperature, 0, true},
		{"Inf", wardwatch.MetricTemperature, 0, true},
		{"1e999", wardwatch.MetricTemperature, 0, true},
		{"0x10", wardwatch.MetricTemperature, 0, true},
		{"1,000.5", wardwatch.MetricTemperature, 0, true},
		{"eight", wardwatch.MetricTemperature, 0, true},
	}
	for _, tt := range tests {
		got, err := settingsNumber(tt.in, tt.m, "Limit")
		if tt.bad {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("settingsNumber(%q, %s) = %v, %v; want EINVALID", tt.in, tt.m, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("settingsNumber(%q, %s) = %v, %v; want %v", tt.in, tt.m, got, err, tt.want)
		}
	}
}

func TestAlertRulesRoundTrip(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")

	body := wantStatus(t, h.page("/admin/alerts", admin), http.StatusOK)
	for _, want := range []string{"Pharmacy vaccine fridge", "Profile defaults", "/admin/alerts/units/1", "/admin/alerts/escalation", "/admin/alerts/par"} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %q", want)
		}
	}
	body = wantStatus(t, h.page("/admin/alerts/units/1", admin), http.StatusOK)
	for _, want := range []string{`data-rule="temperature_high"`, `value="15m"`, "Uses the profile", "Reset to profile defaults", `name="rows" value="5"`} {
		if !strings.Contains(body, want) {
			t.Errorf("unit page lacks %q", want)
		}
	}

	old, rows := profileRows(t, wardwatch.ProfileVaccineFridge)
	for i := range rows {
		switch rows[i].ID {
		case "temperature_high":
			rows[i].Limit, rows[i].Delay = "7.5 °C", "20 min"
		case "door_ajar":
			rows[i].Remove = true
		case "temperature_low":
			rows[i].Mode, rows[i].Window, rows[i].Delay = "cumulative", "1h", "10m"
		}
	}
	rows = append(rows, ruleFormRow{ID: "humidity_high", Name: "Humidity above 70 %RH", Priority: "low", Metric: "humidity",
		Condition: "above", Limit: "70", Delay: "1h", Deadband: "2"}, ruleFormRow{Priority: "high", Category: "environment"})
	body = wantStatus(t, h.postForm("/admin/alerts/units/1", ruleValues(rows), admin), http.StatusOK)
	for _, want := range []string{"Rules saved", "temperature_high: limit 8 → 7.5", "temperature_high: delay 15m0s → 20m0s", "door_ajar: removed", "humidity_high: added", "Uses an edited rule set"} {
		if !strings.Contains(body, want) {
			t.Errorf("saved page lacks %q", want)
		}
	}
	got := h.settings.rules[1]
	if len(got) != 4 {
		t.Fatalf("stored %d rules, want 4: %+v", len(got), got)
	}
	byID := map[string]alerts.Rule{}
	for _, r := range got {
		byID[r.ID] = r
	}
	if r := byID["temperature_high"]; r.Limit != 7.5 || r.Delay != 20*time.Minute || !r.Latched || r.Deadband != 0.3 {
		t.Errorf("temperature_high = %+v", r)
	}
	if r := byID["temperature_low"]; r.DelayMode != alerts.Cumulative || r.Window != time.Hour || r.Delay != 10*time.Minute {
		t.Errorf("temperature_low = %+v", r)
	}
	if r := byID["humidity_high"]; r.Category != alerts.CategoryEnvironment || r.Limit != 70 || r.Priority != alerts.PriorityLow {
		t.Errorf("humidity_high = %+v", r)
	}
	want := old[0]
	if !reflect.DeepEqual(byID[want.ID], want) {
		t.Errorf("unchanged rule %s = %+v, want %+v", want.ID, byID[want.ID], want)
	}
	e := h.audit.last()
	if e.Action != "update" || e.Subject != "unit_rules" || e.SubjectID != "1" || e.Username != "admin" ||
		!strings.Contains(e.Reason, "temperature_high: limit 8 → 7.5") || !strings.Contains(e.Old, "door_ajar") {
		t.Errorf("audit = %+v", e)
	}
	if h.changed() != 1 {
		t.Errorf("AlertsChanged called %d times, want 1", h.changed())
	}
	body = wantStatus(t, h.page("/admin/alerts", admin), http.StatusOK)
	if !strings.Contains(body, "✎ Edited") {
		t.Error("index does not show the edited rule set")
	}

	// Reset goes back to the profile.
	resp := h.postForm("/admin/alerts/units/1/reset", url.Values{}, admin)
	wantStatus(t, resp, http.StatusSeeOther)
	if _, ok := h.settings.rules[1]; ok {
		t.Error("reset did not drop the edited rules")
	}
	if e := h.audit.last(); e.Action != "reset" || !strings.Contains(e.Reason, "humidity_high: removed") {
		t.Errorf("reset audit = %+v", e)
	}
}

func TestAlertRulesValidationKeepsInput(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")
	_, rows := profileRows(t, wardwatch.ProfileVaccineFridge)
	tests := []struct {
		name   string
		edit   func(rows []ruleFormRow) []ruleFormRow
		status int
		want   []string
	}{
		{"bad number", func(rs []ruleFormRow) []ruleFormRow { rs[1].Limit = "eight degrees"; return rs }, 400,
			[]string{`value="eight degrees"`, "is not a number", "Nothing was saved"}},
		{"wrong unit", func(rs []ruleFormRow) []ruleFormRow { rs[1].Limit = "46 °F"; return rs }, 400,
			[]string{`value="46 °F"`, "is not in °C"}},
		{"bad duration", func(rs []ruleFormRow) []ruleFormRow { rs[1].Delay = "soon"; return rs }, 400,
			[]string{`value="soon"`, "is not a duration"}},
		{"window shorter than delay", func(rs []ruleFormRow) []ruleFormRow {
			rs[1].Mode, rs[1].Window = "cumulative", "5m"
			return rs
		}, 400, []string{"shorter than the delay"}},
		{"duplicate", func(rs []ruleFormRow) []ruleFormRow { return append(rs, rs[0]) }, 400, []string{"listed twice"}},
		{"bad id", func(rs []ruleFormRow) []ruleFormRow { rs[0].ID = "Temp High!"; return rs }, 400, []string{"may use only"}},
		{"all removed", func(rs []ruleFormRow) []ruleFormRow {
			for i := range rs {
				rs[i].Remove = true
			}
			return rs
		}, 400, []string{"at least one rule"}},
		{"unknown priority", func(rs []ruleFormRow) []ruleFormRow { rs[0].Priority = "urgent"; return rs }, 400, []string{"unknown priority"}},
		{"deadband too wide", func(rs []ruleFormRow) []ruleFormRow {
			rs[0].Condition, rs[0].Low, rs[0].High, rs[0].Limit, rs[0].Deadband = "outside", "2", "3", "", "1"
			return rs
		}, 400, []string{"wider than half the band"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := wantStatus(t, h.postForm("/admin/alerts/units/1", ruleValues(tt.edit(slices.Clone(rows))), admin), tt.status)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			if _, ok := h.settings.rules[1]; ok {
				t.Error("invalid rules were stored")
			}
		})
	}
	if h.changed() != 0 {
		t.Errorf("AlertsChanged called %d times on invalid input", h.changed())
	}

	// "Add a rule row" keeps what was typed and saves nothing.
	rs := slices.Clone(rows)
	rs[1].Limit = "typed"
	v := ruleValues(rs)
	v.Set("op", "add")
	body := wantStatus(t, h.postForm("/admin/alerts/units/1", v, admin), http.StatusOK)
	if !strings.Contains(body, `value="typed"`) || !strings.Contains(body, `name="rows" value="6"`) {
		t.Error("add row did not keep the input or add a blank row")
	}
}

func TestAlertSettingsRoles(t *testing.T) {
	h := newSettingsHarness(t)
	users := []string{"admin", "nurse", "facilities", "pharmacy", "biomed", "viewer"}
	cookies := map[string]*http.Cookie{}
	for _, u := range users {
		cookies[u] = h.signInAs(u)
	}
	siteState := []string{"admin", "facilities", "biomed"}
	routes := []struct {
		method, path string
		allowed      []string
	}{
		{"GET", "/admin/alerts", siteState},
		{"GET", "/admin/alerts/units/1", siteState},
		{"POST", "/admin/alerts/units/1", []string{"admin"}},
		{"POST", "/admin/alerts/units/1/reset", []string{"admin"}},
		{"POST", "/admin/alerts/units/1/windows", siteState},
		{"POST", "/admin/alerts/windows/999/delete", siteState},
		{"GET", "/admin/alerts/escalation", []string{"admin"}},
		{"POST", "/admin/alerts/escalation", []string{"admin"}},
		{"POST", "/admin/alerts/contacts", []string{"admin"}},
		{"POST", "/admin/alerts/contacts/5", []string{"admin"}},
		{"POST", "/admin/alerts/contacts/5/delete", []string{"admin"}},
		{"GET", "/admin/alerts/par", []string{"admin"}},
		{"POST", "/admin/alerts/par", []string{"admin"}},
		{"POST", "/admin/alerts/par/x/delete", []string{"admin"}},
	}
	for _, rt := range routes {
		for _, u := range users {
			var resp *http.Response
			if rt.method == "POST" {
				resp = h.postForm(rt.path, url.Values{}, cookies[u])
			} else {
				resp = h.page(rt.path, cookies[u])
			}
			got := resp.StatusCode
			readBody(t, resp)
			if slices.Contains(rt.allowed, u) == (got == http.StatusForbidden) {
				t.Errorf("%s %s as %s: %d", rt.method, rt.path, u, got)
			}
		}
	}
	// Facilities see the rules read-only and manage windows.
	body := wantStatus(t, h.page("/admin/alerts/units/1", cookies["facilities"]), http.StatusOK)
	if strings.Contains(body, `name="rows"`) || !strings.Contains(body, "Only administrators change rules") || !strings.Contains(body, "Add window") {
		t.Error("facilities' unit page is not read-only rules with the window form")
	}
	body = wantStatus(t, h.page("/admin/alerts", cookies["facilities"]), http.StatusOK)
	if strings.Contains(body, "/admin/alerts/escalation") {
		t.Error("facilities' index links to the escalation editor")
	}
	if len(h.settings.rules) != 0 || h.settings.policies != nil {
		t.Error("a refused request changed settings")
	}
}

func TestAlertWindows(t *testing.T) {
	h := newSettingsHarness(t)
	fac := h.signInAs("facilities")
	form := url.Values{"kind": {"defrost"}, "start": {"2026-03-02T11:00"}, "end": {"2026-03-02T11:45"}, "reason": {"Scheduled defrost"}}
	wantStatus(t, h.postForm("/admin/alerts/units/1/windows", form, fac), http.StatusSeeOther)
	if len(h.settings.windows) != 1 {
		t.Fatalf("windows = %+v", h.settings.windows)
	}
	w := h.settings.windows[0]
	if w.UnitID != 1 || w.Kind != alerts.SuppressDefrost || w.By != "facilities" || w.Reason != "Scheduled defrost" ||
		!w.Start.Equal(t0.Add(time.Hour)) || !w.End.Equal(t0.Add(105*time.Minute)) {
		t.Errorf("stored window = %+v", w)
	}
	if e := h.audit.last(); e.Subject != "alert_window" || e.Action != "create" || e.Username != "facilities" {
		t.Errorf("audit = %+v", e)
	}
	body := wantStatus(t, h.page("/admin/alerts/units/1?done=window", fac), http.StatusOK)
	for _, want := range []string{"Window added", "Defrost", "Mon 2 Mar 2026 11:00", "Upcoming", "Scheduled defrost"} {
		if !strings.Contains(body, want) {
			t.Errorf("unit page lacks %q", want)
		}
	}

	bad := []struct {
		form url.Values
		want string
	}{
		{url.Values{"kind": {"holiday"}, "start": {"2026-03-02T11:00"}, "end": {"2026-03-02T12:00"}, "reason": {"x"}}, "Choose the kind"},
		{url.Values{"kind": {"maintenance"}, "start": {"2026-03-02T12:00"}, "end": {"2026-03-02T11:00"}, "reason": {"kept reason"}}, "end after it starts"},
		{url.Values{"kind": {"maintenance"}, "start": {"yesterday"}, "end": {"2026-03-02T11:00"}, "reason": {"x"}}, "not a date and time"},
		{url.Values{"kind": {"maintenance"}, "start": {"2026-03-01T08:00"}, "end": {"2026-03-01T09:00"}, "reason": {"x"}}, "in the past"},
		{url.Values{"kind": {"out_of_service"}, "start": {"2026-03-02T11:00"}, "end": {"2028-03-02T11:00"}, "reason": {"x"}}, "at most a year"},
		{url.Values{"kind": {"maintenance"}, "start": {"2026-03-02T11:00"}, "end": {"2026-03-02T12:00"}, "reason": {""}}, "Say why"},
	}
	for _, b := range bad {
		body := wantStatus(t, h.postForm("/admin/alerts/units/1/windows", b.form, fac), http.StatusBadRequest)
		if !strings.Contains(body, b.want) || !strings.Contains(body, `value="`+b.form.Get("start")+`"`) {
			t.Errorf("window %v: page lacks %q or the typed start", b.form, b.want)
		}
	}
	wantStatus(t, h.postForm("/admin/alerts/units/99/windows", form, fac), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/windows/999/delete", url.Values{}, fac), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/windows/abc/delete", url.Values{}, fac), http.StatusNotFound)
	if len(h.settings.windows) != 1 {
		t.Fatalf("invalid windows were stored: %+v", h.settings.windows)
	}

	resp := h.postForm("/admin/alerts/windows/"+idText(w.ID)+"/delete", url.Values{}, fac)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/admin/alerts/units/1?done=window-deleted" {
		t.Errorf("delete redirects to %q", loc)
	}
	if len(h.settings.windows) != 0 || h.changed() != 2 {
		t.Errorf("after delete: windows %+v, changed %d", h.settings.windows, h.changed())
	}
}

// policyValues is the escalation editor's form for forms.
func policyValues(forms []policyForm) url.Values {
	v := url.Values{"policies": {strconv.Itoa(len(forms))}}
	for i, f := range forms {
		v.Set(policyField(i, "priority"), f.Priority)
		v.Set(policyField(i, "unit"), f.Unit)
		v.Set(policyField(i, "team"), f.Team)
		v.Set(policyField(i, "reminder"), f.Reminder)
		if f.Remove {
			v.Set(policyField(i, "remove"), "1")
		}
		v.Set(policyField(i, "tiers"), strconv.Itoa(len(f.Tiers)))
		for j, t := range f.Tiers {
			v.Set(tierField(i, j, "after"), t.After)
			v.Set(tierField(i, j, "fixed"), t.Fixed)
			for k := range t.Ticked {
				v.Set(tierField(i, j, k), "1")
			}
			if t.Remove {
				v.Set(tierField(i, j, "remove"), "1")
			}
		}
	}
	return v
}

func defaultForms() []policyForm {
	var forms []policyForm
	for _, p := range alerts.DefaultPolicies() {
		forms = append(forms, policyFormOf(p))
	}
	return forms
}

func TestEscalationRoundTrip(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")
	body := wantStatus(t, h.page("/admin/alerts/escalation", admin), http.StatusOK)
	for _, want := range []string{"These are the defaults", "New policy", `name="policies" value="6"`, "Reaches nobody"} {
		if !strings.Contains(body, want) {
			t.Errorf("escalation page lacks %q", want)
		}
	}

	// Unchanged defaults round-trip exactly.
	wantStatus(t, h.postForm("/admin/alerts/escalation", policyValues(defaultForms()), admin), http.StatusSeeOther)
	if !reflect.DeepEqual(h.settings.policies, alerts.DefaultPolicies()) {
		t.Fatalf("stored %+v, want the defaults", h.settings.policies)
	}

	// Edit: High's second tier at 15 min, a unit-scoped Critical policy
	// with a fixed address, and Info removed.
	forms := defaultForms()
	forms[1].Tiers[1].After = "15 min"
	forms[4].Remove = true
	forms = append(forms, policyForm{Priority: "critical", Unit: "1", Team: "pharmacy", Reminder: "5m", Tiers: []tierForm{
		{After: "0", Ticked: map[string]bool{"email.team": true}, Fixed: "webhook:pager, email:pharm-oncall@example.org"},
		{After: "", Ticked: map[string]bool{}}, // blank: ignored
	}})
	resp := h.postForm("/admin/alerts/escalation", policyValues(forms), admin)
	wantStatus(t, resp, http.StatusSeeOther)
	ps := h.settings.policies
	if len(ps) != 5 || ps[1].Tiers[1].After != 15*time.Minute {
		t.Fatalf("stored %+v", ps)
	}
	want := alerts.Policy{UnitID: 1, Team: alerts.TeamPharmacy, Priority: alerts.PriorityCritical, Reminder: 5 * time.Minute,
		Tiers: []alerts.Tier{{Targets: []alerts.Target{{Channel: alerts.ChannelEmail, Group: alerts.GroupTeam},
			{Channel: alerts.ChannelWebhook, Address: "pager"}, {Channel: alerts.ChannelEmail, Address: "pharm-oncall@example.org"}}}}}
	if !reflect.DeepEqual(ps[4], want) {
		t.Errorf("new policy = %+v, want %+v", ps[4], want)
	}
	if e := h.audit.last(); e.Subject != "escalation_policies" || e.Action != "update" {
		t.Errorf("audit = %+v", e)
	}
	body = wantStatus(t, h.page("/admin/alerts/escalation?done=saved", admin), http.StatusOK)
	if !strings.Contains(body, "These are this site") || !strings.Contains(body, `value="webhook:pager, email:pharm-oncall@example.org"`) {
		t.Error("saved page does not show the stored policies")
	}

	stored := slices.Clone(h.settings.policies)
	bad := []struct {
		name string
		edit func([]policyForm) []policyForm
		want string
	}{
		{"tiers out of order", func(f []policyForm) []policyForm { f[1].Tiers[2].After = "1m"; return f }, "in order of their delay"},
		{"no targets", func(f []policyForm) []policyForm { f[0].Tiers[0].Ticked = map[string]bool{}; return f }, "no one to notify"},
		{"duplicate", func(f []policyForm) []policyForm { return append(f, f[0]) }, "Two escalation policies"},
		{"bad fixed", func(f []policyForm) []policyForm { f[0].Tiers[0].Fixed = "sms:123"; return f }, "channel:address"},
		{"bad email", func(f []policyForm) []policyForm { f[0].Tiers[0].Fixed = "email:nobody"; return f }, "not an e-mail address"},
		{"bad reminder", func(f []policyForm) []policyForm { f[0].Reminder = "often"; return f }, "not a duration"},
		{"short reminder", func(f []policyForm) []policyForm { f[0].Reminder = "30s"; return f }, "every minute"},
		{"unknown unit", func(f []policyForm) []policyForm { f[0].Unit = "77"; return f }, "unknown unit"},
		{"unknown team", func(f []policyForm) []policyForm { f[0].Team = "janitors"; return f }, "unknown team"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			forms := b.edit(defaultForms())
			body := wantStatus(t, h.postForm("/admin/alerts/escalation", policyValues(forms), admin), http.StatusBadRequest)
			if !strings.Contains(body, b.want) || !strings.Contains(body, "Nothing was saved") {
				t.Errorf("page lacks %q", b.want)
			}
			if !reflect.DeepEqual(h.settings.policies, stored) {
				t.Error("invalid policies were stored")
			}
		})
	}

	// Adding rows keeps input and adds blanks.
	forms = defaultForms()
	forms[0].Reminder = "7m"
	v := policyValues(forms)
	v.Set("op", "add")
	body = wantStatus(t, h.postForm("/admin/alerts/escalation", v, admin), http.StatusOK)
	if !strings.Contains(body, `value="7m"`) || !strings.Contains(body, `name="policies" value="6"`) || !strings.Contains(body, `name="p0.tiers" value="4"`) {
		t.Error("add rows did not keep the input with blank rows")
	}
	if !reflect.DeepEqual(h.settings.policies, stored) {
		t.Error("add rows saved")
	}
}

func TestContacts(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")
	add := url.Values{"name": {"Pharmacy desk"}, "group": {"team"}, "team": {"pharmacy"}, "unit": {""},
		"email": {"pharmacy@example.org"}, "webhook": {"pager"}, "enabled": {"1"}}
	wantStatus(t, h.postForm("/admin/alerts/contacts", add, admin), http.StatusSeeOther)
	if len(h.settings.contacts) != 1 {
		t.Fatalf("contacts = %+v", h.settings.contacts)
	}
	c := h.settings.contacts[0]
	if c.Name != "Pharmacy desk" || c.Group != alerts.GroupTeam || c.Team != alerts.TeamPharmacy || c.Email != "pharmacy@example.org" || c.Webhook != "pager" || !c.Enabled {
		t.Errorf("stored %+v", c)
	}
	body := wantStatus(t, h.page("/admin/alerts/escalation", admin), http.StatusOK)
	for _, want := range []string{"High alerts of pharmacy, units without their own contacts: Team → 1 e-mail, 1 webhook; Supervisor → nobody",
		`data-contact="Pharmacy desk"`} {
		if !strings.Contains(body, want) {
			t.Errorf("escalation page lacks %q", want)
		}
	}

	// Edit: scope to unit 1, disable.
	body = wantStatus(t, h.page("/admin/alerts/escalation?contact="+idText(c.ID), admin), http.StatusOK)
	if !strings.Contains(body, "Edit Pharmacy desk") || !strings.Contains(body, `action="/admin/alerts/contacts/`+idText(c.ID)+`"`) {
		t.Error("edit form not pre-filled")
	}
	edit := url.Values{"name": {"Pharmacy desk"}, "group": {"supervisor"}, "team": {"pharmacy"}, "unit": {"1"}, "email": {"lead@example.org"}}
	wantStatus(t, h.postForm("/admin/alerts/contacts/"+idText(c.ID), edit, admin), http.StatusSeeOther)
	if c := h.settings.contacts[0]; c.UnitID != 1 || c.Group != alerts.GroupSupervisor || c.Enabled || c.Webhook != "" {
		t.Errorf("edited %+v", c)
	}
	if e := h.audit.last(); e.Action != "update" || e.Subject != "alert_contact" || !strings.Contains(e.Old, "pharmacy@example.org") {
		t.Errorf("audit = %+v", e)
	}

	for _, b := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"name": {"X"}, "group": {"team"}, "team": {"pharmacy"}, "email": {"not-an-address"}}, "is not an e-mail address"},
		{url.Values{"name": {"X"}, "group": {"boss"}, "team": {"pharmacy"}, "email": {"a@b.c"}}, "Choose the contact"},
		{url.Values{"name": {"X"}, "group": {"team"}, "team": {"pharmacy"}}, "e-mail address or a webhook"},
		{url.Values{"name": {"Kept name"}, "group": {"team"}, "team": {"pharmacy"}, "unit": {"42"}, "email": {"a@b.c"}}, "Choose one of the units"},
	} {
		body := wantStatus(t, h.postForm("/admin/alerts/contacts", b.form, admin), http.StatusBadRequest)
		if !strings.Contains(body, b.want) || !strings.Contains(body, `value="`+b.form.Get("name")+`"`) {
			t.Errorf("contact %v: page lacks %q or the typed name", b.form, b.want)
		}
	}
	wantStatus(t, h.postForm("/admin/alerts/contacts/9999", edit, admin), http.StatusNotFound)
	wantStatus(t, h.page("/admin/alerts/escalation?contact=9999", admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/contacts/9999/delete", url.Values{}, admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/contacts/"+idText(c.ID)+"/delete", url.Values{}, admin), http.StatusSeeOther)
	if len(h.settings.contacts) != 0 {
		t.Error("contact not deleted")
	}
}

func TestPARLevels(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")
	body := wantStatus(t, h.page("/admin/alerts/par", admin), http.StatusOK)
	if !strings.Contains(body, "Clean utility (Ward 4 — Level 2)") {
		t.Error("PAR page does not offer the zones with their floors")
	}
	form := url.Values{"id": {"4b_pumps"}, "name": {"4B infusion pumps"}, "kind": {"infusion_pump"}, "clean": {"11"},
		"clean_min": {"4"}, "soiled": {"10"}, "soiled_max": {"6"}}
	wantStatus(t, h.postForm("/admin/alerts/par", form, admin), http.StatusSeeOther)
	six := 6
	want := alerts.PARLevel{ID: "4b_pumps", Name: "4B infusion pumps", Kind: wardwatch.AssetInfusionPump,
		CleanZones: []int64{11}, SoiledZones: []int64{10}, CleanMin: 4, SoiledMax: &six}
	if len(h.settings.par) != 1 || !reflect.DeepEqual(h.settings.par[0], want) {
		t.Fatalf("stored %+v", h.settings.par)
	}
	body = wantStatus(t, h.page("/admin/alerts/par?done=saved", admin), http.StatusOK)
	if !strings.Contains(body, `data-par="4b_pumps"`) || !strings.Contains(body, "PAR level saved") {
		t.Error("list lacks the level")
	}

	// The same ID again without editing is a conflict; editing replaces.
	body = wantStatus(t, h.postForm("/admin/alerts/par", form, admin), http.StatusConflict)
	if !strings.Contains(body, "exists already") {
		t.Error("no conflict message")
	}
	body = wantStatus(t, h.page("/admin/alerts/par?edit=4b_pumps", admin), http.StatusOK)
	if !strings.Contains(body, `name="editing"`) || !strings.Contains(body, "Edit 4B infusion pumps") {
		t.Error("edit form not pre-filled")
	}
	form.Set("editing", "1")
	form.Set("soiled_max", "")
	form.Set("clean_min", "5")
	wantStatus(t, h.postForm("/admin/alerts/par", form, admin), http.StatusSeeOther)
	if p := h.settings.par[0]; p.SoiledMax != nil || p.CleanMin != 5 {
		t.Errorf("edited %+v", p)
	}
	if e := h.audit.last(); e.Action != "update" || e.Subject != "par_level" {
		t.Errorf("audit = %+v", e)
	}

	for _, b := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"id": {"Bad ID"}, "name": {"n"}, "kind": {"bed"}, "clean": {"11"}, "clean_min": {"1"}}, "may use only"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"toaster"}, "clean": {"11"}}, "Choose the kind"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}}, "Choose the clean or soiled zones"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}, "clean": {"999"}}, "does not exist"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}, "clean": {"11"}, "soiled": {"11"}}, "both clean and soiled"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}, "clean": {"11"}, "clean_min": {"-1"}}, "whole number"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}, "soiled": {"10"}, "clean_min": {"2"}}, "needs the zones it counts"},
		{url.Values{"id": {"x"}, "name": {""}, "kind": {"bed"}, "clean": {"11"}}, "needs a name"},
		{url.Values{"id": {"x"}, "name": {"kept"}, "kind": {"bed"}, "clean": {"eleven"}}, "malformed"},
	} {
		body := wantStatus(t, h.postForm("/admin/alerts/par", b.form, admin), http.StatusBadRequest)
		if !strings.Contains(body, b.want) {
			t.Errorf("PAR %v: page lacks %q", b.form, b.want)
		}
	}
	wantStatus(t, h.page("/admin/alerts/par?edit=nope", admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/par/nope/delete", url.Values{}, admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/par/4b_pumps/delete", url.Values{}, admin), http.StatusSeeOther)
	if len(h.settings.par) != 0 {
		t.Error("PAR level not deleted")
	}
}

func TestAlertSettingsHostileInput(t *testing.T) {
	h := newSettingsHarness(t)
	admin := h.signInAs("admin")
	huge := url.Values{"rows": {"1"}, "r0.name": {strings.Repeat("x", maxSettingsForm)}}
	wantStatus(t, h.postForm("/admin/alerts/units/1", huge, admin), http.StatusRequestEntityTooLarge)
	wantStatus(t, h.postForm("/admin/alerts/escalation", url.Values{"policies": {"1"}, "p0.priority": {strings.Repeat("x", 300<<10)}}, admin), http.StatusRequestEntityTooLarge)
	wantStatus(t, h.postForm("/admin/alerts/units/1", url.Values{"rows": {"1"}, "r0.name": {strings.Repeat("x", 2000)}}, admin), http.StatusBadRequest)
	wantStatus(t, h.postForm("/admin/alerts/units/1", url.Values{"rows": {"100000"}}, admin), http.StatusBadRequest)
	wantStatus(t, h.postForm("/admin/alerts/units/1", url.Values{"rows": {"-1"}}, admin), http.StatusBadRequest)
	wantStatus(t, h.postForm("/admin/alerts/escalation", url.Values{"policies": {"1"}, "p0.tiers": {"99"}}, admin), http.StatusBadRequest)
	wantStatus(t, h.postForm("/admin/alerts/contacts", url.Values{"name": {strings.Repeat("x", 5000)}}, admin), http.StatusBadRequest)
	wantStatus(t, h.postForm("/admin/alerts/units/1/windows", url.Values{"reason": {strings.Repeat("x", 70<<10)}}, admin), http.StatusRequestEntityTooLarge)
	wantStatus(t, h.page("/admin/alerts/units/99", admin), http.StatusNotFound)
	wantStatus(t, h.page("/admin/alerts/units/abc", admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/units/99", ruleValues(nil), admin), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/units/99/reset", url.Values{}, admin), http.StatusNotFound)
	// Markup typed into a field comes back escaped.
	_, rows := profileRows(t, wardwatch.ProfileVaccineFridge)
	rows[0].Name = `<script>alert(1)</script>`
	rows[0].Limit = "x"
	body := wantStatus(t, h.postForm("/admin/alerts/units/1", ruleValues(rows), admin), http.StatusBadRequest)
	if strings.Contains(body, "<script>alert(1)") {
		t.Error("typed markup was not escaped")
	}
	if len(h.settings.rules) != 0 || h.changed() != 0 {
		t.Error("hostile input changed settings")
	}
}

func TestAlertSettingsHiddenWithoutStore(t *testing.T) {
	h := newHarness(t)
	wantStatus(t, h.page("/admin/alerts", h.signInAs("admin")), http.StatusNotFound)
}

// FuzzRuleForm checks that the rule editor's parser never panics, that
// what it accepts is a valid rule set with unique IDs, and that every
// accepted rule survives the editor round trip unchanged.
func FuzzRuleForm(f *testing.F) {
	_, rows := func() ([]alerts.Rule, []ruleFormRow) {
		pr, _ := alerts.ProfileFor(wardwatch.ProfileOperatingRoom, alerts.ProfileOptions{})
		var rows []ruleFormRow
		for _, r := range pr.Rules {
			rows = append(rows, ruleRowOf(r))
		}
		return pr.Rules, rows
	}()
	f.Add(ruleValues(rows).Encode())
	f.Add("rows=1&r0.id=t&r0.name=T&r0.priority=high&r0.metric=temperature&r0.condition=above&r0.limit=8+%C2%B0C&r0.delay=15+min")
	f.Add("rows=1&r0.id=t&r0.name=T&r0.priority=high&r0.metric=temperature&r0.condition=outside&r0.low=2&r0.high=8&r0.mode=cumulative&r0.window=1h&r0.delay=30m")
	f.Add("rows=2&r0.id=a&r1.id=a")
	f.Add("rows=1&r0.limit=NaN&r0.metric=pressure&r0.id=p&r0.name=P&r0.priority=low")
	f.Add("rows=99999")
	f.Add("rows=1&r0.delay=1.5h&r0.deadband=%E2%88%920.5")
	f.Fuzz(func(t *testing.T, raw string) {
		form, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rows, err := parseRuleRows(form)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("parse error %v is not EINVALID", err)
			}
			return
		}
		rules, ok := rulesOfRows(rows)
		if !ok {
			return
		}
		seen := map[string]bool{}
		for _, r := range rules {
			if err := r.Validate(); err != nil {
				t.Fatalf("accepted invalid rule %+v: %v", r, err)
			}
			if seen[r.ID] {
				t.Fatalf("accepted duplicate ID %q", r.ID)
			}
			seen[r.ID] = true
			back, err := ruleOf(ruleRowOf(r))
			if err != nil || !reflect.DeepEqual(back, r) {
				t.Fatalf("round trip of %+v = %+v, %v", r, back, err)
			}
		}
	})
}

// FuzzSettingsDuration checks the duration parser: no panics, no negative
// durations, and that what it accepts round-trips through the form.
func FuzzSettingsDuration(f *testing.F) {
	for _, s := range []string{"", "0", "15m", "90s", "1h30m", "1h30m0s", "1.5h", "15 min", "1 h 30 min", "90 seconds",
		"15", "-5m", "5 days", "1..5m", "99999999999h", ".5s", "0.000000001s", "2562047h47m16.854775807s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := settingsDuration(s, "Delay")
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if d < 0 {
			t.Fatalf("settingsDuration(%q) = %v < 0", s, d)
		}
		back, err := settingsDuration(settingsDurInput(d), "Delay")
		if err != nil || back != d {
			t.Fatalf("round trip of %v via %q = %v, %v", d, settingsDurInput(d), back, err)
		}
	})
}
