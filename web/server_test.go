package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// harness is a server over fakes, driven in-process.
type harness struct {
	t         testing.TB
	store     *fakeStore
	live      *fakeLive
	clock     *fakeClock
	reg       *prometheus.Registry
	healthErr error
	handler   http.Handler
}

var t0 = time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)

func newHarness(t testing.TB, opts ...func(*Config)) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		store: newFakeStore(),
		clock: &fakeClock{now: t0},
		reg:   prometheus.NewRegistry(),
	}
	h.live = &fakeLive{snapshots: map[int64][]wardwatch.Position{
		1: {
			{TagID: "ibeacon:a:1:1", AssetID: 100, FloorID: 1, At: wardwatch.Point{X: 3, Y: 2}, ZoneID: 10, Confidence: 0.82, Time: t0.Add(-5 * time.Second)},
			{TagID: "ibeacon:a:1:2", AssetID: 101, FloorID: 1, At: wardwatch.Point{X: 7.5, Y: 1.25}, ZoneID: 11, Confidence: 0.5, Time: t0.Add(-5 * time.Minute)},
		},
	}}
	cfg := Config{
		Store:      h.store,
		Live:       h.live,
		Registerer: h.reg,
		Ingest: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			_, _ = io.WriteString(w, "accepted "+r.PathValue("gateway"))
		}),
		Health: func(context.Context) error { return h.healthErr },
		Now:    h.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	h.handler = NewServer(cfg)
	return h
}

func (h *harness) do(r *http.Request) *http.Response {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, r)
	return rec.Result()
}

// page requests path as a browser navigation, with cookie when not nil.
func (h *harness) page(path string, cookie *http.Cookie) *http.Response {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Accept", "text/html,application/xhtml+xml")
	if cookie != nil {
		r.AddCookie(cookie)
	}
	return h.do(r)
}

// loginRequest is a same-origin form post to /login.
func loginRequest(form url.Values) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	return r
}

func (h *harness) login(username, password, next string) *http.Response {
	h.t.Helper()
	return h.do(loginRequest(url.Values{"username": {username}, "password": {password}, "next": {next}}))
}

// signIn logs in as the nurse and returns the session cookie.
func (h *harness) signIn() *http.Cookie {
	h.t.Helper()
	resp := h.login("nurse", testPassword, "")
	if resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login: status %d, body %s", resp.StatusCode, readBody(h.t, resp))
	}
	c := sessionCookieOf(resp)
	if c == nil || c.Value == "" {
		h.t.Fatal("login set no session cookie")
	}
	return c
}

func sessionCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

func readBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body.Close()
	return string(b)
}

func wantStatus(t testing.TB, resp *http.Response, want int) string {
	t.Helper()
	body := readBody(t, resp)
	if resp.StatusCode != want {
		t.Fatalf("status %d, want %d; body:\n%s", resp.StatusCode, want, body)
	}
	return body
}

func TestLoginSuccessOpensFloors(t *testing.T) {
	h := newHarness(t)

	resp := h.page("/floors", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login" {
		t.Errorf("signed-out /floors redirects to %q, want /login", loc)
	}

	resp = h.login("nurse", testPassword, "/floors/1")
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/floors/1" {
		t.Errorf("login redirects to %q, want /floors/1", loc)
	}
	c := sessionCookieOf(resp)
	if c == nil {
		t.Fatal("no session cookie")
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Lax, /, not Secure", c.HttpOnly, c.SameSite, c.Path, c.Secure)
	}
	if len(c.Value) != 43 {
		t.Errorf("cookie value %q is not a 32-byte base64url token", c.Value)
	}
	// Only the token's hash is stored.
	sum := sha256.Sum256([]byte(c.Value))
	h.store.mu.Lock()
	sess, ok := h.store.sessions[string(sum[:])]
	_, raw := h.store.sessions[c.Value]
	h.store.mu.Unlock()
	if !ok || raw {
		t.Fatalf("store holds hash: %v, raw token: %v; want only the hash", ok, raw)
	}
	if sess.UserID != 1 || !sess.ExpiresAt.Equal(t0.Add(DefaultSessionIdle)) {
		t.Errorf("session = %+v, want user 1 expiring at %v", sess, t0.Add(DefaultSessionIdle))
	}

	body := wantStatus(t, h.page("/floors", c), http.StatusOK)
	for _, want := range []string{"Ward 4 — Level 2", "Ground floor", "nurse", "Nurse", `action="/logout"`} {
		if !strings.Contains(body, want) {
			t.Errorf("/floors lacks %q", want)
		}
	}
}

func TestSecureCookies(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.SecureCookies = true })
	resp := h.login("nurse", testPassword, "")
	wantStatus(t, resp, http.StatusSeeOther)
	if c := sessionCookieOf(resp); c == nil || !c.Secure {
		t.Errorf("cookie %+v, want Secure", c)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got == "" {
		t.Error("no HSTS header with SecureCookies")
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	h := newHarness(t)
	wrong := wantStatus(t, h.login("nurse", "not the password", ""), http.StatusUnauthorized)
	unknown := wantStatus(t, h.login("nobody", "not the password", ""), http.StatusUnauthorized)
	for name, body := range map[string]string{"wrong password": wrong, "unknown user": unknown} {
		if !strings.Contains(body, msgWrongCredentials) {
			t.Errorf("%s: body lacks %q", name, msgWrongCredentials)
		}
	}
	// Apart from the echoed username, the pages are identical.
	if strings.ReplaceAll(wrong, `value="nurse"`, "") != strings.ReplaceAll(unknown, `value="nobody"`, "") {
		t.Error("wrong-password and unknown-user pages differ beyond the echoed username")
	}
	if n := h.store.sessionCount(); n != 0 {
		t.Errorf("%d sessions after failed logins, want 0", n)
	}
}

func TestLoginBadInput(t *testing.T) {
	h := newHarness(t)
	long := strings.Repeat("x", maxFieldBytes+1)
	tests := []struct {
		name string
		req  *http.Request
		want int
		msg  string
	}{
		{"long username", loginRequest(url.Values{"username": {long}, "password": {testPassword}}), http.StatusBadRequest, msgFieldTooLong},
		{"long password", loginRequest(url.Values{"username": {"nurse"}, "password": {long}}), http.StatusBadRequest, msgFieldTooLong},
		{"long next", loginRequest(url.Values{"username": {"nurse"}, "password": {testPassword}, "next": {"/" + long}}), http.StatusBadRequest, msgFieldTooLong},
		{"missing password", loginRequest(url.Values{"username": {"nurse"}}), http.StatusBadRequest, msgMissingFields},
		{"blank username", loginRequest(url.Values{"username": {"   "}, "password": {"x"}}), http.StatusBadRequest, msgMissingFields},
		{"body over 16 KiB", loginRequest(url.Values{"username": {"nurse"}, "password": {testPassword}, "pad": {strings.Repeat("p", 17<<10)}}), http.StatusRequestEntityTooLarge, msgFormTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := wantStatus(t, h.do(tt.req), tt.want)
			if !strings.Contains(body, tt.msg) {
				t.Errorf("body lacks %q", tt.msg)
			}
		})
	}
	if n := h.store.sessionCount(); n != 0 {
		t.Errorf("%d sessions after bad input, want 0", n)
	}
}

func TestLoginRateLimit(t *testing.T) {
	t.Run("per username", func(t *testing.T) {
		h := newHarness(t)
		for i := range loginMaxUserFailures {
			r := loginRequest(url.Values{"username": {"nurse"}, "password": {"wrong"}})
			r.RemoteAddr = "198.51.100." + strconv.Itoa(i+1) + ":4000" // a different address each time
			wantStatus(t, h.do(r), http.StatusUnauthorized)
		}
		h.clock.Advance(time.Minute)
		r := loginRequest(url.Values{"username": {"Nurse"}, "password": {testPassword}})
		r.RemoteAddr = "198.51.100.99:4000"
		resp := h.do(r)
		body := wantStatus(t, resp, http.StatusTooManyRequests)
		if !strings.Contains(body, "Too many attempts; try again in 14 minutes.") {
			t.Errorf("429 body lacks the wait; got:\n%s", body)
		}
		if ra := resp.Header.Get("Retry-After"); ra != "840" {
			t.Errorf("Retry-After = %q, want 840", ra)
		}
		// Even the right password is refused while throttled.
		wantStatus(t, h.login("nurse", testPassword, ""), http.StatusTooManyRequests)

		h.clock.Advance(14 * time.Minute)
		wantStatus(t, h.login("nurse", testPassword, ""), http.StatusSeeOther)
	})
	t.Run("per address", func(t *testing.T) {
		h := newHarness(t)
		for i := range loginMaxAddressFailures {
			wantStatus(t, h.login("user"+strconv.Itoa(i), "wrong", ""), http.StatusUnauthorized)
		}
		body := wantStatus(t, h.login("nurse", testPassword, ""), http.StatusTooManyRequests)
		if !strings.Contains(body, "try again in 15 minutes") {
			t.Errorf("429 body lacks the wait; got:\n%s", body)
		}
		r := loginRequest(url.Values{"username": {"nurse"}, "password": {testPassword}})
		r.RemoteAddr = "203.0.113.7:5000"
		wantStatus(t, h.do(r), http.StatusSeeOther)
	})
	t.Run("a few typos at a shared workstation do not lock out the ward", func(t *testing.T) {
		h := newHarness(t)
		for i := range 2 * loginMaxUserFailures {
			wantStatus(t, h.login("user"+strconv.Itoa(i%3), "wrong", ""), http.StatusUnauthorized)
		}
		wantStatus(t, h.login("nurse", testPassword, ""), http.StatusSeeOther)
	})
	t.Run("success clears the username's failures", func(t *testing.T) {
		h := newHarness(t)
		for range loginMaxUserFailures - 1 {
			r := loginRequest(url.Values{"username": {"admin"}, "password": {"wrong"}})
			r.RemoteAddr = "203.0.113.8:5000"
			wantStatus(t, h.do(r), http.StatusUnauthorized)
		}
		wantStatus(t, h.login("admin", testPassword, ""), http.StatusSeeOther)
		wantStatus(t, h.login("admin", "wrong", ""), http.StatusUnauthorized)
	})
}

func TestLoginLimiterIsBounded(t *testing.T) {
	l := newLoginLimiter(time.Minute, 2, 5)
	for i := range 50 {
		l.fail(t0.Add(time.Duration(i)*time.Millisecond), "user:"+strconv.Itoa(i))
	}
	if n := l.len(); n > 5 {
		t.Errorf("limiter holds %d keys, want ≤ 5", n)
	}
	// The newest keys survive.
	l.fail(t0.Add(time.Second), "user:49")
	if d := l.wait(t0.Add(time.Second), "user:49"); d <= 0 {
		t.Errorf("user:49 not throttled after 2 failures (wait %v)", d)
	}
	// Failures expire with the window.
	if d := l.wait(t0.Add(2*time.Minute), "user:49"); d != 0 {
		t.Errorf("wait after the window = %v, want 0", d)
	}
	if n := l.len(); n > 5 {
		t.Errorf("limiter holds %d keys, want ≤ 5", n)
	}
}

func TestAddressKey(t *testing.T) {
	tests := map[string]string{
		"192.0.2.1":            "addr:192.0.2.1",
		"::ffff:192.0.2.1":     "addr:192.0.2.1",
		"2001:db8:1:2:3:4:5:6": "addr:2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "addr:2001:db8:1:2::/64",
		"not an address":       "addr:not an address",
	}
	for in, want := range tests {
		if got := addressKey(in); got != want {
			t.Errorf("addressKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	tests := map[string]string{
		"":                             "/floors",
		"/floors/2":                    "/floors/2",
		"/floors/2?x=1#map":            "/floors/2?x=1#map",
		"//evil.example":               "/floors",
		"//evil.example/floors":        "/floors",
		"/\\evil.example":              "/floors",
		"\\\\evil.example":             "/floors",
		"https://evil.example/":        "/floors",
		"http:/evil.example":           "/floors",
		"javascript:alert(1)":          "/floors",
		"evil.example":                 "/floors",
		"/\t/evil.example":             "/floors",
		"/\n/evil.example":             "/floors",
		"/login":                       "/floors",
		"/%2F%2Fevil.example":          "/%2F%2Fevil.example",
		"/" + strings.Repeat("a", 300): "/floors",
	}
	for in, want := range tests {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLoginNextRedirect(t *testing.T) {
	h := newHarness(t)
	tests := map[string]string{
		"/floors/2":             "/floors/2",
		"//evil.example/phish":  "/floors",
		"https://evil.example/": "/floors",
		"/\\evil.example":       "/floors",
		"":                      "/floors",
	}
	for next, want := range tests {
		resp := h.login("nurse", testPassword, next)
		wantStatus(t, resp, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != want {
			t.Errorf("next=%q: Location %q, want %q", next, loc, want)
		}
	}
	// The login page does not carry a foreign next into its form either.
	body := wantStatus(t, h.page("/login?next=%2F%2Fevil.example", nil), http.StatusOK)
	if strings.Contains(body, "evil.example") {
		t.Error("login page echoes a foreign next")
	}
	body = wantStatus(t, h.page("/login?next=%2Ffloors%2F2", nil), http.StatusOK)
	if !strings.Contains(body, `name="next" value="/floors/2"`) {
		t.Error("login page drops a local next")
	}
	// Signed-out page requests go to the login page with their address.
	resp := h.page("/floors/2?x=1", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login?next=%2Ffloors%2F2%3Fx%3D1" {
		t.Errorf("Location %q", loc)
	}
}

func TestLoginReplacesPreviousSession(t *testing.T) {
	h := newHarness(t)
	old := h.signIn()
	r := loginRequest(url.Values{"username": {"admin"}, "password": {testPassword}})
	r.AddCookie(old)
	resp := h.do(r)
	wantStatus(t, resp, http.StatusSeeOther)
	if n := h.store.sessionCount(); n != 1 {
		t.Errorf("%d sessions after signing in again, want 1", n)
	}
	wantStatus(t, h.page("/floors", old), http.StatusSeeOther)
	body := wantStatus(t, h.page("/floors", sessionCookieOf(resp)), http.StatusOK)
	if !strings.Contains(body, "<strong>admin</strong>") {
		t.Error("new session is not the admin's")
	}
}

func TestLoginPageWhenSignedIn(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	resp := h.page("/login?next=/floors/2", c)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/floors/2" {
		t.Errorf("Location %q, want /floors/2", loc)
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	r := httptest.NewRequest(http.MethodPost, "/logout", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(c)
	resp := h.do(r)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/login" {
		t.Errorf("logout redirects to %q, want /login", loc)
	}
	if cleared := sessionCookieOf(resp); cleared == nil || cleared.MaxAge >= 0 {
		t.Errorf("logout cookie %+v, want it cleared", cleared)
	}
	if n := h.store.sessionCount(); n != 0 {
		t.Errorf("%d sessions after logout, want 0", n)
	}
	resp = h.page("/floors", c)
	wantStatus(t, resp, http.StatusSeeOther)
	if !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("old cookie after logout: Location %q, want the login page", resp.Header.Get("Location"))
	}
}

func TestSessionExpiry(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		h := newHarness(t)
		c := h.signIn()
		h.clock.Advance(DefaultSessionIdle - time.Second)
		wantStatus(t, h.page("/floors", c), http.StatusOK) // extends the session
		h.clock.Advance(DefaultSessionIdle - time.Second)
		wantStatus(t, h.page("/floors", c), http.StatusOK)
		h.clock.Advance(DefaultSessionIdle)
		resp := h.page("/floors/1", c)
		wantStatus(t, resp, http.StatusSeeOther)
		if loc := resp.Header.Get("Location"); loc != "/login?next=%2Ffloors%2F1" {
			t.Errorf("expired session: Location %q", loc)
		}
		if n := h.store.sessionCount(); n != 0 {
			t.Errorf("expired session kept in the store (%d sessions)", n)
		}
		if cleared := sessionCookieOf(resp); cleared == nil || cleared.MaxAge >= 0 {
			t.Errorf("expired session: cookie %+v, want it cleared", cleared)
		}
	})
	t.Run("absolute", func(t *testing.T) {
		h := newHarness(t, func(c *Config) { c.SessionMax = time.Hour })
		c := h.signIn()
		for range 11 { // active every 5 minutes for 55 minutes
			h.clock.Advance(5 * time.Minute)
			wantStatus(t, h.page("/floors", c), http.StatusOK)
		}
		h.store.mu.Lock()
		for _, s := range h.store.sessions {
			if want := t0.Add(time.Hour); !s.ExpiresAt.Equal(want) {
				t.Errorf("expiry %v, want capped at %v", s.ExpiresAt, want)
			}
		}
		h.store.mu.Unlock()
		h.clock.Advance(5 * time.Minute)
		wantStatus(t, h.page("/floors", c), http.StatusSeeOther)
	})
	t.Run("websocket is not activity", func(t *testing.T) {
		h := newHarness(t)
		c := h.signIn()
		for range 3 {
			h.clock.Advance(4 * time.Minute)
			wantStatus(t, h.do(liveRequest("/floors/1/live", c)), http.StatusOK)
		}
		if n := h.store.touchCount(); n != 0 {
			t.Errorf("websocket requests touched the session %d times, want 0", n)
		}
		h.clock.Advance(3 * time.Minute)
		wantStatus(t, h.do(liveRequest("/floors/1/live", c)), http.StatusUnauthorized)
	})
	t.Run("garbage cookie", func(t *testing.T) {
		h := newHarness(t)
		resp := h.page("/floors", &http.Cookie{Name: sessionCookie, Value: "not-a-token"})
		wantStatus(t, resp, http.StatusSeeOther)
	})
}

func TestSessionTouchThrottled(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	steps := []struct {
		advance time.Duration
		touches int
	}{
		{0, 0},
		{20 * time.Second, 0},
		{30 * time.Second, 0},
		{15 * time.Second, 1}, // 65 s after login
		{10 * time.Second, 1},
		{40 * time.Second, 1}, // 50 s after the first touch
		{10 * time.Second, 2}, // 60 s after the first touch
	}
	for i, s := range steps {
		h.clock.Advance(s.advance)
		wantStatus(t, h.page("/floors", c), http.StatusOK)
		wantStatus(t, h.page("/floors/1", c), http.StatusOK)
		if got := h.store.touchCount(); got != s.touches {
			t.Errorf("step %d: %d touches, want %d", i, got, s.touches)
		}
	}
}

// floorDataRe finds the floor page's JSON block.
var floorDataRe = regexp.MustCompile(`(?s)<script id="floor-data" type="application/json"[^>]*>(.*?)</script>`)

func TestFloorPages(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()

	body := wantStatus(t, h.page("/floors", c), http.StatusOK)
	// Ground floor (level 0) is listed before level 2, with its count.
	if i, j := strings.Index(body, "Ground floor"), strings.Index(body, "Ward 4 — Level 2"); i < 0 || j < 0 || i > j {
		t.Errorf("floors not listed by level (Ground at %d, Ward 4 at %d)", i, j)
	}
	if !regexp.MustCompile(`Ward 4 — Level 2</a></th><td class="num">2</td><td class="num"><span class="count-pill">2</span>`).MatchString(body) {
		t.Errorf("floor list lacks Ward 4's level and asset count:\n%s", body)
	}
	if !strings.Contains(body, `href="/floors/1"`) {
		t.Error("floor list lacks the map link")
	}

	body = wantStatus(t, h.page("/floors/1", c), http.StatusOK)
	for _, want := range []string{
		`id="map"`,
		"Pump 0412", "Infusion pump", "4B-12", "5 s ago",
		"Wheelchair 7", "last seen 5 min ago in Clean utility",
		`data-asset-id="100"`, `data-x="3"`, `data-y="2"`,
		`data-x="7.5"`, `data-y="1.25"`,
		`class="asset-row is-stale"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("floor page lacks %q", want)
		}
	}
	if strings.Contains(body, "Bed 3</span>") {
		t.Error("floor page lists an asset that is not on the floor")
	}
	m := floorDataRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("floor page has no floor-data block")
	}
	var data floorData
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("floor-data: %v", err)
	}
	if data.Floor.ID != 1 || data.Floor.Width != 60 || data.Floor.Height != 14 ||
		data.LivePath != "/floors/1/live" || data.PlanURL != "/floors/1/plan" ||
		data.StaleAfterMs != DefaultStaleAfter.Milliseconds() || data.Now != t0.UnixMilli() ||
		len(data.Zones) != 2 || data.Zones[0].Name != "4B-12" || len(data.Zones[0].Polygon) != 4 ||
		len(data.Assets) != 3 || len(data.Kinds) != len(assetKinds) {
		t.Errorf("floor-data = %+v", data)
	}

	body = wantStatus(t, h.page("/floors/2", c), http.StatusOK)
	if !strings.Contains(body, "No tracked equipment on this floor right now.") {
		t.Error("empty floor lacks its empty-state text")
	}
}

func TestFloorPageEscapesNames(t *testing.T) {
	h := newHarness(t)
	const evil = `</script><script>alert(1)</script><img src=x onerror=alert(2)>`
	h.store.assets[0].Name = evil
	h.store.zones[1][0].Name = evil
	c := h.signIn()
	body := wantStatus(t, h.page("/floors/1", c), http.StatusOK)
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
		t.Error("asset or zone name reached the page unescaped")
	}
	m := floorDataRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("floor-data block broken by a name")
	}
	var data floorData
	if err := json.Unmarshal([]byte(m[1]), &data); err != nil {
		t.Fatalf("floor-data: %v", err)
	}
	if data.Assets[0].Name != evil {
		t.Errorf("asset name in floor-data = %q, want it intact", data.Assets[0].Name)
	}
}

func TestBadFloorIDs(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	for _, path := range []string{"/floors/abc", "/floors/0", "/floors/-1", "/floors/007", "/floors/+1", "/floors/999", "/floors/99999999999999999999", "/nowhere"} {
		body := wantStatus(t, h.page(path, c), http.StatusNotFound)
		if !strings.Contains(body, "<h1") || !strings.Contains(body, "WardWatch") {
			t.Errorf("%s: 404 is not a page:\n%s", path, body)
		}
	}
	for _, path := range []string{"/floors/abc/plan", "/floors/999/plan", "/floors/abc/live", "/floors/999/live"} {
		r := liveRequest(path, c)
		wantStatus(t, h.do(r), http.StatusNotFound)
	}
}

func TestRootRedirect(t *testing.T) {
	h := newHarness(t)
	resp := h.page("/", nil)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/floors" {
		t.Errorf("/ redirects to %q, want /floors", loc)
	}
}

func TestFloorPlan(t *testing.T) {
	h := newHarness(t)
	h.store.plans[3] = wardwatch.FloorPlan{ContentType: "text/html", Data: []byte("<script>alert(1)</script>")}
	h.store.floors = append(h.store.floors, wardwatch.Floor{ID: 3, Name: "Bad plan", Width: 1, Height: 1})
	c := h.signIn()
	get := func(path string) *http.Response {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Sec-Fetch-Dest", "image")
		r.AddCookie(c)
		return h.do(r)
	}

	resp := get("/floors/1/plan")
	body := wantStatus(t, resp, http.StatusOK)
	if !strings.HasPrefix(body, "<svg") {
		t.Errorf("plan body %q", body)
	}
	hd := resp.Header
	if hd.Get("Content-Type") != "image/svg+xml" || hd.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(hd.Get("Content-Security-Policy"), "sandbox") ||
		!strings.Contains(hd.Get("Cache-Control"), "max-age") || hd.Get("ETag") == "" {
		t.Errorf("SVG plan headers: %v", hd)
	}

	r := httptest.NewRequest(http.MethodGet, "/floors/1/plan", nil)
	r.Header.Set("If-None-Match", hd.Get("ETag"))
	r.AddCookie(c)
	wantStatus(t, h.do(r), http.StatusNotModified)

	resp = get("/floors/2/plan")
	wantStatus(t, resp, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "image/png" {
		t.Errorf("PNG plan Content-Type %q", ct)
	}

	resp = get("/floors/3/plan")
	body = wantStatus(t, resp, http.StatusInternalServerError)
	if strings.Contains(body, "<script>") || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Error("a plan with a non-image type was served")
	}

	// Signed out: 401, not a redirect (it is an image).
	r = httptest.NewRequest(http.MethodGet, "/floors/1/plan", nil)
	wantStatus(t, h.do(r), http.StatusUnauthorized)

	h.store.floors = append(h.store.floors, wardwatch.Floor{ID: 4, Name: "No plan", Width: 1, Height: 1})
	wantStatus(t, get("/floors/4/plan"), http.StatusNotFound)
}

// liveRequest is a same-origin websocket handshake.
func liveRequest(path string, c *http.Cookie) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Sec-WebSocket-Version", "13")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Origin", "http://example.com")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if c != nil {
		r.AddCookie(c)
	}
	return r
}

func TestFloorLive(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()

	wantStatus(t, h.do(liveRequest("/floors/1/live", nil)), http.StatusUnauthorized)

	before := time.Now()
	body := wantStatus(t, h.do(liveRequest("/floors/1/live", c)), http.StatusOK)
	after := time.Now()
	if body != "streaming floor" {
		t.Errorf("live body %q", body)
	}
	h.live.mu.Lock()
	served, deadline := append([]int64(nil), h.live.served...), h.live.deadline
	h.live.mu.Unlock()
	if len(served) != 1 || served[0] != 1 {
		t.Errorf("ServeFloor calls %v, want [1]", served)
	}
	// The stream ends when the session expires: 15 minutes from now.
	if deadline.Before(before.Add(DefaultSessionIdle)) || deadline.After(after.Add(DefaultSessionIdle)) {
		t.Errorf("stream context deadline %v, want the session expiry, %v from now", deadline, DefaultSessionIdle)
	}

	// A plain GET checks the session without a socket.
	r := httptest.NewRequest(http.MethodGet, "/floors/1/live", nil)
	r.AddCookie(c)
	wantStatus(t, h.do(r), http.StatusNoContent)
	r = httptest.NewRequest(http.MethodGet, "/floors/1/live", nil)
	wantStatus(t, h.do(r), http.StatusUnauthorized)

	// Another site's page cannot open the socket with the user's cookie.
	r = liveRequest("/floors/1/live", c)
	r.Header.Set("Origin", "https://evil.example")
	r.Header.Del("Sec-Fetch-Site")
	wantStatus(t, h.do(r), http.StatusForbidden)
	r = liveRequest("/floors/1/live", c)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, h.do(r), http.StatusForbidden)
}

func TestHealthz(t *testing.T) {
	h := newHarness(t)
	body := wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)), http.StatusOK)
	if body != "ok" {
		t.Errorf("healthz body %q, want ok", body)
	}
	h.healthErr = wardwatch.Errorf(wardwatch.EUNAVAILABLE, "config store unreachable")
	body = wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)), http.StatusServiceUnavailable)
	if body != "unavailable: config store unreachable" {
		t.Errorf("healthz body %q", body)
	}
	h.healthErr = errors.New("dial tcp 10.0.0.5:5432: connection refused")
	body = wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/healthz", nil)), http.StatusServiceUnavailable)
	if strings.Contains(body, "10.0.0.5") {
		t.Errorf("healthz leaks internals: %q", body)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t)
	h.signIn()
	wantStatus(t, h.login("nurse", "wrong", ""), http.StatusUnauthorized)
	body := wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)), http.StatusOK)
	for _, want := range []string{
		`wardwatch_http_requests_total{code="303",route="POST /login"} 1`,
		`wardwatch_http_requests_total{code="401",route="POST /login"} 1`,
		`wardwatch_login_attempts_total{result="success"} 1`,
		`wardwatch_login_attempts_total{result="failure"} 1`,
		`wardwatch_http_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// Building a second server on the same registry does not panic.
	NewServer(Config{Store: h.store, Registerer: h.reg})
}

func TestCrossOriginProtection(t *testing.T) {
	h := newHarness(t)
	form := url.Values{"username": {"nurse"}, "password": {testPassword}}

	r := loginRequest(form)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, h.do(r), http.StatusForbidden)

	r = loginRequest(form)
	r.Header.Del("Sec-Fetch-Site")
	r.Header.Set("Origin", "https://evil.example")
	wantStatus(t, h.do(r), http.StatusForbidden)

	r = loginRequest(form)
	r.Header.Set("Origin", "http://example.com") // same origin as the request's Host
	wantStatus(t, h.do(r), http.StatusSeeOther)

	c := h.signIn()
	r = httptest.NewRequest(http.MethodPost, "/logout", nil)
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.AddCookie(c)
	wantStatus(t, h.do(r), http.StatusForbidden)
	if h.store.sessionCount() == 0 {
		t.Error("a cross-site logout ended the session")
	}

	// Gateways are not browsers: the ingest route is exempt.
	r = httptest.NewRequest(http.MethodPost, "/ingest/v1/gateways/gw-7/sightings", strings.NewReader("{}"))
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Origin", "https://gateway.example")
	body := wantStatus(t, h.do(r), http.StatusAccepted)
	if body != "accepted gw-7" {
		t.Errorf("ingest body %q", body)
	}
}

func TestPanicRecovery(t *testing.T) {
	h := newHarness(t)
	h.store.floorsHook = func() { panic("store exploded") }
	srv := httptest.NewServer(h.handler)
	defer srv.Close()
	c := h.signIn()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/floors", nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(c)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body := wantStatus(t, resp, http.StatusInternalServerError)
	if strings.Contains(body, "exploded") {
		t.Error("panic value leaked to the user")
	}
	for range 3 {
		resp, err = srv.Client().Get(srv.URL + "/healthz")
		if err != nil {
			t.Fatalf("server stopped serving after a panic: %v", err)
		}
		wantStatus(t, resp, http.StatusOK)
	}
	metrics := wantStatus(t, h.do(httptest.NewRequest(http.MethodGet, "/metrics", nil)), http.StatusOK)
	if !strings.Contains(metrics, "wardwatch_http_panics_total 1") {
		t.Error("panic not counted")
	}
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	c := h.signIn()
	for _, path := range []string{"/login", "/floors", "/floors/1"} {
		var cookie *http.Cookie
		if path != "/login" {
			cookie = c
		}
		resp := h.page(path, cookie)
		body := wantStatus(t, resp, http.StatusOK)
		hd := resp.Header
		csp := hd.Get("Content-Security-Policy")
		nonce := regexp.MustCompile(`script-src 'nonce-([A-Za-z0-9_-]{20,})'`).FindStringSubmatch(csp)
		if nonce == nil {
			t.Errorf("%s: CSP %q has no script nonce", path, csp)
		} else {
			for _, tag := range regexp.MustCompile(`<script src=[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(tag, `nonce="`+nonce[1]+`"`) {
					t.Errorf("%s: script %s lacks the response's nonce", path, tag)
				}
			}
		}
		for _, want := range []string{"frame-ancestors 'none'", "default-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP allows inline code: %q", path, csp)
		}
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"Referrer-Policy":        "same-origin",
			"X-Frame-Options":        "DENY",
			"Cache-Control":          "no-store",
			"Content-Type":           "text/html; charset=utf-8",
		} {
			if got := hd.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		// The CSP forbids inline scripts and style attributes; the pages
		// must not need them.
		for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
			if !strings.Contains(tag, " src=") && !strings.Contains(tag, `type="application/json"`) {
				t.Errorf("%s: inline script %s", path, tag)
			}
		}
		if strings.Contains(body, " style=") || strings.Contains(body, "<style") || strings.Contains(body, " onclick=") {
			t.Errorf("%s: inline style or handler in the page", path)
		}
		// Every static file the page refers to is served.
		for _, m := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(body, -1) {
			u := strings.ReplaceAll(m[1], "&amp;", "&")
			resp := h.do(httptest.NewRequest(http.MethodGet, u, nil))
			wantStatus(t, resp, http.StatusOK)
			if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
				t.Errorf("%s: Cache-Control %q, want immutable for a hashed URL", u, cc)
			}
		}
	}
}

func TestStaticFiles(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		path string
		want int
		ct   string
	}{
		{"/static/app.css", 200, "text/css; charset=utf-8"},
		{"/static/floor.js", 200, "text/javascript; charset=utf-8"},
		{"/static/session.js", 200, "text/javascript; charset=utf-8"},
		{"/static/favicon.svg", 200, "image/svg+xml"},
		{"/static/vendor/leaflet/leaflet.js", 200, "text/javascript; charset=utf-8"},
		{"/static/vendor/leaflet/leaflet.css", 200, "text/css; charset=utf-8"},
		{"/static/vendor/leaflet/images/layers.png", 200, "image/png"},
		{"/static/vendor/leaflet/LICENSE", 200, "text/plain; charset=utf-8"},
		{"/static/", 404, ""},
		{"/static/vendor/", 404, ""},
		{"/static/missing.js", 404, ""},
	}
	for _, tt := range tests {
		resp := h.do(httptest.NewRequest(http.MethodGet, tt.path, nil))
		body := wantStatus(t, resp, tt.want)
		if tt.want != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tt.ct {
			t.Errorf("%s: Content-Type %q, want %q", tt.path, ct, tt.ct)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s without hash: Cache-Control %q, want no-cache", tt.path, cc)
		}
		if len(body) == 0 {
			t.Errorf("%s: empty", tt.path)
		}
	}
	resp := h.do(httptest.NewRequest(http.MethodGet, staticURL("app.css"), nil))
	wantStatus(t, resp, http.StatusOK)
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("hashed URL Cache-Control %q", cc)
	}
	r := httptest.NewRequest(http.MethodGet, "/static/app.css", nil)
	r.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	wantStatus(t, h.do(r), http.StatusNotModified)
}

func TestFormatAge(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0 s ago"},
		{0, "0 s ago"},
		{12*time.Second + 900*time.Millisecond, "12 s ago"},
		{59 * time.Second, "59 s ago"},
		{time.Minute, "1 min ago"},
		{12*time.Minute + 30*time.Second, "12 min ago"},
		{time.Hour, "1 h ago"},
		{47 * time.Hour, "47 h ago"},
		{72 * time.Hour, "3 d ago"},
	}
	for _, tt := range tests {
		if got := formatAge(tt.d); got != tt.want {
			t.Errorf("formatAge(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if s, stale := lastSeen(12*time.Minute, 2*time.Minute, "4B-12"); !stale || s != "last seen 12 min ago in 4B-12" {
		t.Errorf("lastSeen stale = %q, %v", s, stale)
	}
	if s, stale := lastSeen(12*time.Minute, 2*time.Minute, ""); !stale || s != "last seen 12 min ago" {
		t.Errorf("lastSeen stale, no room = %q, %v", s, stale)
	}
	if s, stale := lastSeen(90*time.Second, 2*time.Minute, "4B-12"); stale || s != "1 min ago" {
		t.Errorf("lastSeen fresh = %q, %v", s, stale)
	}
}

func TestParseID(t *testing.T) {
	tests := map[string]int64{"1": 1, "42": 42, "9223372036854775807": 9223372036854775807}
	for in, want := range tests {
		if got, ok := parseID(in); !ok || got != want {
			t.Errorf("parseID(%q) = %d, %v", in, got, ok)
		}
	}
	for _, in := range []string{"", "0", "-1", "+1", "01", "1e3", "1.0", " 1", "abc", "9223372036854775808"} {
		if got, ok := parseID(in); ok {
			t.Errorf("parseID(%q) = %d, want rejection", in, got)
		}
	}
}

func TestStatusOf(t *testing.T) {
	tests := map[string]int{
		wardwatch.EINVALID:      400,
		wardwatch.EUNAUTHORIZED: 401,
		wardwatch.EFORBIDDEN:    403,
		wardwatch.ENOTFOUND:     404,
		wardwatch.ECONFLICT:     409,
		wardwatch.ETOOLARGE:     413,
		wardwatch.ERATELIMITED:  429,
		wardwatch.EUNAVAILABLE:  503,
		wardwatch.EINTERNAL:     500,
		"something new":         500,
	}
	for code, want := range tests {
		if got := statusOf(wardwatch.Errorf(code, "x")); got != want {
			t.Errorf("statusOf(%s) = %d, want %d", code, got, want)
		}
	}
	if got := statusOf(errors.New("plain")); got != 500 {
		t.Errorf("statusOf(plain error) = %d, want 500", got)
	}
	if got := statusOf(nil); got != 200 {
		t.Errorf("statusOf(nil) = %d, want 200", got)
	}
}

func TestStoreErrorsAreNotLeaked(t *testing.T) {
	h := newHarness(t)
	h.store.failUsers = errors.New("database is locked at /var/lib/wardwatch/db.sqlite")
	body := wantStatus(t, h.login("nurse", testPassword, ""), http.StatusInternalServerError)
	if strings.Contains(body, "/var/lib") || strings.Contains(body, "locked") {
		t.Error("store error leaked to the user")
	}
	if !strings.Contains(body, "Internal error.") {
		t.Error("500 page lacks the generic message")
	}
}

// FuzzLogin posts random forms to the login handler: it must never panic,
// never answer 500, and never redirect off the site.
func FuzzLogin(f *testing.F) {
	f.Add("nurse", testPassword, "/floors/1")
	f.Add("nurse", "wrong", "")
	f.Add("", "", "")
	f.Add("nobody", "x", "//evil.example")
	f.Add("nurse", testPassword, "/\\evil.example")
	f.Add("nurse", testPassword, "https://evil.example")
	f.Add("nurse", testPassword, "/\t/evil.example")
	f.Add(strings.Repeat("u", 300), "p", "/")
	f.Add("nurse\x00", "p\xff\xfe", "/%2F%2Fevil")
	f.Add("  nurse  ", testPassword, "/floors?next=//evil")
	f.Add("admin", testPassword, "/floors/1#frag")

	h := newHarness(f)
	f.Fuzz(func(t *testing.T, username, password, next string) {
		h.t = t
		r := loginRequest(url.Values{"username": {username}, "password": {password}, "next": {next}})
		r.RemoteAddr = "192.0.2." + strconv.Itoa(len(username)%250+1) + ":1"
		resp := h.do(r)
		body := readBody(t, resp)
		switch resp.StatusCode {
		case http.StatusSeeOther:
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.Contains(loc, "\\") {
				t.Fatalf("redirect off the site: next=%q → Location %q", next, loc)
			}
			if safeNext(next) != next && loc != defaultNext {
				t.Fatalf("unsafe next %q → Location %q", next, loc)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusTooManyRequests, http.StatusRequestEntityTooLarge:
			if !bytes.Contains([]byte(body), []byte(`class="alert alert-error"`)) {
				t.Fatalf("status %d without an error message", resp.StatusCode)
			}
		default:
			t.Fatalf("status %d for username=%q password=%q next=%q:\n%s", resp.StatusCode, username, password, next, body)
		}
	})
}
