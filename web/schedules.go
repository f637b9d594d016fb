package web

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Daily schedules: recurring defrost and maintenance windows of a unit,
// managed on the unit's alert settings page with the windows (same
// permission, same audit), listed on the settings index and the
// environment dashboard. Start times are local times of day in the
// hospital's zone (Config.Location).

// settingsScheduleKinds are the kinds a schedule may be.
var settingsScheduleKinds = []alerts.SuppressionKind{alerts.SuppressDefrost, alerts.SuppressMaintenance}

// settingsScheduleForm is the add-a-schedule form as the user typed it.
type settingsScheduleForm struct {
	Kind, Times, Duration, Reason string
}

// settingsScheduleRow is a daily schedule as the unit page lists it.
type settingsScheduleRow struct {
	Schedule alerts.Schedule
	Kind     string // "Defrost"
	Times    string // "02:00, 08:00, 14:00, 20:00"
	Duration string // "45m"
	Created  string
	Now      string // "Running until 02:45", or ""
}

// scheduleDuration prints a schedule's duration as the form reads it.
func scheduleDuration(d time.Duration) string { return settingsDurInput(d) }

// scheduleSummary is one schedule in words: "Defrost daily at 02:00,
// 14:00 for 45m".
func scheduleSummary(s alerts.Schedule) string {
	return fmt.Sprintf("%s daily at %s for %s", settingsWindowKind(s.Kind), alerts.FormatTimesOfDay(s.Times, ", "), scheduleDuration(s.Duration))
}

// scheduleSummaries summarises the schedules of unit unitID in store order.
func scheduleSummaries(ss []alerts.Schedule, unitID int64) []string {
	var out []string
	for _, s := range ss {
		if s.UnitID == unitID {
			out = append(out, scheduleSummary(s))
		}
	}
	return out
}

// scheduleRunsUntil is when the occurrence of schedule s running at now
// ends, "02:45" in loc; "" when none runs.
func scheduleRunsUntil(s alerts.Schedule, loc *time.Location, now time.Time) string {
	s.Location = loc
	if _, end, ok := s.ActiveAt(now); ok {
		return end.In(loc).Format("15:04")
	}
	return ""
}

// settingsScheduleOf reads the add-a-schedule form: the kind, the start
// times of day ("02:00, 14:00"), how long each window lasts ("45m") and
// the reason, checked as the store checks them (alerts.Schedule.Validate).
func settingsScheduleOf(f settingsScheduleForm, unitID int64, by string, now time.Time) (alerts.Schedule, error) {
	s := alerts.Schedule{UnitID: unitID, Kind: alerts.SuppressionKind(f.Kind), By: by, Reason: strings.TrimSpace(f.Reason), Created: now}
	if !slices.Contains(settingsScheduleKinds, s.Kind) {
		return s, wardwatch.Errorf(wardwatch.EINVALID, "Choose the kind of schedule: defrost or maintenance.")
	}
	var err error
	if s.Times, err = alerts.ParseTimesOfDay(f.Times); err != nil {
		return s, err
	}
	if s.Duration, err = settingsDuration(f.Duration, "Duration"); err != nil {
		return s, err
	}
	switch {
	case s.Duration == 0:
		return s, wardwatch.Errorf(wardwatch.EINVALID, "Give how long each window lasts, such as 45m.")
	case s.Reason == "":
		return s, wardwatch.Errorf(wardwatch.EINVALID, "Say why: the reason is shown on every alert the schedule suppresses.")
	case utf8.RuneCountInString(s.Reason) > maxWindowReason:
		return s, wardwatch.Errorf(wardwatch.EINVALID, "The reason is longer than %d characters.", maxWindowReason)
	}
	return s, s.Validate()
}

// addSchedules puts the unit's daily schedules and a fresh form in v.
func (a *alertAdmin) addSchedules(ctx context.Context, v *alertUnitView, now time.Time) error {
	ss, err := a.settings.UnitSchedules(ctx)
	if err != nil {
		return fmt.Errorf("read daily schedules: %w", err)
	}
	for _, s := range ss {
		if s.UnitID != v.Unit.ID {
			continue
		}
		row := settingsScheduleRow{Schedule: s, Kind: settingsWindowKind(s.Kind),
			Times: alerts.FormatTimesOfDay(s.Times, ", "), Duration: scheduleDuration(s.Duration),
			Created: s.Created.In(a.loc).Format("2 Jan 2006")}
		if until := scheduleRunsUntil(s, a.loc, now); until != "" {
			row.Now = "Running until " + until
		}
		v.Schedules = append(v.Schedules, row)
	}
	v.ScheduleForm = settingsScheduleForm{Kind: string(alerts.SuppressDefrost), Duration: "30m"}
	return nil
}

func (a *alertAdmin) handleAddSchedule() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vals, err := formValues(w, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		u, err := a.unit(ctx, r)
		if err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		f := settingsScheduleForm{Kind: vals["kind"], Times: vals["times"], Duration: vals["duration"], Reason: vals["reason"]}
		sc, err := settingsScheduleOf(f, u.ID, viewerFrom(ctx).User.Username, a.now())
		if err == nil {
			sc.ID, err = a.settings.SaveUnitSchedule(ctx, sc)
		}
		if err != nil {
			if status := statusOf(err); status >= 400 && status < 500 {
				v, verr := a.unitView(ctx, u, nil)
				if verr != nil {
					renderError(w, r, a.logger, verr)
					return
				}
				logError(a.logger, r, status, err)
				v.ScheduleForm, v.ScheduleError = f, wardwatch.ErrorMessage(err)
				a.renderUnit(w, r, status, v)
				return
			}
			renderError(w, r, a.logger, fmt.Errorf("save schedule of unit %d: %w", u.ID, err))
			return
		}
		a.audit.record(ctx, "create", "unit_schedule", sc.ID, nil, sc, scheduleSummary(sc)+": "+sc.Reason)
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/units/"+idText(u.ID)+"?done=schedule#schedules", http.StatusSeeOther)
	})
}

func (a *alertAdmin) handleDeleteSchedule() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if err := parseAdminForm(w, r); err != nil {
			renderError(w, r, a.logger, err)
			return
		}
		id, ok := parseID(r.PathValue("sid"))
		if !ok {
			renderError(w, r, a.logger, errPageNotFound)
			return
		}
		ss, err := a.settings.UnitSchedules(ctx)
		if err != nil {
			renderError(w, r, a.logger, fmt.Errorf("read daily schedules: %w", err))
			return
		}
		i := slices.IndexFunc(ss, func(s alerts.Schedule) bool { return s.ID == id })
		if i < 0 {
			renderError(w, r, a.logger, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no daily schedule %d.", id))
			return
		}
		if err := a.settings.DeleteUnitSchedule(ctx, id); err != nil {
			renderError(w, r, a.logger, fmt.Errorf("delete schedule %d: %w", id, err))
			return
		}
		a.audit.record(ctx, "delete", "unit_schedule", id, ss[i], nil, scheduleSummary(ss[i]))
		a.notify(ctx)
		http.Redirect(w, r, "/admin/alerts/units/"+idText(ss[i].UnitID)+"?done=schedule-deleted#schedules", http.StatusSeeOther)
	})
}
