package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/sql"
	"github.com/wardwatch/wardwatch/web"
)

// pumpService runs the SNMP collector over the stored targets and
// profiles, keeps every pump's latest state for the pages, writes the
// states to the telemetry store and turns the numbers the alerts need
// (battery) into readings.
type pumpService struct {
	collector *snmp.Collector
	store     *sql.Store
	history   wardwatch.PumpStateStore
	readings  *readingWriter
	alerts    pumpWatcher
	logger    *slog.Logger

	profiles atomic.Pointer[map[string]snmp.Profile] // stored ones; built-ins are looked up first

	mu     sync.Mutex
	latest map[string]wardwatch.PumpState // by serial
	status map[int64]snmp.TargetStatus    // by target, as last reported
}

// pumpWatcher is told of pump states and of pump servers going offline.
type pumpWatcher interface {
	ObservePumps(ps []wardwatch.PumpState)
	PumpTargetChanged(id int64, online bool, at time.Time)
}

func newPumpService(store *sql.Store, history wardwatch.PumpStateStore, readings *readingWriter, alerts pumpWatcher, logger *slog.Logger, reg prometheus.Registerer) *pumpService {
	p := &pumpService{store: store, history: history, readings: readings, alerts: alerts, logger: logger,
		latest: make(map[string]wardwatch.PumpState), status: make(map[int64]snmp.TargetStatus)}
	empty := map[string]snmp.Profile{}
	p.profiles.Store(&empty)
	p.collector = snmp.NewCollector(snmp.Options{Logger: logger, Registerer: reg, Sink: p, Profiles: p.profile})
	return p
}

// profile finds a built-in or stored pump profile.
func (p *pumpService) profile(name string) (snmp.Profile, bool) {
	if pr, ok := snmp.BuiltinProfile(name); ok {
		return pr, true
	}
	pr, ok := (*p.profiles.Load())[name]
	return pr, ok
}

// SubmitPumpStates keeps the latest state of each pump, writes the states
// to the telemetry store and hands batteries on as readings.
func (p *pumpService) SubmitPumpStates(ctx context.Context, ps []wardwatch.PumpState) error {
	p.mu.Lock()
	for _, s := range ps {
		p.latest[s.Serial] = s
	}
	p.mu.Unlock()
	p.alerts.ObservePumps(ps)
	var rs []wardwatch.Reading
	for _, s := range ps {
		if !math.IsNaN(s.Battery) {
			rs = append(rs, wardwatch.Reading{Time: s.Time, SensorID: "pump:" + s.Serial, Metric: wardwatch.MetricBatteryPercent, Value: s.Battery})
		}
	}
	if err := p.readings.SubmitReadings(ctx, rs); err != nil {
		p.logger.Warn("pump readings refused", "err", err)
	}
	if err := p.history.WritePumpStates(ctx, ps); err != nil && wardwatch.ErrorCode(err) != wardwatch.EINVALID {
		return fmt.Errorf("store pump states: %w", err)
	}
	return nil
}

// TargetStatusChanged logs a target going offline or coming back.
func (p *pumpService) TargetStatusChanged(s snmp.TargetStatus) {
	p.mu.Lock()
	p.status[s.TargetID] = s
	p.mu.Unlock()
	at := s.LastPoll
	if at.IsZero() {
		at = time.Now().UTC()
	}
	p.alerts.PumpTargetChanged(s.TargetID, s.Online, at)
	if s.Online {
		p.logger.Info("SNMP target online", "target", s.TargetID, "pumps", s.Pumps)
	} else {
		p.logger.Warn("SNMP target offline", "target", s.TargetID, "err", s.LastError)
	}
}

// Latest returns every pump's latest state, by serial.
func (p *pumpService) Latest() []wardwatch.PumpState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]wardwatch.PumpState, 0, len(p.latest))
	for _, s := range p.latest {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b wardwatch.PumpState) int { return strings.Compare(a.Serial, b.Serial) })
	return out
}

// reload applies the stored targets and profiles.
func (p *pumpService) reload(ctx context.Context) error {
	stored, err := p.store.DeviceProfiles(ctx, "snmp")
	if err != nil {
		return fmt.Errorf("load pump profiles: %w", err)
	}
	profiles := make(map[string]snmp.Profile, len(stored))
	for _, sp := range stored {
		pr, err := snmp.ParseProfile(sp.Source)
		if err != nil {
			p.logger.Error("stored pump profile is invalid; targets using it fail", "profile", sp.Name, "err", err)
			continue
		}
		profiles[pr.Name] = pr
	}
	p.profiles.Store(&profiles)
	ts, err := p.store.SNMPTargets(ctx)
	if err != nil {
		return fmt.Errorf("load SNMP targets: %w", err)
	}
	targets := make([]snmp.Target, 0, len(ts))
	for _, t := range ts {
		targets = append(targets, snmpTarget(t))
	}
	p.collector.SetTargets(targets)
	return nil
}

func snmpTarget(t wardwatch.SNMPTarget) snmp.Target {
	return snmp.Target{ID: t.ID, Name: t.Name, Address: t.Address, Version: t.Version, Community: t.Community, User: t.User,
		AuthProtocol: t.AuthProtocol, AuthPassword: t.AuthPassword, PrivProtocol: t.PrivProtocol, PrivPassword: t.PrivPassword,
		Profile: t.Profile, Interval: t.Interval, Timeout: t.Timeout, Retries: t.Retries, Enabled: t.Enabled}
}

// profileInfos lists the built-in and stored pump profiles for the admin
// pages.
func (p *pumpService) profileInfos() []web.ProfileInfo {
	var out []web.ProfileInfo
	for _, pr := range snmp.BuiltinProfiles() {
		src, _ := snmp.MarshalProfile(pr)
		out = append(out, web.ProfileInfo{Name: pr.Name, Description: pr.Description, Builtin: true, Source: string(src)})
	}
	for _, pr := range *p.profiles.Load() {
		src, _ := snmp.MarshalProfile(pr)
		out = append(out, web.ProfileInfo{Name: pr.Name, Description: pr.Description, Source: string(src)})
	}
	return out
}

// statusByTarget is the collector's status for the admin list.
func (p *pumpService) statusByTarget() map[int64]web.CollectorStatus {
	out := map[int64]web.CollectorStatus{}
	for _, s := range p.collector.Status() {
		out[s.TargetID] = web.CollectorStatus{Online: s.Online, LastOK: s.LastOK, LastError: s.LastError,
			Failures: s.ConsecutiveFailures, Detail: strconv.Itoa(s.Pumps) + " pumps"}
	}
	return out
}

// test reads a target once for the admin's "test connection".
func (p *pumpService) test(ctx context.Context, t wardwatch.SNMPTarget) web.TestReport {
	pr, ok := p.profile(t.Profile)
	if !ok {
		return web.TestReport{Error: fmt.Sprintf("There is no pump profile named %q.", t.Profile)}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := p.collector.TestTarget(ctx, snmpTarget(t), pr)
	rep := web.TestReport{}
	if err != nil {
		rep.Error = wardwatch.ErrorMessage(err)
	}
	for _, f := range res.Fields {
		name := f.Field
		if f.Row != "" {
			name += " [" + f.Row + "]"
		}
		rep.Rows = append(rep.Rows, web.TestRow{Name: name, Raw: f.Raw, Value: f.Value, Error: f.Error})
	}
	for _, w := range res.Warnings {
		rep.Rows = append(rep.Rows, web.TestRow{Name: "warning", Error: w})
	}
	if err == nil {
		rep.Rows = append(rep.Rows, web.TestRow{Name: "pumps read", Value: strconv.Itoa(len(res.Pumps))})
	}
	return rep
}
