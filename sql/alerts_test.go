package sql

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"

	"github.com/wardwatch/wardwatch/internal/pgtest"
)

// TestAlertStoreSQLite runs the alert store contract against a SQLite file.
func TestAlertStoreSQLite(t *testing.T) {
	testAlertStore(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "wardwatch.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// TestAlertStorePostgres runs the alert store contract against PostgreSQL,
// each test in a fresh schema.
func TestAlertStorePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	testAlertStore(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "postgres", pgtest.FreshSchema(t, dsn))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// at0 is a Monday morning; test times are whole microseconds unless a test
// checks truncation.
var at0 = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

func atMin(m int) time.Time { return at0.Add(time.Duration(m) * time.Minute) }

// cet is a zone other than UTC: stored times come back in UTC.
var cet = time.FixedZone("CET", 3600)

// fridgeRule is a latched threshold rule.
var fridgeRule = alerts.Rule{ID: "temp_high", Name: "Temperature above 8.0 °C", Category: alerts.CategoryEnvironment,
	Priority: alerts.PriorityHigh, Team: alerts.TeamPharmacy, Latched: true, Metric: wardwatch.MetricTemperature,
	Condition: alerts.Outside, Low: 2, High: 8, Delay: 15 * time.Minute, DelayMode: alerts.Cumulative, Window: time.Hour,
	Deadband: 0.5, MinClear: 5 * time.Minute, Average: 30 * time.Second}

// silentRule is a built-in rule without a metric.
var silentRule = alerts.Rule{ID: "sensor_silent", Name: "Sensor silent", Category: alerts.CategoryEquipment,
	Priority: alerts.PriorityMedium}

func sensorKey(rule, id string) alerts.Key {
	return alerts.Key{Rule: rule, Subject: alerts.Subject{Kind: alerts.SubjectSensor, ID: id}}
}

// normTime is what the store keeps of t: UTC, truncated to the
// microsecond.
func normTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// normAlert is a as the store returns it.
func normAlert(a alerts.Alert) alerts.Alert {
	for _, p := range []*time.Time{&a.OpenedAt, &a.RaisedAt, &a.ClearedAt, &a.ConditionSince, &a.AckedAt, &a.Shelf.At,
		&a.Shelf.Until, &a.Suppression.Until, &a.Resolution.At, &a.ClosedAt, &a.AnnunciatedAt} {
		*p = normTime(*p)
	}
	rs := a.Escalation.Reminders
	a.Escalation.Reminders = nil
	for _, r := range rs {
		a.Escalation.Reminders = append(a.Escalation.Reminders, normTime(r))
	}
	return a
}

// same compares values that may hold NaN, which reflect.DeepEqual never
// equates, through their Go syntax.
func same(a, b any) bool { return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) }

func wantAlerts(t *testing.T, what string, got, want []alerts.Alert) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d alerts, want %d: %+v", what, len(got), len(want), got)
	}
	for i := range got {
		if w := normAlert(want[i]); !same(got[i], w) {
			t.Fatalf("%s[%d] =\n%#v\nwant\n%#v", what, i, got[i], w)
		}
	}
}

func mustUnit(t *testing.T, s *Store, name string) wardwatch.MonitoredUnit {
	t.Helper()
	u := wardwatch.MonitoredUnit{Name: name, Profile: wardwatch.ProfileVaccineFridge}
	if err := s.CreateUnit(t.Context(), &u); err != nil {
		t.Fatalf("CreateUnit: %v", err)
	}
	return u
}

// sampleAlerts are alerts in every state the store must keep.
func sampleAlerts(unitA, unitB int64) []alerts.Alert {
	nan := math.NaN()
	return []alerts.Alert{
		{ // active, unacknowledged, escalating; values unknown; times with nanoseconds and a zone
			ID: 1, Key: sensorKey(fridgeRule.ID, "fridge-1/t"), Rule: fridgeRule, Priority: alerts.PriorityCritical,
			Team: alerts.TeamPharmacy, UnitID: unitA, SubjectName: "Fridge 1 probe", State: alerts.StateUnack, Active: true,
			Value: nan, Peak: nan, Trough: nan, Message: "Temperature 9.1 °C — ‘above’ 8.0 °C",
			OpenedAt: atMin(0).Add(1234567 * time.Nanosecond).In(cet), RaisedAt: atMin(0), ConditionSince: atMin(-15),
			AnnunciatedAt: atMin(0),
			Escalation:    alerts.Escalation{Tiers: 2, Shift: 90 * time.Second, Reminders: []time.Time{atMin(10).Add(999), {}}},
		},
		{ // shelved and acknowledged, negative values
			ID: 2, Key: sensorKey(fridgeRule.ID, "freezer/t"), Rule: fridgeRule, Priority: alerts.PriorityHigh,
			Team: alerts.TeamLab, UnitID: unitB, SubjectName: "Freezer", State: alerts.StateShelved, Active: true,
			Value: -12.5, Peak: -10.25, Trough: -31.125, Message: "cold", OpenedAt: atMin(1), RaisedAt: atMin(2),
			ConditionSince: atMin(1), Retriggers: 3, AckedBy: "nurse.jo", AckedAt: atMin(3),
			Shelf:         alerts.Shelf{By: "nurse.jo", Reason: "door being repaired", At: atMin(4), Until: atMin(64)},
			AnnunciatedAt: atMin(2),
		},
		{ // suppressed by design, built-in rule without a metric
			ID: 5, Key: sensorKey(silentRule.ID, "fridge-1/t"), Rule: silentRule, Priority: alerts.PriorityMedium,
			Team: alerts.TeamFacilities, UnitID: unitA, SubjectName: "Fridge 1 probe", State: alerts.StateSuppressed,
			Active: true, Value: nan, Peak: nan, Trough: nan, Message: "silent for 30 min", OpenedAt: atMin(5), RaisedAt: atMin(5),
			Suppression: alerts.Suppression{Kind: alerts.SuppressDesign, Reason: "Gateway 12 offline", By: alerts.SystemUser, Until: atMin(90)},
		},
		{ // latched, resolved and closed
			ID: 4, Key: sensorKey(fridgeRule.ID, "fridge-2/t"), Rule: fridgeRule, Priority: alerts.PriorityHigh,
			Team: alerts.TeamPharmacy, UnitID: unitA, SubjectName: "Fridge 2", State: alerts.StateNormal,
			Value: 5, Peak: 8.4, Trough: 5, Message: "back in range", OpenedAt: atMin(2), RaisedAt: atMin(2),
			ClearedAt: atMin(20), ConditionSince: atMin(-13), AckedBy: "pharm.al", AckedAt: atMin(21),
			Resolution: alerts.Resolution{Cause: "door ajar", Action: "closed it", Disposition: "none affected", By: "pharm.al", At: atMin(30)},
			ClosedAt:   atMin(30), AnnunciatedAt: atMin(2),
		},
	}
}

// testAlertStore is the alert store contract every engine meets.
func testAlertStore(t *testing.T, open func(t *testing.T) *Store) {
	migrated := func(t *testing.T) *Store {
		t.Helper()
		s := open(t)
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		return s
	}

	t.Run("MigrateDownAndUp", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		u := mustUnit(t, s, "Fridge")
		if err := s.SaveAlerts(ctx, sampleAlerts(u.ID, u.ID)[:1], nil); err != nil {
			t.Fatal(err)
		}
		if _, err := s.migrator.DownTo(ctx, 9); err != nil {
			t.Fatalf("down to 9: %v", err)
		}
		if _, _, err := s.OpenAlerts(ctx); err == nil {
			t.Fatal("alerts table still there after migrating down")
		}
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("up again: %v", err)
		}
		open, last, err := s.OpenAlerts(ctx)
		if err != nil || len(open) != 0 || last != 0 {
			t.Fatalf("OpenAlerts after down and up = %v, %d, %v", open, last, err)
		}
	})

	t.Run("AlertsRoundTrip", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		open, last, err := s.OpenAlerts(ctx)
		if err != nil || len(open) != 0 || last != 0 {
			t.Fatalf("OpenAlerts(empty) = %v, %d, %v", open, last, err)
		}
		ua, ub := mustUnit(t, s, "Fridge 1"), mustUnit(t, s, "Freezer")
		as := sampleAlerts(ua.ID, ub.ID)
		audits := []alerts.Audit{
			{AlertID: 1, Key: as[0].Key, Action: alerts.ActionRaise, From: alerts.StateNormal, To: alerts.StateUnack,
				User: alerts.SystemUser, Time: atMin(0), Reason: "Temperature 9.1 °C"},
			{AlertID: 2, Key: as[1].Key, Action: alerts.ActionShelve, From: alerts.StateAck, To: alerts.StateShelved,
				User: "nurse.jo", Time: atMin(4).In(cet), Reason: "door being repaired"},
			{AlertID: 1, Key: as[0].Key, Action: alerts.ActionDecline, From: alerts.StateUnack, To: alerts.StateUnack,
				User: "nurse.jo", Time: atMin(3), Reason: "not me"},
		}
		if err := s.SaveAlerts(ctx, as, audits); err != nil {
			t.Fatalf("SaveAlerts: %v", err)
		}
		for _, a := range as {
			got, err := s.Alert(ctx, a.ID)
			if err != nil {
				t.Fatalf("Alert(%d): %v", a.ID, err)
			}
			wantAlerts(t, fmt.Sprintf("Alert(%d)", a.ID), []alerts.Alert{got}, []alerts.Alert{a})
			if !math.IsNaN(a.Value) && got.Value != a.Value {
				t.Fatalf("Alert(%d).Value = %v", a.ID, got.Value)
			}
		}
		if got, _ := s.Alert(ctx, 1); got.OpenedAt != time.Date(2026, 3, 2, 8, 0, 0, 1234000, time.UTC) {
			t.Fatalf("OpenedAt = %v: want UTC truncated to the microsecond", got.OpenedAt)
		}
		_, err = s.Alert(ctx, 99)
		wantCode(t, "Alert(missing)", err, wardwatch.ENOTFOUND)

		open, last, err = s.OpenAlerts(ctx)
		if err != nil || last != 5 {
			t.Fatalf("OpenAlerts: last %d, %v; want 5", last, err)
		}
		wantAlerts(t, "OpenAlerts", open, []alerts.Alert{as[0], as[1], as[2]})
		if _, err := alerts.NewBook(alerts.BookConfig{}, last, open); err != nil {
			t.Fatalf("NewBook from the stored open alerts: %v", err)
		}

		// Upsert: alert 1 is acknowledged and closes; listed twice, the last wins.
		a1 := as[0]
		a1.Active, a1.State, a1.ClearedAt = false, alerts.StateRTNUnack, atMin(40)
		closed := a1
		closed.AckedBy, closed.AckedAt, closed.ClosedAt, closed.State = "nurse.jo", atMin(41), atMin(41), alerts.StateNormal
		closed.Value, closed.Escalation = 7.5, alerts.Escalation{}
		if err := s.SaveAlerts(ctx, []alerts.Alert{a1, closed}, []alerts.Audit{
			{AlertID: 1, Key: a1.Key, Action: alerts.ActionAcknowledge, From: alerts.StateRTNUnack, To: alerts.StateNormal,
				User: "nurse.jo", Time: atMin(41)},
		}); err != nil {
			t.Fatalf("SaveAlerts(update): %v", err)
		}
		got, err := s.Alert(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, "Alert(1) after update", []alerts.Alert{got}, []alerts.Alert{closed})
		open, _, _ = s.OpenAlerts(ctx)
		wantAlerts(t, "OpenAlerts after closing 1", open, []alerts.Alert{as[1], as[2]})

		au, err := s.AlertAudit(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		wantAudit := []alerts.Audit{audits[0], audits[2],
			{AlertID: 1, Key: a1.Key, Action: alerts.ActionAcknowledge, From: alerts.StateRTNUnack, To: alerts.StateNormal, User: "nurse.jo", Time: atMin(41)}}
		if !reflect.DeepEqual(au, wantAudit) {
			t.Fatalf("AlertAudit(1) =\n%+v\nwant\n%+v", au, wantAudit)
		}
		if au, err := s.AlertAudit(ctx, 2); err != nil || len(au) != 1 || au[0].Time != atMin(4) || au[0].Time.Location() != time.UTC {
			t.Fatalf("AlertAudit(2) = %+v, %v", au, err)
		}

		// Errors roll the whole batch back.
		bad := as[3]
		bad.ID = 9
		wantCode(t, "SaveAlerts(audit of an unknown alert)", s.SaveAlerts(ctx, []alerts.Alert{bad},
			[]alerts.Audit{{AlertID: 77, Key: bad.Key, Action: alerts.ActionRaise, Time: atMin(1)}}), wardwatch.EINVALID)
		_, err = s.Alert(ctx, 9)
		wantCode(t, "Alert(9) after a failed batch", err, wardwatch.ENOTFOUND)
		noID := as[3]
		noID.ID = 0
		wantCode(t, "SaveAlerts(no ID)", s.SaveAlerts(ctx, []alerts.Alert{noID}, nil), wardwatch.EINVALID)
		noKey := as[3]
		noKey.Key.Subject.ID = ""
		wantCode(t, "SaveAlerts(no subject)", s.SaveAlerts(ctx, []alerts.Alert{noKey}, nil), wardwatch.EINVALID)
		wantCode(t, "SaveAlerts(audit without time)", s.SaveAlerts(ctx, nil,
			[]alerts.Audit{{AlertID: 1, Key: a1.Key, Action: alerts.ActionRaise}}), wardwatch.EINVALID)
		if err := s.SaveAlerts(ctx, nil, nil); err != nil {
			t.Fatalf("SaveAlerts(nothing): %v", err)
		}
		// Text PostgreSQL cannot hold is made storable, not refused.
		odd := as[3]
		odd.ID, odd.Message = 10, "bad \x00 byte \xff"
		if err := s.SaveAlerts(ctx, []alerts.Alert{odd}, nil); err != nil {
			t.Fatalf("SaveAlerts(odd text): %v", err)
		}
		if got, err := s.Alert(ctx, 10); err != nil || got.Message != "bad  byte \uFFFD" {
			t.Fatalf("Alert(10).Message = %q, %v", got.Message, err)
		}
	})

	t.Run("ListAlertsAndAuditTrail", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		ua, ub := mustUnit(t, s, "Fridge 1"), mustUnit(t, s, "Freezer")
		as := sampleAlerts(ua.ID, ub.ID) // opened at minutes 0, 1, 5, 2; IDs 1, 2, 5, 4
		var audits []alerts.Audit
		for _, a := range as {
			audits = append(audits, alerts.Audit{AlertID: a.ID, Key: a.Key, Action: alerts.ActionRaise, From: alerts.StateNormal,
				To: alerts.StateUnack, User: alerts.SystemUser, Time: a.OpenedAt})
		}
		if err := s.SaveAlerts(ctx, as, audits); err != nil {
			t.Fatal(err)
		}
		ids := func(as []alerts.Alert) []int64 {
			var out []int64
			for _, a := range as {
				out = append(out, a.ID)
			}
			return out
		}
		yes, no := true, false
		for _, tc := range []struct {
			name string
			q    AlertQuery
			want []int64
		}{
			{"all, newest opened first", AlertQuery{}, []int64{5, 4, 2, 1}},
			{"unit", AlertQuery{UnitID: ua.ID}, []int64{5, 4, 1}},
			{"team", AlertQuery{Team: alerts.TeamLab}, []int64{2}},
			{"priority", AlertQuery{Priority: alerts.PriorityHigh}, []int64{4, 2}},
			{"closed", AlertQuery{Closed: &yes}, []int64{4}},
			{"open", AlertQuery{Closed: &no}, []int64{5, 2, 1}},
			{"range", AlertQuery{From: atMin(1), To: atMin(5)}, []int64{4, 2}},
			{"limit", AlertQuery{Limit: 2}, []int64{5, 4}},
			{"nothing", AlertQuery{UnitID: ub.ID, Team: alerts.TeamPharmacy}, nil},
		} {
			got, err := s.ListAlerts(ctx, tc.q)
			if err != nil || !reflect.DeepEqual(ids(got), tc.want) {
				t.Errorf("ListAlerts(%s) = %v, %v; want %v", tc.name, ids(got), err, tc.want)
			}
		}
		_, err := s.ListAlerts(ctx, AlertQuery{Team: "plumbers"})
		wantCode(t, "ListAlerts(bad team)", err, wardwatch.EINVALID)
		_, err = s.ListAlerts(ctx, AlertQuery{Priority: "urgent"})
		wantCode(t, "ListAlerts(bad priority)", err, wardwatch.EINVALID)
		_, err = s.ListAlerts(ctx, AlertQuery{Limit: -1})
		wantCode(t, "ListAlerts(negative limit)", err, wardwatch.EINVALID)

		trail := func(from, to time.Time, unit int64, limit int) []int64 {
			t.Helper()
			au, err := s.AlertAuditTrail(ctx, from, to, unit, limit)
			if err != nil {
				t.Fatalf("AlertAuditTrail: %v", err)
			}
			var out []int64
			for i, a := range au {
				if i > 0 && a.Time.Before(au[i-1].Time) {
					t.Fatalf("AlertAuditTrail not oldest first: %+v", au)
				}
				out = append(out, a.AlertID)
			}
			return out
		}
		for _, tc := range []struct {
			name     string
			from, to time.Time
			unit     int64
			limit    int
			want     []int64
		}{
			{"all", time.Time{}, time.Time{}, 0, 0, []int64{1, 2, 4, 5}},
			{"unit", time.Time{}, time.Time{}, ua.ID, 0, []int64{1, 4, 5}},
			{"range", atMin(1), atMin(5), 0, 0, []int64{2, 4}},
			{"from", atMin(2), time.Time{}, ub.ID, 0, nil},
			{"limit", time.Time{}, time.Time{}, 0, 3, []int64{1, 2, 4}},
		} {
			if got := trail(tc.from, tc.to, tc.unit, tc.limit); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AlertAuditTrail(%s) = %v, want %v", tc.name, got, tc.want)
			}
		}
		_, err = s.AlertAuditTrail(ctx, time.Time{}, time.Time{}, 0, -5)
		wantCode(t, "AlertAuditTrail(negative limit)", err, wardwatch.EINVALID)
	})

	t.Run("BookRestartAndNotifications", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		u := mustUnit(t, s, "Fridge 1")
		b, err := alerts.NewBook(alerts.BookConfig{}, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		raise := alerts.Change{Type: alerts.ChangeRaise, Key: sensorKey(fridgeRule.ID, "fridge-1/t"), Rule: fridgeRule,
			Priority: alerts.PriorityHigh, Team: alerts.TeamPharmacy, UnitID: u.ID, SubjectName: "Fridge 1",
			Time: atMin(15), Since: atMin(0), Value: 9.2, Peak: 9.4, Trough: 8.3, Message: "Temperature 9.2 °C"}
		a, au, err := b.Apply(raise)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SaveAlerts(ctx, []alerts.Alert{a}, au); err != nil {
			t.Fatal(err)
		}
		ns := b.Due(atMin(26)) // team at once, supervisor at 10 min
		if len(ns) == 0 {
			t.Fatal("no notifications due")
		}
		for i, n := range ns {
			var sendErr error
			if i == 1 {
				sendErr = errors.New("smtp: 451 try again later")
			}
			if err := s.RecordNotification(ctx, n, sendErr, atMin(26)); err != nil {
				t.Fatalf("RecordNotification: %v", err)
			}
		}
		got, err := s.Notifications(ctx, a.ID)
		if err != nil || len(got) != len(ns) {
			t.Fatalf("Notifications = %d records, %v; want %d", len(got), err, len(ns))
		}
		for i, r := range got {
			wantErr := ""
			if i == 1 {
				wantErr = "smtp: 451 try again later"
			}
			if !reflect.DeepEqual(r.Notification, ns[i]) || r.At != atMin(26) || r.Error != wantErr {
				t.Fatalf("Notifications[%d] = %+v\nwant %+v at %v error %q", i, r, ns[i], atMin(26), wantErr)
			}
		}
		wantCode(t, "RecordNotification(no alert)", s.RecordNotification(ctx, alerts.Notification{}, nil, atMin(1)), wardwatch.EINVALID)
		wantCode(t, "RecordNotification(no time)", s.RecordNotification(ctx, ns[0], nil, time.Time{}), wardwatch.EINVALID)

		// The book's state after escalating is saved and survives a restart.
		esc, _ := b.Get(a.ID)
		if err := s.SaveAlerts(ctx, []alerts.Alert{esc}, nil); err != nil {
			t.Fatal(err)
		}
		open, last, err := s.OpenAlerts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantAlerts(t, "OpenAlerts after escalation", open, b.Open())
		b2, err := alerts.NewBook(alerts.BookConfig{}, last, open)
		if err != nil {
			t.Fatal(err)
		}
		if again := b2.Due(atMin(26)); len(again) != 0 {
			t.Fatalf("a restarted book repeats %d notifications", len(again))
		}
		other := raise
		other.Key = sensorKey(fridgeRule.ID, "fridge-9/t")
		a2, _, err := b2.Apply(other)
		if err != nil || a2.ID != a.ID+1 {
			t.Fatalf("new alert after restart: ID %d, %v; want %d", a2.ID, err, a.ID+1)
		}
	})

	t.Run("Excursions", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		u := mustUnit(t, s, "Vaccine fridge")
		x := alerts.Excursion{UnitID: u.ID, UnitName: "Vaccine fridge", Team: alerts.TeamPharmacy, SensorID: "fridge-1/t",
			Metric: wardwatch.MetricTemperature, Low: 2, High: math.Inf(1), Start: atMin(0), Peak: 9.1, Trough: 8.2,
			PeakAt: atMin(3), TroughAt: atMin(0), Above: 3 * time.Minute, DegreeMinutesAbove: 2.5, Samples: 3}
		freezer := alerts.Excursion{UnitID: u.ID, SensorID: "freezer/t", Metric: wardwatch.MetricTemperature,
			Low: math.Inf(-1), High: -15, Start: atMin(-60), End: atMin(-50), Peak: -10, Trough: -14, PeakAt: atMin(-55),
			TroughAt: atMin(-60), Above: 10 * time.Minute, DegreeMinutesAbove: 30, DegreeMinutesBelow: math.NaN(), Samples: 10,
			Alarmed: true, AlarmRule: "temp_high", Quarantine: true}
		xs := []alerts.Excursion{x, freezer}
		if err := s.SaveExcursions(ctx, xs); err != nil {
			t.Fatalf("SaveExcursions: %v", err)
		}
		if xs[0].ID == 0 || xs[1].ID == 0 || xs[0].ID == xs[1].ID {
			t.Fatalf("SaveExcursions set IDs %d, %d", xs[0].ID, xs[1].ID)
		}
		x.ID, freezer.ID = xs[0].ID, xs[1].ID
		for _, want := range []alerts.Excursion{x, freezer} {
			got, err := s.Excursion(ctx, want.ID)
			if err != nil || !same(got, want) {
				t.Fatalf("Excursion(%d) = %#v, %v\nwant %#v", want.ID, got, err, want)
			}
		}
		_, err := s.Excursion(ctx, 999)
		wantCode(t, "Excursion(missing)", err, wardwatch.ENOTFOUND)

		// Staff fill in the troubleshooting record.
		tr := alerts.Troubleshooting{DiscoveredAt: atMin(5), ReporterName: "Al Pharm", ReporterTitle: "Pharmacist",
			UnitTempDiscovered: 9.0, MinDiscovered: math.NaN(), MaxDiscovered: 9.3, RoomTemp: math.NaN(),
			Description: "door left ajar", AffectedProduct: "MMR lot 42 (VFC)", Contacted: "manufacturer 10:05",
			ReturnedToStorage: atMin(30), Actions: "moved stock", Prevention: "door alarm", Disposition: alerts.DispositionUsed}
		if err := s.SaveTroubleshooting(ctx, x.ID, tr); err != nil {
			t.Fatalf("SaveTroubleshooting: %v", err)
		}
		wantCode(t, "SaveTroubleshooting(missing)", s.SaveTroubleshooting(ctx, 999, tr), wardwatch.ENOTFOUND)
		badTr := tr
		badTr.Disposition = "sold"
		wantCode(t, "SaveTroubleshooting(bad disposition)", s.SaveTroubleshooting(ctx, x.ID, badTr), wardwatch.EINVALID)
		badTr = tr
		badTr.RoomTemp = math.Inf(1)
		wantCode(t, "SaveTroubleshooting(infinite)", s.SaveTroubleshooting(ctx, x.ID, badTr), wardwatch.EINVALID)

		// The quarantine of an excursion in progress cannot be cleared.
		wantCode(t, "ClearQuarantine(not quarantined)", s.ClearQuarantine(ctx, x.ID, "al", atMin(6), alerts.DispositionUsed), wardwatch.ECONFLICT)

		// A later measurement updates the measured fields only, and
		// alarms and quarantines it.
		m := x
		m.ID, m.Troubleshooting = 0, alerts.Troubleshooting{}
		m.End, m.Peak, m.PeakAt, m.Samples, m.Above, m.DegreeMinutesAbove = atMin(20), 9.8, atMin(12), 20, 20*time.Minute, 31.5
		m.Alarmed, m.AlarmRule, m.Quarantine, m.UnitName = true, "temp_high", true, "Vaccine fridge 1"
		m.QuarantineClearedBy, m.UnitID = "nobody", 12345 // neither is a measured field
		if err := s.SaveExcursions(ctx, []alerts.Excursion{m}); err != nil {
			t.Fatal(err)
		}
		want := m
		want.ID, want.UnitID, want.QuarantineClearedBy, want.Troubleshooting = x.ID, x.UnitID, "", tr
		got, err := s.Excursion(ctx, x.ID)
		if err != nil || !same(got, want) {
			t.Fatalf("Excursion after update = %#v, %v\nwant %#v", got, err, want)
		}
		// A re-measurement never lowers the alarm or the quarantine.
		lower := m
		lower.Alarmed, lower.AlarmRule, lower.Quarantine = false, "", false
		if err := s.SaveExcursions(ctx, []alerts.Excursion{lower}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Excursion(ctx, x.ID); !got.Alarmed || got.AlarmRule != "temp_high" || !got.Quarantined() {
			t.Fatalf("re-measurement lowered the alarm or quarantine: %+v", got)
		}

		q, err := s.Excursions(ctx, ExcursionQuery{Quarantined: true})
		if err != nil || len(q) != 2 || q[0].ID != x.ID || q[1].ID != freezer.ID {
			t.Fatalf("Excursions(quarantined) = %+v, %v", q, err)
		}

		// Two pharmacists clear at once: one wins.
		var (
			wg   sync.WaitGroup
			errs [2]error
		)
		for i := range errs {
			wg.Go(func() {
				errs[i] = s.ClearQuarantine(ctx, x.ID, fmt.Sprintf("pharm.%d", i), atMin(40), alerts.DispositionWasted)
			})
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("concurrent ClearQuarantine: %v, %v; want exactly one to succeed", errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil {
				wantCode(t, "the losing ClearQuarantine", err, wardwatch.ECONFLICT)
			}
		}
		wantCode(t, "ClearQuarantine twice", s.ClearQuarantine(ctx, x.ID, "pharm.x", atMin(41), alerts.DispositionUsed), wardwatch.ECONFLICT)
		wantCode(t, "ClearQuarantine(missing)", s.ClearQuarantine(ctx, 999, "al", atMin(41), alerts.DispositionUsed), wardwatch.ENOTFOUND)
		wantCode(t, "ClearQuarantine(no user)", s.ClearQuarantine(ctx, freezer.ID, " ", atMin(41), alerts.DispositionUsed), wardwatch.EINVALID)
		wantCode(t, "ClearQuarantine(bad disposition)", s.ClearQuarantine(ctx, freezer.ID, "al", atMin(41), "sold"), wardwatch.EINVALID)

		got, _ = s.Excursion(ctx, x.ID)
		if got.Quarantined() || got.QuarantineClearedAt != atMin(40) || got.Troubleshooting.Disposition != alerts.DispositionWasted ||
			got.Troubleshooting.ReporterName != "Al Pharm" {
			t.Fatalf("after clearing: %+v", got)
		}
		// The clearance survives a later measurement and fixes the disposition.
		if err := s.SaveExcursions(ctx, []alerts.Excursion{m}); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Excursion(ctx, x.ID); got.QuarantineClearedAt != atMin(40) || got.Troubleshooting.Disposition != alerts.DispositionWasted {
			t.Fatalf("a measurement overwrote the clearance: %+v", got)
		}
		wantCode(t, "SaveTroubleshooting(other disposition after clearing)", s.SaveTroubleshooting(ctx, x.ID, tr), wardwatch.ECONFLICT)
		tr2 := tr
		tr2.Disposition, tr2.Prevention = "", "door alarm fitted"
		if err := s.SaveTroubleshooting(ctx, x.ID, tr2); err != nil {
			t.Fatalf("SaveTroubleshooting(keeping the disposition): %v", err)
		}
		if got, _ := s.Excursion(ctx, x.ID); got.Troubleshooting.Prevention != "door alarm fitted" || got.Troubleshooting.Disposition != alerts.DispositionWasted {
			t.Fatalf("after SaveTroubleshooting: %+v", got.Troubleshooting)
		}

		other := mustUnit(t, s, "Other")
		y := alerts.Excursion{UnitID: other.ID, SensorID: "other/t", Metric: wardwatch.MetricTemperature, Low: 2, High: 8,
			Start: atMin(100), Peak: 1, Trough: 1, Samples: 1}
		if err := s.SaveExcursions(ctx, []alerts.Excursion{y}); err != nil {
			t.Fatal(err)
		}
		list := func(q ExcursionQuery) []string {
			xs, err := s.Excursions(ctx, q)
			if err != nil {
				t.Fatalf("Excursions(%+v): %v", q, err)
			}
			var out []string
			for _, x := range xs {
				out = append(out, x.SensorID)
			}
			return out
		}
		for _, tc := range []struct {
			q    ExcursionQuery
			want []string
		}{
			{ExcursionQuery{}, []string{"other/t", "fridge-1/t", "freezer/t"}},
			{ExcursionQuery{UnitID: u.ID}, []string{"fridge-1/t", "freezer/t"}},
			{ExcursionQuery{From: atMin(-60), To: atMin(100)}, []string{"fridge-1/t", "freezer/t"}},
			{ExcursionQuery{From: atMin(-59)}, []string{"other/t", "fridge-1/t"}},
			{ExcursionQuery{Quarantined: true}, []string{"freezer/t"}},
			{ExcursionQuery{Limit: 1}, []string{"other/t"}},
		} {
			if got := list(tc.q); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Excursions(%+v) = %v, want %v", tc.q, got, tc.want)
			}
		}
		_, err = s.Excursions(ctx, ExcursionQuery{Limit: -1})
		wantCode(t, "Excursions(negative limit)", err, wardwatch.EINVALID)
		wantCode(t, "SaveExcursions(no start)", s.SaveExcursions(ctx, []alerts.Excursion{{SensorID: "a", Metric: wardwatch.MetricTemperature}}), wardwatch.EINVALID)
		wantCode(t, "SaveExcursions(no sensor)", s.SaveExcursions(ctx, []alerts.Excursion{{Metric: wardwatch.MetricTemperature, Start: atMin(1)}}), wardwatch.EINVALID)
	})

	t.Run("Reviews", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		a, b := mustUnit(t, s, "A"), mustUnit(t, s, "B")
		rs := []alerts.Review{
			{UnitID: a.ID, Day: "2026-03-02", By: "nurse.jo", At: atMin(60).In(cet), Action: "reset min/max"},
			{UnitID: b.ID, Day: "2026-03-01", By: "nurse.jo", At: atMin(61)},
			{UnitID: a.ID, Day: "2026-03-03", By: "pharm.al", At: atMin(24 * 60)},
		}
		for _, r := range rs {
			if err := s.SaveReview(ctx, r); err != nil {
				t.Fatalf("SaveReview(%+v): %v", r, err)
			}
		}
		again := rs[0]
		again.By = "someone.else"
		wantCode(t, "SaveReview twice", s.SaveReview(ctx, again), wardwatch.ECONFLICT)
		wantCode(t, "SaveReview(unknown unit)", s.SaveReview(ctx, alerts.Review{UnitID: 999, Day: "2026-03-02", By: "x", At: atMin(1)}), wardwatch.ENOTFOUND)
		for _, bad := range []alerts.Review{
			{UnitID: a.ID, Day: "2026-3-2", By: "x", At: atMin(1)},
			{UnitID: a.ID, Day: "2026-03-04", By: " ", At: atMin(1)},
			{UnitID: a.ID, Day: "2026-03-04", By: alerts.SystemUser, At: atMin(1)},
			{UnitID: a.ID, Day: "2026-03-04", By: "x"},
			{Day: "2026-03-04", By: "x", At: atMin(1)},
		} {
			wantCode(t, fmt.Sprintf("SaveReview(%+v)", bad), s.SaveReview(ctx, bad), wardwatch.EINVALID)
		}
		got, err := s.Reviews(ctx, 0, "", "")
		want := []alerts.Review{rs[1], rs[0], rs[2]}
		want[1].At = want[1].At.UTC()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("Reviews(all) = %+v, %v\nwant %+v", got, err, want)
		}
		got, err = s.Reviews(ctx, a.ID, "2026-03-01", "2026-03-02")
		if err != nil || len(got) != 1 || got[0].Day != "2026-03-02" {
			t.Fatalf("Reviews(A, 1–2 March) = %+v, %v", got, err)
		}
		_, err = s.Reviews(ctx, 0, "yesterday", "")
		wantCode(t, "Reviews(bad day)", err, wardwatch.EINVALID)
		// Sign-offs outlive their unit.
		if err := s.DeleteUnit(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Reviews(ctx, b.ID, "", ""); len(got) != 1 {
			t.Fatalf("a unit's sign-offs went with it: %+v", got)
		}
	})

	t.Run("UnitRulesWindowsContactsCascade", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		a, b := mustUnit(t, s, "A"), mustUnit(t, s, "B")
		rules, err := s.UnitRules(ctx)
		if err != nil || len(rules) != 0 {
			t.Fatalf("UnitRules(empty) = %v, %v", rules, err)
		}
		above := alerts.Rule{ID: "t_above", Name: "Above 8", Category: alerts.CategoryEnvironment, Priority: alerts.PriorityHigh,
			Metric: wardwatch.MetricTemperature, Condition: alerts.Above, Limit: 8, Delay: 10 * time.Minute, Deadband: 0.2}
		if err := s.SetUnitRules(ctx, a.ID, []alerts.Rule{fridgeRule, above}); err != nil {
			t.Fatalf("SetUnitRules: %v", err)
		}
		if err := s.SetUnitRules(ctx, b.ID, []alerts.Rule{}); err != nil {
			t.Fatalf("SetUnitRules(empty set): %v", err)
		}
		rules, err = s.UnitRules(ctx)
		if err != nil || !reflect.DeepEqual(rules, map[int64][]alerts.Rule{a.ID: {fridgeRule, above}, b.ID: {}}) {
			t.Fatalf("UnitRules = %+v, %v", rules, err)
		}
		if err := s.SetUnitRules(ctx, a.ID, []alerts.Rule{above}); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUnitRules(ctx, b.ID, nil); err != nil {
			t.Fatalf("SetUnitRules(nil): %v", err)
		}
		if err := s.SetUnitRules(ctx, b.ID, nil); err != nil {
			t.Fatalf("SetUnitRules(nil) twice: %v", err)
		}
		rules, _ = s.UnitRules(ctx)
		if !reflect.DeepEqual(rules, map[int64][]alerts.Rule{a.ID: {above}}) {
			t.Fatalf("UnitRules after replace and delete = %+v", rules)
		}
		bad := above
		bad.Limit = math.NaN()
		wantCode(t, "SetUnitRules(NaN limit)", s.SetUnitRules(ctx, a.ID, []alerts.Rule{bad}), wardwatch.EINVALID)
		wantCode(t, "SetUnitRules(twice the same ID)", s.SetUnitRules(ctx, a.ID, []alerts.Rule{above, above}), wardwatch.EINVALID)
		wantCode(t, "SetUnitRules(unknown unit)", s.SetUnitRules(ctx, 999, []alerts.Rule{above}), wardwatch.ENOTFOUND)
		wantCode(t, "SetUnitRules(nil, unknown unit)", s.SetUnitRules(ctx, 999, nil), wardwatch.ENOTFOUND)

		// Windows.
		w := alerts.Window{UnitID: a.ID, Kind: alerts.SuppressDefrost, Start: atMin(0).In(cet), End: atMin(30), By: "fac.bo", Reason: "defrost"}
		id, err := s.SaveAlertWindow(ctx, w)
		if err != nil || id == 0 {
			t.Fatalf("SaveAlertWindow = %d, %v", id, err)
		}
		w.ID, w.Start = id, w.Start.UTC()
		w2 := alerts.Window{UnitID: b.ID, Kind: alerts.SuppressOutOfService, Start: atMin(-600), End: atMin(-300), By: "fac.bo"}
		if w2.ID, err = s.SaveAlertWindow(ctx, w2); err != nil {
			t.Fatal(err)
		}
		ws, err := s.AlertWindows(ctx)
		if err != nil || !reflect.DeepEqual(ws, []alerts.Window{w2, w}) {
			t.Fatalf("AlertWindows = %+v, %v\nwant %+v", ws, err, []alerts.Window{w2, w})
		}
		w.Kind, w.End = alerts.SuppressMaintenance, atMin(45)
		if id, err := s.SaveAlertWindow(ctx, w); err != nil || id != w.ID {
			t.Fatalf("SaveAlertWindow(update) = %d, %v", id, err)
		}
		if ws, _ := s.AlertWindows(ctx); !reflect.DeepEqual(ws, []alerts.Window{w2, w}) {
			t.Fatalf("AlertWindows after update = %+v", ws)
		}
		for name, bw := range map[string]alerts.Window{
			"no unit":       {Kind: alerts.SuppressDefrost, Start: atMin(0), End: atMin(1), By: "x"},
			"design kind":   {UnitID: a.ID, Kind: alerts.SuppressDesign, Start: atMin(0), End: atMin(1), By: "x"},
			"ends first":    {UnitID: a.ID, Kind: alerts.SuppressDefrost, Start: atMin(1), End: atMin(1), By: "x"},
			"nobody set it": {UnitID: a.ID, Kind: alerts.SuppressDefrost, Start: atMin(0), End: atMin(1)},
			"no start":      {UnitID: a.ID, Kind: alerts.SuppressDefrost, End: atMin(1), By: "x"},
		} {
			_, err := s.SaveAlertWindow(ctx, bw)
			wantCode(t, "SaveAlertWindow("+name+")", err, wardwatch.EINVALID)
		}
		_, err = s.SaveAlertWindow(ctx, alerts.Window{UnitID: 999, Kind: alerts.SuppressDefrost, Start: atMin(0), End: atMin(1), By: "x"})
		wantCode(t, "SaveAlertWindow(unknown unit)", err, wardwatch.ENOTFOUND)
		_, err = s.SaveAlertWindow(ctx, alerts.Window{ID: 999, UnitID: a.ID, Kind: alerts.SuppressDefrost, Start: atMin(0), End: atMin(1), By: "x"})
		wantCode(t, "SaveAlertWindow(unknown window)", err, wardwatch.ENOTFOUND)
		if n, err := s.DeleteAlertWindowsBefore(ctx, atMin(-300)); err != nil || n != 0 {
			t.Fatalf("DeleteAlertWindowsBefore(its end) = %d, %v; want 0", n, err)
		}
		if n, err := s.DeleteAlertWindowsBefore(ctx, atMin(-299)); err != nil || n != 1 {
			t.Fatalf("DeleteAlertWindowsBefore = %d, %v; want 1", n, err)
		}
		wantCode(t, "DeleteAlertWindow(missing)", s.DeleteAlertWindow(ctx, w2.ID), wardwatch.ENOTFOUND)

		// Contacts.
		c := alerts.Contact{Name: "Pharmacy on call", Group: alerts.GroupOnCall, Team: alerts.TeamPharmacy, UnitID: a.ID,
			Email: "oncall@example.org", Enabled: true}
		if c.ID, err = s.SaveContact(ctx, c); err != nil || c.ID == 0 {
			t.Fatalf("SaveContact = %d, %v", c.ID, err)
		}
		all := alerts.Contact{Name: "Facilities desk", Group: alerts.GroupTeam, Team: alerts.TeamFacilities, Webhook: "pager"}
		if all.ID, err = s.SaveContact(ctx, all); err != nil {
			t.Fatal(err)
		}
		cs, err := s.Contacts(ctx)
		if err != nil || !reflect.DeepEqual(cs, []alerts.Contact{all, c}) {
			t.Fatalf("Contacts = %+v, %v", cs, err)
		}
		all.Enabled, all.Email = true, "desk@example.org"
		if id, err := s.SaveContact(ctx, all); err != nil || id != all.ID {
			t.Fatalf("SaveContact(update) = %d, %v", id, err)
		}
		_, err = s.SaveContact(ctx, alerts.Contact{Name: "x", Group: "boss", Team: alerts.TeamLab, Email: "a@b"})
		wantCode(t, "SaveContact(bad group)", err, wardwatch.EINVALID)
		_, err = s.SaveContact(ctx, alerts.Contact{Name: "x", Group: alerts.GroupTeam, Team: alerts.TeamLab, Email: "a@b", UnitID: 999})
		wantCode(t, "SaveContact(unknown unit)", err, wardwatch.ENOTFOUND)
		_, err = s.SaveContact(ctx, alerts.Contact{ID: 999, Name: "x", Group: alerts.GroupTeam, Team: alerts.TeamLab, Email: "a@b"})
		wantCode(t, "SaveContact(unknown contact)", err, wardwatch.ENOTFOUND)

		// Deleting a unit takes its rules, windows and contacts.
		if err := s.DeleteUnit(ctx, a.ID); err != nil {
			t.Fatalf("DeleteUnit: %v", err)
		}
		if rules, _ := s.UnitRules(ctx); len(rules) != 0 {
			t.Fatalf("rules outlived their unit: %+v", rules)
		}
		if ws, _ := s.AlertWindows(ctx); len(ws) != 0 {
			t.Fatalf("windows outlived their unit: %+v", ws)
		}
		if cs, _ := s.Contacts(ctx); !reflect.DeepEqual(cs, []alerts.Contact{all}) {
			t.Fatalf("contacts after deleting the unit = %+v", cs)
		}
		if err := s.DeleteContact(ctx, all.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "DeleteContact(missing)", s.DeleteContact(ctx, all.ID), wardwatch.ENOTFOUND)
	})

	t.Run("EscalationPolicies", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		ps, err := s.EscalationPolicies(ctx)
		if err != nil || ps != nil {
			t.Fatalf("EscalationPolicies(none) = %v, %v", ps, err)
		}
		want := append(alerts.DefaultPolicies(), alerts.Policy{UnitID: 7, Team: alerts.TeamLab, Priority: alerts.PriorityHigh,
			Reminder: 90 * time.Second, Tiers: []alerts.Tier{
				{After: 0, Targets: []alerts.Target{{Channel: alerts.ChannelWebhook, Address: "lab-pager"}}},
				{After: 7*time.Minute + 30*time.Second, Targets: []alerts.Target{{Channel: alerts.ChannelEmail, Group: alerts.GroupSupervisor}}},
			}})
		if err := s.SetEscalationPolicies(ctx, want); err != nil {
			t.Fatalf("SetEscalationPolicies: %v", err)
		}
		if ps, err = s.EscalationPolicies(ctx); err != nil || !reflect.DeepEqual(ps, want) {
			t.Fatalf("EscalationPolicies = %+v, %v\nwant %+v", ps, err, want)
		}
		dup := append(alerts.DefaultPolicies(), alerts.DefaultPolicies()[0])
		wantCode(t, "SetEscalationPolicies(duplicate)", s.SetEscalationPolicies(ctx, dup), wardwatch.EINVALID)
		if ps, _ := s.EscalationPolicies(ctx); !reflect.DeepEqual(ps, want) {
			t.Fatal("an invalid set replaced the stored policies")
		}
		if err := s.SetEscalationPolicies(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if ps, err := s.EscalationPolicies(ctx); err != nil || ps != nil {
			t.Fatalf("EscalationPolicies after deleting = %v, %v", ps, err)
		}
	})

	t.Run("PARLevels", func(t *testing.T) {
		ctx := t.Context()
		s := migrated(t)
		f := mustFloor(t, s)
		poly := []wardwatch.Point{{X: 0, Y: 0}, {X: 5, Y: 0}, {X: 5, Y: 5}}
		clean := wardwatch.Zone{FloorID: f.ID, Name: "Clean", Kind: wardwatch.ZoneCleanEquipment, Polygon: poly}
		soiled := wardwatch.Zone{FloorID: f.ID, Name: "Soiled", Kind: wardwatch.ZoneSoiledUtility, Polygon: poly}
		for _, z := range []*wardwatch.Zone{&clean, &soiled} {
			if err := s.CreateZone(ctx, z); err != nil {
				t.Fatal(err)
			}
		}
		four := 4
		pumps := alerts.PARLevel{ID: "4b-pumps", Name: "4B infusion pumps", Kind: wardwatch.AssetInfusionPump,
			CleanZones: []int64{clean.ID}, SoiledZones: []int64{soiled.ID}, CleanMin: 6, SoiledMax: &four}
		beds := alerts.PARLevel{ID: "4b-beds", Kind: wardwatch.AssetBed, CleanZones: []int64{clean.ID}, CleanMin: 1}
		for _, p := range []alerts.PARLevel{pumps, beds} {
			if err := s.SavePARLevel(ctx, p); err != nil {
				t.Fatalf("SavePARLevel(%s): %v", p.ID, err)
			}
		}
		ps, err := s.PARLevels(ctx)
		if err != nil || !reflect.DeepEqual(ps, []alerts.PARLevel{beds, pumps}) {
			t.Fatalf("PARLevels = %+v, %v", ps, err)
		}
		pumps.SoiledMax, pumps.SoiledZones, pumps.CleanMin = nil, nil, 8
		if err := s.SavePARLevel(ctx, pumps); err != nil {
			t.Fatal(err)
		}
		if ps, _ := s.PARLevels(ctx); !reflect.DeepEqual(ps, []alerts.PARLevel{beds, pumps}) {
			t.Fatalf("PARLevels after replace = %+v", ps)
		}
		neg := -1
		for name, p := range map[string]alerts.PARLevel{
			"bad ID":         {ID: "4B Pumps", Kind: wardwatch.AssetBed},
			"no ID":          {Kind: wardwatch.AssetBed},
			"bad kind":       {ID: "x", Kind: "toaster"},
			"negative":       {ID: "x", Kind: wardwatch.AssetBed, CleanZones: []int64{clean.ID}, CleanMin: -1},
			"negative max":   {ID: "x", Kind: wardwatch.AssetBed, SoiledZones: []int64{soiled.ID}, SoiledMax: &neg},
			"no clean zones": {ID: "x", Kind: wardwatch.AssetBed, CleanMin: 2},
			"no soiled zone": {ID: "x", Kind: wardwatch.AssetBed, SoiledMax: &four},
			"zone twice":     {ID: "x", Kind: wardwatch.AssetBed, CleanZones: []int64{clean.ID, clean.ID}, CleanMin: 1},
		} {
			wantCode(t, "SavePARLevel("+name+")", s.SavePARLevel(ctx, p), wardwatch.EINVALID)
		}
		wantCode(t, "SavePARLevel(unknown zone)", s.SavePARLevel(ctx, alerts.PARLevel{ID: "x", Kind: wardwatch.AssetBed,
			CleanZones: []int64{clean.ID, 999}, CleanMin: 1}), wardwatch.ENOTFOUND)
		if err := s.DeletePARLevel(ctx, beds.ID); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "DeletePARLevel(missing)", s.DeletePARLevel(ctx, beds.ID), wardwatch.ENOTFOUND)
		if ps, _ := s.PARLevels(ctx); !reflect.DeepEqual(ps, []alerts.PARLevel{pumps}) {
			t.Fatalf("PARLevels after delete = %+v", ps)
		}
		// The asset evaluator accepts what the store returns.
		if _, err := alerts.NewAssetEvaluator(alerts.AssetConfig{PAR: ps}, at0); err != nil {
			t.Fatalf("NewAssetEvaluator with the stored PAR levels: %v", err)
		}
	})
}
