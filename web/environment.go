package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// envValue is one metric of a monitored unit as the dashboard shows it.
type envValue struct {
	Metric  wardwatch.Metric
	Value   string
	Range   string // "2–8 °C", or "" when the profile sets none
	InRange bool
	Known   bool // a range applies
	Age     string
	Stale   bool // no reading for longer than envStaleAfter
}

// envUnit is one monitored unit on the dashboard.
type envUnit struct {
	Unit    wardwatch.MonitoredUnit
	Label   string // the profile's name
	Room    string
	Values  []envValue
	Problem bool // a value out of range, or stale
	Devices int
	// Quarantine lists the unit's excursions with an uncleared "DO NOT
	// USE" quarantine (the compliance records).
	Quarantine []alerts.Excursion
	// Pressure is a pressure room's required relationship and its
	// status; nil for other units.
	Pressure *envPressure
	Trend    envTrend
	Links    envLinks
	// Schedules are the unit's daily defrost and maintenance schedules in
	// words ("Defrost scheduled 02:00, 14:00 for 45m · running until
	// 14:45").
	Schedules []string
}

// envStaleAfter is when a unit's value is shown as stale: two missed polls
// of the slowest usual device (domain-requirements §1: sensor silent).
const envStaleAfter = 30 * time.Minute

// metricOrder orders a unit's values on the dashboard.
var metricOrder = []wardwatch.Metric{wardwatch.MetricTemperature, wardwatch.MetricPressure, wardwatch.MetricHumidity,
	wardwatch.MetricDoorOpen, wardwatch.MetricAlarm, wardwatch.MetricAirChanges}

// formatValue prints a metric's value with its unit ("4.8 °C", "open").
func formatValue(m wardwatch.Metric, v float64) string {
	switch m {
	case wardwatch.MetricDoorOpen:
		if v != 0 {
			return "open"
		}
		return "closed"
	case wardwatch.MetricAlarm:
		if v != 0 {
			return "alarm"
		}
		return "no alarm"
	}
	return strings.TrimSpace(fmt.Sprintf("%.1f %s", v, m.Unit()))
}

func rangeText(r alerts.Range) string {
	switch {
	case math.IsInf(r.Low, -1) && !math.IsInf(r.High, 1):
		return fmt.Sprintf("≤ %g %s", r.High, r.Metric.Unit())
	case !math.IsInf(r.Low, -1) && math.IsInf(r.High, 1):
		return fmt.Sprintf("≥ %g %s", r.Low, r.Metric.Unit())
	}
	return fmt.Sprintf("%g to %g %s", r.Low, r.High, r.Metric.Unit())
}

// buildEnvironment assembles the dashboard: each unit with the latest
// reading of each metric of its devices' channels ("<device>/<field>"),
// judged against its profile's ranges. Pure: readings and now come in.
func buildEnvironment(units []wardwatch.MonitoredUnit, devices []wardwatch.ModbusDevice, latest []wardwatch.Reading, zones map[int64]string, now time.Time) []envUnit {
	deviceUnit := make(map[string]int64, len(devices))
	perUnit := make(map[int64]int)
	for _, d := range devices {
		if d.UnitID != 0 {
			deviceUnit[d.Name] = d.UnitID
			perUnit[d.UnitID]++
		}
	}
	newest := make(map[int64]map[wardwatch.Metric]wardwatch.Reading)
	for _, r := range latest {
		dev, _, ok := strings.Cut(r.SensorID, "/")
		if !ok {
			continue
		}
		u, ok := deviceUnit[dev]
		if !ok {
			continue
		}
		if newest[u] == nil {
			newest[u] = make(map[wardwatch.Metric]wardwatch.Reading)
		}
		if old, ok := newest[u][r.Metric]; !ok || r.Time.After(old.Time) {
			newest[u][r.Metric] = r
		}
	}
	labels := make(map[wardwatch.UnitProfile]string)
	for _, p := range wardwatch.UnitProfiles() {
		labels[p.Profile] = p.Label
	}
	out := make([]envUnit, 0, len(units))
	for _, u := range units {
		eu := envUnit{Unit: u, Label: labels[u.Profile], Room: zones[u.ZoneID], Devices: perUnit[u.ID]}
		ranges := map[wardwatch.Metric]alerts.Range{}
		if p, err := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{}); err == nil {
			for _, r := range p.Ranges {
				ranges[r.Metric] = r
			}
		}
		for _, m := range metricOrder {
			r, ok := newest[u.ID][m]
			if !ok {
				continue
			}
			v := envValue{Metric: m, Value: formatValue(m, r.Value), Age: formatAge(now.Sub(r.Time)), Stale: now.Sub(r.Time) > envStaleAfter, InRange: true}
			if rg, ok := ranges[m]; ok {
				v.Known, v.Range = true, rangeText(rg)
				v.InRange = r.Value >= rg.Low && r.Value <= rg.High
			}
			if m == wardwatch.MetricDoorOpen || m == wardwatch.MetricAlarm {
				v.InRange = r.Value == 0
			}
			eu.Problem = eu.Problem || !v.InRange || v.Stale
			eu.Values = append(eu.Values, v)
		}
		if rg, ok := ranges[wardwatch.MetricPressure]; ok {
			r, has := newest[u.ID][wardwatch.MetricPressure]
			ep := pressureRelation(u.Profile, rg, r.Value, has, has && now.Sub(r.Time) > envStaleAfter)
			eu.Pressure = &ep
		}
		if eu.Devices > 0 && len(eu.Values) == 0 {
			eu.Problem = true // bound to a device that has not reported
		}
		out = append(out, eu)
	}
	slices.SortStableFunc(out, func(a, b envUnit) int {
		pa, pb := 1, 1
		if a.Problem {
			pa = 0
		}
		if b.Problem {
			pb = 0
		}
		return cmp.Or(cmp.Compare(pa, pb), strings.Compare(a.Unit.Name, b.Unit.Name))
	})
	return out
}

// EnvironmentSource is what the dashboard reads: the units and devices
// from the config store.
type EnvironmentSource interface {
	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
	ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error)
}

// Limits of the dashboard's trends.
const (
	// envTrendWindow is how far back a unit's sparkline reaches, in
	// envTrendBucket buckets (the compliance series' resolution).
	envTrendWindow = 24 * time.Hour
	envTrendBucket = 15 * time.Minute
	// envTrendBudget bounds the time all of a page's trends may take: a
	// slow telemetry store costs the sparklines ("no trend"), never the
	// page.
	envTrendBudget = 3 * time.Second
	// envTrendWorkers bounds the trend queries in flight for one page.
	envTrendWorkers = 4
)

// envTrend is a unit's sparkline: the last 24 h of its primary reading.
type envTrend struct {
	SVG    string // the inline <svg>; "" when there is no trend
	Sensor UnitSensor
	Note   string // why there is no trend: "no trend", "no sensor"
}

// envLinks are where a unit's row leads; "" hides a link.
type envLinks struct {
	Daily      string // the daily min/max log
	Chart      string // the primary reading's chart over the last 24 h
	Alerts     string // the alert inbox filtered to the unit
	Excursions string // the excursion records of the unit
}

// envDashboard serves the environment dashboard.
type envDashboard struct {
	logger      *slog.Logger
	store       Store
	src         EnvironmentSource
	latest      func() []wardwatch.Reading
	quarantined func(ctx context.Context) (map[int64][]alerts.Excursion, error)
	schedules   func(ctx context.Context) ([]alerts.Schedule, error) // nil: none shown
	now         func() time.Time
	loc         *time.Location

	// readings and sensors draw the sparklines; either nil shows none.
	readings Readings
	sensors  func(ctx context.Context, unitID int64) ([]UnitSensor, error)
	// records, daily and alerts say which linked pages are served.
	records, daily, alerts bool
	trendFailures          prometheus.Counter
	budget                 time.Duration // for all of a page's trends; 0: envTrendBudget
}

// environmentHandler is the environment dashboard with everything cfg
// offers: sparklines (Readings, UnitSensors), links to the record and
// alert pages, and the quarantine badges (Records).
func environmentHandler(cfg Config) http.Handler {
	cfg = cfg.withDefaults()
	d := &envDashboard{logger: cfg.Logger, store: cfg.Store, latest: cfg.LatestReadings, now: cfg.Now, loc: cfg.Location,
		readings: cfg.Readings, sensors: cfg.UnitSensors,
		records: cfg.Records != nil, alerts: cfg.Alerts != nil,
		trendFailures: register(cfg.Registerer, prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wardwatch_environment_trend_failures_total",
			Help: "Environment dashboard sparklines not drawn because the unit's sensors or series could not be read in time.",
		})),
	}
	if cfg.Devices != nil {
		d.src = cfg.Devices
	}
	d.daily = d.records && cfg.Readings != nil && cfg.UnitSensors != nil
	if cfg.Records != nil {
		d.quarantined = quarantineSource(cfg.Records)
	}
	if cfg.AlertSettings != nil {
		d.schedules = cfg.AlertSettings.UnitSchedules
	}
	return d
}

func (d *envDashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if d.src == nil {
		renderError(w, r, d.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "Environment monitoring is not enabled."))
		return
	}
	units, err := d.src.Units(ctx)
	if err != nil {
		renderError(w, r, d.logger, fmt.Errorf("list units: %w", err))
		return
	}
	devices, err := d.src.ModbusDevices(ctx)
	if err != nil {
		renderError(w, r, d.logger, fmt.Errorf("list devices: %w", err))
		return
	}
	_, zones, err := floorAndZoneNames(ctx, d.store)
	if err != nil {
		renderError(w, r, d.logger, err)
		return
	}
	var rs []wardwatch.Reading
	if d.latest != nil {
		rs = d.latest()
	}
	now := d.now()
	eus := buildEnvironment(units, devices, rs, zones, now)
	quarantineUnknown := false
	if d.quarantined != nil {
		qs, err := d.quarantined(ctx)
		if err != nil {
			d.logger.LogAttrs(ctx, slog.LevelError, "read quarantines for environment page", slog.String("error", err.Error()))
			quarantineUnknown = true
		}
		for i := range eus {
			eus[i].Quarantine = qs[eus[i].Unit.ID]
		}
		slices.SortStableFunc(eus, func(a, b envUnit) int {
			return cmp.Compare(min(len(b.Quarantine), 1), min(len(a.Quarantine), 1))
		})
	}
	if d.schedules != nil {
		// The schedules are a hint: the page never fails for them.
		if ss, err := d.schedules(ctx); err != nil {
			d.logger.LogAttrs(ctx, slog.LevelError, "read daily schedules for environment page", slog.String("error", err.Error()))
		} else {
			for i := range eus {
				eus[i].Schedules = envScheduleLines(ss, eus[i].Unit.ID, d.loc, now)
			}
		}
	}
	vw := viewerFrom(ctx)
	d.addTrends(ctx, eus, now)
	for i := range eus {
		eus[i].Links = d.links(eus[i], now, vw)
	}
	p := newPageMeta(r, "Environment")
	p.Nav = "environment"
	render(w, r, d.logger, http.StatusOK, environmentPage(p, eus, quarantineUnknown))
}

// addTrends draws each unit's sparkline: one sensor list and one series
// query per unit, a few at a time, all within envTrendBudget. A unit
// whose trend cannot be read says "no trend"; the page never fails for it.
func (d *envDashboard) addTrends(ctx context.Context, eus []envUnit, now time.Time) {
	if d.readings == nil || d.sensors == nil {
		return
	}
	budget := d.budget
	if budget <= 0 {
		budget = envTrendBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	from, to := now.Add(-envTrendWindow), now
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(envTrendWorkers, len(eus)) {
		wg.Go(func() {
			for i := range jobs {
				eus[i].Trend = d.trend(ctx, eus[i].Unit, from, to)
			}
		})
	}
	for i := range eus {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

// trend reads and draws one unit's sparkline.
func (d *envDashboard) trend(ctx context.Context, u wardwatch.MonitoredUnit, from, to time.Time) envTrend {
	fail := func(what string, err error) envTrend {
		if d.trendFailures != nil {
			d.trendFailures.Inc()
		}
		d.logger.LogAttrs(ctx, slog.LevelWarn, "environment trend", slog.Int64("unit", u.ID), slog.String("step", what), slog.String("error", err.Error()))
		return envTrend{Note: "no trend"}
	}
	if err := ctx.Err(); err != nil {
		return fail("budget", err)
	}
	ss, err := d.sensors(ctx, u.ID)
	if err != nil {
		return fail("sensors", err)
	}
	s, ok := primarySensor(u, ss)
	if !ok {
		return envTrend{Note: "no sensor"}
	}
	bs, err := d.readings.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: s.SensorID, Metric: s.Metric, From: from, To: to, Interval: envTrendBucket})
	if err != nil {
		return fail("series", err)
	}
	low, high := math.NaN(), math.NaN()
	if rg, ok := rangeOf(unitProfile(u), s.Metric); ok {
		low, high = rg.Low, rg.High
	}
	pts := make([]chartPoint, 0, len(bs))
	for _, b := range bs {
		if b.Count > 0 {
			pts = append(pts, chartPoint{T: b.Start, Min: b.Min, Max: b.Max, Mean: b.Mean})
		}
	}
	svg := renderSparkline(sparkSpec{
		ID: "spark-" + strconv.FormatInt(u.ID, 10), Title: u.Name + " " + metricWord(s.Metric) + ", last 24 hours",
		Metric: s.Metric, From: from, To: to, Low: low, High: high, Points: pts, Gap: recordHold + envTrendBucket,
	})
	return envTrend{SVG: svg, Sensor: s}
}

// links are the pages a unit's row leads to that the viewer may open.
func (d *envDashboard) links(eu envUnit, now time.Time, vw *viewer) envLinks {
	var l envLinks
	id := strconv.FormatInt(eu.Unit.ID, 10)
	if d.records && vw.can(permRecords) {
		l.Excursions = withQuery("/records", "unit", id)
		if d.daily {
			l.Daily = unitDailyPath(eu.Unit.ID)
		}
		if d.readings != nil && eu.Trend.Sensor.SensorID != "" {
			low, high := math.NaN(), math.NaN()
			if rg, ok := rangeOf(unitProfile(eu.Unit), eu.Trend.Sensor.Metric); ok {
				low, high = rg.Low, rg.High
			}
			to := now.Truncate(time.Minute).Add(time.Minute)
			l.Chart = chartPath(eu.Trend.Sensor.SensorID, eu.Trend.Sensor.Metric, to.Add(-envTrendWindow), to, low, high)
		}
	}
	if d.alerts && vw.can(permAlerts) {
		l.Alerts = withQuery("/alerts", "unit", id)
	}
	return l
}

// primaryMetric is what a unit's trend shows: a pressure room's
// differential pressure, else the profile's primary range (temperature
// first), else temperature.
func primaryMetric(u wardwatch.MonitoredUnit) wardwatch.Metric {
	p := unitProfile(u)
	if _, ok := rangeOf(p, wardwatch.MetricPressure); ok {
		return wardwatch.MetricPressure
	}
	if r, ok := primaryRange(p); ok {
		return r.Metric
	}
	return wardwatch.MetricTemperature
}

// primarySensor picks the sensor of the unit's primary metric, else its
// first sensor of a metric the dashboard shows, in metricOrder.
func primarySensor(u wardwatch.MonitoredUnit, ss []UnitSensor) (UnitSensor, bool) {
	want := primaryMetric(u)
	for _, s := range ss {
		if s.Metric == want {
			return s, true
		}
	}
	for _, m := range metricOrder {
		for _, s := range ss {
			if s.Metric == m {
				return s, true
			}
		}
	}
	return UnitSensor{}, false
}

// rangeOf is the profile's range of metric m.
func rangeOf(p alerts.Profile, m wardwatch.Metric) (alerts.Range, bool) {
	for _, r := range p.Ranges {
		if r.Metric == m {
			return r, true
		}
	}
	return alerts.Range{}, false
}

// metricWord names a metric in a sentence.
func metricWord(m wardwatch.Metric) string {
	switch m {
	case wardwatch.MetricPressure:
		return "differential pressure"
	case wardwatch.MetricDoorOpen:
		return "door"
	case wardwatch.MetricAirChanges:
		return "air changes"
	case wardwatch.MetricBatteryPercent, wardwatch.MetricBatteryVoltage:
		return "battery"
	}
	return string(m)
}

// ---- pressure relationships ----

// envPressure is a pressure room's required relationship to its
// reference space and how the live value stands against it.
type envPressure struct {
	Required string // "Must be negative to the corridor: −2.5 Pa (−0.010 in. w.c.) or lower"
	Value    string // the live value, "" when none
	Status   string // "Meets the requirement", "REVERSED: the room is positive"…
	OK       bool
}

// paPerInWC is pascals per inch of water column (at 4 °C, the usual HVAC
// convention: 0.01 in. w.c. ≈ 2.49 Pa).
const paPerInWC = 249.0889

// paText prints a pressure with a real minus sign and in. w.c.: "−2.5 Pa
// (−0.010 in. w.c.)".
func paText(v float64) string {
	sign := func(s string) string {
		if strings.HasPrefix(s, "-") {
			return "−" + s[1:]
		}
		return s
	}
	return sign(strconv.FormatFloat(v, 'f', -1, 64)) + " Pa (" + sign(strconv.FormatFloat(v/paPerInWC, 'f', 3, 64)) + " in. w.c.)"
}

// referenceSpace is what a room's differential pressure is measured
// against.
func referenceSpace(p wardwatch.UnitProfile) string {
	if p == wardwatch.ProfileCompounding {
		return "the adjoining space"
	}
	return "the corridor"
}

// pressureRelation judges a pressure room's live differential pressure
// (has: a reading exists; stale: it is old) against its profile's
// pressure range r. Pure.
func pressureRelation(profile wardwatch.UnitProfile, r alerts.Range, v float64, has, stale bool) envPressure {
	ref := referenceSpace(profile)
	negative := !math.IsInf(r.High, 1) && r.High <= 0
	positive := !math.IsInf(r.Low, -1) && r.Low >= 0
	var ep envPressure
	switch {
	case negative && math.IsInf(r.Low, -1):
		ep.Required = "Must be negative to " + ref + ": " + paText(r.High) + " or lower"
	case negative:
		ep.Required = "Must be negative to " + ref + ": between " + paText(r.Low) + " and " + paText(r.High)
	case positive && math.IsInf(r.High, 1):
		ep.Required = "Must be positive to " + ref + ": +" + paText(r.Low) + " or higher"
	case positive:
		ep.Required = "Must be positive to " + ref + ": between +" + paText(r.Low) + " and +" + paText(r.High)
	default:
		ep.Required = "Must stay within " + bandText(wardwatch.MetricPressure, r.Low, r.High) + " of " + ref
	}
	if !has {
		ep.Status = "No reading"
		return ep
	}
	ep.Value = strings.Replace(formatValue(wardwatch.MetricPressure, v), "-", "−", 1)
	switch {
	case stale:
		ep.Status = "No current reading"
	case negative && v > 0:
		ep.Status = "REVERSED: the room is positive"
	case positive && v < 0:
		ep.Status = "REVERSED: the room is negative"
	case v >= r.Low && v <= r.High:
		ep.Status, ep.OK = "Meets the requirement", true
	case negative && v > r.High:
		ep.Status = "Not negative enough"
	case negative:
		ep.Status = "Too negative"
	case positive && v < r.Low:
		ep.Status = "Not positive enough"
	case positive:
		ep.Status = "Too positive"
	default:
		ep.Status = "Out of range"
	}
	return ep
}

// envScheduleLines describes unit unitID's daily schedules for the
// dashboard: "Defrost scheduled 02:00, 08:00, 14:00, 20:00 for 45m", with
// "· running until 02:45" while one runs (times in loc).
func envScheduleLines(ss []alerts.Schedule, unitID int64, loc *time.Location, now time.Time) []string {
	var out []string
	for _, s := range ss {
		if s.UnitID != unitID {
			continue
		}
		line := fmt.Sprintf("%s scheduled %s for %s", settingsWindowKind(s.Kind), alerts.FormatTimesOfDay(s.Times, ", "), scheduleDuration(s.Duration))
		if until := scheduleRunsUntil(s, loc, now); until != "" {
			line += " · running until " + until
		}
		out = append(out, line)
	}
	return out
}
