package web

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/floorplan"
)

// admLayout is a LayoutStore over a fakeStore for the plan, scale and
// gateway token actions; the other methods are not used by these tests.
type admLayout struct {
	LayoutStore
	store  *fakeStore
	mu     sync.Mutex
	tokens map[int64][]byte
}

func (l *admLayout) SetFloorPlan(_ context.Context, id int64, p wardwatch.FloorPlan) error {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	l.store.plans[id] = p
	return nil
}

func (l *admLayout) UpdateFloor(_ context.Context, f wardwatch.Floor) error {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	for i := range l.store.floors {
		if l.store.floors[i].ID == f.ID {
			l.store.floors[i] = f
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d not found", f.ID)
}

func (l *admLayout) ScaleFloor(_ context.Context, id int64, factor float64) error {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	for i := range l.store.floors {
		if l.store.floors[i].ID == id {
			l.store.floors[i].Width *= factor
			l.store.floors[i].Height *= factor
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d not found", id)
}

func (l *admLayout) SetGatewayToken(_ context.Context, id int64, hash []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tokens == nil {
		l.tokens = map[int64][]byte{}
	}
	l.tokens[id] = hash
	return nil
}

// admAudit is an AuditStore that numbers entries and answers queries as
// the real store: newest first, by subject (and ID), before an ID, limited.
type admAudit struct {
	mu      sync.Mutex
	entries []wardwatch.AuditEntry
}

func (a *admAudit) AppendAudit(_ context.Context, e *wardwatch.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	e.ID = int64(len(a.entries) + 1)
	e.Time = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(e.ID) * time.Minute)
	a.entries = append(a.entries, *e)
	return nil
}

func (a *admAudit) AuditLog(_ context.Context, q wardwatch.AuditQuery) ([]wardwatch.AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []wardwatch.AuditEntry
	for i := len(a.entries) - 1; i >= 0 && len(out) < q.Limit; i-- {
		e := a.entries[i]
		if q.Subject != "" && e.Subject != q.Subject || q.SubjectID != "" && e.SubjectID != q.SubjectID || q.BeforeID > 0 && e.ID >= q.BeforeID {
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// last returns the newest entry.
func (a *admAudit) last(t *testing.T) wardwatch.AuditEntry {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.entries) == 0 {
		t.Fatal("nothing was audited")
	}
	return a.entries[len(a.entries)-1]
}

func (a *admAudit) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.entries)
}

// admDevices is a DeviceStore holding one SNMP target (id 5) with secrets;
// it counts writes, which the test endpoints must never make.
type admDevices struct {
	DeviceStore
	writes int
}

func (d *admDevices) SNMPTarget(_ context.Context, id int64) (wardwatch.SNMPTarget, error) {
	if id != 5 {
		return wardwatch.SNMPTarget{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "SNMP target %d not found", id)
	}
	return wardwatch.SNMPTarget{ID: 5, Name: "pump server", Address: "10.0.0.5:161", Version: "v3", User: "ww",
		AuthProtocol: "SHA", AuthPassword: "stored-auth", PrivProtocol: "AES", PrivPassword: "stored-priv", Profile: "alaris"}, nil
}

func (d *admDevices) CreateModbusDevice(context.Context, *wardwatch.ModbusDevice) error {
	d.writes++
	return nil
}
func (d *admDevices) CreateSNMPTarget(context.Context, *wardwatch.SNMPTarget) error {
	d.writes++
	return nil
}

// admRig is a server with every admin action's dependency faked.
type admRig struct {
	h       http.Handler
	store   *fakeStore
	tokens  *fakeAPITokens
	layout  *admLayout
	audit   *admAudit
	admin   *importStore
	devices *admDevices
	changed int
	mu      sync.Mutex
	modbus  []wardwatch.ModbusDevice
	snmp    []wardwatch.SNMPTarget
}

func newAdmRig(t *testing.T, opts ...func(*Config)) *admRig {
	t.Helper()
	rig := &admRig{store: newFakeStore(), tokens: &fakeAPITokens{}, audit: &admAudit{}, admin: &importStore{}, devices: &admDevices{}}
	rig.layout = &admLayout{store: rig.store}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cfg := Config{Store: rig.store, Live: &fakeLive{}, APITokens: rig.tokens, Now: func() time.Time { return now }, Location: time.UTC,
		Layout: rig.layout, Admin: rig.admin, Assets: fakeAssets{store: rig.store}, Audit: rig.audit, Devices: rig.devices,
		ConfigChanged: func(context.Context) { rig.mu.Lock(); rig.changed++; rig.mu.Unlock() },
		Collectors: Collectors{
			TestModbus: func(_ context.Context, d wardwatch.ModbusDevice) TestReport {
				rig.mu.Lock()
				defer rig.mu.Unlock()
				rig.modbus = append(rig.modbus, d)
				return TestReport{Rows: []TestRow{{Name: "temperature (holding 0, int16)", Raw: "0x0037", Value: "5.5", Unit: "°C"}}}
			},
			TestSNMP: func(_ context.Context, tg wardwatch.SNMPTarget) TestReport {
				rig.mu.Lock()
				defer rig.mu.Unlock()
				rig.snmp = append(rig.snmp, tg)
				return TestReport{Error: "The target did not answer within 2s."}
			},
		},
		SystemChecks: func(time.Time) []SystemCheck {
			return []SystemCheck{{Name: "Telemetry store", OK: true, Detail: "SQLite"}, {Name: "Gateways", OK: false, Detail: "2 of 12 offline"}}
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	rig.h = NewServer(cfg)
	return rig
}

func (rig *admRig) changes() int {
	rig.mu.Lock()
	defer rig.mu.Unlock()
	return rig.changed
}

// apiSend sends a request with a bearer token and a body of a content type.
func apiSend(t *testing.T, h http.Handler, method, path, token, contentType string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantError checks rec is a JSON error of status and code.
func wantError(t *testing.T, what string, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("%s: %d %s, want %d", what, rec.Code, rec.Body.String(), status)
		return
	}
	if got := apiErrorCode(t, rec); got != code {
		t.Errorf("%s: code %q, want %q", what, got, code)
	}
}

func decode[T any](t *testing.T, rec *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("answer %q: %v", rec.Body.String(), err)
	}
	return v
}

func TestAPIAdminDiscoveredTags(t *testing.T) {
	rig := newAdmRig(t)
	seen := time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC)
	rig.store.found = []wardwatch.DiscoveredTag{
		{TagID: "ibeacon:b:1:2", FirstSeen: seen.Add(-time.Hour), LastSeen: seen, GatewayID: 7, RSSI: -71, Sightings: 40},
		{TagID: "ibeacon:a:1:1", FirstSeen: seen.Add(-time.Hour), LastSeen: seen, GatewayID: 7, RSSI: -60, Sightings: 12},
	}
	rig.store.gateways = []wardwatch.Gateway{{ID: 7, Key: "gw-7", Name: "4B corridor", FloorID: 1}}
	admin, nurse := rig.tokens.issue(t, wardwatch.RoleAdmin), rig.tokens.issue(t, wardwatch.RoleNurse)

	rec := apiDo(t, rig.h, "GET", "/api/v1/discovered-tags", admin, "")
	list := decode[apiList[apiDiscoveredTagJSON]](t, rec)
	if rec.Code != 200 || list.Total != 2 || list.Items[0].TagID != "ibeacon:a:1:1" || list.Items[0].Gateway != "4B corridor" ||
		*list.Items[0].LastSeen != "2026-03-01T11:59:00.000Z" || list.Items[1].Sightings != 40 {
		t.Fatalf("discovered tags: %d %s", rec.Code, rec.Body.String())
	}
	wantError(t, "a nurse listing", apiDo(t, rig.h, "GET", "/api/v1/discovered-tags", nurse, ""), 403, wardwatch.EFORBIDDEN)
	wantError(t, "a filter", apiDo(t, rig.h, "GET", "/api/v1/discovered-tags?gateway=7", admin, ""), 400, wardwatch.EINVALID)

	for _, tc := range []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"no asset", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", `{}`, 400, wardwatch.EINVALID},
		{"a bad asset", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", `{"asset_id": "x"}`, 400, wardwatch.EINVALID},
		{"an unknown field", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", `{"asset_id": 100, "asset": 100}`, 400, wardwatch.EINVALID},
		{"no such asset", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", `{"asset_id": 999}`, 404, wardwatch.ENOTFOUND},
		{"no such tag", "/api/v1/discovered-tags/nope/assign", `{"asset_id": 100}`, 404, wardwatch.ENOTFOUND},
		{"a nurse", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", `{"asset_id": 100}`, 403, wardwatch.EFORBIDDEN},
	} {
		tok := admin
		if tc.name == "a nurse" {
			tok = nurse
		}
		wantError(t, tc.name, apiDo(t, rig.h, "POST", tc.path, tok, tc.body), tc.status, tc.code)
	}
	if n := rig.audit.count(); n != 0 {
		t.Errorf("refused assignments audited %d entries", n)
	}

	rec = apiDo(t, rig.h, "POST", "/api/v1/discovered-tags/ibeacon:a:1:1/assign", admin, `{"asset_id": 100}`)
	if tag := decode[apiTagJSON](t, rec); rec.Code != 200 || tag.ID != "ibeacon:a:1:1" || tag.AssetID != 100 {
		t.Fatalf("assign: %d %s", rec.Code, rec.Body.String())
	}
	if !slices.Contains(rig.store.tags, wardwatch.Tag{ID: "ibeacon:a:1:1", AssetID: 100}) || rig.changes() != 1 {
		t.Errorf("tags %v, config changes %d", rig.store.tags, rig.changes())
	}
	if e := rig.audit.last(t); e.Action != "assign" || e.Subject != "tag" || e.SubjectID != "ibeacon:a:1:1" || e.Username != "api:test admin" {
		t.Errorf("audit %+v", e)
	}

	if rec = apiDo(t, rig.h, "POST", "/api/v1/discovered-tags/ibeacon:b:1:2/dismiss", admin, ""); rec.Code != 204 {
		t.Fatalf("dismiss: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "dismiss" || e.SubjectID != "ibeacon:b:1:2" {
		t.Errorf("audit %+v", e)
	}
	wantError(t, "dismissing twice", apiDo(t, rig.h, "POST", "/api/v1/discovered-tags/ibeacon:b:1:2/dismiss", admin, ""), 404, wardwatch.ENOTFOUND)
	wantError(t, "a long tag", apiDo(t, rig.h, "POST", "/api/v1/discovered-tags/"+strings.Repeat("x", 300)+"/dismiss", admin, ""), 404, wardwatch.ENOTFOUND)
	if rec = apiDo(t, rig.h, "GET", "/api/v1/discovered-tags", admin, ""); decode[apiList[apiDiscoveredTagJSON]](t, rec).Total != 0 {
		t.Errorf("after assign and dismiss: %s", rec.Body.String())
	}
}

func TestAPIAdminAssetStatus(t *testing.T) {
	rig := newAdmRig(t)
	nurse, viewer := rig.tokens.issue(t, wardwatch.RoleNurse), rig.tokens.issue(t, wardwatch.RoleViewer)

	rec := apiDo(t, rig.h, "PUT", "/api/v1/assets/100/status", nurse, `{"status": "soiled", "reason": "back from 4B-12"}`)
	if a := decode[apiAssetJSON](t, rec); rec.Code != 200 || a.ID != 100 || a.Status != "soiled" {
		t.Fatalf("set status: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "status" || e.SubjectID != "100" || e.Reason != "back from 4B-12" || e.New != `{"status":"soiled"}` {
		t.Errorf("audit %+v", e)
	}
	wantError(t, "a viewer", apiDo(t, rig.h, "PUT", "/api/v1/assets/100/status", viewer, `{"status": "in_use"}`), 403, wardwatch.EFORBIDDEN)
	wantError(t, "no status", apiDo(t, rig.h, "PUT", "/api/v1/assets/100/status", nurse, `{"reason": "x"}`), 400, wardwatch.EINVALID)
	wantError(t, "a bad status", apiDo(t, rig.h, "PUT", "/api/v1/assets/100/status", nurse, `{"status": "broken"}`), 400, wardwatch.EINVALID)
	wantError(t, "no such asset", apiDo(t, rig.h, "PUT", "/api/v1/assets/999/status", nurse, `{"status": "in_use"}`), 404, wardwatch.ENOTFOUND)
	wantError(t, "a long reason", apiDo(t, rig.h, "PUT", "/api/v1/assets/100/status", nurse,
		`{"status": "in_use", "reason": "`+strings.Repeat("r", 300)+`"}`), 400, wardwatch.EINVALID)
	if a, _ := rig.store.Asset(context.Background(), 100); a.Status != wardwatch.StatusSoiled {
		t.Errorf("refused changes changed the status to %q", a.Status)
	}
}

func TestAPIAdminImportAssets(t *testing.T) {
	rig := newAdmRig(t)
	admin := rig.tokens.issue(t, wardwatch.RoleAdmin)
	csv := "name,kind,tags\nPump 1,infusion_pump,ibeacon:x:1:1;ibeacon:x:1:2\nToaster,toaster,\nBed 9,bed,\n"
	rec := apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "text/csv; charset=utf-8", []byte(csv))
	got := decode[apiImportJSON](t, rec)
	if rec.Code != 200 || got.Created != 2 || len(got.Problems) != 1 || got.Problems[0].Line != 3 || got.Problems[0].Message == "" {
		t.Fatalf("import: %d %s", rec.Code, rec.Body.String())
	}
	if rig.admin.assets != 2 || rig.admin.tags != 2 || rig.changes() != 1 {
		t.Errorf("assets %d, tags %d, config changes %d", rig.admin.assets, rig.admin.tags, rig.changes())
	}
	if e := rig.audit.last(t); e.Action != "create" || e.Subject != "asset" || e.Reason != "CSV import" {
		t.Errorf("audit %+v", e)
	}

	before := rig.admin.assets
	wantError(t, "JSON", apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "application/json", []byte(`{}`)), 400, wardwatch.EINVALID)
	wantError(t, "no type", apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "", []byte(csv)), 400, wardwatch.EINVALID)
	wantError(t, "a bad header", apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "text/csv", []byte("name,colour\nx,red\n")), 400, wardwatch.EINVALID)
	wantError(t, "empty", apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "text/csv", nil), 400, wardwatch.EINVALID)
	big := []byte("name,kind\n" + strings.Repeat("Bed,bed\n", maxImportBytes/8+1))
	wantError(t, "too large", apiSend(t, rig.h, "POST", "/api/v1/assets/import", admin, "text/csv", big), 413, wardwatch.ETOOLARGE)
	nurse := rig.tokens.issue(t, wardwatch.RoleNurse)
	wantError(t, "a nurse", apiSend(t, rig.h, "POST", "/api/v1/assets/import", nurse, "text/csv", []byte(csv)), 403, wardwatch.EFORBIDDEN)
	if rig.admin.assets != before {
		t.Errorf("refused imports created %d assets", rig.admin.assets-before)
	}
}

// pngPlan is a w×h PNG.
func pngPlan(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAPIAdminFloorPlan(t *testing.T) {
	rig := newAdmRig(t)
	admin, viewer := rig.tokens.issue(t, wardwatch.RoleAdmin), rig.tokens.issue(t, wardwatch.RoleViewer)

	rec := apiDo(t, rig.h, "GET", "/api/v1/floors/1/plan", viewer, "")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/svg+xml" || rec.Header().Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(rec.Header().Get("Content-Security-Policy"), "sandbox") || !strings.Contains(rec.Body.String(), "<svg") {
		t.Fatalf("plan: %d %v %s", rec.Code, rec.Header(), rec.Body.String())
	}
	wantError(t, "no such floor", apiDo(t, rig.h, "GET", "/api/v1/floors/999/plan", viewer, ""), 404, wardwatch.ENOTFOUND)
	wantError(t, "a bad id", apiDo(t, rig.h, "GET", "/api/v1/floors/x/plan", viewer, ""), 404, wardwatch.ENOTFOUND)
	delete(rig.store.plans, 2)
	wantError(t, "no plan", apiDo(t, rig.h, "GET", "/api/v1/floors/2/plan", viewer, ""), 404, wardwatch.ENOTFOUND)

	plan := pngPlan(t, 200, 100)
	for _, tc := range []struct {
		name, ct string
		body     []byte
		path     string
		token    string
		status   int
		code     string
	}{
		{"a viewer", "image/png", plan, "/api/v1/floors/1/plan", viewer, 403, wardwatch.EFORBIDDEN},
		{"no type", "", plan, "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"JSON", "application/json", []byte(`{}`), "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"the wrong type", "image/jpeg", plan, "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"not an image", "image/png", []byte("not a png"), "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"an SVG without a size", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"too many pixels", "image/png", pngPlan(t, floorplan.MaxPlanPixels+1, 1), "/api/v1/floors/1/plan", admin, 400, wardwatch.EINVALID},
		{"too large", "image/png", make([]byte, floorplan.MaxPlanBytes+1), "/api/v1/floors/1/plan", admin, 413, wardwatch.ETOOLARGE},
		{"no such floor", "image/png", plan, "/api/v1/floors/999/plan", admin, 404, wardwatch.ENOTFOUND},
	} {
		wantError(t, tc.name, apiSend(t, rig.h, "PUT", tc.path, tc.token, tc.ct, tc.body), tc.status, tc.code)
	}
	if rig.audit.count() != 0 || rig.changes() != 0 {
		t.Fatalf("refused uploads: %d audit entries, %d config changes", rig.audit.count(), rig.changes())
	}

	rec = apiSend(t, rig.h, "PUT", "/api/v1/floors/1/plan", admin, "image/png", plan)
	if f := decode[apiFloorJSON](t, rec); rec.Code != 200 || f.Width != 60 || f.Height != 30 {
		t.Fatalf("upload: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "plan" || e.SubjectID != "1" || rig.changes() != 1 {
		t.Errorf("audit %+v, config changes %d", e, rig.changes())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/floors/1/plan", viewer, "")
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || !bytes.Equal(rec.Body.Bytes(), plan) {
		t.Errorf("the new plan: %d %v", rec.Code, rec.Header())
	}

	// Scale: 10 m as drawn is 20 m in reality.
	for _, tc := range []struct{ name, body string }{
		{"no points", `{}`},
		{"no distance", `{"x1": 0, "y1": 0, "x2": 10, "y2": 0}`},
		{"the same point", `{"x1": 1, "y1": 1, "x2": 1, "y2": 1, "distance": 5}`},
		{"a negative distance", `{"x1": 0, "y1": 0, "x2": 10, "y2": 0, "distance": -5}`},
		{"text", `{"x1": "a", "y1": 0, "x2": 10, "y2": 0, "distance": 5}`},
	} {
		wantError(t, tc.name, apiDo(t, rig.h, "POST", "/api/v1/floors/1/scale", admin, tc.body), 400, wardwatch.EINVALID)
	}
	wantError(t, "no such floor", apiDo(t, rig.h, "POST", "/api/v1/floors/999/scale", admin, `{"x1": 0, "y1": 0, "x2": 10, "y2": 0, "distance": 20}`), 404, wardwatch.ENOTFOUND)
	rec = apiDo(t, rig.h, "POST", "/api/v1/floors/1/scale", admin, `{"x1": 0, "y1": 0, "x2": 10, "y2": 0, "distance": 20}`)
	if f := decode[apiFloorJSON](t, rec); rec.Code != 200 || f.Width != 120 || f.Height != 60 {
		t.Fatalf("scale: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "scale" || e.New != `{"distance_m":20,"factor":2}` {
		t.Errorf("audit %+v", e)
	}
}

func TestAPIAdminGatewayToken(t *testing.T) {
	rig := newAdmRig(t)
	rig.store.gateways = []wardwatch.Gateway{{ID: 7, Key: "gw-7", Name: "4B corridor", FloorID: 1, TokenHash: []byte("old")},
		{ID: 8, Key: "reader-1#1", Name: "Dock antenna", FloorID: 1}}
	admin, biomed := rig.tokens.issue(t, wardwatch.RoleAdmin), rig.tokens.issue(t, wardwatch.RoleBiomed)

	rec := apiDo(t, rig.h, "POST", "/api/v1/gateways/7/token", admin, "")
	g := decode[apiGatewayJSON](t, rec)
	if rec.Code != 200 || g.ID != 7 || !g.HasToken || g.PushToken == "" || g.PushTokenWarning == "" {
		t.Fatalf("token: %d %s", rec.Code, rec.Body.String())
	}
	if !bytes.Equal(rig.layout.tokens[7], auth.HashToken(g.PushToken)) {
		t.Error("the stored hash is not the answered token's")
	}
	if e := rig.audit.last(t); e.Action != "token" || e.SubjectID != "7" || strings.Contains(e.New+e.Old+e.Reason, g.PushToken) || rig.changes() != 1 {
		t.Errorf("audit %+v, config changes %d", e, rig.changes())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/gateways", biomed, "")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), g.PushToken) || strings.Contains(rec.Body.String(), `"push_token":`) {
		t.Errorf("the gateway list shows the token: %s", rec.Body.String())
	}
	wantError(t, "an antenna", apiDo(t, rig.h, "POST", "/api/v1/gateways/8/token", admin, ""), 400, wardwatch.EINVALID)
	wantError(t, "no such gateway", apiDo(t, rig.h, "POST", "/api/v1/gateways/999/token", admin, ""), 404, wardwatch.ENOTFOUND)
	wantError(t, "biomed", apiDo(t, rig.h, "POST", "/api/v1/gateways/7/token", biomed, ""), 403, wardwatch.EFORBIDDEN)
	if len(rig.layout.tokens) != 1 {
		t.Errorf("tokens set: %v", rig.layout.tokens)
	}
}

func TestAPIAdminTokens(t *testing.T) {
	rig := newAdmRig(t)
	admin := rig.tokens.issue(t, wardwatch.RoleAdmin)

	rec := apiDo(t, rig.h, "POST", "/api/v1/api-tokens", admin, `{"name": "CMMS", "role": "biomed"}`)
	created := decode[apiTokenJSON](t, rec)
	if rec.Code != 201 || created.Name != "CMMS" || created.Role != "biomed" || !created.Active || created.CreatedBy != "api:test admin" ||
		!wellFormedAPIToken(created.Token) || !strings.HasPrefix(created.Token, created.Prefix) || created.TokenNote == "" {
		t.Fatalf("create: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "create" || e.Subject != "api_token" || strings.Contains(e.New, created.Token) || !strings.Contains(e.New, `"role":"biomed"`) {
		t.Errorf("audit %+v", e)
	}
	// The new token works with its role's rights, and no more.
	if rec := apiDo(t, rig.h, "GET", "/api/v1/gateways", created.Token, ""); rec.Code != 200 {
		t.Errorf("the new biomed token listing gateways: %d", rec.Code)
	}
	wantError(t, "a biomed token creating a token", apiDo(t, rig.h, "POST", "/api/v1/api-tokens", created.Token, `{"name": "x", "role": "admin"}`), 403, wardwatch.EFORBIDDEN)
	wantError(t, "a biomed token listing tokens", apiDo(t, rig.h, "GET", "/api/v1/api-tokens", created.Token, ""), 403, wardwatch.EFORBIDDEN)

	rec = apiDo(t, rig.h, "GET", "/api/v1/api-tokens", admin, "")
	if rec.Code != 200 {
		t.Fatalf("list: %d %s", rec.Code, rec.Body.String())
	}
	var raw struct {
		Items []map[string]any `json:"items"`
		Total int              `json:"total"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil || raw.Total != 2 {
		t.Fatalf("list %s: %v", rec.Body.String(), err)
	}
	for _, it := range raw.Items {
		for k := range it {
			if k == "token" || strings.Contains(k, "hash") || strings.Contains(k, "secret") {
				t.Errorf("the list shows %q: %v", k, it)
			}
		}
	}
	if strings.Contains(rec.Body.String(), created.Token) || strings.Contains(rec.Body.String(), admin) {
		t.Error("the list shows a token text")
	}

	before := rig.audit.count()
	for _, tc := range []struct{ name, body string }{
		{"no role", `{"name": "x"}`},
		{"a bad role", `{"name": "x", "role": "superuser"}`},
		{"no name", `{"role": "viewer"}`},
		{"an unknown field", `{"name": "x", "role": "viewer", "scopes": ["all"]}`},
		{"not JSON", `name=x`},
	} {
		wantError(t, tc.name, apiDo(t, rig.h, "POST", "/api/v1/api-tokens", admin, tc.body), 400, wardwatch.EINVALID)
	}
	if rig.audit.count() != before {
		t.Error("refused creates were audited")
	}

	id := created.ID
	if rec = apiDo(t, rig.h, "DELETE", "/api/v1/api-tokens/"+idText(id), admin, ""); rec.Code != 204 {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body.String())
	}
	if e := rig.audit.last(t); e.Action != "revoke" || e.SubjectID != idText(id) || !strings.Contains(e.Old, `"name":"CMMS"`) {
		t.Errorf("audit %+v", e)
	}
	wantError(t, "the revoked token", apiDo(t, rig.h, "GET", "/api/v1/gateways", created.Token, ""), 401, wardwatch.EUNAUTHORIZED)
	rec = apiDo(t, rig.h, "GET", "/api/v1/api-tokens", admin, "")
	list := decode[apiList[apiTokenJSON]](t, rec)
	if i := slices.IndexFunc(list.Items, func(x apiTokenJSON) bool { return x.ID == id }); i < 0 || list.Items[i].Active || list.Items[i].RevokedAt == nil {
		t.Errorf("the revoked token is not listed as revoked: %s", rec.Body.String())
	}
	wantError(t, "no such token", apiDo(t, rig.h, "DELETE", "/api/v1/api-tokens/999", admin, ""), 404, wardwatch.ENOTFOUND)
	wantError(t, "a bad id", apiDo(t, rig.h, "DELETE", "/api/v1/api-tokens/x", admin, ""), 404, wardwatch.ENOTFOUND)
}

func TestAPIAdminAuditLog(t *testing.T) {
	rig := newAdmRig(t)
	admin, facilities := rig.tokens.issue(t, wardwatch.RoleAdmin), rig.tokens.issue(t, wardwatch.RoleFacilities)
	ctx := context.Background()
	for i, s := range []string{"asset", "floor", "asset", "gateway", "asset"} {
		_ = rig.audit.AppendAudit(ctx, &wardwatch.AuditEntry{Action: "update", Subject: s, SubjectID: idText(int64(i + 1)),
			Old: `{"name":"a"}`, New: "not json", Username: "pat"})
	}

	rec := apiDo(t, rig.h, "GET", "/api/v1/audit?limit=2", admin, "")
	page := decode[apiAuditList](t, rec)
	if rec.Code != 200 || len(page.Items) != 2 || page.Items[0].ID != 5 || page.Items[1].ID != 4 || page.NextCursor == "" {
		t.Fatalf("first page: %d %s", rec.Code, rec.Body.String())
	}
	if e := page.Items[0]; string(e.Old) != `{"name":"a"}` || string(e.New) != `"not json"` || *e.Time != "2026-03-01T12:05:00.000Z" || e.Username != "pat" {
		t.Errorf("entry %+v", e)
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/audit?limit=2&cursor="+page.NextCursor, admin, "")
	if page = decode[apiAuditList](t, rec); len(page.Items) != 2 || page.Items[0].ID != 3 || page.NextCursor == "" {
		t.Fatalf("second page: %s", rec.Body.String())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/audit?limit=2&cursor="+page.NextCursor, admin, "")
	if page = decode[apiAuditList](t, rec); len(page.Items) != 1 || page.Items[0].ID != 1 || page.NextCursor != "" {
		t.Fatalf("last page: %s", rec.Body.String())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/audit?subject=asset&before=5", admin, "")
	if page = decode[apiAuditList](t, rec); len(page.Items) != 2 || page.Items[0].ID != 3 || page.Items[1].ID != 1 {
		t.Errorf("assets before 5: %s", rec.Body.String())
	}
	rec = apiDo(t, rig.h, "GET", "/api/v1/audit?subject=asset&subject_id=3", admin, "")
	if page = decode[apiAuditList](t, rec); len(page.Items) != 1 || page.Items[0].ID != 3 {
		t.Errorf("asset 3: %s", rec.Body.String())
	}
	for _, q := range []string{"offset=1", "subject_id=3", "before=x", "before=1&cursor=" + encodeCursor(3), "cursor=zzz",
		"subject=" + strings.Repeat("s", 41), "colour=red", "limit=0"} {
		wantError(t, q, apiDo(t, rig.h, "GET", "/api/v1/audit?"+q, admin, ""), 400, wardwatch.EINVALID)
	}
	wantError(t, "facilities", apiDo(t, rig.h, "GET", "/api/v1/audit", facilities, ""), 403, wardwatch.EFORBIDDEN)
}

func TestAPIAdminTestConnection(t *testing.T) {
	rig := newAdmRig(t)
	admin, biomed := rig.tokens.issue(t, wardwatch.RoleAdmin), rig.tokens.issue(t, wardwatch.RoleBiomed)

	rec := apiDo(t, rig.h, "POST", "/api/v1/modbus-devices/test", admin,
		`{"name": "fridge", "transport": "tcp", "address": "10.0.0.9:502", "slave_id": 3, "profile": "fridge-controller", "timeout": "1s", "enabled": true}`)
	rep := decode[apiTestReportJSON](t, rec)
	if rec.Code != 200 || !rep.OK || len(rep.Rows) != 1 || rep.Rows[0].Value != "5.5" || rep.Rows[0].Unit != "°C" {
		t.Fatalf("modbus test: %d %s", rec.Code, rec.Body.String())
	}
	if len(rig.modbus) != 1 || rig.modbus[0].Address != "10.0.0.9:502" || rig.modbus[0].SlaveID != 3 || rig.modbus[0].Timeout != time.Second {
		t.Errorf("tested %+v", rig.modbus)
	}
	wantError(t, "a bad timeout", apiDo(t, rig.h, "POST", "/api/v1/modbus-devices/test", admin, `{"address": "x:502", "timeout": "soon"}`), 400, wardwatch.EINVALID)
	wantError(t, "an unknown field", apiDo(t, rig.h, "POST", "/api/v1/modbus-devices/test", admin, `{"address": "x:502", "register": 4}`), 400, wardwatch.EINVALID)
	wantError(t, "biomed", apiDo(t, rig.h, "POST", "/api/v1/modbus-devices/test", biomed, `{"address": "x:502"}`), 403, wardwatch.EFORBIDDEN)

	rec = apiDo(t, rig.h, "POST", "/api/v1/snmp-targets/test", admin, `{"address": "10.0.0.7:161", "version": "v3", "user": "ww", "profile": "alaris"}`)
	if rep = decode[apiTestReportJSON](t, rec); rec.Code != 200 || rep.OK || rep.Error == "" {
		t.Fatalf("snmp test: %d %s", rec.Code, rec.Body.String())
	}
	// With id, blank secrets come from the stored target; given ones win.
	rec = apiDo(t, rig.h, "POST", "/api/v1/snmp-targets/test", admin,
		`{"id": 5, "address": "10.0.0.5:161", "version": "v3", "user": "ww", "auth_password": "new-auth", "profile": "alaris"}`)
	if rec.Code != 200 || len(rig.snmp) != 2 || rig.snmp[1].AuthPassword != "new-auth" || rig.snmp[1].PrivPassword != "stored-priv" {
		t.Fatalf("snmp test of a stored target: %d %s %+v", rec.Code, rec.Body.String(), rig.snmp)
	}
	if strings.Contains(rec.Body.String(), "stored-priv") {
		t.Error("the answer shows a stored secret")
	}
	wantError(t, "no such target", apiDo(t, rig.h, "POST", "/api/v1/snmp-targets/test", admin, `{"id": 9, "version": "v3"}`), 404, wardwatch.ENOTFOUND)
	wantError(t, "a bad id", apiDo(t, rig.h, "POST", "/api/v1/snmp-targets/test", admin, `{"id": "five", "version": "v3"}`), 400, wardwatch.EINVALID)
	wantError(t, "v2c unconfirmed", apiDo(t, rig.h, "POST", "/api/v1/snmp-targets/test", admin, `{"version": "v2c", "community": "public"}`), 400, wardwatch.EINVALID)
	if rig.devices.writes != 0 || rig.audit.count() != 0 || rig.changes() != 0 {
		t.Errorf("tests stored %d things, audited %d, changed %d", rig.devices.writes, rig.audit.count(), rig.changes())
	}

	none := newAdmRig(t, func(c *Config) { c.Collectors = Collectors{} })
	tok := none.tokens.issue(t, wardwatch.RoleAdmin)
	wantError(t, "no tester", apiDo(t, none.h, "POST", "/api/v1/modbus-devices/test", tok, `{"address": "x:502"}`), 503, wardwatch.EUNAVAILABLE)
	wantError(t, "no tester", apiDo(t, none.h, "POST", "/api/v1/snmp-targets/test", tok, `{"version": "v3"}`), 503, wardwatch.EUNAVAILABLE)
}

func TestAPIAdminSystem(t *testing.T) {
	rig := newAdmRig(t)
	facilities, nurse := rig.tokens.issue(t, wardwatch.RoleFacilities), rig.tokens.issue(t, wardwatch.RoleNurse)
	rec := apiDo(t, rig.h, "GET", "/api/v1/system", facilities, "")
	sys := decode[apiSystemJSON](t, rec)
	if rec.Code != 200 || sys.OK || len(sys.Checks) != 2 || sys.Checks[1].Detail != "2 of 12 offline" || *sys.Time != "2026-03-01T12:00:00.000Z" {
		t.Fatalf("system: %d %s", rec.Code, rec.Body.String())
	}
	wantError(t, "a nurse", apiDo(t, rig.h, "GET", "/api/v1/system", nurse, ""), 403, wardwatch.EFORBIDDEN)

	empty := newAdmRig(t, func(c *Config) { c.SystemChecks = nil })
	tok := empty.tokens.issue(t, wardwatch.RoleAdmin)
	rec = apiDo(t, empty.h, "GET", "/api/v1/system", tok, "")
	if sys = decode[apiSystemJSON](t, rec); rec.Code != 200 || !sys.OK || sys.Checks == nil {
		t.Errorf("no checks: %s", rec.Body.String())
	}
}

// TestAPIAdminRoutesNeedTheirStores checks the admin action routes are
// only served when their dependency is configured.
func TestAPIAdminRoutesNeedTheirStores(t *testing.T) {
	tokens := &fakeAPITokens{}
	h := NewServer(Config{Store: newFakeStore(), Live: &fakeLive{}, APITokens: tokens, Location: time.UTC})
	admin := tokens.issue(t, wardwatch.RoleAdmin)
	for _, r := range []struct{ method, path string }{
		{"PUT", "/api/v1/assets/100/status"}, {"POST", "/api/v1/assets/import"}, {"PUT", "/api/v1/floors/1/plan"},
		{"POST", "/api/v1/floors/1/scale"}, {"POST", "/api/v1/gateways/1/token"}, {"GET", "/api/v1/audit"},
		{"POST", "/api/v1/modbus-devices/test"}, {"POST", "/api/v1/snmp-targets/test"},
	} {
		if rec := apiDo(t, h, r.method, r.path, admin, `{}`); rec.Code != 404 && rec.Code != 405 {
			t.Errorf("%s %s without its store: %d", r.method, r.path, rec.Code)
		}
	}
	for _, path := range []string{"/api/v1/discovered-tags", "/api/v1/api-tokens", "/api/v1/system", "/api/v1/floors/1/plan"} {
		if rec := apiDo(t, h, "GET", path, admin, ""); rec.Code != 200 {
			t.Errorf("GET %s: %d %s", path, rec.Code, rec.Body.String())
		}
	}
}

func FuzzImportProblems(f *testing.F) {
	f.Add("line 4: unknown kind \"toaster\"")
	f.Add("line 0: x")
	f.Add("line -3: x")
	f.Add("too many problems; the rest was not read")
	f.Add("line 12")
	f.Fuzz(func(t *testing.T, s string) {
		ps := importProblems([]string{s})
		if len(ps) != 1 || ps[0].Line < 0 || (ps[0].Line == 0 && ps[0].Message != s) {
			t.Fatalf("importProblems(%q) = %+v", s, ps)
		}
	})
}

func FuzzAuditSnapshotJSON(f *testing.F) {
	f.Add(`{"name":"a"}`)
	f.Add("")
	f.Add("not json")
	f.Add("\xff\xfe")
	f.Add(`[1,2`)
	f.Fuzz(func(t *testing.T, s string) {
		if b := auditSnapshotJSON(s); !json.Valid(b) || !utf8.Valid(b) {
			t.Fatalf("auditSnapshotJSON(%q) = %q, not JSON", s, b)
		}
	})
}
