package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// scopedInbox is the inbox harness with care units: zone 10 is in 4B,
// zone 11 in 5B; monitored unit 8 ("Ward 4B") is in zone 10 and unit 7
// ("Pharmacy") in zone 11, and alert 20 belongs to no unit (a gateway).
// User "nina" is a nurse scoped to 4B, "boss" an admin scoped to 4B.
func scopedInbox(t *testing.T) (*harness, *inboxFakeDesk) {
	t.Helper()
	desk := newInboxDesk()
	desk.open = append(desk.open, inboxAlertGateway())
	h := inboxHarness(t, desk, func(c *Config) {
		c.Devices = inboxUnits{units: []wardwatch.MonitoredUnit{{ID: 7, Name: "Pharmacy", ZoneID: 11}, {ID: 8, Name: "Ward 4B", ZoneID: 10}}}
	})
	h.store.zones[1][0].CareUnit = "4B"
	h.store.zones[1][1].CareUnit = "5B"
	h.store.users = append(h.store.users,
		wardwatch.User{ID: 30, Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: testHash, Units: []string{"4B"}},
		wardwatch.User{ID: 31, Username: "boss", Role: wardwatch.RoleAdmin, PasswordHash: testHash, Units: []string{"4B"}},
	)
	return h, desk
}

func inboxAlertGateway() (a alerts.Alert) {
	a = inboxAlerts()[2] // unacked medium, unit 8
	a.ID, a.UnitID, a.SubjectName = 20, 0, "Gateway AC233F"
	return a
}

func TestScopeLimitsAlertActions(t *testing.T) {
	h, desk := scopedInbox(t)
	nina, boss, nurse := h.signInAs("nina"), h.signInAs("boss"), h.signIn()
	for _, tc := range []struct {
		name   string
		id     int64
		c      *http.Cookie
		status int
	}{
		{"scoped nurse, 5B fridge alert", 1, nina, http.StatusForbidden},
		{"scoped nurse, 4B alert", 3, nina, http.StatusSeeOther},
		{"scoped nurse, gateway alert", 20, nina, http.StatusSeeOther},
		{"scoped admin, 5B fridge alert", 1, boss, http.StatusSeeOther},
		{"unscoped nurse, 5B fridge alert", 1, nurse, http.StatusSeeOther},
	} {
		before := desk.callCount()
		resp := h.inboxPost("/alerts/"+idText(tc.id)+"/acknowledge", url.Values{"note": {"checked"}}, tc.c, "")
		body := readBody(t, resp)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d\n%s", tc.name, resp.StatusCode, tc.status, body)
			continue
		}
		if tc.status == http.StatusForbidden {
			if !strings.Contains(body, "This alert belongs to 5B; you are scoped to 4B.") {
				t.Errorf("%s: the 403 does not say why:\n%s", tc.name, body)
			}
			if desk.callCount() != before {
				t.Errorf("%s: the desk was called", tc.name)
			}
		} else if desk.callCount() != before+1 {
			t.Errorf("%s: the desk was not called", tc.name)
		}
	}
	// Shelving and resolving are limited alike.
	for _, path := range []string{"/alerts/1/shelve", "/alerts/1/resolve"} {
		resp := h.inboxPost(path, url.Values{"minutes": {"30"}, "reason": {"x"}, "cause": {"x"}, "action": {"x"}}, nina, "")
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s as nina: status %d, want 403", path, resp.StatusCode)
		}
	}
	// The detail page says why the buttons are missing.
	resp := h.page("/alerts/1", nina)
	body := readBody(t, resp)
	if !strings.Contains(body, "This alert belongs to 5B") || strings.Contains(body, `action="/alerts/1/acknowledge"`) {
		t.Errorf("detail page of an out-of-scope alert:\n%s", body)
	}
}

func TestScopeInboxDefault(t *testing.T) {
	h, _ := scopedInbox(t)
	nina := h.signInAs("nina")
	body := readBody(t, h.page("/alerts", nina))
	if !strings.Contains(body, "Showing 4B") || !strings.Contains(body, `href="/alerts?scope=all"`) {
		t.Fatalf("scoped inbox has no scope toggle:\n%s", body)
	}
	if strings.Contains(body, "Vaccine fridge A") {
		t.Errorf("scoped inbox lists the 5B fridge alert by default")
	}
	for _, want := range []string{"Fridge B controller", "Gateway AC233F"} {
		if !strings.Contains(body, want) {
			t.Errorf("scoped inbox misses %q", want)
		}
	}
	body = readBody(t, h.page("/alerts?scope=all", nina))
	if !strings.Contains(body, "Vaccine fridge A") || !strings.Contains(body, "show 4B only") {
		t.Errorf("scope=all does not show every alert:\n%s", body)
	}
	// Choosing a unit overrides the scope.
	if body := readBody(t, h.page("/alerts?unit=7", nina)); !strings.Contains(body, "Vaccine fridge A") {
		t.Errorf("unit=7 hides the unit's alert from a scoped user")
	}
	// Unscoped users see no toggle.
	if body := readBody(t, h.page("/alerts", h.signIn())); strings.Contains(body, "Showing 4B") || !strings.Contains(body, "Vaccine fridge A") {
		t.Errorf("unscoped inbox is filtered")
	}
}

func TestScopeBuildInbox(t *testing.T) {
	s := inboxSite{units: map[int64]string{}, loc: inboxZone, now: t0, care: map[int64]string{7: "5B", 8: "4B"}, limit: []string{"4B"}}
	open := append(inboxAlerts(), inboxAlertGateway())
	v := buildInbox(open, inboxFilter{Group: inboxGroupActive, Scope: []string{"4B"}}, s, true)
	var ids []int64
	for _, r := range v.Rows {
		ids = append(ids, r.ID)
	}
	if slices.Contains(ids, 1) || !slices.Contains(ids, 3) || !slices.Contains(ids, 20) {
		t.Errorf("scoped rows %v: want 3 and 20, not 1", ids)
	}
	v = buildInbox(open, inboxFilter{Group: inboxGroupActive, Scope: []string{"4B"}, All: true}, s, true)
	for _, r := range v.Rows {
		if r.ID == 1 && r.CanAck {
			t.Errorf("the 5B alert offers acknowledging to a 4B user")
		}
		if r.ID == 3 && !r.CanAck {
			t.Errorf("the 4B alert does not offer acknowledging")
		}
	}
}

func TestScopeLimitsRecords(t *testing.T) {
	h := newRecHarness(t)
	h.store.zones[1][0].CareUnit = "4B" // zone 10 holds monitored unit 1 (Fridge A)
	h.store.users = append(h.store.users,
		wardwatch.User{ID: 40, Username: "pat5b", Role: wardwatch.RolePharmacy, PasswordHash: testHash, Units: []string{"5B"}},
		wardwatch.User{ID: 41, Username: "pat4b", Role: wardwatch.RolePharmacy, PasswordHash: testHash, Units: []string{"4B"}},
	)
	p5, p4 := h.signInAs("pat5b"), h.signInAs("pat4b")
	// Before anything is cleared: the index shows the 5B pharmacist the
	// units of no care unit, says Fridge A's quarantine is elsewhere, and
	// offers all.
	body := readBody(t, h.page("/records", p5))
	if strings.Contains(body, `data-unit="Fridge A"`) || !strings.Contains(body, `data-unit="CRT store"`) ||
		!strings.Contains(body, "in other care units under quarantine") || !strings.Contains(body, "scope=all") {
		t.Errorf("scoped records index:\n%s", body)
	}
	if body := readBody(t, h.page("/records?scope=all", p5)); !strings.Contains(body, `data-unit="Fridge A"`) {
		t.Errorf("records index with scope=all misses Fridge A")
	}
	// The pages show the 5B pharmacist no forms for 4B's records, and say
	// why; the 4B pharmacist gets them.
	for _, tc := range []struct{ path, form, note string }{
		{"/records/excursions/7", `class="ts-form"`, "someone in its care unit completes it"},
		{"/records/units/1/daily?month=2026-03", `class="signoff-form"`, "someone in its care unit signs it off"},
	} {
		body := readBody(t, h.page(tc.path, p5))
		if strings.Contains(body, tc.form) || !strings.Contains(body, "belongs to 4B; you are scoped to 5B.") || !strings.Contains(body, tc.note) {
			t.Errorf("GET %s as a 5B pharmacist: want no %s and the scope note\n%s", tc.path, tc.form, body)
		}
		if body := readBody(t, h.page(tc.path, p4)); !strings.Contains(body, tc.form) || strings.Contains(body, tc.note) {
			t.Errorf("GET %s as a 4B pharmacist: want %s and no scope note", tc.path, tc.form)
		}
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/records/excursions/7/clear", url.Values{tsDisposition: {"used"}}},
		{"/records/excursions/7", url.Values{}},
		{"/records/units/1/daily", url.Values{"day": {"2026-03-01"}}},
	} {
		resp := h.submit(tc.path, tc.form, p5)
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "belongs to 4B; you are scoped to 5B.") {
			t.Errorf("POST %s as a 5B pharmacist: %d\n%s", tc.path, resp.StatusCode, body)
		}
		if resp := h.submit(tc.path, tc.form, p4); resp.StatusCode == http.StatusForbidden {
			t.Errorf("POST %s as a 4B pharmacist: 403", tc.path)
		}
	}
	// Unit 2 has no zone, so no care unit: open to everyone.
	if resp := h.submit("/records/excursions/8", url.Values{}, p5); resp.StatusCode == http.StatusForbidden {
		t.Errorf("saving an excursion of a unit of no care unit: 403")
	}
}

func TestScopeFloorsFirst(t *testing.T) {
	h := newHarness(t)
	h.store.floors[1].Building = "East wing" // floor 2
	h.store.zones[1][0].CareUnit = "4B"      // on floor 1
	h.store.users = append(h.store.users, wardwatch.User{ID: 30, Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: testHash, Units: []string{"4B"}})
	body := readBody(t, h.page("/floors", h.signInAs("nina")))
	mine, east := strings.Index(body, "Your care units: 4B"), strings.Index(body, "East wing")
	if mine < 0 || east < 0 || mine > east || strings.Index(body, "Ward 4 — Level 2") > east {
		t.Errorf("floors page does not list the 4B floor first, then East wing:\n%s", body)
	}
	body = readBody(t, h.page("/floors", h.signIn()))
	if strings.Contains(body, "Your care units") || !strings.Contains(body, "Main building") || !strings.Contains(body, "East wing") {
		t.Errorf("unscoped floors page is not grouped by building:\n%s", body)
	}
}

func TestSearchNearDefaultsToUnit(t *testing.T) {
	h := newHarness(t)
	h.store.zones[1][1].CareUnit = "4B" // zone 11, "Clean utility"
	h.store.users = append(h.store.users, wardwatch.User{ID: 30, Username: "nina", Role: wardwatch.RoleNurse, PasswordHash: testHash, Units: []string{"4B"}})
	nina := h.signInAs("nina")
	if body := readBody(t, h.page("/search?q=pump", nina)); !strings.Contains(body, `value="11" selected`) {
		t.Errorf("search does not default near to the user's unit's zone")
	}
	if body := readBody(t, h.page("/search?q=pump&near=0", nina)); strings.Contains(body, `value="11" selected`) {
		t.Errorf("search overrides the user's choice of near")
	}
}

func TestCheckScope(t *testing.T) {
	nurse := &viewer{User: wardwatch.User{Role: wardwatch.RoleNurse, Units: []string{"4B", "ICU"}}}
	for _, tc := range []struct {
		v    *viewer
		unit string
		want string
	}{
		{nurse, "4B", ""},
		{nurse, "", ""},
		{nurse, "5B", "This alert belongs to 5B; you are scoped to 4B and ICU."},
		{&viewer{User: wardwatch.User{Role: wardwatch.RoleAdmin, Units: []string{"4B"}}}, "5B", ""},
		{&viewer{User: wardwatch.User{Role: wardwatch.RoleNurse}}, "5B", ""},
		{&viewer{User: wardwatch.User{Role: wardwatch.RoleNurse, Units: []string{"4B"}}, APIToken: 3}, "5B", ""},
		{nil, "5B", ""},
	} {
		err := checkScope(tc.v, "alert", tc.unit)
		if got := wardwatch.ErrorMessage(err); (err == nil) != (tc.want == "") || (err != nil && got != tc.want) {
			t.Errorf("checkScope(%+v, %q) = %v, want %q", tc.v, tc.unit, err, tc.want)
		}
		if err != nil && wardwatch.ErrorCode(err) != wardwatch.EFORBIDDEN {
			t.Errorf("checkScope error code %q", wardwatch.ErrorCode(err))
		}
	}
}

// unitsAdminStore is an AdminStore over the fake store's users.
type unitsAdminStore struct {
	AdminStore
	s *fakeStore
}

func (a unitsAdminStore) Users(context.Context) ([]wardwatch.User, error) { return a.s.users, nil }

func (a unitsAdminStore) CreateUser(_ context.Context, u *wardwatch.User) error {
	units, err := wardwatch.CheckCareUnits(u.Units)
	if err != nil {
		return err
	}
	u.ID, u.Units = int64(100+len(a.s.users)), units
	a.s.users = append(a.s.users, *u)
	return nil
}

func (a unitsAdminStore) SetUserUnits(_ context.Context, id int64, units []string) error {
	for i := range a.s.users {
		if a.s.users[i].ID == id {
			a.s.users[i].Units = units
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "user %d not found", id)
}

func TestUsersAdminCareUnits(t *testing.T) {
	st := &unitsAdminStore{}
	h := newHarness(t, func(c *Config) { c.Admin = st })
	st.s = h.store
	h.store.zones[1][0].CareUnit = "4B"
	h.store.zones[1][1].CareUnit = "5B"
	admin := h.signInAs("admin")
	body := readBody(t, h.page("/admin/users", admin))
	for _, want := range []string{`name="units" value="4B"`, `name="units" value="5B"`, "Whole site", "What scoping a user to care units does"} {
		if !strings.Contains(body, want) {
			t.Errorf("users page misses %q", want)
		}
	}
	resp := h.postForm("/admin/users/1", url.Values{"action": {"units"}, "units": {"5B", "4B"}}, admin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set units: %d %s", resp.StatusCode, readBody(t, resp))
	}
	if got := h.store.users[0].Units; !slices.Equal(got, []string{"4B", "5B"}) {
		t.Errorf("nurse's units = %q", got)
	}
	if body := readBody(t, h.page("/admin/users", admin)); !strings.Contains(body, "4B, 5B") {
		t.Errorf("user list does not show the units")
	}
	resp = h.postForm("/admin/users/1", url.Values{"action": {"units"}, "units": {"4B;DROP"}}, admin)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad unit: status %d", resp.StatusCode)
	}
	resp = h.postForm("/admin/users/1", url.Values{"action": {"units"}}, admin)
	if resp.StatusCode != http.StatusSeeOther || h.store.users[0].Units != nil {
		t.Errorf("clearing units: %d, %q", resp.StatusCode, h.store.users[0].Units)
	}
	resp = h.postForm("/admin/users", url.Values{"username": {"sam"}, "role": {"nurse"}, "password": {"correct horse battery"}, "units": {"4B"}}, admin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", resp.StatusCode, readBody(t, resp))
	}
	if u := h.store.users[len(h.store.users)-1]; u.Username != "sam" || !slices.Equal(u.Units, []string{"4B"}) {
		t.Errorf("created %+v", u)
	}
}
