package fhir

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/wardwatch/wardwatch"
)

// ContentType is the media type of every response.
const ContentType = "application/fhir+json; charset=utf-8"

// DefaultMountPath is where the lead mounts the handler; it makes the base
// URL when Options.BaseURL is empty.
const DefaultMountPath = "/fhir/r4"

// Limits of history searches (Observation with date).
const (
	maxHistoryChannels = 64
	maxHistoryWindow   = 10_000 // _offset + _count
)

// Options configures the FHIR handler.
type Options struct {
	// BaseURL is the absolute URL the handler is served at
	// ("https://wardwatch.example.org/fhir/r4"); it prefixes fullUrl and
	// paging links. Empty: derived from each request's Host, TLS and
	// DefaultMountPath.
	BaseURL string
	// SiteName and BuildingName name the top Locations ("site",
	// "building"); WardWatch has floors but no buildings.
	SiteName, BuildingName string
	// AssetTagSystem is the identifier system of asset tags; default
	// DefaultAssetTagSystem.
	AssetTagSystem string
	// Version is WardWatch's version, shown in the CapabilityStatement.
	Version string
	// Now returns the current time (calibration state, date bounds);
	// default time.Now.
	Now func() time.Time
	// Logger receives source errors; default discards.
	Logger *slog.Logger
	// Registerer receives the handler's metrics; nil: not registered.
	Registerer prometheus.Registerer
}

// handler serves the FHIR R4 read API.
type handler struct {
	src      Source
	opts     Options
	log      *slog.Logger
	started  time.Time
	requests *prometheus.CounterVec
	skipped  *prometheus.CounterVec
}

// resourceTypes are the types served, in CapabilityStatement order.
var resourceTypes = []string{"Device", "DeviceMetric", "Flag", "Location", "Observation"}

// NewHandler returns the FHIR R4 read API over src: GET metadata,
// {type} (search) and {type}/{id} (read) for Device, Location,
// Observation, DeviceMetric and Flag, with paths relative to its root
// (mount it with http.StripPrefix). Every body is application/fhir+json;
// errors are OperationOutcomes.
func NewHandler(src Source, opts Options) http.Handler {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.SiteName == "" {
		opts.SiteName = "Hospital"
	}
	if opts.BuildingName == "" {
		opts.BuildingName = "Main building"
	}
	if opts.AssetTagSystem == "" {
		opts.AssetTagSystem = DefaultAssetTagSystem
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	h := &handler{src: src, opts: opts, log: opts.Logger, started: opts.Now().UTC(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_fhir_requests_total",
			Help: "FHIR API requests by resource type, interaction and HTTP status.",
		}, []string{"resource", "interaction", "status"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wardwatch_fhir_skipped_total",
			Help: "Items left out of FHIR responses because they cannot be represented, by reason.",
		}, []string{"reason"}),
	}
	if opts.Registerer != nil {
		h.requests = register(opts.Registerer, h.requests, h.log)
		h.skipped = register(opts.Registerer, h.skipped, h.log)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metadata", h.metadata)
	mux.HandleFunc("/metadata", h.methodNotAllowed)
	for _, typ := range resourceTypes {
		mux.HandleFunc("GET /"+typ, func(w http.ResponseWriter, r *http.Request) { h.search(w, r, typ) })
		mux.HandleFunc("GET /"+typ+"/{id}", func(w http.ResponseWriter, r *http.Request) { h.read(w, r, typ, r.PathValue("id")) })
		mux.HandleFunc("/"+typ, h.methodNotAllowed)
		mux.HandleFunc("/"+typ+"/{id}", h.methodNotAllowed)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, "unknown", "read", wardwatch.Errorf(wardwatch.ENOTFOUND, "No such resource type or path: this server serves %s and metadata.", strings.Join(resourceTypes, ", ")))
	})
	return mux
}

// register registers c on reg, reusing an identical collector already
// registered (two handlers in one process share their counters).
func register(reg prometheus.Registerer, c *prometheus.CounterVec, log *slog.Logger) *prometheus.CounterVec {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		log.Error("fhir: register metric", "err", err)
	}
	return c
}

func (h *handler) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Allow", "GET, HEAD")
	h.writeOutcome(w, r, "unknown", "other", http.StatusMethodNotAllowed, "not-supported",
		"This FHIR server is read-only: only GET is supported.")
}

// base is the absolute base URL for r.
func (h *handler) base(r *http.Request) string {
	if h.opts.BaseURL != "" {
		return h.opts.BaseURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + DefaultMountPath
}

// write sends v as FHIR JSON with status.
func (h *handler) write(w http.ResponseWriter, r *http.Request, resource, interaction string, status int, v any) {
	pretty := r.URL.Query().Get("_pretty") == "true"
	var (
		b   []byte
		err error
	)
	if pretty {
		b, err = json.MarshalIndent(v, "", "  ")
	} else {
		b, err = json.Marshal(v)
	}
	if err != nil {
		h.log.Error("fhir: encode response", "resource", resource, "err", err)
		status, b = http.StatusInternalServerError, []byte(`{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"exception","diagnostics":"Internal error."}]}`)
	}
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(append(b, '\n'))
	}
	h.requests.WithLabelValues(resource, interaction, strconv.Itoa(status)).Inc()
}

func (h *handler) writeOutcome(w http.ResponseWriter, r *http.Request, resource, interaction string, status int, code, diagnostics string) {
	h.write(w, r, resource, interaction, status, OperationOutcome{ResourceType: "OperationOutcome",
		Issue: []OutcomeIssue{{Severity: "error", Code: code, Diagnostics: diagnostics}}})
}

// fail answers err as an OperationOutcome: user errors with their message,
// anything else as an internal error, logged.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, resource, interaction string, err error) {
	var status int
	var code string
	switch wardwatch.ErrorCode(err) {
	case wardwatch.EINVALID:
		status, code = http.StatusBadRequest, "invalid"
	case wardwatch.ETOOLARGE:
		status, code = http.StatusBadRequest, "too-costly"
	case wardwatch.ENOTFOUND:
		status, code = http.StatusNotFound, "not-found"
	case wardwatch.EUNAVAILABLE:
		status, code = http.StatusServiceUnavailable, "transient"
	default:
		status, code = http.StatusInternalServerError, "exception"
	}
	if status >= 500 {
		h.log.Error("fhir: request failed", "resource", resource, "interaction", interaction, "err", err)
	}
	h.writeOutcome(w, r, resource, interaction, status, code, wardwatch.ErrorMessage(err))
}

// metadata serves the CapabilityStatement.
func (h *handler) metadata(w http.ResponseWriter, r *http.Request) {
	h.write(w, r, "CapabilityStatement", "read", http.StatusOK, h.capabilityStatement(r))
}

func (h *handler) capabilityStatement(r *http.Request) CapabilityStatement {
	cs := CapabilityStatement{ResourceType: "CapabilityStatement", Status: "active",
		Date: fhirTime(h.started), Publisher: "WardWatch", Kind: "instance",
		Software:       &CapabilitySoftware{Name: "WardWatch", Version: h.opts.Version},
		Implementation: &CapabilityImpl{Description: "WardWatch FHIR R4 read API", URL: h.base(r)},
		FHIRVersion:    "4.0.1", Format: []string{"json"}}
	rest := CapabilityRest{Mode: "server",
		Documentation: "Read-only. Searches take _count (default 50, at most 500) and page with next links; unknown parameters are rejected."}
	for _, typ := range resourceTypes {
		res := CapabilityResource{Type: typ, Interaction: []CapabilityInteraction{{Code: "read"}, {Code: "search-type"}}}
		for _, p := range searchParams[typ] {
			res.SearchParam = append(res.SearchParam, CapabilitySearchParam{Name: p.Name, Type: p.Type, Documentation: p.Doc,
				Definition: searchParamDefinition(typ, p.Name)})
		}
		rest.Resource = append(rest.Resource, res)
	}
	cs.Rest = []CapabilityRest{rest}
	return cs
}

// searchParamDefinition is the canonical URL of a search parameter: R4's
// base one, or WardWatch's own for the parameters it adds.
func searchParamDefinition(typ, name string) string {
	if name == "_id" {
		return "http://hl7.org/fhir/SearchParameter/Resource-id"
	}
	if localSearchParams[typ+"."+name] {
		return LocalSearchParameterBase + typ + "-" + name
	}
	return "http://hl7.org/fhir/SearchParameter/" + typ + "-" + name
}

// resources builds every resource of typ that q can match, in a stable
// order, and whether the list is complete (false when a history search
// stopped at its window).
func (h *handler) resources(ctx context.Context, typ string, q Query) (out []any, complete bool, err error) {
	switch typ {
	case "Location":
		s, err := h.site(ctx)
		if err != nil {
			return nil, false, err
		}
		for _, l := range s.locations() {
			if matchAll(q, func(p Param, v Value) bool { return matchLocation(l, p, v) }) {
				out = append(out, l)
			}
		}
		return out, true, nil
	case "Device", "DeviceMetric", "Flag":
		inv, err := h.inventory(ctx, typ == "Device" || typ == "DeviceMetric", typ == "DeviceMetric")
		if err != nil {
			return nil, false, err
		}
		switch typ {
		case "Device":
			for _, d := range inv.devices() {
				if matchAll(q, func(p Param, v Value) bool { return matchDevice(d, p, v) }) {
					out = append(out, d)
				}
			}
		case "DeviceMetric":
			for _, m := range inv.deviceMetrics() {
				if matchAll(q, func(p Param, v Value) bool { return matchDeviceMetric(m, p, v) }) {
					out = append(out, m)
				}
			}
		case "Flag":
			xs, err := h.src.QuarantinedExcursions(ctx)
			if err != nil {
				return nil, false, fmt.Errorf("quarantined excursions: %w", err)
			}
			for _, f := range inv.flags(xs) {
				if matchAll(q, func(p Param, v Value) bool { return matchFlag(f, p, v) }) {
					out = append(out, f)
				}
			}
		}
		return out, true, nil
	case "Observation":
		return h.observations(ctx, q)
	}
	return nil, false, wardwatch.Errorf(wardwatch.ENOTFOUND, "Resource type %q is not supported.", typ)
}

func (h *handler) site(ctx context.Context) (*site, error) {
	floors, err := h.src.Floors(ctx)
	if err != nil {
		return nil, fmt.Errorf("floors: %w", err)
	}
	zones, err := h.src.Zones(ctx)
	if err != nil {
		return nil, fmt.Errorf("zones: %w", err)
	}
	return newSite(h.opts.SiteName, h.opts.BuildingName, floors, zones), nil
}

// inventory loads what devices are built from: tracked assets, their
// positions and pumps only when withAssets; tags and the latest readings
// (for tag and pump channels) only when withSensors.
func (h *handler) inventory(ctx context.Context, withAssets, withSensors bool) (*inventory, error) {
	s, err := h.site(ctx)
	if err != nil {
		return nil, err
	}
	in := inventoryInput{site: s, assetTagSys: h.opts.AssetTagSystem, now: h.opts.Now()}
	if withAssets {
		if in.assets, err = h.src.Assets(ctx); err != nil {
			return nil, fmt.Errorf("assets: %w", err)
		}
		if in.positions, err = h.src.LatestPositions(ctx); err != nil {
			return nil, fmt.Errorf("latest positions: %w", err)
		}
		if in.pumps, err = h.src.LatestPumpStates(ctx); err != nil {
			return nil, fmt.Errorf("latest pump states: %w", err)
		}
	}
	if withSensors {
		if in.tags, err = h.src.Tags(ctx); err != nil {
			return nil, fmt.Errorf("tags: %w", err)
		}
		if in.latest, err = h.src.LatestReadings(ctx); err != nil {
			return nil, fmt.Errorf("latest readings: %w", err)
		}
	}
	if in.units, err = h.src.Units(ctx); err != nil {
		return nil, fmt.Errorf("units: %w", err)
	}
	if in.modbus, err = h.src.ModbusDevices(ctx); err != nil {
		return nil, fmt.Errorf("modbus devices: %w", err)
	}
	return newInventory(in), nil
}

// channelReading is one reading of a channel.
type channelReading struct {
	c *channelInfo
	r wardwatch.Reading
}

// observations builds the Observations q selects: each channel's latest
// reading, or with a date or _id parameter the readings in that range.
// Tag and pump channels are those that reported since start-up, plus for
// history the ones a device or _id parameter names.
func (h *handler) observations(ctx context.Context, q Query) ([]any, bool, error) {
	inv, err := h.inventory(ctx, true, true)
	if err != nil {
		return nil, false, err
	}
	var (
		history = q.hasParam("date")
		from    = time.Unix(0, 0).UTC()
		to      = h.opts.Now().UTC().Add(24 * time.Hour)
		byIDs   []Value
		idKeys  = map[string]bool{}
	)
	for _, p := range q.Params {
		if p.Name == "_id" {
			byIDs = p.Values
		}
	}
	if byIDs != nil {
		// An _id names a channel and an instant: read around it.
		history = true
		for _, v := range byIDs {
			if key, _, ok := parseObservationRID(v.Code); ok && !v.HasSystem {
				idKeys[key] = true
			}
		}
	}
	candidates := make([]*channelInfo, 0, len(inv.channels))
	for i := range inv.channels {
		candidates = append(candidates, &inv.channels[i])
	}
	if history {
		candidates = append(candidates, pinnedSensorChannels(inv, q)...)
	}
	// Narrow the channels by every parameter that does not need a reading.
	var chans []*channelInfo
	for _, c := range candidates {
		if byIDs != nil && !idKeys[c.key] {
			continue
		}
		var code *CodeableConcept
		if matchAll(q, func(p Param, v Value) bool {
			switch p.Name {
			case "code":
				if code == nil {
					cc := c.metricCode()
					code = &cc
				}
				return matchToken(v, code.Coding)
			case "device":
				if c.isSensor() {
					return matchRef(v, &Reference{Reference: "DeviceMetric/" + c.id}) || matchRef(v, c.owner)
				}
				return matchRef(v, &Reference{Reference: "DeviceMetric/" + c.id}) ||
					matchRef(v, &Reference{Reference: "Device/" + c.id}) ||
					matchRef(v, &Reference{Reference: "Device/" + modbusRID(c.dev.ID)}) ||
					(c.unit != nil && matchRef(v, &Reference{Reference: "Device/" + unitRID(c.unit.ID)}))
			case "subject":
				return matchRef(v, inv.subject(c))
			case "location":
				return matchRef(v, inv.channelLocation(c))
			}
			return true // _id is checked per reading
		}) {
			chans = append(chans, c)
		}
	}
	var readings []channelReading
	complete := true
	if !history {
		want := make(map[*channelInfo]bool, len(chans))
		for _, c := range chans {
			want[c] = true
		}
		for _, r := range inv.latest {
			c, ok := inv.channelBySID[r.SensorID]
			if !ok || r.Metric != c.ch.Metric {
				c, ok = inv.sensorByKey[sensorMetric{r.SensorID, r.Metric}]
			}
			if ok && want[c] {
				readings = append(readings, channelReading{c, r})
			}
		}
		// The source's order may change between requests (a map): sort
		// by channel so that pages line up.
		slices.SortStableFunc(readings, func(a, b channelReading) int { return cmp.Compare(a.c.order, b.c.order) })
	} else {
		if len(chans) > maxHistoryChannels {
			return nil, false, wardwatch.Errorf(wardwatch.ETOOLARGE,
				"This history search spans %d channels; narrow it to at most %d with device, code or location.", len(chans), maxHistoryChannels)
		}
		if q.Offset+q.Count > maxHistoryWindow {
			return nil, false, wardwatch.Errorf(wardwatch.ETOOLARGE,
				"History searches page at most %d readings deep; narrow the date range.", maxHistoryWindow)
		}
		from, to = dateBounds(q, from, to)
		limit := q.Offset + q.Count + 1
		for _, v := range byIDs {
			// Each _id is a reading at a millisecond; read that millisecond.
			if _, ms, ok := parseObservationRID(v.Code); ok && len(byIDs) == 1 {
				t := time.UnixMilli(ms).UTC()
				from, to = maxTime(from, t), minTime(to, t.Add(time.Millisecond))
			}
		}
		for _, c := range chans {
			if !from.Before(to) {
				break
			}
			rs, err := h.src.Readings(ctx, wardwatch.SeriesQuery{SensorID: c.sensorID(), Metric: c.ch.Metric,
				From: from, To: to, Limit: limit})
			if err != nil {
				return nil, false, fmt.Errorf("readings of %s: %w", c.sensorID(), err)
			}
			if len(rs) >= limit {
				complete = false
			}
			for _, r := range rs {
				readings = append(readings, channelReading{c, r})
			}
		}
		slices.SortStableFunc(readings, func(a, b channelReading) int {
			return cmp.Or(a.r.Time.Compare(b.r.Time), strings.Compare(a.c.key, b.c.key))
		})
	}
	var out []any
	for _, cr := range readings {
		o, ok := inv.observation(cr.c, cr.r)
		if !ok {
			h.skipped.WithLabelValues("non_finite_reading").Inc()
			h.log.Warn("fhir: reading left out: value is not finite", "sensor", cr.c.sensorID(), "time", cr.r.Time)
			continue
		}
		if matchAll(q, func(p Param, v Value) bool { return p.Name != "_id" || v.Code == o.ID && !v.HasSystem }) &&
			matchDates(q, cr.r.Time) {
			out = append(out, o)
		}
	}
	return out, complete, nil
}

// pinnedSensorChannels returns the tag and pump channels that q's _id and
// device values name and that have not reported since start-up (those
// that have are in inv.channels already): their stored history stays
// searchable after a restart.
func pinnedSensorChannels(inv *inventory, q Query) []*channelInfo {
	have := make(map[string]bool)
	for i := range inv.channels {
		have[inv.channels[i].key] = true
	}
	var out []*channelInfo
	add := func(c channelInfo) {
		if !have[c.key] {
			have[c.key] = true
			out = append(out, &c)
		}
	}
	for _, p := range q.Params {
		for _, v := range p.Values {
			switch p.Name {
			case "_id":
				if key, _, ok := parseObservationRID(v.Code); ok && !v.HasSystem {
					if c, ok := inv.sensorChannelByKey(key); ok {
						add(c)
					}
				}
			case "device":
				if key, ok := strings.CutPrefix(v.ID, "channel-"); ok && (v.ResourceType == "" || v.ResourceType == "DeviceMetric") {
					if c, ok := inv.sensorChannelByKey(key); ok {
						add(c)
					}
				}
				if v.ResourceType == "" || v.ResourceType == "Device" {
					for _, c := range inv.sensorChannelsOf(v.ID) {
						add(c)
					}
				}
			}
		}
	}
	return out
}

// matchDates reports whether t satisfies every date parameter of q.
func matchDates(q Query, t time.Time) bool {
	for _, p := range q.Params {
		if p.Type == typeDate && !slices.ContainsFunc(p.Values, func(v Value) bool { return matchDate(v, t) }) {
			return false
		}
	}
	return true
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func matchLocation(l Location, p Param, v Value) bool {
	switch p.Name {
	case "_id":
		return !v.HasSystem && v.Code == l.ID
	case "name":
		return strings.HasPrefix(strings.ToLower(l.Name), v.Text)
	case "type":
		for _, t := range l.Type {
			if matchToken(v, t.Coding) {
				return true
			}
		}
		return false
	case "partof":
		return matchRef(v, l.PartOf)
	}
	return false
}

func matchDevice(d Device, p Param, v Value) bool {
	switch p.Name {
	case "_id":
		return !v.HasSystem && v.Code == d.ID
	case "identifier":
		return matchIdentifier(v, d.Identifier)
	case "udi-di":
		return slices.ContainsFunc(d.UDICarrier, func(c UDICarrier) bool { return hasPrefixFold(c.DeviceIdentifier, v.Text) })
	case "udi-carrier":
		return slices.ContainsFunc(d.UDICarrier, func(c UDICarrier) bool { return hasPrefixFold(c.CarrierHRF, v.Text) })
	case "manufacturer":
		return hasPrefixFold(d.Manufacturer, v.Text)
	case "model":
		return hasPrefixFold(d.ModelNumber, v.Text)
	case "type":
		return d.Type != nil && matchToken(v, d.Type.Coding)
	case "location":
		return matchRef(v, d.Location)
	case "status":
		return matchToken(v, []Coding{{System: "http://hl7.org/fhir/device-status", Code: d.Status}})
	case "parent":
		return matchRef(v, d.Parent)
	}
	return false
}

// hasPrefixFold is R4 string search: s starts with the lower-cased text.
func hasPrefixFold(s, lower string) bool { return strings.HasPrefix(strings.ToLower(s), lower) }

func matchDeviceMetric(m DeviceMetric, p Param, v Value) bool {
	switch p.Name {
	case "_id":
		return !v.HasSystem && v.Code == m.ID
	case "type":
		return matchToken(v, m.Type.Coding)
	case "source":
		return matchRef(v, m.Source)
	case "parent":
		return matchRef(v, m.Parent)
	case "category":
		return matchToken(v, []Coding{{System: "http://hl7.org/fhir/metric-category", Code: m.Category}})
	}
	return false
}

func matchFlag(f Flag, p Param, v Value) bool {
	switch p.Name {
	case "_id":
		return !v.HasSystem && v.Code == f.ID
	case "subject":
		return matchRef(v, &f.Subject)
	}
	return false
}

// resourceID is the id of a resource built by resources.
func resourceID(res any) string {
	switch r := res.(type) {
	case Device:
		return r.ID
	case Location:
		return r.ID
	case Observation:
		return r.ID
	case DeviceMetric:
		return r.ID
	case Flag:
		return r.ID
	}
	return ""
}

// read serves typ/id.
func (h *handler) read(w http.ResponseWriter, r *http.Request, typ, id string) {
	if !idRE.MatchString(id) {
		h.fail(w, r, typ, "read", wardwatch.Errorf(wardwatch.ENOTFOUND, "%s/%s: no such resource.", typ, clip(id)))
		return
	}
	q := Query{Count: 1, Params: []Param{{Name: "_id", Type: typeToken, Values: []Value{{Code: id}}}}}
	all, _, err := h.resources(r.Context(), typ, q)
	if err != nil {
		h.fail(w, r, typ, "read", err)
		return
	}
	for _, res := range all {
		if resourceID(res) == id {
			h.write(w, r, typ, "read", http.StatusOK, res)
			return
		}
	}
	h.fail(w, r, typ, "read", wardwatch.Errorf(wardwatch.ENOTFOUND, "%s/%s: no such resource.", typ, id))
}

// search serves a search of typ as a searchset Bundle page.
func (h *handler) search(w http.ResponseWriter, r *http.Request, typ string) {
	values := r.URL.Query()
	q, err := ParseQuery(typ, values)
	if err != nil {
		h.fail(w, r, typ, "search", err)
		return
	}
	all, complete, err := h.resources(r.Context(), typ, q)
	if err != nil {
		h.fail(w, r, typ, "search", err)
		return
	}
	base := h.base(r)
	b := Bundle{ResourceType: "Bundle", Type: "searchset"}
	if complete {
		n := len(all)
		b.Total = &n
	}
	page := all[min(q.Offset, len(all)):]
	page = page[:min(q.Count, len(page))]
	b.Link = []BundleLink{{Relation: "self", URL: pageURL(base, typ, values, q.Count, q.Offset)}}
	if q.Offset+len(page) < len(all) && q.Count > 0 {
		b.Link = append(b.Link, BundleLink{Relation: "next", URL: pageURL(base, typ, values, q.Count, q.Offset+q.Count)})
	}
	for _, res := range page {
		b.Entry = append(b.Entry, BundleEntry{FullURL: base + "/" + typ + "/" + resourceID(res), Resource: res,
			Search: &EntrySearch{Mode: "match"}})
	}
	h.write(w, r, typ, "search", http.StatusOK, b)
}

// pageURL is the search URL for one page.
func pageURL(base, typ string, values url.Values, count, offset int) string {
	v := url.Values{}
	for k, vs := range values {
		if k != "_count" && k != "_offset" {
			v[k] = vs
		}
	}
	v.Set("_count", strconv.Itoa(count))
	if offset > 0 {
		v.Set("_offset", strconv.Itoa(offset))
	}
	return base + "/" + typ + "?" + v.Encode()
}
