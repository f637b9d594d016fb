package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sim/modbussim"
	"github.com/wardwatch/wardwatch/sim/snmpsim"
)

// apiClient calls the real service's /api/v1 with a bearer token.
type apiClient struct {
	t    *testing.T
	base string
}

// call sends body (of contentType; JSON when "" and there is a body) and
// decodes a JSON answer into out when out is not nil.
func (c apiClient) call(token, method, path, contentType string, body []byte, out any) (int, http.Header, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType == "" && body != nil {
		contentType = "application/json"
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	return resp.StatusCode, resp.Header, b
}

// issueTokens stores an API token of each role in the real store.
func issueTokens(t *testing.T, h *hospitalRun, roles ...wardwatch.Role) map[wardwatch.Role]string {
	t.Helper()
	out := map[wardwatch.Role]string{}
	for _, r := range roles {
		text := "wwt_" + strings.Repeat(string(r[0]), 52)
		if err := h.store.CreateAPIToken(context.Background(), &wardwatch.APIToken{Name: "admin actions " + string(r), Role: r,
			Prefix: text[:12], CreatedBy: "test", SecretHash: auth.HashToken(text)}); err != nil {
			t.Fatal(err)
		}
		out[r] = text
	}
	return out
}

// TestAPIAdminActionsRoundTrip does through /api/v1, against the real
// service and store, what an admin does on the pages: assign and dismiss
// discovered tags, set an asset's status (as a nurse), import assets from
// CSV, upload a floor plan, read it back and scale it, reissue a gateway's
// push token (the old one stops working, the new one pushes), create, use
// and revoke an API token, read the audit log of it all, and read the
// system status.
func TestAPIAdminActionsRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	tok := issueTokens(t, h, wardwatch.RoleAdmin, wardwatch.RoleNurse, wardwatch.RoleFacilities)
	admin, nurse := tok[wardwatch.RoleAdmin], tok[wardwatch.RoleNurse]
	c := apiClient{t: t, base: h.base}

	// Discovered tags.
	seen := time.Now().UTC().Truncate(time.Millisecond)
	tagA, tagB := "ibeacon:"+sim.HospitalUUID+":77:1", "ibeacon:"+sim.HospitalUUID+":77:2"
	if _, err := h.store.RecordDiscoveredTags(ctx, []wardwatch.DiscoveredTag{
		{TagID: tagA, FirstSeen: seen, LastSeen: seen, RSSI: -60, Sightings: 3},
		{TagID: tagB, FirstSeen: seen, LastSeen: seen, RSSI: -70, Sightings: 1},
	}); err != nil {
		t.Fatal(err)
	}
	var found struct {
		Items []struct {
			TagID     string `json:"tag_id"`
			Sightings int64  `json:"sightings"`
		} `json:"items"`
	}
	if code, _, b := c.call(admin, "GET", "/api/v1/discovered-tags", "", nil, &found); code != 200 || len(found.Items) != 2 || found.Items[0].TagID != tagA {
		t.Fatalf("discovered tags: %d %s", code, b)
	}
	spare := wardwatch.Asset{Name: "Spare pump 99", Kind: wardwatch.AssetInfusionPump}
	if err := h.store.CreateAsset(ctx, &spare); err != nil {
		t.Fatal(err)
	}
	spareID := strconv.FormatInt(spare.ID, 10)
	if code, _, b := c.call(admin, "POST", "/api/v1/discovered-tags/"+tagA+"/assign", "", []byte(`{"asset_id": `+spareID+`}`), nil); code != 200 {
		t.Fatalf("assign: %d %s", code, b)
	}
	if tags, _ := h.store.Tags(ctx); !slices.Contains(tags, wardwatch.Tag{ID: tagA, AssetID: spare.ID}) {
		t.Error("the assigned tag is not stored")
	}
	if code, _, b := c.call(admin, "POST", "/api/v1/discovered-tags/"+tagB+"/dismiss", "", nil, nil); code != 204 {
		t.Fatalf("dismiss: %d %s", code, b)
	}
	if left, _ := h.store.DiscoveredTags(ctx); len(left) != 0 {
		t.Errorf("discovered tags left: %+v", left)
	}
	if code, _, _ := c.call(admin, "POST", "/api/v1/discovered-tags/"+tagB+"/dismiss", "", nil, nil); code != 404 {
		t.Errorf("dismissing twice: %d", code)
	}

	// Asset status, as a nurse.
	var asset struct {
		Status string `json:"status"`
	}
	if code, _, b := c.call(nurse, "PUT", "/api/v1/assets/"+spareID+"/status", "", []byte(`{"status": "soiled", "reason": "used in 4B-12"}`), &asset); code != 200 || asset.Status != "soiled" {
		t.Fatalf("status: %d %s", code, b)
	}
	if a, _ := h.store.Asset(ctx, spare.ID); a.Status != wardwatch.StatusSoiled {
		t.Errorf("stored status %q", a.Status)
	}
	if code, _, _ := c.call(tok[wardwatch.RoleFacilities], "PUT", "/api/v1/assets/"+spareID+"/status", "", []byte(`{"status": "in_use"}`), nil); code != 403 {
		t.Errorf("facilities setting a status: %d, want 403", code)
	}

	// CSV import.
	var imp struct {
		Created  int `json:"created"`
		Problems []struct {
			Line    int    `json:"line"`
			Message string `json:"message"`
		} `json:"problems"`
	}
	csv := "name,kind,asset_tag,tags\nImported bed 1,bed,IMP-1,mac:0a0b0c0d0e01\nImported toaster,toaster,IMP-2,\n"
	if code, _, b := c.call(admin, "POST", "/api/v1/assets/import", "text/csv", []byte(csv), &imp); code != 200 || imp.Created != 1 ||
		len(imp.Problems) != 1 || imp.Problems[0].Line != 3 {
		t.Fatalf("import: %d %s", code, b)
	}
	as, err := h.store.Assets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(as, func(a wardwatch.Asset) bool { return a.Name == "Imported bed 1" && a.AssetTag == "IMP-1" }) ||
		slices.ContainsFunc(as, func(a wardwatch.Asset) bool { return a.Name == "Imported toaster" }) {
		t.Error("the import did not store exactly the good row")
	}

	// Floor plan: upload, read back, scale.
	var floors struct {
		Items []struct {
			ID    int64   `json:"id"`
			Width float64 `json:"width_m"`
		} `json:"items"`
	}
	if code, _, b := c.call(nurse, "GET", "/api/v1/floors", "", nil, &floors); code != 200 || len(floors.Items) == 0 {
		t.Fatalf("floors: %d %s", code, b)
	}
	fl := floors.Items[0]
	fid := strconv.FormatInt(fl.ID, 10)
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 400, 100))); err != nil {
		t.Fatal(err)
	}
	var floor struct {
		Width  float64 `json:"width_m"`
		Height float64 `json:"height_m"`
	}
	if code, _, b := c.call(admin, "PUT", "/api/v1/floors/"+fid+"/plan", "image/png", img.Bytes(), &floor); code != 200 || floor.Height != fl.Width/4 {
		t.Fatalf("upload plan: %d %s (width %g)", code, b, fl.Width)
	}
	code, hdr, b := c.call(nurse, "GET", "/api/v1/floors/"+fid+"/plan", "", nil, nil)
	if code != 200 || hdr.Get("Content-Type") != "image/png" || !bytes.Equal(b, img.Bytes()) {
		t.Fatalf("read plan: %d %v", code, hdr)
	}
	if code, _, b := c.call(admin, "PUT", "/api/v1/floors/"+fid+"/plan", "image/jpeg", img.Bytes(), nil); code != 400 {
		t.Errorf("a PNG sent as JPEG: %d %s", code, b)
	}
	body := fmt.Sprintf(`{"x1": 0, "y1": 0, "x2": %g, "y2": 0, "distance": %g}`, fl.Width, 2*fl.Width)
	if code, _, b := c.call(admin, "POST", "/api/v1/floors/"+fid+"/scale", "", []byte(body), &floor); code != 200 || floor.Width != 2*fl.Width {
		t.Fatalf("scale: %d %s", code, b)
	}
	if f, _ := h.store.Floor(ctx, fl.ID); f.Width != 2*fl.Width {
		t.Errorf("stored width %g, want %g", f.Width, 2*fl.Width)
	}

	// Gateway push token: the new one pushes, the old one no longer does.
	var gws struct {
		Items []struct {
			ID  int64  `json:"id"`
			Key string `json:"key"`
		} `json:"items"`
	}
	if code, _, b := c.call(admin, "GET", "/api/v1/gateways?limit=1000", "", nil, &gws); code != 200 {
		t.Fatalf("gateways: %d %s", code, b)
	}
	i := slices.IndexFunc(gws.Items, func(g struct {
		ID  int64  `json:"id"`
		Key string `json:"key"`
	}) bool {
		return g.Key == "f1-gw-01"
	})
	if i < 0 {
		t.Fatalf("no gateway f1-gw-01 in %+v", gws.Items)
	}
	push := func(token string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, h.base+"/ingest/v1/gateways/f1-gw-01/sightings",
			strings.NewReader(`{"sightings":[{"tag":"`+tagA+`","rssi":-60}]}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	old := h.hospital.Tokens()["f1-gw-01"]
	if code := push(old); code != http.StatusAccepted {
		t.Fatalf("push with the seeded token: %d", code)
	}
	var gw struct {
		PushToken string `json:"push_token"`
	}
	if code, _, b := c.call(admin, "POST", "/api/v1/gateways/"+strconv.FormatInt(gws.Items[i].ID, 10)+"/token", "", nil, &gw); code != 200 || gw.PushToken == "" {
		t.Fatalf("new push token: %d %s", code, b)
	}
	if code := push(gw.PushToken); code != http.StatusAccepted {
		t.Errorf("push with the new token: %d", code)
	}
	if code := push(old); code != http.StatusUnauthorized {
		t.Errorf("push with the old token: %d, want 401", code)
	}

	// API tokens: create, use, revoke.
	var created struct {
		ID    int64  `json:"id"`
		Token string `json:"token"`
	}
	if code, _, b := c.call(admin, "POST", "/api/v1/api-tokens", "", []byte(`{"name": "CMMS", "role": "biomed"}`), &created); code != 201 || created.Token == "" {
		t.Fatalf("create token: %d %s", code, b)
	}
	if code, _, _ := c.call(created.Token, "GET", "/api/v1/modbus-devices", "", nil, nil); code != 200 {
		t.Errorf("the new biomed token: %d", code)
	}
	if code, _, _ := c.call(created.Token, "POST", "/api/v1/api-tokens", "", []byte(`{"name": "escalate", "role": "admin"}`), nil); code != 403 {
		t.Errorf("a biomed token minting a token: %d, want 403", code)
	}
	code, _, b = c.call(admin, "GET", "/api/v1/api-tokens", "", nil, nil)
	if code != 200 || strings.Contains(string(b), created.Token) || strings.Contains(string(b), "hash") || !strings.Contains(string(b), `"CMMS"`) {
		t.Fatalf("token list: %d %s", code, b)
	}
	tid := strconv.FormatInt(created.ID, 10)
	if code, _, b := c.call(admin, "DELETE", "/api/v1/api-tokens/"+tid, "", nil, nil); code != 204 {
		t.Fatalf("revoke: %d %s", code, b)
	}
	if code, _, _ := c.call(created.Token, "GET", "/api/v1/modbus-devices", "", nil, nil); code != 401 {
		t.Errorf("the revoked token: %d, want 401", code)
	}

	// The audit log has it all, newest first, by the tokens' names.
	var audit struct {
		Items []struct {
			Action    string          `json:"action"`
			Subject   string          `json:"subject"`
			SubjectID string          `json:"subject_id"`
			Username  string          `json:"username"`
			New       json.RawMessage `json:"new"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	if code, _, b := c.call(admin, "GET", "/api/v1/audit?subject=api_token&subject_id="+tid, "", nil, &audit); code != 200 || len(audit.Items) != 2 ||
		audit.Items[0].Action != "revoke" || audit.Items[1].Action != "create" || audit.Items[1].Username != "api:admin actions admin" ||
		!strings.Contains(string(audit.Items[1].New), `"role":"biomed"`) {
		t.Fatalf("audit of the token: %d %s", code, b)
	}
	if code, _, b := c.call(admin, "GET", "/api/v1/audit?limit=3", "", nil, &audit); code != 200 || len(audit.Items) != 3 || audit.NextCursor == "" {
		t.Fatalf("audit page: %d %s", code, b)
	}
	var all []string
	for cursor := ""; ; {
		path := "/api/v1/audit?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		audit.NextCursor = ""
		if code, _, b := c.call(admin, "GET", path, "", nil, &audit); code != 200 {
			t.Fatalf("audit: %d %s", code, b)
		}
		for _, e := range audit.Items {
			all = append(all, e.Action+" "+e.Subject)
		}
		if cursor = audit.NextCursor; cursor == "" || len(all) > 1000 {
			break
		}
	}
	for _, want := range []string{"assign tag", "dismiss tag", "status asset", "create asset", "plan floor", "scale floor", "token gateway",
		"create api_token", "revoke api_token"} {
		if !slices.Contains(all, want) {
			t.Errorf("the audit log lacks %q: %v", want, all)
		}
	}

	// System status.
	var sys struct {
		Checks []struct {
			Name string `json:"name"`
		} `json:"checks"`
	}
	if code, _, b := c.call(tok[wardwatch.RoleFacilities], "GET", "/api/v1/system", "", nil, &sys); code != 200 || len(sys.Checks) == 0 {
		t.Fatalf("system: %d %s", code, b)
	}
	if code, _, _ := c.call(nurse, "GET", "/api/v1/system", "", nil, nil); code != 403 {
		t.Errorf("a nurse reading the system status: %d, want 403", code)
	}
}

// TestAPITestConnectionRoundTrip tests a Modbus device on the Modbus
// simulator and an SNMP target on the SNMP simulator through /api/v1 of
// the real service: the reports come back as JSON, and nothing is stored.
func TestAPITestConnectionRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	admin := issueTokens(t, h, wardwatch.RoleAdmin)[wardwatch.RoleAdmin]
	c := apiClient{t: t, base: h.base}

	devices := []modbussim.SimDevice{{UnitID: 1, Name: "test fridge", Kind: modbussim.KindVaccineFridge, Setpoint: 5}}
	srv, err := modbussim.Start(ctx, "127.0.0.1:0", devices, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	agent, err := snmpsim.Start(ctx, "127.0.0.1:0", 3, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	mdBefore, _ := h.store.ModbusDevices(ctx)
	stBefore, _ := h.store.SNMPTargets(ctx)

	type report struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		Rows  []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
			Error string `json:"error"`
		} `json:"rows"`
	}
	var rep report
	body := fmt.Sprintf(`{"name": "test fridge", "transport": "tcp", "address": %q, "slave_id": 1, "profile": %q, "timeout": "2s"}`,
		srv.Addr(), devices[0].Kind.Profile())
	if code, _, b := c.call(admin, "POST", "/api/v1/modbus-devices/test", "", []byte(body), &rep); code != 200 || !rep.OK || len(rep.Rows) == 0 {
		t.Fatalf("modbus test: %d %s", code, b)
	}
	read := false
	for _, r := range rep.Rows {
		read = read || r.Error == "" && r.Value != ""
	}
	if !read {
		t.Errorf("the modbus test read no value: %+v", rep.Rows)
	}

	body = fmt.Sprintf(`{"name": "pump server", "address": %q, "version": "v3", "user": %q, "auth_protocol": %q, "auth_password": %q,
		"priv_protocol": %q, "priv_password": %q, "profile": %q, "timeout": "2s", "retries": 1}`,
		agent.Addr(), snmpsim.User, snmpsim.AuthProtocol, snmpsim.AuthPassword, snmpsim.PrivProtocol, snmpsim.PrivPassword, snmp.ExamplePumpServerProfile)
	rep = report{}
	code, _, b := c.call(admin, "POST", "/api/v1/snmp-targets/test", "", []byte(body), &rep)
	if code != 200 || !rep.OK || !slices.ContainsFunc(rep.Rows, func(r struct {
		Name  string `json:"name"`
		Value string `json:"value"`
		Error string `json:"error"`
	}) bool {
		return r.Name == "pumps read" && r.Value == "3"
	}) {
		t.Fatalf("snmp test: %d %s", code, b)
	}
	if strings.Contains(string(b), snmpsim.AuthPassword) || strings.Contains(string(b), snmpsim.PrivPassword) {
		t.Error("the SNMP test answer echoes a secret")
	}
	bad := strings.Replace(body, snmpsim.PrivPassword, "wrong-privacy-pw", 1)
	rep = report{}
	if code, _, b := c.call(admin, "POST", "/api/v1/snmp-targets/test", "", []byte(bad), &rep); code != 200 || rep.OK || rep.Error == "" {
		t.Errorf("a wrong privacy password: %d %s", code, b)
	}

	mdAfter, _ := h.store.ModbusDevices(ctx)
	stAfter, _ := h.store.SNMPTargets(ctx)
	if len(mdAfter) != len(mdBefore) || len(stAfter) != len(stBefore) {
		t.Errorf("testing stored devices: Modbus %d → %d, SNMP %d → %d", len(mdBefore), len(mdAfter), len(stBefore), len(stAfter))
	}
}
