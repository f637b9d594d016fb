package web

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
)

func testSite() site {
	sq := func(x0, y0 float64) []wardwatch.Point {
		return []wardwatch.Point{{X: x0, Y: y0}, {X: x0 + 4, Y: y0}, {X: x0 + 4, Y: y0 + 4}, {X: x0, Y: y0 + 4}}
	}
	s := site{
		floors: map[int64]wardwatch.Floor{1: {ID: 1, Name: "Level 1", Level: 1}, 2: {ID: 2, Name: "Level 2", Level: 2}},
		zones: map[int64]wardwatch.Zone{
			10: {ID: 10, FloorID: 1, Name: "1-A", Polygon: sq(0, 0)},
			11: {ID: 11, FloorID: 1, Name: "1-B", Polygon: sq(40, 0)},
			20: {ID: 20, FloorID: 2, Name: "2-A", Polygon: sq(0, 0)},
		},
	}
	return s
}

func TestRankAssets(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	s := testSite()
	assets := []wardwatch.Asset{
		{ID: 1, Name: "Pump far", Kind: wardwatch.AssetInfusionPump},
		{ID: 2, Name: "Pump near", Kind: wardwatch.AssetInfusionPump, Status: wardwatch.StatusSoiled},
		{ID: 3, Name: "Pump upstairs", Kind: wardwatch.AssetInfusionPump},
		{ID: 4, Name: "Pump stale", Kind: wardwatch.AssetInfusionPump},
		{ID: 5, Name: "Pump lost", Kind: wardwatch.AssetInfusionPump},
		{ID: 6, Name: "Wheelchair 1", Kind: wardwatch.AssetWheelchair, AssetTag: "WC-0001"},
		{ID: 7, Name: "Pump nowhere", Kind: wardwatch.AssetInfusionPump},
	}
	pos := func(floor, zone int64, x, y float64, age time.Duration) wardwatch.Position {
		return wardwatch.Position{FloorID: floor, ZoneID: zone, At: wardwatch.Point{X: x, Y: y}, Confidence: 0.8, Time: now.Add(-age)}
	}
	latest := map[int64]wardwatch.Position{
		1: pos(1, 11, 42, 2, time.Second),
		2: pos(1, 10, 3, 2, time.Second),
		3: pos(2, 20, 1, 1, time.Second),
		4: pos(1, 10, 2, 2, 10*time.Minute),
		5: pos(1, 10, 2, 2, 48*time.Hour),
		6: pos(1, 10, 2, 2, time.Second),
	}
	from, ok := s.placeOf(10) // centre (2, 2) on level 1
	if !ok {
		t.Fatal("placeOf(10) not found")
	}
	hits := rankAssets("infusion pump", assets, latest, s, from, true, 2*time.Minute, 24*time.Hour, now)
	var order []string
	for _, h := range hits {
		order = append(order, h.Asset.Name)
	}
	// Fresh by distance (near 1 m, upstairs 30+1.4 m, far 40 m), then
	// stale, then missing and never located by name.
	want := "Pump near,Pump upstairs,Pump far,Pump stale,Pump lost,Pump nowhere"
	if got := strings.Join(order, ","); got != want {
		t.Fatalf("order = %s\nwant    %s", got, want)
	}
	if d := hits[1].Distance; math.Abs(d-(30+math.Sqrt2)) > 1e-9 {
		t.Errorf("distance upstairs = %v", d)
	}
	if !hits[3].Stale || !strings.Contains(hits[3].Seen, "last seen 10 min ago in 1-A") {
		t.Errorf("stale hit = %+v", hits[3])
	}
	if !hits[4].Missing {
		t.Errorf("48 h old hit not missing: %+v", hits[4])
	}
	// The nearest available skips the soiled one.
	if h, ok := nearestAvailable(hits, wardwatch.AssetInfusionPump); !ok || h.Asset.Name != "Pump upstairs" {
		t.Errorf("nearest available = %+v, %v", h.Asset, ok)
	}
	if _, ok := nearestAvailable(hits, wardwatch.AssetBed); ok {
		t.Error("found a bed among pumps")
	}
	// Search by asset tag; without a place, by name.
	if hits := rankAssets("wc-0001", assets, latest, s, place{}, false, time.Minute, time.Hour, now); len(hits) != 1 || hits[0].Asset.ID != 6 {
		t.Errorf("search by asset tag = %+v", hits)
	}
	if hits := rankAssets("", assets, latest, s, place{}, false, time.Minute, time.Hour, now); len(hits) != len(assets) {
		t.Errorf("empty query found %d of %d", len(hits), len(assets))
	}
}

func TestStaysAndPositionAt(t *testing.T) {
	s := testSite()
	t0 := time.Date(2026, 11, 23, 1, 0, 0, 0, time.UTC)
	ps := []wardwatch.Position{
		{FloorID: 1, ZoneID: 10, Time: t0},
		{FloorID: 1, ZoneID: 10, Time: t0.Add(20 * time.Minute)},
		{FloorID: 1, ZoneID: 0, Time: t0.Add(25 * time.Minute)},
		{FloorID: 1, ZoneID: 11, Time: t0.Add(30 * time.Minute)},
		{FloorID: 1, ZoneID: 11, Time: t0.Add(90 * time.Minute)},
	}
	got := stays(ps, s)
	if len(got) != 3 || got[0].Room != "1-A" || !got[0].To.Equal(t0.Add(20*time.Minute)) ||
		got[1].Room != "between rooms" || got[2].Room != "1-B" || !got[2].To.Equal(t0.Add(90*time.Minute)) {
		t.Fatalf("stays = %+v", got)
	}
	if p, ok := positionAt(ps, t0.Add(time.Hour)); !ok || p.ZoneID != 11 {
		t.Errorf("positionAt(02:00) = %+v, %v", p, ok)
	}
	if _, ok := positionAt(ps, t0.Add(-time.Minute)); ok {
		t.Error("positionAt before the trail found something")
	}
}

type fakeHistory struct{ ps []wardwatch.Position }

func (f fakeHistory) Positions(_ context.Context, q wardwatch.PositionQuery) ([]wardwatch.Position, error) {
	var out []wardwatch.Position
	for _, p := range f.ps {
		if p.AssetID == q.AssetID && !p.Time.Before(q.From) && p.Time.Before(q.To) {
			out = append(out, p)
		}
	}
	return out, nil
}

type fakeAssets struct{ store *fakeStore }

func (f fakeAssets) SetAssetStatus(_ context.Context, id int64, st wardwatch.AssetStatus) error {
	if !st.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown status")
	}
	f.store.mu.Lock()
	defer f.store.mu.Unlock()
	for i := range f.store.assets {
		if f.store.assets[i].ID == id {
			f.store.assets[i].Status = st
			return nil
		}
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", id)
}

func TestSearchAndAssetPages(t *testing.T) {
	h := newHarness(t)
	h.handler = NewServer(Config{Store: h.store, Live: h.live, Registerer: h.reg, Now: h.clock.Now, Location: time.UTC,
		History: fakeHistory{ps: []wardwatch.Position{
			{AssetID: 100, FloorID: 1, ZoneID: 11, Time: t0.Add(-8 * time.Hour)},
			{AssetID: 100, FloorID: 1, ZoneID: 10, Time: t0.Add(-7 * time.Hour)},
		}}, Assets: fakeAssets{h.store}})
	nurse := h.signIn()

	body := wantStatus(t, h.page("/search?q=pump&near=10", nurse), http.StatusOK)
	for _, want := range []string{"Pump 0412", "4B-12", "82%", "Nearest available Infusion pump"} {
		if !strings.Contains(body, want) {
			t.Errorf("search page lacks %q", want)
		}
	}
	if strings.Contains(body, "Wheelchair 7") {
		t.Error("search for pump lists a wheelchair")
	}
	resp := h.page("/search?nearest=infusion_pump&near=10", nurse)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/assets/100?found=nearest" {
		t.Fatalf("nearest pump: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if c := resp.Cookies(); len(c) == 0 || c[0].Name != nearCookie || c[0].Value != "10" {
		t.Errorf("the user's place was not remembered: %+v", c)
	}
	body = wantStatus(t, h.page("/search?nearest=bed", nurse), http.StatusOK)
	if !strings.Contains(body, "No available bed is located right now.") {
		t.Error("no message when no bed is available")
	}

	body = wantStatus(t, h.page("/assets/100?found=nearest", nurse), http.StatusOK)
	for _, want := range []string{"nearest available Infusion pump", "4B-12", "certainty 82%", "Mark as"} {
		if !strings.Contains(body, want) {
			t.Errorf("asset page lacks %q", want)
		}
	}
	at := url.Values{"at": {t0.Add(-7*time.Hour - 30*time.Minute).Format(datetimeLocal)}}
	body = wantStatus(t, h.page("/assets/100?"+at.Encode(), nurse), http.StatusOK)
	if !strings.Contains(body, "it was in <strong>Clean utility</strong>") {
		t.Errorf("asset page does not say where it was at 02:30")
	}
	wantStatus(t, h.page("/assets/100?at=yesterday", nurse), http.StatusBadRequest)
	wantStatus(t, h.page("/assets/999", nurse), http.StatusNotFound)

	resp = h.postForm("/assets/100/status", url.Values{"status": {"soiled"}}, nurse)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set status: %d %s", resp.StatusCode, readBody(t, resp))
	}
	if a, _ := h.store.Asset(context.Background(), 100); a.Status != wardwatch.StatusSoiled {
		t.Errorf("status = %q after marking soiled", a.Status)
	}
	wantStatus(t, h.postForm("/assets/100/status", url.Values{"status": {"exploded"}}, nurse), http.StatusBadRequest)
	addUsers(h.store, wardwatch.RoleViewer)
	wantStatus(t, h.postForm("/assets/100/status", url.Values{"status": {"available"}}, h.signInAs("viewer")), http.StatusForbidden)
}

func TestPMStatus(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	due := time.Date(2026, 3, 2, 0, 0, 0, 0, est) // local midnight, as the admin form stores it
	for _, tc := range []struct {
		name    string
		due     time.Time
		now     time.Time
		loc     *time.Location
		text    string
		overdue bool
	}{
		{"none scheduled", time.Time{}, t0, est, "", false},
		{"ahead", due, due.AddDate(0, 0, -10), est, "PM due 2 Mar 2026", false},
		{"on the day", due, due.Add(23 * time.Hour), est, "PM due 2 Mar 2026", false},
		{"the day after", due, due.Add(24 * time.Hour), est, "PM overdue since 2 Mar 2026", true},
		// Stored in UTC, read in the hospital's zone: still 2 March.
		{"stored as UTC", due.UTC(), due.AddDate(0, 1, 0), est, "PM overdue since 2 Mar 2026", true},
		{"nil location reads UTC", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), nil, "PM due 2 Mar 2026", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pmStatus(tc.due, tc.now, tc.loc)
			if got.Text != tc.text || got.Overdue != tc.overdue {
				t.Errorf("pmStatus = %+v, want %q overdue=%v", got, tc.text, tc.overdue)
			}
		})
	}
}

func TestSearchAndAssetShowPMDue(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	store := newFakeStore()
	store.assets[0].PMDue = time.Date(2026, 2, 20, 0, 0, 0, 0, est).UTC() // Pump 0412: overdue at t0
	store.assets[1].PMDue = time.Date(2026, 4, 1, 0, 0, 0, 0, est).UTC()  // Wheelchair 7: due
	live := &fakeLive{snapshots: map[int64][]wardwatch.Position{}}
	now := func() time.Time { return t0 }
	get := func(h http.Handler, target string, pattern bool) string {
		t.Helper()
		r := httptest.NewRequest(http.MethodGet, target, nil)
		if pattern {
			r.SetPathValue("id", strings.TrimPrefix(r.URL.Path, "/assets/"))
		}
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, &viewer{User: wardwatch.User{ID: 1, Username: "nurse", Role: wardwatch.RoleNurse}, Now: t0, End: t0.Add(time.Hour)}))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d: %s", target, w.Code, w.Body)
		}
		return w.Body.String()
	}
	body := get(handleSearch(slog.New(slog.DiscardHandler), store, live, est, time.Minute, now), "/search", false)
	for _, want := range []string{
		`<span class="pm-due pm-overdue"><span aria-hidden="true">⚠ </span>PM overdue since 20 Feb 2026</span>`,
		`<span class="pm-due">PM due 1 Apr 2026</span>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("search page lacks %q", want)
		}
	}
	if strings.Count(body, "pm-due") != 2 {
		t.Errorf("search page shows PM for an asset without one")
	}
	body = get(handleAsset(slog.New(slog.DiscardHandler), store, live, nil, nil, est, time.Minute, now), "/assets/100", true)
	if !strings.Contains(body, "PM overdue since 20 Feb 2026") || !strings.Contains(body, "pm-overdue") {
		t.Error("asset page does not show the overdue PM")
	}
}
