package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/alerts/notify"
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/tracker"
	"github.com/wardwatch/wardwatch/web"
)

// alertService runs the alert rules. Collectors and the location engine
// hand it what they observe (readings, positions, zone changes, pump
// states, gateways and devices going offline); one goroutine feeds the pure
// evaluators in order, applies their changes to the alert book, stores every
// alert, audit record and excursion, and every interval re-judges time-based
// rules and sends the escalations that fell due. Users act on alerts through
// the web pages (web.AlertDesk).
type alertService struct {
	store   *sql.Store
	logger  *slog.Logger
	now     func() time.Time
	every   time.Duration
	pumpCfg func() alerts.PumpConfig
	// loc is the hospital's time zone (http.time_zone), in which daily
	// schedules start; nil: UTC.
	loc *time.Location

	eval   *alerts.Evaluator
	assets *alerts.AssetEvaluator
	pumps  *alerts.PumpEvaluator
	book   *alerts.Book

	dispatcher *notify.Dispatcher      // nil: in-app only
	channels   map[alerts.Channel]bool // the channels the dispatcher delivers
	// unconfirmed holds the alerts that were active when WardWatch last
	// stopped, by key, until an evaluator raises or clears them again;
	// those still unconfirmed restoreGrace after the start are cleared.
	unconfirmed map[alerts.Key]int64
	started     time.Time
	contacts    atomic.Pointer[[]alerts.Contact]

	// in carries observations to Run's goroutine, in arrival order.
	in chan func(now time.Time) (alerts.Output, error)

	saveMu  sync.Mutex // serialises writes so an older alert never overwrites a newer one
	mu      sync.Mutex // guards pending and lastSeen
	pending pendingAlerts
	// lastSeen is where each asset was last placed, for reconfiguration.
	lastSeen map[int64]wardwatch.Position

	subsMu sync.Mutex
	subs   map[chan web.AlertEvent]struct{}
	seq    uint64

	m alertMetrics

	// spoolFill, when set, reports the InfluxDB spool's bytes and bound;
	// spoolAlarm is whether its alert is raised (Run's goroutine only).
	spoolFill  func() (bytes, max int64)
	spoolAlarm bool
}

// pendingAlerts is what is not yet stored: alerts by ID (latest version),
// audits in order, excursions by their key.
type pendingAlerts struct {
	alerts     map[int64]alerts.Alert
	audits     []alerts.Audit
	excursions map[excursionKey]alerts.Excursion
}

type excursionKey struct {
	sensor string
	metric wardwatch.Metric
	start  time.Time
}

type alertMetrics struct {
	dropped      prometheus.Counter
	refused      *prometheus.CounterVec
	storeErrors  prometheus.Counter
	noRecipients prometheus.Counter
	notified     *prometheus.CounterVec
}

// Limits of the alert service.
const (
	alertQueue       = 4096 // observations waiting for the evaluators
	alertSubscribers = 64   // buffered inbox events per subscriber
)

func newAlertService(ctx context.Context, store *sql.Store, cfg AlertsConfig, approved map[string]string, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*alertService, error) {
	s := &alertService{store: store, logger: logger, now: now, every: cfg.Interval,
		in:       make(chan func(time.Time) (alerts.Output, error), alertQueue),
		lastSeen: make(map[int64]wardwatch.Position),
		subs:     make(map[chan web.AlertEvent]struct{}),
		pending:  pendingAlerts{alerts: map[int64]alerts.Alert{}, excursions: map[excursionKey]alerts.Excursion{}},
	}
	s.pumpCfg = func() alerts.PumpConfig { return alerts.PumpConfig{ApprovedLibraries: approved} }
	s.m = alertMetrics{
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "wardwatch_alert_observations_dropped_total",
			Help: "Observations the alert rules never saw because their queue was full."}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wardwatch_alert_observations_refused_total",
			Help: "Observations an evaluator refused, by evaluator."}, []string{"evaluator"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "wardwatch_alert_store_errors_total",
			Help: "Failed writes of alerts, audit records or excursions (retried)."}),
		noRecipients: prometheus.NewCounter(prometheus.CounterOpts{Name: "wardwatch_alert_notifications_unrouted_total",
			Help: "Group notifications that reached nobody: no enabled contact for the group, team and unit."}),
		notified: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "wardwatch_alert_notifications_due_total",
			Help: "Notifications that fell due, by channel."}, []string{"channel"}),
	}
	reg.MustRegister(s.m.dropped, s.m.refused, s.m.storeErrors, s.m.noRecipients, s.m.notified)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wardwatch_alerts_open",
		Help: "Alerts in the book (open, shelved or suppressed)."}, func() float64 { return float64(len(s.book.Open())) }))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "wardwatch_alert_queue",
		Help: "Observations waiting for the alert rules."}, func() float64 { return float64(len(s.in)) }))

	open, lastID, err := store.OpenAlerts(ctx)
	if err != nil {
		return nil, fmt.Errorf("load open alerts: %w", err)
	}
	policies, err := store.EscalationPolicies(ctx)
	if err != nil {
		return nil, fmt.Errorf("load escalation policies: %w", err)
	}
	if s.book, err = alerts.NewBook(alerts.BookConfig{Policies: policies}, lastID, open); err != nil {
		return nil, fmt.Errorf("alert book: %w", err)
	}
	t := now()
	s.started, s.unconfirmed = t, map[alerts.Key]int64{}
	for _, a := range open {
		if a.Active {
			s.unconfirmed[a.Key] = a.ID
		}
	}
	if s.eval, err = alerts.NewEvaluator(alerts.Config{}, t); err != nil {
		return nil, err
	}
	if s.assets, err = alerts.NewAssetEvaluator(alerts.AssetConfig{}, t); err != nil {
		return nil, err
	}
	if s.pumps, err = alerts.NewPumpEvaluator(s.pumpCfg()); err != nil {
		return nil, err
	}
	s.resumeParents(open)
	if s.dispatcher, err = newDispatcher(cfg, s, logger, reg); err != nil {
		return nil, err
	}
	return s, nil
}

// newDispatcher builds the e-mail and webhook senders the configuration
// names; with neither, notifications stay in-app.
func newDispatcher(cfg AlertsConfig, s *alertService, logger *slog.Logger, reg prometheus.Registerer) (*notify.Dispatcher, error) {
	metrics, err := notify.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	senders := map[alerts.Channel]notify.Sender{}
	if cfg.SMTPAddr != "" {
		password, err := readSecretFile(cfg.SMTPPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("alerts.smtp_password_file: %w", err)
		}
		m, err := notify.NewMailer(notify.MailConfig{Addr: cfg.SMTPAddr, From: cfg.SMTPFrom, Username: cfg.SMTPUsername,
			Password: password, TLS: notify.TLSMode(cfg.SMTPTLS), Metrics: metrics, Logger: logger})
		if err != nil {
			return nil, err
		}
		senders[alerts.ChannelEmail] = m
	}
	if hooks := cfg.WebhookList(); len(hooks) > 0 {
		secret, err := readSecretFile(cfg.WebhookSecretFile)
		if err != nil {
			return nil, fmt.Errorf("alerts.webhook_secret_file: %w", err)
		}
		set := notify.WebhookSet{}
		for _, h := range hooks {
			w, err := notify.NewWebhook(notify.WebhookConfig{URL: h.URL, Secret: []byte(secret), Metrics: metrics, Logger: logger})
			if err != nil {
				return nil, fmt.Errorf("alerts.webhooks %s: %w", h.Name, err)
			}
			set[h.Name] = w
		}
		senders[alerts.ChannelWebhook] = set
	}
	s.channels = map[alerts.Channel]bool{}
	for ch := range senders {
		s.channels[ch] = true
	}
	if len(senders) == 0 {
		return nil, nil
	}
	return notify.NewDispatcher(notify.DispatcherConfig{Senders: senders, Metrics: metrics, Logger: logger,
		OnResult: s.delivered})
}

// delivered records a delivery's outcome with its alert.
func (s *alertService) delivered(n alerts.Notification, err error, at time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if serr := s.store.RecordNotification(ctx, n, err, at); serr != nil {
		s.logger.Warn("record notification", "alert", n.AlertID, "err", serr)
	}
}

// Run feeds observations to the evaluators and re-judges the rules every
// interval until ctx is done; then it stores what is pending.
func (s *alertService) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if s.dispatcher != nil {
		wg.Go(func() {
			if err := s.dispatcher.Run(ctx); err != nil && ctx.Err() == nil {
				s.logger.Error("notification dispatcher stopped", "err", err)
			}
		})
	}
	defer wg.Wait()
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			s.flush(flushCtx)
			cancel()
			return nil
		case f := <-s.in:
			out, err := f(s.now())
			s.apply(ctx, out, err)
		case <-tick.C:
			s.tick(ctx)
		}
	}
}

// observe queues an observation for the evaluators without blocking the
// collector that made it.
func (s *alertService) observe(f func(now time.Time) (alerts.Output, error)) {
	select {
	case s.in <- f:
	default:
		s.m.dropped.Inc()
	}
}

// ObserveReadings judges sensor readings (the reading writer's listener).
func (s *alertService) ObserveReadings(rs []wardwatch.Reading) {
	rs = slices.Clone(rs)
	s.observe(func(time.Time) (alerts.Output, error) {
		var out alerts.Output
		for _, r := range rs {
			o, err := s.eval.Observe(r)
			if err != nil {
				s.m.refused.WithLabelValues("environment").Inc()
				continue
			}
			out = merge(out, o)
		}
		return out, nil
	})
}

// ObserveTracker judges the location engine's positions and zone changes.
func (s *alertService) ObserveTracker(out tracker.Output) {
	if len(out.Positions) == 0 && len(out.ZoneChanges) == 0 {
		return
	}
	s.mu.Lock()
	for _, p := range out.Positions {
		if p.AssetID != 0 {
			s.lastSeen[p.AssetID] = p
		}
	}
	s.mu.Unlock()
	out.Positions, out.ZoneChanges = slices.Clone(out.Positions), slices.Clone(out.ZoneChanges)
	s.observe(func(time.Time) (alerts.Output, error) {
		var res alerts.Output
		for _, zc := range out.ZoneChanges {
			if zc.AssetID == 0 {
				continue
			}
			o, err := s.assets.ObserveZoneChange(zc)
			if err != nil {
				s.m.refused.WithLabelValues("assets").Inc()
				continue
			}
			res = merge(res, o)
		}
		for _, p := range out.Positions {
			if p.AssetID == 0 {
				continue
			}
			o, err := s.assets.ObservePosition(p)
			if err != nil {
				s.m.refused.WithLabelValues("assets").Inc()
				continue
			}
			res = merge(res, o)
		}
		return res, nil
	})
}

// ObservePumps judges infusion-pump states.
func (s *alertService) ObservePumps(ps []wardwatch.PumpState) {
	ps = slices.Clone(ps)
	s.observe(func(time.Time) (alerts.Output, error) {
		var out alerts.Output
		for _, p := range ps {
			o, err := s.pumps.ObservePump(p)
			if err != nil {
				s.m.refused.WithLabelValues("pumps").Inc()
				continue
			}
			out = merge(out, o)
		}
		return out, nil
	})
}

// PumpTargetChanged judges an SNMP target (pump server) going offline or
// coming back.
func (s *alertService) PumpTargetChanged(id int64, online bool, at time.Time) {
	s.observe(func(time.Time) (alerts.Output, error) { return s.pumps.TargetChange(id, online, at) })
}

// GatewayChanged judges a gateway going offline or coming back.
func (s *alertService) GatewayChanged(id int64, online bool, at time.Time) {
	s.observe(func(time.Time) (alerts.Output, error) {
		return s.eval.ParentChange(alerts.Subject{Kind: alerts.SubjectGateway, ID: strconv.FormatInt(id, 10)}, online, at)
	})
}

// DeviceChanged judges a Modbus device going offline or coming back.
func (s *alertService) DeviceChanged(name string, online bool, at time.Time) {
	s.observe(func(time.Time) (alerts.Output, error) {
		return s.eval.ParentChange(alerts.Subject{Kind: alerts.SubjectDevice, ID: name}, online, at)
	})
}

func merge(a, b alerts.Output) alerts.Output {
	a.Changes = append(a.Changes, b.Changes...)
	a.Excursions = append(a.Excursions, b.Excursions...)
	a.Statuses = append(a.Statuses, b.Statuses...)
	return a
}

// apply takes an evaluator's output into the book and the store.
func (s *alertService) apply(ctx context.Context, out alerts.Output, err error) {
	if err != nil {
		s.logger.Warn("alert evaluation refused an observation", "err", err)
		return
	}
	if out.Empty() {
		return
	}
	s.mu.Lock()
	for _, c := range out.Changes {
		if c.Type == alerts.ChangeRaise || c.Type == alerts.ChangeClear {
			delete(s.unconfirmed, c.Key)
		}
	}
	s.mu.Unlock()
	changed, audits, err := s.book.ApplyAll(out.Changes)
	if err != nil {
		s.logger.Error("apply alert changes", "err", err)
	}
	for _, st := range out.Statuses {
		s.setStatus(ctx, st)
	}
	s.keep(changed, audits, out.Excursions)
	s.publish(changed, nil)
	s.save(ctx)
}

// setStatus stores a status the zone rules set on an asset, audited as the
// system's.
func (s *alertService) setStatus(ctx context.Context, st alerts.StatusChange) {
	to := wardwatch.AssetStatus(st.To)
	if !to.Valid() {
		s.logger.Debug("asset status not stored", "asset", st.AssetID, "status", st.To)
		return
	}
	if err := s.store.SetAssetStatus(ctx, st.AssetID, to); err != nil {
		s.logger.Warn("store asset status", "asset", st.AssetID, "status", st.To, "err", err)
		return
	}
	e := &wardwatch.AuditEntry{Time: st.Time, Username: alerts.SystemUser, Action: "status", Subject: "asset",
		SubjectID: strconv.FormatInt(st.AssetID, 10), Old: string(st.From), New: string(st.To), Reason: st.Reason}
	if err := s.store.AppendAudit(ctx, e); err != nil {
		s.logger.Warn("audit asset status", "asset", st.AssetID, "err", err)
	}
}

// keep adds alerts, audits and excursions to what is waiting to be stored.
func (s *alertService) keep(as []alerts.Alert, audits []alerts.Audit, xs []alerts.Excursion) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range as {
		s.pending.alerts[a.ID] = a
	}
	s.pending.audits = append(s.pending.audits, audits...)
	for _, x := range xs {
		s.pending.excursions[excursionKey{x.SensorID, x.Metric, x.Start}] = x
	}
}

// save stores what is pending; on failure it stays pending for the next
// attempt, so no transition is lost while the database is away.
func (s *alertService) save(ctx context.Context) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	s.mu.Lock()
	p := s.pending
	s.pending = pendingAlerts{alerts: map[int64]alerts.Alert{}, excursions: map[excursionKey]alerts.Excursion{}}
	s.mu.Unlock()
	if len(p.alerts) == 0 && len(p.audits) == 0 && len(p.excursions) == 0 {
		return nil
	}
	as := make([]alerts.Alert, 0, len(p.alerts))
	for _, a := range p.alerts {
		as = append(as, a)
	}
	xs := make([]alerts.Excursion, 0, len(p.excursions))
	for _, x := range p.excursions {
		xs = append(xs, x)
	}
	err := s.store.SaveAlerts(ctx, as, p.audits)
	if err == nil && len(xs) > 0 {
		if err = s.store.SaveExcursions(ctx, xs); err != nil {
			as, p.audits = nil, nil // stored; only the excursions remain
		}
	}
	if err == nil {
		return nil
	}
	s.m.storeErrors.Inc()
	s.logger.Error("store alerts; will retry", "alerts", len(as), "audits", len(p.audits), "excursions", len(xs), "err", err)
	// Put back what failed, under anything newer that arrived meanwhile.
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range as {
		if _, newer := s.pending.alerts[a.ID]; !newer {
			s.pending.alerts[a.ID] = a
		}
	}
	s.pending.audits = append(p.audits, s.pending.audits...)
	for k, x := range p.excursions {
		if _, newer := s.pending.excursions[k]; !newer {
			s.pending.excursions[k] = x
		}
	}
	return fmt.Errorf("store alerts: %w", err)
}

// tick re-judges time-based rules (silence, missing assets, shelving that
// ran out, pumps not heard) and sends the notifications that fell due.
func (s *alertService) tick(ctx context.Context) {
	now := s.now()
	out := merge(merge(s.eval.Tick(now), s.assets.Tick(now)), s.pumps.Tick(now))
	out.Changes = append(out.Changes, s.expireUnconfirmed(now)...)
	out.Changes = append(out.Changes, s.checkSpool(now)...)
	s.apply(ctx, out, nil)
	changed, audits := s.book.Tick(now)
	s.keep(changed, audits, nil)
	s.publish(changed, nil)
	s.escalate(ctx, now)
	s.save(ctx)
}

// resumeParents tells the evaluators which gateways, devices and pump
// servers were offline when WardWatch stopped, so that their alerts clear
// when they are heard again rather than waiting for restoreGrace.
func (s *alertService) resumeParents(open []alerts.Alert) {
	for _, a := range open {
		if !a.Active {
			continue
		}
		var err error
		switch a.Key.Rule {
		case alerts.RuleGatewayOffline, alerts.RuleDeviceOffline:
			_, err = s.eval.ParentChange(a.Key.Subject, false, a.RaisedAt)
		case alerts.RulePumpTargetOffline:
			var id int64
			if id, err = strconv.ParseInt(a.Key.Subject.ID, 10, 64); err == nil {
				_, err = s.pumps.TargetChange(id, false, a.RaisedAt)
			}
		default:
			continue
		}
		if err != nil {
			s.logger.Warn("resume an offline alert", "alert", a.ID, "err", err)
			continue
		}
		delete(s.unconfirmed, a.Key) // the evaluator follows it now
	}
}

// restoreGrace is how long an alert that was active when WardWatch stopped
// stays active without its rule confirming it: long enough for every
// delayed rule and silence threshold to judge fresh data.
const restoreGrace = time.Hour

// expireUnconfirmed clears the alerts restored active that no rule has
// confirmed within restoreGrace of the start, saying why.
func (s *alertService) expireUnconfirmed(now time.Time) []alerts.Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unconfirmed) == 0 || now.Sub(s.started) < restoreGrace {
		return nil
	}
	var cs []alerts.Change
	for key, id := range s.unconfirmed {
		delete(s.unconfirmed, key)
		a, ok := s.book.Get(id)
		if !ok || !a.Active {
			continue
		}
		cs = append(cs, alerts.Change{Type: alerts.ChangeClear, Key: a.Key, Rule: a.Rule, Priority: a.Priority, Team: a.Team,
			UnitID: a.UnitID, SubjectName: a.SubjectName, Time: now, Since: now, Value: math.NaN(), Peak: math.NaN(), Trough: math.NaN(),
			Message: fmt.Sprintf("%s: not confirmed by fresh data since WardWatch restarted at %s; cleared",
				a.SubjectName, s.started.Format(time.RFC3339))})
	}
	return cs
}

// The telemetry spool alert: InfluxDB unreachable or slow long enough that
// the on-disk spool fills toward its bound, past which telemetry is
// refused. It raises at spoolRaiseAt of the bound and clears below
// spoolClearAt.
const (
	spoolRaiseAt = 0.5
	spoolClearAt = 0.4
)

var spoolRule = alerts.Rule{ID: "telemetry_spool_filling", Name: "Telemetry spool filling (InfluxDB unreachable or slow)",
	Category: alerts.CategoryEquipment, Priority: alerts.PriorityHigh, Team: alerts.TeamFacilities}

// checkSpool raises or clears the telemetry spool alert.
func (s *alertService) checkSpool(now time.Time) []alerts.Change {
	if s.spoolFill == nil {
		return nil
	}
	b, max := s.spoolFill()
	if max <= 0 {
		return nil
	}
	f := float64(b) / float64(max)
	c := alerts.Change{Key: alerts.Key{Rule: spoolRule.ID, Subject: alerts.Subject{Kind: alerts.SubjectSystem, ID: "telemetry-spool"}},
		Rule: spoolRule, Priority: spoolRule.Priority, Team: spoolRule.Team, SubjectName: "Telemetry spool", Time: now, Since: now,
		Value: 100 * f, Peak: math.NaN(), Trough: math.NaN()}
	switch {
	case !s.spoolAlarm && f >= spoolRaiseAt:
		s.spoolAlarm, c.Type = true, alerts.ChangeRaise
		c.Message = fmt.Sprintf("The telemetry spool holds %d MB of its %d MB (%.0f %%): InfluxDB is not taking data. At 100 %% new readings are refused.",
			b>>20, max>>20, 100*f)
	case s.spoolAlarm && f < spoolClearAt:
		s.spoolAlarm, c.Type = false, alerts.ChangeClear
		c.Message = fmt.Sprintf("The telemetry spool is draining: %.0f %% full.", 100*f)
	default:
		return nil
	}
	return []alerts.Change{c}
}

// escalate sends the notifications that fell due.
func (s *alertService) escalate(ctx context.Context, now time.Time) {
	due := s.book.Due(now)
	if len(due) == 0 {
		return
	}
	contacts := *s.contactList()
	seen := map[int64]bool{}
	for _, n := range due {
		s.m.notified.WithLabelValues(string(n.Channel)).Inc()
		if !seen[n.AlertID] {
			seen[n.AlertID] = true
			if a, ok := s.book.Get(n.AlertID); ok { // its escalation moved on: store it
				s.keep([]alerts.Alert{a}, nil, nil)
			}
		}
		if n.Channel == alerts.ChannelInApp {
			if a, ok := s.book.Get(n.AlertID); ok {
				s.publish([]alerts.Alert{a}, &n)
			}
			s.delivered(n, nil, now)
			continue
		}
		if !s.channels[n.Channel] {
			s.delivered(n, fmt.Errorf("%s delivery is not configured", n.Channel), now)
			continue
		}
		targets := alerts.Expand(n, contacts)
		if len(targets) == 0 {
			s.m.noRecipients.Inc()
			s.logger.Warn("notification reached nobody: add a contact for the group", "alert", n.AlertID,
				"channel", n.Channel, "group", n.Group, "team", n.Team, "unit", n.UnitID)
			s.delivered(n, fmt.Errorf("nobody is set up to receive %s %s notifications for %s", n.Group, n.Channel, n.Team), now)
			continue
		}
		for _, t := range targets {
			if !s.dispatcher.Enqueue(t) {
				s.delivered(t, fmt.Errorf("the %s queue is full", t.Channel), now)
			}
		}
	}
}

func (s *alertService) contactList() *[]alerts.Contact {
	if c := s.contacts.Load(); c != nil {
		return c
	}
	return &[]alerts.Contact{}
}

// flush stores what is pending (at shutdown).
func (s *alertService) flush(ctx context.Context) {
	if err := s.save(ctx); err != nil {
		s.logger.Error("alerts not stored at shutdown", "err", err)
	}
}

// reload configures the evaluators from the store: monitored units and
// their rules, the Modbus channels that measure them, the site's tags (bound
// to their assets for the tag battery rules), gateways, windows, daily
// schedules (in s.loc), assets, PAR levels, pumps, contacts and escalation
// policies. It runs at start and after every change of the site (tags
// added, moved or removed) or the alert settings.
func (s *alertService) reload(ctx context.Context, site tracker.Site, profile func(string) (modbus.Profile, bool)) error {
	now := s.now()
	units, err := s.store.Units(ctx)
	if err != nil {
		return fmt.Errorf("load units: %w", err)
	}
	rules, err := s.store.UnitRules(ctx)
	if err != nil {
		return fmt.Errorf("load unit rules: %w", err)
	}
	devices, err := s.store.ModbusDevices(ctx)
	if err != nil {
		return fmt.Errorf("load Modbus devices: %w", err)
	}
	windows, err := s.store.AlertWindows(ctx)
	if err != nil {
		return fmt.Errorf("load maintenance windows: %w", err)
	}
	schedules, err := s.store.UnitSchedules(ctx)
	if err != nil {
		return fmt.Errorf("load daily schedules: %w", err)
	}
	loc := s.loc
	if loc == nil {
		loc = time.UTC
	}
	for i := range schedules { // start times are the hospital's local times of day
		schedules[i].Location = loc
	}
	cfg := alerts.Config{Windows: windows, Schedules: schedules}
	for _, u := range units {
		cfg.Units = append(cfg.Units, alerts.Unit{ID: u.ID, Name: u.Name, Profile: u.Profile, Rules: rules[u.ID]})
	}
	for _, d := range devices {
		if !d.Enabled {
			continue
		}
		parent := alerts.Subject{Kind: alerts.SubjectDevice, ID: d.Name}
		cfg.Parents = append(cfg.Parents, alerts.Parent{Subject: parent, Name: d.Name})
		p, ok := profile(d.Profile)
		if !ok {
			continue
		}
		for _, f := range p.Fields {
			unitID := d.UnitID
			if f.Diagnostic { // the equipment's own channel: faults and silence only
				unitID = 0
			}
			cfg.Sensors = append(cfg.Sensors, alerts.Sensor{ID: d.Name + "/" + f.Name, Name: d.Name + " " + f.Name, UnitID: unitID,
				Parent: parent, Interval: d.Interval, CalibrationDue: d.CalibrationDue})
		}
	}
	for _, g := range site.Gateways {
		cfg.Parents = append(cfg.Parents, alerts.Parent{Subject: alerts.Subject{Kind: alerts.SubjectGateway, ID: strconv.FormatInt(g.ID, 10)}, Name: g.Name})
	}
	assets, err := s.store.Assets(ctx)
	if err != nil {
		return fmt.Errorf("load assets: %w", err)
	}
	cfg.Tags = s.tagsOf(site.Tags, assets, cfg.Sensors)
	out, err := s.eval.Configure(cfg, now)
	if err != nil {
		return fmt.Errorf("configure environment rules: %w", err)
	}
	s.apply(ctx, out, nil)
	s.resumeTagAlerts()
	par, err := s.store.PARLevels(ctx)
	if err != nil {
		return fmt.Errorf("load PAR levels: %w", err)
	}
	acfg := alerts.AssetConfig{PAR: par}
	for _, z := range site.Zones {
		acfg.Zones = append(acfg.Zones, alerts.AssetZone{ID: z.ID, Name: z.Name, Kind: z.Kind, FloorID: z.FloorID})
	}
	pumpNames := map[string]string{}
	s.mu.Lock()
	for _, a := range assets {
		ta := alerts.TrackedAsset{ID: a.ID, Name: a.Name, Kind: a.Kind, Status: alerts.AssetStatus(a.Status), NextPMDue: a.PMDue}
		if p, ok := s.lastSeen[a.ID]; ok {
			ta.ZoneID, ta.FloorID, ta.LastSeen = p.ZoneID, p.FloorID, p.Time
		}
		acfg.Assets = append(acfg.Assets, ta)
		if a.Serial != "" {
			pumpNames[a.Serial] = a.Name
		}
	}
	s.mu.Unlock()
	aout, err := s.assets.Configure(acfg, now)
	if err != nil {
		return fmt.Errorf("configure asset rules: %w", err)
	}
	s.apply(ctx, aout, nil)

	targets, err := s.store.SNMPTargets(ctx)
	if err != nil {
		return fmt.Errorf("load SNMP targets: %w", err)
	}
	pcfg := s.pumpCfg()
	pcfg.Names, pcfg.TargetNames = pumpNames, map[int64]string{}
	for _, t := range targets {
		pcfg.TargetNames[t.ID] = t.Name
	}
	if err := s.pumps.Configure(pcfg); err != nil {
		return fmt.Errorf("configure pump rules: %w", err)
	}

	contacts, err := s.store.Contacts(ctx)
	if err != nil {
		return fmt.Errorf("load contacts: %w", err)
	}
	s.contacts.Store(&contacts)
	policies, err := s.store.EscalationPolicies(ctx)
	if err != nil {
		return fmt.Errorf("load escalation policies: %w", err)
	}
	if policies == nil {
		policies = alerts.DefaultPolicies()
	}
	if err := s.book.SetPolicies(policies); err != nil {
		return fmt.Errorf("escalation policies: %w", err)
	}
	return nil
}

// tagsOf binds the site's tags to their assets for the tag battery rules.
// A tag whose asset is not in the store (deleted since the site was
// loaded) is left out, and so is one whose ID is also a Modbus channel's
// sensor ID: the channel keeps its rules and the clash is logged.
func (s *alertService) tagsOf(tags []wardwatch.Tag, assets []wardwatch.Asset, sensors []alerts.Sensor) []alerts.Tag {
	names := make(map[int64]string, len(assets))
	for _, a := range assets {
		names[a.ID] = a.Name
	}
	taken := make(map[string]bool, len(sensors))
	for _, se := range sensors {
		taken[se.ID] = true
	}
	out := make([]alerts.Tag, 0, len(tags))
	for _, t := range tags {
		name, ok := names[t.AssetID]
		switch {
		case !ok:
			s.logger.Debug("tag battery not watched: the tag's asset is gone", "tag", t.ID, "asset", t.AssetID)
			continue
		case taken[t.ID]:
			s.logger.Warn("tag battery not watched: a Modbus channel has the same sensor ID", "tag", t.ID)
			continue
		}
		taken[t.ID] = true
		out = append(out, alerts.Tag{ID: t.ID, AssetID: t.AssetID, AssetName: name})
	}
	return out
}

// resumeTagAlerts hands the tag battery alerts that were active when
// WardWatch last stopped to the tags of their assets, so that they clear on
// a battery change rather than for want of fresh data (their rules need a
// day of readings to confirm them, far longer than restoreGrace).
func (s *alertService) resumeTagAlerts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, id := range s.unconfirmed {
		if key.Subject.Kind != alerts.SubjectAsset {
			continue
		}
		a, ok := s.book.Get(id)
		if !ok || !a.Active {
			continue
		}
		since := a.ConditionSince
		if since.IsZero() {
			since = a.RaisedAt
		}
		if s.eval.ResumeTagAlert(key, since) {
			delete(s.unconfirmed, key) // the evaluator follows it now
		}
	}
}

// seedLastSeen tells the asset rules where assets were last placed (after
// a restart, from the telemetry store).
func (s *alertService) seedLastSeen(ps []wardwatch.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range ps {
		if q, ok := s.lastSeen[p.AssetID]; p.AssetID != 0 && (!ok || p.Time.After(q.Time)) {
			s.lastSeen[p.AssetID] = p
		}
	}
}

// publish tells the inbox's subscribers about changed alerts; n, when set,
// is the in-app notification that fell due for them.
func (s *alertService) publish(as []alerts.Alert, n *alerts.Notification) {
	if len(as) == 0 {
		return
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for _, a := range as {
		s.seq++
		ev := web.AlertEvent{Seq: s.seq, Alert: a}
		if n != nil {
			ev.Notify, ev.Title = true, n.Title
		}
		for ch := range s.subs {
			select {
			case ch <- ev:
			default: // the subscriber fell behind; it sees the jump in Seq and reloads
			}
		}
	}
}

// The web.AlertDesk methods.

// Open returns the alerts in the book.
func (s *alertService) Open() []alerts.Alert { return s.book.Open() }

// Alert returns an alert with its audit trail and deliveries.
func (s *alertService) Alert(ctx context.Context, id int64) (web.AlertRecord, error) {
	a, ok := s.book.Get(id)
	if !ok {
		var err error
		if a, err = s.store.Alert(ctx, id); err != nil {
			return web.AlertRecord{}, err
		}
	}
	rec := web.AlertRecord{Alert: a}
	var err error
	if rec.Audit, err = s.store.AlertAudit(ctx, id); err != nil {
		return rec, fmt.Errorf("alert %d audit: %w", id, err)
	}
	s.mu.Lock() // audits not stored yet belong to the trail too
	for _, au := range s.pending.audits {
		if au.AlertID == id {
			rec.Audit = append(rec.Audit, au)
		}
	}
	s.mu.Unlock()
	ns, err := s.store.Notifications(ctx, id)
	if err != nil {
		return rec, fmt.Errorf("alert %d notifications: %w", id, err)
	}
	for _, n := range ns {
		rec.Deliveries = append(rec.Deliveries, web.AlertDelivery{Channel: n.Channel, Address: n.Address, Tier: n.Tier,
			Reminder: n.Reminder, At: n.At, Error: n.Error})
	}
	return rec, nil
}

// History returns closed alerts, newest first.
func (s *alertService) History(ctx context.Context, f web.AlertHistoryFilter) ([]alerts.Alert, error) {
	closed := true
	return s.store.ListAlerts(ctx, sql.AlertQuery{UnitID: f.UnitID, Priority: f.Priority, Closed: &closed,
		From: f.From, To: f.To, Limit: f.Limit})
}

// act stores and announces the outcome of a user's action.
func (s *alertService) act(ctx context.Context, a alerts.Alert, audits []alerts.Audit, err error) error {
	if err != nil {
		return err
	}
	s.keep([]alerts.Alert{a}, audits, nil)
	s.publish([]alerts.Alert{a}, nil)
	if err := s.save(ctx); err != nil {
		// The book has the change and it is retried every interval; the
		// user should know it is not on disk yet.
		return wardwatch.Errorf(wardwatch.EINTERNAL, "Done, but not yet saved: the database is not answering. WardWatch keeps retrying.")
	}
	return nil
}

// Acknowledge acknowledges an alert.
func (s *alertService) Acknowledge(ctx context.Context, id int64, user string, roles []string, note string) error {
	a, audits, err := s.book.Acknowledge(id, user, roles, note, s.now())
	return s.act(ctx, a, audits, err)
}

// Shelve shelves an alert for d.
func (s *alertService) Shelve(ctx context.Context, id int64, user string, roles []string, reason string, d time.Duration) error {
	a, audits, err := s.book.Shelve(id, user, roles, reason, d, s.now())
	return s.act(ctx, a, audits, err)
}

// Unshelve returns a shelved alert to the inbox.
func (s *alertService) Unshelve(ctx context.Context, id int64, user string, roles []string) error {
	a, audits, err := s.book.Unshelve(id, user, roles, s.now())
	return s.act(ctx, a, audits, err)
}

// Resolve closes a latched alert with its resolution note.
func (s *alertService) Resolve(ctx context.Context, id int64, user string, roles []string, res alerts.Resolution) error {
	a, audits, err := s.book.Resolve(id, user, roles, res, s.now())
	return s.act(ctx, a, audits, err)
}

// Subscribe delivers inbox events until cancel is called.
func (s *alertService) Subscribe() (<-chan web.AlertEvent, func()) {
	ch := make(chan web.AlertEvent, alertSubscribers)
	s.subsMu.Lock()
	s.subs[ch] = struct{}{}
	s.subsMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			s.subsMu.Lock()
			delete(s.subs, ch)
			s.subsMu.Unlock()
		})
	}
}

// Stock is the PAR levels' stock.
func (s *alertService) Stock() []alerts.PARStatus { return s.assets.Stock() }

// PickList is the runners' pick list.
func (s *alertService) PickList() []alerts.Pick { return s.assets.PickList() }

// recordStore adapts the store to the record pages' filter type.
type recordStore struct{ *sql.Store }

// Excursions lists excursion records.
func (r recordStore) Excursions(ctx context.Context, f web.ExcursionFilter) ([]alerts.Excursion, error) {
	return r.Store.Excursions(ctx, sql.ExcursionQuery{UnitID: f.UnitID, From: f.From, To: f.To, Quarantined: f.Quarantined, Limit: f.Limit})
}

// statusSetter stores a status a person set on an asset and tells the
// asset rules, so automation never overrides it (in repair stays in repair
// through the soiled utility room) and PAR counts follow it.
type statusSetter struct {
	store  *sql.Store
	alerts *alertService
}

// SetAssetStatus stores the status and tells the alert rules.
func (s statusSetter) SetAssetStatus(ctx context.Context, id int64, st wardwatch.AssetStatus) error {
	if err := s.store.SetAssetStatus(ctx, id, st); err != nil {
		return err
	}
	s.alerts.StatusSet(id, alerts.AssetStatus(st))
	return nil
}

// StatusSet judges a status a person set on an asset.
func (s *alertService) StatusSet(id int64, st alerts.AssetStatus) {
	s.observe(func(now time.Time) (alerts.Output, error) {
		out, err := s.assets.SetStatus(id, st, now)
		if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND { // not tracked (yet): the next reload reads the store
			return alerts.Output{}, nil
		}
		return out, err
	})
}
