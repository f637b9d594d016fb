package web

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wardwatch/wardwatch"
)

// Care-unit scoping (issue 9). A user scoped to care units (User.Units)
// still reads the whole site: nurses hunt equipment across units. Scoping
// sets defaults (the user's units' floors first, alerts and records of
// their units) and limits acting on monitored units: acknowledging,
// shelving or resolving their alerts, signing off their daily logs,
// saving excursion records and clearing quarantines. Things that belong
// to no care unit (gateways, assets, the system, units not placed in a
// zone with a care unit) stay open to every scoped user. Admins are never
// limited; API tokens are not scoped.

// ZoneLister lists zones: every zone when floorID is 0.
type ZoneLister interface {
	Zones(ctx context.Context, floorID int64) ([]wardwatch.Zone, error)
}

// zoneCareUnits returns the care unit of every zone that has one, and the
// distinct care units, sorted.
func zoneCareUnits(ctx context.Context, zl ZoneLister) (map[int64]string, []string, error) {
	if zl == nil {
		return map[int64]string{}, nil, nil
	}
	zs, err := zl.Zones(ctx, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("zones for care units: %w", err)
	}
	byZone := make(map[int64]string, len(zs))
	var units []string
	for _, z := range zs {
		if z.CareUnit == "" {
			continue
		}
		byZone[z.ID] = z.CareUnit
		if !slices.Contains(units, z.CareUnit) {
			units = append(units, z.CareUnit)
		}
	}
	slices.Sort(units)
	return byZone, units, nil
}

// unitCareUnits maps monitored units to the care unit of their zone; units
// in no zone, or in a zone of no care unit, are left out.
func unitCareUnits(units []wardwatch.MonitoredUnit, zoneUnit map[int64]string) map[int64]string {
	out := make(map[int64]string, len(units))
	for _, u := range units {
		if c := zoneUnit[u.ZoneID]; c != "" {
			out[u.ID] = c
		}
	}
	return out
}

// scopeText is a user's care units as sentences name them: "4B", "4B and
// ICU", "4B, 5B and ICU".
func scopeText(units []string) string {
	switch len(units) {
	case 0:
		return "the whole site"
	case 1:
		return units[0]
	}
	return strings.Join(units[:len(units)-1], ", ") + " and " + units[len(units)-1]
}

// checkScope answers EFORBIDDEN when the viewer is scoped to care units
// and careUnit, the care unit of the thing they act on, is not one of
// them. what names the thing: "alert", "monitored unit", "excursion". A
// thing of no care unit ("") is open to everyone; admins, kiosks and API
// tokens are not limited (kiosks cannot act at all, which is checked
// elsewhere).
func checkScope(vw *viewer, what, careUnit string) error {
	if vw == nil || vw.APIToken != 0 || careUnit == "" || !vw.User.Scoped() || vw.User.InScope(careUnit) {
		return nil
	}
	return wardwatch.Errorf(wardwatch.EFORBIDDEN, "This %s belongs to %s; you are scoped to %s.", what, careUnit, scopeText(vw.User.Units))
}

// scopeUnits are the care units a viewer's lists default to: their units
// (admins' too, as a default only), none for kiosks and API tokens.
func scopeUnits(vw *viewer) []string {
	if vw == nil || vw.Kiosk || vw.APIToken != 0 {
		return nil
	}
	return vw.User.Units
}

// floorGroup is the floors of one building, in the store's order (level,
// then name); Label is what a heading says.
type floorGroup[T any] struct {
	Building string
	Label    string
	Floors   []T
}

// buildingLabel names a building in headings: "" is the site's default
// building.
func buildingLabel(b string) string {
	if b == "" {
		return "Main building"
	}
	return b
}

// sortFloors orders floors by building (the default building "" first),
// then level, then name, as the store lists them.
func sortFloors(fs []wardwatch.Floor) {
	slices.SortStableFunc(fs, func(a, b wardwatch.Floor) int {
		if c := strings.Compare(a.Building, b.Building); c != 0 {
			return c
		}
		if a.Level != b.Level {
			if a.Level < b.Level {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// groupByBuilding splits floors sorted by sortFloors into one group per
// building, mapping each floor with row.
func groupByBuilding[T any](fs []wardwatch.Floor, row func(wardwatch.Floor) T) []floorGroup[T] {
	var gs []floorGroup[T]
	for i, f := range fs {
		if i == 0 || f.Building != fs[i-1].Building {
			gs = append(gs, floorGroup[T]{Building: f.Building, Label: buildingLabel(f.Building)})
		}
		gs[len(gs)-1].Floors = append(gs[len(gs)-1].Floors, row(f))
	}
	return gs
}

// careUnitFloors returns the IDs of floors holding a zone of one of units.
func careUnitFloors(zs []wardwatch.Zone, units []string) map[int64]bool {
	out := map[int64]bool{}
	for _, z := range zs {
		if z.CareUnit != "" && slices.Contains(units, z.CareUnit) {
			out[z.FloorID] = true
		}
	}
	return out
}
