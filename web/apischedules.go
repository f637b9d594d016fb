package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Daily schedules through the API, as on the unit's alert settings page:
// the handlers build the page's settingsScheduleForm and run its
// validation (settingsScheduleOf), then audit and call AlertsChanged.

// apiScheduleJSON is a daily schedule. Times are local times of day in
// TimeZone, the hospital's zone.
type apiScheduleJSON struct {
	ID       int64    `json:"id"`
	UnitID   int64    `json:"unit_id"`
	Kind     string   `json:"kind"`
	Times    []string `json:"times"`
	Duration string   `json:"duration"`
	TimeZone string   `json:"time_zone"`
	By       string   `json:"by"`
	Reason   string   `json:"reason"`
	Created  *string  `json:"created"`
}

func (s *apiServer) scheduleOut(sc alerts.Schedule) apiScheduleJSON {
	out := apiScheduleJSON{ID: sc.ID, UnitID: sc.UnitID, Kind: string(sc.Kind), Times: make([]string, len(sc.Times)),
		Duration: scheduleDuration(sc.Duration), TimeZone: s.cfg.Location.String(), By: sc.By, Reason: sc.Reason, Created: apiTime(sc.Created)}
	for i, t := range sc.Times {
		out.Times[i] = alerts.TimeOfDay(t)
	}
	return out
}

func (s *apiServer) handleSchedules() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "unit", "kind")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		unit, err := q.filterID("unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		kind := alerts.SuppressionKind(q.Filters["kind"])
		if kind != "" && !slices.Contains(settingsScheduleKinds, kind) {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "kind must be defrost or maintenance."))
			return
		}
		ss, err := s.cfg.AlertSettings.UnitSchedules(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("read daily schedules: %w", err))
			return
		}
		out := make([]apiScheduleJSON, 0, len(ss))
		for _, sc := range ss {
			if unit != 0 && sc.UnitID != unit || kind != "" && sc.Kind != kind {
				continue
			}
			out = append(out, s.scheduleOut(sc))
		}
		slices.SortFunc(out, func(a, b apiScheduleJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// apiScheduleTimes reads the times field: a JSON array of "HH:MM" texts,
// or one text with the times separated by commas, as the page's field.
func apiScheduleTimes(v string) (string, error) {
	if !strings.HasPrefix(v, "[") {
		return v, nil
	}
	var ts []string
	if err := json.Unmarshal([]byte(v), &ts); err != nil {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "times is a list of times of day such as [\"02:00\", \"14:00\"].")
	}
	for _, t := range ts {
		if strings.ContainsAny(t, ", ;\t\r\n") {
			return "", wardwatch.Errorf(wardwatch.EINVALID, "times is a list of times of day such as [\"02:00\", \"14:00\"].")
		}
	}
	return strings.Join(ts, ","), nil
}

func (s *apiServer) handleAddSchedule() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"unit_id", "kind", "times", "duration", "reason"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f := settingsScheduleForm{Kind: v["kind"], Duration: v["duration"], Reason: v["reason"]}
		if f.Times, err = apiScheduleTimes(v["times"]); err != nil {
			s.fail(w, r, err)
			return
		}
		id, ok := parseID(v["unit_id"])
		if !ok {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the schedule's unit_id."))
			return
		}
		units, err := s.settingsUnitIDs(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if !units[id] {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "There is no monitored unit %d.", id))
			return
		}
		sc, err := settingsScheduleOf(f, id, viewerFrom(ctx).User.Username, s.cfg.Now().UTC().Truncate(time.Microsecond))
		if err == nil {
			sc.ID, err = s.cfg.AlertSettings.SaveUnitSchedule(ctx, sc)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "unit_schedule", sc.ID, nil, sc, scheduleSummary(sc)+": "+sc.Reason)
		s.alertsChanged(ctx)
		s.created(w, r, s.scheduleOut(sc))
	})
}

func (s *apiServer) handleDeleteSchedule() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "schedule")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ss, err := s.cfg.AlertSettings.UnitSchedules(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read daily schedules: %w", err))
			return
		}
		i := slices.IndexFunc(ss, func(sc alerts.Schedule) bool { return sc.ID == id })
		if i < 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such schedule."))
			return
		}
		if err := s.cfg.AlertSettings.DeleteUnitSchedule(ctx, id); err != nil {
			s.fail(w, r, fmt.Errorf("delete schedule %d: %w", id, err))
			return
		}
		s.audit.record(ctx, "delete", "unit_schedule", id, ss[i], nil, scheduleSummary(ss[i]))
		s.alertsChanged(ctx)
		s.noContent(w)
	})
}
