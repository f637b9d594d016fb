package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

// signInAs logs in as username (a fake user) and returns the cookie.
func (h *harness) signInAs(username string) *http.Cookie {
	h.t.Helper()
	resp := h.login(username, testPassword, "")
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login %s: status %d, body %s", username, resp.StatusCode, readBody(h.t, resp))
	}
	return sessionCookieOf(resp)
}

// postForm is a same-origin form post with cookie.
func (h *harness) postForm(path string, form url.Values, cookie *http.Cookie) *http.Response {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(cookie)
	return h.do(r)
}

func addUsers(s *fakeStore, roles ...wardwatch.Role) {
	for i, r := range roles {
		s.users = append(s.users, wardwatch.User{ID: int64(50 + i), Username: string(r), Role: r, PasswordHash: testHash})
	}
}

func TestAdminRoutesCheckRoles(t *testing.T) {
	h := newHarness(t)
	addUsers(h.store, wardwatch.RoleFacilities, wardwatch.RolePharmacy, wardwatch.RoleBiomed, wardwatch.RoleViewer)
	routes := []struct {
		method, path string
		allowed      []string // usernames that may
	}{
		{"GET", "/admin", []string{"admin"}},
		{"GET", "/admin/gateways", []string{"admin", "facilities", "biomed"}},
		{"GET", "/admin/tags/discovered", []string{"admin"}},
		{"POST", "/admin/tags/discovered/assign", []string{"admin"}},
		{"POST", "/admin/tags/discovered/dismiss", []string{"admin"}},
	}
	users := []string{"admin", "nurse", "facilities", "pharmacy", "biomed", "viewer"}
	cookies := map[string]*http.Cookie{}
	for _, u := range users {
		cookies[u] = h.signInAs(u)
	}
	for _, rt := range routes {
		for _, u := range users {
			var resp *http.Response
			if rt.method == "POST" {
				resp = h.postForm(rt.path, url.Values{"tag": {"ibeacon:nobody"}, "asset": {"100"}}, cookies[u])
			} else {
				resp = h.page(rt.path, cookies[u])
			}
			allowed := false
			for _, a := range rt.allowed {
				allowed = allowed || a == u
			}
			got := resp.StatusCode
			readBody(t, resp)
			if allowed && got == http.StatusForbidden {
				t.Errorf("%s %s as %s: 403, want allowed", rt.method, rt.path, u)
			}
			if !allowed && got != http.StatusForbidden {
				t.Errorf("%s %s as %s: %d, want 403", rt.method, rt.path, u, got)
			}
		}
		// Signed out: pages redirect to the login page.
		resp := h.page(rt.path, nil)
		if rt.method == "GET" && resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s %s signed out: %d, want 303", rt.method, rt.path, resp.StatusCode)
		}
	}
}

func TestAdminGatewaysShowsHealth(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.GatewayHealth = func(now time.Time) []wardwatch.GatewayHealth {
			return []wardwatch.GatewayHealth{
				{GatewayID: 1, LastSeen: now.Add(-3 * time.Second), Rate: 1.5, Messages: 90, Accepted: 400, Malformed: 2, Dropped: 7, Online: true},
				{GatewayID: 2, LastSeen: now.Add(-10 * time.Minute), Messages: 5},
			}
		}
		c.OfflineAfter = 2 * time.Minute
	})
	h.store.gateways = []wardwatch.Gateway{
		{ID: 1, Key: "f1-gw-01", Name: "Bay 1", FloorID: 1, At: wardwatch.Point{X: 2, Y: 3}, AnchorZoneID: 10},
		{ID: 2, Key: "f1-gw-02", Name: "Bay 2", FloorID: 1, RSSIAt1m: -61, PathLossExponent: 2.2},
		{ID: 3, Key: "f1-gw-03", Name: "Bay 3", FloorID: 2},
	}
	body := wantStatus(t, h.page("/admin/gateways", h.signInAs("admin")), http.StatusOK)
	for _, want := range []string{
		"1 of 3 online", "after 2 min without a message",
		`data-gateway="f1-gw-01" data-status="online"`, "3 s ago", "1.50", "400", "4B-12",
		`data-gateway="f1-gw-02" data-status="offline"`, "10 min ago", "-61 dBm at 1 m, n = 2.2",
		`data-gateway="f1-gw-03" data-status="never"`, "not heard since WardWatch started",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("gateways page lacks %q", want)
		}
	}
	// Offline gateways are listed first.
	if strings.Index(body, "f1-gw-02") > strings.Index(body, "f1-gw-01") {
		t.Error("offline gateway is not listed before the online one")
	}
}

func TestDiscoveredTagsAssignInOneStep(t *testing.T) {
	var changed int
	h := newHarness(t, func(c *Config) { c.ConfigChanged = func(context.Context) { changed++ } })
	h.store.gateways = []wardwatch.Gateway{{ID: 1, Key: "f1-gw-01", Name: "Bay 1", FloorID: 1}}
	tag := "ibeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0:7:99"
	h.store.found = []wardwatch.DiscoveredTag{
		{TagID: tag, FirstSeen: t0.Add(-time.Hour), LastSeen: t0.Add(-20 * time.Second), GatewayID: 1, RSSI: -67, Sightings: 42},
		{TagID: "epc:<script>", FirstSeen: t0, LastSeen: t0, Sightings: 1},
	}
	admin := h.signInAs("admin")
	body := wantStatus(t, h.page("/admin/tags/discovered", admin), http.StatusOK)
	for _, want := range []string{tag, "20 s ago", "Bay 1", "-67", "42", "Pump 0412 (Infusion pump)", "epc:&lt;script&gt;"} {
		if !strings.Contains(body, want) {
			t.Errorf("discovered page lacks %q", want)
		}
	}
	if strings.Contains(body, "epc:<script>") {
		t.Error("tag ID rendered unescaped")
	}

	resp := h.postForm("/admin/tags/discovered/assign", url.Values{"tag": {tag}, "asset": {"100"}}, admin)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("assign: %d %s", resp.StatusCode, readBody(t, resp))
	}
	if changed != 1 {
		t.Errorf("ConfigChanged called %d times, want 1", changed)
	}
	if len(h.store.tags) != 1 || h.store.tags[0] != (wardwatch.Tag{ID: tag, AssetID: 100}) {
		t.Errorf("tags after assign = %+v", h.store.tags)
	}
	body = wantStatus(t, h.page(resp.Header.Get("Location"), admin), http.StatusOK)
	if !strings.Contains(body, "is assigned to Pump 0412") || strings.Contains(body, `data-tag="`+tag) {
		t.Errorf("after assign the page does not confirm it or still lists the tag")
	}

	for name, c := range map[string]struct {
		form url.Values
		want int
	}{
		"again":        {url.Values{"tag": {tag}, "asset": {"100"}}, http.StatusNotFound},
		"no asset":     {url.Values{"tag": {"epc:<script>"}}, http.StatusBadRequest},
		"bad asset id": {url.Values{"tag": {"epc:<script>"}, "asset": {"1e3"}}, http.StatusBadRequest},
		"asset gone":   {url.Values{"tag": {"epc:<script>"}, "asset": {"999"}}, http.StatusNotFound},
		"huge tag":     {url.Values{"tag": {strings.Repeat("x", 300)}, "asset": {"100"}}, http.StatusBadRequest},
		"huge form":    {url.Values{"tag": {strings.Repeat("x", 70<<10)}}, http.StatusRequestEntityTooLarge},
	} {
		resp := h.postForm("/admin/tags/discovered/assign", c.form, admin)
		if resp.StatusCode != c.want {
			t.Errorf("assign %s: %d, want %d", name, resp.StatusCode, c.want)
		}
		readBody(t, resp)
	}

	resp = h.postForm("/admin/tags/discovered/dismiss", url.Values{"tag": {"epc:<script>"}}, admin)
	if resp.StatusCode != http.StatusSeeOther || len(h.store.found) != 0 {
		t.Fatalf("dismiss: %d, left %+v", resp.StatusCode, h.store.found)
	}
}
