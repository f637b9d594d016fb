package web

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// ---- fakes ----

// fakeRecords is an in-memory RecordStore with the real store's error
// codes (ENOTFOUND, ECONFLICT for a second sign-off).
type fakeRecords struct {
	mu         sync.Mutex
	excursions map[int64]alerts.Excursion
	reviews    []alerts.Review
	audits     []alerts.Audit
	rules      map[int64][]alerts.Rule
	filters    []ExcursionFilter
	fail       error // returned by every call when set
}

func (f *fakeRecords) Excursion(ctx context.Context, id int64) (alerts.Excursion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return alerts.Excursion{}, f.fail
	}
	x, ok := f.excursions[id]
	if !ok {
		return x, wardwatch.Errorf(wardwatch.ENOTFOUND, "excursion %d not found", id)
	}
	return x, nil
}

func (f *fakeRecords) Excursions(ctx context.Context, q ExcursionFilter) ([]alerts.Excursion, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.filters = append(f.filters, q)
	if f.fail != nil {
		return nil, f.fail
	}
	var out []alerts.Excursion
	for _, x := range f.excursions {
		switch {
		case q.UnitID != 0 && x.UnitID != q.UnitID,
			q.Quarantined && !x.Quarantined(),
			!q.To.IsZero() && !x.Start.Before(q.To),
			!q.From.IsZero() && x.Closed() && x.End.Before(q.From):
			continue
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b alerts.Excursion) int { return cmp.Compare(a.ID, b.ID) })
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

func (f *fakeRecords) SaveTroubleshooting(ctx context.Context, id int64, t alerts.Troubleshooting) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.excursions[id]
	if !ok {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "excursion %d not found", id)
	}
	x.Troubleshooting = t
	f.excursions[id] = x
	return nil
}

func (f *fakeRecords) ClearQuarantine(ctx context.Context, id int64, by string, at time.Time, d alerts.Disposition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	x, ok := f.excursions[id]
	if !ok {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "excursion %d not found", id)
	}
	if !x.Quarantined() {
		return wardwatch.Errorf(wardwatch.ECONFLICT, "no quarantine")
	}
	x.QuarantineClearedBy, x.QuarantineClearedAt, x.Troubleshooting.Disposition = by, at, d
	f.excursions[id] = x
	return nil
}

func (f *fakeRecords) SaveReview(ctx context.Context, r alerts.Review) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, rv := range f.reviews {
		if rv.UnitID == r.UnitID && rv.Day == r.Day {
			return wardwatch.Errorf(wardwatch.ECONFLICT, "Day %s is already signed off.", r.Day)
		}
	}
	f.reviews = append(f.reviews, r)
	return nil
}

func (f *fakeRecords) Reviews(ctx context.Context, unitID int64, fromDay, toDay string) ([]alerts.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []alerts.Review
	for _, rv := range f.reviews {
		if rv.UnitID == unitID && rv.Day >= fromDay && rv.Day <= toDay {
			out = append(out, rv)
		}
	}
	return out, nil
}

func (f *fakeRecords) AlertAuditTrail(ctx context.Context, from, to time.Time, unitID int64, limit int) ([]alerts.Audit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []alerts.Audit
	for _, a := range f.audits {
		if !a.Time.Before(from) && a.Time.Before(to) {
			out = append(out, a)
		}
	}
	return out, nil
}

func (f *fakeRecords) UnitRules(ctx context.Context) (map[int64][]alerts.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rules, nil
}

func (f *fakeRecords) excursion(id int64) alerts.Excursion {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.excursions[id]
}

// fakeReadings serves stored series, aggregating like the real stores
// (epoch-aligned buckets, empty ones left out).
type fakeReadings struct {
	mu      sync.Mutex
	series  map[string][]wardwatch.Reading // by sensor ID, oldest first
	queries []wardwatch.SeriesQuery
}

func (f *fakeReadings) Readings(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.Reading, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	var out []wardwatch.Reading
	for _, r := range f.series[q.SensorID] {
		if r.Metric == q.Metric && !r.Time.Before(q.From) && r.Time.Before(q.To) {
			out = append(out, r)
			if q.Limit > 0 && len(out) == q.Limit {
				break
			}
		}
	}
	return out, nil
}

func (f *fakeReadings) ReadingSeries(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.SeriesBucket, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries = append(f.queries, q)
	var out []wardwatch.SeriesBucket
	for _, r := range f.series[q.SensorID] {
		if r.Metric != q.Metric || r.Time.Before(q.From) || !r.Time.Before(q.To) {
			continue
		}
		start := r.Time.Truncate(q.Interval)
		if n := len(out); n > 0 && out[n-1].Start.Equal(start) {
			b := &out[n-1]
			b.Min, b.Max = math.Min(b.Min, r.Value), math.Max(b.Max, r.Value)
			b.Mean = (b.Mean*float64(b.Count) + r.Value) / float64(b.Count+1)
			b.Count++
			continue
		}
		out = append(out, wardwatch.SeriesBucket{Start: start, Min: r.Value, Max: r.Value, Mean: r.Value, Count: 1})
	}
	return out, nil
}

// fakeUnits is the device store's units and devices; the admin methods
// are not used by these pages.
type fakeUnits struct {
	DeviceStore
	units   []wardwatch.MonitoredUnit
	devices []wardwatch.ModbusDevice
}

func (f *fakeUnits) Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error) {
	return append([]wardwatch.MonitoredUnit(nil), f.units...), nil
}

func (f *fakeUnits) ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error) {
	return append([]wardwatch.ModbusDevice(nil), f.devices...), nil
}

// ---- harness ----

// recLoc is the hospital's zone in these tests: UTC−5, so local days
// differ from UTC days.
var recLoc = time.FixedZone("EST", -5*3600)

type recHarness struct {
	*harness
	recs     *fakeRecords
	readings *fakeReadings
	audit    *fakeRecordAudit
}

// fakeRecordAudit records admin audit entries.
type fakeRecordAudit struct {
	mu      sync.Mutex
	entries []wardwatch.AuditEntry
}

func (a *fakeRecordAudit) AppendAudit(ctx context.Context, e *wardwatch.AuditEntry) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = append(a.entries, *e)
	return nil
}

func (a *fakeRecordAudit) AuditLog(ctx context.Context, q wardwatch.AuditQuery) ([]wardwatch.AuditEntry, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]wardwatch.AuditEntry(nil), a.entries...), nil
}

// Fixture: unit 1 a vaccine fridge with a closed, quarantined excursion
// (7) and an older cleared one (5); unit 2 a CRT room with an open
// excursion (8); unit 3 a fridge with no sensor.
func newRecHarness(t testing.TB) *recHarness {
	t.Helper()
	start := t0.Add(-3 * time.Hour)
	recs := &fakeRecords{
		excursions: map[int64]alerts.Excursion{
			7: {ID: 7, UnitID: 1, UnitName: "Fridge A", SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Low: 2, High: 8,
				Start: start, End: start.Add(40 * time.Minute), Peak: 11.2, PeakAt: start.Add(20 * time.Minute), Trough: 8.4, TroughAt: start,
				Above: 40 * time.Minute, DegreeMinutesAbove: 95.5, Samples: 9, Alarmed: true, AlarmRule: "temperature_high", Quarantine: true},
			5: {ID: 5, UnitID: 1, UnitName: "Fridge A", SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Low: 2, High: 8,
				Start: start.Add(-72 * time.Hour), End: start.Add(-71 * time.Hour), Peak: 9, Trough: 8.1, Above: time.Hour, Samples: 4,
				Alarmed: true, AlarmRule: "temperature_high", Quarantine: true, QuarantineClearedBy: "pat", QuarantineClearedAt: start.Add(-70 * time.Hour),
				Troubleshooting: alerts.Troubleshooting{Disposition: alerts.DispositionUsed, Description: "=HYPERLINK(evil)"}},
			8: {ID: 8, UnitID: 2, UnitName: "CRT store", SensorID: "crt/temperature", Metric: wardwatch.MetricTemperature, Low: 20, High: 25,
				Start: t0.Add(-30 * time.Minute), Peak: 26, Trough: 25.5, Samples: 3},
		},
		audits: []alerts.Audit{{AlertID: 3, Key: alerts.Key{Rule: "temperature_high", Subject: alerts.Subject{Kind: alerts.SubjectUnit, ID: "1"}},
			Action: "acknowledge", From: "unacknowledged", To: "acknowledged", User: "nurse", Time: t0.Add(-2 * time.Hour), Reason: "checked door"}},
		rules: map[int64][]alerts.Rule{1: {{ID: "temperature_high", Name: "Fridge above 8 °C (site rule)"}}},
	}
	readings := &fakeReadings{series: map[string][]wardwatch.Reading{}}
	// February (local): every 15 min at 5 °C, none on the 10th, above
	// range for an hour on the 20th.
	for ts := time.Date(2026, 1, 31, 23, 0, 0, 0, recLoc); ts.Before(t0); ts = ts.Add(15 * time.Minute) {
		lt := ts.In(recLoc)
		if lt.Month() == 2 && lt.Day() == 10 {
			continue
		}
		v := 5.0
		if lt.Month() == 2 && lt.Day() == 20 && lt.Hour() == 14 {
			v = 9.5
		}
		readings.series["fa/temperature"] = append(readings.series["fa/temperature"], wardwatch.Reading{Time: ts, SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Value: v})
	}
	for ts := t0.AddDate(0, 0, -40); ts.Before(t0); ts = ts.Add(time.Hour) {
		readings.series["crt/temperature"] = append(readings.series["crt/temperature"], wardwatch.Reading{Time: ts, SensorID: "crt/temperature", Metric: wardwatch.MetricTemperature, Value: 22})
	}
	units := &fakeUnits{
		units: []wardwatch.MonitoredUnit{
			{ID: 1, Name: "Fridge A", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
			{ID: 2, Name: "CRT store", Profile: wardwatch.ProfileCRTRoom},
			{ID: 3, Name: "Fridge B", Profile: wardwatch.ProfileVaccineFridge},
		},
		devices: []wardwatch.ModbusDevice{{Name: "fa", UnitID: 1}, {Name: "crt", UnitID: 2}},
	}
	sensors := func(ctx context.Context, unitID int64) ([]UnitSensor, error) {
		switch unitID {
		case 1:
			return []UnitSensor{{SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Name: "Fridge A probe"}, {SensorID: "fa/door", Metric: wardwatch.MetricDoorOpen}}, nil
		case 2:
			return []UnitSensor{{SensorID: "crt/temperature", Metric: wardwatch.MetricTemperature}}, nil
		}
		return nil, nil
	}
	audit := &fakeRecordAudit{}
	h := newHarness(t, func(c *Config) {
		c.Records, c.Readings, c.UnitSensors = recs, readings, sensors
		c.Devices, c.Location, c.Audit = units, recLoc, audit
	})
	h.store.users = append(h.store.users,
		wardwatch.User{ID: 3, Username: "pharm", Role: wardwatch.RolePharmacy, PasswordHash: testHash},
		wardwatch.User{ID: 4, Username: "viewer", Role: wardwatch.RoleViewer, PasswordHash: testHash},
		wardwatch.User{ID: 5, Username: "biomed", Role: wardwatch.RoleBiomed, PasswordHash: testHash},
	)
	return &recHarness{harness: h, recs: recs, readings: readings, audit: audit}
}

// post submits a same-origin form as a browser would.
func (h *recHarness) submit(path string, form url.Values, c *http.Cookie) *http.Response {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Accept", "text/html")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if c != nil {
		r.AddCookie(c)
	}
	return h.do(r)
}

// get fetches path as a non-HTML client (CSV, SVG).
func (h *recHarness) get(path string, c *http.Cookie) *http.Response {
	h.t.Helper()
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if c != nil {
		r.AddCookie(c)
	}
	return h.do(r)
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("body lacks %q", w)
		}
	}
}

// ---- pages ----

func TestRecordsIndex(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	body := wantStatus(t, h.page("/records", c), http.StatusOK)
	mustContain(t, body, "DO NOT USE", `href="/records/excursions/7"`, "/records/units/1/daily", "/records/units/2/mkt",
		"/records/excursions.csv?", "/records/audit.csv?", "In progress", "1 unit(s) under quarantine")
	if strings.Contains(body, "/records/units/1/mkt") {
		t.Error("a vaccine fridge offers an MKT report")
	}
	// Quarantined unit first; newest excursion first.
	if i, j := strings.Index(body, `data-unit="Fridge A"`), strings.Index(body, `data-unit="CRT store"`); i < 0 || j < 0 || i > j {
		t.Errorf("Fridge A (quarantined) not listed first: %d, %d", i, j)
	}
	if i, j := strings.Index(body, `data-excursion="8"`), strings.Index(body, `data-excursion="7"`); i < 0 || j < 0 || i > j {
		t.Errorf("excursions not newest first: %d, %d", i, j)
	}
	// The filter reaches the store.
	body = wantStatus(t, h.page("/records?unit=2&from=2026-02-01&to=2026-03-02", c), http.StatusOK)
	if strings.Contains(body, `data-excursion="7"`) {
		t.Error("unit filter ignored")
	}
	f := h.recs.filters[len(h.recs.filters)-1]
	if f.UnitID != 2 || !f.From.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, recLoc)) || !f.To.Equal(time.Date(2026, 3, 3, 0, 0, 0, 0, recLoc)) {
		t.Errorf("filter = %+v", f)
	}
	for _, q := range []string{"?from=2026-13-01", "?to=yesterday", "?from=2026-03-02&to=2026-03-01", "?from=2020-01-01&to=2026-03-01",
		"?unit=abc", "?unit=-1", "?from=1999-12-31", "?from=" + strings.Repeat("9", 5000)} {
		wantStatus(t, h.page("/records"+q, c), http.StatusBadRequest)
	}
	// Signed out: to the login page.
	if resp := h.page("/records", nil); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out: status %d", resp.StatusCode)
	}
}

func TestRecordsHiddenWithoutStore(t *testing.T) {
	h := newHarness(t)
	wantStatus(t, h.page("/records", h.signIn()), http.StatusNotFound)
}

func TestExcursionPage(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	body := wantStatus(t, h.page("/records/excursions/7", c), http.StatusOK)
	mustContain(t, body, "Fridge A", "4B-12", "Fridge A probe (fa/temperature)", "2 to 8 °C", "11.2 °C", "95.5",
		"Fridge above 8 °C (site rule)", "DO NOT USE", "/records/chart.svg?", "40 min", "Times in EST", "Mon 2 Mar 2026 02:00 EST",
		"Only a pharmacist or an admin can clear")
	if strings.Contains(body, `action="/records/excursions/7"`) {
		t.Error("a viewer sees the troubleshooting form")
	}
	// The chart covers an hour either side.
	from, to := url.QueryEscape("2026-03-02T06:00:00Z"), url.QueryEscape("2026-03-02T08:40:00Z")
	mustContain(t, body, "from="+from, "to="+to, "high=8", "low=2")

	nurse := h.signInAs("nurse")
	body = wantStatus(t, h.page("/records/excursions/7", nurse), http.StatusOK)
	mustContain(t, body, `action="/records/excursions/7"`, `name="description"`, `value="nurse"`)
	if strings.Contains(body, "/records/excursions/7/clear") {
		t.Error("a nurse sees the clear form")
	}
	pharm := h.signInAs("pharm")
	body = wantStatus(t, h.page("/records/excursions/7", pharm), http.StatusOK)
	mustContain(t, body, `action="/records/excursions/7/clear"`, `value="wasted"`)

	// Printable: every field, no forms.
	body = wantStatus(t, h.page("/records/excursions/7?print=1", pharm), http.StatusOK)
	mustContain(t, body, "print-view", "Signature", "Degree-minutes above", "Printed")
	if strings.Contains(body, `method="post" action="/records`) {
		t.Error("print view has forms")
	}
	wantStatus(t, h.page("/records/excursions/7?print=yes", c), http.StatusBadRequest)

	// In progress.
	body = wantStatus(t, h.page("/records/excursions/8", c), http.StatusOK)
	mustContain(t, body, "In progress")

	for _, p := range []string{"/records/excursions/99", "/records/excursions/abc", "/records/excursions/0", "/records/excursions/007"} {
		wantStatus(t, h.page(p, c), http.StatusNotFound)
	}
	h.recs.fail = errors.New("database is locked: secret detail")
	body = wantStatus(t, h.page("/records/excursions/7", c), http.StatusInternalServerError)
	if strings.Contains(body, "secret detail") {
		t.Error("store error leaked")
	}
}

func TestSaveTroubleshooting(t *testing.T) {
	h := newRecHarness(t)
	nurse := h.signInAs("nurse")
	form := url.Values{
		tsDiscoveredAt: {"2026-03-02T03:10"}, tsReporterName: {"Nurse Jo"}, tsReporterRole: {"RN"},
		tsUnitTemp: {"9.4"}, tsMinTemp: {"−0.5"}, tsMaxTemp: {"11.2"}, tsRoomTemp: {""},
		tsDescription: {"Door left ajar after restock."}, tsProduct: {"MMR lot X123 (VFC)"}, tsContacted: {"Merck, 03:30"},
		tsDisposition: {"wasted"}, // ignored: a quarantine's disposition comes from clearing it
	}
	resp := h.submit("/records/excursions/7", form, nurse)
	wantStatus(t, resp, http.StatusSeeOther)
	ts := h.recs.excursion(7).Troubleshooting
	if ts.ReporterName != "Nurse Jo" || ts.UnitTempDiscovered != 9.4 || ts.MinDiscovered != -0.5 || !math.IsNaN(ts.RoomTemp) ||
		!ts.DiscoveredAt.Equal(time.Date(2026, 3, 2, 3, 10, 0, 0, recLoc)) || ts.Disposition != "" || ts.Contacted != "Merck, 03:30" {
		t.Errorf("saved %+v", ts)
	}
	if len(h.audit.entries) != 1 || h.audit.entries[0].Subject != "excursion" || h.audit.entries[0].Username != "nurse" {
		t.Errorf("audit = %+v", h.audit.entries)
	}

	// Invalid input: 400 with the typed values kept.
	bad := map[string]url.Values{
		"temperature":     {tsUnitTemp: {"warm"}, tsDescription: {"kept text"}},
		"nan":             {tsUnitTemp: {"NaN"}},
		"inf":             {tsRoomTemp: {"Inf"}},
		"future":          {tsDiscoveredAt: {"2026-03-05T10:00"}},
		"bad time":        {tsReturnedAt: {"yesterday"}},
		"min above max":   {tsMinTemp: {"9"}, tsMaxTemp: {"3"}},
		"long name":       {tsReporterName: {strings.Repeat("x", 300)}},
		"long text":       {tsDescription: {strings.Repeat("x", maxLongText+1)}},
		"invalid utf8":    {tsDescription: {"\xff\xfe"}},
		"nul":             {tsActions: {"a\x00b"}},
		"bad disposition": {tsDisposition: {"sold"}},
	}
	for name, f := range bad {
		t.Run(name, func(t *testing.T) {
			id := "7"
			if name == "bad disposition" {
				id = "8" // no quarantine: the form sets the disposition
			}
			body := wantStatus(t, h.submit("/records/excursions/"+id, f, nurse), http.StatusBadRequest)
			if name == "temperature" {
				mustContain(t, body, "kept text", `value="warm"`)
			}
		})
	}
	// An oversized body.
	wantStatus(t, h.submit("/records/excursions/7", url.Values{tsDescription: {strings.Repeat("x", maxAdminForm)}}, nurse), http.StatusRequestEntityTooLarge)

	// Excursion without quarantine: the form sets the disposition.
	wantStatus(t, h.submit("/records/excursions/8", url.Values{tsDisposition: {"returned"}}, nurse), http.StatusSeeOther)
	if d := h.recs.excursion(8).Troubleshooting.Disposition; d != alerts.DispositionReturned {
		t.Errorf("disposition = %q", d)
	}

	// Roles and missing records.
	wantStatus(t, h.submit("/records/excursions/7", form, h.signInAs("viewer")), http.StatusForbidden)
	wantStatus(t, h.submit("/records/excursions/7", form, h.signInAs("biomed")), http.StatusForbidden)
	wantStatus(t, h.submit("/records/excursions/99", form, nurse), http.StatusNotFound)
	// Cross-site posts are refused.
	r := httptest.NewRequest(http.MethodPost, "/records/excursions/7", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.AddCookie(nurse)
	wantStatus(t, h.do(r), http.StatusForbidden)
}

func TestClearQuarantine(t *testing.T) {
	h := newRecHarness(t)
	form := url.Values{tsDisposition: {"used"}}
	wantStatus(t, h.submit("/records/excursions/7/clear", form, h.signInAs("nurse")), http.StatusForbidden)
	wantStatus(t, h.submit("/records/excursions/7/clear", form, h.signInAs("viewer")), http.StatusForbidden)
	if h.recs.excursion(7).Quarantined() == false {
		t.Fatal("a nurse cleared the quarantine")
	}
	pharm := h.signInAs("pharm")
	for _, d := range []string{"", "sold", strings.Repeat("u", 400)} {
		body := wantStatus(t, h.submit("/records/excursions/7/clear", url.Values{tsDisposition: {d}}, pharm), http.StatusBadRequest)
		mustContain(t, body, "used, returned or wasted")
	}
	wantStatus(t, h.submit("/records/excursions/8/clear", form, pharm), http.StatusConflict)  // no quarantine
	wantStatus(t, h.submit("/records/excursions/99/clear", form, pharm), http.StatusNotFound) // no record

	wantStatus(t, h.submit("/records/excursions/7/clear", form, pharm), http.StatusSeeOther)
	x := h.recs.excursion(7)
	if x.Quarantined() || x.QuarantineClearedBy != "pharm" || !x.QuarantineClearedAt.Equal(t0) || x.Troubleshooting.Disposition != alerts.DispositionUsed {
		t.Errorf("after clearing: %+v", x)
	}
	body := wantStatus(t, h.submit("/records/excursions/7/clear", form, pharm), http.StatusConflict)
	mustContain(t, body, "no quarantine to clear")
	body = wantStatus(t, h.page("/records/excursions/7", pharm), http.StatusOK)
	mustContain(t, body, "Quarantine cleared by pharm")

	// An open excursion's quarantine cannot be cleared yet.
	h.recs.mu.Lock()
	x8 := h.recs.excursions[8]
	x8.Quarantine = true
	h.recs.excursions[8] = x8
	h.recs.mu.Unlock()
	body = wantStatus(t, h.submit("/records/excursions/8/clear", form, pharm), http.StatusConflict)
	mustContain(t, body, "still in progress")
}

func TestDailyLog(t *testing.T) {
	h := newRecHarness(t)
	nurse := h.signInAs("nurse")
	body := wantStatus(t, h.page("/records/units/1/daily?month=2026-02", nurse), http.StatusOK)
	mustContain(t, body, "February 2026", `id="day-2026-02-01"`, `id="day-2026-02-28"`, "No readings this day", "9.5 °C", "5.0 °C",
		"Sign off as nurse", "Range 2 to 8 °C", "Fridge A probe")
	if strings.Contains(body, `id="day-2026-03-01"`) || strings.Contains(body, `id="day-2026-01-31"`) {
		t.Error("days outside the month")
	}
	if n := strings.Count(body, `<tr id="day-`); n != 28 {
		t.Errorf("%d rows, want 28", n)
	}
	// Day 10 has no readings; 20 is out of range.
	if !strings.Contains(body, `id="day-2026-02-20" class="day-out"`) {
		t.Error("the 20th is not marked out of range")
	}
	// The current month stops at today.
	body = wantStatus(t, h.page("/records/units/1/daily", nurse), http.StatusOK)
	if !strings.Contains(body, `id="day-2026-03-02"`) || strings.Contains(body, `id="day-2026-03-03"`) {
		t.Error("current month rows wrong")
	}

	// Sign-off, then a second one conflicts.
	resp := h.submit("/records/units/1/daily", url.Values{"day": {"2026-02-20"}, "action": {"Door seal replaced"}}, nurse)
	wantStatus(t, resp, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/records/units/1/daily?month=2026-02#day-2026-02-20" {
		t.Errorf("redirect to %q", loc)
	}
	if len(h.recs.reviews) != 1 || h.recs.reviews[0].By != "nurse" || h.recs.reviews[0].Action != "Door seal replaced" || !h.recs.reviews[0].At.Equal(t0) {
		t.Fatalf("reviews = %+v", h.recs.reviews)
	}
	body = wantStatus(t, h.page("/records/units/1/daily?month=2026-02", nurse), http.StatusOK)
	mustContain(t, body, "Door seal replaced", "signed on a later day")
	body = wantStatus(t, h.submit("/records/units/1/daily", url.Values{"day": {"2026-02-20"}}, h.signInAs("pharm")), http.StatusConflict)
	mustContain(t, body, "already signed off by nurse")

	// Bad input and roles.
	wantStatus(t, h.submit("/records/units/1/daily", url.Values{"day": {"2026-03-03"}}, nurse), http.StatusBadRequest) // not begun
	wantStatus(t, h.submit("/records/units/1/daily", url.Values{"day": {"20-02-2026"}}, nurse), http.StatusBadRequest)
	wantStatus(t, h.submit("/records/units/1/daily", url.Values{"day": {"2026-02-21"}, "action": {strings.Repeat("a", maxLongText+1)}}, nurse), http.StatusBadRequest)
	wantStatus(t, h.submit("/records/units/1/daily", url.Values{"day": {"2026-02-21"}}, h.signInAs("viewer")), http.StatusForbidden)
	wantStatus(t, h.submit("/records/units/9/daily", url.Values{"day": {"2026-02-21"}}, nurse), http.StatusNotFound)
	for _, q := range []string{"?month=2026-13", "?month=2026-4", "?month=2026-04", "?month=1999-12", "?sensor=fa/door", "?sensor=" + strings.Repeat("s", 300)} {
		wantStatus(t, h.page("/records/units/1/daily"+q, nurse), http.StatusBadRequest)
	}
	wantStatus(t, h.page("/records/units/9/daily", nurse), http.StatusNotFound)
	wantStatus(t, h.page("/records/units/x/daily", nurse), http.StatusNotFound)

	// A unit with no sensor says so.
	body = wantStatus(t, h.page("/records/units/3/daily", nurse), http.StatusOK)
	mustContain(t, body, "No temperature sensor is bound")
}

func TestDailyLogCSV(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	h.recs.reviews = []alerts.Review{{UnitID: 1, Day: "2026-02-03", By: "=cmd|calc", At: t0, Action: "none"}}
	resp := h.get("/records/units/1/daily.csv?month=2026-02", c)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readBody(t, resp))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="daily-log-unit1-2026-02.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 29 || rows[0][0] != "Date (EST)" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	day3 := rows[3]
	if day3[0] != "2026-02-03" || day3[6] != "5.00" || day3[8] != "5.00" || day3[13] != "96" || day3[16] != "'=cmd|calc" {
		t.Errorf("2026-02-03 = %v", day3)
	}
	if day10 := rows[10]; day10[0] != "2026-02-10" || day10[6] != "" || day10[13] != "0" {
		t.Errorf("2026-02-10 (no data) = %v", day10)
	}
	resp = h.get("/records/units/1/daily.csv?month=bad", c)
	wantStatus(t, resp, http.StatusBadRequest)
}

func TestMKTReport(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	body := wantStatus(t, h.page("/records/units/2/mkt", c), http.StatusOK)
	mustContain(t, body, "Rolling 30 days", "22.0 °C", "Within the limit", "25.0 °C", "15 min means", "Past year")
	// A year is asked for in 15-minute buckets, not raw readings.
	q := h.readings.queries[len(h.readings.queries)-1]
	if q.Interval != mktBucket || q.SensorID != "crt/temperature" || q.To.Sub(q.From) < 365*24*time.Hour {
		t.Errorf("query %+v", q)
	}
	// Hourly readings each stand 30 min: half of the 30 days is
	// covered; the year has only 40 days of data.
	mustContain(t, body, "50.0 %", "5.5 %")

	// A hot month is flagged.
	h.readings.mu.Lock()
	for i := range h.readings.series["crt/temperature"] {
		h.readings.series["crt/temperature"][i].Value = 27
	}
	h.readings.mu.Unlock()
	body = wantStatus(t, h.page("/records/units/2/mkt", c), http.StatusOK)
	mustContain(t, body, "ABOVE the 25.0 °C limit", "27.0 °C")

	// No readings: the reason is given.
	h.readings.mu.Lock()
	h.readings.series["crt/temperature"] = nil
	h.readings.mu.Unlock()
	body = wantStatus(t, h.page("/records/units/2/mkt", c), http.StatusOK)
	mustContain(t, body, "Not available: No readings in the period.")

	wantStatus(t, h.page("/records/units/1/mkt", c), http.StatusNotFound) // vaccine fridge: no MKT
	wantStatus(t, h.page("/records/units/2/mkt?sensor=nope", c), http.StatusBadRequest)
}

func TestExports(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	resp := h.get("/records/excursions.csv?unit=1&from=2026-02-01&to=2026-03-02", c)
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="excursions-unit1-2026-02-01-to-2026-03-02.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, err %v", resp.StatusCode, err)
	}
	if len(rows) != 3 || rows[0][0] != "Unit ID" || rows[1][0] != "1" {
		t.Fatalf("rows = %v", rows)
	}
	// Oldest first, formula neutralised.
	if rows[1][7] != "2026-02-27T07:00:00Z" || rows[1][27] != "'=HYPERLINK(evil)" || rows[2][21] != "yes" {
		t.Errorf("rows = %v", rows[1:])
	}
	resp = h.get("/records/audit.csv?from=2026-03-01&to=2026-03-02", c)
	rows, err = csv.NewReader(resp.Body).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][4] != "acknowledge" || rows[1][8] != "checked door" {
		t.Fatalf("audit rows = %v, err %v", rows, err)
	}
	for _, p := range []string{"/records/excursions.csv?from=x", "/records/audit.csv?to=2026-02-30", "/records/audit.csv?unit=0x1"} {
		wantStatus(t, h.get(p, c), http.StatusBadRequest)
	}
}

func TestEnvironmentDoNotUse(t *testing.T) {
	h := newRecHarness(t)
	body := wantStatus(t, h.page("/environment", h.signInAs("viewer")), http.StatusOK)
	mustContain(t, body, `class="dnu-badge" href="/records/excursions/7"`)
	if strings.Count(body, "dnu-badge") != 1 {
		t.Error("DO NOT USE shown for a unit without an open quarantine")
	}
	h.recs.fail = errors.New("down")
	body = wantStatus(t, h.page("/environment", h.signInAs("viewer")), http.StatusOK)
	mustContain(t, body, "could not be checked")
}

// ---- chart ----

func TestChartRoute(t *testing.T) {
	h := newRecHarness(t)
	c := h.signInAs("viewer")
	resp := h.get("/records/chart.svg?sensor=fa/temperature&metric=temperature&from=2026-02-20T10:00&to=2026-02-20T20:00&low=2&high=8", c)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := readBody(t, resp)
	checkSVG(t, body)
	if !strings.Contains(body, `class="above"`) {
		t.Error("readings above the band not marked")
	}
	q := h.readings.queries[len(h.readings.queries)-1]
	if q.Interval <= 0 || q.To.Sub(q.From)/q.Interval > maxChartBuckets {
		t.Errorf("query %+v", q)
	}
	// 31 days is the limit.
	wantStatus(t, h.get("/records/chart.svg?sensor=fa/temperature&metric=temperature&from=2026-01-30&to=2026-03-02", c), http.StatusOK)
	for _, q := range []string{
		"sensor=fa/temperature&metric=temperature&from=2026-01-29&to=2026-03-02",
		"sensor=&metric=temperature&from=2026-02-01&to=2026-02-02",
		"sensor=fa%00x&metric=temperature&from=2026-02-01&to=2026-02-02",
		"sensor=" + strings.Repeat("s", 300) + "&metric=temperature&from=2026-02-01&to=2026-02-02",
		"sensor=fa/temperature&metric=colour&from=2026-02-01&to=2026-02-02",
		"sensor=fa/temperature&metric=temperature&from=2026-02-02&to=2026-02-01",
		"sensor=fa/temperature&metric=temperature&from=now&to=2026-02-01",
		"sensor=fa/temperature&metric=temperature&from=2026-02-01&to=2026-02-02&low=NaN",
		"sensor=fa/temperature&metric=temperature&from=2026-02-01&to=2026-02-02&high=Inf",
		"sensor=fa/temperature&metric=temperature&from=2026-02-01&to=2026-02-02&high=1e300",
		"sensor=fa/temperature&metric=temperature&from=2026-02-01&to=2026-02-02&low=9&high=2",
	} {
		wantStatus(t, h.get("/records/chart.svg?"+q, c), http.StatusBadRequest)
	}
	// Signed out: 401, not a login page inside an <img>.
	wantStatus(t, h.get("/records/chart.svg?sensor=a&metric=temperature&from=2026-02-01&to=2026-02-02", nil), http.StatusUnauthorized)
}

// checkSVG parses an SVG document and checks its accessible title.
func checkSVG(t *testing.T, doc string) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(doc))
	d.Strict = true
	var root string
	title := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG not well-formed: %v\n%s", err, doc)
		}
		if se, ok := tok.(xml.StartElement); ok {
			if root == "" {
				root = se.Name.Local
			}
			title = title || se.Name.Local == "title"
		}
	}
	if root != "svg" || !title {
		t.Errorf("root %q, title %v", root, title)
	}
}

func TestRenderChart(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(6 * time.Hour)
	pt := func(min int, v float64) chartPoint {
		return chartPoint{T: from.Add(time.Duration(min) * time.Minute), Min: v, Max: v, Mean: v}
	}
	tests := []struct {
		name              string
		pts               []chartPoint
		low, high         float64
		runs, dots        int // line runs (M commands), lone-point dots
		above, below      int
		empty             bool
		title, wantInBody string
	}{
		{name: "empty", empty: true, low: 2, high: 8},
		{name: "one point", pts: []chartPoint{pt(30, 5)}, low: 2, high: 8, runs: 1, dots: 1},
		{name: "steady", pts: []chartPoint{pt(0, 5), pt(15, 5.2), pt(30, 5.1)}, low: 2, high: 8, runs: 1},
		{name: "gappy", pts: []chartPoint{pt(0, 5), pt(15, 5), pt(120, 9), pt(135, 1), pt(300, 4)}, low: 2, high: 8, runs: 3, dots: 1, above: 1, below: 1},
		{name: "no band", pts: []chartPoint{pt(0, 5), pt(15, 50)}, low: math.NaN(), high: math.NaN(), runs: 1},
		{name: "open band", pts: []chartPoint{pt(0, -30), pt(15, -10)}, low: math.Inf(-1), high: -18, runs: 1, above: 1},
		{name: "bad values", pts: []chartPoint{pt(0, math.NaN()), pt(15, math.Inf(1)), pt(30, 5), {T: from.Add(-time.Hour), Mean: 5}, {T: to.Add(time.Hour), Mean: 5}}, low: 2, high: 8, runs: 1, dots: 1},
		{name: "huge", pts: []chartPoint{pt(0, 1e300), pt(15, -1e300)}, low: 2, high: 8, runs: 1, above: 1, below: 1},
		{name: "hostile title", pts: []chartPoint{pt(0, 5)}, low: 2, high: 8, runs: 1, dots: 1, title: `</title><script>alert(1)</script>&`, wantInBody: "&lt;/title&gt;&lt;script&gt;"},
		{name: "envelope", pts: []chartPoint{{T: from, Min: 3, Max: 9, Mean: 5}, {T: from.Add(15 * time.Minute), Min: 1, Max: 5, Mean: 4}}, low: 2, high: 8, runs: 1, above: 1, below: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := string(renderChart(chartSpec{Title: tt.title, Metric: wardwatch.MetricTemperature, From: from, To: to,
				Low: tt.low, High: tt.high, Points: tt.pts, Gap: 45 * time.Minute, Loc: recLoc}))
			checkSVG(t, doc)
			if tt.empty != strings.Contains(doc, "No readings in this period") {
				t.Errorf("empty message: %v", !tt.empty)
			}
			if !tt.empty {
				i := strings.Index(doc, `class="series" d="`)
				d := doc[i+len(`class="series" d="`):]
				d = d[:strings.Index(d, `"`)]
				if n := strings.Count(d, "M"); n != tt.runs {
					t.Errorf("%d runs, want %d: %s", n, tt.runs, d)
				}
			}
			if n := strings.Count(doc, `class="point"`); n != tt.dots {
				t.Errorf("%d dots, want %d", n, tt.dots)
			}
			if n := strings.Count(doc, `class="above"`); n != tt.above {
				t.Errorf("%d above, want %d", n, tt.above)
			}
			if n := strings.Count(doc, `class="below"`); n != tt.below {
				t.Errorf("%d below, want %d", n, tt.below)
			}
			if tt.wantInBody != "" && !strings.Contains(doc, tt.wantInBody) {
				t.Errorf("body lacks %q", tt.wantInBody)
			}
			if strings.Contains(doc, "NaN") || strings.Contains(doc, "Inf") {
				t.Error("non-finite number in the SVG")
			}
			if hasBand := finite(tt.low) || finite(tt.high); hasBand != strings.Contains(doc, `class="band"`) {
				t.Errorf("band drawn = %v, want %v", !hasBand, hasBand)
			}
		})
	}
}

func TestTimeTicks(t *testing.T) {
	from := time.Date(2026, 3, 1, 5, 7, 0, 0, time.UTC)
	for _, span := range []time.Duration{time.Minute, 10 * time.Minute, 2 * time.Hour, 27 * time.Hour, 7 * 24 * time.Hour, 31 * 24 * time.Hour} {
		ticks := timeTicks(from, from.Add(span), recLoc)
		if len(ticks) == 0 || len(ticks) > maxTicks+1 {
			t.Errorf("span %v: %d ticks", span, len(ticks))
		}
		for i, tk := range ticks {
			if tk.t.Before(from) || tk.t.After(from.Add(span)) || (i > 0 && !tk.t.After(ticks[i-1].t)) {
				t.Errorf("span %v: tick %v out of order or range", span, tk.t)
			}
		}
	}
	ticks := timeTicks(from, from.Add(2*time.Hour), recLoc)
	if ticks[0].label != "00:15" || ticks[0].sub != "Sun 1 Mar" {
		t.Errorf("first tick %+v, want 00:15 local", ticks[0])
	}
}

func TestChartInterval(t *testing.T) {
	for _, span := range []time.Duration{time.Minute, time.Hour, 26 * time.Hour, 7 * 24 * time.Hour, maxChartSpan} {
		if d := chartInterval(span); span/d > maxChartBuckets {
			t.Errorf("span %v: interval %v gives %d buckets", span, d, span/d)
		}
	}
}

func TestDurationText(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0 s", 20 * time.Second: "20 s", 45 * time.Minute: "45 min", 2 * time.Hour: "2 h",
		135 * time.Minute: "2 h 15 min", 50 * time.Hour: "2 d 2 h",
	} {
		if got := durationText(d); got != want {
			t.Errorf("durationText(%v) = %q, want %q", d, got, want)
		}
	}
}

// ---- fuzz ----

func FuzzRenderChart(f *testing.F) {
	f.Add(int64(0), int64(3600), 2.0, 8.0, []byte{5, 6, 200, 9}, "Fridge A", int64(900))
	f.Add(int64(-5), int64(0), math.NaN(), math.Inf(1), []byte{}, "</title>&", int64(0))
	f.Add(int64(1e9), int64(2678400), -80.0, -60.0, []byte{1, 255, 0, 128, 3}, "\xff", int64(-1))
	f.Fuzz(func(t *testing.T, fromSec, spanSec int64, low, high float64, vals []byte, title string, gapSec int64) {
		from := time.Unix(fromSec, 0)
		to := from.Add(time.Duration(spanSec%(40*86400)) * time.Second)
		var pts []chartPoint
		for i, b := range vals {
			v := (float64(b) - 100) * math.Pow(10, float64(i%7))
			pts = append(pts, chartPoint{T: from.Add(time.Duration(i*int(b+1)) * time.Minute), Min: v - float64(b%3), Max: v + float64(b%5), Mean: v})
		}
		doc := renderChart(chartSpec{Title: title, Metric: wardwatch.MetricTemperature, From: from, To: to, Low: low, High: high,
			Points: pts, Gap: time.Duration(gapSec) * time.Second, Loc: recLoc})
		d := xml.NewDecoder(strings.NewReader(string(doc)))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("not well-formed: %v", err)
			}
		}
	})
}

func FuzzParseChartQuery(f *testing.F) {
	f.Add("sensor=fa/temperature&metric=temperature&from=2026-02-01&to=2026-02-02&low=2&high=8")
	f.Add("sensor=x&metric=pressure&from=2026-02-01T10:00&to=2026-02-01T10:00:00Z&low=−7.5")
	f.Add("sensor=%00&metric=&from=&to=&low=NaN&high=1e999")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		cq, err := parseChartQuery(q, recLoc)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if !cq.To.After(cq.From) || cq.To.Sub(cq.From) > maxChartSpan || !cq.Metric.Valid() || cq.Sensor == "" ||
			math.IsInf(cq.Low, 0) || math.IsInf(cq.High, 0) || cq.Low > cq.High {
			t.Fatalf("accepted %q as %+v", raw, cq)
		}
	})
}

func FuzzParseRecordQuery(f *testing.F) {
	f.Add("unit=1&from=2026-02-01&to=2026-03-01")
	f.Add("unit=0&from=2025-03-02")
	f.Add("unit=+1&to=2026-02-30")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		rq, err := parseRecordQuery(q, recLoc, t0)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		if !rq.To.After(rq.From) || rq.To.Sub(rq.From) > maxFilterSpan+25*time.Hour || rq.UnitID < 0 {
			t.Fatalf("accepted %q as %+v", raw, rq)
		}
	})
}

func FuzzParseTroubleshooting(f *testing.F) {
	f.Add("2026-03-02T03:10", "9.4", "−0.5", "Door ajar", "used")
	f.Add("2026-03-02T03:10:00Z", "NaN", "1e400", "\x00", "sold")
	f.Add("", "", "", "", "")
	f.Fuzz(func(t *testing.T, at, temp, min, text, disp string) {
		v := map[string]string{tsDiscoveredAt: at, tsUnitTemp: temp, tsMinTemp: min, tsDescription: text, tsDisposition: disp, tsReporterName: text}
		ts, err := parseTroubleshooting(v, recLoc, t0, true)
		if err != nil {
			if wardwatch.ErrorCode(err) != wardwatch.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		for _, x := range []float64{ts.UnitTempDiscovered, ts.MinDiscovered} {
			if math.IsInf(x, 0) || (!math.IsNaN(x) && math.Abs(x) > 1000) {
				t.Fatalf("accepted temperature %v", x)
			}
		}
		if ts.DiscoveredAt.After(t0.Add(time.Minute)) || (ts.Disposition != "" && !ts.Disposition.Valid()) {
			t.Fatalf("accepted %+v", ts)
		}
	})
}

// ---- benchmarks ----

// BenchmarkRenderChart draws the largest chart the route allows: 600
// buckets with envelopes and a band.
func BenchmarkRenderChart(b *testing.B) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	pts := make([]chartPoint, maxChartBuckets)
	for i := range pts {
		v := 5 + 4*math.Sin(float64(i)/20)
		pts[i] = chartPoint{T: from.Add(time.Duration(i) * 2 * time.Hour), Min: v - 0.5, Max: v + 0.5, Mean: v}
	}
	spec := chartSpec{Title: "Fridge A", Metric: wardwatch.MetricTemperature, From: from, To: from.Add(maxChartSpan),
		Low: 2, High: 8, Points: pts, Gap: 3 * time.Hour, Loc: recLoc}
	b.ReportAllocs()
	for b.Loop() {
		_ = renderChart(spec)
	}
}

// BenchmarkDailyLogPage serves a month's daily log from 15-minute
// readings (about 2,700), sign-off forms included.
func BenchmarkDailyLogPage(b *testing.B) {
	h := newRecHarness(b)
	c := h.signInAs("nurse")
	b.ReportAllocs()
	for b.Loop() {
		resp := h.page("/records/units/1/daily?month=2026-02", c)
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
	}
}

func TestMonthReadingsPages(t *testing.T) {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &fakeReadings{series: map[string][]wardwatch.Reading{}}
	n := 2*readingsPage + 500
	for i := range n {
		f.series["s"] = append(f.series["s"], wardwatch.Reading{Time: from.Add(time.Duration(i) * time.Minute), SensorID: "s", Metric: wardwatch.MetricTemperature, Value: 5})
	}
	rc := &records{readings: f}
	rs, err := rc.monthReadings(context.Background(), UnitSensor{SensorID: "s", Metric: wardwatch.MetricTemperature}, from, from.AddDate(1, 0, 0))
	if err != nil || len(rs) != n || len(f.queries) != 3 {
		t.Fatalf("%d readings in %d queries, err %v", len(rs), len(f.queries), err)
	}
	for i := 1; i < len(rs); i++ {
		if !rs[i].Time.After(rs[i-1].Time) {
			t.Fatalf("reading %d repeated or out of order", i)
		}
	}
}
