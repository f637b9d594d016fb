package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Daily schedules: recurring defrost and maintenance windows of monitored
// units (unit_schedules). Start times are local times of day in the
// hospital's zone; the store keeps no zone (Location is nil on the way out).

// maxScheduleReason bounds a schedule's reason, as a window's.
const maxScheduleReason = maxNoteText

func scheduleNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Schedule %d not found.", id)
}

func validSchedule(s alerts.Schedule) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if strings.TrimSpace(s.By) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "A schedule needs the user who set it.")
	}
	if err := checkUserText("user name", s.By, 200); err != nil {
		return err
	}
	return checkUserText("reason", s.Reason, maxScheduleReason)
}

// UnitSchedules returns every stored daily schedule by unit and ID, with
// its start times ascending and Location nil.
func (s *Store) UnitSchedules(ctx context.Context) ([]alerts.Schedule, error) {
	rows, err := s.query(ctx, `SELECT id, unit_id, kind, times, duration, reason, set_by, created_at
		FROM unit_schedules ORDER BY unit_id, id`)
	if err != nil {
		return nil, fmt.Errorf("unit schedules: %w", err)
	}
	defer rows.Close()
	var out []alerts.Schedule
	for rows.Next() {
		var (
			sc      alerts.Schedule
			kind    string
			times   string
			dur     int64
			created int64
		)
		if err := rows.Scan(&sc.ID, &sc.UnitID, &kind, &times, &dur, &sc.Reason, &sc.By, &created); err != nil {
			return nil, fmt.Errorf("unit schedules: %w", err)
		}
		sc.Kind, sc.Duration, sc.Created = alerts.SuppressionKind(kind), time.Duration(dur), time.UnixMicro(created).UTC()
		if sc.Times, err = alerts.ParseTimesOfDay(times); err != nil {
			return nil, fmt.Errorf("schedule %d: stored start times %q: %w", sc.ID, times, err)
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unit schedules: %w", err)
	}
	return out, nil
}

// SaveUnitSchedule stores a daily schedule, inserting it when sc.ID is 0
// and replacing schedule sc.ID otherwise (keeping its creation time), and
// returns its ID. The schedule is checked as alerts.Schedule.Validate
// does, with the user who set it; start times are stored ascending. A new
// schedule's Created is stored as given, or now when zero. Errors:
// EINVALID, ENOTFOUND (no such unit or schedule), ECONFLICT (the unit has
// a schedule of that kind at those times already).
func (s *Store) SaveUnitSchedule(ctx context.Context, sc alerts.Schedule) (int64, error) {
	if err := validSchedule(sc); err != nil {
		return 0, err
	}
	ts := slices.Clone(sc.Times)
	slices.Sort(ts)
	times := alerts.FormatTimesOfDay(ts, ",")
	m := errMap{foreignKey: unitNotFound(sc.UnitID),
		unique: wardwatch.Errorf(wardwatch.ECONFLICT, "The unit has a %s schedule at %s already.", sc.Kind, alerts.FormatTimesOfDay(ts, ", "))}
	if sc.ID == 0 {
		created := sc.Created
		if created.IsZero() {
			created = time.Now()
		}
		var id int64
		err := s.queryRow(ctx, `INSERT INTO unit_schedules (unit_id, kind, times, duration, reason, set_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			sc.UnitID, string(sc.Kind), times, int64(sc.Duration), sc.Reason, sc.By, created.UnixMicro()).Scan(&id)
		if err != nil {
			return 0, mapErr(err, "save schedule", m)
		}
		return id, nil
	}
	err := s.execOne(ctx, scheduleNotFound(sc.ID), `UPDATE unit_schedules SET unit_id = ?, kind = ?, times = ?, duration = ?,
		reason = ?, set_by = ? WHERE id = ?`,
		sc.UnitID, string(sc.Kind), times, int64(sc.Duration), sc.Reason, sc.By, sc.ID)
	if err != nil {
		return 0, mapErr(err, "save schedule", m)
	}
	return sc.ID, nil
}

// DeleteUnitSchedule removes a daily schedule. Errors: ENOTFOUND.
func (s *Store) DeleteUnitSchedule(ctx context.Context, id int64) error {
	return s.execOne(ctx, scheduleNotFound(id), `DELETE FROM unit_schedules WHERE id = ?`, id)
}
