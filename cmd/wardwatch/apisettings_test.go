package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/auth"
)

// apiCaller calls the real service's API with a bearer token of each role.
type apiCaller struct {
	t      *testing.T
	base   string
	tokens map[wardwatch.Role]string
}

func newAPICaller(t *testing.T, h *hospitalRun, roles ...wardwatch.Role) *apiCaller {
	t.Helper()
	c := &apiCaller{t: t, base: h.base, tokens: map[wardwatch.Role]string{}}
	for _, r := range roles {
		text := "wwt_" + strings.Repeat(string(r[0]), 52)
		if err := h.store.CreateAPIToken(context.Background(), &wardwatch.APIToken{Name: string(r), Role: r, Prefix: text[:12],
			CreatedBy: "test", SecretHash: auth.HashToken(text)}); err != nil {
			t.Fatal(err)
		}
		c.tokens[r] = text
	}
	return c
}

// call sends body (JSON unless contentType says otherwise) and decodes
// the JSON answer.
func (c *apiCaller) call(role wardwatch.Role, method, path, body string, contentType ...string) (int, map[string]any) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+c.tokens[role])
	ct := "application/json"
	if len(contentType) > 0 {
		ct = contentType[0]
	}
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, out
}

func jsonID(v any) string { f, _ := v.(float64); return strconv.FormatFloat(f, 'f', 0, 64) }

// TestAPIAlertSettingsRoundTrip sets PAR levels, contacts, escalation
// policies and maintenance windows through the API of the real service
// and reads them back from the store.
func TestAPIAlertSettingsRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	admin, fac, nurse := wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RoleNurse
	c := newAPICaller(t, h, admin, fac, nurse)

	code, f := c.call(admin, "POST", "/api/v1/floors", `{"name": "PAR floor", "building": "Main", "level": 4, "width_m": 40, "height_m": 20}`)
	if code != http.StatusCreated {
		t.Fatalf("create floor: %d %v", code, f)
	}
	code, z := c.call(admin, "POST", "/api/v1/zones", `{"floor_id": `+jsonID(f["id"])+`, "name": "4B clean utility", "kind": "clean_utility", "polygon": [[0,0],[5,0],[5,5],[0,5]]}`)
	if code != http.StatusCreated {
		t.Fatalf("create zone: %d %v", code, z)
	}
	zid := jsonID(z["id"])
	code, z2 := c.call(admin, "POST", "/api/v1/zones", `{"floor_id": `+jsonID(f["id"])+`, "name": "4B soiled utility", "kind": "soiled_utility", "polygon": [[5,0],[9,0],[9,5],[5,5]]}`)
	if code != http.StatusCreated {
		t.Fatalf("create zone: %d %v", code, z2)
	}

	// PAR levels: PUT creates, PUT again replaces, DELETE removes.
	par := `{"name": "4B pumps", "kind": "infusion_pump", "clean_zone_ids": [` + zid + `], "clean_min": 4}`
	if code, p := c.call(admin, "PUT", "/api/v1/par-levels/4b_pumps", par); code != http.StatusCreated || p["clean_min"] != 4.0 {
		t.Fatalf("create PAR level: %d %v", code, p)
	}
	par = `{"name": "4B pumps", "kind": "infusion_pump", "clean_zone_ids": [` + zid + `], "soiled_zone_ids": [` + jsonID(z2["id"]) + `], "clean_min": 6, "soiled_max": 2}`
	if code, p := c.call(admin, "PUT", "/api/v1/par-levels/4b_pumps", par); code != http.StatusOK || p["soiled_max"] != 2.0 {
		t.Fatalf("update PAR level: %d %v", code, p)
	}
	ls, err := h.store.PARLevels(ctx)
	if err != nil || len(ls) != 1 || ls[0].CleanMin != 6 || ls[0].SoiledMax == nil || *ls[0].SoiledMax != 2 {
		t.Fatalf("stored PAR levels: %+v %v", ls, err)
	}
	if code, e := c.call(admin, "PUT", "/api/v1/par-levels/bad", `{"name": "x", "kind": "infusion_pump", "clean_zone_ids": [999999]}`); code != http.StatusBadRequest {
		t.Errorf("PAR level on a missing zone: %d %v", code, e)
	}
	if code, l := c.call(admin, "GET", "/api/v1/par-levels", ""); code != http.StatusOK || l["total"] != 1.0 {
		t.Errorf("list PAR levels: %d %v", code, l)
	}
	if code, _ := c.call(nurse, "DELETE", "/api/v1/par-levels/4b_pumps", ""); code != http.StatusForbidden {
		t.Errorf("a nurse deleting a PAR level: %d", code)
	}
	if code, _ := c.call(admin, "DELETE", "/api/v1/par-levels/4b_pumps", ""); code != http.StatusNoContent {
		t.Errorf("delete PAR level: %d", code)
	}
	if code, _ := c.call(admin, "DELETE", "/api/v1/par-levels/4b_pumps", ""); code != http.StatusNotFound {
		t.Errorf("delete a deleted PAR level: %d", code)
	}

	// Contacts.
	code, ct := c.call(admin, "POST", "/api/v1/contacts", `{"name": "Pharmacy on call", "group": "on_call", "team": "pharmacy", "email": "rx@example.org", "enabled": true}`)
	if code != http.StatusCreated || ct["enabled"] != true {
		t.Fatalf("create contact: %d %v", code, ct)
	}
	cid := jsonID(ct["id"])
	if code, ct = c.call(admin, "PUT", "/api/v1/contacts/"+cid, `{"name": "Pharmacy on call", "group": "on_call", "team": "pharmacy", "webhook": "pager"}`); code != http.StatusOK {
		t.Fatalf("update contact: %d %v", code, ct)
	}
	cs, err := h.store.Contacts(ctx)
	if err != nil || len(cs) != 1 || cs[0].Enabled || cs[0].Webhook != "pager" {
		t.Fatalf("stored contacts: %+v %v", cs, err)
	}
	if code, e := c.call(admin, "POST", "/api/v1/contacts", `{"name": "No address", "group": "on_call", "team": "pharmacy"}`); code != http.StatusBadRequest {
		t.Errorf("contact without an address: %d %v", code, e)
	}
	if code, _ := c.call(admin, "DELETE", "/api/v1/contacts/"+cid, ""); code != http.StatusNoContent {
		t.Errorf("delete contact: %d", code)
	}

	// Escalation policies: defaults until stored; an invalid set saves nothing.
	if code, p := c.call(admin, "GET", "/api/v1/escalation-policies", ""); code != http.StatusOK || p["defaults"] != true {
		t.Errorf("default policies: %d %v", code, p)
	}
	policies := `{"policies": [{"priority": "critical", "reminder": "5m", "tiers": [
		{"after": "0", "targets": [{"channel": "in_app", "group": "team"}, {"channel": "email", "address": "ops@example.org"}]},
		{"after": "10m", "targets": [{"channel": "email", "group": "on_call"}]}]}]}`
	if code, p := c.call(admin, "PUT", "/api/v1/escalation-policies", policies); code != http.StatusOK {
		t.Fatalf("put policies: %d %v", code, p)
	}
	ps, err := h.store.EscalationPolicies(ctx)
	if err != nil || len(ps) != 1 || ps[0].Priority != alerts.PriorityCritical || len(ps[0].Tiers) != 2 ||
		ps[0].Tiers[1].After != 10*time.Minute || ps[0].Reminder != 5*time.Minute || len(ps[0].Tiers[0].Targets) != 2 {
		t.Fatalf("stored policies: %+v %v", ps, err)
	}
	if code, _ := c.call(admin, "PUT", "/api/v1/escalation-policies", `{"policies": []}`); code != http.StatusBadRequest {
		t.Errorf("no policies: %d", code)
	}
	if code, _ := c.call(admin, "PUT", "/api/v1/escalation-policies", `{"policies": [{"priority": "high", "tiers": [{"after": "0", "targets": [{"channel": "fax", "group": "team"}]}]}]}`); code != http.StatusBadRequest {
		t.Errorf("unknown channel: %d", code)
	}
	if ps2, _ := h.store.EscalationPolicies(ctx); len(ps2) != 1 {
		t.Errorf("a refused set changed the stored policies: %+v", ps2)
	}
	if code, p := c.call(admin, "GET", "/api/v1/escalation-policies", ""); code != http.StatusOK || p["defaults"] == true {
		t.Errorf("stored policies read back: %d %v", code, p)
	}

	// Maintenance windows: facilities may set them, nurses may not.
	code, u := c.call(admin, "POST", "/api/v1/units", `{"name": "API fridge", "profile": "vaccine_fridge"}`)
	if code != http.StatusCreated {
		t.Fatalf("create unit: %d %v", code, u)
	}
	start := time.Now().UTC().Truncate(time.Minute).Add(time.Hour)
	win := `{"unit_id": ` + jsonID(u["id"]) + `, "kind": "maintenance", "start": "` + start.Format(time.RFC3339) +
		`", "end": "` + start.Add(2*time.Hour).Format(time.RFC3339) + `", "reason": "Compressor service"}`
	if code, _ := c.call(nurse, "POST", "/api/v1/windows", win); code != http.StatusForbidden {
		t.Errorf("a nurse adding a window: %d", code)
	}
	code, wj := c.call(fac, "POST", "/api/v1/windows", win)
	if code != http.StatusCreated || wj["by"] != "api:facilities" {
		t.Fatalf("add window: %d %v", code, wj)
	}
	ws, err := h.store.AlertWindows(ctx)
	if err != nil || len(ws) != 1 || !ws[0].Start.Equal(start) || ws[0].Reason != "Compressor service" {
		t.Fatalf("stored windows: %+v %v", ws, err)
	}
	past := strings.Replace(win, start.Format(time.RFC3339), start.Add(-48*time.Hour).Format(time.RFC3339), 1)
	past = strings.Replace(past, start.Add(2*time.Hour).Format(time.RFC3339), start.Add(-47*time.Hour).Format(time.RFC3339), 1)
	if code, e := c.call(fac, "POST", "/api/v1/windows", past); code != http.StatusBadRequest {
		t.Errorf("a window in the past: %d %v", code, e)
	}
	if code, l := c.call(fac, "GET", "/api/v1/windows?active=true", ""); code != http.StatusOK || l["total"] != 1.0 {
		t.Errorf("list windows: %d %v", code, l)
	}
	if code, _ := c.call(fac, "DELETE", "/api/v1/windows/"+jsonID(wj["id"]), ""); code != http.StatusNoContent {
		t.Errorf("delete window: %d", code)
	}
}

// TestAPIExcursionRecordRoundTrip fills in an excursion's troubleshooting
// record and clears its quarantine through the API of the real service.
func TestAPIExcursionRecordRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	admin, nurse, rx := wardwatch.RoleAdmin, wardwatch.RoleNurse, wardwatch.RolePharmacy
	c := newAPICaller(t, h, admin, nurse, rx)
	code, u := c.call(admin, "POST", "/api/v1/units", `{"name": "API fridge", "profile": "vaccine_fridge"}`)
	if code != http.StatusCreated {
		t.Fatalf("create unit: %d %v", code, u)
	}
	unitID, _ := strconv.ParseInt(jsonID(u["id"]), 10, 64)
	start := time.Now().UTC().Add(-3 * time.Hour).Truncate(time.Second)
	xs := []alerts.Excursion{{UnitID: unitID, UnitName: "API fridge", SensorID: "fridge/temp", Metric: wardwatch.MetricTemperature,
		Low: 2, High: 8, Start: start, End: start.Add(40 * time.Minute), Peak: 11.5, Trough: 5, Above: 35 * time.Minute,
		Alarmed: true, AlarmRule: "temperature_high", Quarantine: true}}
	if err := h.store.SaveExcursions(ctx, xs); err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(xs[0].ID, 10)

	ts := `{"discovered_at": "` + start.Add(time.Hour).Truncate(time.Minute).Format(time.RFC3339) + `", "reporter_name": "N. Nurse",
		"reporter_title": "RN", "unit_temp": 9.5, "description": "Door left ajar", "actions": "Door closed; pharmacy called"}`
	code, out := c.call(nurse, "PUT", "/api/v1/excursions/"+id+"/troubleshooting", ts)
	if code != http.StatusOK || out["reporter_name"] != "N. Nurse" || out["unit_temp"] != 9.5 {
		t.Fatalf("save troubleshooting: %d %v", code, out)
	}
	got, err := h.store.Excursion(ctx, xs[0].ID)
	if err != nil || got.Troubleshooting.Description != "Door left ajar" || !got.Troubleshooting.DiscoveredAt.Equal(start.Add(time.Hour).Truncate(time.Minute)) {
		t.Fatalf("stored troubleshooting: %+v %v", got.Troubleshooting, err)
	}
	if code, e := c.call(nurse, "PUT", "/api/v1/excursions/"+id+"/troubleshooting", `{"disposition": "used"}`); code != http.StatusBadRequest {
		t.Errorf("a disposition on a quarantined unit: %d %v", code, e)
	}
	if code, e := c.call(nurse, "POST", "/api/v1/excursions/"+id+"/clear", `{"disposition": "wasted"}`); code != http.StatusForbidden {
		t.Errorf("a nurse clearing a quarantine: %d %v", code, e)
	}
	if code, e := c.call(rx, "POST", "/api/v1/excursions/"+id+"/clear", `{"disposition": "eaten"}`); code != http.StatusBadRequest {
		t.Errorf("an unknown disposition: %d %v", code, e)
	}
	code, out = c.call(rx, "POST", "/api/v1/excursions/"+id+"/clear", `{"disposition": "wasted"}`)
	if code != http.StatusOK || out["quarantine_cleared_by"] != "api:pharmacy" {
		t.Fatalf("clear quarantine: %d %v", code, out)
	}
	if got, _ := h.store.Excursion(ctx, xs[0].ID); got.Quarantined() || got.Troubleshooting.Disposition != alerts.Disposition("wasted") {
		t.Errorf("after clearing: %+v", got)
	}
	if code, _ := c.call(rx, "PUT", "/api/v1/excursions/999999/troubleshooting", `{}`); code != http.StatusNotFound {
		t.Errorf("a missing excursion: %d", code)
	}
}
