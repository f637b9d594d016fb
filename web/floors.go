package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// errNoFloor is the answer for a floor id that is malformed or unknown.
var errNoFloor = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such floor.")

// parseID parses a positive decimal id in canonical form ("12", not
// "+12", "012" or "1e3").
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

// floorPath and friends build this package's URLs.
func floorPath(id int64) string     { return "/floors/" + strconv.FormatInt(id, 10) }
func floorPlanPath(id int64) string { return floorPath(id) + "/plan" }
func floorLivePath(id int64) string { return floorPath(id) + "/live" }

// floorRow is one line of the floor list.
type floorRow struct {
	Name   string
	Level  int
	Assets int
	URL    string
}

// floorsView is the floor list: the floors of the viewer's care units
// first (when they are scoped to some), then every floor grouped by
// building.
type floorsView struct {
	Mine      []floorRow // floors holding a zone of the viewer's care units
	MineLabel string     // "4B"
	Groups    []floorGroup[floorRow]
	Headings  bool // more than one building, or a "your units" group: show building headings
}

// handleFloors lists the floors with how many assets are on each now,
// grouped by building and ordered by level; a viewer scoped to care
// units sees their units' floors first.
func handleFloors(logger *slog.Logger, store Store, live Live) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		floors, err := store.Floors(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list floors: %w", err))
			return
		}
		sortFloors(floors)
		row := func(f wardwatch.Floor) floorRow {
			return floorRow{Name: f.Name, Level: f.Level, Assets: len(latestPerAsset(live.Snapshot(f.ID))), URL: floorPath(f.ID)}
		}
		var v floorsView
		rest := floors
		if units := scopeUnits(viewerFrom(ctx)); len(units) > 0 {
			zs, err := store.Zones(ctx, 0)
			if err != nil {
				renderError(w, r, logger, fmt.Errorf("list zones: %w", err))
				return
			}
			mine := careUnitFloors(zs, units)
			rest = nil
			for _, f := range floors {
				if mine[f.ID] {
					v.Mine = append(v.Mine, row(f))
				} else {
					rest = append(rest, f)
				}
			}
			v.MineLabel = scopeText(units)
		}
		v.Groups = groupByBuilding(rest, row)
		v.Headings = len(v.Mine) > 0 || len(v.Groups) > 1 || (len(v.Groups) == 1 && v.Groups[0].Building != "")
		p := newPageMeta(r, "Floors")
		p.Nav = "floors"
		render(w, r, logger, http.StatusOK, floorsPage(p, v))
	})
}

// latestPerAsset keeps the newest position of each asset, in asset order.
func latestPerAsset(ps []wardwatch.Position) []wardwatch.Position {
	newest := make(map[int64]wardwatch.Position, len(ps))
	for _, p := range ps {
		if q, ok := newest[p.AssetID]; !ok || p.Time.After(q.Time) {
			newest[p.AssetID] = p
		}
	}
	out := make([]wardwatch.Position, 0, len(newest))
	for _, p := range newest {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b wardwatch.Position) int { return cmp.Compare(a.AssetID, b.AssetID) })
	return out
}

// assetKinds is the order of kinds in legends.
var assetKinds = []wardwatch.AssetKind{
	wardwatch.AssetInfusionPump,
	wardwatch.AssetWheelchair,
	wardwatch.AssetBed,
	wardwatch.AssetMonitor,
	wardwatch.AssetVentilator,
	wardwatch.AssetOther,
}

// kindOf is k when it is a known kind and "other" otherwise, so it can be
// used in class names.
func kindOf(k wardwatch.AssetKind) wardwatch.AssetKind {
	if k.Valid() {
		return k
	}
	return wardwatch.AssetOther
}

// floorPageSize is how many rows of the equipment table one page shows.
// The map always shows every asset; the table is paged so the page stays
// fast with thousands of assets on a floor.
const floorPageSize = 200

// floorView is what the floor page shows.
type floorView struct {
	Floor      wardwatch.Floor
	ShowLevel  bool       // the name does not already say "Level N"
	Rows       []assetRow // this page's rows of the equipment table
	Total      int        // assets on the floor (rows on all pages)
	Page       int        // 1-based page of the table shown
	Pages      int        // at least 1
	First      int        // 1-based number of Rows[0]; 0 when there are no rows
	Kinds      []kindJSON
	StaleAfter string // "2 min", for the legend
	Data       floorData
}

// pageURL is the address of page n of the floor's equipment table.
func (v floorView) pageURL(n int) string {
	if n <= 1 {
		return floorPath(v.Floor.ID)
	}
	return floorPath(v.Floor.ID) + "?page=" + strconv.Itoa(n)
}

// assetRow is one asset in the floor page's table.
type assetRow struct {
	ID        int64
	Name      string
	Kind      string
	KindLabel string
	Room      string // "" when in no known zone
	X, Y      float64
	ZoneID    int64
	TimeMs    int64
	Conf      float64
	Stale     bool
	LastSeen  string
}

// floorData is the JSON the floor page's script reads from #floor-data.
type floorData struct {
	Floor        floorJSON     `json:"floor"`
	Zones        []zoneJSON    `json:"zones"`
	Assets       []assetJSON   `json:"assets"`
	Positions    positionsJSON `json:"positions"` // every asset on the floor, for the map
	Kinds        []kindJSON    `json:"kinds"`
	Page         int           `json:"page"`
	PageSize     int           `json:"pageSize"`
	StaleAfterMs int64         `json:"staleAfterMs"`
	LivePath     string        `json:"livePath"`
	PlanURL      string        `json:"planUrl"`
	Now          int64         `json:"now"` // server clock, Unix ms
}

type floorJSON struct {
	ID     int64   `json:"id"`
	Name   string  `json:"name"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

type zoneJSON struct {
	ID       int64             `json:"id"`
	Name     string            `json:"name"`
	Polygon  []wardwatch.Point `json:"polygon"`
	CareUnit string            `json:"careUnit,omitempty"`
}

type assetJSON struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"` // status, and a pump's state when it reports
}

type kindJSON struct {
	Kind  string `json:"kind"`
	Label string `json:"label"`
}

// handleFloor shows a floor's live map and the table of assets on it.
func handleFloor(logger *slog.Logger, store Store, live Live, pumps func() []wardwatch.PumpState, staleAfter time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			renderError(w, r, logger, errNoFloor)
			return
		}
		page, err := parsePage(r.URL.Query().Get("page"))
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		ctx := r.Context()
		floor, err := store.Floor(ctx, id)
		if err != nil {
			renderError(w, r, logger, floorError(id, err))
			return
		}
		zones, err := store.Zones(ctx, id)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("zones of floor %d: %w", id, err))
			return
		}
		assets, err := store.Assets(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("assets: %w", err))
			return
		}
		var states []wardwatch.PumpState
		if pumps != nil {
			states = pumps()
		}
		v := buildFloorView(floor, zones, assets, live.Snapshot(id), staleAfter, now(), page)
		addDetails(&v, assets, states)
		p := newPageMeta(r, floor.Name)
		p.Nav = "floors"
		p.Styles = []string{staticURL("vendor/leaflet/leaflet.css"), staticURL("vendor/leaflet.markercluster/MarkerCluster.css")}
		p.Scripts = []string{staticURL("vendor/leaflet/leaflet.js"), staticURL("vendor/leaflet.markercluster/leaflet.markercluster.js"), staticURL("floor.js")}
		render(w, r, logger, http.StatusOK, floorPage(p, v))
	})
}

// addDetails gives each asset of the floor page's data its status and,
// for a pump that reports, its state, for the map's tooltips.
func addDetails(v *floorView, assets []wardwatch.Asset, states []wardwatch.PumpState) {
	byID := make(map[int64]wardwatch.Asset, len(assets))
	for _, a := range assets {
		byID[a.ID] = a
	}
	bySerial := make(map[string]wardwatch.PumpState, len(states))
	for _, p := range states {
		bySerial[p.Serial] = p
	}
	for i := range v.Data.Assets {
		a := byID[v.Data.Assets[i].ID]
		d := statusOrDefault(a.Status).Label()
		if p, ok := bySerial[a.Serial]; ok && a.Serial != "" {
			d += " · " + pumpStateText(p)
		}
		v.Data.Assets[i].Detail = d
	}
}

// floorError turns the store's answer for an unknown floor into the
// floor-not-found error and wraps anything else.
func floorError(id int64, err error) error {
	if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
		return errNoFloor
	}
	return fmt.Errorf("floor %d: %w", id, err)
}

// buildFloorView assembles page page (1-based; beyond the last it shows
// the last) of the floor page from the store's data and the hub's snapshot
// at now. The map data carries every asset on the floor; the table only
// this page's rows, in name order.
func buildFloorView(floor wardwatch.Floor, zones []wardwatch.Zone, assets []wardwatch.Asset, snapshot []wardwatch.Position, staleAfter time.Duration, now time.Time, page int) floorView {
	zoneNames := make(map[int64]string, len(zones))
	zj := make([]zoneJSON, 0, len(zones))
	for _, z := range zones {
		zoneNames[z.ID] = z.Name
		poly := z.Polygon
		if poly == nil {
			poly = []wardwatch.Point{}
		}
		zj = append(zj, zoneJSON{ID: z.ID, Name: z.Name, Polygon: poly})
	}
	byID := make(map[int64]wardwatch.Asset, len(assets))
	aj := make([]assetJSON, 0, len(assets))
	for _, a := range assets {
		a.Kind = kindOf(a.Kind)
		byID[a.ID] = a
		aj = append(aj, assetJSON{ID: a.ID, Name: a.Name, Kind: string(a.Kind)})
	}
	kinds := make([]kindJSON, 0, len(assetKinds))
	for _, k := range assetKinds {
		kinds = append(kinds, kindJSON{Kind: string(k), Label: k.Label()})
	}

	// Order every asset on the floor by name (case-insensitively, then
	// id), as floor.js does, and build rows for this page only.
	positions := latestPerAsset(snapshot)
	type sortKey struct {
		name string // lower-cased
		pos  int    // index in positions
		a    wardwatch.Asset
	}
	keys := make([]sortKey, len(positions))
	for i, p := range positions {
		a, ok := byID[p.AssetID]
		if !ok {
			a = wardwatch.Asset{ID: p.AssetID, Name: "Asset " + strconv.FormatInt(p.AssetID, 10), Kind: wardwatch.AssetOther}
		}
		keys[i] = sortKey{name: strings.ToLower(a.Name), pos: i, a: a}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		return cmp.Or(strings.Compare(a.name, b.name), cmp.Compare(a.a.ID, b.a.ID))
	})
	pages := max(1, (len(keys)+floorPageSize-1)/floorPageSize)
	page = min(max(page, 1), pages)
	lo := min((page-1)*floorPageSize, len(keys))
	hi := min(lo+floorPageSize, len(keys))
	rows := make([]assetRow, 0, hi-lo)
	for _, k := range keys[lo:hi] {
		p, a := positions[k.pos], k.a
		room := zoneNames[p.ZoneID]
		seen, stale := lastSeen(now.Sub(p.Time), staleAfter, room)
		rows = append(rows, assetRow{
			ID:        p.AssetID,
			Name:      a.Name,
			Kind:      string(a.Kind),
			KindLabel: a.Kind.Label(),
			Room:      room,
			X:         p.At.X,
			Y:         p.At.Y,
			ZoneID:    p.ZoneID,
			TimeMs:    p.Time.UnixMilli(),
			Conf:      p.Confidence,
			Stale:     stale,
			LastSeen:  seen,
		})
	}
	first := 0
	if hi > lo {
		first = lo + 1
	}

	return floorView{
		Floor:      floor,
		ShowLevel:  !strings.Contains(strings.ToLower(floor.Name), "level "+strconv.Itoa(floor.Level)),
		Rows:       rows,
		Total:      len(positions),
		Page:       page,
		Pages:      pages,
		First:      first,
		Kinds:      kinds,
		StaleAfter: strings.TrimSuffix(formatAge(staleAfter), " ago"),
		Data: floorData{
			Floor:        floorJSON{ID: floor.ID, Name: floor.Name, Width: floor.Width, Height: floor.Height},
			Zones:        zj,
			Assets:       aj,
			Positions:    positions,
			Kinds:        kinds,
			Page:         page,
			PageSize:     floorPageSize,
			StaleAfterMs: staleAfter.Milliseconds(),
			LivePath:     floorLivePath(floor.ID),
			PlanURL:      floorPlanPath(floor.ID),
			Now:          now.UnixMilli(),
		},
	}
}

// positionsJSON encodes positions as the live stream does:
// [[assetId,x,y,zoneId,tsMs,conf],…], metres and confidence rounded to 2
// decimals, so floor.js reads the page's data and the stream alike.
type positionsJSON []wardwatch.Position

// MarshalJSON implements json.Marshaler.
func (ps positionsJSON) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(ps)*48)
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendInt(b, p.AssetID, 10)
		b = append(b, ',')
		b = appendRounded(b, p.At.X)
		b = append(b, ',')
		b = appendRounded(b, p.At.Y)
		b = append(b, ',')
		b = strconv.AppendInt(b, p.ZoneID, 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, p.Time.UnixMilli(), 10)
		b = append(b, ',')
		b = appendRounded(b, p.Confidence)
		b = append(b, ']')
	}
	return append(b, ']'), nil
}

// UnmarshalJSON implements json.Unmarshaler, reading what MarshalJSON
// writes (times to the millisecond).
func (ps *positionsJSON) UnmarshalJSON(b []byte) error {
	var raw [][6]float64
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("positions: %w", err)
	}
	out := make(positionsJSON, 0, len(raw))
	for _, e := range raw {
		out = append(out, wardwatch.Position{
			AssetID:    int64(e[0]),
			At:         wardwatch.Point{X: e[1], Y: e[2]},
			ZoneID:     int64(e[3]),
			Time:       time.UnixMilli(int64(e[4])).UTC(),
			Confidence: e[5],
		})
	}
	*ps = out
	return nil
}

// appendRounded appends v rounded to 2 decimals as a JSON number: NaN and
// infinities become 0 (a JSON document cannot carry them), as does -0.
func appendRounded(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	if math.Abs(v) < 1e15 { // beyond it a float64 has no hundredths to round
		v = math.Round(v*100) / 100
	}
	if v == 0 {
		v = 0
	}
	return strconv.AppendFloat(b, v, 'f', -1, 64)
}

// parsePage parses the floor page's ?page= value: empty is the first page;
// anything but a positive decimal number is an error.
func parsePage(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || strconv.Itoa(n) != s {
		return 0, wardwatch.Errorf(wardwatch.EINVALID, "The page number must be a whole number from 1.")
	}
	return n, nil
}

// formatAge says how long ago something happened, coarsely: "12 s ago",
// "4 min ago", "3 h ago", "2 d ago". floor.js has the same rules.
func formatAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + " d ago"
}

// lastSeen is the "Last seen" text of a position of the given age, and
// whether it is stale. Stale positions are never shown as current: "last
// seen 12 min ago in 4B-12".
func lastSeen(age, staleAfter time.Duration, room string) (string, bool) {
	if age <= staleAfter {
		return formatAge(age), false
	}
	s := "last seen " + formatAge(age)
	if room != "" {
		s += " in " + room
	}
	return s, true
}

// planTypes are the image types a floor plan may have.
var planTypes = map[string]string{ // content type → file extension
	"image/svg+xml": "svg",
	"image/png":     "png",
	"image/jpeg":    "jpg",
	"image/webp":    "webp",
	"image/gif":     "gif",
}

// handleFloorPlan serves a floor's plan image. Plans are uploaded data, so
// the type must be an image type, the browser must not sniff it, and an SVG
// opened directly runs sandboxed, without scripts.
func handleFloorPlan(logger *slog.Logger, store Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			apiError(w, r, logger, errNoFloor)
			return
		}
		if err := serveFloorPlan(w, r, store, id); err != nil {
			apiError(w, r, logger, err)
		}
	})
}

// serveFloorPlan answers floor id's plan image, for the page and the API:
// no sniffing, and the image sandboxed (an SVG may carry scripts). It
// returns the error to answer instead when there is none to serve.
func serveFloorPlan(w http.ResponseWriter, r *http.Request, store Store, id int64) error {
	plan, err := store.FloorPlan(r.Context(), id)
	if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "This floor has no plan image.")
	} else if err != nil {
		return fmt.Errorf("plan of floor %d: %w", id, err)
	}
	mediaType, _, err := mime.ParseMediaType(plan.ContentType)
	ext, allowed := planTypes[strings.ToLower(mediaType)]
	if err != nil || !allowed {
		return fmt.Errorf("plan of floor %d has unsupported content type %q", id, plan.ContentType)
	}
	sum := sha256.Sum256(plan.Data)
	h := w.Header()
	h.Set("Content-Type", strings.ToLower(mediaType))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("Content-Disposition", fmt.Sprintf(`inline; filename="floor-%d-plan.%s"`, id, ext))
	if ext == "svg" {
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'")
	} else {
		h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(plan.Data))
	return nil
}

// handleFloorLive streams a floor's positions over a websocket. A plain
// (non-upgrade) request gets 204 once its session is checked, which lets
// the page ask "am I still signed in?" without opening a socket. The stream
// gets a context that ends when the session expires.
func handleFloorLive(logger *slog.Logger, store Store, live Live) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			apiError(w, r, logger, errNoFloor)
			return
		}
		if !isWebsocketUpgrade(r) {
			// The page's "still signed in?" probe; 204 keeps browser
			// consoles free of error noise.
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if crossSite(r) {
			apiError(w, r, logger, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Live updates are only available to WardWatch pages."))
			return
		}
		if _, err := store.Floor(r.Context(), id); err != nil {
			apiError(w, r, logger, floorError(id, err))
			return
		}
		ctx := r.Context()
		if v := viewerFrom(ctx); v != nil {
			// Session times are on the configured clock; context deadlines
			// are on the real one.
			left := minTime(v.Session.ExpiresAt, v.End).Sub(v.Now)
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, left)
			defer cancel()
		}
		live.ServeFloor(w, r.WithContext(ctx), id)
	})
}

// crossSite reports whether a browser sent r from another site. Websocket
// handshakes are GETs, which http.CrossOriginProtection lets through.
func crossSite(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return true
	}
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return true
		}
	}
	return false
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// handleHealth answers 200 "ok" when cfg.Health passes and 503 with a short
// reason when it does not.
func handleHealth(logger *slog.Logger, health func(context.Context) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := health(ctx); err != nil {
			logger.LogAttrs(r.Context(), slog.LevelWarn, "health check failed", slog.String("error", err.Error()))
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "unavailable: %s", wardwatch.ErrorMessage(err))
			return
		}
		fmt.Fprint(w, "ok")
	})
}
