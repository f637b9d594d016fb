package main

import (
	"context"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/tracker"
)

// TestAlertsSurviveRestart stops the alert service with two active alerts
// and starts another on the same store: both come back with their IDs; the
// gateway's offline alert clears as soon as the gateway is heard again; the
// temperature alert, which no fresh data confirms, is cleared an hour after
// the start, saying why.
func TestAlertsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := LoadConfig("", testEnv(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	logger := newLogger(cfg.Log, io.Discard)
	store, err := openStore(ctx, cfg, logger)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	clock := t0
	now := func() time.Time { return clock }
	start := func() *alertService {
		s, err := newAlertService(ctx, store, cfg.Alerts, nil, logger, prometheus.NewRegistry(), now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	first := start()
	out, err := first.eval.ParentChange(alerts.Subject{Kind: alerts.SubjectGateway, ID: "7"}, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	high := alerts.Rule{ID: "temperature_high", Name: "Temperature above 8.0 °C", Category: alerts.CategoryEnvironment,
		Priority: alerts.PriorityHigh, Team: alerts.TeamPharmacy, Latched: true}
	out.Changes = append(out.Changes, alerts.Change{Type: alerts.ChangeRaise, Rule: high, Priority: alerts.PriorityHigh, Team: alerts.TeamPharmacy,
		Key: alerts.Key{Rule: high.ID, Subject: alerts.Subject{Kind: alerts.SubjectSensor, ID: "fridge/cabinet"}}, UnitID: 1,
		SubjectName: "fridge cabinet", Time: t0, Since: t0.Add(-15 * time.Minute), Value: 9.1, Peak: 9.4, Trough: math.NaN(), Message: "too warm"})
	first.apply(ctx, out, nil)
	first.flush(ctx)
	if n := len(first.Open()); n != 2 {
		t.Fatalf("%d open alerts before the restart, want 2", n)
	}

	clock = t0.Add(10 * time.Minute)
	second := start()
	byRule := map[string]alerts.Alert{}
	for _, a := range second.Open() {
		byRule[a.Key.Rule] = a
	}
	if len(byRule) != 2 || !byRule[alerts.RuleGatewayOffline].Active || !byRule["temperature_high"].Active {
		t.Fatalf("after the restart: %+v", byRule)
	}
	out, err = second.eval.ParentChange(alerts.Subject{Kind: alerts.SubjectGateway, ID: "7"}, true, clock)
	if err != nil {
		t.Fatal(err)
	}
	second.apply(ctx, out, nil)
	if a, _ := second.book.Get(byRule[alerts.RuleGatewayOffline].ID); a.Active {
		t.Error("the gateway was heard again but its offline alert is still active")
	}

	clock = t0.Add(30 * time.Minute)
	second.tick(ctx)
	if a, _ := second.book.Get(byRule["temperature_high"].ID); !a.Active {
		t.Fatal("the temperature alert cleared before the grace period ran out")
	}
	clock = t0.Add(10*time.Minute + restoreGrace + time.Second)
	second.tick(ctx)
	a, _ := second.book.Get(byRule["temperature_high"].ID)
	if a.Active || !strings.Contains(a.Message, "not confirmed by fresh data") {
		t.Fatalf("after the grace period: active %v, message %q", a.Active, a.Message)
	}
	if a.State != alerts.StateRTNUnack {
		t.Errorf("state %s: a latched alert nobody acknowledged stays for someone to see", a.State)
	}
}

// TestPeopleStatusesOutrankAutomation: a pump biomed marked in repair keeps
// that status when it is wheeled through the soiled utility room, while
// another pump taken there becomes soiled by the zone rule.
func TestPeopleStatusesOutrankAutomation(t *testing.T) {
	h := startHospital(t, nil)
	ctx := context.Background()
	zones, err := h.store.Zones(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	var soiled wardwatch.Zone
	for _, z := range zones {
		if z.Kind == wardwatch.ZoneSoiledUtility {
			soiled = z
			break
		}
	}
	if soiled.ID == 0 {
		t.Fatal("the demo hospital has no soiled utility room")
	}
	as, err := h.store.Assets(ctx)
	if err != nil || len(as) < 2 {
		t.Fatalf("assets: %d, %v", len(as), err)
	}
	repaired, control := as[0], as[1]
	if err := (statusSetter{store: h.store, alerts: h.app.alerts}).SetAssetStatus(ctx, repaired.ID, wardwatch.StatusInRepair); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	h.app.alerts.ObserveTracker(tracker.Output{ZoneChanges: []wardwatch.ZoneChange{
		{AssetID: repaired.ID, FloorID: soiled.FloorID, ToZone: soiled.ID, Time: now},
		{AssetID: control.ID, FloorID: soiled.FloorID, ToZone: soiled.ID, Time: now},
	}})
	eventually(t, "the other pump becomes soiled", func() bool {
		a, err := h.store.Asset(ctx, control.ID)
		return err == nil && a.Status == wardwatch.StatusSoiled
	})
	if a, _ := h.store.Asset(ctx, repaired.ID); a.Status != wardwatch.StatusInRepair {
		t.Errorf("the pump in repair became %q", a.Status)
	}
}

// TestSpoolAlert raises the telemetry spool alert at half full and clears
// it below 40 %, with no chatter in between.
func TestSpoolAlert(t *testing.T) {
	s := &alertService{}
	var fill int64
	s.spoolFill = func() (int64, int64) { return fill, 1000 << 20 }
	t0 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	for i, step := range []struct {
		mb   int64
		want alerts.ChangeType
	}{{100, ""}, {499, ""}, {500, alerts.ChangeRaise}, {900, ""}, {450, ""}, {401, ""}, {399, alerts.ChangeClear}, {10, ""}, {600, alerts.ChangeRaise}} {
		fill = step.mb << 20
		cs := s.checkSpool(t0.Add(time.Duration(i) * time.Minute))
		var got alerts.ChangeType
		if len(cs) == 1 {
			got = cs[0].Type
			if cs[0].Key.Subject.Kind != alerts.SubjectSystem || cs[0].Team != alerts.TeamFacilities || cs[0].Message == "" {
				t.Errorf("step %d: change %+v", i, cs[0])
			}
		}
		if got != step.want || len(cs) > 1 {
			t.Errorf("step %d (%d MB): %d changes, type %q; want %q", i, step.mb, len(cs), got, step.want)
		}
	}
}
