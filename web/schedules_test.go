package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// The fake store's daily schedules, with the real store's checks and error
// codes.

func (s *fakeAlertSettings) UnitSchedules(context.Context) ([]alerts.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scheds), nil
}

func (s *fakeAlertSettings) SaveUnitSchedule(_ context.Context, sc alerts.Schedule) (int64, error) {
	if err := sc.Validate(); err != nil {
		return 0, err
	}
	if strings.TrimSpace(sc.By) == "" {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "A schedule needs the user who set it.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sc.Times = slices.Clone(sc.Times)
	slices.Sort(sc.Times)
	for _, x := range s.scheds {
		if x.ID != sc.ID && x.UnitID == sc.UnitID && x.Kind == sc.Kind && slices.Equal(x.Times, sc.Times) {
			return 0, wardwatch.Errorf(wardwatch.ECONFLICT, "The unit has a %s schedule at those times already.", sc.Kind)
		}
	}
	if sc.ID == 0 {
		s.nextID++
		sc.ID = s.nextID
		s.scheds = append(s.scheds, sc)
		return sc.ID, nil
	}
	i := slices.IndexFunc(s.scheds, func(x alerts.Schedule) bool { return x.ID == sc.ID })
	if i < 0 {
		return 0, wardwatch.Errorf(wardwatch.ENOTFOUND, "schedule %d not found", sc.ID)
	}
	s.scheds[i] = sc
	return sc.ID, nil
}

func (s *fakeAlertSettings) DeleteUnitSchedule(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.scheds, func(x alerts.Schedule) bool { return x.ID == id })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "schedule %d not found", id)
	}
	s.scheds = slices.Delete(s.scheds, i, i+1)
	return nil
}

// envSettingsUnits adds the (empty) Modbus device list the environment
// dashboard reads to settingsUnits.
type envSettingsUnits struct{ *settingsUnits }

func (envSettingsUnits) ModbusDevices(context.Context) ([]wardwatch.ModbusDevice, error) {
	return nil, nil
}

// newScheduleHarness is the settings harness with API tokens and the
// environment dashboard.
func newScheduleHarness(t *testing.T) (*settingsHarness, *fakeAPITokens) {
	tokens := &fakeAPITokens{}
	sh := &settingsHarness{settings: newFakeAlertSettings(), audit: &settingsAudit{}}
	units := envSettingsUnits{&settingsUnits{units: []wardwatch.MonitoredUnit{
		{ID: 1, Name: "Pharmacy vaccine fridge", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
		{ID: 2, Name: "OR 3", Profile: wardwatch.ProfileOperatingRoom},
	}}}
	sh.harness = newHarness(t, func(c *Config) {
		c.AlertSettings = sh.settings
		c.Devices = units
		c.Audit = sh.audit
		c.Location = time.UTC
		c.APITokens = tokens
		c.AlertsChanged = func(context.Context) {
			sh.mu.Lock()
			sh.changes++
			sh.mu.Unlock()
		}
	})
	addUsers(sh.store, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleViewer, wardwatch.RoleNurse)
	return sh, tokens
}

// TestDailySchedules adds a fridge's four daily defrosts on its alert
// settings page, sees them listed (running now: t0 is 10:00 UTC), on the
// settings index and on the environment dashboard, refuses bad forms
// keeping what was typed, and deletes the schedule; each change is
// audited and applied.
func TestDailySchedules(t *testing.T) {
	h, _ := newScheduleHarness(t)
	fac := h.signInAs("facilities")
	form := url.Values{"kind": {"defrost"}, "times": {"21:45, 3:45,09:45 15:45"}, "duration": {"30 min"}, "reason": {"Frost-free defrost"}}
	resp := h.postForm("/admin/alerts/units/1/schedules", form, fac)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/admin/alerts/units/1?done=schedule#schedules" {
		t.Errorf("add redirects to %q", loc)
	}
	if len(h.settings.scheds) != 1 {
		t.Fatalf("schedules = %+v", h.settings.scheds)
	}
	hm := func(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }
	sc := h.settings.scheds[0]
	if sc.UnitID != 1 || sc.Kind != alerts.SuppressDefrost || sc.By != "facilities" || sc.Reason != "Frost-free defrost" ||
		sc.Duration != 30*time.Minute || !slices.Equal(sc.Times, []time.Duration{hm(3, 45), hm(9, 45), hm(15, 45), hm(21, 45)}) || !sc.Created.Equal(t0) {
		t.Errorf("stored schedule = %+v", sc)
	}
	if e := h.audit.last(); e.Subject != "unit_schedule" || e.Action != "create" || e.Username != "facilities" ||
		!strings.Contains(e.Reason, "Defrost daily at 03:45, 09:45, 15:45, 21:45 for 30m") {
		t.Errorf("audit = %+v", e)
	}
	if h.changed() != 1 {
		t.Errorf("AlertsChanged called %d times, want 1", h.changed())
	}
	body := wantStatus(t, h.page("/admin/alerts/units/1?done=schedule", fac), http.StatusOK)
	for _, want := range []string{"Daily schedule added", "Daily schedules", "03:45, 09:45, 15:45, 21:45", "30m", "Running until 10:15", "Frost-free defrost",
		`action="/admin/alerts/schedules/` + idText(sc.ID) + `/delete"`} {
		if !strings.Contains(body, want) {
			t.Errorf("unit page lacks %q", want)
		}
	}
	body = wantStatus(t, h.page("/admin/alerts", fac), http.StatusOK)
	if !strings.Contains(body, "Defrost daily at 03:45, 09:45, 15:45, 21:45 for 30m") {
		t.Error("the settings index does not show the schedule")
	}
	nurse := h.signInAs("nurse")
	body = wantStatus(t, h.page("/environment", nurse), http.StatusOK)
	if !strings.Contains(body, "Defrost scheduled 03:45, 09:45, 15:45, 21:45 for 30m · running until 10:15") {
		t.Errorf("the environment page does not show the schedule:\n%s", body)
	}
	if strings.Count(body, "data-schedules") != 1 {
		t.Error("the schedule is shown on more than its unit")
	}

	bad := []struct {
		form url.Values
		want string
	}{
		{url.Values{"kind": {"out_of_service"}, "times": {"02:00"}, "duration": {"30m"}, "reason": {"x"}}, "defrost or maintenance"},
		{url.Values{"kind": {"defrost"}, "times": {"25:00"}, "duration": {"30m"}, "reason": {"x"}}, "not a time of day"},
		{url.Values{"kind": {"defrost"}, "times": {""}, "duration": {"30m"}, "reason": {"x"}}, "Give the start times"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00, 03:00"}, "duration": {"1h"}, "reason": {"kept reason"}}, "must end before the next one starts"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00"}, "duration": {""}, "reason": {"x"}}, "how long"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00"}, "duration": {"45"}, "reason": {"x"}}, "not a duration"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00"}, "duration": {"90s"}, "reason": {"x"}}, "whole minutes"},
		{url.Values{"kind": {"maintenance"}, "times": {"02:00"}, "duration": {"24h"}, "reason": {"x"}}, "not shorter than the 24h"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00"}, "duration": {"30m"}, "reason": {" "}}, "Say why"},
		{url.Values{"kind": {"defrost"}, "times": {"02:00"}, "duration": {"30m"}, "reason": {strings.Repeat("r", 201)}}, "longer than 200"},
		{form, "already"},
	}
	for _, b := range bad {
		body := wantStatus(t, h.postForm("/admin/alerts/units/1/schedules", b.form, fac), statusFor(b.want))
		if !strings.Contains(body, b.want) || !strings.Contains(body, `value="`+templEscape(b.form.Get("times"))+`"`) {
			t.Errorf("schedule %v: page lacks %q or the typed times", b.form, b.want)
		}
	}
	wantStatus(t, h.postForm("/admin/alerts/units/99/schedules", form, fac), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/schedules/999/delete", url.Values{}, fac), http.StatusNotFound)
	wantStatus(t, h.postForm("/admin/alerts/schedules/abc/delete", url.Values{}, fac), http.StatusNotFound)
	if len(h.settings.scheds) != 1 || h.changed() != 1 {
		t.Fatalf("invalid schedules were stored or applied: %+v, changed %d", h.settings.scheds, h.changed())
	}

	// The roles that manage windows manage schedules; nobody else.
	for _, u := range []string{"nurse", "pharmacy", "viewer"} {
		c := h.signInAs(u)
		wantStatus(t, h.postForm("/admin/alerts/units/1/schedules", form, c), http.StatusForbidden)
		wantStatus(t, h.postForm("/admin/alerts/schedules/"+idText(sc.ID)+"/delete", url.Values{}, c), http.StatusForbidden)
	}

	resp = h.postForm("/admin/alerts/schedules/"+idText(sc.ID)+"/delete", url.Values{}, h.signInAs("biomed"))
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/admin/alerts/units/1?done=schedule-deleted#schedules" {
		t.Errorf("delete redirects to %q", loc)
	}
	if len(h.settings.scheds) != 0 || h.changed() != 2 {
		t.Errorf("after delete: schedules %+v, changed %d", h.settings.scheds, h.changed())
	}
	if e := h.audit.last(); e.Subject != "unit_schedule" || e.Action != "delete" || e.Username != "biomed" {
		t.Errorf("audit = %+v", e)
	}
	body = wantStatus(t, h.page("/admin/alerts/units/1?done=schedule-deleted", fac), http.StatusOK)
	if !strings.Contains(body, "Daily schedule deleted") || !strings.Contains(body, "No daily schedules") {
		t.Error("the unit page does not say the schedule was deleted")
	}
}

func statusFor(want string) int {
	if want == "already" {
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// templEscape is s as templ writes it in an attribute.
func templEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;")
	return r.Replace(s)
}

// TestAPISchedules lists, adds and deletes daily schedules through the API
// with a facilities token, as the page does; other roles are refused.
func TestAPISchedules(t *testing.T) {
	h, tokens := newScheduleHarness(t)
	fac := tokens.issue(t, wardwatch.RoleFacilities)
	nurse := tokens.issue(t, wardwatch.RoleNurse)

	rec := apiDo(t, h.handler, "POST", "/api/v1/schedules", fac,
		`{"unit_id": 1, "kind": "defrost", "times": ["20:00", "02:00", "14:00", "08:00"], "duration": "45m", "reason": "Frost-free defrost"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body)
	}
	var got apiScheduleJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.ID == 0 || got.UnitID != 1 || got.Kind != "defrost" || !slices.Equal(got.Times, []string{"02:00", "08:00", "14:00", "20:00"}) ||
		got.Duration != "45m" || got.TimeZone != "UTC" || got.By == "" || got.Reason != "Frost-free defrost" || got.Created == nil {
		t.Errorf("created = %+v", got)
	}
	if e := h.audit.last(); e.Subject != "unit_schedule" || e.Action != "create" {
		t.Errorf("audit = %+v", e)
	}
	// Times as the page's text work too.
	rec = apiDo(t, h.handler, "POST", "/api/v1/schedules", fac,
		`{"unit_id": 2, "kind": "maintenance", "times": "23:00", "duration": "1h30m", "reason": "Nightly filter check"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("POST (text times): %d %s", rec.Code, rec.Body)
	}

	rec = apiDo(t, h.handler, "GET", "/api/v1/schedules?unit=1", fac, "")
	var list struct {
		Items []apiScheduleJSON `json:"items"`
	}
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Items) != 1 || list.Items[0].ID != got.ID {
		t.Fatalf("GET ?unit=1: %d %s", rec.Code, rec.Body)
	}
	rec = apiDo(t, h.handler, "GET", "/api/v1/schedules?kind=maintenance", fac, "")
	if json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Items) != 1 || list.Items[0].UnitID != 2 {
		t.Fatalf("GET ?kind=maintenance: %d %s", rec.Code, rec.Body)
	}

	for body, want := range map[string]int{
		`{"unit_id": 1, "kind": "defrost", "times": ["02:00"], "duration": "45m"}`:                                           400, // no reason
		`{"unit_id": 9, "kind": "defrost", "times": ["02:00"], "duration": "45m", "reason": "x"}`:                            400,
		`{"unit_id": 1, "kind": "defrost", "times": ["02:00, 03:00"], "duration": "45m", "reason": "x"}`:                     400,
		`{"unit_id": 1, "kind": "defrost", "times": [2], "duration": "45m", "reason": "x"}`:                                  400,
		`{"unit_id": 1, "kind": "defrost", "times": ["02:00", "02:30"], "duration": "45m", "reason": "x"}`:                   400,
		`{"unit_id": 1, "kind": "defrost", "times": ["02:00"], "duration": "45m", "reason": "x", "by": "me"}`:                400,
		`{"unit_id": 1, "kind": "defrost", "times": ["20:00", "02:00", "14:00", "08:00"], "duration": "45m", "reason": "x"}`: 409,
	} {
		if rec := apiDo(t, h.handler, "POST", "/api/v1/schedules", fac, body); rec.Code != want {
			t.Errorf("POST %s: %d, want %d (%s)", body, rec.Code, want, rec.Body)
		}
	}
	if rec := apiDo(t, h.handler, "GET", "/api/v1/schedules?kind=out_of_service", fac, ""); rec.Code != 400 {
		t.Errorf("GET ?kind=out_of_service: %d", rec.Code)
	}
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/api/v1/schedules", ""},
		{"POST", "/api/v1/schedules", `{"unit_id": 1, "kind": "defrost", "times": ["05:00"], "duration": "45m", "reason": "x"}`},
		{"DELETE", "/api/v1/schedules/" + idText(got.ID), ""},
	} {
		if rec := apiDo(t, h.handler, r.method, r.path, nurse, r.body); rec.Code != http.StatusForbidden {
			t.Errorf("%s %s as a nurse: %d", r.method, r.path, rec.Code)
		}
	}

	if rec := apiDo(t, h.handler, "DELETE", "/api/v1/schedules/"+idText(got.ID), fac, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body)
	}
	if rec := apiDo(t, h.handler, "DELETE", "/api/v1/schedules/"+idText(got.ID), fac, ""); rec.Code != http.StatusNotFound {
		t.Errorf("DELETE again: %d", rec.Code)
	}
	if len(h.settings.scheds) != 1 || h.changed() != 3 {
		t.Errorf("after delete: %+v, changed %d", h.settings.scheds, h.changed())
	}
}

// FuzzScheduleForm feeds the add-a-schedule form parser anything: it never
// panics, errs with EINVALID only, and what it accepts is a valid schedule
// whose start times print back to what it parsed.
func FuzzScheduleForm(f *testing.F) {
	f.Add("defrost", "02:00, 08:00, 14:00, 20:00", "45m", "Frost-free defrost")
	f.Add("maintenance", "23:30", "1 h 30 min", "Nightly check")
	f.Add("defrost", "02:00,02:30", "45m", "overlap")
	f.Add("out_of_service", "02:00", "45m", "x")
	f.Add("defrost", "24:00", "0", "")
	f.Add("defrost", "0:00 12:00", "11h59m", "edge")
	f.Add("defrost", "1:1", "-5m", "x")
	f.Add("maintenance", strings.Repeat("1:00,", 20), "1.5h", "many")
	f.Fuzz(func(t *testing.T, kind, times, dur, reason string) {
		s, err := settingsScheduleOf(settingsScheduleForm{Kind: kind, Times: times, Duration: dur, Reason: reason}, 1, "fac", t0)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID || wardwatch.ErrorMessage(err) == "" {
				t.Fatalf("error %v is not EINVALID with a message", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted an invalid schedule %+v: %v", s, err)
		}
		if s.Reason == "" || s.By != "fac" || !s.Created.Equal(t0) {
			t.Fatalf("accepted %+v", s)
		}
		back, err := alerts.ParseTimesOfDay(alerts.FormatTimesOfDay(s.Times, ", "))
		if err != nil || !slices.Equal(back, s.Times) {
			t.Fatalf("times %v print back as %v, %v", s.Times, back, err)
		}
	})
}
