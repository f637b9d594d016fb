package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// ExcursionFilter selects excursion records: those of one unit (0: all)
// that overlap [From, To) (a zero bound is open), only those with an
// uncleared quarantine when Quarantined is set, newest first, at most
// Limit (0: the store's default).
type ExcursionFilter struct {
	UnitID      int64
	From, To    time.Time
	Quarantined bool
	Limit       int
}

// RecordStore is what the compliance record pages read and write.
type RecordStore interface {
	Excursion(ctx context.Context, id int64) (alerts.Excursion, error)
	Excursions(ctx context.Context, f ExcursionFilter) ([]alerts.Excursion, error)
	SaveTroubleshooting(ctx context.Context, id int64, t alerts.Troubleshooting) error
	ClearQuarantine(ctx context.Context, id int64, by string, at time.Time, d alerts.Disposition) error
	// SaveReview stores a daily log sign-off; a day already signed off
	// is ECONFLICT.
	SaveReview(ctx context.Context, r alerts.Review) error
	// Reviews returns a unit's sign-offs of days fromDay through toDay
	// (inclusive, "2006-01-02").
	Reviews(ctx context.Context, unitID int64, fromDay, toDay string) ([]alerts.Review, error)
	// AlertAuditTrail returns alert transitions in [from, to) of one
	// unit's alerts (0: all), oldest first, at most limit.
	AlertAuditTrail(ctx context.Context, from, to time.Time, unitID int64, limit int) ([]alerts.Audit, error)
	// UnitRules returns each unit's rules (for the alarmed rule's name).
	UnitRules(ctx context.Context) (map[int64][]alerts.Rule, error)
}

// Readings reads sensor series (wardwatch.ReadingStore's read half).
type Readings interface {
	Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error)
	ReadingSeries(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.SeriesBucket, error)
}

// UnitSensor is a sensor channel that measures a monitored unit.
type UnitSensor struct {
	SensorID string
	Metric   wardwatch.Metric
	Name     string
}

// Limits of the record pages.
const (
	// recordHold is how long a reading stands in the daily log and MKT:
	// twice the sensor interval is not known here, so the 30-min ceiling
	// of a silent sensor (domain-requirements §1 defaults).
	recordHold = 30 * time.Minute
	// mktBucket is the aggregation of a year's readings for the MKT.
	mktBucket = 15 * time.Minute
	// maxChartSpan bounds a chart's window; maxChartBuckets its points.
	maxChartSpan    = 31 * 24 * time.Hour
	maxChartBuckets = 600
	// maxFilterSpan bounds the index's and exports' date range.
	maxFilterSpan = 366 * 24 * time.Hour
	// defaultFilterSpan is the index's default window.
	defaultFilterSpan = 30 * 24 * time.Hour
	indexExcursions   = 200
	exportLimit       = 10000
	// readingsPage and maxReadingsPages bound the month of readings the
	// daily log reads (a month at one reading every 5 s).
	readingsPage     = 20000
	maxReadingsPages = 30
	// maxLongText bounds the troubleshooting record's free-text fields.
	maxLongText = 4000
	// maxSensorID bounds a chart's sensor parameter.
	maxSensorID = 256
	// maxAbsValue bounds typed temperatures and chart band limits.
	maxAbsValue = 1e6
)

// records serves the compliance record pages.
type records struct {
	logger   *slog.Logger
	store    RecordStore
	readings Readings // nil: no daily log, MKT or charts
	sensors  func(ctx context.Context, unitID int64) ([]UnitSensor, error)
	units    EnvironmentSource // nil: no units
	site     Store
	audit    auditor
	loc      *time.Location
	now      func() time.Time
}

// series reports whether the daily log and MKT pages are served.
func (rc *records) series() bool { return rc.readings != nil && rc.sensors != nil }

// ---- formatting ----

// recTime formats an instant in the hospital's zone: "Mon 2 Nov 2026
// 14:05 EST"; zero is "—".
func recTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
}

// recClock formats an instant's local time of day: "14:05".
func recClock(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("15:04")
}

// recValue formats a value with its unit; NaN is "—".
func recValue(m wardwatch.Metric, v float64) string {
	if !finite(v) {
		return "—"
	}
	return formatValue(m, v)
}

// durationText says a duration in words: "2 h 15 min", "45 min", "20 s".
func durationText(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return strconv.Itoa(h) + " h"
		}
		return strconv.Itoa(h) + " h " + strconv.Itoa(m) + " min"
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	return strconv.Itoa(days) + " d " + strconv.Itoa(h) + " h"
}

func pctText(f float64) string {
	if !finite(f) {
		return "—"
	}
	return strconv.FormatFloat(100*f, 'f', 1, 64) + " %"
}

// joinDot joins the non-empty parts with " · ".
func joinDot(parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, " · ")
}

// printedLine says the zone and when and by whom a record was printed.
func printedLine(tz, at, by string) string {
	s := "Times in " + tz + ". Printed " + at
	if by != "" {
		s += " by " + by
	}
	return s + "."
}

// ---- paths ----

func excursionPath(id int64) string    { return "/records/excursions/" + strconv.FormatInt(id, 10) }
func unitDailyPath(id int64) string    { return "/records/units/" + strconv.FormatInt(id, 10) + "/daily" }
func unitDailyCSVPath(id int64) string { return unitDailyPath(id) + ".csv" }
func unitMKTPath(id int64) string      { return "/records/units/" + strconv.FormatInt(id, 10) + "/mkt" }

// withQuery appends non-empty query parameters to path.
func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// chartPath is the chart route for a sensor's window with its band.
func chartPath(sensor string, m wardwatch.Metric, from, to time.Time, low, high float64) string {
	kv := []string{"sensor", sensor, "metric", string(m), "from", from.UTC().Format(time.RFC3339), "to", to.UTC().Format(time.RFC3339)}
	if finite(low) {
		kv = append(kv, "low", strconv.FormatFloat(low, 'g', -1, 64))
	}
	if finite(high) {
		kv = append(kv, "high", strconv.FormatFloat(high, 'g', -1, 64))
	}
	return withQuery("/records/chart.svg", kv...)
}

// ---- query parsing ----

// parseDay parses a local date "2006-01-02" in loc (years 2000–2200).
func parseDay(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, loc)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "Dates must be written as YYYY-MM-DD.")
	}
	return t, nil
}

// parseMonth parses a month "2006-01" in loc (years 2000–2200) to its
// first instant.
func parseMonth(s string, loc *time.Location) (time.Time, error) {
	t, err := time.ParseInLocation("2006-01", s, loc)
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "The month must be written as YYYY-MM.")
	}
	return t, nil
}

// parseInstant parses RFC 3339, a datetime-local value
// ("2006-01-02T15:04", in loc) or a date (its local midnight).
func parseInstant(s string, loc *time.Location) (time.Time, error) {
	var t time.Time
	var err error
	switch {
	case len(s) == len(time.DateOnly):
		t, err = time.ParseInLocation(time.DateOnly, s, loc)
	case len(s) == len(datetimeLocal):
		t, err = time.ParseInLocation(datetimeLocal, s, loc)
	default:
		t, err = time.Parse(time.RFC3339, s)
	}
	if err != nil || t.Year() < 2000 || t.Year() > 2200 {
		return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "Times must be written as 2006-01-02T15:04 or in RFC 3339.")
	}
	return t, nil
}

// recordQuery is the index's and exports' filter.
type recordQuery struct {
	UnitID   int64
	From, To time.Time // To is exclusive: the day after the last day shown
	FromDay  string
	ToDay    string
}

// parseRecordQuery reads ?unit=&from=&to= (local dates, to inclusive),
// defaulting to the last 30 days, bounded to a year.
func parseRecordQuery(q url.Values, loc *time.Location, now time.Time) (recordQuery, error) {
	var rq recordQuery
	if s := q.Get("unit"); s != "" && s != "0" {
		id, ok := parseID(s)
		if !ok {
			return rq, wardwatch.Errorf(wardwatch.EINVALID, "Choose a unit from the list.")
		}
		rq.UnitID = id
	}
	ln := now.In(loc)
	today := time.Date(ln.Year(), ln.Month(), ln.Day(), 0, 0, 0, 0, loc)
	rq.To = today.AddDate(0, 0, 1)
	if s := q.Get("to"); s != "" {
		t, err := parseDay(s, loc)
		if err != nil {
			return rq, err
		}
		rq.To = t.AddDate(0, 0, 1)
	}
	rq.From = rq.To.Add(-defaultFilterSpan)
	if s := q.Get("from"); s != "" {
		t, err := parseDay(s, loc)
		if err != nil {
			return rq, err
		}
		rq.From = t
	}
	switch {
	case !rq.To.After(rq.From):
		return rq, wardwatch.Errorf(wardwatch.EINVALID, "The first day must not be after the last day.")
	case rq.To.Sub(rq.From) > maxFilterSpan+25*time.Hour:
		return rq, wardwatch.Errorf(wardwatch.EINVALID, "Choose at most a year of records at a time.")
	}
	rq.FromDay = rq.From.In(loc).Format(time.DateOnly)
	rq.ToDay = rq.To.In(loc).AddDate(0, 0, -1).Format(time.DateOnly)
	return rq, nil
}

// chartQuery is a parsed chart request.
type chartQuery struct {
	Sensor    string
	Metric    wardwatch.Metric
	From, To  time.Time
	Low, High float64 // NaN when not given
}

// parseChartQuery reads ?sensor=&metric=&from=&to=&low=&high=: a sensor
// and metric, a window of at most 31 days, and optional finite band limits.
func parseChartQuery(q url.Values, loc *time.Location) (chartQuery, error) {
	cq := chartQuery{Sensor: q.Get("sensor"), Metric: wardwatch.Metric(q.Get("metric")), Low: math.NaN(), High: math.NaN()}
	switch {
	case cq.Sensor == "" || len(cq.Sensor) > maxSensorID || !utf8.ValidString(cq.Sensor) || strings.ContainsFunc(cq.Sensor, isControl):
		return cq, wardwatch.Errorf(wardwatch.EINVALID, "The chart needs a sensor.")
	case !cq.Metric.Valid():
		return cq, wardwatch.Errorf(wardwatch.EINVALID, "The chart needs a known metric.")
	}
	var err error
	if cq.From, err = parseInstant(q.Get("from"), loc); err != nil {
		return cq, err
	}
	if cq.To, err = parseInstant(q.Get("to"), loc); err != nil {
		return cq, err
	}
	switch {
	case !cq.To.After(cq.From):
		return cq, wardwatch.Errorf(wardwatch.EINVALID, "The chart's end must be after its start.")
	case cq.To.Sub(cq.From) > maxChartSpan:
		return cq, wardwatch.Errorf(wardwatch.EINVALID, "A chart shows at most 31 days.")
	}
	for _, lim := range []struct {
		name string
		dst  *float64
	}{{"low", &cq.Low}, {"high", &cq.High}} {
		s := q.Get(lim.name)
		if s == "" {
			continue
		}
		v, err := strconv.ParseFloat(strings.Replace(s, "−", "-", 1), 64)
		if err != nil || !finite(v) || math.Abs(v) > maxAbsValue {
			return cq, wardwatch.Errorf(wardwatch.EINVALID, "The range limits must be numbers.")
		}
		*lim.dst = v
	}
	if finite(cq.Low) && finite(cq.High) && cq.Low > cq.High {
		return cq, wardwatch.Errorf(wardwatch.EINVALID, "The low limit must not be above the high limit.")
	}
	return cq, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// chartInterval is the bucket width that keeps a window under
// maxChartBuckets buckets.
func chartInterval(span time.Duration) time.Duration {
	for _, d := range []time.Duration{10 * time.Second, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute,
		5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour} {
		if span/d <= maxChartBuckets {
			return d
		}
	}
	return 12 * time.Hour
}

// ---- troubleshooting form ----

// Troubleshooting form field names.
const (
	tsDiscoveredAt = "discovered_at"
	tsReporterName = "reporter_name"
	tsReporterRole = "reporter_title"
	tsUnitTemp     = "unit_temp"
	tsMinTemp      = "min_temp"
	tsMaxTemp      = "max_temp"
	tsRoomTemp     = "room_temp"
	tsDescription  = "description"
	tsProduct      = "affected_product"
	tsOther        = "other_contents"
	tsPrior        = "prior_issues"
	tsContacted    = "contacted"
	tsReportNumber = "report_number"
	tsReturnedAt   = "returned_at"
	tsActions      = "actions"
	tsPrevention   = "prevention"
	tsDisposition  = "disposition"
)

// tsLongFields are the free-text fields (maxLongText each).
var tsLongFields = []string{tsDescription, tsProduct, tsOther, tsPrior, tsContacted, tsActions, tsPrevention}

// tsValues is a troubleshooting record as the form's input values.
func tsValues(t alerts.Troubleshooting, loc *time.Location) map[string]string {
	tm := func(x time.Time) string {
		if x.IsZero() {
			return ""
		}
		return x.In(loc).Format(datetimeLocal)
	}
	f := func(v float64) string {
		if !finite(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return map[string]string{
		tsDiscoveredAt: tm(t.DiscoveredAt), tsReporterName: t.ReporterName, tsReporterRole: t.ReporterTitle,
		tsUnitTemp: f(t.UnitTempDiscovered), tsMinTemp: f(t.MinDiscovered), tsMaxTemp: f(t.MaxDiscovered), tsRoomTemp: f(t.RoomTemp),
		tsDescription: t.Description, tsProduct: t.AffectedProduct, tsOther: t.OtherContents, tsPrior: t.PriorIssues,
		tsContacted: t.Contacted, tsReportNumber: t.ReportNumber, tsReturnedAt: tm(t.ReturnedToStorage),
		tsActions: t.Actions, tsPrevention: t.Prevention, tsDisposition: string(t.Disposition),
	}
}

// parseTroubleshooting reads the troubleshooting form: times as
// datetime-local in loc (not in the future of now), temperatures in °C
// (empty: unknown), bounded valid text. Disposition is read only when
// allowDisposition is set (an excursion without a quarantine; a
// quarantine's disposition is set by clearing it).
func parseTroubleshooting(v map[string]string, loc *time.Location, now time.Time, allowDisposition bool) (alerts.Troubleshooting, error) {
	var t alerts.Troubleshooting
	for k, s := range v {
		limit := maxFieldBytes
		if slices.Contains(tsLongFields, k) {
			limit = maxLongText
		}
		switch {
		case len(s) > limit:
			return t, wardwatch.Errorf(wardwatch.EINVALID, "The field %q is too long.", shortField(k))
		case !utf8.ValidString(s) || strings.ContainsRune(s, 0):
			return t, wardwatch.Errorf(wardwatch.EINVALID, "The field %q has characters that cannot be stored.", shortField(k))
		}
	}
	tm := func(name, label string) (time.Time, error) {
		s := v[name]
		if s == "" {
			return time.Time{}, nil
		}
		x, err := time.ParseInLocation(datetimeLocal, s, loc)
		switch {
		case err != nil || x.Year() < 2000:
			return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a date and time.", label)
		case x.After(now.Add(time.Minute)):
			return time.Time{}, wardwatch.Errorf(wardwatch.EINVALID, "%s is in the future.", label)
		}
		return x, nil
	}
	temp := func(name, label string) (float64, error) {
		s := strings.Replace(v[name], "−", "-", 1)
		if s == "" {
			return math.NaN(), nil
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil || !finite(x) || math.Abs(x) > 1000 {
			return 0, wardwatch.Errorf(wardwatch.EINVALID, "%s must be a temperature in °C, such as 9.4 or -2.", label)
		}
		return x, nil
	}
	var err error
	if t.DiscoveredAt, err = tm(tsDiscoveredAt, "When it was discovered"); err != nil {
		return t, err
	}
	if t.ReturnedToStorage, err = tm(tsReturnedAt, "When product went back into proper storage"); err != nil {
		return t, err
	}
	for _, f := range []struct {
		name, label string
		dst         *float64
	}{
		{tsUnitTemp, "The unit's temperature when discovered", &t.UnitTempDiscovered},
		{tsMinTemp, "The minimum when discovered", &t.MinDiscovered},
		{tsMaxTemp, "The maximum when discovered", &t.MaxDiscovered},
		{tsRoomTemp, "The room temperature", &t.RoomTemp},
	} {
		if *f.dst, err = temp(f.name, f.label); err != nil {
			return t, err
		}
	}
	if finite(t.MinDiscovered) && finite(t.MaxDiscovered) && t.MinDiscovered > t.MaxDiscovered {
		return t, wardwatch.Errorf(wardwatch.EINVALID, "The minimum when discovered is above the maximum.")
	}
	t.ReporterName, t.ReporterTitle = v[tsReporterName], v[tsReporterRole]
	t.Description, t.AffectedProduct, t.OtherContents, t.PriorIssues = v[tsDescription], v[tsProduct], v[tsOther], v[tsPrior]
	t.Contacted, t.ReportNumber, t.Actions, t.Prevention = v[tsContacted], v[tsReportNumber], v[tsActions], v[tsPrevention]
	if allowDisposition && v[tsDisposition] != "" {
		d := alerts.Disposition(v[tsDisposition])
		if !d.Valid() {
			return t, wardwatch.Errorf(wardwatch.EINVALID, "Choose what became of the product: used, returned or wasted.")
		}
		t.Disposition = d
	}
	return t, nil
}

// ---- shared lookups ----

// unitList returns the monitored units, or none without a source.
func (rc *records) unitList(ctx context.Context) ([]wardwatch.MonitoredUnit, error) {
	if rc.units == nil {
		return nil, nil
	}
	us, err := rc.units.Units(ctx)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	slices.SortFunc(us, func(a, b wardwatch.MonitoredUnit) int { return strings.Compare(a.Name, b.Name) })
	return us, nil
}

var errNoUnit = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such monitored unit.")

// unit finds the unit of the path's {id}.
func (rc *records) unit(r *http.Request) (wardwatch.MonitoredUnit, error) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return wardwatch.MonitoredUnit{}, errNoUnit
	}
	us, err := rc.unitList(r.Context())
	if err != nil {
		return wardwatch.MonitoredUnit{}, err
	}
	for _, u := range us {
		if u.ID == id {
			return u, nil
		}
	}
	return wardwatch.MonitoredUnit{}, errNoUnit
}

// unitProfile is a unit's seeded profile; an unknown profile has no ranges.
func unitProfile(u wardwatch.MonitoredUnit) alerts.Profile {
	p, err := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{})
	if err != nil {
		return alerts.Profile{Profile: u.Profile}
	}
	return p
}

// primaryRange is the range a unit's log follows: its temperature range,
// else its first range.
func primaryRange(p alerts.Profile) (alerts.Range, bool) {
	for _, r := range p.Ranges {
		if r.Metric == wardwatch.MetricTemperature {
			return r, true
		}
	}
	if len(p.Ranges) > 0 {
		return p.Ranges[0], true
	}
	return alerts.Range{}, false
}

// zoneName is the name of a unit's room, or "".
func (rc *records) zoneName(ctx context.Context, id int64) string {
	if id == 0 || rc.site == nil {
		return ""
	}
	_, zones, err := floorAndZoneNames(ctx, rc.site)
	if err != nil {
		rc.logger.Warn("zone names for records", "err", err)
		return ""
	}
	return zones[id]
}

// checkScope answers EFORBIDDEN when vw is scoped to care units and the
// monitored unit unitID belongs to another (see checkScope in scope.go).
func (rc *records) checkScope(ctx context.Context, vw *viewer, unitID int64, what string) error {
	if vw == nil || !vw.User.Scoped() || vw.APIToken != 0 {
		return nil
	}
	units, err := rc.unitList(ctx)
	if err != nil {
		return err
	}
	byZone, _, err := zoneCareUnits(ctx, rc.site)
	if err != nil {
		return err
	}
	return checkScope(vw, what, unitCareUnits(units, byZone)[unitID])
}

// pickSensor chooses the unit's sensor of metric m named by want (or the
// first), returning every candidate for the page's selector.
func (rc *records) pickSensor(ctx context.Context, unitID int64, m wardwatch.Metric, want string) (UnitSensor, []UnitSensor, error) {
	all, err := rc.sensors(ctx, unitID)
	if err != nil {
		return UnitSensor{}, nil, fmt.Errorf("unit %d sensors: %w", unitID, err)
	}
	var cands []UnitSensor
	for _, s := range all {
		if s.Metric == m {
			cands = append(cands, s)
		}
	}
	if len(cands) == 0 {
		if want != "" {
			return UnitSensor{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "This unit has no such sensor.")
		}
		return UnitSensor{}, nil, nil
	}
	if want == "" {
		return cands[0], cands, nil
	}
	for _, s := range cands {
		if s.SensorID == want {
			return s, cands, nil
		}
	}
	return UnitSensor{}, nil, wardwatch.Errorf(wardwatch.EINVALID, "This unit has no such sensor.")
}

func sensorLabel(s UnitSensor) string {
	if s.Name != "" && s.Name != s.SensorID {
		return s.Name + " (" + s.SensorID + ")"
	}
	return s.SensorID
}

// ---- index ----

// recordUnitRow is one unit on the records index.
type recordUnitRow struct {
	Unit        wardwatch.MonitoredUnit
	Label       string
	Room        string
	Quarantined []alerts.Excursion
	HasMKT      bool
}

// excursionRow is one excursion in a list.
type excursionRow struct {
	X         alerts.Excursion
	Start     string
	End       string
	Duration  string
	Extreme   string // peak or trough, whichever left the range
	Range     string
	DoNotUse  bool
	Cleared   bool
	InProcess bool
}

// recordsIndexView is the records index.
type recordsIndexView struct {
	Units       []recordUnitRow
	Quarantined int // units showing DO NOT USE
	// OtherQuarantined counts quarantined units left out by the viewer's
	// care-unit scope: the page says so, DO NOT USE is never hidden.
	OtherQuarantined int
	// ScopeText names what is shown ("4B", "all care units") for a viewer
	// scoped to care units; ScopeLink and ScopeLabel toggle it.
	ScopeText   string
	ScopeLink   string
	ScopeLabel  string
	Excursions  []excursionRow
	Truncated   bool
	UnitList    []wardwatch.MonitoredUnit
	Filter      recordQuery
	Series      bool
	CSVURL      string
	AuditCSVURL string
	TZ          string
	loc         *time.Location
}

// T formats an instant in the hospital's zone.
func (v recordsIndexView) T(t time.Time) string { return recTime(t, v.loc) }

func newExcursionRow(x alerts.Excursion, loc *time.Location, now time.Time) excursionRow {
	row := excursionRow{X: x, Start: recTime(x.Start, loc), Duration: durationText(x.Duration(now)),
		Range: bandText(x.Metric, x.Low, x.High), DoNotUse: x.Quarantined(),
		Cleared: x.Quarantine && !x.QuarantineClearedAt.IsZero(), InProcess: !x.Closed()}
	if x.Closed() {
		row.End = recTime(x.End, loc)
	} else {
		row.End = "in progress"
	}
	switch {
	case x.Above > 0 || x.Peak > x.High:
		row.Extreme = "peak " + recValue(x.Metric, x.Peak)
	case x.Below > 0 || x.Trough < x.Low:
		row.Extreme = "trough " + recValue(x.Metric, x.Trough)
	}
	return row
}

// quarantines returns the excursions with an uncleared quarantine, by
// unit.
func quarantines(ctx context.Context, store RecordStore) (map[int64][]alerts.Excursion, error) {
	xs, err := store.Excursions(ctx, ExcursionFilter{Quarantined: true, Limit: exportLimit})
	if err != nil {
		return nil, fmt.Errorf("quarantined excursions: %w", err)
	}
	out := make(map[int64][]alerts.Excursion)
	for _, x := range xs {
		if x.Quarantined() {
			out[x.UnitID] = append(out[x.UnitID], x)
		}
	}
	return out, nil
}

// quarantineSource is the environment page's view of open quarantines;
// nil without a record store.
func quarantineSource(store RecordStore) func(ctx context.Context) (map[int64][]alerts.Excursion, error) {
	if store == nil {
		return nil
	}
	return func(ctx context.Context) (map[int64][]alerts.Excursion, error) { return quarantines(ctx, store) }
}

// handleIndex lists units (DO NOT USE first) and recent excursions.
func (rc *records) handleIndex() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		now := rc.now()
		rq, err := parseRecordQuery(r.URL.Query(), rc.loc, now)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		units, err := rc.unitList(ctx)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		qs, err := quarantines(ctx, rc.store)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		xs, err := rc.store.Excursions(ctx, ExcursionFilter{UnitID: rq.UnitID, From: rq.From, To: rq.To, Limit: indexExcursions + 1})
		if err != nil {
			renderError(w, r, rc.logger, fmt.Errorf("list excursions: %w", err))
			return
		}
		_, zones, err := floorAndZoneNames(ctx, rc.site)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		labels := profileLabels()
		v := recordsIndexView{UnitList: units, Filter: rq, Series: rc.series(), TZ: rc.loc.String(), loc: rc.loc}
		// A viewer scoped to care units sees theirs (and units of no care
		// unit) unless they chose a unit or asked for all.
		scope, all := scopeUnits(viewerFrom(ctx)), r.URL.Query().Get("scope") == "all"
		shown := func(int64) bool { return true }
		if len(scope) > 0 && rq.UnitID == 0 {
			byZone, _, err := zoneCareUnits(ctx, rc.site)
			if err != nil {
				renderError(w, r, rc.logger, err)
				return
			}
			care := unitCareUnits(units, byZone)
			if !all {
				shown = func(id int64) bool { c := care[id]; return c == "" || slices.Contains(scope, c) }
			}
			q := r.URL.Query()
			if all {
				q.Del("scope")
				v.ScopeText, v.ScopeLabel = "all care units", "show "+scopeText(scope)+" only"
			} else {
				q.Set("scope", "all")
				v.ScopeText, v.ScopeLabel = scopeText(scope), "show all"
			}
			v.ScopeLink = "/records"
			if len(q) > 0 {
				v.ScopeLink += "?" + q.Encode()
			}
		}
		for _, u := range units {
			row := recordUnitRow{Unit: u, Label: labels[u.Profile], Room: zones[u.ZoneID], Quarantined: qs[u.ID],
				HasMKT: unitProfile(u).MKTLimit > 0}
			if !shown(u.ID) {
				if len(row.Quarantined) > 0 {
					v.OtherQuarantined++
				}
				continue
			}
			if len(row.Quarantined) > 0 {
				v.Quarantined++
			}
			v.Units = append(v.Units, row)
		}
		xs = slices.DeleteFunc(xs, func(x alerts.Excursion) bool { return !shown(x.UnitID) })
		slices.SortStableFunc(v.Units, func(a, b recordUnitRow) int {
			return cmp.Compare(min(len(b.Quarantined), 1), min(len(a.Quarantined), 1))
		})
		slices.SortStableFunc(xs, func(a, b alerts.Excursion) int { return b.Start.Compare(a.Start) })
		if len(xs) > indexExcursions {
			xs, v.Truncated = xs[:indexExcursions], true
		}
		for _, x := range xs {
			v.Excursions = append(v.Excursions, newExcursionRow(x, rc.loc, now))
		}
		unit := ""
		if rq.UnitID != 0 {
			unit = strconv.FormatInt(rq.UnitID, 10)
		}
		v.CSVURL = withQuery("/records/excursions.csv", "unit", unit, "from", rq.FromDay, "to", rq.ToDay)
		v.AuditCSVURL = withQuery("/records/audit.csv", "unit", unit, "from", rq.FromDay, "to", rq.ToDay)
		p := newPageMeta(r, "Compliance records")
		p.Nav = "records"
		render(w, r, rc.logger, http.StatusOK, recordsIndexPage(p, v))
	})
}

// ---- exports ----

// writeCSV answers with a CSV attachment written by fill into a buffer
// first, so a failure is a clean error, never half a file.
func writeCSV(w http.ResponseWriter, r *http.Request, logger *slog.Logger, filename string, fill func(*bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := fill(&buf); err != nil {
		respondError(w, r, logger, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}

// csvName builds a safe file name from its parts.
func csvName(parts ...string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, c := range p {
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
				b.WriteRune(c)
			}
		}
	}
	return b.String() + ".csv"
}

// handleExcursionsCSV exports the filtered excursion records.
func (rc *records) handleExcursionsCSV() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, err := parseRecordQuery(r.URL.Query(), rc.loc, rc.now())
		if err != nil {
			respondError(w, r, rc.logger, err)
			return
		}
		name := csvName("excursions", unitPart(rq.UnitID), rq.FromDay, "to", rq.ToDay)
		writeCSV(w, r, rc.logger, name, func(b *bytes.Buffer) error {
			xs, err := rc.store.Excursions(r.Context(), ExcursionFilter{UnitID: rq.UnitID, From: rq.From, To: rq.To, Limit: exportLimit})
			if err != nil {
				return fmt.Errorf("list excursions: %w", err)
			}
			slices.SortStableFunc(xs, func(a, b alerts.Excursion) int { return a.Start.Compare(b.Start) })
			return alerts.WriteExcursionsCSV(b, xs)
		})
	})
}

func unitPart(id int64) string {
	if id == 0 {
		return "all"
	}
	return "unit" + strconv.FormatInt(id, 10)
}

// handleAuditCSV exports the alert audit trail.
func (rc *records) handleAuditCSV() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, err := parseRecordQuery(r.URL.Query(), rc.loc, rc.now())
		if err != nil {
			respondError(w, r, rc.logger, err)
			return
		}
		name := csvName("alert-audit", unitPart(rq.UnitID), rq.FromDay, "to", rq.ToDay)
		writeCSV(w, r, rc.logger, name, func(b *bytes.Buffer) error {
			as, err := rc.store.AlertAuditTrail(r.Context(), rq.From, rq.To, rq.UnitID, exportLimit)
			if err != nil {
				return fmt.Errorf("alert audit trail: %w", err)
			}
			return alerts.WriteAuditCSV(b, as)
		})
	})
}

// ---- excursion record ----

// excursionView is one excursion record.
type excursionView struct {
	X         alerts.Excursion
	Row       excursionRow
	Room      string
	Profile   string
	Sensor    string
	RuleName  string
	Above     string
	Below     string
	DegMinAbv string
	DegMinBlw string
	Peak      string
	PeakAt    string
	Trough    string
	TroughAt  string
	ClearedAt string
	// ChartURL is empty without a readings store; ChartNote says when
	// the window was cut to the chart's limit.
	ChartURL  string
	ChartNote string
	Form      map[string]string
	FormError string
	ClearErr  string
	CanEdit   bool
	CanClear  bool
	// ScopeNote says why a user scoped to other care units sees no forms.
	ScopeNote string
	// DispositionInForm: the troubleshooting form sets the disposition
	// (an excursion without a quarantine).
	DispositionInForm bool
	Print             bool
	PrintURL          string
	Generated         string
	By                string
	TZ                string
	loc               *time.Location
}

// T formats an instant of the record.
func (v excursionView) T(t time.Time) string { return recTime(t, v.loc) }

// buildExcursionView loads everything the record shows.
func (rc *records) buildExcursionView(ctx context.Context, x alerts.Excursion, vw *viewer) excursionView {
	now := rc.now()
	v := excursionView{X: x, Row: newExcursionRow(x, rc.loc, now), loc: rc.loc, TZ: rc.loc.String(),
		Above: durationText(x.Above), Below: durationText(x.Below),
		DegMinAbv: strconv.FormatFloat(x.DegreeMinutesAbove, 'f', 1, 64), DegMinBlw: strconv.FormatFloat(x.DegreeMinutesBelow, 'f', 1, 64),
		Peak: recValue(x.Metric, x.Peak), PeakAt: recTime(x.PeakAt, rc.loc), Trough: recValue(x.Metric, x.Trough), TroughAt: recTime(x.TroughAt, rc.loc),
		ClearedAt: recTime(x.QuarantineClearedAt, rc.loc), Sensor: x.SensorID, RuleName: x.AlarmRule,
		Form: tsValues(x.Troubleshooting, rc.loc), DispositionInForm: !x.Quarantine,
		Generated: recTime(now, rc.loc), PrintURL: excursionPath(x.ID) + "?print=1"}
	if vw != nil {
		v.By = vw.User.Username
		v.CanEdit = vw.can(permSignOff) && !vw.Kiosk
		v.CanClear = !vw.Kiosk && alerts.CanClearQuarantine([]string{string(vw.User.Role)}) && x.Quarantined()
		if err := rc.checkScope(ctx, vw, x.UnitID, "excursion"); err != nil && (v.CanEdit || v.CanClear) {
			v.CanEdit, v.CanClear, v.ScopeNote = false, false, wardwatch.ErrorMessage(err)
		}
		if v.Form[tsReporterName] == "" && v.CanEdit {
			v.Form[tsReporterName] = vw.User.Username
		}
	}
	us, err := rc.unitList(ctx)
	if err != nil {
		rc.logger.Warn("units for excursion record", "err", err)
	}
	for _, u := range us {
		if u.ID == x.UnitID {
			v.Room = rc.zoneName(ctx, u.ZoneID)
			v.Profile = profileLabels()[u.Profile]
			for _, rule := range unitProfile(u).Rules {
				if rule.ID == x.AlarmRule {
					v.RuleName = rule.Name
				}
			}
		}
	}
	if x.AlarmRule != "" {
		if rules, err := rc.store.UnitRules(ctx); err != nil {
			rc.logger.Warn("unit rules for excursion record", "err", err)
		} else {
			for _, rule := range rules[x.UnitID] {
				if rule.ID == x.AlarmRule && rule.Name != "" {
					v.RuleName = rule.Name
				}
			}
		}
	}
	if rc.sensors != nil && x.UnitID != 0 {
		if ss, err := rc.sensors(ctx, x.UnitID); err != nil {
			rc.logger.Warn("unit sensors for excursion record", "err", err)
		} else {
			for _, s := range ss {
				if s.SensorID == x.SensorID {
					v.Sensor = sensorLabel(s)
				}
			}
		}
	}
	if rc.readings != nil && x.SensorID != "" && x.Metric.Valid() {
		from, to := x.SeriesWindow(now)
		if to.Sub(from) > maxChartSpan {
			to = from.Add(maxChartSpan)
			v.ChartNote = "The excursion is longer than a chart can show: the chart covers its first 31 days."
		}
		v.ChartURL = chartPath(x.SensorID, x.Metric, from, to, x.Low, x.High)
	}
	return v
}

func excursionID(r *http.Request) (int64, error) {
	id, ok := parseID(r.PathValue("id"))
	if !ok {
		return 0, errNoExcursion
	}
	return id, nil
}

var errNoExcursion = wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such excursion record.")

// loadExcursion loads the path's excursion, mapping a missing one to 404.
func (rc *records) loadExcursion(r *http.Request) (alerts.Excursion, error) {
	id, err := excursionID(r)
	if err != nil {
		return alerts.Excursion{}, err
	}
	x, err := rc.store.Excursion(r.Context(), id)
	if err != nil {
		if wardwatch.ErrorCode(err) == wardwatch.ENOTFOUND {
			return x, errNoExcursion
		}
		return x, fmt.Errorf("excursion %d: %w", id, err)
	}
	return x, nil
}

// renderExcursion renders the record with status.
func (rc *records) renderExcursion(w http.ResponseWriter, r *http.Request, status int, v excursionView) {
	p := newPageMeta(r, "Excursion record "+strconv.FormatInt(v.X.ID, 10))
	p.Nav = "records"
	render(w, r, rc.logger, status, excursionPage(p, v))
}

// handleExcursion shows one excursion record; ?print=1 is the printable
// version without forms.
func (rc *records) handleExcursion() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x, err := rc.loadExcursion(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		v := rc.buildExcursionView(r.Context(), x, viewerFrom(r.Context()))
		switch r.URL.Query().Get("print") {
		case "", "0":
		case "1":
			v.Print = true
		default:
			renderError(w, r, rc.logger, wardwatch.Errorf(wardwatch.EINVALID, "print must be 1."))
			return
		}
		rc.renderExcursion(w, r, http.StatusOK, v)
	})
}

// handleSaveTroubleshooting saves the troubleshooting fields.
func (rc *records) handleSaveTroubleshooting() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		x, err := rc.loadExcursion(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		if err := rc.checkScope(ctx, viewerFrom(ctx), x.UnitID, "excursion"); err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		vals, err := formValues(w, r, tsLongFields...)
		if err != nil {
			rc.formFailed(w, r, x, nil, err, false)
			return
		}
		t, err := parseTroubleshooting(vals, rc.loc, rc.now(), !x.Quarantine)
		if err != nil {
			rc.formFailed(w, r, x, vals, err, false)
			return
		}
		if x.Quarantine {
			t.Disposition = x.Troubleshooting.Disposition // set by clearing the quarantine
		}
		if err := rc.store.SaveTroubleshooting(ctx, x.ID, t); err != nil {
			rc.formFailed(w, r, x, vals, fmt.Errorf("save troubleshooting of excursion %d: %w", x.ID, err), false)
			return
		}
		rc.audit.record(ctx, "update", "excursion", x.ID, x.Troubleshooting, t, "troubleshooting record")
		http.Redirect(w, r, excursionPath(x.ID)+"#troubleshooting", http.StatusSeeOther)
	})
}

// formFailed re-renders the record with the error beside the form that
// failed, keeping what the user typed.
func (rc *records) formFailed(w http.ResponseWriter, r *http.Request, x alerts.Excursion, vals map[string]string, err error, clear bool) {
	status := statusOf(err)
	logError(rc.logger, r, status, err)
	if status == http.StatusForbidden || status == http.StatusNotFound {
		renderError(w, r, rc.logger, err)
		return
	}
	v := rc.buildExcursionView(r.Context(), x, viewerFrom(r.Context()))
	if clear {
		v.ClearErr = wardwatch.ErrorMessage(err)
	} else {
		v.FormError = wardwatch.ErrorMessage(err)
		for k, s := range vals {
			if _, ok := v.Form[k]; ok {
				v.Form[k] = s
			}
		}
	}
	rc.renderExcursion(w, r, status, v)
}

// handleClearQuarantine lifts an excursion's DO NOT USE flag with the
// product's disposition: pharmacists and admins only.
func (rc *records) handleClearQuarantine() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vw := viewerFrom(ctx)
		if vw == nil {
			renderError(w, r, rc.logger, errForbidden)
			return
		}
		roles := []string{string(vw.User.Role)}
		if vw.Kiosk || !alerts.CanClearQuarantine(roles) {
			renderError(w, r, rc.logger, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Only a pharmacist or an admin may clear a quarantine."))
			return
		}
		x, err := rc.loadExcursion(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		if err := rc.checkScope(ctx, vw, x.UnitID, "excursion"); err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		if err := parseAdminForm(w, r); err != nil {
			rc.formFailed(w, r, x, nil, err, true)
			return
		}
		raw := r.PostForm.Get(tsDisposition)
		if len(raw) > maxFieldBytes {
			rc.formFailed(w, r, x, nil, wardwatch.Errorf(wardwatch.EINVALID, "Choose what became of the product: used, returned or wasted."), true)
			return
		}
		d := alerts.Disposition(raw)
		now := rc.now()
		before := x
		if err := x.ClearQuarantine(vw.User.Username, roles, d, now); err != nil {
			rc.formFailed(w, r, before, nil, err, true)
			return
		}
		if err := rc.store.ClearQuarantine(ctx, x.ID, vw.User.Username, now, d); err != nil {
			rc.formFailed(w, r, before, nil, fmt.Errorf("clear quarantine of excursion %d: %w", x.ID, err), true)
			return
		}
		rc.audit.record(ctx, "clear_quarantine", "excursion", x.ID,
			map[string]any{"quarantined": true},
			map[string]any{"quarantined": false, "disposition": d, "cleared_by": vw.User.Username}, "")
		http.Redirect(w, r, excursionPath(x.ID), http.StatusSeeOther)
	})
}

// ---- daily log ----

// dailyRow is one day of the log.
type dailyRow struct {
	E          alerts.DailyEntry
	Date       string // "Mon 2 Nov"
	NoData     bool
	Min, Max   string
	MinAt      string
	MaxAt      string
	Mean       string
	Last       string
	LastAt     string
	InRange    string
	Coverage   string
	OutOfRange bool // min or max outside the range
	ReviewBy   string
	ReviewAt   string
	Late       bool // signed on a later day
	Signable   bool
}

// dailyView is a unit's daily min/max log for a month.
type dailyView struct {
	Unit       wardwatch.MonitoredUnit
	Label      string
	Room       string
	Month      string // "2026-11"
	MonthTitle string // "November 2026"
	PrevMonth  string
	NextMonth  string // "" for the current month
	Sensor     UnitSensor
	Sensors    []UnitSensor
	NoSensor   bool
	Range      string
	HasRange   bool
	Metric     wardwatch.Metric
	Rows       []dailyRow
	ScopeNote  string // why a user scoped to other care units cannot sign off
	CanSign    bool
	Error      string
	ErrorDay   string
	CSVURL     string
	MKTURL     string
	TZ         string
	Generated  string
	By         string
}

// dailyParams are the daily log's query parameters.
type dailyParams struct {
	Month  time.Time
	Sensor string
}

// parseDailyParams reads ?month=YYYY-MM (default: this month; never a
// month that has not begun) and ?sensor=.
func parseDailyParams(q url.Values, loc *time.Location, now time.Time) (dailyParams, error) {
	ln := now.In(loc)
	p := dailyParams{Month: time.Date(ln.Year(), ln.Month(), 1, 0, 0, 0, 0, loc), Sensor: q.Get("sensor")}
	if s := q.Get("month"); s != "" {
		m, err := parseMonth(s, loc)
		if err != nil {
			return p, err
		}
		if m.After(now) {
			return p, wardwatch.Errorf(wardwatch.EINVALID, "%s has not begun yet.", s)
		}
		p.Month = m
	}
	if len(p.Sensor) > maxSensorID {
		return p, wardwatch.Errorf(wardwatch.EINVALID, "This unit has no such sensor.")
	}
	return p, nil
}

// monthReadings reads a sensor's raw readings in [from, to), page by page.
func (rc *records) monthReadings(ctx context.Context, s UnitSensor, from, to time.Time) ([]wardwatch.Reading, error) {
	var all []wardwatch.Reading
	for page := 0; page < maxReadingsPages; page++ {
		rs, err := rc.readings.Readings(ctx, wardwatch.SeriesQuery{SensorID: s.SensorID, Metric: s.Metric, From: from, To: to, Limit: readingsPage})
		if err != nil {
			return nil, fmt.Errorf("readings of %s: %w", s.SensorID, err)
		}
		all = append(all, rs...)
		if len(rs) < readingsPage {
			return all, nil
		}
		next := rs[len(rs)-1].Time.Add(time.Nanosecond)
		if !next.After(from) {
			return nil, fmt.Errorf("readings of %s: the store returned readings out of order", s.SensorID)
		}
		from = next
	}
	return nil, wardwatch.Errorf(wardwatch.EUNAVAILABLE, "This sensor has too many readings in the month to show in one log.")
}

// buildDaily computes the month's log.
func (rc *records) buildDaily(ctx context.Context, u wardwatch.MonitoredUnit, dp dailyParams, vw *viewer) (dailyView, error) {
	now := rc.now()
	from := dp.Month
	next := from.AddDate(0, 1, 0)
	ln := now.In(rc.loc)
	tomorrow := time.Date(ln.Year(), ln.Month(), ln.Day()+1, 0, 0, 0, 0, rc.loc)
	to := next
	if to.After(tomorrow) {
		to = tomorrow
	}
	prof := unitProfile(u)
	rng, hasRange := primaryRange(prof)
	metric := wardwatch.MetricTemperature
	if hasRange {
		metric = rng.Metric
	}
	v := dailyView{Unit: u, Label: profileLabels()[u.Profile], Room: rc.zoneName(ctx, u.ZoneID),
		Month: from.Format("2006-01"), MonthTitle: from.Format("January 2006"),
		PrevMonth: from.AddDate(0, -1, 0).Format("2006-01"), HasRange: hasRange, Metric: metric,
		TZ: rc.loc.String(), Generated: recTime(now, rc.loc)}
	if !next.After(now) {
		v.NextMonth = next.Format("2006-01")
	}
	if hasRange {
		v.Range = bandText(rng.Metric, rng.Low, rng.High)
	}
	if prof.MKTLimit > 0 {
		v.MKTURL = unitMKTPath(u.ID)
	}
	if vw != nil {
		v.By = vw.User.Username
		v.CanSign = vw.can(permSignOff) && !vw.Kiosk
		if err := rc.checkScope(ctx, vw, u.ID, "monitored unit"); err != nil && v.CanSign {
			v.CanSign, v.ScopeNote = false, wardwatch.ErrorMessage(err)
		}
	}
	s, cands, err := rc.pickSensor(ctx, u.ID, metric, dp.Sensor)
	if err != nil {
		return v, err
	}
	v.Sensor, v.Sensors, v.NoSensor = s, cands, s.SensorID == ""
	v.CSVURL = withQuery(unitDailyCSVPath(u.ID), "month", v.Month, "sensor", dp.Sensor)

	var rs []wardwatch.Reading
	if !v.NoSensor {
		// The reading before the month may stand into its first day.
		if rs, err = rc.monthReadings(ctx, s, from.Add(-recordHold), to); err != nil {
			return v, err
		}
	}
	lastDay := to.AddDate(0, 0, -1).Format(time.DateOnly)
	reviews, err := rc.store.Reviews(ctx, u.ID, from.Format(time.DateOnly), lastDay)
	if err != nil {
		return v, fmt.Errorf("reviews of unit %d: %w", u.ID, err)
	}
	o := alerts.DailyOptions{Location: rc.loc, Hold: recordHold, UnitID: u.ID, UnitName: u.Name, Reviews: reviews}
	if hasRange {
		o.Range = &rng
	}
	for _, e := range alerts.DailyLog(rs, from, to, o) {
		row := dailyRow{E: e, Date: e.Start.Format("Mon 2 Jan"), NoData: e.Count == 0,
			Min: recValue(metric, e.Min), Max: recValue(metric, e.Max), MinAt: recClock(e.MinAt, rc.loc), MaxAt: recClock(e.MaxAt, rc.loc),
			Mean: recValue(metric, e.Mean), Last: recValue(metric, e.Last), LastAt: recClock(e.LastAt, rc.loc), InRange: pctText(e.InRange)}
		if span := e.End.Sub(e.Start); span > 0 {
			row.Coverage = pctText(e.Covered.Seconds() / span.Seconds())
		}
		if hasRange && e.Count > 0 {
			row.OutOfRange = e.Min < rng.Low || e.Max > rng.High
		}
		if e.Reviewed() {
			row.ReviewBy, row.ReviewAt = e.Review.By, recTime(e.Review.At, rc.loc)
			row.Late = !e.Review.At.IsZero() && e.Review.At.In(rc.loc).Format(time.DateOnly) != e.Day
		} else {
			row.Signable = v.CanSign && !e.Start.After(now)
		}
		v.Rows = append(v.Rows, row)
	}
	return v, nil
}

// handleDaily shows a unit's daily log for a month.
func (rc *records) handleDaily() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := rc.unit(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		dp, err := parseDailyParams(r.URL.Query(), rc.loc, rc.now())
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		v, err := rc.buildDaily(r.Context(), u, dp, viewerFrom(r.Context()))
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		rc.renderDaily(w, r, http.StatusOK, v)
	})
}

func (rc *records) renderDaily(w http.ResponseWriter, r *http.Request, status int, v dailyView) {
	p := newPageMeta(r, "Daily log — "+v.Unit.Name)
	p.Nav = "records"
	render(w, r, rc.logger, status, dailyPage(p, v))
}

// handleDailyCSV exports a unit's daily log for a month.
func (rc *records) handleDailyCSV() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, err := rc.unit(r)
		if err != nil {
			respondError(w, r, rc.logger, err)
			return
		}
		dp, err := parseDailyParams(r.URL.Query(), rc.loc, rc.now())
		if err != nil {
			respondError(w, r, rc.logger, err)
			return
		}
		name := csvName("daily-log", "unit"+strconv.FormatInt(u.ID, 10), dp.Month.Format("2006-01"))
		writeCSV(w, r, rc.logger, name, func(b *bytes.Buffer) error {
			v, err := rc.buildDaily(r.Context(), u, dp, nil)
			if err != nil {
				return err
			}
			es := make([]alerts.DailyEntry, len(v.Rows))
			for i, row := range v.Rows {
				es[i] = row.E
			}
			return alerts.WriteDailyLogCSV(b, es, rc.loc)
		})
	})
}

// handleSignOff stores a reviewer's sign-off of one day.
func (rc *records) handleSignOff() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := rc.unit(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		vw := viewerFrom(ctx)
		now := rc.now()
		fail := func(err error, day string, dp dailyParams) {
			status := statusOf(err)
			logError(rc.logger, r, status, err)
			v, berr := rc.buildDaily(ctx, u, dp, vw)
			if berr != nil {
				renderError(w, r, rc.logger, err)
				return
			}
			v.Error, v.ErrorDay = wardwatch.ErrorMessage(err), day
			rc.renderDaily(w, r, status, v)
		}
		ln := now.In(rc.loc)
		dp := dailyParams{Month: time.Date(ln.Year(), ln.Month(), 1, 0, 0, 0, 0, rc.loc)}
		if vw == nil || vw.Kiosk {
			renderError(w, r, rc.logger, errForbidden)
			return
		}
		if err := rc.checkScope(ctx, vw, u.ID, "monitored unit"); err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		if err := parseAdminForm(w, r); err != nil {
			fail(err, "", dp)
			return
		}
		day, action := r.PostForm.Get("day"), strings.TrimSpace(r.PostForm.Get("action"))
		if s := r.PostForm.Get("sensor"); len(s) <= maxSensorID && utf8.ValidString(s) {
			dp.Sensor = s
		}
		t, err := parseDay(day, rc.loc)
		if err != nil {
			fail(err, "", dp)
			return
		}
		dp.Month = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, rc.loc)
		if len(action) > maxLongText || !utf8.ValidString(action) || strings.ContainsRune(action, 0) {
			fail(wardwatch.Errorf(wardwatch.EINVALID, "The action taken is too long or has characters that cannot be stored."), day, dp)
			return
		}
		rv := alerts.Review{UnitID: u.ID, Day: t.Format(time.DateOnly), By: vw.User.Username, At: now, Action: action}
		if err := rv.Validate(now, rc.loc); err != nil {
			fail(err, day, dp)
			return
		}
		if err := rc.store.SaveReview(ctx, rv); err != nil {
			if wardwatch.ErrorCode(err) == wardwatch.ECONFLICT {
				err = rc.alreadySigned(ctx, u.ID, rv.Day, err)
			} else {
				err = fmt.Errorf("save review of unit %d day %s: %w", u.ID, rv.Day, err)
			}
			fail(err, rv.Day, dp)
			return
		}
		http.Redirect(w, r, withQuery(unitDailyPath(u.ID), "month", dp.Month.Format("2006-01"), "sensor", dp.Sensor)+"#day-"+rv.Day, http.StatusSeeOther)
	})
}

// alreadySigned words a sign-off conflict with who signed the day.
func (rc *records) alreadySigned(ctx context.Context, unitID int64, day string, cause error) error {
	rvs, err := rc.store.Reviews(ctx, unitID, day, day)
	if err == nil {
		for _, rv := range rvs {
			if rv.Day == day && rv.By != "" {
				return wardwatch.Errorf(wardwatch.ECONFLICT, "%s was already signed off by %s at %s.", day, rv.By, recTime(rv.At, rc.loc))
			}
		}
	}
	if msg := wardwatch.ErrorMessage(cause); msg != "" {
		return cause
	}
	return wardwatch.Errorf(wardwatch.ECONFLICT, "%s was already signed off.", day)
}

// ---- MKT report ----

// mktRow is one period of the MKT report.
type mktRow struct {
	Name     string
	Period   string
	MKT      string
	Mean     string
	Coverage string
	Samples  string
	Over     bool
	Reason   string
}

// mktView is a unit's MKT report.
type mktView struct {
	Unit      wardwatch.MonitoredUnit
	Label     string
	Room      string
	Limit     string
	Sensor    UnitSensor
	Sensors   []UnitSensor
	NoSensor  bool
	Rows      []mktRow
	Generated string
	DeltaH    string
	Bucket    string
	TZ        string
}

// handleMKT shows a unit's 30-day and annual mean kinetic temperature.
func (rc *records) handleMKT() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		u, err := rc.unit(r)
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		in, err := rc.mkt(ctx, u, r.URL.Query().Get("sensor"))
		if err != nil {
			renderError(w, r, rc.logger, err)
			return
		}
		s, now := in.sensor, in.now
		v := mktView{Unit: u, Label: profileLabels()[u.Profile], Room: rc.zoneName(ctx, u.ZoneID),
			Limit: formatValue(wardwatch.MetricTemperature, in.limit), Sensor: s, Sensors: in.sensors, NoSensor: s.SensorID == "",
			Generated: recTime(now, rc.loc), DeltaH: strconv.FormatFloat(alerts.DefaultActivationEnergy, 'f', 3, 64),
			Bucket: durationText(mktBucket), TZ: rc.loc.String()}
		if rep := in.report; rep != nil {
			v.Rows = []mktRow{
				rc.mktRow("Rolling 30 days", rep.Rolling30, rep.Rolling30Over, rep.Rolling30Reason),
				rc.mktRow("Past year", rep.Annual, rep.AnnualOver, rep.AnnualReason),
			}
		}
		p := newPageMeta(r, "MKT report — "+u.Name)
		p.Nav = "records"
		render(w, r, rc.logger, http.StatusOK, mktPage(p, v))
	})
}

// mktInput is a unit's MKT report and what it was made from, for the
// page and the API.
type mktInput struct {
	limit   float64 // the profile's MKT limit, °C
	sensor  UnitSensor
	sensors []UnitSensor      // the unit's temperature sensors
	report  *alerts.MKTReport // nil when the unit has no temperature sensor
	now     time.Time
}

// mkt computes unit u's 30-day and annual MKT from 15-minute means of the
// sensor wanted ("" for the unit's main one) over the past year.
func (rc *records) mkt(ctx context.Context, u wardwatch.MonitoredUnit, want string) (mktInput, error) {
	prof := unitProfile(u)
	if prof.MKTLimit <= 0 {
		return mktInput{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "This unit's profile has no mean kinetic temperature report.")
	}
	if len(want) > maxSensorID {
		return mktInput{}, wardwatch.Errorf(wardwatch.EINVALID, "This unit has no such sensor.")
	}
	s, cands, err := rc.pickSensor(ctx, u.ID, wardwatch.MetricTemperature, want)
	if err != nil {
		return mktInput{}, err
	}
	in := mktInput{limit: prof.MKTLimit, sensor: s, sensors: cands, now: rc.now()}
	if s.SensorID == "" {
		return in, nil
	}
	from := in.now.AddDate(-1, 0, 0).Add(-recordHold)
	bs, err := rc.readings.ReadingSeries(ctx, wardwatch.SeriesQuery{SensorID: s.SensorID, Metric: s.Metric, From: from, To: in.now, Interval: mktBucket})
	if err != nil {
		return mktInput{}, fmt.Errorf("series of %s: %w", s.SensorID, err)
	}
	rs := make([]wardwatch.Reading, 0, len(bs))
	for _, b := range bs {
		if b.Count > 0 {
			rs = append(rs, wardwatch.Reading{Time: b.Start, SensorID: s.SensorID, Metric: s.Metric, Value: b.Mean})
		}
	}
	rep := alerts.NewMKTReport(rs, in.now, prof.MKTLimit, recordHold, alerts.DefaultActivationEnergy)
	in.report = &rep
	return in, nil
}

func (rc *records) mktRow(name string, res alerts.MKTResult, over bool, reason string) mktRow {
	row := mktRow{Name: name, Period: recTime(res.From, rc.loc) + " to " + recTime(res.To, rc.loc),
		MKT: recValue(wardwatch.MetricTemperature, res.MKT), Mean: recValue(wardwatch.MetricTemperature, res.Mean),
		Samples: strconv.Itoa(res.Samples), Over: over, Reason: reason}
	if span := res.To.Sub(res.From); span > 0 {
		row.Coverage = pctText(res.Covered.Seconds() / span.Seconds())
	}
	return row
}

// ---- chart ----

// handleChart draws a sensor's series as SVG.
func (rc *records) handleChart() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cq, err := parseChartQuery(r.URL.Query(), rc.loc)
		if err != nil {
			apiError(w, r, rc.logger, err)
			return
		}
		interval := chartInterval(cq.To.Sub(cq.From))
		bs, err := rc.readings.ReadingSeries(r.Context(), wardwatch.SeriesQuery{SensorID: cq.Sensor, Metric: cq.Metric, From: cq.From, To: cq.To, Interval: interval})
		if err != nil {
			apiError(w, r, rc.logger, fmt.Errorf("chart series of %s: %w", cq.Sensor, err))
			return
		}
		pts := make([]chartPoint, 0, len(bs))
		for _, b := range bs {
			if b.Count > 0 {
				pts = append(pts, chartPoint{T: b.Start, Min: b.Min, Max: b.Max, Mean: b.Mean})
			}
		}
		svg := renderChart(chartSpec{
			Title: cq.Sensor + " — " + string(cq.Metric), Metric: cq.Metric, From: cq.From, To: cq.To,
			Low: cq.Low, High: cq.High, Points: pts, Gap: recordHold + interval, Loc: rc.loc,
		})
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Header().Set("Content-Length", strconv.Itoa(len(svg)))
		_, _ = w.Write(svg)
	})
}

// newRecords builds the record pages' handlers from cfg.
func newRecords(cfg Config, audit auditor) *records {
	rc := &records{logger: cfg.Logger, store: cfg.Records, readings: cfg.Readings, sensors: cfg.UnitSensors,
		site: cfg.Store, audit: audit, loc: cfg.Location, now: cfg.Now}
	if cfg.Devices != nil {
		rc.units = cfg.Devices
	}
	return rc
}
