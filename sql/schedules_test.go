package sql

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
	"github.com/wardwatch/wardwatch/internal/pgtest"
)

func TestUnitSchedulesSQLite(t *testing.T) {
	testUnitSchedules(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "sqlite", filepath.Join(t.TempDir(), "wardwatch.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestUnitSchedulesPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	testUnitSchedules(t, func(t *testing.T) *Store {
		s, err := Open(t.Context(), "postgres", pgtest.FreshSchema(t, dsn))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

// testUnitSchedules is the daily schedule contract every engine meets:
// round trip, validation, uniqueness, cascade and migrating down and up.
func testUnitSchedules(t *testing.T, open func(t *testing.T) *Store) {
	ctx := t.Context()
	s := open(t)
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	a, b := mustUnit(t, s, "Fridge A"), mustUnit(t, s, "Fridge B")
	if got, err := s.UnitSchedules(ctx); err != nil || len(got) != 0 {
		t.Fatalf("UnitSchedules(empty) = %v, %v", got, err)
	}
	hm := func(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }
	created := time.Date(2026, 3, 2, 8, 0, 0, 123456000, time.UTC)
	defrost := alerts.Schedule{UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{hm(20, 0), hm(2, 0), hm(14, 0), hm(8, 0)},
		Duration: 45 * time.Minute, By: "fac.bo", Reason: "Frost-free cycle", Created: created}
	id, err := s.SaveUnitSchedule(ctx, defrost)
	if err != nil || id <= 0 {
		t.Fatalf("SaveUnitSchedule = %d, %v", id, err)
	}
	defrost.ID = id
	defrost.Times = []time.Duration{hm(2, 0), hm(8, 0), hm(14, 0), hm(20, 0)} // stored ascending
	nightly := alerts.Schedule{UnitID: b.ID, Kind: alerts.SuppressMaintenance, Times: []time.Duration{hm(23, 30)},
		Duration: 90 * time.Minute, By: "biomed", Created: created.Add(time.Hour)}
	if nightly.ID, err = s.SaveUnitSchedule(ctx, nightly); err != nil {
		t.Fatal(err)
	}
	got, err := s.UnitSchedules(ctx)
	if want := []alerts.Schedule{defrost, nightly}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("UnitSchedules = %+v, %v\nwant %+v", got, err, want)
	}

	// Update keeps the creation time.
	upd := defrost
	upd.Duration, upd.Reason, upd.Created = 30*time.Minute, "shorter cycle", time.Time{}
	if id, err := s.SaveUnitSchedule(ctx, upd); err != nil || id != defrost.ID {
		t.Fatalf("SaveUnitSchedule(update) = %d, %v", id, err)
	}
	upd.Created = created
	if got, _ := s.UnitSchedules(ctx); !reflect.DeepEqual(got[0], upd) {
		t.Fatalf("after update: %+v\nwant %+v", got[0], upd)
	}

	// A zero Created is now.
	before := time.Now().Add(-time.Second)
	third := alerts.Schedule{UnitID: b.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{hm(4, 0)}, Duration: time.Hour, By: "x"}
	if third.ID, err = s.SaveUnitSchedule(ctx, third); err != nil {
		t.Fatal(err)
	}
	got, _ = s.UnitSchedules(ctx)
	if len(got) != 3 || got[2].ID != third.ID || got[2].Created.Before(before) {
		t.Fatalf("third = %+v", got)
	}

	for name, bad := range map[string]alerts.Schedule{
		"no user":         {UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{hm(3, 0)}, Duration: time.Hour},
		"out of service":  {UnitID: a.ID, Kind: alerts.SuppressOutOfService, Times: []time.Duration{hm(3, 0)}, Duration: time.Hour, By: "x"},
		"overlap":         {UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{hm(3, 0), hm(4, 0)}, Duration: time.Hour, By: "x"},
		"no times":        {UnitID: a.ID, Kind: alerts.SuppressDefrost, Duration: time.Hour, By: "x"},
		"all day":         {UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{0}, Duration: 24 * time.Hour, By: "x"},
		"NUL in reason":   {UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{0}, Duration: time.Hour, By: "x", Reason: "a\x00b"},
		"reason too long": {UnitID: a.ID, Kind: alerts.SuppressDefrost, Times: []time.Duration{0}, Duration: time.Hour, By: "x", Reason: strings.Repeat("r", 4001)},
	} {
		_, err := s.SaveUnitSchedule(ctx, bad)
		wantCode(t, "SaveUnitSchedule("+name+")", err, wardwatch.EINVALID)
	}
	_, err = s.SaveUnitSchedule(ctx, alerts.Schedule{UnitID: 999, Kind: alerts.SuppressDefrost, Times: []time.Duration{0}, Duration: time.Hour, By: "x"})
	wantCode(t, "SaveUnitSchedule(unknown unit)", err, wardwatch.ENOTFOUND)
	dup := defrost
	dup.ID = 0
	_, err = s.SaveUnitSchedule(ctx, dup)
	wantCode(t, "SaveUnitSchedule(same times twice)", err, wardwatch.ECONFLICT)
	missing := nightly
	missing.ID = 99999
	_, err = s.SaveUnitSchedule(ctx, missing)
	wantCode(t, "SaveUnitSchedule(unknown ID)", err, wardwatch.ENOTFOUND)

	wantCode(t, "DeleteUnitSchedule(unknown)", s.DeleteUnitSchedule(ctx, 99999), wardwatch.ENOTFOUND)
	if err := s.DeleteUnitSchedule(ctx, third.ID); err != nil {
		t.Fatal(err)
	}
	// Deleting a unit deletes its schedules.
	if err := s.DeleteUnit(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.UnitSchedules(ctx); len(got) != 1 || got[0].ID != defrost.ID {
		t.Fatalf("after deleting unit B: %+v", got)
	}

	// Down and up again: the table goes and comes back empty.
	if _, err := s.migrator.DownTo(ctx, 14); err != nil {
		t.Fatalf("down to 14: %v", err)
	}
	if _, err := s.UnitSchedules(ctx); err == nil {
		t.Fatal("unit_schedules still there after migrating down")
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if got, err := s.UnitSchedules(ctx); err != nil || len(got) != 0 {
		t.Fatalf("after down and up: %v, %v", got, err)
	}
}
