package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// apiServer serves the REST API /api/v1 over the same stores, validation
// and role checks as the pages.
type apiServer struct {
	cfg     Config
	logger  *slog.Logger
	audit   auditor
	metrics *metrics
}

// fail answers r with err as a JSON error.
func (s *apiServer) fail(w http.ResponseWriter, r *http.Request, err error) {
	jsonError(w, r, s.logger, err)
}

func (s *apiServer) ok(w http.ResponseWriter, r *http.Request, v any) {
	writeJSON(w, r, s.logger, http.StatusOK, v)
}

// list answers a list request: items filtered by keep, paged by q.
func listOf[T any](s *apiServer, w http.ResponseWriter, r *http.Request, q listQuery, items []T) {
	s.ok(w, r, paginate(items, q))
}

// ---- JSON shapes ----

type apiFloorJSON struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Building string  `json:"building"`
	Level    int     `json:"level"`
	Width    float64 `json:"width_m"`
	Height   float64 `json:"height_m"`
}

func floorOut(f wardwatch.Floor) apiFloorJSON {
	return apiFloorJSON{ID: f.ID, Name: f.Name, Building: f.Building, Level: f.Level, Width: f.Width, Height: f.Height}
}

type apiZoneJSON struct {
	ID       int64        `json:"id"`
	FloorID  int64        `json:"floor_id"`
	Name     string       `json:"name"`
	Kind     string       `json:"kind"`
	CareUnit string       `json:"care_unit"`
	Polygon  [][2]float64 `json:"polygon"`
}

func zoneOut(z wardwatch.Zone) apiZoneJSON {
	out := apiZoneJSON{ID: z.ID, FloorID: z.FloorID, Name: z.Name, Kind: string(z.Kind), CareUnit: z.CareUnit, Polygon: [][2]float64{}}
	for _, p := range z.Polygon {
		out.Polygon = append(out.Polygon, [2]float64{p.X, p.Y})
	}
	return out
}

type apiGatewayJSON struct {
	ID               int64   `json:"id"`
	Key              string  `json:"key"`
	Name             string  `json:"name"`
	FloorID          int64   `json:"floor_id"`
	X                float64 `json:"x"`
	Y                float64 `json:"y"`
	Z                float64 `json:"z"`
	RSSIAt1m         float64 `json:"rssi_at_1m"`
	PathLoss         float64 `json:"path_loss"`
	RxOffset         float64 `json:"rx_offset"`
	AnchorZoneID     int64   `json:"anchor_zone_id"`
	HasToken         bool    `json:"has_push_token"`
	PushToken        string  `json:"push_token,omitempty"` // only in the answer that creates it
	PushTokenWarning string  `json:"push_token_note,omitempty"`
}

func gatewayOut(g wardwatch.Gateway) apiGatewayJSON {
	return apiGatewayJSON{ID: g.ID, Key: g.Key, Name: g.Name, FloorID: g.FloorID, X: g.At.X, Y: g.At.Y, Z: g.Z,
		RSSIAt1m: g.RSSIAt1m, PathLoss: g.PathLossExponent, RxOffset: g.RxOffset, AnchorZoneID: g.AnchorZoneID,
		HasToken: len(g.TokenHash) > 0}
}

type apiLocationJSON struct {
	FloorID   int64   `json:"floor_id"`
	Floor     string  `json:"floor"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	ZoneID    int64   `json:"zone_id"`
	Zone      string  `json:"zone"`
	Certainty float64 `json:"certainty"`
	State     string  `json:"state"`
	LastSeen  *string `json:"last_seen"`
	Stale     bool    `json:"stale"`
}

type apiAssetJSON struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Status   string `json:"status"`
	AssetTag string `json:"asset_tag"`
	Serial   string `json:"serial"`
	// UDI is the label's human-readable form; UDIDI and UDIIssuer are
	// read from it ("" when the asset has no UDI).
	UDI          string           `json:"udi"`
	UDIDI        string           `json:"udi_di"`
	UDIIssuer    string           `json:"udi_issuer"`
	Manufacturer string           `json:"manufacturer"`
	Model        string           `json:"model"`
	PMDue        *string          `json:"pm_due"`
	PMOver       bool             `json:"pm_overdue"`
	Location     *apiLocationJSON `json:"location"`
}

func (s *apiServer) locationOut(p wardwatch.Position, st site, now time.Time) *apiLocationJSON {
	stale := now.Sub(p.Time) > s.cfg.StaleAfter || p.State == wardwatch.StateStale || p.State == wardwatch.StateMissing
	return &apiLocationJSON{FloorID: p.FloorID, Floor: st.floors[p.FloorID].Name, X: p.At.X, Y: p.At.Y, ZoneID: p.ZoneID,
		Zone: st.zones[p.ZoneID].Name, Certainty: p.Confidence, State: string(p.State), LastSeen: apiTime(p.Time), Stale: stale}
}

func (s *apiServer) assetOut(a wardwatch.Asset, latest map[int64]wardwatch.Position, st site, now time.Time) apiAssetJSON {
	out := apiAssetJSON{ID: a.ID, Name: a.Name, Kind: string(a.Kind), Status: string(statusOrDefault(a.Status)),
		AssetTag: a.AssetTag, Serial: a.Serial, UDI: a.UDI, Manufacturer: a.Manufacturer, Model: a.Model}
	if u, err := wardwatch.ParseUDI(a.UDI); err == nil {
		out.UDIDI, out.UDIIssuer = u.DI, string(u.Issuer)
	}
	if !a.PMDue.IsZero() {
		d := a.PMDue.In(s.cfg.Location).Format(time.DateOnly)
		out.PMDue = &d
		out.PMOver = pmStatus(a.PMDue, now, s.cfg.Location).Overdue
	}
	if p, ok := latest[a.ID]; ok {
		out.Location = s.locationOut(p, st, now)
	}
	return out
}

// apiGetByID answers the {id} thing get finds, as out renders it.
func apiGetByID[T, J any](s *apiServer, what string, get func(context.Context, int64) (T, error), out func(T) J) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := apiPathID(r, "id", what)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := get(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, out(v))
	})
}

// findByID returns the thing list holds whose id (by idOf) is id, or
// ENOTFOUND naming what. Lists here are a site's configuration: small.
func findByID[T any](ctx context.Context, what string, list func(context.Context) ([]T, error), idOf func(T) int64, id int64) (T, error) {
	var zero T
	vs, err := list(ctx)
	if err != nil {
		return zero, fmt.Errorf("list %ss: %w", what, err)
	}
	for _, v := range vs {
		if idOf(v) == id {
			return v, nil
		}
	}
	return zero, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such %s.", what)
}

// apiListAll answers every thing list returns, as out renders it, in
// order of id, paged; the list takes no filters.
func apiListAll[T, J any](s *apiServer, what string, list func(context.Context) ([]T, error), out func(T) J, id func(J) int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		vs, err := list(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list %s: %w", what, err))
			return
		}
		res := make([]J, 0, len(vs))
		for _, v := range vs {
			res = append(res, out(v))
		}
		slices.SortFunc(res, func(a, b J) int { return cmp.Compare(id(a), id(b)) })
		listOf(s, w, r, q, res)
	})
}

// ---- floors, zones, gateways ----

func (s *apiServer) handleFloors() http.Handler {
	return apiListAll(s, "floors", s.cfg.Store.Floors, floorOut, func(f apiFloorJSON) int64 { return f.ID })
}

func (s *apiServer) handleFloor() http.Handler {
	return apiGetByID(s, "floor", s.cfg.Store.Floor, floorOut)
}

func (s *apiServer) handleZones() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "floor", "kind")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		floor, err := q.filterID("floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		zs, err := s.cfg.Store.Zones(r.Context(), floor)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list zones: %w", err))
			return
		}
		out := make([]apiZoneJSON, 0, len(zs))
		for _, z := range zs {
			if k := q.Filters["kind"]; k != "" && string(z.Kind) != k {
				continue
			}
			out = append(out, zoneOut(z))
		}
		slices.SortFunc(out, func(a, b apiZoneJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

func (s *apiServer) handleGateways() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		floor, err := q.filterID("floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		gs, err := s.cfg.Store.Gateways(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list gateways: %w", err))
			return
		}
		out := make([]apiGatewayJSON, 0, len(gs))
		for _, g := range gs {
			if floor == 0 || g.FloorID == floor {
				out = append(out, gatewayOut(g))
			}
		}
		slices.SortFunc(out, func(a, b apiGatewayJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// ---- assets, tags, trail ----

func (s *apiServer) handleAssets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, err := parseListQuery(r.URL.RawQuery, "kind", "status", "floor", "q")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		floor, err := q.filterID("floor")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if k := q.Filters["kind"]; k != "" && !wardwatch.AssetKind(k).Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Unknown asset kind %q.", shortField(k)))
			return
		}
		if st := q.Filters["status"]; st != "" && !wardwatch.AssetStatus(st).Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Unknown asset status %q.", shortField(st)))
			return
		}
		st, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		as, err := s.cfg.Store.Assets(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list assets: %w", err))
			return
		}
		latest := latestPositions(s.cfg.Live, st.floors)
		words := strings.Fields(strings.ToLower(q.Filters["q"]))
		now := s.cfg.Now()
		out := make([]apiAssetJSON, 0, len(as))
		for _, a := range as {
			if k := q.Filters["kind"]; k != "" && string(a.Kind) != k {
				continue
			}
			if sv := q.Filters["status"]; sv != "" && string(statusOrDefault(a.Status)) != sv {
				continue
			}
			if floor != 0 && latest[a.ID].FloorID != floor {
				continue
			}
			if !matches(a, words) {
				continue
			}
			out = append(out, s.assetOut(a, latest, st, now))
		}
		slices.SortFunc(out, func(a, b apiAssetJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

func (s *apiServer) handleAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "asset")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		a, err := s.cfg.Store.Asset(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		st, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, s.assetOut(a, latestPositions(s.cfg.Live, st.floors), st, s.cfg.Now()))
	})
}

type apiTagJSON struct {
	ID      string `json:"id"`
	AssetID int64  `json:"asset_id"`
}

func (s *apiServer) handleTags() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "asset")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		asset, err := q.filterID("asset")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ts, err := s.cfg.Admin.Tags(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list tags: %w", err))
			return
		}
		out := make([]apiTagJSON, 0, len(ts))
		for _, t := range ts {
			if asset == 0 || t.AssetID == asset {
				out = append(out, apiTagJSON{ID: t.ID, AssetID: t.AssetID})
			}
		}
		slices.SortFunc(out, func(a, b apiTagJSON) int { return strings.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// Trail limits.
const (
	apiMaxTrailSpan   = 31 * 24 * time.Hour
	apiDefaultTrail   = 24 * time.Hour
	apiMaxTrailPoints = 10000
)

type apiPositionJSON struct {
	AssetID   int64   `json:"asset_id"`
	TagID     string  `json:"tag_id"`
	FloorID   int64   `json:"floor_id"`
	X         float64 `json:"x"`
	Y         float64 `json:"y"`
	ZoneID    int64   `json:"zone_id"`
	Certainty float64 `json:"certainty"`
	State     string  `json:"state"`
	Time      *string `json:"time"`
}

func positionOut(p wardwatch.Position) apiPositionJSON {
	return apiPositionJSON{AssetID: p.AssetID, TagID: p.TagID, FloorID: p.FloorID, X: p.At.X, Y: p.At.Y, ZoneID: p.ZoneID,
		Certainty: p.Confidence, State: string(p.State), Time: apiTime(p.Time)}
}

// apiRange reads from and to (RFC 3339): to defaults to now, from to
// to − def; EINVALID when reversed or longer than max.
func apiRange(q listQuery, now time.Time, def, max time.Duration) (from, to time.Time, err error) {
	if to, err = apiTimeParam(q, "to", now.UTC()); err != nil {
		return
	}
	if from, err = apiTimeParam(q, "from", to.Add(-def)); err != nil {
		return
	}
	if !to.After(from) {
		err = wardwatch.Errorf(wardwatch.EINVALID, "from must be before to.")
	} else if to.Sub(from) > max {
		err = wardwatch.Errorf(wardwatch.EINVALID, "Ask for at most %d days at a time.", int(max/(24*time.Hour)))
	}
	return
}

func (s *apiServer) handleTrail() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "asset")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		q, err := parseListQuery(r.URL.RawQuery, "from", "to")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		from, to, err := apiRange(q, s.cfg.Now(), apiDefaultTrail, apiMaxTrailSpan)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if _, err := s.cfg.Store.Asset(ctx, id); err != nil {
			s.fail(w, r, err)
			return
		}
		ps, err := s.cfg.History.Positions(ctx, wardwatch.PositionQuery{AssetID: id, From: from, To: to, Limit: apiMaxTrailPoints})
		if err != nil {
			s.fail(w, r, fmt.Errorf("asset %d trail: %w", id, err))
			return
		}
		out := make([]apiPositionJSON, 0, len(ps))
		for _, p := range ps {
			out = append(out, positionOut(p))
		}
		listOf(s, w, r, q, out)
	})
}

// ---- sensors, series ----

type apiReadingJSON struct {
	Metric string   `json:"metric"`
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	Time   *string  `json:"time"`
}

type apiSensorJSON struct {
	ID       string           `json:"id"`
	DeviceID int64            `json:"device_id"`
	UnitID   int64            `json:"unit_id"`
	Readings []apiReadingJSON `json:"readings"`
}

func (s *apiServer) handleSensors() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, err := parseListQuery(r.URL.RawQuery, "unit", "metric")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		unit, err := q.filterID("unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if m := q.Filters["metric"]; m != "" && !wardwatch.Metric(m).Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Unknown metric %q.", shortField(m)))
			return
		}
		byName := map[string]wardwatch.ModbusDevice{}
		if s.cfg.Devices != nil {
			ds, err := s.cfg.Devices.ModbusDevices(ctx)
			if err != nil {
				s.fail(w, r, fmt.Errorf("list Modbus devices: %w", err))
				return
			}
			for _, d := range ds {
				byName[d.Name] = d
			}
		}
		var rs []wardwatch.Reading
		if s.cfg.LatestReadings != nil {
			rs = s.cfg.LatestReadings()
		}
		sensors := map[string]*apiSensorJSON{}
		for _, rd := range rs {
			if m := q.Filters["metric"]; m != "" && string(rd.Metric) != m {
				continue
			}
			sj := sensors[rd.SensorID]
			if sj == nil {
				sj = &apiSensorJSON{ID: rd.SensorID, Readings: []apiReadingJSON{}}
				if dev, _, ok := strings.Cut(rd.SensorID, "/"); ok {
					if d, found := byName[dev]; found {
						sj.DeviceID, sj.UnitID = d.ID, d.UnitID
					}
				}
				sensors[rd.SensorID] = sj
			}
			sj.Readings = append(sj.Readings, apiReadingJSON{Metric: string(rd.Metric), Value: apiFloat(rd.Value), Unit: rd.Metric.Unit(), Time: apiTime(rd.Time)})
		}
		out := make([]apiSensorJSON, 0, len(sensors))
		for _, sj := range sensors {
			if unit != 0 && sj.UnitID != unit {
				continue
			}
			slices.SortFunc(sj.Readings, func(a, b apiReadingJSON) int { return strings.Compare(a.Metric, b.Metric) })
			out = append(out, *sj)
		}
		slices.SortFunc(out, func(a, b apiSensorJSON) int { return strings.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// Series limits.
const (
	apiMaxSeriesSpan   = 366 * 24 * time.Hour
	apiDefaultSeries   = 24 * time.Hour
	apiMaxRawReadings  = 10000
	apiMaxSeriesBucket = 10000
)

type apiBucketJSON struct {
	Start *string  `json:"start"`
	Min   *float64 `json:"min"`
	Max   *float64 `json:"max"`
	Mean  *float64 `json:"mean"`
	Count int      `json:"count"`
}

type apiSeriesJSON struct {
	SensorID string           `json:"sensor_id"`
	Metric   string           `json:"metric"`
	Unit     string           `json:"unit"`
	From     *string          `json:"from"`
	To       *string          `json:"to"`
	Interval string           `json:"interval,omitempty"`
	Readings []apiReadingJSON `json:"readings,omitempty"`
	Buckets  []apiBucketJSON  `json:"buckets,omitempty"`
}

func (s *apiServer) handleSeries() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		sensor := r.PathValue("id")
		if sensor == "" || len(sensor) > maxSensorID || strings.ContainsFunc(sensor, isControl) {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such sensor."))
			return
		}
		q, err := parseListQuery(r.URL.RawQuery, "metric", "from", "to", "interval")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		m := wardwatch.Metric(q.Filters["metric"])
		if !m.Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the metric (temperature, humidity, pressure…)."))
			return
		}
		from, to, err := apiRange(q, s.cfg.Now(), apiDefaultSeries, apiMaxSeriesSpan)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		var interval time.Duration
		if iv := q.Filters["interval"]; iv != "" {
			interval, err = time.ParseDuration(iv)
			if err != nil || interval < time.Second {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "interval must be a duration of at least 1s, such as 15m."))
				return
			}
			if to.Sub(from)/interval > apiMaxSeriesBucket {
				s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "That is more than %d intervals; choose a longer interval.", apiMaxSeriesBucket))
				return
			}
		} else if to.Sub(from) > 31*24*time.Hour {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Raw readings cover at most 31 days; give an interval for longer ranges."))
			return
		}
		sq := wardwatch.SeriesQuery{SensorID: sensor, Metric: m, From: from, To: to, Interval: interval}
		out := apiSeriesJSON{SensorID: sensor, Metric: string(m), Unit: m.Unit(), From: apiTime(from), To: apiTime(to)}
		if interval > 0 {
			bs, err := s.cfg.Readings.ReadingSeries(ctx, sq)
			if err != nil {
				s.fail(w, r, fmt.Errorf("series of %s: %w", sensor, err))
				return
			}
			out.Interval = interval.String()
			out.Buckets = make([]apiBucketJSON, 0, len(bs))
			for _, b := range bs {
				out.Buckets = append(out.Buckets, apiBucketJSON{Start: apiTime(b.Start), Min: apiFloat(b.Min), Max: apiFloat(b.Max), Mean: apiFloat(b.Mean), Count: b.Count})
			}
		} else {
			sq.Limit = apiMaxRawReadings
			rs, err := s.cfg.Readings.Readings(ctx, sq)
			if err != nil {
				s.fail(w, r, fmt.Errorf("readings of %s: %w", sensor, err))
				return
			}
			out.Readings = make([]apiReadingJSON, 0, len(rs))
			for _, rd := range rs {
				out.Readings = append(out.Readings, apiReadingJSON{Metric: string(rd.Metric), Value: apiFloat(rd.Value), Unit: rd.Metric.Unit(), Time: apiTime(rd.Time)})
			}
		}
		s.ok(w, r, out)
	})
}

// ---- units, Modbus devices, SNMP targets, pumps ----

type apiUnitJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Profile string `json:"profile"`
	ZoneID  int64  `json:"zone_id"`
}

func unitOut(u wardwatch.MonitoredUnit) apiUnitJSON {
	return apiUnitJSON{ID: u.ID, Name: u.Name, Profile: string(u.Profile), ZoneID: u.ZoneID}
}

func (s *apiServer) handleUnits() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "profile", "zone")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		zone, err := q.filterID("zone")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		us, err := s.cfg.Devices.Units(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list units: %w", err))
			return
		}
		out := make([]apiUnitJSON, 0, len(us))
		for _, u := range us {
			if p := q.Filters["profile"]; (p == "" || string(u.Profile) == p) && (zone == 0 || u.ZoneID == zone) {
				out = append(out, unitOut(u))
			}
		}
		slices.SortFunc(out, func(a, b apiUnitJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

func (s *apiServer) unit(ctx context.Context, id int64) (wardwatch.MonitoredUnit, error) {
	return findByID(ctx, "monitored unit", s.cfg.Devices.Units, func(u wardwatch.MonitoredUnit) int64 { return u.ID }, id)
}

func (s *apiServer) handleUnit() http.Handler {
	return apiGetByID(s, "monitored unit", s.unit, unitOut)
}

type apiModbusJSON struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	UnitID         int64   `json:"unit_id"`
	Transport      string  `json:"transport"`
	Address        string  `json:"address"`
	Baud           int     `json:"baud"`
	DataBits       int     `json:"data_bits"`
	Parity         string  `json:"parity"`
	StopBits       int     `json:"stop_bits"`
	SlaveID        int     `json:"slave_id"`
	Profile        string  `json:"profile"`
	Interval       string  `json:"interval"`
	Timeout        string  `json:"timeout"`
	Enabled        bool    `json:"enabled"`
	CalibrationDue *string `json:"calibration_due"`
}

func modbusOut(d wardwatch.ModbusDevice) apiModbusJSON {
	out := apiModbusJSON{ID: d.ID, Name: d.Name, UnitID: d.UnitID, Transport: d.Transport, Address: d.Address, Baud: d.Baud,
		DataBits: d.DataBits, Parity: d.Parity, StopBits: d.StopBits, SlaveID: d.SlaveID, Profile: d.Profile,
		Interval: d.Interval.String(), Timeout: d.Timeout.String(), Enabled: d.Enabled}
	if !d.CalibrationDue.IsZero() {
		s := dateText(d.CalibrationDue)
		out.CalibrationDue = &s
	}
	return out
}

func (s *apiServer) handleModbusDevices() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		unit, err := q.filterID("unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ds, err := s.cfg.Devices.ModbusDevices(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list Modbus devices: %w", err))
			return
		}
		out := make([]apiModbusJSON, 0, len(ds))
		for _, d := range ds {
			if unit == 0 || d.UnitID == unit {
				out = append(out, modbusOut(d))
			}
		}
		slices.SortFunc(out, func(a, b apiModbusJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

func (s *apiServer) handleModbusDevice() http.Handler {
	return apiGetByID(s, "Modbus device", s.cfg.Devices.ModbusDevice, modbusOut)
}

// apiSNMPJSON is an SNMP target without its secrets: only whether each is
// set. The secrets are write-only fields of the request bodies.
type apiSNMPJSON struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	Address         string `json:"address"`
	Version         string `json:"version"`
	User            string `json:"user"`
	AuthProtocol    string `json:"auth_protocol"`
	PrivProtocol    string `json:"priv_protocol"`
	Profile         string `json:"profile"`
	Interval        string `json:"interval"`
	Timeout         string `json:"timeout"`
	Retries         int    `json:"retries"`
	Enabled         bool   `json:"enabled"`
	HasCommunity    bool   `json:"has_community"`
	HasAuthPassword bool   `json:"has_auth_password"`
	HasPrivPassword bool   `json:"has_priv_password"`
}

func snmpOut(t wardwatch.SNMPTarget) apiSNMPJSON {
	t, hasComm, hasAuth, hasPriv := blankSecrets(t)
	return apiSNMPJSON{ID: t.ID, Name: t.Name, Address: t.Address, Version: t.Version, User: t.User,
		AuthProtocol: t.AuthProtocol, PrivProtocol: t.PrivProtocol, Profile: t.Profile, Interval: t.Interval.String(),
		Timeout: t.Timeout.String(), Retries: t.Retries, Enabled: t.Enabled,
		HasCommunity: hasComm, HasAuthPassword: hasAuth, HasPrivPassword: hasPriv}
}

func (s *apiServer) handleSNMPTargets() http.Handler {
	return apiListAll(s, "SNMP targets", s.cfg.Devices.SNMPTargets, snmpOut, func(t apiSNMPJSON) int64 { return t.ID })
}

func (s *apiServer) handleSNMPTarget() http.Handler {
	return apiGetByID(s, "SNMP target", s.cfg.Devices.SNMPTarget, snmpOut)
}

type apiPumpAlarmJSON struct {
	Code     string `json:"code"`
	Text     string `json:"text"`
	Priority string `json:"priority"`
}

type apiPumpJSON struct {
	Serial             string             `json:"serial"`
	AssetID            int64              `json:"asset_id"`
	TargetID           int64              `json:"target_id"`
	Model              string             `json:"model"`
	Status             string             `json:"status"`
	OnAC               bool               `json:"on_ac"`
	Battery            *float64           `json:"battery_percent"`
	Rate               *float64           `json:"rate_ml_h"`
	VTBI               *float64           `json:"vtbi_ml"`
	Infused            *float64           `json:"infused_ml"`
	Alarms             []apiPumpAlarmJSON `json:"alarms"`
	Firmware           string             `json:"firmware"`
	DrugLibrary        string             `json:"drug_library"`
	DrugLibraryVersion string             `json:"drug_library_version"`
	DrugLibraryCurrent bool               `json:"drug_library_current"`
	Time               *string            `json:"time"`
	Location           *apiLocationJSON   `json:"location"`
}

func (s *apiServer) handlePumps() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		q, err := parseListQuery(r.URL.RawQuery, "status", "target")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		target, err := q.filterID("target")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if st := q.Filters["status"]; st != "" && !wardwatch.PumpStatus(st).Valid() {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Unknown pump status %q.", shortField(st)))
			return
		}
		var ps []wardwatch.PumpState
		if s.cfg.PumpStates != nil {
			ps = s.cfg.PumpStates()
		}
		st, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		as, err := s.cfg.Store.Assets(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list assets: %w", err))
			return
		}
		bySerial := pumpAssets(as)
		latest := latestPositions(s.cfg.Live, st.floors)
		current := currentLibraries(ps, s.cfg.ApprovedDrugLibraries)
		now := s.cfg.Now()
		out := make([]apiPumpJSON, 0, len(ps))
		for _, p := range ps {
			if sv := q.Filters["status"]; sv != "" && string(p.Status) != sv {
				continue
			}
			if target != 0 && p.TargetID != target {
				continue
			}
			pj := apiPumpJSON{Serial: p.Serial, TargetID: p.TargetID, Model: p.Model, Status: string(p.Status), OnAC: p.OnAC,
				Battery: apiFloat(p.Battery), Rate: apiFloat(p.Rate), VTBI: apiFloat(p.VTBI), Infused: apiFloat(p.Infused),
				Alarms: []apiPumpAlarmJSON{}, Firmware: p.Firmware, DrugLibrary: p.DrugLibrary, DrugLibraryVersion: p.DrugLibraryVersion,
				Time: apiTime(p.Time)}
			if p.DrugLibrary != "" {
				pj.DrugLibraryCurrent = compareVersions(p.DrugLibraryVersion, current[p.DrugLibrary]) >= 0
			}
			for _, a := range p.Alarms {
				pj.Alarms = append(pj.Alarms, apiPumpAlarmJSON{Code: a.Code, Text: a.Text, Priority: string(a.Priority)})
			}
			if a := bySerial[p.Serial]; a != nil {
				pj.AssetID = a.ID
				if pos, ok := latest[a.ID]; ok {
					pj.Location = s.locationOut(pos, st, now)
				}
			}
			out = append(out, pj)
		}
		slices.SortFunc(out, func(a, b apiPumpJSON) int { return strings.Compare(a.Serial, b.Serial) })
		listOf(s, w, r, q, out)
	})
}

// ---- alert rules, alerts, excursions ----

type apiRulesJSON struct {
	UnitID int64         `json:"unit_id"`
	Edited bool          `json:"edited"` // false: the profile's rules apply
	Rules  []alerts.Rule `json:"rules"`
}

func (s *apiServer) unitRules(ctx context.Context, u wardwatch.MonitoredUnit) (apiRulesJSON, error) {
	all, err := s.cfg.AlertSettings.UnitRules(ctx)
	if err != nil {
		return apiRulesJSON{}, fmt.Errorf("read unit rules: %w", err)
	}
	out := apiRulesJSON{UnitID: u.ID}
	if rs, ok := all[u.ID]; ok && rs != nil {
		out.Rules, out.Edited = rs, true
	} else {
		p, _ := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{})
		out.Rules = p.Rules
	}
	if out.Rules == nil {
		out.Rules = []alerts.Rule{}
	}
	return out, nil
}

func (s *apiServer) handleRules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "monitored unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		u, err := s.unit(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out, err := s.unitRules(ctx, u)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, out)
	})
}

type apiAlertJSON struct {
	ID           int64    `json:"id"`
	Key          string   `json:"key"`
	RuleID       string   `json:"rule_id"`
	RuleName     string   `json:"rule_name"`
	Category     string   `json:"category"`
	Latched      bool     `json:"latched"`
	Priority     string   `json:"priority"`
	Team         string   `json:"team"`
	UnitID       int64    `json:"unit_id"`
	Subject      string   `json:"subject"`
	State        string   `json:"state"`
	Active       bool     `json:"active"`
	Value        *float64 `json:"value"`
	Peak         *float64 `json:"peak"`
	Trough       *float64 `json:"trough"`
	Message      string   `json:"message"`
	OpenedAt     *string  `json:"opened_at"`
	RaisedAt     *string  `json:"raised_at"`
	ClearedAt    *string  `json:"cleared_at"`
	Retriggers   int      `json:"retriggers"`
	AckedBy      string   `json:"acked_by"`
	AckedAt      *string  `json:"acked_at"`
	ShelvedBy    string   `json:"shelved_by"`
	ShelfReason  string   `json:"shelf_reason"`
	ShelvedUntil *string  `json:"shelved_until"`
	Suppression  string   `json:"suppression"`
	SuppressedBy string   `json:"suppression_reason"`
	Resolution   *struct {
		Cause       string  `json:"cause"`
		Action      string  `json:"action"`
		Disposition string  `json:"disposition"`
		By          string  `json:"by"`
		At          *string `json:"at"`
	} `json:"resolution"`
	ClosedAt *string `json:"closed_at"`
}

func alertOut(a alerts.Alert) apiAlertJSON {
	out := apiAlertJSON{ID: a.ID, Key: a.Key.String(), RuleID: a.Rule.ID, RuleName: a.Rule.Name, Category: string(a.Rule.Category),
		Latched: a.Rule.Latched, Priority: string(a.Priority), Team: string(a.Team), UnitID: a.UnitID, Subject: a.SubjectName,
		State: string(a.State), Active: a.Active, Value: apiFloat(a.Value), Peak: apiFloat(a.Peak), Trough: apiFloat(a.Trough),
		Message: a.Message, OpenedAt: apiTime(a.OpenedAt), RaisedAt: apiTime(a.RaisedAt), ClearedAt: apiTime(a.ClearedAt),
		Retriggers: a.Retriggers, AckedBy: a.AckedBy, AckedAt: apiTime(a.AckedAt), ShelvedBy: a.Shelf.By, ShelfReason: a.Shelf.Reason,
		ShelvedUntil: apiTime(a.Shelf.Until), Suppression: string(a.Suppression.Kind), SuppressedBy: a.Suppression.Reason,
		ClosedAt: apiTime(a.ClosedAt)}
	if !a.Resolution.At.IsZero() || a.Resolution.Cause != "" {
		out.Resolution = &struct {
			Cause       string  `json:"cause"`
			Action      string  `json:"action"`
			Disposition string  `json:"disposition"`
			By          string  `json:"by"`
			At          *string `json:"at"`
		}{a.Resolution.Cause, a.Resolution.Action, a.Resolution.Disposition, a.Resolution.By, apiTime(a.Resolution.At)}
	}
	return out
}

func (s *apiServer) handleAlerts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "state", "unit", "priority")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		// The inbox's own filter parser validates the values.
		fq := url.Values{}
		for _, k := range []string{"state", "unit", "priority"} {
			if v := q.Filters[k]; v != "" {
				fq.Set(k, v)
			}
		}
		if fq.Get("state") == "" {
			fq.Set("state", inboxGroupAll)
		}
		f, err := parseInboxFilter(fq.Encode())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		open := s.cfg.Alerts.Open()
		out := make([]apiAlertJSON, 0, len(open))
		for _, a := range open {
			if f.UnitID != 0 && a.UnitID != f.UnitID || f.Priority != "" && a.Priority != f.Priority || !inboxInGroup(f.Group, a) {
				continue
			}
			out = append(out, alertOut(a))
		}
		slices.SortFunc(out, func(a, b apiAlertJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

type apiAuditJSON struct {
	Action string  `json:"action"`
	From   string  `json:"from"`
	To     string  `json:"to"`
	User   string  `json:"user"`
	Time   *string `json:"time"`
	Reason string  `json:"reason"`
}

type apiAlertDetailJSON struct {
	apiAlertJSON
	History []apiAuditJSON `json:"history"`
}

func (s *apiServer) handleAlert() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			s.fail(w, r, errInboxNoAlert)
			return
		}
		rec, err := s.cfg.Alerts.Alert(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out := apiAlertDetailJSON{apiAlertJSON: alertOut(rec.Alert), History: []apiAuditJSON{}}
		for _, a := range rec.Audit {
			out.History = append(out.History, apiAuditJSON{Action: string(a.Action), From: string(a.From), To: string(a.To),
				User: a.User, Time: apiTime(a.Time), Reason: a.Reason})
		}
		s.ok(w, r, out)
	})
}

// handleAlertAction runs one of the inbox's actions (the same field
// checks and the same desk call as the page) with the fields of a JSON
// body: note; reason and minutes; cause, action and disposition.
func (s *apiServer) handleAlertAction(name string, do inboxActionFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, ok := parseID(r.PathValue("id"))
		if !ok {
			s.fail(w, r, errInboxNoAlert)
			return
		}
		form := url.Values{}
		if r.ContentLength != 0 {
			v, err := bodyForm(w, r, []string{"note", "reason", "minutes", "cause", "action", "disposition"})
			if err != nil {
				s.fail(w, r, err)
				return
			}
			for k, val := range v {
				form.Set(k, val)
			}
		}
		vw := viewerFrom(ctx)
		if _, err := do(ctx, id, vw.User.Username, []string{string(vw.User.Role)}, form); err != nil {
			if statusOf(err) >= 500 {
				err = fmt.Errorf("%s alert %d: %w", name, id, err)
			}
			s.fail(w, r, err)
			return
		}
		s.logger.LogAttrs(ctx, slog.LevelInfo, "alert action", slog.String("action", name),
			slog.Int64("alert", id), slog.String("user", vw.User.Username))
		rec, err := s.cfg.Alerts.Alert(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.ok(w, r, alertOut(rec.Alert))
	})
}

type apiExcursionJSON struct {
	ID                  int64    `json:"id"`
	UnitID              int64    `json:"unit_id"`
	UnitName            string   `json:"unit_name"`
	SensorID            string   `json:"sensor_id"`
	Metric              string   `json:"metric"`
	Low                 *float64 `json:"low"`
	High                *float64 `json:"high"`
	Start               *string  `json:"start"`
	End                 *string  `json:"end"`
	Peak                *float64 `json:"peak"`
	Trough              *float64 `json:"trough"`
	SecondsAbove        float64  `json:"seconds_above"`
	SecondsBelow        float64  `json:"seconds_below"`
	DegreeMinutesAbove  float64  `json:"degree_minutes_above"`
	DegreeMinutesBelow  float64  `json:"degree_minutes_below"`
	Alarmed             bool     `json:"alarmed"`
	AlarmRule           string   `json:"alarm_rule"`
	Quarantine          bool     `json:"quarantine"`
	QuarantineClearedBy string   `json:"quarantine_cleared_by"`
	QuarantineClearedAt *string  `json:"quarantine_cleared_at"`
}

func excursionOut(x alerts.Excursion) apiExcursionJSON {
	return apiExcursionJSON{ID: x.ID, UnitID: x.UnitID, UnitName: x.UnitName, SensorID: x.SensorID, Metric: string(x.Metric),
		Low: apiFloat(x.Low), High: apiFloat(x.High), Start: apiTime(x.Start), End: apiTime(x.End), Peak: apiFloat(x.Peak),
		Trough: apiFloat(x.Trough), SecondsAbove: x.Above.Seconds(), SecondsBelow: x.Below.Seconds(),
		DegreeMinutesAbove: x.DegreeMinutesAbove, DegreeMinutesBelow: x.DegreeMinutesBelow, Alarmed: x.Alarmed,
		AlarmRule: x.AlarmRule, Quarantine: x.Quarantine, QuarantineClearedBy: x.QuarantineClearedBy,
		QuarantineClearedAt: apiTime(x.QuarantineClearedAt)}
}

// apiMaxExcursions bounds one excursions query.
const apiMaxExcursions = 10000

func (s *apiServer) handleExcursions() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "unit", "from", "to", "quarantined")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f := ExcursionFilter{Limit: apiMaxExcursions}
		if f.UnitID, err = q.filterID("unit"); err != nil {
			s.fail(w, r, err)
			return
		}
		if f.From, f.To, err = apiRange(q, s.cfg.Now(), defaultFilterSpan, maxFilterSpan); err != nil {
			s.fail(w, r, err)
			return
		}
		switch q.Filters["quarantined"] {
		case "", "false":
		case "true":
			f.Quarantined = true
		default:
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "quarantined must be true or false."))
			return
		}
		xs, err := s.cfg.Records.Excursions(r.Context(), f)
		if err != nil {
			s.fail(w, r, fmt.Errorf("list excursions: %w", err))
			return
		}
		out := make([]apiExcursionJSON, 0, len(xs))
		for _, x := range xs {
			out = append(out, excursionOut(x))
		}
		slices.SortFunc(out, func(a, b apiExcursionJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// ---- users ----

type apiUserJSON struct {
	ID        int64    `json:"id"`
	Username  string   `json:"username"`
	Role      string   `json:"role"`
	Units     []string `json:"units"`
	CreatedAt *string  `json:"created_at"`
}

func userOut(u wardwatch.User) apiUserJSON {
	units := u.Units
	if units == nil {
		units = []string{}
	}
	return apiUserJSON{ID: u.ID, Username: u.Username, Role: string(u.Role), Units: units, CreatedAt: apiTime(u.CreatedAt)}
}

func (s *apiServer) handleUsers() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "role")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		us, err := s.cfg.Admin.Users(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("list users: %w", err))
			return
		}
		out := make([]apiUserJSON, 0, len(us))
		for _, u := range us {
			if role := q.Filters["role"]; role == "" || string(u.Role) == role {
				out = append(out, userOut(u))
			}
		}
		slices.SortFunc(out, func(a, b apiUserJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// idString is id in decimal (for audit subjects).
func idString(id int64) string { return strconv.FormatInt(id, 10) }
