package web

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

func TestBuildEnvironment(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	units := []wardwatch.MonitoredUnit{
		{ID: 1, Name: "Fridge A", Profile: wardwatch.ProfileVaccineFridge, ZoneID: 10},
		{ID: 2, Name: "Fridge B", Profile: wardwatch.ProfileVaccineFridge},
		{ID: 3, Name: "Isolation 1", Profile: wardwatch.ProfileIsolationRoom},
		{ID: 4, Name: "Fridge C", Profile: wardwatch.ProfileVaccineFridge},
		{ID: 5, Name: "Unbound", Profile: wardwatch.ProfileCRTRoom},
	}
	devices := []wardwatch.ModbusDevice{{Name: "fa", UnitID: 1}, {Name: "fb", UnitID: 2}, {Name: "iso", UnitID: 3}, {Name: "fc", UnitID: 4}}
	latest := []wardwatch.Reading{
		{Time: now.Add(-time.Minute), SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Value: 4.8},
		{Time: now.Add(-time.Minute), SensorID: "fa/door", Metric: wardwatch.MetricDoorOpen, Value: 0},
		{Time: now.Add(-time.Minute), SensorID: "fb/temperature", Metric: wardwatch.MetricTemperature, Value: 9.3},
		{Time: now.Add(-time.Minute), SensorID: "iso/pressure", Metric: wardwatch.MetricPressure, Value: -6},
		{Time: now.Add(-time.Hour), SensorID: "other/temperature", Metric: wardwatch.MetricTemperature, Value: 50},
	}
	got := buildEnvironment(units, devices, latest, map[int64]string{10: "Clean utility"}, now)
	byName := map[string]envUnit{}
	order := ""
	for _, u := range got {
		byName[u.Unit.Name] = u
		order += u.Unit.Name + ";"
	}
	if order != "Fridge B;Fridge C;Fridge A;Isolation 1;Unbound;" {
		t.Errorf("order = %s; want problems first", order)
	}
	a := byName["Fridge A"]
	if a.Problem || a.Room != "Clean utility" || len(a.Values) != 2 || a.Values[0].Value != "4.8 °C" || a.Values[0].Range != "2 to 8 °C" || a.Values[1].Value != "closed" {
		t.Errorf("Fridge A = %+v", a)
	}
	if b := byName["Fridge B"]; !b.Problem || b.Values[0].InRange {
		t.Errorf("Fridge B at 9.3 °C = %+v", b)
	}
	if c := byName["Fridge C"]; !c.Problem || len(c.Values) != 0 {
		t.Errorf("Fridge C bound but silent = %+v", c)
	}
	if iso := byName["Isolation 1"]; iso.Problem || iso.Values[0].Value != "-6.0 Pa" {
		t.Errorf("isolation room at −6 Pa = %+v", iso)
	}
	if u := byName["Unbound"]; u.Problem || u.Devices != 0 {
		t.Errorf("unbound unit = %+v", u)
	}
}

func TestPressureRelation(t *testing.T) {
	inf := math.Inf(1)
	aii := alerts.Range{Metric: wardwatch.MetricPressure, Low: -inf, High: -2.5}
	pe := alerts.Range{Metric: wardwatch.MetricPressure, Low: 2.5, High: inf}
	hd := alerts.Range{Metric: wardwatch.MetricPressure, Low: -7.5, High: -2.5}
	for _, tc := range []struct {
		name       string
		profile    wardwatch.UnitProfile
		r          alerts.Range
		v          float64
		has, stale bool
		required   string
		value      string
		status     string
		ok         bool
	}{
		{"AII negative enough", wardwatch.ProfileIsolationRoom, aii, -6, true, false,
			"Must be negative to the corridor: −2.5 Pa (−0.010 in. w.c.) or lower", "−6.0 Pa", "Meets the requirement", true},
		{"AII at the limit", wardwatch.ProfileIsolationRoom, aii, -2.5, true, false, "", "", "Meets the requirement", true},
		{"AII not negative enough", wardwatch.ProfileIsolationRoom, aii, -1, true, false, "", "", "Not negative enough", false},
		{"AII neutral", wardwatch.ProfileIsolationRoom, aii, 0, true, false, "", "", "Not negative enough", false},
		{"AII reversed", wardwatch.ProfileIsolationRoom, aii, 1.5, true, false, "", "1.5 Pa", "REVERSED: the room is positive", false},
		{"AII no reading", wardwatch.ProfileIsolationRoom, aii, 0, false, false, "", "", "No reading", false},
		{"AII stale", wardwatch.ProfileIsolationRoom, aii, -6, true, true, "", "−6.0 Pa", "No current reading", false},
		{"PE positive", wardwatch.ProfileProtectiveRoom, pe, 8, true, false,
			"Must be positive to the corridor: +2.5 Pa (0.010 in. w.c.) or higher", "8.0 Pa", "Meets the requirement", true},
		{"PE not positive enough", wardwatch.ProfileProtectiveRoom, pe, 1, true, false, "", "", "Not positive enough", false},
		{"OR reversed", wardwatch.ProfileOperatingRoom, pe, -3, true, false, "", "", "REVERSED: the room is negative", false},
		{"HD buffer in band", wardwatch.ProfileCompounding, hd, -5, true, false,
			"Must be negative to the adjoining space: between −7.5 Pa (−0.030 in. w.c.) and −2.5 Pa (−0.010 in. w.c.)", "", "Meets the requirement", true},
		{"HD buffer too negative", wardwatch.ProfileCompounding, hd, -9, true, false, "", "", "Too negative", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := pressureRelation(tc.profile, tc.r, tc.v, tc.has, tc.stale)
			if tc.required != "" && got.Required != tc.required {
				t.Errorf("required = %q\nwant       %q", got.Required, tc.required)
			}
			if tc.value != "" && got.Value != tc.value {
				t.Errorf("value = %q, want %q", got.Value, tc.value)
			}
			if got.Status != tc.status || got.OK != tc.ok {
				t.Errorf("status = %q %v, want %q %v", got.Status, got.OK, tc.status, tc.ok)
			}
		})
	}
}

func TestPrimarySensor(t *testing.T) {
	ss := []UnitSensor{{SensorID: "d/rh", Metric: wardwatch.MetricHumidity}, {SensorID: "d/temp", Metric: wardwatch.MetricTemperature},
		{SensorID: "d/dp", Metric: wardwatch.MetricPressure}}
	for _, tc := range []struct {
		profile wardwatch.UnitProfile
		sensors []UnitSensor
		want    string
	}{
		{wardwatch.ProfileVaccineFridge, ss, "d/temp"},
		{wardwatch.ProfileIsolationRoom, ss, "d/dp"},
		{wardwatch.ProfileOperatingRoom, ss, "d/dp"},
		{wardwatch.ProfileCompounding, ss, "d/dp"},
		{wardwatch.ProfileIsolationRoom, ss[:1], "d/rh"}, // no pressure sensor: the first shown metric
		{wardwatch.ProfileVaccineFridge, []UnitSensor{{SensorID: "d/v", Metric: wardwatch.MetricBatteryVoltage}}, ""},
		{"unknown_profile", ss, "d/temp"},
	} {
		got, ok := primarySensor(wardwatch.MonitoredUnit{Profile: tc.profile}, tc.sensors)
		if got.SensorID != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: primary sensor = %q %v, want %q", tc.profile, got.SensorID, ok, tc.want)
		}
	}
}

// blockingReadings serves fakeReadings but never answers for the
// sensor "slow/temperature" until its context ends.
type blockingReadings struct{ *fakeReadings }

func (b blockingReadings) ReadingSeries(ctx context.Context, q wardwatch.SeriesQuery) ([]wardwatch.SeriesBucket, error) {
	if q.SensorID == "slow/temperature" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return b.fakeReadings.ReadingSeries(ctx, q)
}

func TestEnvironmentDashboardTrendsAndLinks(t *testing.T) {
	now := t0
	readings := &fakeReadings{series: map[string][]wardwatch.Reading{}}
	for ts := now.Add(-30 * time.Hour); ts.Before(now); ts = ts.Add(5 * time.Minute) {
		v := 5.0
		if now.Sub(ts) < 3*time.Hour && now.Sub(ts) > 2*time.Hour {
			v = 9.4 // an excursion two hours ago
		}
		readings.series["fa/temperature"] = append(readings.series["fa/temperature"], wardwatch.Reading{Time: ts, SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Value: v})
		readings.series["iso/pressure"] = append(readings.series["iso/pressure"], wardwatch.Reading{Time: ts, SensorID: "iso/pressure", Metric: wardwatch.MetricPressure, Value: -6})
	}
	units := &fakeUnits{
		units: []wardwatch.MonitoredUnit{
			{ID: 1, Name: "Fridge A", Profile: wardwatch.ProfileVaccineFridge},
			{ID: 2, Name: "Isolation 1", Profile: wardwatch.ProfileIsolationRoom},
			{ID: 3, Name: "Broken", Profile: wardwatch.ProfileVaccineFridge},
			{ID: 4, Name: "Slow", Profile: wardwatch.ProfileVaccineFridge},
			{ID: 5, Name: "Unbound", Profile: wardwatch.ProfileCRTRoom},
		},
		devices: []wardwatch.ModbusDevice{{Name: "fa", UnitID: 1}, {Name: "iso", UnitID: 2}, {Name: "slow", UnitID: 4}},
	}
	sensors := func(ctx context.Context, unitID int64) ([]UnitSensor, error) {
		switch unitID {
		case 1:
			return []UnitSensor{{SensorID: "fa/door", Metric: wardwatch.MetricDoorOpen}, {SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature}}, nil
		case 2:
			return []UnitSensor{{SensorID: "iso/rh", Metric: wardwatch.MetricHumidity}, {SensorID: "iso/pressure", Metric: wardwatch.MetricPressure}}, nil
		case 3:
			return nil, errors.New("store down")
		case 4:
			return []UnitSensor{{SensorID: "slow/temperature", Metric: wardwatch.MetricTemperature}}, nil
		}
		return nil, nil
	}
	latest := []wardwatch.Reading{
		{Time: now.Add(-time.Minute), SensorID: "fa/temperature", Metric: wardwatch.MetricTemperature, Value: 4.9},
		{Time: now.Add(-time.Minute), SensorID: "iso/pressure", Metric: wardwatch.MetricPressure, Value: -6},
	}
	serve := func(t *testing.T, cfg Config, budget time.Duration) (string, *envDashboard) {
		t.Helper()
		d := environmentHandler(cfg).(*envDashboard)
		d.budget = budget
		r := httptest.NewRequest(http.MethodGet, "/environment", nil)
		r = r.WithContext(context.WithValue(r.Context(), viewerKey{}, &viewer{User: wardwatch.User{ID: 1, Username: "fac", Role: wardwatch.RoleFacilities}, Now: now, End: now.Add(time.Hour)}))
		w := httptest.NewRecorder()
		d.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return w.Body.String(), d
	}
	base := Config{Store: newFakeStore(), Devices: units, LatestReadings: func() []wardwatch.Reading { return latest },
		Now: func() time.Time { return now }, Location: time.UTC}

	t.Run("everything configured", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		cfg := base
		cfg.Registerer, cfg.Readings, cfg.UnitSensors = reg, blockingReadings{readings}, sensors
		cfg.Records, cfg.Alerts = &fakeRecords{excursions: map[int64]alerts.Excursion{}}, &inboxFakeDesk{}
		body, d := serve(t, cfg, 200*time.Millisecond)
		row := func(name string) string {
			i := strings.Index(body, `data-unit="`+name+`"`)
			if i < 0 {
				t.Fatalf("no row for %s", name)
			}
			rest := body[i:]
			return rest[:strings.Index(rest, "</tr>")]
		}
		fa := row("Fridge A")
		for _, want := range []string{
			`<svg class="sparkline"`, `aria-labelledby="spark-1-t spark-1-d"`, "Fridge A temperature, last 24 hours", "spark-above",
			`href="/records/units/1/daily"`, `href="/records?unit=1"`, `href="/alerts?unit=1"`,
			`href="/records/chart.svg?from=2026-03-01T10%3A01%3A00Z&amp;high=8&amp;low=2&amp;metric=temperature&amp;sensor=fa%2Ftemperature&amp;to=2026-03-02T10%3A01%3A00Z"`,
			"4.9 °C",
		} {
			if !strings.Contains(fa, want) {
				t.Errorf("Fridge A row lacks %q:\n%s", want, fa)
			}
		}
		iso := row("Isolation 1")
		for _, want := range []string{"differential pressure", "Must be negative to the corridor: −2.5 Pa (−0.010 in. w.c.) or lower", "Meets the requirement", "-6.0 Pa"} {
			if !strings.Contains(iso, want) {
				t.Errorf("Isolation row lacks %q:\n%s", want, iso)
			}
		}
		for _, name := range []string{"Broken", "Slow"} {
			if r := row(name); !strings.Contains(r, "no trend") || strings.Contains(r, "<svg") {
				t.Errorf("%s row should say no trend:\n%s", name, r)
			}
		}
		if r := row("Unbound"); !strings.Contains(r, "no sensor") {
			t.Errorf("Unbound row should say no sensor:\n%s", r)
		}
		if n := testutil.ToFloat64(d.trendFailures); n != 2 {
			t.Errorf("trend failures = %v, want 2", n)
		}
		// One series query per unit with a sensor, for the last 24 h in 15-min buckets.
		readings.mu.Lock()
		qs := append([]wardwatch.SeriesQuery(nil), readings.queries...)
		readings.mu.Unlock()
		if len(qs) != 2 {
			t.Errorf("%d series queries, want 2 (Fridge A, Isolation 1; Slow blocks outside the fake): %+v", len(qs), qs)
		}
		for _, q := range qs {
			if q.Interval != 15*time.Minute || !q.To.Equal(now) || !q.From.Equal(now.Add(-24*time.Hour)) {
				t.Errorf("series query %+v", q)
			}
		}
	})

	t.Run("no records or alerts: no links, no trends", func(t *testing.T) {
		body, _ := serve(t, base, time.Second)
		for _, not := range []string{"/records/units/", "/alerts?unit", "<svg class=\"sparkline\"", "no trend"} {
			if strings.Contains(body, not) {
				t.Errorf("page has %q without the feature", not)
			}
		}
		if !strings.Contains(body, "Must be negative to the corridor") {
			t.Error("pressure relationship missing without telemetry")
		}
	})
}
