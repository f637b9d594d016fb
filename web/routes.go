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
	mux.Handle("GET /search", page(handleSearch(logger, cfg.Store, cfg.Live, cfg.Location, cfg.StaleAfter, cfg.Now)))
	mux.Handle("GET /pumps", page(handlePumps(logger, cfg.Store, cfg.Live, cfg.PumpStates, cfg.ApprovedDrugLibraries, cfg.Now)))
	mux.Handle("GET /assets/{id}", page(handleAsset(logger, cfg.Store, cfg.Live, cfg.History, cfg.PumpStates, cfg.Location, cfg.StaleAfter, cfg.Now)))

	admin := func(h http.Handler) http.Handler { return page(requirePermission(logger, permConfigure)(h)) }
	audit := auditor{store: cfg.Audit, logger: logger}
	at := &apiTokenAdmin{logger: logger, tokens: cfg.APITokens, audit: audit}
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
		mux.Handle("GET /environment", page(environmentHandler(cfg)))
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

	// Alerts: the inbox, alert details and actions (alerts.go).
	if cfg.Alerts != nil {
		ap := &alertPages{logger: logger, desk: cfg.Alerts, loc: cfg.Location, now: cfg.Now}
		if cfg.Devices != nil {
			ap.units = cfg.Devices
		}
		if cfg.Store != nil {
			ap.zones = cfg.Store
		}
		see := func(h http.Handler) http.Handler { return page(requirePermission(logger, permAlerts)(h)) }
		// The live reload and the socket are not user activity: they never
		// extend the session.
		seeLive := func(h http.Handler) http.Handler { return stream(requirePermission(logger, permAlerts)(h)) }
		act := func(h http.Handler) http.Handler { return page(requirePermission(logger, permAlertAct)(h)) }
		mux.Handle("GET /alerts", see(ap.handleInbox()))
		mux.Handle("GET /alerts/rows", seeLive(ap.handleRows()))
		mux.Handle("GET /alerts/live", seeLive(newAlertLive(logger, cfg.Alerts, cfg.Registerer, alertLiveOptions{})))
		mux.Handle("GET /alerts/history", see(ap.handleHistory()))
		mux.Handle("GET /alerts/stock", see(ap.handleStock()))
		mux.Handle("GET /alerts/{id}", see(ap.handleDetail()))
		mux.Handle("POST /alerts/{id}/acknowledge", act(ap.handleAction("acknowledge", ap.acknowledge)))
		mux.Handle("POST /alerts/{id}/shelve", act(ap.handleAction("shelve", ap.shelve)))
		mux.Handle("POST /alerts/{id}/unshelve", act(ap.handleAction("unshelve", ap.unshelve)))
		mux.Handle("POST /alerts/{id}/resolve", act(ap.handleAction("resolve", ap.resolve)))
	}

	// Compliance records: excursions, daily logs, MKT, exports (records.go).
	if cfg.Records != nil {
		rc := newRecords(cfg, audit)
		records := func(h http.Handler) http.Handler { return page(requirePermission(logger, permRecords)(h)) }
		signOff := func(h http.Handler) http.Handler { return page(requirePermission(logger, permSignOff)(h)) }
		mux.Handle("GET /records", records(rc.handleIndex()))
		mux.Handle("GET /records/excursions.csv", records(rc.handleExcursionsCSV()))
		mux.Handle("GET /records/audit.csv", records(rc.handleAuditCSV()))
		mux.Handle("GET /records/excursions/{id}", records(rc.handleExcursion()))
		mux.Handle("POST /records/excursions/{id}", signOff(rc.handleSaveTroubleshooting()))
		mux.Handle("POST /records/excursions/{id}/clear", records(rc.handleClearQuarantine())) // pharmacists and admins: checked inside
		if cfg.Readings != nil {
			mux.Handle("GET /records/chart.svg", api(requirePermission(logger, permRecords)(rc.handleChart())))
		}
		if rc.series() {
			mux.Handle("GET /records/units/{id}/daily", records(rc.handleDaily()))
			mux.Handle("GET /records/units/{id}/daily.csv", records(rc.handleDailyCSV()))
			mux.Handle("POST /records/units/{id}/daily", signOff(rc.handleSignOff()))
			mux.Handle("GET /records/units/{id}/mkt", records(rc.handleMKT()))
		}
	}

	// Alert settings: rules, windows, escalation, contacts, PAR (alertadmin.go).
	if cfg.AlertSettings != nil {
		aa := &alertAdmin{logger: logger, store: cfg.Store, devices: cfg.Devices, settings: cfg.AlertSettings, audit: audit,
			changed: cfg.AlertsChanged, loc: cfg.Location, now: cfg.Now}
		// Facilities and biomed manage maintenance windows and daily
		// schedules (site state, schedules.go); rules, escalation,
		// contacts and PAR levels are admin-only.
		mux.Handle("GET /admin/alerts", siteState(aa.handleIndex()))
		mux.Handle("GET /admin/alerts/units/{id}", siteState(aa.handleUnit()))
		mux.Handle("POST /admin/alerts/units/{id}", admin(aa.handleSaveRules()))
		mux.Handle("POST /admin/alerts/units/{id}/reset", admin(aa.handleResetRules()))
		mux.Handle("POST /admin/alerts/units/{id}/windows", siteState(aa.handleAddWindow()))
		mux.Handle("POST /admin/alerts/windows/{wid}/delete", siteState(aa.handleDeleteWindow()))
		mux.Handle("POST /admin/alerts/units/{id}/schedules", siteState(aa.handleAddSchedule()))
		mux.Handle("POST /admin/alerts/schedules/{sid}/delete", siteState(aa.handleDeleteSchedule()))
		mux.Handle("GET /admin/alerts/escalation", admin(aa.handleEscalation()))
		mux.Handle("POST /admin/alerts/escalation", admin(aa.handleSaveEscalation()))
		mux.Handle("POST /admin/alerts/contacts", admin(aa.handleSaveContact()))
		mux.Handle("POST /admin/alerts/contacts/{id}", admin(aa.handleSaveContact()))
		mux.Handle("POST /admin/alerts/contacts/{id}/delete", admin(aa.handleDeleteContact()))
		mux.Handle("GET /admin/alerts/par", admin(aa.handlePAR()))
		mux.Handle("POST /admin/alerts/par", admin(aa.handleSavePAR()))
		mux.Handle("POST /admin/alerts/par/{pid}/delete", admin(aa.handleDeletePAR()))
	}

	// REST API /api/v1 (api*.go; documented in openapi.json, which
	// TestOpenAPICoversRoutes checks against this block). Bearer API tokens
	// only, never sessions; every route names the same permission as the
	// page it mirrors, refused as JSON errors.
	mux.Handle("GET /api/v1/openapi.json", handleOpenAPI())
	mux.Handle(apiPrefix, handleAPINotFound(logger))
	if cfg.APITokens != nil {
		mux.Handle("GET /admin/api-tokens", admin(at.handlePage()))
		mux.Handle("POST /admin/api-tokens", admin(at.handleCreate()))
		mux.Handle("POST /admin/api-tokens/{id}/revoke", admin(at.handleRevoke()))

		a := &apiServer{cfg: cfg, logger: logger, audit: audit, metrics: m}
		tok := &apiAuth{logger: logger, tokens: cfg.APITokens, now: cfg.Now, m: m,
			limiter: newLoginLimiter(apiFailureWindow, apiMaxAddressFailures, apiLimiterKeys)}
		maps, conf, state := tok.require(permViewMaps), tok.require(permConfigure), tok.require(permSiteState)
		if cfg.FHIR != nil {
			// FHIR R4 read API (package fhir), with the same tokens.
			mux.Handle("GET /fhir/r4/", maps(http.StripPrefix("/fhir/r4", cfg.FHIR)))
		}
		mux.Handle("GET /api/v1/floors", maps(a.handleFloors()))
		mux.Handle("GET /api/v1/floors/{id}", maps(a.handleFloor()))
		mux.Handle("GET /api/v1/zones", maps(a.handleZones()))
		mux.Handle("GET /api/v1/gateways", state(a.handleGateways()))
		mux.Handle("GET /api/v1/assets", maps(a.handleAssets()))
		mux.Handle("GET /api/v1/assets/{id}", maps(a.handleAsset()))
		mux.Handle("GET /api/v1/pumps", maps(a.handlePumps()))
		mux.Handle("GET /api/v1/stream", maps(a.handleStream()))
		// Admin actions (apiadmin.go): plans, discovered tags, API tokens, system status, audit log.
		mux.Handle("GET /api/v1/floors/{id}/plan", maps(a.handleFloorPlan()))
		mux.Handle("GET /api/v1/discovered-tags", conf(a.handleDiscoveredTags()))
		mux.Handle("POST /api/v1/discovered-tags/{tag}/assign", conf(a.handleAssignDiscoveredTag()))
		mux.Handle("POST /api/v1/discovered-tags/{tag}/dismiss", conf(a.handleDismissDiscoveredTag()))
		mux.Handle("GET /api/v1/api-tokens", conf(a.handleAPITokens()))
		mux.Handle("POST /api/v1/api-tokens", conf(a.handleCreateAPIToken()))
		mux.Handle("DELETE /api/v1/api-tokens/{id}", conf(a.handleRevokeAPIToken()))
		mux.Handle("GET /api/v1/system", state(a.handleSystem()))
		if cfg.Assets != nil {
			mux.Handle("PUT /api/v1/assets/{id}/status", tok.require(permSetStatus)(a.handleSetAssetStatus()))
		}
		if cfg.Audit != nil {
			mux.Handle("GET /api/v1/audit", conf(a.handleAuditLog()))
		}
		if cfg.Layout != nil {
			mux.Handle("POST /api/v1/floors", conf(a.handleSaveFloor()))
			mux.Handle("PUT /api/v1/floors/{id}", conf(a.handleSaveFloor()))
			mux.Handle("POST /api/v1/zones", conf(a.handleSaveZone()))
			mux.Handle("PUT /api/v1/zones/{id}", conf(a.handleSaveZone()))
			mux.Handle("DELETE /api/v1/zones/{id}", conf(a.handleDeleteZone()))
			mux.Handle("POST /api/v1/gateways", conf(a.handleSaveGateway()))
			mux.Handle("PUT /api/v1/gateways/{id}", conf(a.handleSaveGateway()))
			mux.Handle("DELETE /api/v1/gateways/{id}", conf(a.handleDeleteGateway()))
			// Admin actions (apiadmin.go): plan upload, scale, gateway push token.
			mux.Handle("PUT /api/v1/floors/{id}/plan", conf(a.handleUploadPlan()))
			mux.Handle("POST /api/v1/floors/{id}/scale", conf(a.handleScale()))
			mux.Handle("POST /api/v1/gateways/{id}/token", conf(a.handleGatewayToken()))
		}
		if cfg.Admin != nil {
			mux.Handle("POST /api/v1/assets", conf(a.handleSaveAsset()))
			mux.Handle("PUT /api/v1/assets/{id}", conf(a.handleSaveAsset()))
			mux.Handle("DELETE /api/v1/assets/{id}", conf(a.handleDeleteAsset()))
			mux.Handle("GET /api/v1/tags", conf(a.handleTags()))
			mux.Handle("POST /api/v1/tags", conf(a.handleAddTag()))
			mux.Handle("DELETE /api/v1/tags/{tag}", conf(a.handleRemoveTag()))
			mux.Handle("GET /api/v1/users", conf(a.handleUsers()))
			mux.Handle("POST /api/v1/users", conf(a.handleCreateUser()))
			mux.Handle("PUT /api/v1/users/{id}", conf(a.handleUpdateUser()))
			// Admin actions (apiadmin.go): CSV import.
			mux.Handle("POST /api/v1/assets/import", conf(a.handleImportAssets()))
		}
		if cfg.History != nil {
			mux.Handle("GET /api/v1/assets/{id}/trail", maps(a.handleTrail()))
		}
		if cfg.Devices != nil {
			mux.Handle("GET /api/v1/sensors", maps(a.handleSensors()))
			mux.Handle("GET /api/v1/units", maps(a.handleUnits()))
			mux.Handle("GET /api/v1/units/{id}", maps(a.handleUnit()))
			mux.Handle("POST /api/v1/units", conf(a.handleSaveUnit()))
			mux.Handle("PUT /api/v1/units/{id}", conf(a.handleSaveUnit()))
			mux.Handle("DELETE /api/v1/units/{id}", conf(a.handleDeleteUnit()))
			mux.Handle("GET /api/v1/modbus-devices", state(a.handleModbusDevices()))
			mux.Handle("GET /api/v1/modbus-devices/{id}", state(a.handleModbusDevice()))
			mux.Handle("POST /api/v1/modbus-devices", conf(a.handleSaveModbus()))
			mux.Handle("PUT /api/v1/modbus-devices/{id}", conf(a.handleSaveModbus()))
			mux.Handle("DELETE /api/v1/modbus-devices/{id}", conf(a.handleDeleteModbus()))
			mux.Handle("GET /api/v1/snmp-targets", state(a.handleSNMPTargets()))
			mux.Handle("GET /api/v1/snmp-targets/{id}", state(a.handleSNMPTarget()))
			mux.Handle("POST /api/v1/snmp-targets", conf(a.handleSaveSNMP()))
			mux.Handle("PUT /api/v1/snmp-targets/{id}", conf(a.handleSaveSNMP()))
			mux.Handle("DELETE /api/v1/snmp-targets/{id}", conf(a.handleDeleteSNMP()))
			// Admin actions (apiadmin.go): test connection, storing nothing.
			mux.Handle("POST /api/v1/modbus-devices/test", conf(a.handleTestModbus()))
			mux.Handle("POST /api/v1/snmp-targets/test", conf(a.handleTestSNMP()))
			if cfg.AlertSettings != nil {
				mux.Handle("GET /api/v1/units/{id}/rules", state(a.handleRules()))
				mux.Handle("PUT /api/v1/units/{id}/rules", conf(a.handleSaveRules()))
				mux.Handle("DELETE /api/v1/units/{id}/rules", conf(a.handleResetRules()))
			}
		}
		if cfg.Readings != nil {
			mux.Handle("GET /api/v1/sensors/{id}/series", tok.require(permRecords)(a.handleSeries()))
		}
		if cfg.Alerts != nil {
			ap := &alertPages{logger: logger, desk: cfg.Alerts, loc: cfg.Location, now: cfg.Now}
			see, act := tok.require(permAlerts), tok.require(permAlertAct)
			mux.Handle("GET /api/v1/alerts", see(a.handleAlerts()))
			mux.Handle("GET /api/v1/alerts/{id}", see(a.handleAlert()))
			mux.Handle("POST /api/v1/alerts/{id}/acknowledge", act(a.handleAlertAction("acknowledge", ap.acknowledge)))
			mux.Handle("POST /api/v1/alerts/{id}/shelve", act(a.handleAlertAction("shelve", ap.shelve)))
			mux.Handle("POST /api/v1/alerts/{id}/unshelve", act(a.handleAlertAction("unshelve", ap.unshelve)))
			mux.Handle("POST /api/v1/alerts/{id}/resolve", act(a.handleAlertAction("resolve", ap.resolve)))
		}
		if cfg.Records != nil {
			mux.Handle("GET /api/v1/excursions", tok.require(permRecords)(a.handleExcursions()))
			rc := newRecords(cfg, audit)
			mux.Handle("PUT /api/v1/excursions/{id}/troubleshooting", tok.require(permSignOff)(a.handleSaveTroubleshooting(rc)))
			mux.Handle("POST /api/v1/excursions/{id}/clear", tok.require(permRecords)(a.handleClearQuarantine(rc))) // pharmacists and admins: checked inside
		}
		if cfg.AlertSettings != nil {
			// As on the pages: facilities and biomed manage maintenance
			// windows and daily schedules; PAR levels, contacts and escalation are admin-only.
			mux.Handle("GET /api/v1/par-levels", conf(a.handlePARLevels()))
			mux.Handle("PUT /api/v1/par-levels/{id}", conf(a.handleSavePAR()))
			mux.Handle("DELETE /api/v1/par-levels/{id}", conf(a.handleDeletePAR()))
			mux.Handle("GET /api/v1/contacts", conf(a.handleContacts()))
			mux.Handle("POST /api/v1/contacts", conf(a.handleSaveContact()))
			mux.Handle("PUT /api/v1/contacts/{id}", conf(a.handleSaveContact()))
			mux.Handle("DELETE /api/v1/contacts/{id}", conf(a.handleDeleteContact()))
			mux.Handle("GET /api/v1/escalation-policies", conf(a.handleEscalation()))
			mux.Handle("PUT /api/v1/escalation-policies", conf(a.handleSaveEscalation()))
			mux.Handle("GET /api/v1/windows", state(a.handleWindows()))
			mux.Handle("POST /api/v1/windows", state(a.handleAddWindow()))
			mux.Handle("DELETE /api/v1/windows/{id}", state(a.handleDeleteWindow()))
			mux.Handle("GET /api/v1/schedules", state(a.handleSchedules()))
			mux.Handle("POST /api/v1/schedules", state(a.handleAddSchedule()))
			mux.Handle("DELETE /api/v1/schedules/{id}", state(a.handleDeleteSchedule()))
		}
		// Devices (apidevices.go): RFID readers and HTTP poll targets, as on /admin/readers.
		if cfg.Readers != nil {
			mux.Handle("GET /api/v1/rfid-readers", conf(a.handleReaders()))
			mux.Handle("GET /api/v1/rfid-readers/{id}", conf(a.handleReader()))
			mux.Handle("POST /api/v1/rfid-readers", conf(a.handleSaveReader()))
			mux.Handle("PUT /api/v1/rfid-readers/{id}", conf(a.handleSaveReader()))
			mux.Handle("DELETE /api/v1/rfid-readers/{id}", conf(a.handleDeleteReader()))
			mux.Handle("POST /api/v1/rfid-readers/{id}/token", conf(a.handleReaderToken()))
			mux.Handle("GET /api/v1/poll-targets", conf(a.handlePolls()))
			mux.Handle("GET /api/v1/poll-targets/{id}", conf(a.handlePoll()))
			mux.Handle("POST /api/v1/poll-targets", conf(a.handleSavePoll()))
			mux.Handle("PUT /api/v1/poll-targets/{id}", conf(a.handleSavePoll()))
			mux.Handle("DELETE /api/v1/poll-targets/{id}", conf(a.handleDeletePoll()))
		}
		// Devices (apidevices.go): wall displays, as on /admin/kiosks.
		if cfg.Kiosks != nil {
			mux.Handle("GET /api/v1/kiosks", conf(a.handleKiosks()))
			mux.Handle("POST /api/v1/kiosks", conf(a.handleCreateKiosk()))
			mux.Handle("DELETE /api/v1/kiosks/{id}", conf(a.handleDeleteKiosk()))
		}
		// Devices (apidevices.go): Modbus and SNMP profiles, as on /admin/profiles.
		if cfg.Devices != nil {
			mux.Handle("GET /api/v1/profiles", conf(a.handleProfiles()))
			mux.Handle("GET /api/v1/profiles/{kind}/{name}", conf(a.handleProfile()))
			mux.Handle("PUT /api/v1/profiles/{kind}/{name}", conf(a.handleSaveProfile()))
			mux.Handle("DELETE /api/v1/profiles/{kind}/{name}", conf(a.handleDeleteProfile()))
		}
		// Records (apidevices.go): daily min/max log, sign-offs, MKT, as on /records/units/{id}.
		if rc := newRecords(cfg, audit); cfg.Records != nil && rc.series() {
			mux.Handle("GET /api/v1/units/{id}/daily", tok.require(permRecords)(a.handleDaily(rc)))
			mux.Handle("POST /api/v1/units/{id}/daily-reviews", tok.require(permSignOff)(a.handleSignOff(rc)))
			mux.Handle("GET /api/v1/units/{id}/mkt", tok.require(permRecords)(a.handleMKT(rc)))
		}
		// PAR stock (apidevices.go), as on /alerts/stock.
		if cfg.Alerts != nil {
			mux.Handle("GET /api/v1/stock", tok.require(permAlerts)(a.handleStock()))
		}
	}

	mux.Handle("GET /healthz", handleHealth(logger, cfg.Health))
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	mux.Handle("GET /static/", handleStatic())

	mux.Handle(ingestPattern, cfg.Ingest)
	mux.Handle(readerIngestPattern, cfg.ReaderIngest)

	mux.Handle("/", handleNotFound(logger))
}
