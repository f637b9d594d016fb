package web

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Alert settings through the API: PAR levels, contacts, escalation
// policies and maintenance windows. Each handler builds the very form the
// page reads (parForm, contactForm, policyForm, settingsWindowForm) and runs
// the page's validation (parOf, contactOf, policiesOf, settingsWindowOf),
// then audits and calls AlertsChanged as the page does.

// settingsUnitIDs returns the IDs of the monitored units (none without a
// device store), as alertAdmin.unitIDs.
func (s *apiServer) settingsUnitIDs(ctx context.Context) (map[int64]bool, error) {
	ids := map[int64]bool{}
	if s.cfg.Devices == nil {
		return ids, nil
	}
	us, err := s.cfg.Devices.Units(ctx)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	for _, u := range us {
		ids[u.ID] = true
	}
	return ids, nil
}

// ---- PAR levels ----

type apiPARJSON struct {
	ID          string  `json:"id"`
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	CleanZones  []int64 `json:"clean_zone_ids"`
	SoiledZones []int64 `json:"soiled_zone_ids"`
	CleanMin    int     `json:"clean_min"`
	SoiledMax   *int    `json:"soiled_max"` // null: no maximum
}

func parOut(p alerts.PARLevel) apiPARJSON {
	out := apiPARJSON{ID: p.ID, Name: p.Name, Kind: string(p.Kind), CleanZones: p.CleanZones, SoiledZones: p.SoiledZones,
		CleanMin: p.CleanMin, SoiledMax: p.SoiledMax}
	if out.CleanZones == nil {
		out.CleanZones = []int64{}
	}
	if out.SoiledZones == nil {
		out.SoiledZones = []int64{}
	}
	return out
}

// apiPARBody is the body of PUT /api/v1/par-levels/{id}.
type apiPARBody struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	CleanZones  []int64 `json:"clean_zone_ids"`
	SoiledZones []int64 `json:"soiled_zone_ids"`
	CleanMin    *int    `json:"clean_min"`
	SoiledMax   *int    `json:"soiled_max"`
}

// maxPARID bounds a PAR level ID in a path.
const maxPARID = 64

func (s *apiServer) handlePARLevels() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "kind")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ls, err := s.cfg.AlertSettings.PARLevels(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("read PAR levels: %w", err))
			return
		}
		out := make([]apiPARJSON, 0, len(ls))
		for _, l := range ls {
			if k := q.Filters["kind"]; k != "" && string(l.Kind) != k {
				continue
			}
			out = append(out, parOut(l))
		}
		slices.SortFunc(out, func(a, b apiPARJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// handleSavePAR creates or replaces the PAR level of the path's ID (PUT is
// idempotent: no conflict when it exists, unlike the page's "add" form).
func (s *apiServer) handleSavePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		if id == "" || len(id) > maxPARID {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "A PAR level ID has 1 to %d characters.", maxPARID))
			return
		}
		var b apiPARBody
		if err := decodeBody(w, r, &b); err != nil {
			s.fail(w, r, err)
			return
		}
		f := parForm{ID: id, Name: strings.TrimSpace(b.Name), Kind: b.Kind, Editing: true}
		if b.CleanMin != nil {
			f.CleanMin = strconv.Itoa(*b.CleanMin)
		}
		if b.SoiledMax != nil {
			f.SoiledMax = strconv.Itoa(*b.SoiledMax)
		}
		var err error
		if f.Clean, err = settingsZoneIDs(idTexts(b.CleanZones)); err == nil {
			f.Soiled, err = settingsZoneIDs(idTexts(b.SoiledZones))
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		st, err := loadSite(ctx, s.cfg.Store)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		p, err := parOf(f, st.zones, s.cfg.Now())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if p.ID != id {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "PAR level IDs are lower-case; use %q.", p.ID))
			return
		}
		ls, err := s.cfg.AlertSettings.PARLevels(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read PAR levels: %w", err))
			return
		}
		var old any
		if i := slices.IndexFunc(ls, func(l alerts.PARLevel) bool { return l.ID == p.ID }); i >= 0 {
			old = ls[i]
		}
		if err := s.cfg.AlertSettings.SavePARLevel(ctx, p); err != nil {
			s.fail(w, r, fmt.Errorf("save PAR level: %w", err))
			return
		}
		if old == nil {
			s.audit.record(ctx, "create", "par_level", p.ID, nil, p, "")
			s.alertsChanged(ctx)
			s.created(w, r, parOut(p))
			return
		}
		s.audit.record(ctx, "update", "par_level", p.ID, old, p, "")
		s.alertsChanged(ctx)
		s.ok(w, r, parOut(p))
	})
}

func (s *apiServer) handleDeletePAR() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id := r.PathValue("id")
		ls, err := s.cfg.AlertSettings.PARLevels(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read PAR levels: %w", err))
			return
		}
		i := slices.IndexFunc(ls, func(l alerts.PARLevel) bool { return l.ID == id })
		if i < 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such PAR level."))
			return
		}
		if err := s.cfg.AlertSettings.DeletePARLevel(ctx, id); err != nil {
			s.fail(w, r, fmt.Errorf("delete PAR level %q: %w", id, err))
			return
		}
		s.audit.record(ctx, "delete", "par_level", id, ls[i], nil, "")
		s.alertsChanged(ctx)
		s.noContent(w)
	})
}

// idTexts is ids as the decimal texts a multi-select posts.
func idTexts(ids []int64) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = strconv.FormatInt(id, 10)
	}
	return out
}

// ---- contacts ----

type apiContactJSON struct {
	ID      int64  `json:"id"`
	Name    string `json:"name"`
	Group   string `json:"group"`
	Team    string `json:"team"`
	UnitID  int64  `json:"unit_id"` // 0: every unit of the team
	Email   string `json:"email"`
	Webhook string `json:"webhook"`
	Enabled bool   `json:"enabled"`
}

func contactOut(c alerts.Contact) apiContactJSON {
	return apiContactJSON{ID: c.ID, Name: c.Name, Group: c.Group, Team: string(c.Team), UnitID: c.UnitID,
		Email: c.Email, Webhook: c.Webhook, Enabled: c.Enabled}
}

var contactFields = []string{"name", "group", "team", "unit_id", "email", "webhook", "enabled"}

func (s *apiServer) handleContacts() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "team", "group")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		cs, err := s.cfg.AlertSettings.Contacts(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("read contacts: %w", err))
			return
		}
		out := make([]apiContactJSON, 0, len(cs))
		for _, c := range cs {
			if t := q.Filters["team"]; t != "" && string(c.Team) != t {
				continue
			}
			if g := q.Filters["group"]; g != "" && c.Group != g {
				continue
			}
			out = append(out, contactOut(c))
		}
		slices.SortFunc(out, func(a, b apiContactJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// findContact returns the stored contact id; ENOTFOUND when none.
func (s *apiServer) findContact(ctx context.Context, id int64) (alerts.Contact, error) {
	return findByID(ctx, "contact", s.cfg.AlertSettings.Contacts, func(c alerts.Contact) int64 { return c.ID }, id)
}

// handleSaveContact adds a contact (POST) or replaces one (PUT: every
// field as on the page's edit form; "enabled" absent or false disables).
func (s *apiServer) handleSaveContact() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, contactFields, map[string]string{"unit_id": "unit"})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f := contactForm{Name: v["name"], Group: v["group"], Team: v["team"], Unit: v["unit"],
			Email: v["email"], Hook: v["webhook"], Enabled: v["enabled"] != ""}
		if f.Unit == "0" {
			f.Unit = ""
		}
		var old any
		if r.PathValue("id") != "" {
			if f.ID, err = apiPathID(r, "id", "contact"); err != nil {
				s.fail(w, r, err)
				return
			}
			prev, err := s.findContact(ctx, f.ID)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			old = prev
		}
		units, err := s.settingsUnitIDs(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		c, err := contactOf(f, units)
		if err == nil {
			c.ID, err = s.cfg.AlertSettings.SaveContact(ctx, c)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if old == nil {
			s.audit.record(ctx, "create", "alert_contact", c.ID, nil, c, "")
			s.alertsChanged(ctx)
			s.created(w, r, contactOut(c))
			return
		}
		s.audit.record(ctx, "update", "alert_contact", c.ID, old, c, "")
		s.alertsChanged(ctx)
		s.ok(w, r, contactOut(c))
	})
}

func (s *apiServer) handleDeleteContact() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "contact")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.findContact(ctx, id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if err := s.cfg.AlertSettings.DeleteContact(ctx, id); err != nil {
			s.fail(w, r, fmt.Errorf("delete contact %d: %w", id, err))
			return
		}
		s.audit.record(ctx, "delete", "alert_contact", id, old, nil, "")
		s.alertsChanged(ctx)
		s.noContent(w)
	})
}

// ---- escalation policies ----

type apiTargetJSON struct {
	Channel string `json:"channel"`
	Group   string `json:"group,omitempty"`   // team, supervisor or on_call: the contacts of that group
	Address string `json:"address,omitempty"` // or a fixed address
}

type apiTierJSON struct {
	After   string          `json:"after"` // a duration such as "10m"
	Targets []apiTargetJSON `json:"targets"`
}

type apiPolicyJSON struct {
	Priority string        `json:"priority"`
	UnitID   int64         `json:"unit_id,omitempty"` // 0 or absent: any unit
	Team     string        `json:"team,omitempty"`    // "" or absent: any team
	Reminder string        `json:"reminder,omitempty"`
	Tiers    []apiTierJSON `json:"tiers"`
}

type apiPoliciesJSON struct {
	// Defaults is true when no policies are stored and the built-in
	// defaults apply (GET only).
	Defaults bool            `json:"defaults,omitempty"`
	Policies []apiPolicyJSON `json:"policies"`
}

func policiesOut(ps alerts.Policies) []apiPolicyJSON {
	out := make([]apiPolicyJSON, 0, len(ps))
	for _, p := range ps {
		pj := apiPolicyJSON{Priority: string(p.Priority), UnitID: p.UnitID, Team: string(p.Team), Tiers: []apiTierJSON{}}
		if p.Reminder != 0 {
			pj.Reminder = settingsDurInput(p.Reminder)
		}
		for _, t := range p.Tiers {
			tj := apiTierJSON{After: settingsDurInput(t.After), Targets: []apiTargetJSON{}}
			for _, tg := range t.Targets {
				tj.Targets = append(tj.Targets, apiTargetJSON{Channel: string(tg.Channel), Group: tg.Group, Address: tg.Address})
			}
			pj.Tiers = append(pj.Tiers, tj)
		}
		out = append(out, pj)
	}
	return out
}

// policyFormsOf turns the JSON policies into the escalation editor's forms,
// so policiesOf validates them exactly as the page does.
func policyFormsOf(ps []apiPolicyJSON) ([]policyForm, error) {
	if len(ps) > maxPolicyFormRows {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Give at most %d policies.", maxPolicyFormRows)
	}
	forms := make([]policyForm, 0, len(ps))
	for i, p := range ps {
		if p.Priority == "" {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d: give its priority.", i+1)
		}
		if len(p.Tiers) > maxTierFormRows {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d: give at most %d tiers.", i+1, maxTierFormRows)
		}
		pf := policyForm{Priority: p.Priority, Team: p.Team, Reminder: p.Reminder}
		if p.UnitID != 0 {
			pf.Unit = strconv.FormatInt(p.UnitID, 10)
		}
		for j, t := range p.Tiers {
			tf := tierForm{After: t.After, Ticked: map[string]bool{}}
			if tf.After == "" {
				tf.After = "0"
			}
			var fixed []string
			for _, tg := range t.Targets {
				c := alerts.Channel(tg.Channel)
				switch {
				case !slices.Contains(settingsChannels, c):
					return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d, tier %d: unknown channel %q.", i+1, j+1, settingsClip(tg.Channel, 40))
				case tg.Group != "" && tg.Address != "":
					return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d, tier %d: a target has a group or an address, not both.", i+1, j+1)
				case tg.Group != "":
					if !slices.Contains(settingsGroups, tg.Group) {
						return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d, tier %d: unknown group %q.", i+1, j+1, settingsClip(tg.Group, 40))
					}
					tf.Ticked[targetKey(c, tg.Group)] = true
				case tg.Address != "":
					if strings.ContainsAny(tg.Address, ",") {
						return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d, tier %d: an address cannot contain a comma.", i+1, j+1)
					}
					fixed = append(fixed, tg.Channel+":"+tg.Address)
				default:
					return nil, wardwatch.Errorf(wardwatch.EINVALID, "Policy %d, tier %d: give each target a group or an address.", i+1, j+1)
				}
			}
			tf.Fixed = strings.Join(fixed, ", ")
			pf.Tiers = append(pf.Tiers, tf)
		}
		forms = append(forms, pf)
	}
	return forms, nil
}

func (s *apiServer) handleEscalation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps, err := s.cfg.AlertSettings.EscalationPolicies(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("read escalation policies: %w", err))
			return
		}
		out := apiPoliciesJSON{}
		if ps == nil {
			ps, out.Defaults = alerts.DefaultPolicies(), true
		}
		out.Policies = policiesOut(ps)
		s.ok(w, r, out)
	})
}

// handleSaveEscalation replaces every escalation policy with the body's.
func (s *apiServer) handleSaveEscalation() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		var body struct {
			Policies []apiPolicyJSON `json:"policies"`
		}
		if err := decodeBody(w, r, &body); err != nil {
			s.fail(w, r, err)
			return
		}
		forms, err := policyFormsOf(body.Policies)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		units, err := s.settingsUnitIDs(ctx)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ps, err := policiesOf(forms, units)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		old, err := s.cfg.AlertSettings.EscalationPolicies(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read escalation policies: %w", err))
			return
		}
		if err := s.cfg.AlertSettings.SetEscalationPolicies(ctx, ps); err != nil {
			s.fail(w, r, fmt.Errorf("save escalation policies: %w", err))
			return
		}
		s.audit.record(ctx, "update", "escalation_policies", "all", old, ps, fmt.Sprintf("%d policies", len(ps)))
		s.alertsChanged(ctx)
		s.ok(w, r, apiPoliciesJSON{Policies: policiesOut(ps)})
	})
}

// ---- maintenance windows ----

type apiWindowJSON struct {
	ID     int64   `json:"id"`
	UnitID int64   `json:"unit_id"`
	Kind   string  `json:"kind"`
	Start  *string `json:"start"`
	End    *string `json:"end"`
	By     string  `json:"by"`
	Reason string  `json:"reason"`
}

func windowOut(w alerts.Window) apiWindowJSON {
	return apiWindowJSON{ID: w.ID, UnitID: w.UnitID, Kind: string(w.Kind), Start: apiTime(w.Start), End: apiTime(w.End), By: w.By, Reason: w.Reason}
}

func (s *apiServer) handleWindows() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q, err := parseListQuery(r.URL.RawQuery, "unit", "active")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		unit, err := q.filterID("unit")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		active := false
		switch q.Filters["active"] {
		case "", "false":
		case "true":
			active = true
		default:
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "active must be true or false."))
			return
		}
		ws, err := s.cfg.AlertSettings.AlertWindows(r.Context())
		if err != nil {
			s.fail(w, r, fmt.Errorf("read alert windows: %w", err))
			return
		}
		now := s.cfg.Now()
		out := make([]apiWindowJSON, 0, len(ws))
		for _, win := range ws {
			if unit != 0 && win.UnitID != unit {
				continue
			}
			if active && !win.End.After(now) {
				continue
			}
			out = append(out, windowOut(win))
		}
		slices.SortFunc(out, func(a, b apiWindowJSON) int { return cmp.Compare(a.ID, b.ID) })
		listOf(s, w, r, q, out)
	})
}

// apiWindowTime reads an RFC 3339 window bound as the page's
// datetime-local text in UTC; windows are set to the minute, as on the
// page.
func apiWindowTime(s, name string) (string, error) {
	if s == "" {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "Give the window's %s as an RFC 3339 time such as 2026-03-01T08:00:00Z.", name)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The %s must be an RFC 3339 time such as 2026-03-01T08:00:00Z.", name)
	}
	if t.Second() != 0 || t.Nanosecond() != 0 {
		return "", wardwatch.Errorf(wardwatch.EINVALID, "The %s must be a whole minute (windows are set to the minute).", name)
	}
	return t.UTC().Format(datetimeLocal), nil
}

func (s *apiServer) handleAddWindow() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		v, err := apiForm(w, r, []string{"unit_id", "kind", "start", "end", "reason"}, nil)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		f := settingsWindowForm{Kind: v["kind"], Reason: v["reason"]}
		if f.Start, err = apiWindowTime(v["start"], "start"); err == nil {
			f.End, err = apiWindowTime(v["end"], "end")
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		id, ok := parseID(v["unit_id"])
		if !ok {
			s.fail(w, r, wardwatch.Errorf(wardwatch.EINVALID, "Give the window's unit_id."))
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
		win, err := settingsWindowOf(f, id, viewerFrom(ctx).User.Username, time.UTC, s.cfg.Now())
		if err == nil {
			win.ID, err = s.cfg.AlertSettings.SaveAlertWindow(ctx, win)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.audit.record(ctx, "create", "alert_window", win.ID, nil, win, win.Reason)
		s.alertsChanged(ctx)
		s.created(w, r, windowOut(win))
	})
}

func (s *apiServer) handleDeleteWindow() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		id, err := apiPathID(r, "id", "window")
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ws, err := s.cfg.AlertSettings.AlertWindows(ctx)
		if err != nil {
			s.fail(w, r, fmt.Errorf("read alert windows: %w", err))
			return
		}
		i := slices.IndexFunc(ws, func(w alerts.Window) bool { return w.ID == id })
		if i < 0 {
			s.fail(w, r, wardwatch.Errorf(wardwatch.ENOTFOUND, "There is no such window."))
			return
		}
		if err := s.cfg.AlertSettings.DeleteAlertWindow(ctx, id); err != nil {
			s.fail(w, r, fmt.Errorf("delete window %d: %w", id, err))
			return
		}
		s.audit.record(ctx, "delete", "alert_window", id, ws[i], nil, "")
		s.alertsChanged(ctx)
		s.noContent(w)
	})
}
