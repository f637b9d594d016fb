package web

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Compliance records through the API: the excursion record's
// troubleshooting fields and clearing a quarantine, with the page's
// parsing (parseTroubleshooting, Excursion.ClearQuarantine), scope rules
// (records.checkScope) and audit lines.

// tsAPIFields are the troubleshooting fields the API takes: the form's.
var tsAPIFields = []string{tsDiscoveredAt, tsReporterName, tsReporterRole, tsUnitTemp, tsMinTemp, tsMaxTemp, tsRoomTemp,
	tsDescription, tsProduct, tsOther, tsPrior, tsContacted, tsReportNumber, tsReturnedAt, tsActions, tsPrevention, tsDisposition}

// apiLocalTime turns an RFC 3339 field of v into the page's
// datetime-local text in loc, so parseTroubleshooting reads it as the page
// does (to the minute).
func apiLocalTime(v map[string]string, name string, loc *time.Location) error {
	s := v[name]
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return wardwatch.Errorf(wardwatch.EINVALID, "%s must be an RFC 3339 time such as 2026-03-01T08:00:00Z.", name)
	}
	v[name] = t.In(loc).Format(datetimeLocal)
	return nil
}

type apiTroubleshootingJSON struct {
	DiscoveredAt      *string  `json:"discovered_at"`
	ReporterName      string   `json:"reporter_name"`
	ReporterTitle     string   `json:"reporter_title"`
	UnitTemp          *float64 `json:"unit_temp"`
	MinTemp           *float64 `json:"min_temp"`
	MaxTemp           *float64 `json:"max_temp"`
	RoomTemp          *float64 `json:"room_temp"`
	Description       string   `json:"description"`
	AffectedProduct   string   `json:"affected_product"`
	OtherContents     string   `json:"other_contents"`
	PriorIssues       string   `json:"prior_issues"`
	Contacted         string   `json:"contacted"`
	ReportNumber      string   `json:"report_number"`
	ReturnedToStorage *string  `json:"returned_at"`
	Actions           string   `json:"actions"`
	Prevention        string   `json:"prevention"`
	Disposition       string   `json:"disposition"`
}

func troubleshootingOut(t alerts.Troubleshooting) apiTroubleshootingJSON {
	return apiTroubleshootingJSON{DiscoveredAt: apiTime(t.DiscoveredAt), ReporterName: t.ReporterName, ReporterTitle: t.ReporterTitle,
		UnitTemp: apiFloat(t.UnitTempDiscovered), MinTemp: apiFloat(t.MinDiscovered), MaxTemp: apiFloat(t.MaxDiscovered),
		RoomTemp: apiFloat(t.RoomTemp), Description: t.Description, AffectedProduct: t.AffectedProduct, OtherContents: t.OtherContents,
		PriorIssues: t.PriorIssues, Contacted: t.Contacted, ReportNumber: t.ReportNumber, ReturnedToStorage: apiTime(t.ReturnedToStorage),
		Actions: t.Actions, Prevention: t.Prevention, Disposition: string(t.Disposition)}
}

// loadExcursion reads the path's excursion and checks the token's scope.
func (s *apiServer) loadExcursion(r *http.Request, rc *records) (alerts.Excursion, error) {
	x, err := rc.loadExcursion(r)
	if err != nil {
		return x, err
	}
	ctx := r.Context()
	return x, rc.checkScope(ctx, viewerFrom(ctx), x.UnitID, "excursion")
}

// handleSaveTroubleshooting replaces the excursion record's
// troubleshooting fields (every field, as the page's form posts them);
// a quarantined excursion's disposition is set by clearing it.
func (s *apiServer) handleSaveTroubleshooting(rc *records) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		x, err := s.loadExcursion(r, rc)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, tsAPIFields, nil, tsLongFields...)
		if err == nil {
			err = apiLocalTime(v, tsDiscoveredAt, rc.loc)
		}
		if err == nil {
			err = apiLocalTime(v, tsReturnedAt, rc.loc)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if x.Quarantine && v[tsDisposition] != "" {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "The product of a quarantined unit gets its disposition when the quarantine is cleared: POST …/clear."))
			return
		}
		t, err := parseTroubleshooting(v, rc.loc, rc.now(), !x.Quarantine)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if x.Quarantine {
			t.Disposition = x.Troubleshooting.Disposition
		}
		if err := rc.store.SaveTroubleshooting(ctx, x.ID, t); err != nil {
			s.fail(w, r, fmt.Errorf("save troubleshooting of excursion %d: %w", x.ID, err))
			return
		}
		rc.audit.record(ctx, "update", "excursion", x.ID, x.Troubleshooting, t, "troubleshooting record")
		s.ok(w, r, troubleshootingOut(t))
	})
}

// handleClearQuarantine lifts an excursion's DO NOT USE flag with the
// product's disposition: pharmacists and admins only, as on the page.
func (s *apiServer) handleClearQuarantine(rc *records) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		vw := viewerFrom(ctx)
		roles := []string{string(vw.User.Role)}
		if !alerts.CanClearQuarantine(roles) {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EFORBIDDEN, "Only a pharmacist or an admin may clear a quarantine."))
			return
		}
		x, err := s.loadExcursion(r, rc)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v, err := apiForm(w, r, []string{tsDisposition}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d := alerts.Disposition(v[tsDisposition])
		now := rc.now()
		if err := x.ClearQuarantine(vw.User.Username, roles, d, now); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := rc.store.ClearQuarantine(ctx, x.ID, vw.User.Username, now, d); err != nil {
			s.fail(w, r, fmt.Errorf("clear quarantine of excursion %d: %w", x.ID, err))
			return
		}
		rc.audit.record(ctx, "clear_quarantine", "excursion", x.ID,
			map[string]any{"quarantined": true},
			map[string]any{"quarantined": false, "disposition": d, "cleared_by": vw.User.Username}, "")
		stored, err := rc.store.Excursion(ctx, x.ID)
		if err != nil {
			stored = x
		}
		s.ok(w, r, excursionOut(stored))
	})
}
