package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/tracker"
)

// TestAlertScheduleSuppressesDefrost stores a vaccine fridge's daily defrost
// at 02:00 and 14:00 hospital time (Europe/Paris) and feeds the alert
// service the same warm readings twice: during the 02:00 cycle the high
// temperature alert comes up suppressed by the defrost (nobody is paged);
// at 10:00, outside the cycle, it sounds. Deleting the schedule and
// reloading (as the settings pages do) makes a 14:00 excursion sound too.
func TestAlertScheduleSuppressesDefrost(t *testing.T) {
	ctx := context.Background()
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	cfg, err := LoadConfig("", testEnv(t.TempDir(), nil))
	if err != nil {
		t.Fatal(err)
	}
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	u := wardwatch.MonitoredUnit{Name: "Pharmacy vaccine fridge", Profile: wardwatch.ProfileVaccineFridge}
	if err := store.CreateUnit(ctx, &u); err != nil {
		t.Fatal(err)
	}
	dev := wardwatch.ModbusDevice{Name: "vf1", UnitID: u.ID, Transport: "tcp", Address: "127.0.0.1:1502", SlaveID: 1,
		Profile: "probe", Interval: time.Minute, Timeout: time.Second, Enabled: true}
	if err := store.CreateModbusDevice(ctx, &dev); err != nil {
		t.Fatal(err)
	}
	profile := func(name string) (modbus.Profile, bool) {
		return modbus.Profile{Name: "probe", Fields: []modbus.Field{{Name: "cabinet", Metric: wardwatch.MetricTemperature}}}, name == "probe"
	}
	id, err := store.SaveUnitSchedule(ctx, alerts.Schedule{UnitID: u.ID, Kind: alerts.SuppressDefrost,
		Times: []time.Duration{2 * time.Hour, 14 * time.Hour}, Duration: 45 * time.Minute, By: "fac.bo", Reason: "Frost-free defrost"})
	if err != nil {
		t.Fatal(err)
	}

	// 01:40 in Paris on a winter night is 00:40 UTC.
	clock := time.Date(2026, 11, 24, 1, 40, 0, 0, paris)
	s, err := newAlertService(ctx, store, cfg.Alerts, nil, logger, prometheus.NewRegistry(), func() time.Time { return clock })
	if err != nil {
		t.Fatal(err)
	}
	s.loc = paris
	if err := s.reload(ctx, tracker.Site{}, profile); err != nil {
		t.Fatal(err)
	}
	// warm feeds a reading a minute from clock for n minutes, as the
	// collectors would, through the service's queue.
	warm := func(n int, v float64) {
		t.Helper()
		for range n {
			s.ObserveReadings([]wardwatch.Reading{{Time: clock, SensorID: "vf1/cabinet", Metric: wardwatch.MetricTemperature, Value: v}})
			f := <-s.in
			out, err := f(clock)
			s.apply(ctx, out, err)
			clock = clock.Add(time.Minute)
		}
	}
	high := func() (alerts.Alert, bool) {
		for _, a := range s.Open() {
			if a.Key.Rule == "temperature_high" && a.Key.Subject.ID == "vf1/cabinet" {
				return a, true
			}
		}
		return alerts.Alert{}, false
	}

	warm(20, 5)  // 01:40–02:00: in range
	warm(40, 11) // 02:00–02:40: the defrost warms the cabinet
	a, ok := high()
	if !ok {
		t.Fatal("no high temperature alert during the defrost: the rule did not judge the readings")
	}
	if a.Suppression.Kind != alerts.SuppressDefrost || a.State != alerts.StateSuppressed || a.Suppression.Reason != "Frost-free defrost" {
		t.Fatalf("during the defrost: state %s, suppression %+v; want suppressed by the defrost", a.State, a.Suppression)
	}
	if !a.AnnunciatedAt.IsZero() {
		t.Errorf("the suppressed alert was annunciated at %s", a.AnnunciatedAt)
	}
	if want := time.Date(2026, 11, 24, 2, 45, 0, 0, paris); !a.Suppression.Until.Equal(want) {
		t.Errorf("suppressed until %s, want %s (02:45 Paris)", a.Suppression.Until, want)
	}
	warm(20, 5) // 02:40–03:00: back in range
	s.tick(ctx)

	// 10:00, outside any cycle: the same warmth sounds.
	clock = time.Date(2026, 11, 24, 10, 0, 0, 0, paris)
	warm(40, 11)
	var found bool
	for _, a := range s.Open() {
		if a.Key.Rule == "temperature_high" && a.Active && a.RaisedAt.After(time.Date(2026, 11, 24, 9, 0, 0, 0, paris)) {
			found = true
			if !a.Suppression.IsZero() || a.State == alerts.StateSuppressed || a.AnnunciatedAt.IsZero() {
				t.Errorf("outside the defrost: state %s, suppression %+v; want it sounding", a.State, a.Suppression)
			}
		}
	}
	if !found {
		t.Fatalf("no active high temperature alert at 10:00: %+v", s.Open())
	}

	// Without the schedule, the 14:00 slot is not suppressed either.
	warm(20, 5)
	if err := store.DeleteUnitSchedule(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := s.reload(ctx, tracker.Site{}, profile); err != nil {
		t.Fatal(err)
	}
	clock = time.Date(2026, 11, 24, 14, 0, 0, 0, paris)
	warm(40, 11)
	for _, a := range s.Open() {
		if a.Key.Rule == "temperature_high" && a.Active && !a.Suppression.IsZero() {
			t.Errorf("after deleting the schedule: %s still suppressed (%+v)", a.State, a.Suppression)
		}
	}
}

// TestAPIScheduleRoundTrip adds a daily defrost through the API of the real
// service, reads it back from the store and the API, is refused a second
// identical one, and deletes it; nurses may do none of it.
func TestAPIScheduleRoundTrip(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	admin, fac, nurse := wardwatch.RoleAdmin, wardwatch.RoleFacilities, wardwatch.RoleNurse
	c := newAPICaller(t, h, admin, fac, nurse)
	code, u := c.call(admin, "POST", "/api/v1/units", `{"name": "Schedule fridge", "profile": "vaccine_fridge"}`)
	if code != http.StatusCreated {
		t.Fatalf("create unit: %d %v", code, u)
	}
	body := `{"unit_id": ` + jsonID(u["id"]) + `, "kind": "defrost", "times": ["20:00", "02:00", "14:00", "08:00"], "duration": "45m", "reason": "Frost-free defrost"}`
	if code, _ := c.call(nurse, "POST", "/api/v1/schedules", body); code != http.StatusForbidden {
		t.Errorf("a nurse adding a schedule: %d", code)
	}
	code, sj := c.call(fac, "POST", "/api/v1/schedules", body)
	if code != http.StatusCreated || sj["by"] != "api:facilities" || sj["duration"] != "45m" {
		t.Fatalf("add schedule: %d %v", code, sj)
	}
	ss, err := h.store.UnitSchedules(ctx)
	if err != nil || len(ss) != 1 || len(ss[0].Times) != 4 || ss[0].Times[0] != 2*time.Hour || ss[0].Duration != 45*time.Minute {
		t.Fatalf("stored schedules: %+v %v", ss, err)
	}
	if code, e := c.call(fac, "POST", "/api/v1/schedules", body); code != http.StatusConflict {
		t.Errorf("the same schedule twice: %d %v", code, e)
	}
	if code, l := c.call(fac, "GET", "/api/v1/schedules?unit="+jsonID(u["id"]), ""); code != http.StatusOK || l["total"] != 1.0 {
		t.Errorf("list schedules: %d %v", code, l)
	}
	if code, _ := c.call(fac, "DELETE", "/api/v1/schedules/"+jsonID(sj["id"]), ""); code != http.StatusNoContent {
		t.Errorf("delete schedule: %d", code)
	}
	if ss, _ := h.store.UnitSchedules(ctx); len(ss) != 0 {
		t.Errorf("after delete: %+v", ss)
	}
}
