package web

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ingestPattern is the gateway push route; it is exempt from cross-origin
// protection (see NewServer) and from sessions.
const ingestPattern = "POST /ingest/v1/gateways/{gateway}/sightings"

// readerIngestPattern is the RFID readers' push route, exempt likewise.
const readerIngestPattern = "POST /ingest/v1/readers/{reader}/reads"

// addRoutes lists every route WardWatch serves.
//
// Page routes redirect to the login page when there is no session; the
// plan image and the websocket answer 401 instead. The websocket does not
// count as user activity, so it never extends the session.
func addRoutes(mux *http.ServeMux, cfg Config, sessions *sessionManager, throttle loginThrottle, m *metrics) {
	logger := cfg.Logger
	page := requireSession(sessions, logger, sessionRule{redirect: true, touch: true})
	api := requireSession(sessions, logger, sessionRule{touch: true})
	stream := requireSession(sessions, logger, sessionRule{})

	mux.Handle("GET /login", handleLoginPage(logger, sessions))
	mux.Handle("POST /login", handleLogin(logger, cfg.Store, sessions, throttle.users, throttle.addresses, m, cfg.Now))
	mux.Handle("POST /logout", handleLogout(logger, sessions))

	mux.Handle("GET /{$}", http.RedirectHandler("/floors", http.StatusSeeOther))
	mux.Handle("GET /floors", page(handleFloors(logger, cfg.Store, cfg.Live)))
	mux.Handle("GET /floors/{id}", page(handleFloor(logger, cfg.Store, cfg.Live, cfg.PumpStates, cfg.StaleAfter, cfg.Now)))
	mux.Handle("GET /floors/{id}/plan", api(handleFloorPlan(logger, cfg.Store)))
	mux.Handle("GET /floors/{id}/live", stream(handleFloorLive(logger, cfg.Store, cfg.Live)))
	mux.Handle("GET /search", page(handleSearch(logger, cfg.Store, cfg.Live, cfg.StaleAfter, cfg.Now)))
	mux.Handle("GET /pumps", page(handlePumps(logger, cfg.Store, cfg.Live, cfg.PumpStates, cfg.ApprovedDrugLibraries, cfg.Now)))
	mux.Handle("GET /assets/{id}", page(handleAsset(logger, cfg.Store, cfg.Live, cfg.History, cfg.PumpStates, cfg.Location, cfg.StaleAfter, cfg.Now)))

	admin := func(h http.Handler) http.Handler { return page(requirePermission(logger, permConfigure)(h)) }
	audit := auditor{store: cfg.Audit, logger: logger}
	siteState := func(h http.Handler) http.Handler { return page(requirePermission(logger, permSiteState)(h)) }
	if cfg.Assets != nil {
		setStatus := func(h http.Handler) http.Handler { return page(requirePermission(logger, permSetStatus)(h)) }
		mux.Handle("POST /assets/{id}/status", setStatus(handleSetAssetStatus(logger, cfg.Store, cfg.Assets, audit)))
	}
	mux.Handle("GET /admin", admin(handleAdminIndex(logger)))
	mux.Handle("GET /admin/system", siteState(handleSystem(logger, cfg.SystemChecks, cfg.Now)))
	mux.Handle("GET /admin/gateways", siteState(handleAdminGateways(logger, cfg.Store, cfg.GatewayHealth, cfg.OfflineAfter, cfg.Now)))
	mux.Handle("GET /admin/tags/discovered", admin(handleDiscoveredTags(logger, cfg.Store, cfg.Now)))
	mux.Handle("POST /admin/tags/discovered/assign", admin(handleAssignDiscoveredTag(logger, cfg.Store, audit, cfg.ConfigChanged)))
	mux.Handle("POST /admin/tags/discovered/dismiss", admin(handleDismissDiscoveredTag(logger, cfg.Store, audit)))

	if cfg.Admin != nil {
		c := &configAdmin{logger: logger, store: cfg.Store, admin: cfg.Admin, audit: audit, changed: cfg.ConfigChanged, loc: cfg.Location}
		mux.Handle("GET /admin/assets", admin(c.handleAssets()))
		mux.Handle("POST /admin/assets", admin(c.handleSaveAsset()))
		mux.Handle("POST /admin/assets/import", admin(c.handleImportAssets()))
		mux.Handle("POST /admin/assets/{id}", admin(c.handleSaveAsset()))
		mux.Handle("POST /admin/assets/{id}/delete", admin(c.handleDeleteAsset()))
		mux.Handle("POST /admin/assets/{id}/tags", admin(c.handleAddTag()))
		mux.Handle("POST /admin/tags/remove", admin(c.handleRemoveTag()))
		mux.Handle("GET /admin/users", admin(c.handleUsers()))
		mux.Handle("POST /admin/users", admin(c.handleCreateUser()))
		mux.Handle("POST /admin/users/{id}", admin(c.handleUpdateUser()))
	}
	if cfg.Layout != nil {
		la := &layoutAdmin{logger: logger, store: cfg.Store, layout: cfg.Layout, audit: audit, changed: cfg.ConfigChanged}
		mux.Handle("GET /admin/floors", admin(la.handleFloors()))
		mux.Handle("POST /admin/floors", admin(la.handleSaveFloor()))
		mux.Handle("GET /admin/floors/{id}", admin(la.handleEditor()))
		mux.Handle("POST /admin/floors/{id}", admin(la.handleSaveFloor()))
		mux.Handle("POST /admin/floors/{id}/plan", admin(la.handleUploadPlan()))
		mux.Handle("POST /admin/floors/{id}/scale", admin(la.handleScale()))
		mux.Handle("POST /admin/floors/{id}/zones", admin(la.handleSaveZone()))
		mux.Handle("POST /admin/floors/{id}/zones/{zone}", admin(la.handleSaveZone()))
		mux.Handle("POST /admin/floors/{id}/zones/{zone}/delete", admin(la.handleDeleteZone()))
		mux.Handle("POST /admin/floors/{id}/gateways", admin(la.handleSaveGateway()))
		mux.Handle("POST /admin/floors/{id}/gateways/{gateway}", admin(la.handleSaveGateway()))
		mux.Handle("POST /admin/floors/{id}/gateways/{gateway}/action", admin(la.handleGatewayAction()))
	}
	if cfg.Readers != nil {
		ra := &readerAdmin{logger: logger, store: cfg.Store, readers: cfg.Readers, audit: audit, pollStatus: cfg.PollStatus, now: cfg.Now,
			changed: func(ctx context.Context) {
				if cfg.ConfigChanged != nil {
					cfg.ConfigChanged(ctx)
				}
			}}
		mux.Handle("GET /admin/readers", admin(ra.handlePage()))
		mux.Handle("POST /admin/readers", admin(ra.handleSaveReader()))
		mux.Handle("POST /admin/readers/{id}", admin(ra.handleReaderAction()))
		mux.Handle("POST /admin/polls", admin(ra.handleSavePoll()))
		mux.Handle("POST /admin/polls/{id}/delete", admin(ra.handleDeletePoll()))
	}
	if cfg.Kiosks != nil {
		mux.Handle("GET /kiosk/{token}", handleKioskStart(logger, cfg.Kiosks, cfg.SecureCookies))
		mux.Handle("GET /admin/kiosks", admin(handleKiosks(logger, cfg.Store, cfg.Kiosks)))
		mux.Handle("POST /admin/kiosks", admin(handleCreateKiosk(logger, cfg.Store, cfg.Kiosks, audit)))
		mux.Handle("POST /admin/kiosks/{id}/delete", admin(handleDeleteKiosk(logger, cfg.Kiosks, audit)))
	}
	if cfg.Audit != nil {
		mux.Handle("GET /admin/audit", admin(handleAuditLog(logger, cfg.Audit)))
	}
	if cfg.Devices != nil {
		mux.Handle("GET /environment", page(handleEnvironment(logger, cfg.Store, cfg.Devices, cfg.LatestReadings, cfg.Now)))
		d := &deviceAdmin{logger: logger, store: cfg.Devices, zones: cfg.Store, c: cfg.Collectors, now: cfg.Now, audit: audit}
		mux.Handle("GET /admin/units", admin(d.handleUnits()))
		mux.Handle("POST /admin/units", admin(d.handleSaveUnit()))
		mux.Handle("POST /admin/units/{id}/delete", admin(d.handleDeleteUnit()))
		mux.Handle("GET /admin/modbus", siteState(d.handleModbusList()))
		mux.Handle("GET /admin/modbus/new", admin(d.handleModbusForm()))
		mux.Handle("POST /admin/modbus", admin(d.handleSaveModbus()))
		mux.Handle("GET /admin/modbus/{id}", admin(d.handleModbusForm()))
		mux.Handle("POST /admin/modbus/{id}", admin(d.handleSaveModbus()))
		mux.Handle("POST /admin/modbus/{id}/delete", admin(d.handleDeleteModbus()))
		mux.Handle("GET /admin/snmp", siteState(d.handleSNMPList()))
		mux.Handle("GET /admin/snmp/new", admin(d.handleSNMPForm()))
		mux.Handle("POST /admin/snmp", admin(d.handleSaveSNMP()))
		mux.Handle("GET /admin/snmp/{id}", admin(d.handleSNMPForm()))
		mux.Handle("POST /admin/snmp/{id}", admin(d.handleSaveSNMP()))
		mux.Handle("POST /admin/snmp/{id}/delete", admin(d.handleDeleteSNMP()))
		mux.Handle("GET /admin/profiles", admin(d.handleProfiles()))
		mux.Handle("POST /admin/profiles", admin(d.handleSaveProfile()))
		mux.Handle("POST /admin/profiles/delete", admin(d.handleDeleteProfile()))
	}

	mux.Handle("GET /healthz", handleHealth(logger, cfg.Health))
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	mux.Handle("GET /static/", handleStatic())

	mux.Handle(ingestPattern, cfg.Ingest)
	mux.Handle(readerIngestPattern, cfg.ReaderIngest)

	mux.Handle("/", handleNotFound(logger))
}
