package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/auth"
)

// ---- fakes ----

// fakeReaders is an in-memory ReaderStore with the real store's error
// codes (EINVALID, ECONFLICT for a taken key or name, ENOTFOUND) and its
// secret rule (an empty AuthHeader on update keeps the stored one).
type fakeReaders struct {
	mu      sync.Mutex
	readers []wardwatch.RFIDReader
	polls   []wardwatch.PollTarget
	nextID  int64
}

func cloneReader(r wardwatch.RFIDReader) wardwatch.RFIDReader {
	r.Antennas = slices.Clone(r.Antennas)
	r.TokenHash = slices.Clone(r.TokenHash)
	if r.Portal != nil {
		p := *r.Portal
		p.Inside, p.Outside = slices.Clone(p.Inside), slices.Clone(p.Outside)
		r.Portal = &p
	}
	return r
}

func (f *fakeReaders) RFIDReaders(ctx context.Context) ([]wardwatch.RFIDReader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]wardwatch.RFIDReader, 0, len(f.readers))
	for _, r := range f.readers {
		out = append(out, cloneReader(r))
	}
	return out, nil
}

func (f *fakeReaders) SaveRFIDReader(ctx context.Context, r *wardwatch.RFIDReader) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Key == "" || len(r.Antennas) == 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "The reader needs a key and antennas.")
	}
	if p := r.Portal; p != nil && (p.InsideZoneID == 0 || p.OutsideZoneID == 0 || p.InsideZoneID == p.OutsideZoneID) {
		return wardwatch.Errorf(wardwatch.EINVALID, "A door reader needs inside and outside antennas and two different zones.")
	}
	for _, o := range f.readers {
		if o.Key == r.Key && o.ID != r.ID {
			return wardwatch.Errorf(wardwatch.ECONFLICT, "A reader with key %q already exists.", r.Key)
		}
	}
	for i := range r.Antennas {
		r.Antennas[i].GatewayID = 1000 + int64(r.Antennas[i].Port)
	}
	if r.ID == 0 {
		f.nextID++
		r.ID = f.nextID
		f.readers = append(f.readers, cloneReader(*r))
		return nil
	}
	i := slices.IndexFunc(f.readers, func(x wardwatch.RFIDReader) bool { return x.ID == r.ID })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", r.ID)
	}
	saved := cloneReader(*r)
	saved.TokenHash = f.readers[i].TokenHash
	f.readers[i] = saved
	return nil
}

func (f *fakeReaders) SetRFIDReaderToken(ctx context.Context, id int64, hash []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.readers {
		if f.readers[i].ID == id {
			f.readers[i].TokenHash = slices.Clone(hash)
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", id)
}

func (f *fakeReaders) DeleteRFIDReader(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.readers)
	f.readers = slices.DeleteFunc(f.readers, func(x wardwatch.RFIDReader) bool { return x.ID == id })
	if len(f.readers) == n {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", id)
	}
	return nil
}

func (f *fakeReaders) PollTargets(ctx context.Context) ([]wardwatch.PollTarget, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.polls), nil
}

func (f *fakeReaders) SavePollTarget(ctx context.Context, p *wardwatch.PollTarget, clearAuth bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p.Name == "" || (p.Source != "ble" && p.Source != "rfid") || p.Interval < time.Second {
		return wardwatch.Errorf(wardwatch.EINVALID, "The poll target is not valid.")
	}
	if p.ID == 0 {
		f.nextID++
		p.ID = f.nextID
		f.polls = append(f.polls, *p)
		return nil
	}
	i := slices.IndexFunc(f.polls, func(x wardwatch.PollTarget) bool { return x.ID == p.ID })
	if i < 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Poll target %d not found.", p.ID)
	}
	saved := *p
	if saved.AuthHeader == "" && !clearAuth {
		saved.AuthHeader = f.polls[i].AuthHeader
	}
	f.polls[i] = saved
	return nil
}

func (f *fakeReaders) DeletePollTarget(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.polls)
	f.polls = slices.DeleteFunc(f.polls, func(x wardwatch.PollTarget) bool { return x.ID == id })
	if len(f.polls) == n {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Poll target %d not found.", id)
	}
	return nil
}

func (f *fakeReaders) reader(id int64) wardwatch.RFIDReader {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.readers {
		if r.ID == id {
			return cloneReader(r)
		}
	}
	return wardwatch.RFIDReader{}
}

// fakeKiosks is an in-memory KioskStore.
type fakeKiosks struct {
	mu     sync.Mutex
	kiosks []wardwatch.KioskToken
}

func (f *fakeKiosks) CreateKioskToken(ctx context.Context, k *wardwatch.KioskToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if strings.TrimSpace(k.Name) == "" || len(k.Name) > 100 {
		return wardwatch.Errorf(wardwatch.EINVALID, "The display needs a name of at most 100 characters.")
	}
	k.ID, k.CreatedAt = int64(len(f.kiosks)+1), t0
	f.kiosks = append(f.kiosks, *k)
	return nil
}

func (f *fakeKiosks) KioskByTokenHash(ctx context.Context, hash []byte) (wardwatch.KioskToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.kiosks {
		if string(k.TokenHash) == string(hash) {
			return k, nil
		}
	}
	return wardwatch.KioskToken{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no such kiosk token")
}

func (f *fakeKiosks) KioskTokens(ctx context.Context) ([]wardwatch.KioskToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.kiosks), nil
}

func (f *fakeKiosks) DeleteKioskToken(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.kiosks)
	f.kiosks = slices.DeleteFunc(f.kiosks, func(k wardwatch.KioskToken) bool { return k.ID == id })
	if len(f.kiosks) == n {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Kiosk token %d not found.", id)
	}
	return nil
}

// fakeProfiles is the device store's profile half and the collectors'
// view of the profiles: one built-in register map, stored site ones.
type fakeProfiles struct {
	*fakeUnits
	mu      sync.Mutex
	stored  map[string]string // "kind/name" → YAML
	changed int
}

const fakeBuiltinMap = "fridge-controller"

func (f *fakeProfiles) SaveDeviceProfile(ctx context.Context, p wardwatch.DeviceProfile) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stored[p.Kind+"/"+p.Name] = string(p.Source)
	return nil
}

func (f *fakeProfiles) DeleteDeviceProfile(ctx context.Context, kind, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.stored[kind+"/"+name]; !ok {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Profile %q not found.", name)
	}
	delete(f.stored, kind+"/"+name)
	return nil
}

type fakeProfileYAML struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
}

// validate stands for the collectors' parsers: a YAML mapping with a
// name that is not a built-in one.
func (f *fakeProfiles) validate(kind string, src []byte) (string, error) {
	var p fakeProfileYAML
	if err := yaml.Unmarshal(src, &p); err != nil {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The profile is not valid YAML.")
	}
	switch {
	case p.Name == "":
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The profile needs a name.")
	case kind == "modbus" && p.Name == fakeBuiltinMap:
		return "", wardwatch.Errorf(wardwatch.EINVALID, "%q is a built-in register map; give yours another name.", p.Name)
	}
	return p.Name, nil
}

func (f *fakeProfiles) infos(kind string) []ProfileInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []ProfileInfo
	if kind == "modbus" {
		out = append(out, ProfileInfo{Name: fakeBuiltinMap, Description: "Refrigeration controller", Builtin: true, Source: "name: fridge-controller\n"})
	}
	for k, src := range f.stored {
		if strings.HasPrefix(k, kind+"/") {
			var p fakeProfileYAML
			_ = yaml.Unmarshal([]byte(src), &p)
			out = append(out, ProfileInfo{Name: p.Name, Description: p.Description, Source: src})
		}
	}
	return out
}

func (f *fakeProfiles) collectors() Collectors {
	return Collectors{
		ModbusProfiles:  func() []ProfileInfo { return f.infos("modbus") },
		SNMPProfiles:    func() []ProfileInfo { return f.infos("snmp") },
		ValidateProfile: f.validate,
		Changed: func(context.Context) {
			f.mu.Lock()
			f.changed++
			f.mu.Unlock()
		},
	}
}

// ---- helpers ----

// apiJSON decodes a JSON answer into v, failing on another status.
func apiJSON(t *testing.T, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body.String())
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("answer %s: %v", rec.Body.String(), err)
		}
	}
}

// apiDoType sends body with an explicit Content-Type.
func apiDoType(h http.Handler, method, path, token, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// wantAPIError checks an error answer's status and code.
func wantAPIError(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if rec.Code != status || apiErrorCode(t, rec) != code {
		t.Errorf("got %d %s, want %d %s", rec.Code, rec.Body.String(), status, code)
	}
}

// ---- RFID readers and poll targets ----

func newReadersServer(t *testing.T) (http.Handler, *fakeReaders, *fakeAPITokens, *fakeRecordAudit, *int) {
	t.Helper()
	readers, tokens, audit := &fakeReaders{}, &fakeAPITokens{}, &fakeRecordAudit{}
	changed := new(int)
	h := NewServer(Config{Store: newFakeStore(), APITokens: tokens, Readers: readers, Audit: audit, Now: func() time.Time { return t0 },
		ConfigChanged: func(context.Context) { *changed++ },
		PollStatus: func() map[string]CollectorStatus {
			return map[string]CollectorStatus{"Gateway poll": {Online: true, LastOK: t0.Add(-time.Minute), Detail: "12 sightings"}}
		}})
	return h, readers, tokens, audit, changed
}

func TestAPIRFIDReaders(t *testing.T) {
	h, readers, tokens, audit, changed := newReadersServer(t)
	admin, nurse := tokens.issue(t, wardwatch.RoleAdmin), tokens.issue(t, wardwatch.RoleNurse)

	var created apiReaderJSON
	apiJSON(t, apiDo(t, h, "POST", "/api/v1/rfid-readers", admin,
		`{"key": "door-4b", "name": " Ward 4B door ", "format": "zebra", "antennas": [{"port": 2, "zone_id": 11}, {"port": 1, "zone_id": 10}],
		  "portal": {"inside": [1], "outside": [2]}}`), http.StatusCreated, &created)
	if created.ID == 0 || created.Name != "Ward 4B door" || len(created.Antennas) != 2 || created.Antennas[0].Port != 1 || created.Antennas[0].GatewayID == 0 ||
		created.Portal == nil || created.Portal.InsideZoneID != 10 || created.Portal.OutsideZoneID != 11 || !created.HasPushToken {
		t.Fatalf("created = %+v portal %+v", created, created.Portal)
	}
	if created.PushToken == "" || created.PushTokenWarning == "" || string(readers.reader(created.ID).TokenHash) != string(auth.HashToken(created.PushToken)) {
		t.Errorf("push token %q not the stored one", created.PushToken)
	}
	if *changed != 1 || len(audit.entries) != 2 || audit.entries[0].Action != "create" || audit.entries[1].Action != "token" ||
		audit.entries[0].Subject != "rfid_reader" || audit.entries[0].Username != "api:test admin" {
		t.Errorf("changed %d, audit %+v", *changed, audit.entries)
	}
	id := idString(created.ID)

	// Reads never show the token.
	rec := apiDo(t, h, "GET", "/api/v1/rfid-readers/"+id, admin, "")
	var got apiReaderJSON
	apiJSON(t, rec, http.StatusOK, &got)
	if got.PushToken != "" || !got.HasPushToken || strings.Contains(rec.Body.String(), created.PushToken) {
		t.Errorf("GET shows the token: %s", rec.Body.String())
	}
	var list apiList[apiReaderJSON]
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/rfid-readers", admin, ""), http.StatusOK, &list)
	if list.Total != 1 || list.Items[0].Key != "door-4b" {
		t.Errorf("list = %+v", list)
	}

	// What GET answers can be PUT back as it is.
	apiJSON(t, apiDo(t, h, "PUT", "/api/v1/rfid-readers/"+id, admin, rec.Body.String()), http.StatusOK, &got)
	if got.Portal == nil || got.Portal.InsideZoneID != 10 {
		t.Errorf("PUT back = %+v", got)
	}
	// A replace drops the door and antenna 2, keeping the token.
	apiJSON(t, apiDo(t, h, "PUT", "/api/v1/rfid-readers/"+id, admin, `{"key": "door-4b", "antennas": [{"port": 3, "zone_id": 10}]}`), http.StatusOK, &got)
	if stored := readers.reader(created.ID); got.Portal != nil || len(stored.Antennas) != 1 || stored.Antennas[0].Port != 3 || stored.Portal != nil || len(stored.TokenHash) == 0 {
		t.Errorf("after replace: %+v, stored %+v", got, stored)
	}

	// A new token replaces the old one.
	var tok apiReaderJSON
	apiJSON(t, apiDo(t, h, "POST", "/api/v1/rfid-readers/"+id+"/token", admin, ""), http.StatusOK, &tok)
	if tok.PushToken == "" || tok.PushToken == created.PushToken || string(readers.reader(created.ID).TokenHash) != string(auth.HashToken(tok.PushToken)) {
		t.Errorf("new token %q", tok.PushToken)
	}

	for _, tc := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": [{"port": 5, "zone_id": 10}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": [{"port": 1, "zone_id": 10}, {"port": 1, "zone_id": 11}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": [{"port": 1}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": []}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": [{"port": 1, "zone_id": 10}, {"port": 2, "zone_id": 11}], "portal": {"inside": [1, 2], "outside": [2]}}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "antennas": [{"port": 1, "zone_id": 10}, {"port": 2, "zone_id": 11}], "portal": {"inside": [1], "outside": [2], "inside_zone_id": 11}}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"id": 7, "key": "r2", "antennas": [{"port": 1, "zone_id": 10}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "r2", "colour": "red"}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "` + strings.Repeat("k", maxFieldBytes+1) + `", "antennas": [{"port": 1, "zone_id": 10}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers", `{"key": "door-4b", "antennas": [{"port": 1, "zone_id": 10}]}`, 409, wardwatch.ECONFLICT},
		{"PUT", "/api/v1/rfid-readers/999", `{"key": "x", "antennas": [{"port": 1, "zone_id": 10}]}`, 404, wardwatch.ENOTFOUND},
		{"PUT", "/api/v1/rfid-readers/" + id, `{"id": 999, "key": "x", "antennas": [{"port": 1, "zone_id": 10}]}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/rfid-readers/999/token", ``, 404, wardwatch.ENOTFOUND},
		{"GET", "/api/v1/rfid-readers/abc", ``, 404, wardwatch.ENOTFOUND},
		{"GET", "/api/v1/rfid-readers?colour=red", ``, 400, wardwatch.EINVALID},
	} {
		t.Run(tc.method+" "+tc.body, func(t *testing.T) {
			wantAPIError(t, apiDo(t, h, tc.method, tc.path, admin, tc.body), tc.status, tc.code)
		})
	}

	// The page's permission: admins only.
	for _, m := range []string{"GET /api/v1/rfid-readers", "GET /api/v1/rfid-readers/" + id, "POST /api/v1/rfid-readers/" + id + "/token", "DELETE /api/v1/rfid-readers/" + id} {
		method, path, _ := strings.Cut(m, " ")
		wantAPIError(t, apiDo(t, h, method, path, nurse, ""), http.StatusForbidden, wardwatch.EFORBIDDEN)
	}

	if rec := apiDo(t, h, "DELETE", "/api/v1/rfid-readers/"+id, admin, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
	}
	if last := audit.entries[len(audit.entries)-1]; last.Action != "delete" || last.Old == "" {
		t.Errorf("delete audit = %+v", last)
	}
	wantAPIError(t, apiDo(t, h, "DELETE", "/api/v1/rfid-readers/"+id, admin, ""), http.StatusNotFound, wardwatch.ENOTFOUND)
}

func TestAPIPollTargets(t *testing.T) {
	h, readers, tokens, audit, changed := newReadersServer(t)
	admin := tokens.issue(t, wardwatch.RoleAdmin)
	const secret = "Bearer s3cret-value"

	rec := apiDo(t, h, "POST", "/api/v1/poll-targets", admin,
		`{"name": "Gateway poll", "url": "https://gw.example/batch", "source": "ble", "source_key": "gw-7", "auth_header": "`+secret+`", "enabled": true}`)
	var p apiPollJSON
	apiJSON(t, rec, http.StatusCreated, &p)
	if p.ID == 0 || !p.HasAuthHeader || !p.Enabled || p.Interval != "10s" || p.Timeout != "5s" || p.SourceKey != "gw-7" ||
		p.Status == nil || !p.Status.Online || p.Status.Detail != "12 sightings" || strings.Contains(rec.Body.String(), "s3cret") {
		t.Fatalf("created = %s", rec.Body.String())
	}
	id := idString(p.ID)

	// An update without the header keeps it; clear_auth removes it.
	apiJSON(t, apiDo(t, h, "PUT", "/api/v1/poll-targets/"+id, admin,
		`{"name": "Gateway poll", "url": "https://gw.example/batch", "source": "ble", "source_key": "gw-7", "interval": "30s", "timeout": "2s"}`), http.StatusOK, &p)
	if !p.HasAuthHeader || p.Enabled || p.Interval != "30s" || readers.polls[0].AuthHeader != secret {
		t.Errorf("after update: %+v, stored %+v", p, readers.polls[0])
	}
	apiJSON(t, apiDo(t, h, "PUT", "/api/v1/poll-targets/"+id, admin,
		`{"name": "Gateway poll", "url": "https://gw.example/batch", "source": "ble", "source_key": "gw-7", "clear_auth": true}`), http.StatusOK, &p)
	if p.HasAuthHeader || readers.polls[0].AuthHeader != "" {
		t.Errorf("after clear_auth: %+v", p)
	}
	for _, e := range audit.entries {
		if strings.Contains(e.Old+e.New, "s3cret") {
			t.Errorf("the audit log holds the secret: %+v", e)
		}
	}
	if *changed != 3 {
		t.Errorf("ConfigChanged called %d times, want 3", *changed)
	}

	var list apiList[apiPollJSON]
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/poll-targets?source=rfid", admin, ""), http.StatusOK, &list)
	if list.Total != 0 {
		t.Errorf("rfid targets = %+v", list)
	}
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/poll-targets/"+id, admin, ""), http.StatusOK, &p)

	wantAPIError(t, apiDo(t, h, "POST", "/api/v1/poll-targets", admin, `{"name": "x", "url": "https://a", "source": "ble", "source_key": "k", "interval": "soon"}`),
		http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "POST", "/api/v1/poll-targets", admin, `{"name": "x", "secret": "y"}`), http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "PUT", "/api/v1/poll-targets/999", admin, `{"name": "x", "url": "https://a", "source": "ble", "source_key": "k"}`),
		http.StatusNotFound, wardwatch.ENOTFOUND)
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/poll-targets", tokens.issue(t, wardwatch.RoleFacilities), ""), http.StatusForbidden, wardwatch.EFORBIDDEN)

	if rec := apiDo(t, h, "DELETE", "/api/v1/poll-targets/"+id, admin, ""); rec.Code != http.StatusNoContent || len(readers.polls) != 0 {
		t.Fatalf("delete: %d", rec.Code)
	}
	wantAPIError(t, apiDo(t, h, "DELETE", "/api/v1/poll-targets/"+id, admin, ""), http.StatusNotFound, wardwatch.ENOTFOUND)
}

// ---- wall displays ----

func TestAPIKiosks(t *testing.T) {
	kiosks, tokens, audit := &fakeKiosks{}, &fakeAPITokens{}, &fakeRecordAudit{}
	h := NewServer(Config{Store: newFakeStore(), APITokens: tokens, Kiosks: kiosks, Audit: audit, Now: func() time.Time { return t0 }})
	admin := tokens.issue(t, wardwatch.RoleAdmin)

	var k apiKioskJSON
	apiJSON(t, apiDo(t, h, "POST", "/api/v1/kiosks", admin, `{"name": "Ward 4 corridor", "floor_id": 1}`), http.StatusCreated, &k)
	token, ok := strings.CutPrefix(k.Link, "http://example.com/kiosk/")
	if k.ID == 0 || k.FloorID != 1 || !ok || !wellFormedToken(token) || k.LinkNote == "" || *k.CreatedAt != "2026-03-02T10:00:00.000Z" {
		t.Fatalf("created = %+v", k)
	}
	if len(audit.entries) != 1 || audit.entries[0].Subject != "kiosk" || strings.Contains(audit.entries[0].New, token) {
		t.Errorf("audit = %+v", audit.entries)
	}
	// The link works on a display, and only the answer that made it holds it.
	if rec := apiDo(t, h, "GET", "/kiosk/"+token, "", ""); rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/floors/1" {
		t.Errorf("display link: %d %s", rec.Code, rec.Header().Get("Location"))
	}
	rec := apiDo(t, h, "GET", "/api/v1/kiosks", admin, "")
	var list apiList[apiKioskJSON]
	apiJSON(t, rec, http.StatusOK, &list)
	if list.Total != 1 || list.Items[0].Link != "" || strings.Contains(rec.Body.String(), token) {
		t.Errorf("list = %s", rec.Body.String())
	}

	wantAPIError(t, apiDo(t, h, "POST", "/api/v1/kiosks", admin, `{"name": ""}`), http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "POST", "/api/v1/kiosks", admin, `{"name": "x", "floor_id": "one"}`), http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "POST", "/api/v1/kiosks", tokens.issue(t, wardwatch.RoleViewer), `{"name": "x"}`), http.StatusForbidden, wardwatch.EFORBIDDEN)

	if rec := apiDo(t, h, "DELETE", "/api/v1/kiosks/"+idString(k.ID), admin, ""); rec.Code != http.StatusNoContent {
		t.Fatalf("revoke: %d %s", rec.Code, rec.Body.String())
	}
	if last := audit.entries[len(audit.entries)-1]; last.Action != "revoke" {
		t.Errorf("revoke audit = %+v", last)
	}
	if rec := apiDo(t, h, "GET", "/kiosk/"+token, "", ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked display link: %d", rec.Code)
	}
	wantAPIError(t, apiDo(t, h, "DELETE", "/api/v1/kiosks/"+idString(k.ID), admin, ""), http.StatusNotFound, wardwatch.ENOTFOUND)
}

// ---- device profiles ----

func TestAPIProfiles(t *testing.T) {
	profiles := &fakeProfiles{fakeUnits: &fakeUnits{}, stored: map[string]string{}}
	tokens, audit := &fakeAPITokens{}, &fakeRecordAudit{}
	h := NewServer(Config{Store: newFakeStore(), APITokens: tokens, Devices: profiles, Collectors: profiles.collectors(), Audit: audit,
		Now: func() time.Time { return t0 }})
	admin := tokens.issue(t, wardwatch.RoleAdmin)
	const siteMap = "name: site-map\ndescription: Site fridge map\nfields: []\n"

	var p apiProfileJSON
	apiJSON(t, apiDoType(h, "PUT", "/api/v1/profiles/modbus/site-map", admin, "application/yaml", siteMap), http.StatusOK, &p)
	if p.Kind != "modbus" || p.Name != "site-map" || p.Builtin || p.Description != "Site fridge map" || p.Source != strings.TrimSpace(siteMap) {
		t.Fatalf("saved = %+v", p)
	}
	if profiles.stored["modbus/site-map"] != strings.TrimSpace(siteMap) || profiles.changed != 1 || len(audit.entries) != 1 || audit.entries[0].SubjectID != "modbus/site-map" {
		t.Errorf("stored %q, changed %d, audit %+v", profiles.stored, profiles.changed, audit.entries)
	}
	// The same as JSON, replacing it.
	body, _ := json.Marshal(apiProfileBody{Source: "name: site-map\ndescription: Replaced\n"})
	apiJSON(t, apiDo(t, h, "PUT", "/api/v1/profiles/modbus/site-map", admin, string(body)), http.StatusOK, &p)
	if p.Description != "Replaced" || audit.entries[1].Old == "" {
		t.Errorf("replaced = %+v, audit %+v", p, audit.entries[1])
	}

	var list apiList[apiProfileJSON]
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/profiles", admin, ""), http.StatusOK, &list)
	if list.Total != 2 || list.Items[0].Name != fakeBuiltinMap || !list.Items[0].Builtin || list.Items[1].Name != "site-map" || list.Items[0].Source != "" {
		t.Errorf("list = %+v", list)
	}
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/profiles?kind=modbus&builtin=false", admin, ""), http.StatusOK, &list)
	if list.Total != 1 || list.Items[0].Name != "site-map" {
		t.Errorf("site-defined = %+v", list)
	}
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/profiles?kind=snmp", admin, ""), http.StatusOK, &list)
	if list.Total != 0 {
		t.Errorf("snmp = %+v", list)
	}
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/profiles/modbus/"+fakeBuiltinMap, admin, ""), http.StatusOK, &p)
	if !p.Builtin || p.Source == "" {
		t.Errorf("built-in = %+v", p)
	}

	for _, tc := range []struct {
		method, path, ct, body string
		status                 int
		code                   string
	}{
		{"PUT", "/api/v1/profiles/modbus/other-name", "application/yaml", siteMap, 400, wardwatch.EINVALID}, // the YAML names another
		{"PUT", "/api/v1/profiles/modbus/" + fakeBuiltinMap, "text/yaml", "name: " + fakeBuiltinMap, 400, wardwatch.EINVALID},
		{"PUT", "/api/v1/profiles/modbus/site-map", "application/yaml", "name: [unclosed", 400, wardwatch.EINVALID},
		{"PUT", "/api/v1/profiles/modbus/site-map", "application/yaml", "  ", 400, wardwatch.EINVALID},
		{"PUT", "/api/v1/profiles/modbus/site-map", "text/plain", siteMap, 400, wardwatch.EINVALID},
		{"PUT", "/api/v1/profiles/modbus/site-map", "application/json", `{"yaml": "x"}`, 400, wardwatch.EINVALID},
		{"PUT", "/api/v1/profiles/modbus/site-map", "application/yaml", "name: site-map\n#" + strings.Repeat("x", maxAdminForm), 413, wardwatch.ETOOLARGE},
		{"PUT", "/api/v1/profiles/opcua/site-map", "application/yaml", siteMap, 404, wardwatch.ENOTFOUND},
		{"GET", "/api/v1/profiles/modbus/nothing", "", "", 404, wardwatch.ENOTFOUND},
		{"GET", "/api/v1/profiles?kind=opcua", "", "", 400, wardwatch.EINVALID},
		{"GET", "/api/v1/profiles?builtin=maybe", "", "", 400, wardwatch.EINVALID},
		{"DELETE", "/api/v1/profiles/modbus/" + fakeBuiltinMap, "", "", 400, wardwatch.EINVALID}, // built-ins are refused
		{"DELETE", "/api/v1/profiles/snmp/site-map", "", "", 404, wardwatch.ENOTFOUND},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.ct, func(t *testing.T) {
			wantAPIError(t, apiDoType(h, tc.method, tc.path, admin, tc.ct, tc.body), tc.status, tc.code)
		})
	}
	if len(profiles.stored) != 1 {
		t.Errorf("refused writes stored something: %v", profiles.stored)
	}
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/profiles", tokens.issue(t, wardwatch.RoleBiomed), ""), http.StatusForbidden, wardwatch.EFORBIDDEN)

	if rec := apiDo(t, h, "DELETE", "/api/v1/profiles/modbus/site-map", admin, ""); rec.Code != http.StatusNoContent || len(profiles.stored) != 0 {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body.String())
	}
	wantAPIError(t, apiDo(t, h, "DELETE", "/api/v1/profiles/modbus/site-map", admin, ""), http.StatusNotFound, wardwatch.ENOTFOUND)

	// Without the collectors' parser nothing can be checked, so nothing is stored.
	noCheck := NewServer(Config{Store: newFakeStore(), APITokens: tokens, Devices: profiles, Now: func() time.Time { return t0 }})
	wantAPIError(t, apiDoType(noCheck, "PUT", "/api/v1/profiles/modbus/site-map", admin, "application/yaml", siteMap), http.StatusServiceUnavailable, wardwatch.EUNAVAILABLE)
}

// ---- daily log, sign-offs, MKT ----

// newRecordsAPI serves the records fixture of newRecHarness over the API.
func newRecordsAPI(t *testing.T) (http.Handler, *recHarness, *fakeAPITokens) {
	t.Helper()
	rh := newRecHarness(t)
	units := &fakeUnits{units: []wardwatch.MonitoredUnit{
		{ID: 1, Name: "Fridge A", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
		{ID: 2, Name: "CRT store", Profile: wardwatch.ProfileCRTRoom},
		{ID: 3, Name: "Fridge B", Profile: wardwatch.ProfileVaccineFridge},
	}}
	sensors := func(ctx context.Context, unitID int64) ([]UnitSensor, error) {
		switch unitID {
		case 1:
			return []UnitSensor{{SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Name: "Fridge A probe"}}, nil
		case 2:
			return []UnitSensor{{SensorID: "crt/temperature", Metric: wardwatch.MetricTemperature}}, nil
		}
		return nil, nil
	}
	tokens := &fakeAPITokens{}
	h := NewServer(Config{Store: rh.store, APITokens: tokens, Records: rh.recs, Readings: rh.readings, UnitSensors: sensors,
		Devices: units, Location: recLoc, Audit: rh.audit, Now: rh.clock.Now})
	return h, rh, tokens
}

func TestAPIDailyLog(t *testing.T) {
	h, rh, tokens := newRecordsAPI(t)
	viewer, nurse, pharm := tokens.issue(t, wardwatch.RoleViewer), tokens.issue(t, wardwatch.RoleNurse), tokens.issue(t, wardwatch.RolePharmacy)

	var log apiDailyJSON
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/1/daily?month=2026-02", viewer, ""), http.StatusOK, &log)
	if log.UnitID != 1 || log.Month != "2026-02" || log.TimeZone != "EST" || log.Metric != "temperature" || log.Unit != "°C" ||
		log.Range == nil || log.Range.Low != 2 || log.Range.High != 8 || log.SensorID != "fa/temperature" || len(log.Sensors) != 1 || len(log.Days) != 28 {
		t.Fatalf("log = %+v", log)
	}
	d3, d10, d20 := log.Days[2], log.Days[9], log.Days[19]
	if d3.Day != "2026-02-03" || d3.Count == 0 || *d3.Min != 5 || *d3.Max != 5 || *d3.Mean != 5 || d3.OutOfRange || *d3.InRange != 1 ||
		*d3.Start != "2026-02-03T05:00:00.000Z" || d3.Review != nil || d3.Signable {
		t.Errorf("day 3 = %+v", d3)
	}
	// No readings taken on the 10th: no min or max, only the 15 minutes
	// the 9th's last reading stands into it.
	if d10.Count != 0 || d10.Min != nil || d10.Max != nil || d10.MinAt != nil || d10.CoveredSeconds != 900 {
		t.Errorf("day 10 (no readings) = %+v", d10)
	}
	if !d20.OutOfRange || *d20.Max != 9.5 || *d20.MaxAt != "2026-02-20T19:00:00.000Z" {
		t.Errorf("day 20 = %+v", d20)
	}
	// This month by default, up to today.
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/1/daily", viewer, ""), http.StatusOK, &log)
	if log.Month != "2026-03" || len(log.Days) != 2 {
		t.Errorf("this month: %s with %d days", log.Month, len(log.Days))
	}

	// A sign-off, as the page: by the token, once per day.
	var rv apiReviewJSON
	apiJSON(t, apiDo(t, h, "POST", "/api/v1/units/1/daily-reviews", nurse, `{"day": "2026-02-20", "action": " Door seal replaced "}`), http.StatusCreated, &rv)
	if rv.Day != "2026-02-20" || rv.By != "api:test nurse" || rv.Action != "Door seal replaced" || !rv.Late || *rv.At != "2026-03-02T10:00:00.000Z" {
		t.Errorf("review = %+v", rv)
	}
	if len(rh.recs.reviews) != 1 || rh.recs.reviews[0].By != "api:test nurse" || !rh.recs.reviews[0].At.Equal(t0) {
		t.Fatalf("stored reviews = %+v", rh.recs.reviews)
	}
	rec := apiDo(t, h, "POST", "/api/v1/units/1/daily-reviews", pharm, `{"day": "2026-02-20"}`)
	wantAPIError(t, rec, http.StatusConflict, wardwatch.ECONFLICT)
	if !strings.Contains(rec.Body.String(), "already signed off by api:test nurse") {
		t.Errorf("conflict = %s", rec.Body.String())
	}
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/1/daily?month=2026-02", nurse, ""), http.StatusOK, &log)
	if d := log.Days[19]; d.Review == nil || d.Review.Action != "Door seal replaced" || d.Signable {
		t.Errorf("day 20 after sign-off = %+v", d)
	}
	if d := log.Days[20]; d.Review != nil || !d.Signable {
		t.Errorf("day 21 for a nurse = %+v", d)
	}

	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"POST", "/api/v1/units/1/daily-reviews", nurse, `{"day": "2026-03-03"}`, 400, wardwatch.EINVALID}, // not begun
		{"POST", "/api/v1/units/1/daily-reviews", nurse, `{"day": "20-02-2026"}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/units/1/daily-reviews", nurse, `{}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/units/1/daily-reviews", nurse, `{"day": "2026-02-21", "action": "` + strings.Repeat("a", maxLongText+1) + `"}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/units/1/daily-reviews", nurse, `{"day": "2026-02-21", "by": "someone else"}`, 400, wardwatch.EINVALID},
		{"POST", "/api/v1/units/999/daily-reviews", nurse, `{"day": "2026-02-21"}`, 404, wardwatch.ENOTFOUND},
		{"POST", "/api/v1/units/1/daily-reviews", viewer, `{"day": "2026-02-21"}`, 403, wardwatch.EFORBIDDEN},
		{"POST", "/api/v1/units/1/daily-reviews", tokens.issue(t, wardwatch.RoleBiomed), `{"day": "2026-02-21"}`, 403, wardwatch.EFORBIDDEN},
		{"GET", "/api/v1/units/1/daily?month=2026-13", viewer, ``, 400, wardwatch.EINVALID},
		{"GET", "/api/v1/units/1/daily?month=2026-04", viewer, ``, 400, wardwatch.EINVALID}, // not begun
		{"GET", "/api/v1/units/1/daily?sensor=nope", viewer, ``, 400, wardwatch.EINVALID},
		{"GET", "/api/v1/units/1/daily?limit=5", viewer, ``, 400, wardwatch.EINVALID},
		{"GET", "/api/v1/units/1/daily?colour=red", viewer, ``, 400, wardwatch.EINVALID},
		{"GET", "/api/v1/units/1/daily?month=2026-02&month=2026-01", viewer, ``, 400, wardwatch.EINVALID},
		{"GET", "/api/v1/units/999/daily", viewer, ``, 404, wardwatch.ENOTFOUND},
		{"GET", "/api/v1/units/x/daily", viewer, ``, 404, wardwatch.ENOTFOUND},
	} {
		t.Run(tc.method+" "+tc.path+" "+tc.body, func(t *testing.T) {
			wantAPIError(t, apiDo(t, h, tc.method, tc.path, tc.token, tc.body), tc.status, tc.code)
		})
	}
	if len(rh.recs.reviews) != 1 {
		t.Errorf("refused sign-offs were stored: %+v", rh.recs.reviews)
	}

	// A unit without a sensor still has its days, all empty.
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/3/daily?month=2026-02", viewer, ""), http.StatusOK, &log)
	if log.SensorID != "" || len(log.Days) != 28 || log.Days[0].Count != 0 {
		t.Errorf("no sensor: %+v", log)
	}
}

func TestAPIMKT(t *testing.T) {
	h, rh, tokens := newRecordsAPI(t)
	viewer := tokens.issue(t, wardwatch.RoleViewer)
	var rep apiMKTJSON
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/2/mkt", viewer, ""), http.StatusOK, &rep)
	if rep.UnitID != 2 || rep.Limit != 25 || rep.Unit != "°C" || rep.Bucket != "15m0s" || rep.ActivationEnergy != alerts.DefaultActivationEnergy ||
		rep.SensorID != "crt/temperature" || len(rep.Periods) != 2 {
		t.Fatalf("report = %+v", rep)
	}
	r30, year := rep.Periods[0], rep.Periods[1]
	if r30.Name != "rolling_30_days" || r30.MKT == nil || *r30.MKT < 21.99 || *r30.MKT > 22.01 || r30.Over || *r30.Coverage < 0.499 || *r30.Coverage > 0.501 {
		t.Errorf("rolling 30 days = %+v", r30)
	}
	if year.Name != "past_year" || year.MKT == nil || *year.Coverage > 0.06 {
		t.Errorf("past year = %+v", year)
	}
	// Hot: over the limit.
	rh.readings.mu.Lock()
	for i := range rh.readings.series["crt/temperature"] {
		rh.readings.series["crt/temperature"][i].Value = 27
	}
	rh.readings.mu.Unlock()
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/2/mkt", viewer, ""), http.StatusOK, &rep)
	if !rep.Periods[0].Over || !rep.Periods[1].Over {
		t.Errorf("27 °C not over the limit: %+v", rep.Periods)
	}
	// No readings: no figure, the reason instead.
	rh.readings.mu.Lock()
	rh.readings.series["crt/temperature"] = nil
	rh.readings.mu.Unlock()
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/units/2/mkt", viewer, ""), http.StatusOK, &rep)
	if p := rep.Periods[0]; p.MKT != nil || p.Reason == "" {
		t.Errorf("no readings: %+v", p)
	}
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/units/1/mkt", viewer, ""), http.StatusNotFound, wardwatch.ENOTFOUND) // no MKT for vaccines
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/units/2/mkt?sensor=nope", viewer, ""), http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/units/2/mkt?month=2026-02", viewer, ""), http.StatusBadRequest, wardwatch.EINVALID)
}

// ---- PAR stock ----

func TestStockOut(t *testing.T) {
	two := 2
	lv := func(id, name string, clean, min, soiled int, max *int) alerts.PARStatus {
		return alerts.PARStatus{Level: alerts.PARLevel{ID: id, Name: name, Kind: wardwatch.AssetInfusionPump, CleanZones: []int64{11}, CleanMin: min, SoiledMax: max},
			Clean: clean, Soiled: soiled, CleanLow: clean < min, SoiledHigh: max != nil && soiled > *max}
	}
	for _, tc := range []struct {
		name   string
		levels []alerts.PARStatus
		order  []string
		check  func(t *testing.T, out apiStockJSON)
	}{
		{"empty", nil, []string{}, func(t *testing.T, out apiStockJSON) {
			if out.Levels == nil || out.Picks == nil {
				t.Error("nil slices answer null, not []")
			}
		}},
		{"out of bounds first, then by name", []alerts.PARStatus{lv("b", "B pumps", 5, 2, 0, nil), lv("a", "A pumps", 5, 2, 0, nil), lv("c", "C pumps", 1, 2, 0, nil)},
			[]string{"c", "a", "b"}, func(t *testing.T, out apiStockJSON) {
				if l := out.Levels[0]; l.CleanShortfall != 1 || !l.CleanLow || l.SoiledMax != nil || l.SoiledZones == nil {
					t.Errorf("short level = %+v", l)
				}
				if l := out.Levels[1]; l.CleanShortfall != 0 || l.CleanLow {
					t.Errorf("stocked level = %+v", l)
				}
			}},
		{"soiled over its maximum", []alerts.PARStatus{lv("s", "Soiled", 3, 2, 5, &two)}, []string{"s"}, func(t *testing.T, out apiStockJSON) {
			if l := out.Levels[0]; !l.SoiledHigh || l.SoiledExcess != 3 || *l.SoiledMax != 2 {
				t.Errorf("soiled level = %+v", l)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := stockOut(tc.levels, nil)
			var order []string
			for _, l := range out.Levels {
				order = append(order, l.ID)
			}
			if len(order) != len(tc.order) || (len(order) > 0 && !slices.Equal(order, tc.order)) {
				t.Errorf("order = %v, want %v", order, tc.order)
			}
			tc.check(t, out)
		})
	}
}

func TestAPIStock(t *testing.T) {
	seen := t0.Add(-20 * time.Minute)
	desk := &inboxFakeDesk{
		stock: []alerts.PARStatus{{Level: alerts.PARLevel{ID: "4b-pumps", Name: "4B infusion pumps", Kind: wardwatch.AssetInfusionPump,
			CleanZones: []int64{11}, CleanMin: 4}, Clean: 1, CleanLow: true}},
		picks: []alerts.Pick{{PAR: "4b-pumps", PARName: "4B infusion pumps", Action: alerts.PickRestock, AssetID: 100, AssetName: "Pump 0412",
			FromZoneID: 10, FromZone: "4B-12", ToZoneID: 11, ToZone: "Clean utility", LastSeen: seen}},
	}
	tokens := &fakeAPITokens{}
	h := NewServer(Config{Store: newFakeStore(), APITokens: tokens, Alerts: desk, Now: func() time.Time { return t0 }})
	var st apiStockJSON
	apiJSON(t, apiDo(t, h, "GET", "/api/v1/stock", tokens.issue(t, wardwatch.RoleViewer), ""), http.StatusOK, &st)
	if len(st.Levels) != 1 || st.Levels[0].CleanShortfall != 3 || st.Levels[0].Kind != "infusion_pump" || len(st.Picks) != 1 ||
		st.Picks[0].Action != "restock" || st.Picks[0].AssetID != 100 || *st.Picks[0].LastSeen != "2026-03-02T09:40:00.000Z" {
		t.Errorf("stock = %+v", st)
	}
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/stock?kind=bed", tokens.issue(t, wardwatch.RoleNurse), ""), http.StatusBadRequest, wardwatch.EINVALID)
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/stock", "", ""), http.StatusUnauthorized, wardwatch.EUNAUTHORIZED)

	// Without the alert service there is no such resource.
	h = NewServer(Config{Store: newFakeStore(), APITokens: tokens})
	wantAPIError(t, apiDo(t, h, "GET", "/api/v1/stock", tokens.issue(t, wardwatch.RoleAdmin), ""), http.StatusNotFound, wardwatch.ENOTFOUND)
}

// ---- fuzzing the body and query parsers ----

// FuzzAPIReaderBody checks that any JSON body becomes either an EINVALID
// error or page form values readerFromForm reads into a reader with only
// the page's ports, never a panic.
func FuzzAPIReaderBody(f *testing.F) {
	for _, s := range []string{
		`{"key": "door-4b", "antennas": [{"port": 1, "zone_id": 10}, {"port": 2, "zone_id": 11}], "portal": {"inside": [1], "outside": [2]}}`,
		`{"key": "r", "antennas": [{"port": 4, "zone_id": 9223372036854775807}]}`,
		`{"key": "r", "antennas": [{"port": -1, "zone_id": 1}]}`,
		`{"antennas": [{"port": 1, "zone_id": 1}], "portal": {"inside": [], "outside": [3]}}`,
		`{"key": "r", "antennas": [{"port": 1, "zone_id": 1}], "portal": {"inside": [9], "outside": [1], "inside_zone_id": 5}}`,
		`{"key": null, "antennas": null, "portal": null}`,
		`[]`, `{}`, `{"key": "\u0000"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/", strings.NewReader(body))
		var b apiReaderBody
		if err := decodeBody(httptest.NewRecorder(), req, &b); err != nil {
			if c := wardwatch.ErrorCode(err); c != wardwatch.EINVALID && c != wardwatch.ETOOLARGE {
				t.Fatalf("decode %q: %v", body, err)
			}
			return
		}
		v, err := b.form()
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID || wardwatch.ErrorMessage(err) == "" {
				t.Fatalf("form(%q) = %v", body, err)
			}
			return
		}
		rd := readerFromForm(v)
		if len(rd.Antennas) != len(b.Antennas) {
			t.Fatalf("form(%q) kept %d of %d antennas", body, len(rd.Antennas), len(b.Antennas))
		}
		for _, a := range rd.Antennas {
			if a.Port < 1 || a.Port > apiReaderPorts || a.ZoneID <= 0 {
				t.Fatalf("form(%q) antenna %+v", body, a)
			}
		}
		if err := b.checkDerived(rd, 1); err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
			t.Fatalf("checkDerived(%q) = %v", body, err)
		}
	})
}

// FuzzAPIParams checks the single-resource query parser: EINVALID or
// only the allowed parameters, never paging ones.
func FuzzAPIParams(f *testing.F) {
	for _, s := range []string{"", "month=2026-02", "month=2026-02&sensor=fa%2Ftemperature", "limit=5", "cursor=bzE", "month=a&month=b", "x=%zz", "sensor=%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := apiParams(raw, "month", "sensor")
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID || wardwatch.ErrorMessage(err) == "" {
				t.Fatalf("apiParams(%q) = %v", raw, err)
			}
			return
		}
		for k, vs := range v {
			if (k != "month" && k != "sensor") || len(vs) != 1 || len(vs[0]) > apiMaxFilter {
				t.Fatalf("apiParams(%q) = %v", raw, v)
			}
		}
	})
}
