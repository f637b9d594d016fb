package web

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// envValue is one metric of a monitored unit as the dashboard shows it.
type envValue struct {
	Metric  wardwatch.Metric
	Value   string
	Range   string // "2–8 °C", or "" when the profile sets none
	InRange bool
	Known   bool // a range applies
	Age     string
	Stale   bool // no reading for longer than envStaleAfter
}

// envUnit is one monitored unit on the dashboard.
type envUnit struct {
	Unit    wardwatch.MonitoredUnit
	Label   string // the profile's name
	Room    string
	Values  []envValue
	Problem bool // a value out of range, or stale
	Devices int
	// Quarantine lists the unit's excursions with an uncleared "DO NOT
	// USE" quarantine (the compliance records).
	Quarantine []alerts.Excursion
}

// envStaleAfter is when a unit's value is shown as stale: two missed polls
// of the slowest usual device (domain-requirements §1: sensor silent).
const envStaleAfter = 30 * time.Minute

// metricOrder orders a unit's values on the dashboard.
var metricOrder = []wardwatch.Metric{wardwatch.MetricTemperature, wardwatch.MetricPressure, wardwatch.MetricHumidity,
	wardwatch.MetricDoorOpen, wardwatch.MetricAlarm, wardwatch.MetricAirChanges}

// formatValue prints a metric's value with its unit ("4.8 °C", "open").
func formatValue(m wardwatch.Metric, v float64) string {
	switch m {
	case wardwatch.MetricDoorOpen:
		if v != 0 {
			return "open"
		}
		return "closed"
	case wardwatch.MetricAlarm:
		if v != 0 {
			return "alarm"
		}
		return "no alarm"
	}
	return strings.TrimSpace(fmt.Sprintf("%.1f %s", v, m.Unit()))
}

func rangeText(r alerts.Range) string {
	switch {
	case math.IsInf(r.Low, -1) && !math.IsInf(r.High, 1):
		return fmt.Sprintf("≤ %g %s", r.High, r.Metric.Unit())
	case !math.IsInf(r.Low, -1) && math.IsInf(r.High, 1):
		return fmt.Sprintf("≥ %g %s", r.Low, r.Metric.Unit())
	}
	return fmt.Sprintf("%g to %g %s", r.Low, r.High, r.Metric.Unit())
}

// buildEnvironment assembles the dashboard: each unit with the latest
// reading of each metric of its devices' channels ("<device>/<field>"),
// judged against its profile's ranges. Pure: readings and now come in.
func buildEnvironment(units []wardwatch.MonitoredUnit, devices []wardwatch.ModbusDevice, latest []wardwatch.Reading, zones map[int64]string, now time.Time) []envUnit {
	deviceUnit := make(map[string]int64, len(devices))
	perUnit := make(map[int64]int)
	for _, d := range devices {
		if d.UnitID != 0 {
			deviceUnit[d.Name] = d.UnitID
			perUnit[d.UnitID]++
		}
	}
	newest := make(map[int64]map[wardwatch.Metric]wardwatch.Reading)
	for _, r := range latest {
		dev, _, ok := strings.Cut(r.SensorID, "/")
		if !ok {
			continue
		}
		u, ok := deviceUnit[dev]
		if !ok {
			continue
		}
		if newest[u] == nil {
			newest[u] = make(map[wardwatch.Metric]wardwatch.Reading)
		}
		if old, ok := newest[u][r.Metric]; !ok || r.Time.After(old.Time) {
			newest[u][r.Metric] = r
		}
	}
	labels := make(map[wardwatch.UnitProfile]string)
	for _, p := range wardwatch.UnitProfiles() {
		labels[p.Profile] = p.Label
	}
	out := make([]envUnit, 0, len(units))
	for _, u := range units {
		eu := envUnit{Unit: u, Label: labels[u.Profile], Room: zones[u.ZoneID], Devices: perUnit[u.ID]}
		ranges := map[wardwatch.Metric]alerts.Range{}
		if p, err := alerts.ProfileFor(u.Profile, alerts.ProfileOptions{}); err == nil {
			for _, r := range p.Ranges {
				ranges[r.Metric] = r
			}
		}
		for _, m := range metricOrder {
			r, ok := newest[u.ID][m]
			if !ok {
				continue
			}
			v := envValue{Metric: m, Value: formatValue(m, r.Value), Age: formatAge(now.Sub(r.Time)), Stale: now.Sub(r.Time) > envStaleAfter, InRange: true}
			if rg, ok := ranges[m]; ok {
				v.Known, v.Range = true, rangeText(rg)
				v.InRange = r.Value >= rg.Low && r.Value <= rg.High
			}
			if m == wardwatch.MetricDoorOpen || m == wardwatch.MetricAlarm {
				v.InRange = r.Value == 0
			}
			eu.Problem = eu.Problem || !v.InRange || v.Stale
			eu.Values = append(eu.Values, v)
		}
		if eu.Devices > 0 && len(eu.Values) == 0 {
			eu.Problem = true // bound to a device that has not reported
		}
		out = append(out, eu)
	}
	slices.SortStableFunc(out, func(a, b envUnit) int {
		pa, pb := 1, 1
		if a.Problem {
			pa = 0
		}
		if b.Problem {
			pb = 0
		}
		return cmp.Or(cmp.Compare(pa, pb), strings.Compare(a.Unit.Name, b.Unit.Name))
	})
	return out
}

// EnvironmentSource is what the dashboard reads: the units and devices
// from the config store.
type EnvironmentSource interface {
	Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error)
	ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error)
}

// handleEnvironment shows every monitored unit with its live values,
// ranges and status, problems first.
// quarantined, when set, reports the units showing "DO NOT USE"; those
// are listed first with a badge linking to the excursion.
func handleEnvironment(logger *slog.Logger, store Store, src EnvironmentSource, latest func() []wardwatch.Reading, quarantined func(ctx context.Context) (map[int64][]alerts.Excursion, error), now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		units, err := src.Units(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list units: %w", err))
			return
		}
		devices, err := src.ModbusDevices(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list devices: %w", err))
			return
		}
		_, zones, err := floorAndZoneNames(ctx, store)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		var rs []wardwatch.Reading
		if latest != nil {
			rs = latest()
		}
		eus := buildEnvironment(units, devices, rs, zones, now())
		quarantineUnknown := false
		if quarantined != nil {
			qs, err := quarantined(ctx)
			if err != nil {
				logger.LogAttrs(ctx, slog.LevelError, "read quarantines for environment page", slog.String("error", err.Error()))
				quarantineUnknown = true
			}
			for i := range eus {
				eus[i].Quarantine = qs[eus[i].Unit.ID]
			}
			slices.SortStableFunc(eus, func(a, b envUnit) int {
				return cmp.Compare(min(len(b.Quarantine), 1), min(len(a.Quarantine), 1))
			})
		}
		p := newPageMeta(r, "Environment")
		p.Nav = "environment"
		render(w, r, logger, http.StatusOK, environmentPage(p, eus, quarantineUnknown))
	})
}
