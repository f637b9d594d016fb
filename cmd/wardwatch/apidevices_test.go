package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// TestAPIDevicesRoundTrip drives RFID readers, HTTP poll targets, wall
// displays, device profiles, the daily log with its sign-offs, the MKT
// report and PAR stock through the API of the real service (real SQLite
// store, real HTTP, bearer tokens) and checks what the store, the reader
// ingest and the kiosk link then do.
func TestAPIDevicesRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	admin, nurse, viewer := wardwatch.RoleAdmin, wardwatch.RoleNurse, wardwatch.RoleViewer
	c := newAPICaller(t, h, admin, nurse, viewer)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	status := func(req *http.Request) int {
		t.Helper()
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}

	zones, err := h.store.Zones(ctx, 0)
	if err != nil || len(zones) < 2 {
		t.Fatalf("zones: %v, %v", zones, err)
	}
	za, zb := jsonID(float64(zones[0].ID)), jsonID(float64(zones[1].ID))

	// ---- RFID readers: the API's push token is the reader's. ----
	code, rd := c.call(admin, "POST", "/api/v1/rfid-readers", `{"key": "api-door", "name": "API door", "format": "zebra",
		"antennas": [{"port": 1, "zone_id": `+za+`}, {"port": 2, "zone_id": `+zb+`}], "portal": {"inside": [1], "outside": [2]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create reader: %d %v", code, rd)
	}
	readerID, token := jsonID(rd["id"]), rd["push_token"].(string)
	stored, err := h.store.RFIDReaderByKey(ctx, "api-door")
	if err != nil || string(stored.TokenHash) != string(auth.HashToken(token)) || len(stored.Antennas) != 2 || stored.Antennas[0].GatewayID == 0 ||
		stored.Portal == nil || stored.Portal.InsideZoneID != zones[0].ID {
		t.Fatalf("stored reader %+v, %v", stored, err)
	}
	push := func(tok string) int {
		req, _ := http.NewRequest(http.MethodPost, h.base+"/ingest/v1/readers/api-door/reads", strings.NewReader(`{"data":{"idHex":"zz"}}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		return status(req)
	}
	if got := push(token); got != http.StatusBadRequest { // accepted as the reader, the read itself malformed
		t.Errorf("push with the API's token: %d, want 400", got)
	}
	code, rd = c.call(admin, "PUT", "/api/v1/rfid-readers/"+readerID, `{"key": "api-door", "name": "API door", "antennas": [{"port": 3, "zone_id": `+za+`}]}`)
	if code != http.StatusOK || rd["portal"] != nil || rd["has_push_token"] != true {
		t.Fatalf("replace reader: %d %v", code, rd)
	}
	code, rd = c.call(admin, "POST", "/api/v1/rfid-readers/"+readerID+"/token", "")
	if code != http.StatusOK || rd["push_token"] == token {
		t.Fatalf("new token: %d %v", code, rd)
	}
	if got := push(token); got != http.StatusUnauthorized {
		t.Errorf("push with the replaced token: %d, want 401", got)
	}
	if got := push(rd["push_token"].(string)); got != http.StatusBadRequest {
		t.Errorf("push with the new token: %d, want 400", got)
	}
	if code, e := c.call(nurse, "GET", "/api/v1/rfid-readers", ""); code != http.StatusForbidden || e["error"] == nil {
		t.Errorf("a nurse listing readers: %d %v", code, e)
	}
	if code, _ = c.call(admin, "DELETE", "/api/v1/rfid-readers/"+readerID, ""); code != http.StatusNoContent {
		t.Fatalf("delete reader: %d", code)
	}
	if _, err := h.store.RFIDReaderByKey(ctx, "api-door"); wardwatch.ErrorCode(err) != wardwatch.ENOTFOUND {
		t.Errorf("deleted reader: %v", err)
	}

	// ---- HTTP poll targets: the secret is stored sealed, never answered. ----
	const secret = "Bearer api-poll-secret"
	code, p := c.call(admin, "POST", "/api/v1/poll-targets", `{"name": "API poll", "url": "http://127.0.0.1:9/batch", "source": "ble",
		"source_key": "gw-api", "interval": "1m", "timeout": "2s", "auth_header": "`+secret+`"}`)
	if code != http.StatusCreated || p["has_auth_header"] != true || p["auth_header"] != nil {
		t.Fatalf("create poll target: %d %v", code, p)
	}
	pollID := jsonID(p["id"])
	code, p = c.call(admin, "PUT", "/api/v1/poll-targets/"+pollID, `{"name": "API poll", "url": "http://127.0.0.1:9/batch", "source": "ble",
		"source_key": "gw-api", "interval": "2m", "timeout": "2s"}`)
	if code != http.StatusOK || p["interval"] != "2m0s" || p["has_auth_header"] != true {
		t.Fatalf("update poll target: %d %v", code, p)
	}
	polls, err := h.store.PollTargets(ctx)
	if err != nil || len(polls) != 1 || polls[0].AuthHeader != secret || polls[0].Interval != 2*time.Minute {
		t.Fatalf("stored poll targets %+v, %v", polls, err)
	}
	if code, _ = c.call(admin, "DELETE", "/api/v1/poll-targets/"+pollID, ""); code != http.StatusNoContent {
		t.Fatalf("delete poll target: %d", code)
	}

	// ---- Wall displays: the link opens a floor until it is revoked. ----
	floors, err := h.store.Floors(ctx)
	if err != nil || len(floors) == 0 {
		t.Fatal(floors, err)
	}
	code, k := c.call(admin, "POST", "/api/v1/kiosks", `{"name": "API corridor screen", "floor_id": `+jsonID(float64(floors[0].ID))+`}`)
	link, _ := k["link"].(string)
	if code != http.StatusCreated || !strings.Contains(link, "/kiosk/") {
		t.Fatalf("create kiosk: %d %v", code, k)
	}
	u, _ := url.Parse(link)
	open := func() int { req, _ := http.NewRequest(http.MethodGet, h.base+u.Path, nil); return status(req) }
	if got := open(); got != http.StatusSeeOther {
		t.Errorf("display link: %d, want 303", got)
	}
	if code, _ = c.call(admin, "DELETE", "/api/v1/kiosks/"+jsonID(k["id"]), ""); code != http.StatusNoContent {
		t.Fatalf("revoke kiosk: %d", code)
	}
	if got := open(); got != http.StatusUnauthorized {
		t.Errorf("revoked display link: %d, want 401", got)
	}

	// ---- Device profiles, checked by the real Modbus parser. ----
	code, builtin := c.call(admin, "GET", "/api/v1/profiles/modbus/fridge-controller", "")
	src, _ := builtin["source"].(string)
	if code != http.StatusOK || builtin["builtin"] != true || !strings.Contains(src, "name: fridge-controller") {
		t.Fatalf("built-in profile: %d %v", code, builtin)
	}
	if code, e := c.call(admin, "PUT", "/api/v1/profiles/modbus/fridge-controller", src, "application/yaml"); code != http.StatusBadRequest {
		t.Errorf("overwrite a built-in: %d %v", code, e)
	}
	site := strings.Replace(src, "name: fridge-controller", "name: api-fridge-map", 1)
	if code, e := c.call(admin, "PUT", "/api/v1/profiles/modbus/api-fridge-map", "fields: [", "application/yaml"); code != http.StatusBadRequest {
		t.Errorf("broken YAML: %d %v", code, e)
	}
	code, sp := c.call(admin, "PUT", "/api/v1/profiles/modbus/api-fridge-map", site, "application/yaml")
	if code != http.StatusOK || sp["builtin"] != false {
		t.Fatalf("save site profile: %d %v", code, sp)
	}
	if ps, err := h.store.DeviceProfiles(ctx, "modbus"); err != nil || len(ps) != 1 || ps[0].Name != "api-fridge-map" {
		t.Errorf("stored profiles %+v, %v", ps, err)
	}
	code, list := c.call(admin, "GET", "/api/v1/profiles?kind=modbus&builtin=false", "")
	if items, _ := list["items"].([]any); code != http.StatusOK || len(items) != 1 {
		t.Errorf("site profiles listed: %d %v", code, list)
	}
	if code, _ = c.call(admin, "DELETE", "/api/v1/profiles/modbus/fridge-controller", ""); code != http.StatusBadRequest {
		t.Errorf("delete a built-in: %d", code)
	}
	if code, _ = c.call(admin, "DELETE", "/api/v1/profiles/modbus/api-fridge-map", ""); code != http.StatusNoContent {
		t.Fatalf("delete site profile: %d", code)
	}

	// ---- Daily log, sign-off and MKT of a pharmacy fridge. ----
	code, unit := c.call(admin, "POST", "/api/v1/units", `{"name": "API pharmacy fridge", "profile": "pharmacy_fridge"}`)
	if code != http.StatusCreated {
		t.Fatalf("create unit: %d %v", code, unit)
	}
	unitID := jsonID(unit["id"])
	if code, d := c.call(admin, "POST", "/api/v1/modbus-devices", `{"name": "apifridge", "unit_id": `+unitID+`, "transport": "tcp",
		"address": "127.0.0.1:9", "profile": "fridge-controller"}`); code != http.StatusCreated {
		t.Fatalf("create Modbus device: %d %v", code, d)
	}
	now := time.Now().UTC()
	var rs []wardwatch.Reading
	for i := 12; i >= 1; i-- {
		rs = append(rs, wardwatch.Reading{Time: now.Add(-time.Duration(i) * 5 * time.Minute), SensorID: "apifridge/cabinet", Metric: wardwatch.MetricTemperature, Value: 5})
	}
	if err := h.app.telemetry.WriteReadings(ctx, rs); err != nil {
		t.Fatal(err)
	}
	loc := location(h.cfg.HTTP.TimeZone)
	day := rs[len(rs)-1].Time.In(loc)
	code, log := c.call(viewer, "GET", "/api/v1/units/"+unitID+"/daily?month="+day.Format("2006-01"), "")
	if code != http.StatusOK || log["sensor_id"] != "apifridge/cabinet" {
		t.Fatalf("daily log: %d %v", code, log)
	}
	var entry map[string]any
	for _, d := range log["days"].([]any) {
		if m := d.(map[string]any); m["day"] == day.Format(time.DateOnly) {
			entry = m
		}
	}
	if entry == nil || entry["count"].(float64) < 1 || entry["max"] != 5.0 || entry["review"] != nil {
		t.Fatalf("the day of the readings: %v", entry)
	}
	code, rv := c.call(nurse, "POST", "/api/v1/units/"+unitID+"/daily-reviews", `{"day": "`+day.Format(time.DateOnly)+`", "action": "Checked"}`)
	if code != http.StatusCreated || rv["by"] != "api:nurse" {
		t.Fatalf("sign off: %d %v", code, rv)
	}
	if code, e := c.call(admin, "POST", "/api/v1/units/"+unitID+"/daily-reviews", `{"day": "`+day.Format(time.DateOnly)+`"}`); code != http.StatusConflict {
		t.Errorf("a second sign-off: %d %v", code, e)
	}
	if code, e := c.call(viewer, "POST", "/api/v1/units/"+unitID+"/daily-reviews", `{"day": "`+day.Format(time.DateOnly)+`"}`); code != http.StatusForbidden {
		t.Errorf("a viewer signing off: %d %v", code, e)
	}
	id, _ := unit["id"].(float64)
	if reviews, err := h.store.Reviews(ctx, int64(id), day.Format(time.DateOnly), day.Format(time.DateOnly)); err != nil || len(reviews) != 1 || reviews[0].Action != "Checked" {
		t.Errorf("stored reviews %+v, %v", reviews, err)
	}
	code, mkt := c.call(viewer, "GET", "/api/v1/units/"+unitID+"/mkt", "")
	if periods, _ := mkt["periods"].([]any); code != http.StatusOK || mkt["limit"] != 8.0 || mkt["sensor_id"] != "apifridge/cabinet" || len(periods) != 2 {
		t.Fatalf("MKT: %d %v", code, mkt)
	}

	// ---- PAR stock ----
	if code, st := c.call(viewer, "GET", "/api/v1/stock", ""); code != http.StatusOK || st["levels"] == nil || st["picks"] == nil {
		t.Errorf("stock: %d %v", code, st)
	}
}
