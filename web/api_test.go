package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/auth"
)

// fakeAPITokens is an in-memory APITokenStore.
type fakeAPITokens struct {
	mu      sync.Mutex
	tokens  []wardwatch.APIToken
	touches int
}

func (f *fakeAPITokens) CreateAPIToken(ctx context.Context, t *wardwatch.APIToken) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Name == "" || !t.Role.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "The token needs a name and a role.")
	}
	t.ID = int64(len(f.tokens) + 1)
	t.CreatedAt = time.Now().UTC()
	f.tokens = append(f.tokens, *t)
	return nil
}

func (f *fakeAPITokens) APITokens(ctx context.Context) ([]wardwatch.APIToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.tokens), nil
}

func (f *fakeAPITokens) APITokenBySecretHash(ctx context.Context, hash []byte) (wardwatch.APIToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.tokens {
		if string(t.SecretHash) == string(hash) && !t.Revoked() {
			return t, nil
		}
	}
	return wardwatch.APIToken{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no such API token")
}

func (f *fakeAPITokens) RevokeAPIToken(ctx context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			f.tokens[i].RevokedAt = time.Now()
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "no such API token")
}

func (f *fakeAPITokens) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.touches++
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			f.tokens[i].LastUsed = at
		}
	}
	return nil
}

// issue stores a token of role and returns its text.
func (f *fakeAPITokens) issue(t *testing.T, role wardwatch.Role) string {
	t.Helper()
	text, err := newAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.CreateAPIToken(context.Background(), &wardwatch.APIToken{Name: "test " + string(role), Role: role,
		Prefix: text[:apiTokenShownPart], SecretHash: auth.HashToken(text)}); err != nil {
		t.Fatal(err)
	}
	return text
}

// apiDo sends a request with an optional bearer token and JSON body.
func apiDo(t *testing.T, h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// apiErrorCode decodes a JSON error answer's code.
func apiErrorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var e jsonErrorBody
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("error body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type = %q", ct)
	}
	return e.Error.Code
}

func TestAPIAuth(t *testing.T) {
	store := newFakeStore()
	tokens := &fakeAPITokens{}
	h := NewServer(Config{Store: store, APITokens: tokens})
	viewerTok := tokens.issue(t, wardwatch.RoleViewer)

	// No token, a malformed one, an unknown one: 401 JSON with the challenge.
	for name, tok := range map[string]string{"none": "", "malformed": "abc", "unknown": "wwt_" + strings.Repeat("a", 52)} {
		rec := apiDo(t, h, "GET", "/api/v1/floors", tok, "")
		if rec.Code != http.StatusUnauthorized || apiErrorCode(t, rec) != wardwatch.EUNAUTHORIZED ||
			!strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s token: %d %q %q", name, rec.Code, rec.Body.String(), rec.Header().Get("WWW-Authenticate"))
		}
	}

	// A session cookie is not accepted.
	req := httptest.NewRequest("GET", "/api/v1/floors", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.Repeat("a", 43)})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("session cookie on the API: %d", rec.Code)
	}

	// A valid token works, and its use is recorded.
	rec = apiDo(t, h, "GET", "/api/v1/floors", viewerTok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("viewer token: %d %s", rec.Code, rec.Body.String())
	}
	var fl apiList[apiFloorJSON]
	if err := json.Unmarshal(rec.Body.Bytes(), &fl); err != nil || fl.Total != 2 || len(fl.Items) != 2 || fl.Items[0].ID != 1 || fl.Items[0].Width != 60 {
		t.Errorf("floors = %+v, %v", fl, err)
	}
	if tokens.touches != 1 {
		t.Errorf("touches = %d, want 1", tokens.touches)
	}

	// The same permission table as the UI: a viewer cannot configure.
	rec = apiDo(t, h, "GET", "/api/v1/gateways", viewerTok, "")
	if rec.Code != http.StatusForbidden || apiErrorCode(t, rec) != wardwatch.EFORBIDDEN {
		t.Errorf("viewer GET gateways: %d %s", rec.Code, rec.Body.String())
	}

	// Revoked: refused at once.
	if err := tokens.RevokeAPIToken(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if rec := apiDo(t, h, "GET", "/api/v1/floors", viewerTok, ""); rec.Code != http.StatusUnauthorized {
		t.Errorf("revoked token: %d", rec.Code)
	}

	// Unknown API routes answer JSON 404.
	admin := tokens.issue(t, wardwatch.RoleAdmin)
	if rec := apiDo(t, h, "GET", "/api/v1/nothing", admin, ""); rec.Code != http.StatusNotFound || apiErrorCode(t, rec) != wardwatch.ENOTFOUND {
		t.Errorf("unknown route: %d %s", rec.Code, rec.Body.String())
	}
}

func TestAPIRateLimitsBadTokens(t *testing.T) {
	h := NewServer(Config{Store: newFakeStore(), APITokens: &fakeAPITokens{}})
	bad := "wwt_" + strings.Repeat("b", 52)
	for range apiMaxAddressFailures {
		if rec := apiDo(t, h, "GET", "/api/v1/floors", bad, ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", rec.Code)
		}
	}
	rec := apiDo(t, h, "GET", "/api/v1/floors", bad, "")
	if rec.Code != http.StatusTooManyRequests || apiErrorCode(t, rec) != wardwatch.ERATELIMITED {
		t.Fatalf("after %d failures: %d %s", apiMaxAddressFailures, rec.Code, rec.Body.String())
	}
}

func TestAPIAssetsAndErrors(t *testing.T) {
	store := newFakeStore()
	tokens := &fakeAPITokens{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	live := &fakeLive{snapshots: map[int64][]wardwatch.Position{1: {{AssetID: 100, FloorID: 1, At: wardwatch.Point{X: 2, Y: 3},
		ZoneID: 10, Confidence: 0.8, Time: now.Add(-10 * time.Minute)}}}}
	h := NewServer(Config{Store: store, Live: live, APITokens: tokens, Now: func() time.Time { return now }, Location: time.UTC})
	tok := tokens.issue(t, wardwatch.RoleNurse)

	rec := apiDo(t, h, "GET", "/api/v1/assets?kind=infusion_pump", tok, "")
	if rec.Code != http.StatusOK {
		t.Fatalf("assets: %d %s", rec.Code, rec.Body.String())
	}
	var got apiList[apiAssetJSON]
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || len(got.Items) != 1 {
		t.Fatalf("assets = %s, %v", rec.Body.String(), err)
	}
	a := got.Items[0]
	if a.ID != 100 || a.Status != "available" || a.Location == nil || a.Location.Zone != "4B-12" || a.Location.Certainty != 0.8 ||
		!a.Location.Stale || *a.Location.LastSeen != "2026-03-01T11:50:00.000Z" {
		t.Errorf("asset = %+v, location %+v", a, a.Location)
	}

	// Paging with a cursor.
	rec = apiDo(t, h, "GET", "/api/v1/assets?limit=2", tok, "")
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if len(got.Items) != 2 || got.NextCursor == "" || got.Total != 3 {
		t.Fatalf("first page = %+v", got)
	}
	rec = apiDo(t, h, "GET", "/api/v1/assets?limit=2&cursor="+got.NextCursor, tok, "")
	got = apiList[apiAssetJSON]{}
	_ = json.Unmarshal(rec.Body.Bytes(), &got)
	if len(got.Items) != 1 || got.Items[0].ID != 102 || got.NextCursor != "" {
		t.Fatalf("second page = %+v", got)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/assets?limit=0", 400, wardwatch.EINVALID},
		{"/api/v1/assets?limit=1001", 400, wardwatch.EINVALID},
		{"/api/v1/assets?colour=red", 400, wardwatch.EINVALID},
		{"/api/v1/assets?kind=toaster", 400, wardwatch.EINVALID},
		{"/api/v1/assets?cursor=zzz", 400, wardwatch.EINVALID},
		{"/api/v1/assets/999", 404, wardwatch.ENOTFOUND},
		{"/api/v1/assets/abc", 404, wardwatch.ENOTFOUND},
		{"/api/v1/zones?floor=x", 400, wardwatch.EINVALID},
	} {
		rec := apiDo(t, h, "GET", tc.path, tok, "")
		if rec.Code != tc.status || apiErrorCode(t, rec) != tc.code {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, rec.Code, rec.Body.String(), tc.status, tc.code)
		}
	}

	rec = apiDo(t, h, "GET", "/api/v1/zones?floor=1", tok, "")
	var zs apiList[apiZoneJSON]
	if err := json.Unmarshal(rec.Body.Bytes(), &zs); err != nil || len(zs.Items) != 2 || len(zs.Items[0].Polygon) != 4 {
		t.Errorf("zones = %s", rec.Body.String())
	}
}

func TestParseListQuery(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		ok      bool
		limit   int
		offset  int
		filters map[string]string
	}{
		{"", true, 100, 0, map[string]string{}},
		{"limit=5&offset=10", true, 5, 10, map[string]string{}},
		{"limit=1000", true, 1000, 0, map[string]string{}},
		{"cursor=" + encodeCursor(42), true, 100, 42, map[string]string{}},
		{"kind=bed&q=+pump+", true, 100, 0, map[string]string{"kind": "bed", "q": "pump"}},
		{"kind=", true, 100, 0, map[string]string{}},
		{"limit=-1", false, 0, 0, nil},
		{"limit=x", false, 0, 0, nil},
		{"offset=-3", false, 0, 0, nil},
		{"offset=1&cursor=" + encodeCursor(1), false, 0, 0, nil},
		{"kind=a&kind=b", false, 0, 0, nil},
		{"other=1", false, 0, 0, nil},
		{"kind=%00", false, 0, 0, nil},
		{"kind=%zz", false, 0, 0, nil},
		{"cursor=" + encodeCursor(-1), false, 0, 0, nil},
		{"kind=" + strings.Repeat("a", apiMaxFilter+1), false, 0, 0, nil},
	} {
		q, err := parseListQuery(tc.raw, "kind", "q")
		if tc.ok != (err == nil) {
			t.Errorf("parseListQuery(%q) error = %v, want ok=%v", tc.raw, err, tc.ok)
			continue
		}
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Errorf("parseListQuery(%q) code = %s", tc.raw, wardwatch.ErrorCode(err))
			}
			continue
		}
		if q.Limit != tc.limit || q.Offset != tc.offset || len(q.Filters) != len(tc.filters) {
			t.Errorf("parseListQuery(%q) = %+v", tc.raw, q)
		}
		for k, v := range tc.filters {
			if q.Filters[k] != v {
				t.Errorf("parseListQuery(%q) filter %s = %q, want %q", tc.raw, k, q.Filters[k], v)
			}
		}
	}
}

// FuzzParseListQuery checks the list query parser never panics, always
// answers EINVALID when it refuses, and keeps its bounds.
func FuzzParseListQuery(f *testing.F) {
	for _, s := range []string{"", "limit=5", "cursor=" + encodeCursor(7), "offset=3&kind=bed", "q=%ff", "limit=99999999999999999999",
		"cursor=bzE", "kind=a&kind=b", "a=1;b=2", "topics=positions,alerts"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseListQuery(raw, "kind", "q", "topics")
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID || wardwatch.ErrorMessage(err) == "" {
				t.Fatalf("parseListQuery(%q) = %v", raw, err)
			}
			return
		}
		if q.Limit < 1 || q.Limit > apiMaxLimit || q.Offset < 0 || q.Offset > apiMaxOffset {
			t.Fatalf("parseListQuery(%q) out of bounds: %+v", raw, q)
		}
		for k, v := range q.Filters {
			if len(v) > apiMaxFilter || (k != "kind" && k != "q" && k != "topics") {
				t.Fatalf("parseListQuery(%q) filter %q=%q", raw, k, v)
			}
		}
		n, ok := decodeCursor(encodeCursor(q.Offset))
		if !ok || n != q.Offset {
			t.Fatalf("cursor round trip of %d = %d, %v", q.Offset, n, ok)
		}
	})
}

func TestBodyForm(t *testing.T) {
	for _, tc := range []struct {
		body string
		want map[string]string
		code string
	}{
		{`{"name":" Ward ","level":2,"enabled":true,"off":false,"polygon":[[0, 1],[2,3]],"n":null}`,
			map[string]string{"name": "Ward", "level": "2", "enabled": "on", "polygon": "[[0,1],[2,3]]"}, ""},
		{`{"colour":"red"}`, nil, wardwatch.EINVALID},
		{`[1]`, nil, wardwatch.EINVALID},
		{`null`, nil, wardwatch.EINVALID},
		{``, nil, wardwatch.EINVALID},
		{`{"name":"a"} {}`, nil, wardwatch.EINVALID},
		{`{"name":"` + strings.Repeat("a", maxFieldBytes+1) + `"}`, nil, wardwatch.EINVALID},
		{`{"name":` + strings.Repeat("[", 300) + `}`, nil, wardwatch.EINVALID},
	} {
		req := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
		got, err := bodyForm(httptest.NewRecorder(), req, []string{"name", "level", "enabled", "off", "polygon", "n"}, "polygon")
		if wardwatch.ErrorCode(err) != tc.code {
			t.Errorf("bodyForm(%.40s) = %v, want code %q", tc.body, err, tc.code)
			continue
		}
		if err == nil && !equalMaps(got, tc.want) {
			t.Errorf("bodyForm(%s) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestAPITokenFormat(t *testing.T) {
	a, err := newAPIToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := newAPIToken()
	if a == b || !wellFormedAPIToken(a) || len(a) != apiTokenLen || !strings.HasPrefix(a, "wwt_") {
		t.Fatalf("tokens %q %q", a, b)
	}
	for _, s := range []string{"", "wwt_", a[:len(a)-1], "xxx_" + a[4:], strings.ToUpper(a), a[:10] + "!" + a[11:]} {
		if wellFormedAPIToken(s) {
			t.Errorf("wellFormedAPIToken(%q) = true", s)
		}
	}
}

// TestOpenAPICoversRoutes parses the /api/v1 routes of routes.go and the
// OpenAPI document and fails on any route undocumented or any documented
// operation without a route; it also checks the document is well-formed
// OpenAPI 3 (required keys, resolvable references, declared path
// parameters).
func TestOpenAPICoversRoutes(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]bool{}
	for _, m := range regexp.MustCompile(`mux\.Handle\("(GET|POST|PUT|DELETE|PATCH) (/api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1) {
		routes[strings.ToLower(m[1])+" "+m[2]] = true
	}
	if len(routes) < 40 {
		t.Fatalf("found only %d API routes in routes.go", len(routes))
	}

	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Errorf("openapi = %q, want 3.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] == nil || info["version"] == nil {
		t.Errorf("info lacks title or version: %v", info)
	}
	comps, _ := doc["components"].(map[string]any)
	schemes, _ := comps["securitySchemes"].(map[string]any)
	if bearer, _ := schemes["bearerAuth"].(map[string]any); bearer["type"] != "http" || bearer["scheme"] != "bearer" {
		t.Errorf("no bearer security scheme: %v", schemes)
	}
	paths, _ := doc["paths"].(map[string]any)
	documented := map[string]bool{}
	for path, item := range paths {
		ops, _ := item.(map[string]any)
		pathParams := regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1)
		for method, o := range ops {
			documented[method+" "+path] = true
			op, _ := o.(map[string]any)
			if rs, _ := op["responses"].(map[string]any); len(rs) == 0 {
				t.Errorf("%s %s has no responses", method, path)
			}
			declared := map[string]bool{}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				pm, _ := p.(map[string]any)
				if ref, ok := pm["$ref"].(string); ok {
					pm = resolveRef(t, doc, ref)
				}
				if pm["in"] == "path" {
					declared[pm["name"].(string)] = true
				}
			}
			for _, pp := range pathParams {
				if !declared[pp[1]] {
					t.Errorf("%s %s does not declare path parameter %s", method, path, pp[1])
				}
			}
		}
	}
	for r := range routes {
		if !documented[r] {
			t.Errorf("route %q is not in openapi.json", r)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("openapi.json documents %q, which routes.go does not serve", d)
		}
	}
	// Every $ref resolves.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				resolveRef(t, doc, ref)
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)

	// And it is served without a token.
	h := NewServer(Config{Store: newFakeStore()})
	rec := apiDo(t, h, "GET", "/api/v1/openapi.json", "", "")
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") || rec.Body.Len() != len(openAPIDocument) {
		t.Errorf("GET openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func resolveRef(t *testing.T, doc map[string]any, ref string) map[string]any {
	t.Helper()
	if !strings.HasPrefix(ref, "#/") {
		t.Fatalf("external $ref %q", ref)
	}
	var cur any = doc
	for _, part := range strings.Split(ref[2:], "/") {
		m, _ := cur.(map[string]any)
		cur = m[part]
	}
	m, ok := cur.(map[string]any)
	if !ok {
		t.Errorf("$ref %q does not resolve", ref)
	}
	return m
}

func TestAPIStream(t *testing.T) {
	tokens := &fakeAPITokens{}
	batches := make(chan []wardwatch.Position, 4)
	cancelled := make(chan struct{})
	var once sync.Once
	readingTime := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(NewServer(Config{
		Store:     newFakeStore(),
		APITokens: tokens,
		Positions: func(int) (<-chan []wardwatch.Position, func()) {
			return batches, func() { once.Do(func() { close(cancelled) }) }
		},
		LatestReadings: func() []wardwatch.Reading {
			return []wardwatch.Reading{{Time: readingTime, SensorID: "fridge-1/temp", Metric: wardwatch.MetricTemperature, Value: 4.5}}
		},
	}))
	defer srv.Close()
	tok := tokens.issue(t, wardwatch.RoleViewer)

	// Unknown and unavailable topics are refused.
	for topics, want := range map[string]int{"colours": 400, "alerts": 503} {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/stream?topics="+topics, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("topics=%s: %d, want %d", topics, resp.StatusCode, want)
		}
	}

	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/stream?topics=positions,readings", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	batches <- []wardwatch.Position{{AssetID: 100, FloorID: 1, At: wardwatch.Point{X: 1, Y: 2}, Confidence: 0.9, Time: readingTime}}

	sc := bufio.NewScanner(resp.Body)
	events := map[string]string{}
	var name string
	for sc.Scan() && len(events) < 2 {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			events[name] = strings.TrimPrefix(line, "data: ")
		}
	}
	var rd apiStreamReading
	if err := json.Unmarshal([]byte(events["reading"]), &rd); err != nil || rd.SensorID != "fridge-1/temp" || *rd.Value != 4.5 || rd.Unit != "°C" {
		t.Errorf("reading event %q: %v", events["reading"], err)
	}
	var pos apiPositionJSON
	if err := json.Unmarshal([]byte(events["position"]), &pos); err != nil || pos.AssetID != 100 || pos.X != 1 {
		t.Errorf("position event %q: %v", events["position"], err)
	}

	// The client going away ends the handler and its subscription.
	cancel()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not end after the client left")
	}

	// A slow consumer whose subscription is closed gets a final dropped
	// event, and the stream ends.
	closedBatches := make(chan []wardwatch.Position)
	close(closedBatches)
	srv2 := httptest.NewServer(NewServer(Config{Store: newFakeStore(), APITokens: tokens,
		Positions: func(int) (<-chan []wardwatch.Position, func()) { return closedBatches, func() {} }}))
	defer srv2.Close()
	req, _ = http.NewRequest("GET", srv2.URL+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if !strings.Contains(string(body), "event: dropped") {
		t.Errorf("dropped stream body = %q", body)
	}
}
