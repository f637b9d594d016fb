package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/collectors/mqtt"
	"github.com/wardwatch/wardwatch/collectors/rfid"
	"github.com/wardwatch/wardwatch/fhir"
	"github.com/wardwatch/wardwatch/health"
	"github.com/wardwatch/wardwatch/influx"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/web"
	"github.com/wardwatch/wardwatch/web/live"
)

// app is one running WardWatch: the stores, the location engine, the live
// hub and the web handler, wired together. It is the only place that knows
// every adapter.
type app struct {
	cfg       Config
	logger    *slog.Logger
	store     *sql.Store
	telemetry telemetryStore
	sqlTel    *sql.Telemetry // the embedded store; nil on InfluxDB
	influx    *influx.Store  // nil on the embedded store
	pumps     *pumpService
	sensors   *sensorService
	hub       *live.Hub
	runner    *tracker.Runner
	survey    *radioSurvey // fingerprint mode's survey; nil when off
	history   *historyWriter
	handler   http.Handler
	mqtt      *mqtt.Subscriber  // nil when MQTT is off
	recorder  *sightingRecorder // nil unless ingest.record_dir is set
	discovery *discovery
	health    *health.Board
	site      atomic.Pointer[tracker.Site] // the site as last loaded
	rfid      *rfid.Router
	poller    *pollerWithTargets
	readers   *readerLookup
	readings  *readingWriter
	alerts    *alertService
	macs      atomic.Pointer[map[string]bool] // MAC identities configured as tags
	now       func() time.Time

	gatewaysOffline prometheus.Gauge
}

func newApp(ctx context.Context, cfg Config, store *sql.Store, logger *slog.Logger) (*app, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	telemetry, sqlTel, influxStore, err := openTelemetry(ctx, cfg.Telemetry, logger.With("component", "telemetry"), reg)
	if err != nil {
		return nil, err
	}
	opened := false
	defer func() {
		if !opened {
			telemetry.Close()
		}
	}()
	site, err := loadSite(ctx, store)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, logger: logger, store: store, telemetry: telemetry, sqlTel: sqlTel, influx: influxStore,
		now: func() time.Time { return time.Now().UTC() }}
	if cfg.Tracker.SurveySightings != "" {
		if a.survey, err = loadRadioSurvey(cfg.Tracker.SurveySightings, cfg.Tracker.SurveyTruth); err != nil {
			return nil, err
		}
		if err := a.addFingerprints(&site); err != nil {
			return nil, err
		}
	}
	a.hub = live.NewHub(logger.With("component", "live"), reg, live.Options{})
	// After a restart, show where every asset was last seen (as stale)
	// until the engine places it again.
	latest, err := telemetry.LatestPositions(ctx, a.now().Add(-lastSeenHorizon))
	if err != nil {
		return nil, fmt.Errorf("load last known positions: %w", err)
	}
	a.hub.Publish(latest)
	a.history = newHistoryWriter(telemetry, logger.With("component", "history"), reg)

	zoneChanges := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wardwatch_tracker_zone_changes_total", Help: "Room and zone changes the location engine decided.",
	})
	reg.MustRegister(zoneChanges)
	engine := tracker.New(trackerConfig(cfg.Tracker), site)
	if a.alerts, err = newAlertService(ctx, store, cfg.Alerts, cfg.Pumps.ApprovedLibraries(), logger.With("component", "alerts"), reg, a.now); err != nil {
		return nil, err
	}
	a.alerts.loc = location(cfg.HTTP.TimeZone)
	a.alerts.seedLastSeen(latest)
	if influxStore != nil {
		a.alerts.spoolFill = influxStore.SpoolFill
	}
	a.runner = tracker.NewRunner(engine, cfg.Tracker.Interval, 0, func(out tracker.Output) {
		a.hub.Publish(out.Positions)
		a.alerts.ObserveTracker(out)
		a.history.Offer(out.Positions)
		zoneChanges.Add(float64(len(out.ZoneChanges)))
		for _, zc := range out.ZoneChanges {
			logger.Debug("zone change", "asset", zc.AssetID, "floor", zc.FloorID, "from", zc.FromZone, "to", zc.ToZone)
		}
	})
	registerTrackerMetrics(reg, a.runner)

	a.site.Store(&site)
	a.health = health.NewBoard(cfg.Ingest.GatewayOfflineAfter)
	a.health.Track(gatewayIDs(site.Gateways))
	a.gatewaysOffline = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "wardwatch_gateways_offline", Help: "Gateways heard since start that have been silent longer than ingest.gateway_offline_after.",
	})
	reg.MustRegister(a.gatewaysOffline)
	a.discovery = newDiscovery(a.runner, store, site.Tags, logger.With("component", "discovery"), reg)
	a.setMACs(site.Tags)

	var sink ble.Sink = a.discovery
	if cfg.Ingest.RecordDir != "" {
		if a.recorder, err = newSightingRecorder(cfg.Ingest.RecordDir, site, a.discovery, logger.With("component", "record"), a.now()); err != nil {
			return nil, err
		}
		sink = a.recorder
	}
	// One router for every gateway format, pushed or published: it resolves
	// gateway keys, applies the MAC policy and feeds the engine.
	a.readings = newReadingWriter(telemetry, logger.With("component", "readings"), reg)
	a.readings.listen(a.alerts.ObserveReadings)
	a.pumps = newPumpService(store, telemetry, a.readings, a.alerts, logger.With("component", "snmp"), reg)
	if err := a.pumps.reload(ctx); err != nil {
		return nil, err
	}
	a.sensors = newSensorService(store, a.readings, a.alerts, logger.With("component", "modbus"), reg)
	if err := a.sensors.reload(ctx); err != nil {
		return nil, err
	}
	if err := a.alerts.reload(ctx, site, a.sensors.profile); err != nil {
		return nil, err
	}
	router := ble.NewRouter(store, sink, a.readings, logger.With("component", "collector"), reg, ble.RouterOptions{
		AllowMAC: a.allowMAC,
		Health:   a.health,
	})
	ingest := ble.NewPushHandler(store, sink, logger.With("component", "ingest"), reg, ble.PushHandlerOptions{
		MaxBodyBytes: cfg.Ingest.MaxBodyBytes,
		Router:       router,
		Health:       a.health,
	})

	// RFID readers push or are polled; their reads become sightings at
	// their antennas' anchor gateways, door reads become crossings.
	a.readers = newReaderLookup(store)
	readers := a.readers
	crossingCount := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wardwatch_rfid_crossings_total", Help: "Door crossings recorded by RFID portal readers.",
	})
	reg.MustRegister(crossingCount)
	if a.rfid, err = rfid.NewRouter(rfid.RouterOptions{
		Readers: readers, Sightings: sink, RSSIAt1m: rssiAt1m(&a.site),
		ZoneChanges: &crossings{site: &a.site, logger: logger.With("component", "rfid"), count: crossingCount},
		Logger:      logger.With("component", "rfid"), Registerer: reg,
	}); err != nil {
		return nil, fmt.Errorf("rfid: %w", err)
	}
	reads := readHealth{next: a.rfid, readers: readers, board: a.health, now: a.now}
	readerIngest := rfid.NewPushHandler(rfid.PushOptions{Readers: readers, Sink: reads, Logger: logger.With("component", "rfid"),
		Registerer: reg, MaxBodyBytes: cfg.Ingest.MaxBodyBytes})
	rfidPoll := rfid.NewPollHandler(rfid.PollOptions{Sink: reads, Logger: logger.With("component", "rfid"), Registerer: reg})
	a.poller = newPoller(store, router, rfidPoll, a.health, logger.With("component", "poll"), reg, a.now)
	polls, err := store.PollTargets(ctx)
	if err != nil {
		return nil, fmt.Errorf("load poll targets: %w", err)
	}
	a.poller.apply(polls)

	if cfg.MQTT.Broker != "" {
		a.mqtt, err = newMQTTSubscriber(cfg.MQTT, router, logger.With("component", "mqtt"), reg)
		if err != nil {
			return nil, err
		}
	}
	a.handler = web.NewServer(web.Config{
		Logger:                logger.With("component", "web"),
		Store:                 store,
		Live:                  a.hub,
		Ingest:                ingest,
		ReaderIngest:          readerIngest,
		Readers:               store,
		PollStatus:            a.poller.status,
		Metrics:               reg,
		Registerer:            reg,
		Health:                store.Ping,
		SecureCookies:         cfg.HTTP.SecureCookies,
		SessionIdle:           cfg.Session.IdleTimeout,
		SessionMax:            cfg.Session.MaxLifetime,
		StaleAfter:            cfg.Tracker.StaleAfter,
		Devices:               store,
		PumpStates:            a.pumps.Latest,
		SystemChecks:          a.systemChecks,
		LatestReadings:        a.sensors.unitReadings,
		ApprovedDrugLibraries: cfg.Pumps.ApprovedLibraries(),
		Collectors: web.Collectors{
			ModbusProfiles:  a.sensors.profileInfos,
			ModbusStatus:    a.sensors.statusByDevice,
			TestModbus:      a.sensors.test,
			SNMPProfiles:    a.pumps.profileInfos,
			SNMPStatus:      a.pumps.statusByTarget,
			TestSNMP:        a.pumps.test,
			ValidateProfile: validateProfile,
			Changed:         a.devicesChanged,
		}, Admin: store,
		Layout:        store,
		Kiosks:        store,
		History:       telemetry,
		Assets:        statusSetter{store: store, alerts: a.alerts},
		Location:      location(cfg.HTTP.TimeZone),
		Audit:         store,
		GatewayHealth: a.health.Snapshot,
		OfflineAfter:  cfg.Ingest.GatewayOfflineAfter,
		ConfigChanged: a.reloadSite,
		Alerts:        a.alerts,
		Records:       recordStore{store},
		Readings:      telemetry,
		UnitSensors:   a.sensors.unitSensors,
		AlertSettings: store,
		AlertsChanged: a.alertsChanged,
		FHIR:          fhir.NewHandler(fhirSource{a}, fhirOptions(a, reg)),
		APITokens:     store,
		Positions:     a.hub.Subscribe,
	})
	opened = true
	return a, nil
}

// devicesChanged applies the stored devices, targets and profiles to the
// collectors after an admin change.
func (a *app) devicesChanged(ctx context.Context) {
	if err := a.pumps.reload(ctx); err != nil {
		a.logger.Error("apply SNMP targets", "err", err)
	}
	if err := a.sensors.reload(ctx); err != nil {
		a.logger.Error("apply Modbus devices", "err", err)
	}
	a.alertsChanged(ctx)
}

// alertsChanged applies the stored alert configuration (units, rules,
// windows, contacts, policies, PAR levels) to the alert rules.
func (a *app) alertsChanged(ctx context.Context) {
	if err := a.alerts.reload(ctx, *a.site.Load(), a.sensors.profile); err != nil {
		a.logger.Error("apply alert configuration", "err", err)
	}
}

// location loads the configured time zone (validated with the config).
func location(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.Local
	}
	return loc
}

// reloadSite reads the site from the config store again and hands it to
// the location engine, the tag discovery, the MAC policy and the gateway
// health board, after an admin change. A failure is logged: the previous
// site stays in use.
func (a *app) reloadSite(ctx context.Context) {
	site, err := loadSite(ctx, a.store)
	if err != nil {
		a.logger.Error("reload site after a configuration change", "err", err)
		return
	}
	if err := a.addFingerprints(&site); err != nil {
		// The floors or gateways the survey was recorded with are gone:
		// ranging alone is better than no positions.
		a.logger.Error("fingerprint mode off: the radio-map survey no longer matches the site", "err", err)
	}
	a.site.Store(&site)
	a.readers.clear()
	a.runner.SetSite(site)
	a.discovery.setTags(site.Tags)
	if polls, err := a.store.PollTargets(ctx); err != nil {
		a.logger.Error("reload poll targets", "err", err)
	} else {
		a.poller.apply(polls)
	}
	a.setMACs(site.Tags)
	a.health.Track(gatewayIDs(site.Gateways))
	a.alertsChanged(ctx)
	a.logger.Info("site reloaded", "floors", len(site.Floors), "zones", len(site.Zones), "gateways", len(site.Gateways), "tags", len(site.Tags))
}

// addFingerprints gives site the radio map of the configured survey, in
// site's IDs; without a survey it does nothing.
func (a *app) addFingerprints(site *tracker.Site) error {
	if a.survey == nil {
		return nil
	}
	m, err := a.survey.mapFor(*site)
	if err != nil {
		return err
	}
	site.Fingerprints = m
	return nil
}

// setMACs sets the MAC policy of the collectors: a MAC-derived identity
// counts only when an admin configured it as a tag.
func (a *app) setMACs(tags []wardwatch.Tag) {
	macs := make(map[string]bool)
	for _, t := range tags {
		if strings.HasPrefix(t.ID, "mac:") {
			macs[t.ID] = true
		}
	}
	a.macs.Store(&macs)
}

// allowMAC reports whether a MAC-derived identity is a configured tag. It
// is safe for concurrent use.
func (a *app) allowMAC(id string) bool { return (*a.macs.Load())[id] }

func gatewayIDs(gws []wardwatch.Gateway) []int64 {
	ids := make([]int64, len(gws))
	for i, g := range gws {
		ids[i] = g.ID
	}
	return ids
}

// watchGateways logs gateways going offline and coming back, and keeps
// the offline gauge, checking every few seconds.
func (a *app) watchGateways(ctx context.Context) error {
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	offline := make(map[int64]bool)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		now := a.now()
		for _, tr := range a.health.Transitions(now) {
			switch {
			case tr.Online && offline[tr.GatewayID]:
				delete(offline, tr.GatewayID)
				a.logger.Info("gateway back online", "gateway", tr.GatewayID)
				a.alerts.GatewayChanged(tr.GatewayID, true, now)
			case tr.Online:
				a.logger.Debug("gateway heard", "gateway", tr.GatewayID)
				a.alerts.GatewayChanged(tr.GatewayID, true, now) // clears an offline alert from before a restart
			default:
				offline[tr.GatewayID] = true
				a.alerts.GatewayChanged(tr.GatewayID, false, tr.LastSeen.Add(a.cfg.Ingest.GatewayOfflineAfter))
				a.logger.Warn("gateway offline", "gateway", tr.GatewayID, "last_seen", tr.LastSeen, "silent_for", now.Sub(tr.LastSeen).Round(time.Second))
			}
		}
		a.gatewaysOffline.Set(float64(len(offline)))
	}
}

// lastSeenHorizon is how far back a restart looks for last known positions.
const lastSeenHorizon = 7 * 24 * time.Hour

// trackerConfig maps the configuration onto the engine's, where a zero
// means "use the default" and a negative value means "off".
func trackerConfig(c TrackerConfig) tracker.Config {
	off := func(v float64) float64 {
		if v == 0 {
			return -1
		}
		return v
	}
	return tracker.Config{
		Window:     c.Window,
		MinDwell:   time.Duration(off(float64(c.MinDwell))),
		ZoneMargin: off(c.ZoneMargin),
		StaleAfter: c.StaleAfter,
	}
}

// newMQTTSubscriber subscribes to the site's broker and routes every message
// through the collectors' router, reading each in the configured format or
// the one its topic implies.
func newMQTTSubscriber(cfg MQTTConfig, router *ble.Router, logger *slog.Logger, reg prometheus.Registerer) (*mqtt.Subscriber, error) {
	format := ble.Format(cfg.Format)
	filters := cfg.TopicFilters()
	handle := func(ctx context.Context, m mqtt.Message) {
		if m.Retained {
			return // the broker's stored copy of an old message: not a new sighting
		}
		f, ok := messageFormat(filters, format, m.Topic)
		if !ok {
			logger.Debug("mqtt message on a topic of no known format", "topic", m.Topic)
			return
		}
		if _, err := router.Handle(ctx, f, m.Topic, m.Payload, m.Received.UTC()); err != nil && ctx.Err() == nil {
			logger.Debug("mqtt message rejected", "topic", m.Topic, "err", err)
		}
	}
	sub, err := mqtt.NewSubscriber(mqtt.Config{
		Broker:   cfg.Broker,
		ClientID: cfg.ClientID,
		Username: cfg.Username,
		Password: cfg.Password,
		CAFile:   cfg.CAFile,
		CertFile: cfg.CertFile,
		KeyFile:  cfg.KeyFile,
		Topics:   cfg.TopicList(),
	}, handle, logger, reg)
	if err != nil {
		return nil, fmt.Errorf("mqtt: %w", err)
	}
	return sub, nil
}

// messageFormat decides how to read a message on topic: the format of the
// first topic entry naming one that matches it, else the configured format,
// else (auto) the one its topic's shape implies.
func messageFormat(filters []TopicFilter, configured ble.Format, topic string) (ble.Format, bool) {
	for _, tf := range filters {
		if tf.Format != "" && topicMatches(tf.Filter, topic) {
			return tf.Format, true
		}
	}
	if configured != "auto" {
		return configured, true
	}
	return ble.DetectFormat(topic)
}

// loadSite reads what the location engine needs from the config store.
func loadSite(ctx context.Context, store *sql.Store) (tracker.Site, error) {
	var site tracker.Site
	var err error
	if site.Floors, err = store.Floors(ctx); err != nil {
		return site, fmt.Errorf("load floors: %w", err)
	}
	if site.Zones, err = store.Zones(ctx, 0); err != nil {
		return site, fmt.Errorf("load zones: %w", err)
	}
	if site.Gateways, err = store.Gateways(ctx); err != nil {
		return site, fmt.Errorf("load gateways: %w", err)
	}
	if site.Tags, err = store.Tags(ctx); err != nil {
		return site, fmt.Errorf("load tags: %w", err)
	}
	return site, nil
}

func registerTrackerMetrics(reg prometheus.Registerer, r *tracker.Runner) {
	counter := func(name, help string, v func(tracker.Stats) uint64) {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(v(r.Stats())) }))
	}
	counter("wardwatch_tracker_sightings_accepted_total", "Sightings the location engine used.",
		func(s tracker.Stats) uint64 { return s.Accepted })
	counter("wardwatch_tracker_sightings_unknown_tag_total", "Sightings of tags that belong to no asset.",
		func(s tracker.Stats) uint64 { return s.UnknownTag })
	counter("wardwatch_tracker_sightings_unknown_gateway_total", "Sightings from gateways not configured.",
		func(s tracker.Stats) uint64 { return s.UnknownGateway })
	counter("wardwatch_tracker_sightings_invalid_total", "Sightings with an impossible RSSI or timestamp.",
		func(s tracker.Stats) uint64 { return s.Invalid })
	counter("wardwatch_tracker_solver_fallbacks_total", "Fixes where the least-squares solve failed and the weighted centroid was used.",
		func(s tracker.Stats) uint64 { return s.Fallbacks })
	counter("wardwatch_tracker_outlier_fixes_total", "Fixes the motion-consistency gate down-weighted as outliers.",
		func(s tracker.Stats) uint64 { return s.Outliers })
	counter("wardwatch_tracker_reacquired_total", "Tags whose filter was reset after fixes kept failing the motion gate.",
		func(s tracker.Stats) uint64 { return s.Reacquired })
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wardwatch_tracker_tags", Help: "Tags the location engine is tracking.",
	}, func() float64 { return float64(r.Stats().Tags) }))
}

// serve runs the HTTP server on ln and every background loop, plus extra
// loops (the demo's simulator), until ctx is done or one of them fails.
func (a *app) serve(ctx context.Context, ln net.Listener, extra ...func(context.Context) error) error {
	g, ctx := errgroup.WithContext(ctx)
	srv := &http.Server{
		// Requests (and the websockets Shutdown does not track) end with
		// the service.
		BaseContext:       func(net.Listener) context.Context { return ctx },
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	g.Go(func() error { return a.hub.Run(ctx) })
	g.Go(func() error { return a.runner.Run(ctx) })
	g.Go(func() error { return a.history.Run(ctx) })
	g.Go(func() error { return a.housekeeping(ctx) })
	g.Go(func() error { return a.discovery.Run(ctx) })
	g.Go(func() error { return a.watchGateways(ctx) })
	g.Go(func() error { return a.rfid.Run(ctx) })
	g.Go(func() error { return a.readings.Run(ctx) })
	g.Go(func() error { return a.alerts.Run(ctx) })
	g.Go(func() error { return a.pumps.collector.Run(ctx) })
	g.Go(func() error { return a.sensors.collector.Run(ctx) })
	if a.influx != nil {
		g.Go(func() error { return a.influx.Run(ctx) })
	}
	g.Go(func() error { return a.poller.Run(ctx) })
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
	if a.mqtt != nil {
		g.Go(func() error { return a.mqtt.Run(ctx) })
	}
	for _, loop := range extra {
		g.Go(func() error { return loop(ctx) })
	}
	a.logger.Info("listening", "addr", ln.Addr().String())
	err := g.Wait()
	a.logger.Info("stopped")
	return err
}

// housekeeping deletes expired sessions and positions past retention.
func (a *app) housekeeping(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Minute)
	defer tick.Stop()
	for {
		now := a.now()
		if n, err := a.store.DeleteExpiredSessions(ctx, now); err != nil && ctx.Err() == nil {
			a.logger.Warn("delete expired sessions", "err", err)
		} else if n > 0 {
			a.logger.Debug("deleted expired sessions", "count", n)
		}
		// Maintenance windows explain suppressed alarms in the records:
		// kept as long as the readings they cover.
		if n, err := a.store.DeleteAlertWindowsBefore(ctx, now.Add(-a.cfg.Telemetry.ReadingsRetention)); err != nil && ctx.Err() == nil {
			a.logger.Warn("delete old maintenance windows", "err", err)
		} else if n > 0 {
			a.logger.Debug("deleted old maintenance windows", "count", n)
		}
		if a.sqlTel != nil {
			if res, err := a.sqlTel.ApplyRetention(ctx, a.retention(), now); err != nil && ctx.Err() == nil {
				a.logger.Warn("apply telemetry retention", "err", err)
			} else {
				a.logger.Debug("telemetry retention applied", "result", fmt.Sprintf("%+v", res))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func (a *app) close() {
	if err := a.telemetry.Close(); err != nil {
		a.logger.Warn("close telemetry store", "err", err)
	}
	if a.recorder != nil {
		if err := a.recorder.Close(); err != nil {
			a.logger.Warn("close sightings recording", "err", err)
		}
	}
}

var _ wardwatch.TelemetryStore = (*sql.Telemetry)(nil)
