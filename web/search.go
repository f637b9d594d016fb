package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// metresPerFloor is how far another floor counts in "nearest": a walk to
// the lift, the ride and back.
const metresPerFloor = 30.0

// nearCookie remembers where a user said they are, as a zone ID.
const nearCookie = "ww_near"

// site is the store's floors and zones, indexed for search and detail.
type site struct {
	floors map[int64]wardwatch.Floor
	zones  map[int64]wardwatch.Zone
	order  []wardwatch.Zone // by floor level, then name
}

func loadSite(ctx context.Context, store Store) (site, error) {
	fs, err := store.Floors(ctx)
	if err != nil {
		return site{}, fmt.Errorf("list floors: %w", err)
	}
	zs, err := store.Zones(ctx, 0)
	if err != nil {
		return site{}, fmt.Errorf("list zones: %w", err)
	}
	s := site{floors: make(map[int64]wardwatch.Floor, len(fs)), zones: make(map[int64]wardwatch.Zone, len(zs)), order: zs}
	for _, f := range fs {
		s.floors[f.ID] = f
	}
	for _, z := range zs {
		s.zones[z.ID] = z
	}
	slices.SortStableFunc(s.order, func(a, b wardwatch.Zone) int {
		return cmp.Or(cmp.Compare(s.floors[a.FloorID].Level, s.floors[b.FloorID].Level),
			strings.Compare(s.floors[a.FloorID].Name, s.floors[b.FloorID].Name), strings.Compare(a.Name, b.Name))
	})
	return s, nil
}

// place is where a user is: a zone's centre on a floor.
type place struct {
	FloorID int64
	Level   int
	At      wardwatch.Point
	Name    string
}

func (s site) placeOf(zoneID int64) (place, bool) {
	z, ok := s.zones[zoneID]
	if !ok || len(z.Polygon) == 0 {
		return place{}, false
	}
	var c wardwatch.Point
	for _, p := range z.Polygon {
		c.X += p.X
		c.Y += p.Y
	}
	n := float64(len(z.Polygon))
	return place{FloorID: z.FloorID, Level: s.floors[z.FloorID].Level, At: wardwatch.Point{X: c.X / n, Y: c.Y / n}, Name: z.Name}, true
}

// walkDistance estimates metres from a place to a position: straight on
// the same floor, plus metresPerFloor for each floor between.
func walkDistance(from place, fromOK bool, p wardwatch.Position, level int) float64 {
	if !fromOK {
		return math.Inf(1)
	}
	d := math.Hypot(p.At.X-from.At.X, p.At.Y-from.At.Y)
	if p.FloorID != from.FloorID {
		d += metresPerFloor * math.Max(1, math.Abs(float64(level-from.Level)))
	}
	return d
}

// searchHit is one asset matching a search.
type searchHit struct {
	Asset    wardwatch.Asset
	Pos      wardwatch.Position
	Located  bool
	Floor    string
	Room     string
	Distance float64 // metres from the user's place; +Inf when unknown
	Stale    bool
	Missing  bool
	Seen     string
	PM       pmDue  // set for the hits a page shows
	rank     int    // 0 fresh, 1 stale, 2 missing or never located
	sortName string // lower-case name, for ordering
}

// matches reports whether every word of the query occurs in the asset's
// name, kind, status, asset tag, serial, manufacturer, model or UDI.
func matches(a wardwatch.Asset, words []string) bool {
	hay := strings.ToLower(strings.Join([]string{a.Name, a.Kind.Label(), string(a.Kind),
		wardwatch.AssetStatus(statusOrDefault(a.Status)).Label(), a.AssetTag, a.Serial, a.Manufacturer, a.Model, a.UDI}, " "))
	for _, w := range words {
		if !strings.Contains(hay, w) {
			return false
		}
	}
	return true
}

func statusOrDefault(s wardwatch.AssetStatus) wardwatch.AssetStatus {
	if s == "" {
		return wardwatch.StatusAvailable
	}
	return s
}

// rankAssets finds the assets matching query (all when empty) and orders
// them: located before unlocated, fresh before stale, then by distance
// from the user's place, then by name. It is pure: positions and now come
// in.
func rankAssets(query string, assets []wardwatch.Asset, latest map[int64]wardwatch.Position, s site, from place, fromOK bool, staleAfter, missingAfter time.Duration, now time.Time) []searchHit {
	words := strings.Fields(strings.ToLower(query))
	hits := make([]searchHit, 0)
	for _, a := range assets {
		if !matches(a, words) {
			continue
		}
		a.Status = statusOrDefault(a.Status)
		h := searchHit{Asset: a, Distance: math.Inf(1)}
		if p, ok := latest[a.ID]; ok {
			age := now.Sub(p.Time)
			h.Pos, h.Located = p, true
			h.Floor = s.floors[p.FloorID].Name
			h.Room = s.zones[p.ZoneID].Name
			h.Missing = age > missingAfter
			h.Seen, h.Stale = lastSeen(age, staleAfter, h.Room)
			if !h.Missing {
				h.Distance = walkDistance(from, fromOK, p, s.floors[p.FloorID].Level)
			}
		}
		hits = append(hits, h)
	}
	for i := range hits {
		h := &hits[i]
		h.sortName = strings.ToLower(h.Asset.Name)
		switch {
		case !h.Located || h.Missing:
			h.rank = 2
		case h.Stale:
			h.rank = 1
		}
	}
	// Sort pointers: the hits are large.
	order := make([]*searchHit, len(hits))
	for i := range hits {
		order[i] = &hits[i]
	}
	slices.SortFunc(order, func(a, b *searchHit) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.Distance, b.Distance),
			strings.Compare(a.sortName, b.sortName), cmp.Compare(a.Asset.ID, b.Asset.ID))
	})
	sorted := make([]searchHit, len(hits))
	for i, h := range order {
		sorted[i] = *h
	}
	return sorted
}

// nearestAvailable is the first hit of kind that is available and placed
// (not stale or missing), or false.
func nearestAvailable(hits []searchHit, kind wardwatch.AssetKind) (searchHit, bool) {
	for _, h := range hits {
		if h.Asset.Kind == kind && h.Asset.Status == wardwatch.StatusAvailable && h.Located && !h.Stale && !h.Missing {
			return h, true
		}
	}
	return searchHit{}, false
}

// distanceText is a distance as a nurse reads it.
func distanceText(h searchHit, from place, fromOK bool) string {
	switch {
	case !fromOK || math.IsInf(h.Distance, 1):
		return ""
	case h.Pos.FloorID != from.FloorID:
		return fmt.Sprintf("≈ %.0f m (other floor)", h.Distance)
	}
	return fmt.Sprintf("≈ %.0f m", h.Distance)
}

// latestPositions gathers every asset's newest position from the hub.
func latestPositions(live Live, floors map[int64]wardwatch.Floor) map[int64]wardwatch.Position {
	out := make(map[int64]wardwatch.Position)
	for id := range floors {
		for _, p := range live.Snapshot(id) {
			if q, ok := out[p.AssetID]; !ok || p.Time.After(q.Time) {
				out[p.AssetID] = p
			}
		}
	}
	return out
}

// searchView is the search page.
type searchView struct {
	Query    string
	Kind     string
	Hits     []searchHit
	Near     int64
	NearName string
	From     place
	FromOK   bool
	Zones    []wardwatch.Zone
	Floors   map[int64]wardwatch.Floor
	Kinds    []wardwatch.AssetKind
	Notice   string
	Total    int // hits before the page limit
}

// maxSearchRows is how many hits the search page lists; more are counted
// and the user is asked to narrow the search.
const maxSearchRows = 100

// nearZone reads where the user is from ?near= or the cookie.
func nearZone(r *http.Request) int64 {
	if v := r.URL.Query().Get("near"); v != "" {
		id, _ := parseID(v)
		return id
	}
	if c, err := r.Cookie(nearCookie); err == nil {
		id, _ := parseID(c.Value)
		return id
	}
	return 0
}

// nearChosen reports whether the user has said where they are (or that
// they are nowhere in particular), by ?near= or the cookie.
func nearChosen(r *http.Request) bool {
	if r.URL.Query().Has("near") {
		return true
	}
	_, err := r.Cookie(nearCookie)
	return err == nil
}

// unitZone is the first zone (by floor level, then name) of the first of
// units that has one, or 0: where a user scoped to care units is unless
// they say otherwise.
func (s site) unitZone(units []string) int64 {
	for _, u := range units {
		for _, z := range s.order {
			if z.CareUnit == u {
				return z.ID
			}
		}
	}
	return 0
}

// missingAfterDefault is when a located asset counts as missing in search.
const missingAfterDefault = 24 * time.Hour

// handleSearch finds equipment by name, type or tag, nearest first,
// with each asset's PM due date in loc, and remembers where the user said
// they are.
func handleSearch(logger *slog.Logger, store Store, live Live, loc *time.Location, staleAfter time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q := strings.TrimSpace(r.URL.Query().Get("q"))
		if len(q) > 100 {
			q = q[:100]
		}
		s, err := loadSite(ctx, store)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		assets, err := store.Assets(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list assets: %w", err))
			return
		}
		near := nearZone(r)
		if !nearChosen(r) {
			near = s.unitZone(scopeUnits(viewerFrom(ctx)))
		}
		from, fromOK := s.placeOf(near)
		if r.URL.Query().Has("near") {
			http.SetCookie(w, &http.Cookie{Name: nearCookie, Value: strconv.FormatInt(near, 10), Path: "/",
				MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		}
		t := now()
		hits := rankAssets(q, assets, latestPositions(live, s.floors), s, from, fromOK, staleAfter, missingAfterDefault, t)
		v := searchView{Query: q, Hits: hits, Near: near, From: from, FromOK: fromOK, NearName: from.Name,
			Zones: s.order, Floors: s.floors, Kinds: assetKinds}
		if k := r.URL.Query().Get("nearest"); k != "" {
			kind := wardwatch.AssetKind(k)
			if h, ok := nearestAvailable(hits, kind); ok {
				http.Redirect(w, r, assetPath(h.Asset.ID)+"?found=nearest", http.StatusSeeOther)
				return
			}
			v.Notice = fmt.Sprintf("No available %s is located right now.", strings.ToLower(kind.Label()))
		}
		v.Total = len(hits)
		if len(v.Hits) > maxSearchRows {
			v.Hits = v.Hits[:maxSearchRows]
		}
		for i := range v.Hits {
			v.Hits[i].PM = pmStatus(v.Hits[i].Asset.PMDue, t, loc)
		}
		p := newPageMeta(r, "Find equipment")
		p.Nav = "search"
		render(w, r, logger, http.StatusOK, searchPage(p, v))
	})
}

func assetPath(id int64) string { return "/assets/" + strconv.FormatInt(id, 10) }

// searchURL builds a search link.
func searchURL(q string, near int64) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if near != 0 {
		v.Set("near", strconv.FormatInt(near, 10))
	}
	return "/search?" + v.Encode()
}
