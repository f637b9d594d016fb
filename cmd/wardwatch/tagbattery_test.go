package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/collectors/ble"
	"github.com/wardwatch/wardwatch/collectors/modbus"
	"github.com/wardwatch/wardwatch/tracker"
)

// TestTagBatteryAlertService runs a tag's Eddystone-TLM battery voltage
// through the reading writer into the alert service on a fake clock: the
// tag is bound when the site's tags change (the reload hook), its voltage
// below 2.5 V for a day raises "Tag battery low" on its asset, to biomed,
// in the inbox and the store; the alert survives a restart without being
// cleared for want of fresh data, and a battery change clears it.
func TestTagBatteryAlertService(t *testing.T) {
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
	noProfiles := func(string) (modbus.Profile, bool) { return modbus.Profile{}, false }
	const tagID = "eddystone:edd1ebeac04e5defa017:0bdb87539b67"

	pump := wardwatch.Asset{Name: "Infusion pump 0412", Kind: wardwatch.AssetInfusionPump}
	if err := store.CreateAsset(ctx, &pump); err != nil {
		t.Fatal(err)
	}
	key := alerts.Key{Rule: alerts.RuleTagBatteryLow, Subject: alerts.Subject{Kind: alerts.SubjectAsset, ID: strconv.FormatInt(pump.ID, 10)}}

	// start builds the service and the reading writer feeding it, as the
	// app does, and configures it from the store.
	start := func() (*alertService, *readingWriter) {
		t.Helper()
		reg := prometheus.NewRegistry()
		s, err := newAlertService(ctx, store, cfg.Alerts, nil, logger, reg, now)
		if err != nil {
			t.Fatal(err)
		}
		w := newReadingWriter(nil, logger, reg) // never Run: nothing is written to telemetry here
		w.listen(s.ObserveReadings)
		reloadAlerts(t, s, store, noProfiles)
		return s, w
	}
	// drain runs what the service's goroutine would: the queued
	// observations, in order.
	drain := func(s *alertService) {
		for {
			select {
			case f := <-s.in:
				out, err := f(s.now())
				s.apply(ctx, out, err)
			default:
				return
			}
		}
	}
	// tlm submits the tag's TLM frame at the clock and advances it by
	// step, ticking the service.
	tlm := func(s *alertService, w *readingWriter, mv uint16, n int, step time.Duration) {
		t.Helper()
		for range n {
			rs := ble.TLM{BatteryMV: mv, Temperature: 21.5, HasTemperature: true}.Readings(tagID, clock)
			if err := w.SubmitReadings(ctx, rs); err != nil {
				t.Fatal(err)
			}
			drain(s)
			s.tick(ctx)
			clock = clock.Add(step)
		}
	}
	open := func(s *alertService) (alerts.Alert, bool) {
		for _, a := range s.Open() {
			if a.Key == key {
				return a, true
			}
		}
		return alerts.Alert{}, false
	}

	s, w := start()
	events, cancel := s.Subscribe()
	defer cancel()

	// Not yet a configured tag: its readings are not judged.
	tlm(s, w, 2410, 1, 30*time.Minute)
	if st := s.eval.Stats(); st.Unbound != 2 {
		t.Fatalf("before the tag is configured: stats %+v, want its 2 readings unbound", st)
	}
	// An admin assigns the tag to the pump: the site reload rebinds.
	if err := store.CreateTag(ctx, wardwatch.Tag{ID: tagID, AssetID: pump.ID}); err != nil {
		t.Fatal(err)
	}
	reloadAlerts(t, s, store, noProfiles)

	raised := clock
	tlm(s, w, 2410, 47, 30*time.Minute) // 23.5 h of 2.41 V
	if a, ok := open(s); ok {
		t.Fatalf("raised after %s: %+v", clock.Sub(raised), a)
	}
	tlm(s, w, 2410, 2, 30*time.Minute) // 24 h
	a, ok := open(s)
	if !ok || !a.Active {
		t.Fatalf("no tag battery alert on the pump after 24 h below 2.5 V: %+v", s.Open())
	}
	if !strings.Contains(a.Rule.Name, "Tag battery low") || a.SubjectName != pump.Name || a.Team != alerts.TeamBiomed ||
		a.Priority != alerts.PriorityMedium || a.Rule.Category != alerts.CategoryEquipment ||
		!strings.Contains(a.Message, tagID) || !strings.Contains(a.Message, "2.41 V") || !a.RaisedAt.Equal(raised.Add(24*time.Hour)) {
		t.Errorf("alert %+v", a)
	}
	inbox := false
	for len(events) > 0 {
		if ev := <-events; ev.Alert.ID == a.ID && ev.Alert.Active {
			inbox = true
		}
	}
	if !inbox {
		t.Error("the inbox was not told about the alert")
	}
	stored, _, err := store.OpenAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sa := range stored {
		found = found || sa.ID == a.ID && sa.Active
	}
	if !found {
		t.Error("the alert is not in the store")
	}

	// Restart: the still-low tag takes its alert over; it is not cleared
	// for want of fresh data after the grace period.
	s.flush(ctx)
	cancel()
	s, w = start()
	tlm(s, w, 2420, 2*int(restoreGrace/(30*time.Minute))+2, 30*time.Minute)
	if b, ok := open(s); !ok || b.ID != a.ID || !b.Active {
		t.Fatalf("after the restart and %s of low readings: %+v (want alert %d active)", restoreGrace, b, a.ID)
	}

	// A new coin cell: 3.0 V. Under an hour it stays; after an hour it
	// clears.
	changed := clock
	tlm(s, w, 3010, 6, 10*time.Minute)
	if b, _ := s.book.Get(a.ID); !b.Active {
		t.Fatalf("cleared %s after the battery change", clock.Sub(changed))
	}
	tlm(s, w, 3010, 2, 10*time.Minute)
	b, _ := s.book.Get(a.ID)
	if b.Active || !b.ClearedAt.Equal(changed.Add(time.Hour)) || !strings.Contains(b.Message, "3.01 V") {
		t.Fatalf("after the battery change: active %v cleared %s message %q", b.Active, b.ClearedAt, b.Message)
	}
}

// reloadAlerts configures s from the store as the app's reload hook does.
func reloadAlerts(t *testing.T, s *alertService, store interface {
	Tags(context.Context) ([]wardwatch.Tag, error)
}, profile func(string) (modbus.Profile, bool)) {
	t.Helper()
	tags, err := store.Tags(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.reload(context.Background(), tracker.Site{Tags: tags}, profile); err != nil {
		t.Fatal(err)
	}
}
