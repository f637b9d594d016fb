package main

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/collectors/snmp"
	"github.com/wardwatch/wardwatch/sim"
	"github.com/wardwatch/wardwatch/sim/snmpsim"
)

// TestPumpsThroughTheService adds a v3 pump-server target through the
// admin form (testing the connection first), and sees the simulated
// server's pumps on the fleet page, linked to the demo hospital's pump
// assets by serial, with their state on the asset page; the stored pump
// history and battery readings fill; the target goes offline when the
// agent stops.
func TestPumpsThroughTheService(t *testing.T) {
	s := startAdminSession(t)
	ctx := context.Background()
	if err := sim.NewHospital().Seed(ctx, s.store); err != nil {
		t.Fatal(err)
	}
	agent, err := snmpsim.Start(ctx, "127.0.0.1:0", 12, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	form := url.Values{"name": {"Pump server"}, "address": {agent.Addr()}, "version": {"v3"}, "user": {snmpsim.User},
		"auth_protocol": {snmpsim.AuthProtocol}, "auth_password": {snmpsim.AuthPassword}, "priv_protocol": {snmpsim.PrivProtocol},
		"priv_password": {snmpsim.PrivPassword}, "profile": {snmp.ExamplePumpServerProfile}, "interval": {"3s"}, "timeout": {"1s"},
		"retries": {"1"}, "enabled": {"on"}}

	form.Set("action", "test")
	code, page := s.post("/admin/snmp", form)
	if code != http.StatusOK || !strings.Contains(page, "pumps read") || strings.Contains(page, snmpsim.AuthPassword) {
		i := strings.Index(page, "test-heading")
		t.Fatalf("test connection: %d (secret echoed: %v)\n%.1500s", code, strings.Contains(page, snmpsim.AuthPassword), page[max(i, 0):])
	}
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("priv_password", "wrong-privacy-pw")
	if _, page = s.post("/admin/snmp", bad); !strings.Contains(page, "alert-error") {
		t.Errorf("a wrong privacy password tested fine")
	}
	form.Set("action", "save")
	if code, _ = s.post("/admin/snmp", form); code != http.StatusOK {
		t.Fatalf("save target: %d", code)
	}

	var states []wardwatch.PumpState
	for deadline := time.Now().Add(20 * time.Second); len(states) < 12; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("pumps read: %d, want 12", len(states))
		}
		states = s.app.pumps.Latest()
	}
	code, page = s.get("/pumps")
	if code != http.StatusOK || !strings.Contains(page, `data-serial="SIM-0410"`) || !strings.Contains(page, "Pump 0410") ||
		!strings.Contains(page, "out of date") {
		t.Fatalf("pumps page: %d; lacks the linked pump or the old drug library", code)
	}
	pump, err := s.store.AssetBySerialOrTag(ctx, "SIM-0410")
	if err != nil {
		t.Fatal(err)
	}
	if _, page = s.get("/assets/" + strconv.FormatInt(pump.ID, 10)); !strings.Contains(page, `id="pump-heading"`) {
		t.Error("the pump's asset page has no pump section")
	}
	if _, page = s.get("/admin/snmp"); !strings.Contains(page, "12 pumps") || !strings.Contains(page, "Online") {
		t.Error("the targets page does not show the target online with 12 pumps")
	}
	hist, err := s.app.telemetry.PumpStates(ctx, wardwatch.PumpQuery{Serial: "SIM-0410", From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour)})
	if err != nil || len(hist) == 0 {
		t.Fatalf("pump history = %d states, %v", len(hist), err)
	}

	agent.Close()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		if st := s.app.pumps.statusByTarget(); len(st) == 1 {
			var only bool
			for _, v := range st {
				only = !v.Online && v.LastError != ""
			}
			if only {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the target never went offline: %+v", s.app.pumps.statusByTarget())
		}
	}
}
