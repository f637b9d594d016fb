package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Excursion records and daily log sign-offs: the compliance records
// inspectors ask for. Times are unix microseconds UTC, as for alerts.

// Limits of Excursions.
const (
	DefaultExcursionLimit = 200
	MaxExcursionLimit     = 5000
)

// maxNoteText caps each free-text field people fill in.
const maxNoteText = 4000

// troubleshootingJSON is an excursion's troubleshooting record as stored.
// Unknown temperatures (NaN) are absent; times are RFC 3339 UTC. The
// disposition has its own column.
type troubleshootingJSON struct {
	DiscoveredAt       string   `json:"discovered_at,omitempty"`
	ReporterName       string   `json:"reporter_name,omitempty"`
	ReporterTitle      string   `json:"reporter_title,omitempty"`
	UnitTempDiscovered *float64 `json:"unit_temp_discovered,omitempty"`
	MinDiscovered      *float64 `json:"min_discovered,omitempty"`
	MaxDiscovered      *float64 `json:"max_discovered,omitempty"`
	RoomTemp           *float64 `json:"room_temp,omitempty"`
	Description        string   `json:"description,omitempty"`
	AffectedProduct    string   `json:"affected_product,omitempty"`
	OtherContents      string   `json:"other_contents,omitempty"`
	PriorIssues        string   `json:"prior_issues,omitempty"`
	Contacted          string   `json:"contacted,omitempty"`
	ReportNumber       string   `json:"report_number,omitempty"`
	ReturnedToStorage  string   `json:"returned_to_storage,omitempty"`
	Actions            string   `json:"actions,omitempty"`
	Prevention         string   `json:"prevention,omitempty"`
}

// troubleshootingTexts lists t's free-text fields by name.
func troubleshootingTexts(t alerts.Troubleshooting) []struct{ name, v string } {
	return []struct{ name, v string }{
		{"reporter's name", t.ReporterName}, {"reporter's title", t.ReporterTitle}, {"description", t.Description},
		{"affected product", t.AffectedProduct}, {"other contents", t.OtherContents}, {"prior issues", t.PriorIssues},
		{"contacts", t.Contacted}, {"report number", t.ReportNumber}, {"actions", t.Actions}, {"prevention", t.Prevention},
	}
}

// validTroubleshooting checks what people typed (EINVALID).
func validTroubleshooting(t alerts.Troubleshooting) error {
	if t.Disposition != "" && !t.Disposition.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose what became of the product: used, returned or wasted.")
	}
	for _, v := range []float64{t.UnitTempDiscovered, t.MinDiscovered, t.MaxDiscovered, t.RoomTemp} {
		if math.IsInf(v, 0) {
			return wardwatch.Errorf(wardwatch.EINVALID, "A temperature must be a number, or left empty when unknown.")
		}
	}
	for _, f := range troubleshootingTexts(t) {
		if err := checkUserText(f.name, f.v, maxNoteText); err != nil {
			return err
		}
	}
	return nil
}

func rfc3339OrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Truncate(time.Microsecond).Format(time.RFC3339Nano)
}

func formatTroubleshooting(t alerts.Troubleshooting) (string, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	s := storableText
	j := troubleshootingJSON{
		DiscoveredAt: rfc3339OrEmpty(t.DiscoveredAt), ReporterName: s(t.ReporterName), ReporterTitle: s(t.ReporterTitle),
		UnitTempDiscovered: num(t.UnitTempDiscovered), MinDiscovered: num(t.MinDiscovered), MaxDiscovered: num(t.MaxDiscovered),
		RoomTemp: num(t.RoomTemp), Description: s(t.Description), AffectedProduct: s(t.AffectedProduct),
		OtherContents: s(t.OtherContents), PriorIssues: s(t.PriorIssues), Contacted: s(t.Contacted),
		ReportNumber: s(t.ReportNumber), ReturnedToStorage: rfc3339OrEmpty(t.ReturnedToStorage), Actions: s(t.Actions),
		Prevention: s(t.Prevention),
	}
	b, err := json.Marshal(j)
	return string(b), err
}

func parseTroubleshooting(s string, d alerts.Disposition) (alerts.Troubleshooting, error) {
	var j troubleshootingJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return alerts.Troubleshooting{}, err
	}
	var errs []error
	tm := func(v string) time.Time {
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			errs = append(errs, err)
		}
		return t.UTC()
	}
	num := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	t := alerts.Troubleshooting{
		DiscoveredAt: tm(j.DiscoveredAt), ReporterName: j.ReporterName, ReporterTitle: j.ReporterTitle,
		UnitTempDiscovered: num(j.UnitTempDiscovered), MinDiscovered: num(j.MinDiscovered), MaxDiscovered: num(j.MaxDiscovered),
		RoomTemp: num(j.RoomTemp), Description: j.Description, AffectedProduct: j.AffectedProduct,
		OtherContents: j.OtherContents, PriorIssues: j.PriorIssues, Contacted: j.Contacted, ReportNumber: j.ReportNumber,
		ReturnedToStorage: tm(j.ReturnedToStorage), Actions: j.Actions, Prevention: j.Prevention, Disposition: d,
	}
	if len(errs) > 0 {
		return t, errs[0]
	}
	return t, nil
}

const excursionColumns = `id, unit_id, unit_name, team, sensor_id, metric, low, high, start_at, end_at, peak, trough,
	peak_at, trough_at, above_ns, below_ns, degree_minutes_above, degree_minutes_below, samples, alarmed, alarm_rule,
	quarantine, quarantine_cleared_by, quarantine_cleared_at, disposition, troubleshooting`

func scanExcursion(sc interface{ Scan(...any) error }) (alerts.Excursion, error) {
	var (
		x                                           alerts.Excursion
		team, metric, disposition, troubleshooting  string
		low, high, peak, trough, dmAbove, dmBelow   dbsql.NullFloat64
		start, above, below, samples, alarmed, quar int64
		end, peakAt, troughAt, clearedAt            dbsql.NullInt64
	)
	err := sc.Scan(&x.ID, &x.UnitID, &x.UnitName, &team, &x.SensorID, &metric, &low, &high, &start, &end, &peak, &trough,
		&peakAt, &troughAt, &above, &below, &dmAbove, &dmBelow, &samples, &alarmed, &x.AlarmRule,
		&quar, &x.QuarantineClearedBy, &clearedAt, &disposition, &troubleshooting)
	if err != nil {
		return x, err
	}
	if x.Troubleshooting, err = parseTroubleshooting(troubleshooting, alerts.Disposition(disposition)); err != nil {
		return x, fmt.Errorf("excursion %d: stored troubleshooting record: %w", x.ID, err)
	}
	x.Team, x.Metric = alerts.Team(team), wardwatch.Metric(metric)
	x.Low, x.High, x.Peak, x.Trough = floatOrNaN(low), floatOrNaN(high), floatOrNaN(peak), floatOrNaN(trough)
	x.DegreeMinutesAbove, x.DegreeMinutesBelow = floatOrNaN(dmAbove), floatOrNaN(dmBelow)
	x.Start, x.End = time.UnixMicro(start).UTC(), timeFromMicros(end)
	x.PeakAt, x.TroughAt, x.QuarantineClearedAt = timeFromMicros(peakAt), timeFromMicros(troughAt), timeFromMicros(clearedAt)
	x.Above, x.Below, x.Samples = time.Duration(above), time.Duration(below), int(samples)
	x.Alarmed, x.Quarantine = alarmed == 1, quar == 1
	return x, nil
}

// SaveExcursions stores excursion records, upserting by (SensorID, Metric,
// Start), in one transaction, and sets each record's ID in xs. A new record
// is inserted as it is. For a stored one only the measured fields are
// updated (End, Peak and Trough and their times, Above, Below, the
// degree-minutes, Samples, Low, High, UnitName, Team); Alarmed (with its
// AlarmRule) and Quarantine only ever go from false to true; the
// troubleshooting record, the disposition and the quarantine clearance,
// which people fill in, are never overwritten. Times are kept to the
// microsecond. Errors: EINVALID (no sensor, metric or start).
func (s *Store) SaveExcursions(ctx context.Context, xs []alerts.Excursion) error {
	if len(xs) == 0 {
		return nil
	}
	rows := make([][]any, len(xs))
	for i, x := range xs {
		switch {
		case strings.TrimSpace(x.SensorID) == "" || x.Metric == "":
			return wardwatch.Errorf(wardwatch.EINVALID, "An excursion needs its sensor and metric.")
		case x.Start.IsZero():
			return wardwatch.Errorf(wardwatch.EINVALID, "The excursion of sensor %q has no start.", wardwatch.TruncateForMessage(x.SensorID))
		}
		tr, err := formatTroubleshooting(x.Troubleshooting)
		if err != nil {
			return fmt.Errorf("excursion of %q: troubleshooting record: %w", x.SensorID, err)
		}
		t := storableText
		rows[i] = []any{x.UnitID, t(x.UnitName), t(string(x.Team)), t(x.SensorID), t(string(x.Metric)),
			nullFloat(x.Low), nullFloat(x.High), x.Start.UnixMicro(), microsOrNull(x.End), nullFloat(x.Peak), nullFloat(x.Trough),
			microsOrNull(x.PeakAt), microsOrNull(x.TroughAt), int64(x.Above), int64(x.Below),
			nullFloat(x.DegreeMinutesAbove), nullFloat(x.DegreeMinutesBelow), int64(x.Samples), boolInt(x.Alarmed),
			t(x.AlarmRule), boolInt(x.Quarantine), t(x.QuarantineClearedBy), microsOrNull(x.QuarantineClearedAt),
			t(string(x.Troubleshooting.Disposition)), tr}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save excursions: %w", err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, s.rebind(`INSERT INTO excursions (unit_id, unit_name, team, sensor_id, metric, low, high,
		start_at, end_at, peak, trough, peak_at, trough_at, above_ns, below_ns, degree_minutes_above, degree_minutes_below,
		samples, alarmed, alarm_rule, quarantine, quarantine_cleared_by, quarantine_cleared_at, disposition, troubleshooting)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (sensor_id, metric, start_at) DO UPDATE SET
			unit_name = excluded.unit_name, team = excluded.team, low = excluded.low, high = excluded.high,
			end_at = excluded.end_at, peak = excluded.peak, trough = excluded.trough,
			peak_at = excluded.peak_at, trough_at = excluded.trough_at, above_ns = excluded.above_ns,
			below_ns = excluded.below_ns, degree_minutes_above = excluded.degree_minutes_above,
			degree_minutes_below = excluded.degree_minutes_below, samples = excluded.samples,
			alarm_rule = CASE WHEN excursions.alarmed = 1 THEN excursions.alarm_rule ELSE excluded.alarm_rule END,
			alarmed = CASE WHEN excursions.alarmed = 1 THEN 1 ELSE excluded.alarmed END,
			quarantine = CASE WHEN excursions.quarantine = 1 THEN 1 ELSE excluded.quarantine END
		RETURNING id`))
	if err != nil {
		return fmt.Errorf("save excursions: %w", err)
	}
	defer stmt.Close()
	ids := make([]int64, len(xs))
	for i, args := range rows {
		if err := stmt.QueryRowContext(ctx, args...).Scan(&ids[i]); err != nil {
			return mapErr(err, "save excursion", errMap{})
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save excursions: %w", err)
	}
	for i := range xs {
		xs[i].ID = ids[i]
	}
	return nil
}

func excursionNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Excursion %d not found.", id)
}

// Excursion returns one excursion record. Errors: ENOTFOUND.
func (s *Store) Excursion(ctx context.Context, id int64) (alerts.Excursion, error) {
	x, err := scanExcursion(s.queryRow(ctx, `SELECT `+excursionColumns+` FROM excursions WHERE id = ?`, id))
	if err != nil {
		return alerts.Excursion{}, mapErr(err, "excursion", errMap{noRows: excursionNotFound(id)})
	}
	return x, nil
}

// ExcursionQuery selects excursion records for Excursions. Zero fields
// select everything.
type ExcursionQuery struct {
	UnitID      int64
	From, To    time.Time // started in [From, To); zero: open-ended
	Quarantined bool      // only records whose quarantine is not cleared
	Limit       int       // 0: DefaultExcursionLimit; at most MaxExcursionLimit
}

// Excursions returns the excursion records q selects, newest first.
// Errors: EINVALID (a negative limit).
func (s *Store) Excursions(ctx context.Context, q ExcursionQuery) ([]alerts.Excursion, error) {
	switch {
	case q.Limit < 0:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The limit cannot be negative.")
	case q.Limit == 0:
		q.Limit = DefaultExcursionLimit
	case q.Limit > MaxExcursionLimit:
		q.Limit = MaxExcursionLimit
	}
	var (
		where []string
		args  []any
	)
	if q.UnitID != 0 {
		where, args = append(where, "unit_id = ?"), append(args, q.UnitID)
	}
	if !q.From.IsZero() {
		where, args = append(where, "start_at >= ?"), append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		where, args = append(where, "start_at < ?"), append(args, q.To.UnixMicro())
	}
	if q.Quarantined {
		where = append(where, "quarantine = 1 AND quarantine_cleared_at IS NULL")
	}
	query := `SELECT ` + excursionColumns + ` FROM excursions`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY start_at DESC, id DESC LIMIT ?`
	rows, err := s.query(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list excursions: %w", err)
	}
	defer rows.Close()
	var out []alerts.Excursion
	for rows.Next() {
		x, err := scanExcursion(rows)
		if err != nil {
			return nil, fmt.Errorf("list excursions: %w", err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list excursions: %w", err)
	}
	return out, nil
}

// SaveTroubleshooting replaces the troubleshooting record of excursion id.
// A non-empty disposition is stored too ("" keeps the stored one), unless
// the quarantine was cleared with a different one: the clearance recorded
// the disposition, and a different one is refused.
// Errors: EINVALID, ENOTFOUND, ECONFLICT (a disposition differing from the
// clearance's).
func (s *Store) SaveTroubleshooting(ctx context.Context, id int64, t alerts.Troubleshooting) error {
	if err := validTroubleshooting(t); err != nil {
		return err
	}
	doc, err := formatTroubleshooting(t)
	if err != nil {
		return fmt.Errorf("save troubleshooting record: %w", err)
	}
	d := string(t.Disposition)
	res, err := s.exec(ctx, `UPDATE excursions SET troubleshooting = ?,
			disposition = CASE WHEN CAST(? AS TEXT) = '' THEN disposition ELSE CAST(? AS TEXT) END
		WHERE id = ? AND (CAST(? AS TEXT) = '' OR quarantine_cleared_at IS NULL OR disposition = CAST(? AS TEXT))`,
		doc, d, d, id, d, d)
	if err != nil {
		return mapErr(err, "save troubleshooting record", errMap{})
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("save troubleshooting record: %w", err)
	} else if n == 1 {
		return nil
	}
	x, err := s.Excursion(ctx, id)
	if err != nil {
		return err
	}
	return wardwatch.Errorf(wardwatch.ECONFLICT, "%s cleared the quarantine with the disposition %q; it cannot be changed here.",
		x.QuarantineClearedBy, x.Troubleshooting.Disposition)
}

// ClearQuarantine lifts the "DO NOT USE" quarantine of excursion id: by
// cleared it at at, and d is what became of the product. The check and the
// change are one statement, so two people cannot both clear it. The caller
// checks the user's role (alerts.CanClearQuarantine). Errors: EINVALID (no
// user, time or valid disposition), ENOTFOUND, ECONFLICT (not quarantined,
// already cleared, or the excursion still in progress).
func (s *Store) ClearQuarantine(ctx context.Context, id int64, by string, at time.Time, d alerts.Disposition) error {
	switch {
	case strings.TrimSpace(by) == "" || by == alerts.SystemUser:
		return wardwatch.Errorf(wardwatch.EINVALID, "Clearing a quarantine needs the user's name.")
	case !d.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose what became of the product: used, returned or wasted.")
	case at.IsZero():
		return wardwatch.Errorf(wardwatch.EINVALID, "Clearing a quarantine needs its time.")
	}
	if err := checkUserText("user name", by, 200); err != nil {
		return err
	}
	res, err := s.exec(ctx, `UPDATE excursions SET disposition = ?, quarantine_cleared_by = ?, quarantine_cleared_at = ?
		WHERE id = ? AND quarantine = 1 AND quarantine_cleared_at IS NULL AND end_at IS NOT NULL`,
		string(d), by, at.UnixMicro(), id)
	if err != nil {
		return mapErr(err, "clear quarantine", errMap{})
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("clear quarantine: %w", err)
	} else if n == 1 {
		return nil
	}
	x, err := s.Excursion(ctx, id)
	switch {
	case err != nil:
		return err
	case !x.Quarantine:
		return wardwatch.Errorf(wardwatch.ECONFLICT, "This excursion has no quarantine to clear.")
	case !x.QuarantineClearedAt.IsZero():
		return wardwatch.Errorf(wardwatch.ECONFLICT, "%s already cleared this quarantine at %s.",
			x.QuarantineClearedBy, x.QuarantineClearedAt.Format("2006-01-02 15:04 UTC"))
	}
	return wardwatch.Errorf(wardwatch.ECONFLICT, "The excursion is still in progress.")
}

// ---- Daily log reviews ----

func validDay(day string) bool {
	_, err := time.Parse(time.DateOnly, day)
	return err == nil && len(day) == len(time.DateOnly)
}

// SaveReview stores a sign-off of one unit's daily log. Each (unit, day)
// is signed once. The caller checks the day against its time zone
// (alerts.Review.Validate). Errors: EINVALID, ENOTFOUND (no such unit),
// ECONFLICT (the day is signed already).
func (s *Store) SaveReview(ctx context.Context, r alerts.Review) error {
	switch {
	case r.UnitID <= 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs its unit.")
	case !validDay(r.Day):
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs the day as YYYY-MM-DD.")
	case strings.TrimSpace(r.By) == "" || r.By == alerts.SystemUser:
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs the reviewer's name.")
	case r.At.IsZero():
		return wardwatch.Errorf(wardwatch.EINVALID, "A review needs its time.")
	}
	if err := checkUserText("reviewer's name", r.By, 200); err != nil {
		return err
	}
	if err := checkUserText("action taken", r.Action, maxNoteText); err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save review: %w", err)
	}
	defer tx.Rollback()
	var one int
	if err := tx.QueryRowContext(ctx, s.rebind(`SELECT 1 FROM monitored_units WHERE id = ?`), r.UnitID).Scan(&one); err != nil {
		return mapErr(err, "save review", errMap{noRows: unitNotFound(r.UnitID)})
	}
	_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO alert_reviews (unit_id, day, reviewed_by, at, action) VALUES (?, ?, ?, ?, ?)`),
		r.UnitID, r.Day, r.By, r.At.UnixMicro(), r.Action)
	if err != nil {
		return mapErr(err, "save review", errMap{
			unique: wardwatch.Errorf(wardwatch.ECONFLICT, "The log of %s is already signed off for this unit.", r.Day),
		})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save review: %w", err)
	}
	return nil
}

// Reviews returns the sign-offs of days fromDay to toDay ("2006-01-02",
// inclusive; "" is open-ended) of one unit (0: every unit), oldest first.
// Errors: EINVALID (a malformed day).
func (s *Store) Reviews(ctx context.Context, unitID int64, fromDay, toDay string) ([]alerts.Review, error) {
	var (
		where []string
		args  []any
	)
	for _, d := range []struct {
		day, cond string
	}{{fromDay, "day >= ?"}, {toDay, "day <= ?"}} {
		if d.day == "" {
			continue
		}
		if !validDay(d.day) {
			return nil, wardwatch.Errorf(wardwatch.EINVALID, "Give days as YYYY-MM-DD.")
		}
		where, args = append(where, d.cond), append(args, d.day)
	}
	if unitID != 0 {
		where, args = append(where, "unit_id = ?"), append(args, unitID)
	}
	q := `SELECT unit_id, day, reviewed_by, at, action FROM alert_reviews`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.query(ctx, q+` ORDER BY day, unit_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	defer rows.Close()
	var out []alerts.Review
	for rows.Next() {
		var (
			r  alerts.Review
			at int64
		)
		if err := rows.Scan(&r.UnitID, &r.Day, &r.By, &at, &r.Action); err != nil {
			return nil, fmt.Errorf("reviews: %w", err)
		}
		r.At = time.UnixMicro(at).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reviews: %w", err)
	}
	return out, nil
}
