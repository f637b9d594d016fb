package provision

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Schedule is a daily recurring defrost or maintenance window of a unit,
// listed under the unit (`schedules`); its kind and start times are its key
// within the unit. Times are local times of day in the hospital's time zone
// (http.time_zone), "HH:MM".
type Schedule struct {
	Kind     string   `yaml:"kind"` // defrost or maintenance
	Times    []string `yaml:"times,flow"`
	Duration string   `yaml:"duration"`
	By       string   `yaml:"by,omitempty"` // "": provision
	Reason   string   `yaml:"reason,omitempty"`
}

func (s Schedule) key(unit string) string {
	return unit + "\x00" + s.Kind + "\x00" + strings.Join(s.Times, ",")
}

func (s Schedule) label(unit string) string {
	return fmt.Sprintf("%s %s at %s", unit, s.Kind, strings.Join(s.Times, ", "))
}

// parseSchedule reads a schedule of the file as the store keeps it
// (UnitID 1 stands for its unit), checked as alerts.Schedule.Validate.
func parseSchedule(s Schedule) (alerts.Schedule, error) {
	out := alerts.Schedule{UnitID: 1, Kind: alerts.SuppressionKind(s.Kind), By: s.By, Reason: s.Reason}
	if len(s.Times) > alerts.MaxScheduleTimes {
		return out, fmt.Errorf("at most %d times", alerts.MaxScheduleTimes)
	}
	for _, t := range s.Times {
		ts, err := alerts.ParseTimesOfDay(t)
		if err != nil || len(ts) != 1 {
			return out, fmt.Errorf("times: %q is not one time of day from 00:00 to 23:59", t)
		}
		out.Times = append(out.Times, ts[0])
	}
	slices.Sort(out.Times)
	d, err := time.ParseDuration(s.Duration)
	if err != nil {
		return out, fmt.Errorf("duration %q is not a duration like \"45m\"", s.Duration)
	}
	out.Duration = d
	if err := out.Validate(); err != nil {
		return out, fmt.Errorf("%s", wardwatch.ErrorMessage(err))
	}
	return out, nil
}

// validateSchedules checks and normalises the units' schedules: times in
// ascending "HH:MM", durations as Go durations, by defaulting to
// provision.
func (s *Site) validateSchedules(p *problems) {
	for i := range s.Units {
		u := &s.Units[i]
		seen := make(map[string]bool)
		for j := range u.Schedules {
			sc := &u.Schedules[j]
			if sc.By == "" {
				sc.By = AuditUser
			}
			switch {
			case !name(sc.By, 200) || !utf8.ValidString(sc.By):
				p.add("units", i, "unit %q, schedule %d: by is a user name of at most 200 characters", u.Name, j+1)
				continue
			case len(sc.Reason) > 4000 || !utf8.ValidString(sc.Reason) || strings.Contains(sc.Reason, "\x00"):
				p.add("units", i, "unit %q, schedule %d: the reason is at most 4000 characters of text", u.Name, j+1)
				continue
			}
			parsed, err := parseSchedule(*sc)
			if err != nil {
				p.add("units", i, "unit %q, schedule %d: %v", u.Name, j+1, err)
				continue
			}
			sc.Times = strings.Split(alerts.FormatTimesOfDay(parsed.Times, ","), ",")
			sc.Duration = fmtDuration(parsed.Duration)
			if k := sc.key(u.Name); seen[k] {
				p.add("units", i, "unit %q lists the schedule %s twice", u.Name, sc.label(u.Name))
			} else {
				seen[k] = true
			}
		}
	}
}

// loadSchedules reads the stored schedules into their units of s.
func (s *state) loadSchedules(ctx context.Context, st Store, unitName map[int64]string) error {
	ss, err := st.UnitSchedules(ctx)
	if err != nil {
		return fmt.Errorf("load daily schedules: %w", err)
	}
	for _, sc := range ss {
		name := unitName[sc.UnitID]
		i := slices.IndexFunc(s.site.Units, func(u Unit) bool { return u.Name == name })
		if i < 0 {
			continue
		}
		item := Schedule{Kind: string(sc.Kind), Times: strings.Split(alerts.FormatTimesOfDay(sc.Times, ","), ","),
			Duration: fmtDuration(sc.Duration), By: sc.By, Reason: sc.Reason}
		if _, ok := s.scheduleID[item.key(name)]; ok {
			return conflict("unit %q has two %s schedules at %s: delete one before provisioning", name, item.Kind, strings.Join(item.Times, ", "))
		}
		s.scheduleID[item.key(name)] = sc.ID
		s.site.Units[i].Schedules = append(s.site.Units[i].Schedules, item)
	}
	return nil
}

// schedules creates and updates the units' listed schedules; with -prune
// it deletes the stored ones the file does not list (the schedules of
// units it deletes go first).
func (p *planner) schedules() {
	cur := make(map[string]Schedule)
	for _, u := range p.cur.site.Units {
		for _, sc := range u.Schedules {
			cur[sc.key(u.Name)] = sc
		}
	}
	now := time.Now
	if p.opts.Now != nil {
		now = p.opts.Now
	}
	want := make(map[string]bool)
	for i, u := range p.want.Units {
		where := p.want.where("units", i)
		for _, sc := range u.Schedules {
			k := sc.key(u.Name)
			want[k] = true
			parsed, err := parseSchedule(sc)
			if err != nil {
				p.errs.add("units", i, "unit %q: %v", u.Name, err)
				continue
			}
			save := func(ctx context.Context) (string, error) {
				x := parsed
				x.ID, x.UnitID, x.Created = p.cur.scheduleID[k], p.cur.unit(u.Name), now()
				sid, err := p.st.SaveUnitSchedule(ctx, x)
				if err == nil {
					p.cur.scheduleID[k] = sid
				}
				return id(sid), err
			}
			old, ok := cur[k]
			switch {
			case !ok:
				p.upsert(Change{Action: "create", Subject: "unit_schedule", Key: sc.label(u.Name), Where: where, new: sc, run: save})
			case !reflect.DeepEqual(old, sc):
				p.upsert(Change{Action: "update", Subject: "unit_schedule", Key: sc.label(u.Name), Detail: diffFields(old, sc), Where: where,
					old: old, new: sc, run: save})
			}
		}
	}
	var dels []Change
	if p.opts.Prune {
		for _, u := range p.cur.site.Units {
			for _, sc := range u.Schedules {
				if k := sc.key(u.Name); !want[k] {
					sid := p.cur.scheduleID[k]
					dels = append(dels, Change{Action: "delete", Subject: "unit_schedule", Key: sc.label(u.Name), old: sc,
						run: func(ctx context.Context) (string, error) { return id(sid), p.st.DeleteUnitSchedule(ctx, sid) }})
				}
			}
		}
	}
	p.delete(dels)
}
