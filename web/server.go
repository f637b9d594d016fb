// Package web is WardWatch's HTTP face: the signed-in pages (floor list, live
// floor maps), the session and login handling, health and metrics endpoints,
// the embedded static files, and the mount point of the gateway ingest API.
//
// NewServer builds the whole handler; routes.go lists every route.
package web

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
)

// Store is the subset of the SQL store the web layer uses.
type Store interface {
	Floors(ctx context.Context) ([]wardwatch.Floor, error)
	Floor(ctx context.Context, id int64) (wardwatch.Floor, error)
	FloorPlan(ctx context.Context, floorID int64) (wardwatch.FloorPlan, error)
	Zones(ctx context.Context, floorID int64) ([]wardwatch.Zone, error)
	Assets(ctx context.Context) ([]wardwatch.Asset, error)
	Asset(ctx context.Context, id int64) (wardwatch.Asset, error)
	Gateways(ctx context.Context) ([]wardwatch.Gateway, error)
	DiscoveredTags(ctx context.Context) ([]wardwatch.DiscoveredTag, error)
	AssignDiscoveredTag(ctx context.Context, tagID string, assetID int64) error
	DismissDiscoveredTag(ctx context.Context, tagID string) error
	UserByUsername(ctx context.Context, username string) (wardwatch.User, error)
	User(ctx context.Context, id int64) (wardwatch.User, error)
	CreateSession(ctx context.Context, s wardwatch.Session) error
	Session(ctx context.Context, tokenHash []byte) (wardwatch.Session, error)
	TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expires time.Time) error
	DeleteSession(ctx context.Context, tokenHash []byte) error
}

// Live is the websocket hub as the web layer sees it: the latest positions
// on a floor, and a handler that streams them to a browser.
type Live interface {
	// Snapshot returns the latest position of each asset on the floor.
	Snapshot(floorID int64) []wardwatch.Position
	// ServeFloor upgrades the request to a websocket and streams the floor's
	// positions. The caller has already authenticated the request.
	ServeFloor(w http.ResponseWriter, r *http.Request, floorID int64)
}

// Config holds NewServer's dependencies and settings. Store is required;
// every other field has a usable zero value or default (a nil Live shows no
// positions).
type Config struct {
	Logger *slog.Logger // nil discards logs
	Store  Store
	Live   Live

	// Ingest serves "POST /ingest/v1/gateways/{gateway}/sightings". It gets
	// no session and no cross-origin check: gateways are not browsers and
	// authenticate with their own token. Nil answers 503.
	Ingest http.Handler

	Metrics    prometheus.Gatherer   // served at GET /metrics; nil uses Registerer when it can gather
	Registerer prometheus.Registerer // for the web layer's own metrics; nil keeps them private

	// Health reports whether the service can do its work. GET /healthz
	// answers 200 "ok" when it returns nil, and 503 "unavailable: <message>"
	// otherwise, where the message is wardwatch.ErrorMessage of the error (so
	// return a *wardwatch.Error to give a reason; other errors are logged
	// only). Nil means always healthy.
	Health func(ctx context.Context) error

	// GatewayHealth reports every gateway's traffic health at a moment,
	// for the admin gateways page; nil shows none. OfflineAfter is the
	// silence after which it calls a gateway offline (for the page's
	// explanation).
	GatewayHealth func(now time.Time) []wardwatch.GatewayHealth
	OfflineAfter  time.Duration

	// Devices and Collectors serve the device admin pages (monitored
	// units, Modbus devices, SNMP targets, profiles); nil Devices hides
	// them.
	Devices    DeviceStore
	Collectors Collectors

	// History reads stored positions for the asset page's "where was it
	// at"; nil shows no history. Assets changes asset status; nil hides
	// the status form's effect (403). Location is the hospital's time zone
	// for times users type and read (default time.Local).
	History  History
	Assets   AssetStore
	Location *time.Location

	// Readers manages RFID readers and HTTP poll targets; nil hides the
	// page. PollStatus reports each poll target's state by name.
	Readers    ReaderStore
	PollStatus func() map[string]CollectorStatus

	// ReaderIngest serves "POST /ingest/v1/readers/{reader}/reads" (RFID
	// readers pushing reads with their own token); nil answers 503.
	ReaderIngest http.Handler

	// Layout changes floors, plans, zones and gateways (the floor
	// editor); nil hides it.
	Layout LayoutStore

	// Admin changes assets, tags and users for the admin pages; nil hides
	// them.
	Admin AdminStore

	// PumpStates reports every pump's latest state (the SNMP collector);
	// nil shows no pumps. ApprovedDrugLibraries maps a drug library's name
	// to its approved version; a library not listed is current at the
	// newest version any pump reports.
	PumpStates            func() []wardwatch.PumpState
	ApprovedDrugLibraries map[string]string

	// LatestReadings returns the newest reading of every sensor and
	// metric, for the environment dashboard; nil shows no values.
	LatestReadings func() []wardwatch.Reading

	// SystemChecks reports the dependencies' and collectors' state for the
	// system status page; nil shows an empty page.
	SystemChecks func(now time.Time) []SystemCheck

	// Kiosks keeps wall displays' read-only tokens; nil: no displays.
	Kiosks KioskStore

	// Audit keeps the audit log of admin changes and serves its page; nil
	// records nothing.
	Audit AuditStore

	// ConfigChanged is called after an admin change the location engine
	// must see at once (a tag assigned, a gateway moved); nil: nothing.
	ConfigChanged func(ctx context.Context)

	SecureCookies bool          // Secure flag on cookies and HSTS (true behind TLS)
	SessionIdle   time.Duration // sliding idle timeout; default 15m
	SessionMax    time.Duration // absolute session lifetime; default 12h
	StaleAfter    time.Duration // positions older than this are shown as stale; default 2m
	Now           func() time.Time

	// AlertSettings keeps units' alarm rules, escalation policies,
	// contacts, maintenance windows, daily schedules and PAR levels for
	// the alert settings pages (/admin/alerts); nil hides them. The
	// environment dashboard lists the units' daily schedules from it.
	AlertSettings AlertSettings
	// AlertsChanged is called after every alert settings change so the
	// alert service reloads at once; nil: nothing.
	AlertsChanged func(ctx context.Context)
	// Records keeps excursion records, daily log sign-offs and the alert
	// audit trail for the compliance record pages; nil hides them.
	Records RecordStore
	// Readings reads sensor series for the daily log, MKT report and
	// charts; nil hides those.
	Readings Readings
	// UnitSensors lists the sensor channels that measure a monitored
	// unit; nil hides the daily log and MKT report.
	UnitSensors func(ctx context.Context, unitID int64) ([]UnitSensor, error)
	// Alerts is the alert service behind the alert inbox, alert detail and
	// PAR pages; nil hides them.
	Alerts AlertDesk

	// APITokens keeps the REST API's tokens (admin page
	// /admin/api-tokens); nil turns the API /api/v1 off (only its OpenAPI
	// document is served).
	// FHIR serves the FHIR R4 read API under /fhir/r4 to holders of API
	// tokens (package fhir); nil: none.
	FHIR      http.Handler
	APITokens APITokenStore
	// Positions streams every published batch of positions to the API's
	// event stream until cancel is called (web/live.Hub.Subscribe); nil:
	// the stream has no positions topic.
	Positions func(buffer int) (batches <-chan []wardwatch.Position, cancel func())
}

// noLive stands in for a missing hub: no positions, no live stream.
type noLive struct{}

func (noLive) Snapshot(int64) []wardwatch.Position { return nil }

func (noLive) ServeFloor(w http.ResponseWriter, _ *http.Request, _ int64) {
	http.Error(w, "live updates are not enabled", http.StatusServiceUnavailable)
}

// Defaults for Config's durations.
const (
	DefaultSessionIdle = 15 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
	DefaultStaleAfter  = 2 * time.Minute
)

func (c Config) withDefaults() Config {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.Metrics == nil {
		if g, ok := c.Registerer.(prometheus.Gatherer); ok {
			c.Metrics = g
		} else {
			c.Metrics = prometheus.NewRegistry()
		}
	}
	if c.Live == nil {
		c.Live = noLive{}
	}
	if c.Health == nil {
		c.Health = func(context.Context) error { return nil }
	}
	if c.ReaderIngest == nil {
		c.ReaderIngest = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "RFID ingest is not enabled", http.StatusServiceUnavailable)
		})
	}
	if c.Ingest == nil {
		c.Ingest = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "ingest is not enabled", http.StatusServiceUnavailable)
		})
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = DefaultSessionIdle
	}
	if c.SessionMax <= 0 {
		c.SessionMax = DefaultSessionMax
	}
	if c.SessionIdle > c.SessionMax {
		c.SessionIdle = c.SessionMax
	}
	if c.StaleAfter <= 0 {
		c.StaleAfter = DefaultStaleAfter
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Location == nil {
		c.Location = time.Local
	}
	return c
}

// NewServer returns WardWatch's HTTP handler: every route of routes.go behind
// request logging, panic recovery, security headers and, for everything but
// the ingest route, cross-origin (CSRF) protection.
func NewServer(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	m := newMetrics(cfg.Registerer)
	sessions := &sessionManager{
		store:  cfg.Store,
		logger: cfg.Logger,
		now:    cfg.Now,
		idle:   cfg.SessionIdle,
		max:    cfg.SessionMax,
		secure: cfg.SecureCookies,
		kiosks: cfg.Kiosks,
	}
	throttle := loginThrottle{
		users:     newLoginLimiter(loginWindow, loginMaxUserFailures, loginLimiterKeys),
		addresses: newLoginLimiter(loginWindow, loginMaxAddressFailures, loginLimiterKeys),
	}

	mux := http.NewServeMux()
	addRoutes(mux, cfg, sessions, throttle, m)

	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern(ingestPattern)
	cop.AddInsecureBypassPattern(readerIngestPattern)
	// The API takes bearer tokens only, never cookies: nothing a browser
	// sends by itself can act through it.
	cop.AddInsecureBypassPattern(apiPrefix)
	cop.SetDenyHandler(handleCrossOriginDenied(cfg.Logger))

	var h http.Handler = mux
	h = cop.Handler(h)
	h = securityHeaders(cfg.SecureCookies, h)
	h = recoverPanics(cfg.Logger, m, h)
	h = logRequests(cfg.Logger, m, h)
	h = withNonce(h)
	return h
}
