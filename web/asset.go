package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/wardwatch/wardwatch"
)

// History reads stored positions (the telemetry store).
type History interface {
	Positions(ctx context.Context, q wardwatch.PositionQuery) ([]wardwatch.Position, error)
}

// AssetStore is what the asset pages change.
type AssetStore interface {
	SetAssetStatus(ctx context.Context, id int64, s wardwatch.AssetStatus) error
}

// stay is a stretch of time an asset spent in one zone.
type stay struct {
	FloorID  int64
	ZoneID   int64
	Floor    string
	Room     string
	From, To time.Time
}

// stays merges a trail of positions (oldest first) into consecutive stays
// per floor and zone. Pure.
func stays(ps []wardwatch.Position, s site) []stay {
	var out []stay
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].ZoneID == p.ZoneID && out[n-1].FloorID == p.FloorID {
			out[n-1].To = p.Time
			continue
		}
		room := s.zones[p.ZoneID].Name
		if room == "" {
			room = "between rooms"
		}
		out = append(out, stay{FloorID: p.FloorID, ZoneID: p.ZoneID, Floor: s.floors[p.FloorID].Name, Room: room, From: p.Time, To: p.Time})
	}
	return out
}

// positionAt is the last position at or before t in a trail (oldest
// first), or false.
func positionAt(ps []wardwatch.Position, t time.Time) (wardwatch.Position, bool) {
	var found wardwatch.Position
	ok := false
	for _, p := range ps {
		if p.Time.After(t) {
			break
		}
		found, ok = p, true
	}
	return found, ok
}

// assetView is the asset detail page.
type assetView struct {
	Asset     wardwatch.Asset
	Found     bool // arrived from "find nearest"
	Current   searchHit
	MapURL    string
	PM        pmDue
	AtInput   string // the "where was it at" moment, as a datetime-local value
	AtText    string
	AtOK      bool
	AtRoom    string
	AtFloor   string
	Trail     []stay
	TZ        string
	Loc       *time.Location
	CanStatus bool
	Statuses  []wardwatch.AssetStatus
	Notice    string

	Pump        string // the linked pump's state in words; "" when none reports
	PumpAge     string
	PumpAlarms  []wardwatch.PumpAlarm
	PumpLibrary string
}

// pmDue is an asset's next preventive maintenance as users read it.
type pmDue struct {
	Text    string // "PM due 1 Dec 2026", "PM overdue since 1 Dec 2026"; "" when none is scheduled
	Date    string // the due date, "2026-12-01"
	Overdue bool
}

// pmStatus words an asset's PM due date (zero: not scheduled) at now, in
// loc: due through the due day, overdue from the day after. Pure.
func pmStatus(due, now time.Time, loc *time.Location) pmDue {
	if due.IsZero() {
		return pmDue{}
	}
	if loc == nil {
		loc = time.UTC
	}
	d, n := due.In(loc), now.In(loc)
	dueDay := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, time.UTC)
	pm := pmDue{Date: d.Format(time.DateOnly), Overdue: today.After(dueDay)}
	if pm.Overdue {
		pm.Text = "PM overdue since " + d.Format("2 Jan 2006")
	} else {
		pm.Text = "PM due " + d.Format("2 Jan 2006")
	}
	return pm
}

// trailWindow is how much history the asset page shows before the chosen
// moment.
const trailWindow = 12 * time.Hour

// datetimeLocal is the layout of an <input type="datetime-local"> value.
const datetimeLocal = "2006-01-02T15:04"

// handleAsset shows an asset: where it is now (with certainty and age),
// its status and maintenance, and where it was at a chosen moment with
// the trail before it.
func handleAsset(logger *slog.Logger, store Store, live Live, history History, pumps func() []wardwatch.PumpState, loc *time.Location, staleAfter time.Duration, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		a, err := store.Asset(ctx, id)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		s, err := loadSite(ctx, store)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		t := now()
		hits := rankAssets("", []wardwatch.Asset{a}, latestPositions(live, s.floors), s, place{}, false, staleAfter, missingAfterDefault, t)
		v := assetView{Asset: hits[0].Asset, Current: hits[0], Loc: loc, TZ: loc.String(),
			Found: r.URL.Query().Get("found") == "nearest", CanStatus: viewerFrom(ctx).can(permSetStatus),
			Statuses: []wardwatch.AssetStatus{wardwatch.StatusAvailable, wardwatch.StatusInUse, wardwatch.StatusSoiled, wardwatch.StatusInRepair}}
		if v.Current.Located {
			v.MapURL = floorPath(v.Current.Pos.FloorID) + "#asset-" + idText(a.ID)
		}
		v.PM = pmStatus(a.PMDue, t, loc)
		if pumps != nil && (a.Serial != "" || a.AssetTag != "") {
			for _, ps := range pumps() {
				if ps.Serial == a.Serial || (a.Serial == "" && ps.Serial == a.AssetTag) {
					v.Pump, v.PumpAge = pumpStateText(ps), formatAge(t.Sub(ps.Time))
					v.PumpAlarms = ps.Alarms
					v.PumpLibrary = ps.DrugLibrary + " " + ps.DrugLibraryVersion
				}
			}
		}
		if r.URL.Query().Get("done") == "status" {
			v.Notice = "Status changed to " + v.Asset.Status.Label() + "."
		}

		at := t
		if raw := r.URL.Query().Get("at"); raw != "" {
			parsed, perr := time.ParseInLocation(datetimeLocal, raw, loc)
			if perr != nil {
				renderError(w, r, logger, wardwatch.Errorf(wardwatch.EINVALID, "The time %q is not a date and time.", shortField(raw)))
				return
			}
			at = parsed
		}
		v.AtInput, v.AtText = at.In(loc).Format(datetimeLocal), at.In(loc).Format("Mon 2 Jan 15:04")
		if history != nil {
			ps, herr := history.Positions(ctx, wardwatch.PositionQuery{AssetID: a.ID, From: at.Add(-trailWindow), To: at.Add(time.Millisecond), Limit: 10000})
			if herr != nil {
				renderError(w, r, logger, fmt.Errorf("history of asset %d: %w", a.ID, herr))
				return
			}
			if p, ok := positionAt(ps, at); ok {
				v.AtOK, v.AtRoom, v.AtFloor = true, s.zones[p.ZoneID].Name, s.floors[p.FloorID].Name
			}
			v.Trail = stays(ps, s)
			slices.Reverse(v.Trail)
		}
		p := newPageMeta(r, a.Name)
		p.Nav = "search"
		render(w, r, logger, http.StatusOK, assetPage(p, v))
	})
}

// handleSetAssetStatus changes an asset's status (available, in use,
// soiled, in repair) and audits it.
func handleSetAssetStatus(logger *slog.Logger, store Store, assets AssetStore, audit auditor) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := pathID(r)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		v, err := formValues(w, r)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		old, err := store.Asset(ctx, id)
		if err != nil {
			renderError(w, r, logger, err)
			return
		}
		st := wardwatch.AssetStatus(v["status"])
		if err := assets.SetAssetStatus(ctx, id, st); err != nil {
			renderError(w, r, logger, err)
			return
		}
		audit.record(ctx, "status", "asset", id, map[string]string{"status": string(old.Status)}, map[string]string{"status": string(st)}, v["reason"])
		http.Redirect(w, r, assetPath(id)+"?done=status", http.StatusSeeOther)
	})
}
