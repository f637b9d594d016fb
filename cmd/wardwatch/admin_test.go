package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
	"github.com/wardwatch/wardwatch/sql"
)

// adminSession runs the service on a fresh SQLite store with one admin
// signed in.
type adminSession struct {
	t      *testing.T
	base   string
	client *http.Client
	store  *sql.Store
	app    *app
}

func startAdminSession(t *testing.T) *adminSession {
	t.Helper()
	return startAdminSessionWith(t, nil)
}

// startAdminSessionWith is startAdminSession with extra environment
// variables.
func startAdminSessionWith(t *testing.T, extra map[string]string) *adminSession {
	t.Helper()
	dir := t.TempDir()
	cfg, err := LoadConfig("", testEnv(dir, extra))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logOut io.Writer = io.Discard
	if os.Getenv("WARDWATCH_TEST_LOG") != "" {
		logOut, cfg.Log.Level = os.Stderr, "debug"
	}
	logger := newLogger(cfg.Log, logOut)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := auth.HashPassword("a long enough admin password")
	if err := store.CreateUser(ctx, &wardwatch.User{Username: "boss", Role: wardwatch.RoleAdmin, PasswordHash: hash}); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(ctx, cfg, store, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.close()
		store.Close()
	})
	s := &adminSession{t: t, base: "http://" + ln.Addr().String(), store: store, app: a}
	return s.as("boss", "a long enough admin password")
}

// as signs in another user (created by the test) on the same service.
func (s *adminSession) as(username, password string) *adminSession {
	s.t.Helper()
	jar, _ := cookiejar.New(nil)
	other := &adminSession{t: s.t, base: s.base, client: &http.Client{Jar: jar}, store: s.store, app: s.app}
	if code, _ := other.post("/login", url.Values{"username": {username}, "password": {password}}); code != http.StatusOK {
		s.t.Fatalf("login as %s: %d", username, code)
	}
	return other
}

// addUser creates a user with a role and signs them in.
func (s *adminSession) addUser(username string, role wardwatch.Role) *adminSession {
	s.t.Helper()
	const password = "a long enough test password"
	hash, _ := auth.HashPassword(password)
	if err := s.store.CreateUser(context.Background(), &wardwatch.User{Username: username, Role: role, PasswordHash: hash}); err != nil {
		s.t.Fatal(err)
	}
	return s.as(username, password)
}

func (s *adminSession) send(req *http.Request) (int, string) {
	s.t.Helper()
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Accept", "text/html")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (s *adminSession) post(path string, form url.Values) (int, string) {
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.send(req)
}

func (s *adminSession) get(path string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, s.base+path, nil)
	return s.send(req)
}

func (s *adminSession) upload(path, field, name string, data []byte) (int, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile(field, name)
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return s.send(req)
}

func TestAdminAssetsImportAndUsers(t *testing.T) {
	s := startAdminSession(t)
	ctx := context.Background()

	code, page := s.post("/admin/assets", url.Values{"name": {"Pump 1"}, "kind": {"infusion_pump"}, "serial": {"SN-1"},
		"pm_due": {"2027-02-01"}, "tag": {"ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:1"}})
	if code != http.StatusOK || !strings.Contains(page, "Saved.") {
		t.Fatalf("add asset: %d", code)
	}
	code, page = s.post("/admin/assets", url.Values{"name": {"<b>x</b>"}, "kind": {"toaster"}})
	if code != http.StatusBadRequest || !strings.Contains(page, "unknown asset kind") || strings.Contains(page, "<b>x</b>") {
		t.Fatalf("bad kind: %d (escaped: %v)", code, !strings.Contains(page, "<b>x</b>"))
	}

	csvData := "name,kind,serial,asset_tag,pm_due,tags\n" +
		"Pump 2,infusion_pump,SN-2,A-2,2027-03-01,ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:1:2\n" +
		"Bed 9,bed,,,,\n" +
		"Toaster,toaster,,,,\n" +
		"Pump 3,infusion_pump,,,31/12/2026,\n" +
		"\"unclosed,bed\n"
	code, page = s.upload("/admin/assets/import", "file", "assets.csv", []byte(csvData))
	if code != http.StatusOK || !strings.Contains(page, "Import: 2 assets created") ||
		!strings.Contains(page, "line 4: unknown asset kind") || !strings.Contains(page, "line 5: PM due must be a date") {
		t.Fatalf("import: %d\n%s", code, page[strings.Index(page, "<main"):])
	}
	a, err := s.store.AssetBySerialOrTag(ctx, "SN-2")
	if err != nil || a.Name != "Pump 2" || a.PMDue.IsZero() {
		t.Fatalf("imported asset = %+v, %v", a, err)
	}
	code, _ = s.upload("/admin/assets/import", "file", "big.csv", bytes.Repeat([]byte("a,b\n"), 1<<20))
	if code != http.StatusRequestEntityTooLarge {
		t.Errorf("4 MiB upload: %d, want 413", code)
	}
	code, page = s.upload("/admin/assets/import", "file", "x.csv", []byte("colour,kind\nred,bed\n"))
	if code != http.StatusBadRequest || !strings.Contains(page, `Unknown column &#34;colour&#34;`) {
		t.Errorf("unknown column: %d", code)
	}

	code, page = s.post("/admin/users", url.Values{"username": {"nina"}, "role": {"nurse"}, "password": {"short"}})
	if code != http.StatusBadRequest || !strings.Contains(page, "at least 12 characters") {
		t.Fatalf("short password: %d", code)
	}
	if code, _ = s.post("/admin/users", url.Values{"username": {"nina"}, "role": {"nurse"}, "password": {"nina's long password"}}); code != http.StatusOK {
		t.Fatalf("add user: %d", code)
	}
	nina, err := s.store.UserByUsername(ctx, "nina")
	if err != nil {
		t.Fatal(err)
	}
	if code, _ = s.post("/admin/users/"+itoa(nina.ID), url.Values{"action": {"role"}, "role": {"biomed"}}); code != http.StatusOK {
		t.Fatalf("change role: %d", code)
	}
	if u, _ := s.store.User(ctx, nina.ID); u.Role != wardwatch.RoleBiomed {
		t.Fatalf("role = %s", u.Role)
	}
	boss, _ := s.store.UserByUsername(ctx, "boss")
	if code, page = s.post("/admin/users/"+itoa(boss.ID), url.Values{"action": {"role"}, "role": {"viewer"}}); code != http.StatusBadRequest ||
		!strings.Contains(page, "cannot remove your own admin role") {
		t.Fatalf("self-demotion: %d", code)
	}
	if code, _ = s.post("/admin/users/"+itoa(nina.ID), url.Values{"action": {"delete"}}); code != http.StatusOK {
		t.Fatalf("delete user: %d", code)
	}

	code, page = s.get("/admin/audit")
	if code != http.StatusOK {
		t.Fatalf("audit: %d", code)
	}
	for _, want := range []string{"CSV import", "role changed", "asset", "user"} {
		if !strings.Contains(page, want) {
			t.Errorf("audit log lacks %q", want)
		}
	}
	es, _ := s.store.AuditLog(ctx, wardwatch.AuditQuery{Subject: "user"})
	if len(es) != 3 || es[0].Username != "boss" {
		t.Errorf("user audit entries = %+v", es)
	}
}

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// TestKioskDisplay creates a wall-display link as an admin and opens it
// in a fresh browser: it sees the floor read-only, cannot reach admin
// pages or change anything, and loses access when the link is revoked.
func TestKioskDisplay(t *testing.T) {
	s := startAdminSession(t)
	ctx := context.Background()
	f := wardwatch.Floor{Name: "Ward 9", Level: 9, Width: 20, Height: 10}
	if err := s.store.CreateFloor(ctx, &f); err != nil {
		t.Fatal(err)
	}
	code, page := s.post("/admin/kiosks", url.Values{"name": {"Ward 9 screen"}, "floor": {strconv.FormatInt(f.ID, 10)}})
	if code != http.StatusOK {
		t.Fatalf("create display: %d", code)
	}
	m := regexp.MustCompile(`id="kiosk-link">([^<]+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no display link shown")
	}
	link := m[1]

	jar, _ := cookiejar.New(nil)
	screen := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Accept", "text/html")
		resp, err := screen.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, _ = get(link)
	if code != http.StatusSeeOther {
		t.Fatalf("open display link: %d", code)
	}
	code, page = get(s.base + "/floors/" + strconv.FormatInt(f.ID, 10))
	if code != http.StatusOK || !strings.Contains(page, "Wall display") || strings.Contains(page, "Sign out") {
		t.Fatalf("display's floor page: %d (wall display badge, no sign-out expected)", code)
	}
	if code, _ = get(s.base + "/admin"); code != http.StatusForbidden {
		t.Errorf("display reached /admin: %d", code)
	}
	req, _ := http.NewRequest(http.MethodPost, s.base+"/assets/1/status", strings.NewReader("status=soiled"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if resp, err := screen.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("display changed a status: %v %v", resp.StatusCode, err)
	}
	if code, _ = get(s.base[:len(s.base)] + "/kiosk/not-a-real-token-not-a-real-token-xxxxxxxx"); code != http.StatusUnauthorized {
		t.Errorf("bad display link: %d, want 401", code)
	}

	ks, _ := s.store.KioskTokens(ctx)
	if code, _ = s.post("/admin/kiosks/"+strconv.FormatInt(ks[0].ID, 10)+"/delete", nil); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if code, _ = get(s.base + "/floors/" + strconv.FormatInt(f.ID, 10)); code != http.StatusSeeOther {
		t.Errorf("revoked display still sees the floor: %d", code)
	}
}
