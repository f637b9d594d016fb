package sql

import (
	"bytes"
	"context"
	dbsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// The alert configuration admins edit in the web UI: units' rule sets,
// escalation policies, maintenance windows, contacts and PAR levels.

// ---- Unit rule sets ----

// UnitRules returns the edited rule sets by unit ID. A unit without one is
// judged by its profile's seeded rules; an empty (non-nil) set means the
// unit has no threshold rules.
func (s *Store) UnitRules(ctx context.Context) (map[int64][]alerts.Rule, error) {
	rows, err := s.query(ctx, `SELECT unit_id, rules FROM unit_rules ORDER BY unit_id`)
	if err != nil {
		return nil, fmt.Errorf("unit rules: %w", err)
	}
	defer rows.Close()
	out := make(map[int64][]alerts.Rule)
	for rows.Next() {
		var (
			id  int64
			doc string
		)
		if err := rows.Scan(&id, &doc); err != nil {
			return nil, fmt.Errorf("unit rules: %w", err)
		}
		rules, err := alerts.ParseRules([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("unit %d: stored rule set: %w", id, err)
		}
		out[id] = rules
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("unit rules: %w", err)
	}
	return out, nil
}

// SetUnitRules replaces the rule set of monitored unit unitID; nil deletes
// it, so the unit is judged by its profile's rules again. The set is
// validated as alerts.ParseRules does. Errors: EINVALID, ETOOLARGE,
// ENOTFOUND (no such unit).
func (s *Store) SetUnitRules(ctx context.Context, unitID int64, rules []alerts.Rule) error {
	if rules == nil {
		res, err := s.exec(ctx, `DELETE FROM unit_rules WHERE unit_id = ?`, unitID)
		if err != nil {
			return fmt.Errorf("delete unit rules: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("delete unit rules: %w", err)
		} else if n == 0 {
			var one int
			err := s.queryRow(ctx, `SELECT 1 FROM monitored_units WHERE id = ?`, unitID).Scan(&one)
			return mapErr(err, "delete unit rules", errMap{noRows: unitNotFound(unitID)})
		}
		return nil
	}
	doc, err := alerts.FormatRules(rules)
	if err != nil {
		return &wardwatch.Error{Code: wardwatch.EINVALID, Message: "The rule set cannot be stored: a limit is not a number.", Err: err}
	}
	if _, err := alerts.ParseRules(doc); err != nil {
		return err
	}
	_, err = s.exec(ctx, `INSERT INTO unit_rules (unit_id, rules) VALUES (?, ?)
		ON CONFLICT (unit_id) DO UPDATE SET rules = excluded.rules`, unitID, string(doc))
	return mapErr(err, "save unit rules", errMap{foreignKey: unitNotFound(unitID)})
}

// ---- Escalation policies ----

// Limits of the stored escalation policy document.
const (
	maxPoliciesSize = 1 << 20
	maxPolicies     = 1000
)

// policyJSON is an escalation policy as stored: durations as Go duration
// strings ("10m0s").
type policyJSON struct {
	UnitID   int64           `json:"unit_id,omitempty"`
	Team     alerts.Team     `json:"team,omitempty"`
	Priority alerts.Priority `json:"priority"`
	Tiers    []tierJSON      `json:"tiers"`
	Reminder string          `json:"reminder,omitempty"`
}

type tierJSON struct {
	After   string       `json:"after"`
	Targets []targetJSON `json:"targets"`
}

type targetJSON struct {
	Channel alerts.Channel `json:"channel"`
	Group   string         `json:"group,omitempty"`
	Address string         `json:"address,omitempty"`
}

// formatPolicies encodes ps as parsePolicies reads it, in a stable form.
func formatPolicies(ps alerts.Policies) ([]byte, error) {
	js := make([]policyJSON, 0, len(ps))
	for _, p := range ps {
		j := policyJSON{UnitID: p.UnitID, Team: p.Team, Priority: p.Priority, Tiers: make([]tierJSON, 0, len(p.Tiers))}
		if p.Reminder != 0 {
			j.Reminder = p.Reminder.String()
		}
		for _, t := range p.Tiers {
			tj := tierJSON{After: t.After.String(), Targets: make([]targetJSON, 0, len(t.Targets))}
			for _, tg := range t.Targets {
				tj.Targets = append(tj.Targets, targetJSON{Channel: tg.Channel, Group: tg.Group, Address: tg.Address})
			}
			j.Tiers = append(j.Tiers, tj)
		}
		js = append(js, j)
	}
	b, err := json.MarshalIndent(js, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("format escalation policies: %w", err)
	}
	return b, nil
}

// parsePolicies decodes and validates an escalation policy document: a
// JSON array of policies, unknown fields refused. Errors are
// *wardwatch.Error: EINVALID saying what is wrong, ETOOLARGE.
func parsePolicies(data []byte) (alerts.Policies, error) {
	if len(data) > maxPoliciesSize {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "Escalation policies are limited to %d bytes.", maxPoliciesSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var js []policyJSON
	if err := dec.Decode(&js); err != nil {
		return nil, &wardwatch.Error{Code: wardwatch.EINVALID, Err: err,
			Message: "The escalation policies are not valid JSON policies: " + wardwatch.TruncateForMessage(err.Error()) + "."}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The escalation policies have data after their closing bracket.")
	}
	if js == nil {
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Escalation policies are a JSON array of policies.")
	}
	if len(js) > maxPolicies {
		return nil, wardwatch.Errorf(wardwatch.ETOOLARGE, "At most %d escalation policies.", maxPolicies)
	}
	dur := func(what, s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, wardwatch.Errorf(wardwatch.EINVALID, "The %s %q is not a duration like \"10m\".", what, wardwatch.TruncateForMessage(s))
		}
		return d, nil
	}
	ps := make(alerts.Policies, 0, len(js))
	for _, j := range js {
		p := alerts.Policy{UnitID: j.UnitID, Team: j.Team, Priority: j.Priority}
		if j.Reminder != "" {
			d, err := dur("reminder interval", j.Reminder)
			if err != nil {
				return nil, err
			}
			p.Reminder = d
		}
		for _, tj := range j.Tiers {
			d, err := dur("tier delay", tj.After)
			if err != nil {
				return nil, err
			}
			t := alerts.Tier{After: d}
			for _, tg := range tj.Targets {
				t.Targets = append(t.Targets, alerts.Target{Channel: tg.Channel, Group: tg.Group, Address: tg.Address})
			}
			p.Tiers = append(p.Tiers, t)
		}
		ps = append(ps, p)
	}
	if err := ps.Validate(); err != nil {
		return nil, err
	}
	return ps, nil
}

// EscalationPolicies returns the stored escalation policies, nil when none
// are stored (the Book then uses alerts.DefaultPolicies).
func (s *Store) EscalationPolicies(ctx context.Context) (alerts.Policies, error) {
	var doc string
	err := s.queryRow(ctx, `SELECT document FROM alert_policies WHERE id = 1`).Scan(&doc)
	if errors.Is(err, dbsql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("escalation policies: %w", err)
	}
	ps, err := parsePolicies([]byte(doc))
	if err != nil {
		return nil, fmt.Errorf("stored escalation policies: %w", err)
	}
	return ps, nil
}

// SetEscalationPolicies validates ps and stores it as one document; an
// empty ps deletes the stored policies (back to the defaults). Errors:
// EINVALID, ETOOLARGE.
func (s *Store) SetEscalationPolicies(ctx context.Context, ps alerts.Policies) error {
	if err := ps.Validate(); err != nil {
		return err
	}
	if len(ps) == 0 {
		if _, err := s.exec(ctx, `DELETE FROM alert_policies WHERE id = 1`); err != nil {
			return fmt.Errorf("delete escalation policies: %w", err)
		}
		return nil
	}
	if len(ps) > maxPolicies {
		return wardwatch.Errorf(wardwatch.ETOOLARGE, "At most %d escalation policies.", maxPolicies)
	}
	for _, p := range ps {
		for _, t := range p.Tiers {
			for _, tg := range t.Targets {
				if err := checkUserText("escalation target", tg.Group+tg.Address, 500); err != nil {
					return err
				}
			}
		}
	}
	doc, err := formatPolicies(ps)
	if err != nil {
		return err
	}
	if len(doc) > maxPoliciesSize {
		return wardwatch.Errorf(wardwatch.ETOOLARGE, "Escalation policies are limited to %d bytes.", maxPoliciesSize)
	}
	_, err = s.exec(ctx, `INSERT INTO alert_policies (id, document) VALUES (1, ?)
		ON CONFLICT (id) DO UPDATE SET document = excluded.document`, string(doc))
	return mapErr(err, "save escalation policies", errMap{})
}

// ---- Maintenance windows ----

func validWindow(w alerts.Window) error {
	switch {
	case w.UnitID <= 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A window needs its unit.")
	case w.Kind != alerts.SuppressDefrost && w.Kind != alerts.SuppressMaintenance && w.Kind != alerts.SuppressOutOfService:
		return wardwatch.Errorf(wardwatch.EINVALID, "A window is a defrost, a maintenance or the unit out of service.")
	case w.Start.IsZero() || w.End.IsZero():
		return wardwatch.Errorf(wardwatch.EINVALID, "A window needs its start and end.")
	case w.End.UnixMicro() <= w.Start.UnixMicro():
		return wardwatch.Errorf(wardwatch.EINVALID, "A window must end after it starts.")
	case strings.TrimSpace(w.By) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "A window needs the user who set it.")
	}
	if err := checkUserText("user name", w.By, 200); err != nil {
		return err
	}
	return checkUserText("reason", w.Reason, maxNoteText)
}

// AlertWindows returns every stored maintenance window by start.
func (s *Store) AlertWindows(ctx context.Context) ([]alerts.Window, error) {
	rows, err := s.query(ctx, `SELECT id, unit_id, kind, start_at, end_at, set_by, reason FROM alert_windows ORDER BY start_at, id`)
	if err != nil {
		return nil, fmt.Errorf("alert windows: %w", err)
	}
	defer rows.Close()
	var out []alerts.Window
	for rows.Next() {
		var (
			w          alerts.Window
			kind       string
			start, end int64
		)
		if err := rows.Scan(&w.ID, &w.UnitID, &kind, &start, &end, &w.By, &w.Reason); err != nil {
			return nil, fmt.Errorf("alert windows: %w", err)
		}
		w.Kind, w.Start, w.End = alerts.SuppressionKind(kind), time.UnixMicro(start).UTC(), time.UnixMicro(end).UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("alert windows: %w", err)
	}
	return out, nil
}

func windowNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Window %d not found.", id)
}

// SaveAlertWindow stores a maintenance window, inserting it when w.ID is 0
// and replacing window w.ID otherwise, and returns its ID. Times are kept
// to the microsecond. Errors: EINVALID, ENOTFOUND (no such unit or
// window).
func (s *Store) SaveAlertWindow(ctx context.Context, w alerts.Window) (int64, error) {
	if err := validWindow(w); err != nil {
		return 0, err
	}
	m := errMap{foreignKey: unitNotFound(w.UnitID)}
	if w.ID == 0 {
		var id int64
		err := s.queryRow(ctx, `INSERT INTO alert_windows (unit_id, kind, start_at, end_at, set_by, reason)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			w.UnitID, string(w.Kind), w.Start.UnixMicro(), w.End.UnixMicro(), w.By, w.Reason).Scan(&id)
		if err != nil {
			return 0, mapErr(err, "save window", m)
		}
		return id, nil
	}
	err := s.execOne(ctx, windowNotFound(w.ID), `UPDATE alert_windows SET unit_id = ?, kind = ?, start_at = ?, end_at = ?,
		set_by = ?, reason = ? WHERE id = ?`,
		w.UnitID, string(w.Kind), w.Start.UnixMicro(), w.End.UnixMicro(), w.By, w.Reason, w.ID)
	if err != nil {
		return 0, mapErr(err, "save window", m)
	}
	return w.ID, nil
}

// DeleteAlertWindow removes a maintenance window. Errors: ENOTFOUND.
func (s *Store) DeleteAlertWindow(ctx context.Context, id int64) error {
	return s.execOne(ctx, windowNotFound(id), `DELETE FROM alert_windows WHERE id = ?`, id)
}

// DeleteAlertWindowsBefore removes the windows that ended before t and
// returns how many.
func (s *Store) DeleteAlertWindowsBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM alert_windows WHERE end_at < ?`, t.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("delete ended windows: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete ended windows: %w", err)
	}
	return n, nil
}

// ---- Contacts ----

// Contacts returns the contacts by team, group and name.
func (s *Store) Contacts(ctx context.Context) ([]alerts.Contact, error) {
	rows, err := s.query(ctx, `SELECT id, name, group_name, team, COALESCE(unit_id, 0), email, webhook, enabled
		FROM alert_contacts ORDER BY team, group_name, name, id`)
	if err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	defer rows.Close()
	var out []alerts.Contact
	for rows.Next() {
		var (
			c       alerts.Contact
			team    string
			enabled int64
		)
		if err := rows.Scan(&c.ID, &c.Name, &c.Group, &team, &c.UnitID, &c.Email, &c.Webhook, &enabled); err != nil {
			return nil, fmt.Errorf("contacts: %w", err)
		}
		c.Team, c.Enabled = alerts.Team(team), enabled == 1
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("contacts: %w", err)
	}
	return out, nil
}

func contactNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Contact %d not found.", id)
}

// SaveContact validates c and stores it, inserting it when c.ID is 0 and
// replacing contact c.ID otherwise, and returns its ID. A contact of one
// unit is deleted with the unit. Errors: EINVALID, ENOTFOUND (no such unit
// or contact).
func (s *Store) SaveContact(ctx context.Context, c alerts.Contact) (int64, error) {
	if err := c.Validate(); err != nil {
		return 0, err
	}
	for _, f := range []struct{ name, v string }{{"name", c.Name}, {"e-mail address", c.Email}, {"webhook endpoint", c.Webhook}} {
		if err := checkUserText(f.name, f.v, 320); err != nil {
			return 0, err
		}
	}
	m := errMap{foreignKey: unitNotFound(c.UnitID)}
	if c.ID == 0 {
		var id int64
		err := s.queryRow(ctx, `INSERT INTO alert_contacts (name, group_name, team, unit_id, email, webhook, enabled)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.Name, c.Group, string(c.Team), nullID(c.UnitID), c.Email, c.Webhook, boolInt(c.Enabled)).Scan(&id)
		if err != nil {
			return 0, mapErr(err, "save contact", m)
		}
		return id, nil
	}
	err := s.execOne(ctx, contactNotFound(c.ID), `UPDATE alert_contacts SET name = ?, group_name = ?, team = ?, unit_id = ?,
		email = ?, webhook = ?, enabled = ? WHERE id = ?`,
		c.Name, c.Group, string(c.Team), nullID(c.UnitID), c.Email, c.Webhook, boolInt(c.Enabled), c.ID)
	if err != nil {
		return 0, mapErr(err, "save contact", m)
	}
	return c.ID, nil
}

// DeleteContact removes a contact. Errors: ENOTFOUND.
func (s *Store) DeleteContact(ctx context.Context, id int64) error {
	return s.execOne(ctx, contactNotFound(id), `DELETE FROM alert_contacts WHERE id = ?`, id)
}

// ---- PAR levels ----

// maxPARZones caps the zones a PAR level counts on each side.
const maxPARZones = 500

// validPARID checks a PAR level's ID as the alerts package checks rule
// and PAR IDs: 1–64 characters of a–z, 0–9 and "_.:-".
func validPARID(id string) error {
	if id == "" || len(id) > 64 {
		return wardwatch.Errorf(wardwatch.EINVALID, "A PAR level ID must be 1 to 64 characters long.")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return wardwatch.Errorf(wardwatch.EINVALID, "PAR level ID %q may use only a–z, 0–9 and _ . : -.", wardwatch.TruncateForMessage(id))
		}
	}
	return nil
}

func validPARLevel(p alerts.PARLevel) error {
	if err := validPARID(p.ID); err != nil {
		return err
	}
	if err := checkUserText("name", p.Name, 200); err != nil {
		return err
	}
	switch {
	case !p.Kind.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q has unknown asset kind %q.", p.ID, wardwatch.TruncateForMessage(string(p.Kind)))
	case p.CleanMin < 0 || p.SoiledMax != nil && *p.SoiledMax < 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q: levels cannot be negative.", p.ID)
	case len(p.CleanZones) == 0 && p.CleanMin > 0 || len(p.SoiledZones) == 0 && p.SoiledMax != nil:
		return wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q: a level needs the zones it counts.", p.ID)
	case len(p.CleanZones) > maxPARZones || len(p.SoiledZones) > maxPARZones:
		return wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q counts more than %d zones.", p.ID, maxPARZones)
	}
	for _, zs := range [][]int64{p.CleanZones, p.SoiledZones} {
		seen := make(map[int64]bool, len(zs))
		for _, z := range zs {
			if z <= 0 || seen[z] {
				return wardwatch.Errorf(wardwatch.EINVALID, "PAR level %q lists zone %d twice or an invalid zone.", p.ID, z)
			}
			seen[z] = true
		}
	}
	return nil
}

func formatZoneIDs(zs []int64) string {
	if len(zs) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(zs) // []int64 always marshals
	return string(b)
}

func parseZoneIDs(s string) ([]int64, error) {
	var zs []int64
	if err := json.Unmarshal([]byte(s), &zs); err != nil {
		return nil, err
	}
	if len(zs) == 0 {
		return nil, nil
	}
	return zs, nil
}

// PARLevels returns the PAR levels by ID.
func (s *Store) PARLevels(ctx context.Context) ([]alerts.PARLevel, error) {
	rows, err := s.query(ctx, `SELECT id, name, kind, clean_zones, soiled_zones, clean_min, soiled_max FROM par_levels ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("PAR levels: %w", err)
	}
	defer rows.Close()
	var out []alerts.PARLevel
	for rows.Next() {
		var (
			p             alerts.PARLevel
			kind          string
			clean, soiled string
			cleanMin      int64
			soiledMax     dbsql.NullInt64
		)
		if err := rows.Scan(&p.ID, &p.Name, &kind, &clean, &soiled, &cleanMin, &soiledMax); err != nil {
			return nil, fmt.Errorf("PAR levels: %w", err)
		}
		p.Kind, p.CleanMin = wardwatch.AssetKind(kind), int(cleanMin)
		if soiledMax.Valid {
			v := int(soiledMax.Int64)
			p.SoiledMax = &v
		}
		if p.CleanZones, err = parseZoneIDs(clean); err != nil {
			return nil, fmt.Errorf("PAR level %q: stored clean zones: %w", p.ID, err)
		}
		if p.SoiledZones, err = parseZoneIDs(soiled); err != nil {
			return nil, fmt.Errorf("PAR level %q: stored soiled zones: %w", p.ID, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("PAR levels: %w", err)
	}
	return out, nil
}

// SavePARLevel validates p as the alerts package does, checks that its
// zones exist, and inserts it or replaces the PAR level with its ID.
// Errors: EINVALID, ENOTFOUND (a zone).
func (s *Store) SavePARLevel(ctx context.Context, p alerts.PARLevel) error {
	if err := validPARLevel(p); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save PAR level: %w", err)
	}
	defer tx.Rollback()
	zones := slices.Concat(p.CleanZones, p.SoiledZones)
	slices.Sort(zones)
	zones = slices.Compact(zones)
	if len(zones) > 0 {
		args := make([]any, len(zones))
		for i, z := range zones {
			args[i] = z
		}
		rows, err := tx.QueryContext(ctx, s.rebind(`SELECT id FROM zones WHERE id IN (`+
			strings.TrimSuffix(strings.Repeat("?, ", len(zones)), ", ")+`)`), args...)
		if err != nil {
			return fmt.Errorf("save PAR level: %w", err)
		}
		found := make(map[int64]bool, len(zones))
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("save PAR level: %w", err)
			}
			found[id] = true
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return fmt.Errorf("save PAR level: %w", err)
		}
		rows.Close()
		for _, z := range zones {
			if !found[z] {
				return wardwatch.Errorf(wardwatch.ENOTFOUND, "Zone %d not found.", z)
			}
		}
	}
	var soiledMax any
	if p.SoiledMax != nil {
		soiledMax = int64(*p.SoiledMax)
	}
	_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO par_levels (id, name, kind, clean_zones, soiled_zones, clean_min, soiled_max)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, clean_zones = excluded.clean_zones,
			soiled_zones = excluded.soiled_zones, clean_min = excluded.clean_min, soiled_max = excluded.soiled_max`),
		p.ID, p.Name, string(p.Kind), formatZoneIDs(p.CleanZones), formatZoneIDs(p.SoiledZones), int64(p.CleanMin), soiledMax)
	if err != nil {
		return mapErr(err, "save PAR level", errMap{})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save PAR level: %w", err)
	}
	return nil
}

// DeletePARLevel removes a PAR level. Errors: ENOTFOUND.
func (s *Store) DeletePARLevel(ctx context.Context, id string) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "PAR level %q not found.", wardwatch.TruncateForMessage(id)),
		`DELETE FROM par_levels WHERE id = ?`, id)
}
