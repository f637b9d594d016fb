package web

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Pump display thresholds (domain-requirements §5 proposals).
const (
	defaultPumpStaleAfter = 5 * time.Minute // no update for this long: shown stale
	pumpOfflineAfter      = 15 * time.Minute
	pumpLowBattery        = 20.0 // percent, when not on mains
)

// pumpRow is one pump on the fleet page.
type pumpRow struct {
	State      wardwatch.PumpState
	Asset      *wardwatch.Asset
	Where      string
	Age        string
	Stale      bool
	Offline    bool
	LowBattery bool
	OldLibrary bool
	Battery    string
	Rate       string
}

// pumpsView is the fleet page.
type pumpsView struct {
	Rows                                        []pumpRow
	Infusing, Idle, Alarming, Low, Offline, Old int
	Libraries                                   map[string]string // name → current version
}

// currentLibraries decides each drug library's current version: the one
// an admin approved, else the newest version any pump reports.
func currentLibraries(ps []wardwatch.PumpState, approved map[string]string) map[string]string {
	cur := make(map[string]string)
	for _, p := range ps {
		if p.DrugLibrary == "" {
			continue
		}
		if v, ok := approved[p.DrugLibrary]; ok {
			cur[p.DrugLibrary] = v
			continue
		}
		if compareVersions(p.DrugLibraryVersion, cur[p.DrugLibrary]) > 0 {
			cur[p.DrugLibrary] = p.DrugLibraryVersion
		}
	}
	return cur
}

// compareVersions orders dotted versions numerically where they are
// numbers ("2026.10" > "2026.4"), else as text.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y string
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		var xi, yi int
		_, ex := fmt.Sscanf(x, "%d", &xi)
		_, ey := fmt.Sscanf(y, "%d", &yi)
		if ex == nil && ey == nil && xi != yi {
			return cmp.Compare(xi, yi)
		}
		if c := strings.Compare(x, y); c != 0 && (ex != nil || ey != nil) {
			return c
		}
	}
	return 0
}

// pumpAssets maps serials and asset tags to assets.
func pumpAssets(as []wardwatch.Asset) map[string]*wardwatch.Asset {
	m := make(map[string]*wardwatch.Asset)
	for i := range as {
		a := &as[i]
		if a.AssetTag != "" {
			m[a.AssetTag] = a
		}
	}
	for i := range as { // serials win over asset tags
		a := &as[i]
		if a.Serial != "" {
			m[a.Serial] = a
		}
	}
	return m
}

// buildPumps makes the fleet view. Pure: states, assets, positions and
// now come in.
func buildPumps(ps []wardwatch.PumpState, assets []wardwatch.Asset, latest map[int64]wardwatch.Position, s site, approved map[string]string, now time.Time) pumpsView {
	v := pumpsView{Libraries: currentLibraries(ps, approved)}
	byKey := pumpAssets(assets)
	for _, p := range ps {
		r := pumpRow{State: p, Asset: byKey[p.Serial]}
		age := now.Sub(p.Time)
		r.Age = formatAge(age)
		r.Offline = age > pumpOfflineAfter
		r.Stale = age > defaultPumpStaleAfter
		r.LowBattery = !p.OnAC && !math.IsNaN(p.Battery) && p.Battery < pumpLowBattery
		cur := v.Libraries[p.DrugLibrary]
		r.OldLibrary = p.DrugLibrary != "" && cur != "" && p.DrugLibraryVersion != cur
		if !math.IsNaN(p.Battery) {
			r.Battery = fmt.Sprintf("%.0f%%", p.Battery)
		}
		if !math.IsNaN(p.Rate) && p.Status.InUse() {
			r.Rate = fmt.Sprintf("%.1f ml/h", p.Rate)
		}
		if r.Asset != nil {
			if pos, ok := latest[r.Asset.ID]; ok {
				r.Where = s.floors[pos.FloorID].Name
				if z := s.zones[pos.ZoneID].Name; z != "" {
					r.Where = z + " · " + r.Where
				}
			}
		}
		switch {
		case r.Offline:
			v.Offline++
		case p.Status == wardwatch.PumpAlarming || len(p.Alarms) > 0:
			v.Alarming++
		case p.Status.InUse():
			v.Infusing++
		default:
			v.Idle++
		}
		if r.LowBattery {
			v.Low++
		}
		if r.OldLibrary {
			v.Old++
		}
		v.Rows = append(v.Rows, r)
	}
	// Problems first: offline, alarming, low battery, old library; then by serial.
	weight := func(r pumpRow) int {
		switch {
		case r.Offline:
			return 0
		case len(r.State.Alarms) > 0 || r.State.Status == wardwatch.PumpAlarming:
			return 1
		case r.LowBattery:
			return 2
		case r.OldLibrary:
			return 3
		}
		return 4
	}
	slices.SortStableFunc(v.Rows, func(a, b pumpRow) int {
		return cmp.Or(cmp.Compare(weight(a), weight(b)), strings.Compare(a.State.Serial, b.State.Serial))
	})
	return v
}

// pumpStateText is a pump's state in a few words, for map tooltips and
// the asset page.
func pumpStateText(p wardwatch.PumpState) string {
	parts := []string{strings.ToUpper(string(p.Status[:1])) + string(p.Status[1:])}
	if !math.IsNaN(p.Rate) && p.Status.InUse() {
		parts = append(parts, fmt.Sprintf("%.1f ml/h", p.Rate))
	}
	if !math.IsNaN(p.Battery) {
		b := fmt.Sprintf("battery %.0f%%", p.Battery)
		if p.OnAC {
			b += " (on mains)"
		}
		parts = append(parts, b)
	}
	if n := len(p.Alarms); n > 0 {
		parts = append(parts, fmt.Sprintf("%d alarm(s)", n))
	}
	return strings.Join(parts, " · ")
}

// handlePumps shows the pump fleet: state, battery, alarms, location,
// software currency, offline pumps.
func handlePumps(logger *slog.Logger, store Store, live Live, pumps func() []wardwatch.PumpState, approved map[string]string, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		s, err := loadSite(ctx, store)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		assets, err := store.Assets(ctx)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("list assets: %w", err))
			return
		}
		var states []wardwatch.PumpState
		if pumps != nil {
			states = pumps()
		}
		v := buildPumps(states, assets, latestPositions(live, s.floors), s, approved, now())
		p := newPageMeta(r, "Infusion pumps")
		p.Nav = "pumps"
		render(w, r, logger, http.StatusOK, pumpsPage(p, v))
	})
}
