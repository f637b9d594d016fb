package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/sim/modbussim"
	"github.com/wardwatch/wardwatch/web"
)

// TestModbusThroughTheService binds a vaccine fridge's controller, served
// by the independent in-process Modbus server, to a monitored unit through
// the admin forms (testing the connection first: raw registers beside
// decoded values), and sees its temperature stored in SI units and shown
// in range on the environment dashboard; when the server restarts on the
// same port the service recovers without a restart of its own.
func TestModbusThroughTheService(t *testing.T) {
	s := startAdminSession(t)
	ctx := context.Background()
	srvCtx, stopSrv := context.WithCancel(ctx)
	devs := modbussim.DemoDevices()[:1] // a vaccine fridge on unit id 1
	// The simulator's clock stands still at a moment when the fridge is in
	// range (its door openings and excursions follow the wall clock
	// otherwise), so the value checked below is repeatable.
	still := func() time.Time { return time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC) }
	srv, err := modbussim.Start(srvCtx, "127.0.0.1:0", devs, 1, still)
	if err != nil {
		t.Fatal(err)
	}
	addr := srv.Addr()

	if code, _ := s.post("/admin/units", url.Values{"name": {"Vaccine fridge 1"}, "profile": {"vaccine_fridge"}}); code != http.StatusOK {
		t.Fatalf("add unit: %d", code)
	}
	units, _ := s.store.Units(ctx)
	form := url.Values{"name": {"fridge-1"}, "unit": {strconv.FormatInt(units[0].ID, 10)}, "transport": {"tcp"}, "address": {addr},
		"slave_id": {"1"}, "profile": {devs[0].Kind.Profile()}, "interval": {"1s"}, "timeout": {"500ms"}, "enabled": {"on"},
		"calibration_due": {time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)}}
	form.Set("action", "test")
	code, page := s.post("/admin/modbus", form)
	if code != http.StatusOK || !strings.Contains(page, "Read ") || !strings.Contains(page, "°C") {
		i := strings.Index(page, "test-heading")
		t.Fatalf("test connection: %d\n%.1200s", code, page[max(i, 0):])
	}
	form.Set("action", "save")
	if code, _ = s.post("/admin/modbus", form); code != http.StatusOK {
		t.Fatalf("save device: %d", code)
	}

	temperature := func() (wardwatch.Reading, bool) {
		for _, r := range s.app.readings.Latest() {
			if r.SensorID == "fridge-1/cabinet" {
				return r, true
			}
		}
		return wardwatch.Reading{}, false
	}
	eventually(t, "the fridge's temperature is read", func() bool { _, ok := temperature(); return ok })
	r, _ := temperature()
	if r.Metric != wardwatch.MetricTemperature || r.Value < 1 || r.Value > 9 {
		t.Fatalf("reading = %+v, want a vaccine fridge temperature in °C", r)
	}
	// The evaporator coil is stored but never shown as the fridge's value.
	eventually(t, "the evaporator is read too", func() bool {
		for _, r := range s.app.readings.Latest() {
			if r.SensorID == "fridge-1/evaporator" {
				return true
			}
		}
		return false
	})
	chans, _ := s.app.sensors.unitSensors(ctx, units[0].ID)
	if !slices.ContainsFunc(chans, func(c web.UnitSensor) bool { return c.SensorID == "fridge-1/cabinet" }) ||
		slices.ContainsFunc(chans, func(c web.UnitSensor) bool { return c.SensorID == "fridge-1/evaporator" }) {
		t.Errorf("the unit's channels %+v: want the cabinet, not the evaporator", chans)
	}
	for _, r := range s.app.sensors.unitReadings() {
		if r.SensorID == "fridge-1/evaporator" {
			t.Error("the environment page is given the evaporator coil as a unit value")
		}
	}
	if _, page = s.get("/environment"); !strings.Contains(page, `data-unit="Vaccine fridge 1"`) || !strings.Contains(page, "range 2 to 8 °C") {
		t.Error("the environment dashboard does not show the fridge with its range")
	}
	if _, page = s.get("/admin/modbus"); !strings.Contains(page, "Online") {
		t.Error("the device list does not show it online")
	}
	// Its calibration certificate ran out yesterday: an alert says so.
	eventually(t, "the expired calibration raises an alert", func() bool {
		for _, a := range s.app.alerts.Open() {
			if a.Key.Rule == alerts.RuleCalibrationExpired && a.Key.Subject.ID == "fridge-1/cabinet" {
				return true
			}
		}
		return false
	})
	eventually(t, "the reading reaches the telemetry store", func() bool {
		got, _ := s.app.telemetry.Readings(ctx, wardwatch.SeriesQuery{SensorID: "fridge-1/cabinet", Metric: wardwatch.MetricTemperature,
			From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
		return len(got) > 0
	})

	// The server restarts on the same port: the collector reconnects.
	stopSrv()
	srv.Close()
	eventually(t, "the device goes offline", func() bool {
		for _, st := range s.app.sensors.collector.Status() {
			if !st.Online {
				return true
			}
		}
		return false
	})
	srv, err = modbussim.Start(ctx, addr, devs, 2, still)
	if err != nil {
		t.Fatalf("restart the server on %s: %v", addr, err)
	}
	defer srv.Close()
	restarted := time.Now()
	eventually(t, "readings resume after the restart", func() bool {
		r, ok := temperature()
		return ok && r.Time.After(restarted)
	})
}
