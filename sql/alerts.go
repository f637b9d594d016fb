package sql

import (
	"context"
	dbsql "database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/alerts"
)

// Alerts, their audit and their notifications. The alerts package's Book
// keeps the open alerts in memory; the store keeps every alert, open and
// closed, the append-only audit of their transitions, and the log of every
// notification delivery attempt.
//
// Times in the alert tables are unix microseconds UTC: a time round-trips
// truncated to the microsecond (zero stays zero). NaN values are stored as
// NULL and come back NaN.

// Limits of ListAlerts and AlertAuditTrail.
const (
	DefaultAlertLimit      = 200
	MaxAlertLimit          = 5000
	DefaultAuditTrailLimit = 10000
	MaxAuditTrailLimit     = 100000
)

// maxErrorText caps the stored text of a delivery error.
const maxErrorText = 2000

// microsOrNull is t as unix microseconds for a nullable column: NULL for the
// zero time.
func microsOrNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// timeFromMicros reverses microsOrNull: the UTC time, or the zero time for
// NULL.
func timeFromMicros(n dbsql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

// storableText makes machine-made text storable on both engines: invalid
// UTF-8 is replaced and NUL bytes (which PostgreSQL refuses) are dropped.
// Valid text comes back unchanged.
func storableText(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, "\x00") {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
}

// checkUserText refuses text a person typed that cannot be stored as it is
// (invalid UTF-8, NUL bytes) or is longer than max bytes.
func checkUserText(what, s string, max int) error {
	switch {
	case !utf8.ValidString(s) || strings.Contains(s, "\x00"):
		return wardwatch.Errorf(wardwatch.EINVALID, "The %s contains characters that cannot be stored.", what)
	case len(s) > max:
		return wardwatch.Errorf(wardwatch.EINVALID, "The %s is longer than %d characters.", what, max)
	}
	return nil
}

// escalationJSON is an alert's escalation progress as stored.
type escalationJSON struct {
	Tiers     int         `json:"tiers"`
	ShiftNS   int64       `json:"shift_ns"`
	Reminders []time.Time `json:"reminders,omitempty"`
}

func formatEscalation(e alerts.Escalation) (string, error) {
	j := escalationJSON{Tiers: e.Tiers, ShiftNS: int64(e.Shift)}
	for _, r := range e.Reminders {
		if !r.IsZero() {
			r = r.UTC().Truncate(time.Microsecond)
		}
		j.Reminders = append(j.Reminders, r)
	}
	b, err := json.Marshal(j)
	return string(b), err
}

func parseEscalation(s string) (alerts.Escalation, error) {
	var j escalationJSON
	if err := json.Unmarshal([]byte(s), &j); err != nil {
		return alerts.Escalation{}, err
	}
	e := alerts.Escalation{Tiers: j.Tiers, Shift: time.Duration(j.ShiftNS)}
	for _, r := range j.Reminders {
		if !r.IsZero() {
			r = r.UTC()
		} else {
			r = time.Time{}
		}
		e.Reminders = append(e.Reminders, r)
	}
	return e, nil
}

// alertColumnNames are the alerts table's columns in the order alertArgs
// and scanAlert use.
var alertColumnNames = []string{
	"id", "rule_id", "subject_kind", "subject_id", "rule", "priority", "team", "unit_id", "subject_name", "state", "active",
	"value", "peak", "trough", "message", "opened_at", "raised_at", "cleared_at", "condition_since", "retriggers",
	"acked_by", "acked_at", "shelf_by", "shelf_reason", "shelf_at", "shelf_until",
	"suppression_kind", "suppression_reason", "suppression_by", "suppression_until",
	"resolution_cause", "resolution_action", "resolution_disposition", "resolution_by", "resolution_at",
	"closed_at", "annunciated_at", "escalation",
}

var (
	alertColumns = strings.Join(alertColumnNames, ", ")
	// upsertAlert inserts an alert or replaces every column of the stored
	// one with the same ID.
	upsertAlert = func() string {
		sets := make([]string, 0, len(alertColumnNames)-1)
		for _, c := range alertColumnNames[1:] {
			sets = append(sets, c+" = excluded."+c)
		}
		return `INSERT INTO alerts (` + alertColumns + `) VALUES (` +
			strings.TrimSuffix(strings.Repeat("?, ", len(alertColumnNames)), ", ") +
			`) ON CONFLICT (id) DO UPDATE SET ` + strings.Join(sets, ", ")
	}()
)

// alertArgs returns a's column values in alertColumnNames order.
func alertArgs(a alerts.Alert) ([]any, error) {
	switch {
	case a.ID <= 0:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "An alert needs a positive ID.")
	case a.Key.Rule == "" || a.Key.Subject.Kind == "" || a.Key.Subject.ID == "":
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Alert %d needs a rule and a subject.", a.ID)
	}
	rule, err := json.Marshal(a.Rule)
	if err != nil {
		return nil, &wardwatch.Error{Code: wardwatch.EINVALID, Message: fmt.Sprintf("The rule of alert %d cannot be stored.", a.ID), Err: err}
	}
	esc, err := formatEscalation(a.Escalation)
	if err != nil {
		return nil, fmt.Errorf("alert %d escalation: %w", a.ID, err)
	}
	t := storableText
	return []any{
		a.ID, t(a.Key.Rule), t(string(a.Key.Subject.Kind)), t(a.Key.Subject.ID), t(string(rule)),
		t(string(a.Priority)), t(string(a.Team)), a.UnitID, t(a.SubjectName), t(string(a.State)), boolInt(a.Active),
		nullFloat(a.Value), nullFloat(a.Peak), nullFloat(a.Trough), t(a.Message),
		microsOrNull(a.OpenedAt), microsOrNull(a.RaisedAt), microsOrNull(a.ClearedAt), microsOrNull(a.ConditionSince),
		int64(a.Retriggers), t(a.AckedBy), microsOrNull(a.AckedAt),
		t(a.Shelf.By), t(a.Shelf.Reason), microsOrNull(a.Shelf.At), microsOrNull(a.Shelf.Until),
		t(string(a.Suppression.Kind)), t(a.Suppression.Reason), t(a.Suppression.By), microsOrNull(a.Suppression.Until),
		t(a.Resolution.Cause), t(a.Resolution.Action), t(a.Resolution.Disposition), t(a.Resolution.By), microsOrNull(a.Resolution.At),
		microsOrNull(a.ClosedAt), microsOrNull(a.AnnunciatedAt), esc,
	}, nil
}

// scanAlert reads a row of alertColumns.
func scanAlert(sc interface{ Scan(...any) error }) (alerts.Alert, error) {
	var (
		a                                                       alerts.Alert
		subjectKind, rule, priority, team, state, suppKind, esc string
		active, retriggers                                      int64
		value, peak, trough                                     dbsql.NullFloat64
		opened, raised, cleared, since, acked                   dbsql.NullInt64
		shelfAt, shelfUntil, suppUntil, resolvedAt, closed, ann dbsql.NullInt64
	)
	err := sc.Scan(&a.ID, &a.Key.Rule, &subjectKind, &a.Key.Subject.ID, &rule, &priority, &team, &a.UnitID, &a.SubjectName,
		&state, &active, &value, &peak, &trough, &a.Message, &opened, &raised, &cleared, &since, &retriggers,
		&a.AckedBy, &acked, &a.Shelf.By, &a.Shelf.Reason, &shelfAt, &shelfUntil,
		&suppKind, &a.Suppression.Reason, &a.Suppression.By, &suppUntil,
		&a.Resolution.Cause, &a.Resolution.Action, &a.Resolution.Disposition, &a.Resolution.By, &resolvedAt,
		&closed, &ann, &esc)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal([]byte(rule), &a.Rule); err != nil {
		return a, fmt.Errorf("alert %d: stored rule: %w", a.ID, err)
	}
	if a.Escalation, err = parseEscalation(esc); err != nil {
		return a, fmt.Errorf("alert %d: stored escalation: %w", a.ID, err)
	}
	a.Key.Subject.Kind = alerts.SubjectKind(subjectKind)
	a.Priority, a.Team, a.State = alerts.Priority(priority), alerts.Team(team), alerts.State(state)
	a.Active, a.Retriggers = active == 1, int(retriggers)
	a.Value, a.Peak, a.Trough = floatOrNaN(value), floatOrNaN(peak), floatOrNaN(trough)
	a.OpenedAt, a.RaisedAt, a.ClearedAt = timeFromMicros(opened), timeFromMicros(raised), timeFromMicros(cleared)
	a.ConditionSince, a.AckedAt = timeFromMicros(since), timeFromMicros(acked)
	a.Shelf.At, a.Shelf.Until = timeFromMicros(shelfAt), timeFromMicros(shelfUntil)
	a.Suppression.Kind, a.Suppression.Until = alerts.SuppressionKind(suppKind), timeFromMicros(suppUntil)
	a.Resolution.At, a.ClosedAt, a.AnnunciatedAt = timeFromMicros(resolvedAt), timeFromMicros(closed), timeFromMicros(ann)
	return a, nil
}

// SaveAlerts stores alerts and appends audit records in one transaction:
// each alert is inserted, or replaces the stored alert with its ID (the Book
// assigns IDs; an alert listed twice ends as its last listing), and each
// audit record is appended. Every field round-trips, times truncated to the
// microsecond. Errors: EINVALID (an alert without ID, rule or subject, an
// audit record without time or for an alert never stored).
func (s *Store) SaveAlerts(ctx context.Context, as []alerts.Alert, audits []alerts.Audit) error {
	if len(as) == 0 && len(audits) == 0 {
		return nil
	}
	rows := make([][]any, len(as))
	for i, a := range as {
		args, err := alertArgs(a)
		if err != nil {
			return err
		}
		rows[i] = args
	}
	for _, au := range audits {
		switch {
		case au.AlertID <= 0:
			return wardwatch.Errorf(wardwatch.EINVALID, "An audit record needs its alert's ID.")
		case au.Time.IsZero():
			return wardwatch.Errorf(wardwatch.EINVALID, "The audit record of alert %d has no time.", au.AlertID)
		case au.Action == "":
			return wardwatch.Errorf(wardwatch.EINVALID, "The audit record of alert %d has no action.", au.AlertID)
		}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save alerts: %w", err)
	}
	defer tx.Rollback()
	if len(rows) > 0 {
		stmt, err := tx.PrepareContext(ctx, s.rebind(upsertAlert))
		if err != nil {
			return fmt.Errorf("save alerts: %w", err)
		}
		defer stmt.Close()
		for i, args := range rows {
			if _, err := stmt.ExecContext(ctx, args...); err != nil {
				return mapErr(err, fmt.Sprintf("save alert %d", as[i].ID), errMap{})
			}
		}
	}
	if len(audits) > 0 {
		stmt, err := tx.PrepareContext(ctx, s.rebind(`INSERT INTO alert_audit (alert_id, rule_id, subject_kind, subject_id,
			action, from_state, to_state, username, at, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`))
		if err != nil {
			return fmt.Errorf("save alert audit: %w", err)
		}
		defer stmt.Close()
		t := storableText
		for _, au := range audits {
			_, err := stmt.ExecContext(ctx, au.AlertID, t(au.Key.Rule), t(string(au.Key.Subject.Kind)), t(au.Key.Subject.ID),
				t(string(au.Action)), t(string(au.From)), t(string(au.To)), t(au.User), au.Time.UnixMicro(), t(au.Reason))
			if err != nil {
				return mapErr(err, "save alert audit", errMap{
					foreignKey: wardwatch.Errorf(wardwatch.EINVALID, "An audit record names alert %d, which is not stored.", au.AlertID),
				})
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save alerts: %w", err)
	}
	return nil
}

// queryAlerts runs a query selecting alertColumns.
func (s *Store) queryAlerts(ctx context.Context, what, query string, args ...any) ([]alerts.Alert, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []alerts.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// OpenAlerts returns the alerts not closed, by ID, and the highest alert ID
// ever stored (0 when none): what alerts.NewBook needs after a restart.
func (s *Store) OpenAlerts(ctx context.Context) (open []alerts.Alert, lastID int64, err error) {
	open, err = s.queryAlerts(ctx, "open alerts", `SELECT `+alertColumns+` FROM alerts WHERE closed_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, 0, err
	}
	if err := s.queryRow(ctx, `SELECT COALESCE(MAX(id), 0) FROM alerts`).Scan(&lastID); err != nil {
		return nil, 0, fmt.Errorf("last alert ID: %w", err)
	}
	return open, lastID, nil
}

func alertNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Alert %d not found.", id)
}

// Alert returns one alert, open or closed. Errors: ENOTFOUND.
func (s *Store) Alert(ctx context.Context, id int64) (alerts.Alert, error) {
	a, err := scanAlert(s.queryRow(ctx, `SELECT `+alertColumns+` FROM alerts WHERE id = ?`, id))
	if err != nil {
		return alerts.Alert{}, mapErr(err, "alert", errMap{noRows: alertNotFound(id)})
	}
	return a, nil
}

const alertAuditColumns = `au.alert_id, au.rule_id, au.subject_kind, au.subject_id, au.action, au.from_state, au.to_state,
	au.username, au.at, au.reason`

func (s *Store) queryAudits(ctx context.Context, what, query string, args ...any) ([]alerts.Audit, error) {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []alerts.Audit
	for rows.Next() {
		var (
			au                     alerts.Audit
			kind, action, from, to string
			at                     int64
		)
		if err := rows.Scan(&au.AlertID, &au.Key.Rule, &kind, &au.Key.Subject.ID, &action, &from, &to, &au.User, &at, &au.Reason); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		au.Key.Subject.Kind, au.Action = alerts.SubjectKind(kind), alerts.Action(action)
		au.From, au.To, au.Time = alerts.State(from), alerts.State(to), time.UnixMicro(at).UTC()
		out = append(out, au)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}

// AlertAudit returns the audit records of one alert, oldest first (in the
// order they were saved); none for an unknown alert.
func (s *Store) AlertAudit(ctx context.Context, alertID int64) ([]alerts.Audit, error) {
	return s.queryAudits(ctx, "alert audit", `SELECT `+alertAuditColumns+` FROM alert_audit au WHERE au.alert_id = ? ORDER BY au.id`, alertID)
}

// AlertAuditTrail returns the audit records timed in [from, to) (a zero
// bound is open), oldest first, of the alerts of one monitored unit (unitID
// 0: every alert), at most limit (0: DefaultAuditTrailLimit; at most
// MaxAuditTrailLimit). It is the inspector's export of alert handling.
func (s *Store) AlertAuditTrail(ctx context.Context, from, to time.Time, unitID int64, limit int) ([]alerts.Audit, error) {
	switch {
	case limit < 0:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The limit cannot be negative.")
	case limit == 0:
		limit = DefaultAuditTrailLimit
	case limit > MaxAuditTrailLimit:
		limit = MaxAuditTrailLimit
	}
	var (
		where []string
		args  []any
	)
	if !from.IsZero() {
		where, args = append(where, "au.at >= ?"), append(args, from.UnixMicro())
	}
	if !to.IsZero() {
		where, args = append(where, "au.at < ?"), append(args, to.UnixMicro())
	}
	q := `SELECT ` + alertAuditColumns + ` FROM alert_audit au`
	if unitID != 0 {
		q += ` JOIN alerts a ON a.id = au.alert_id`
		where, args = append(where, "a.unit_id = ?"), append(args, unitID)
	}
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY au.at, au.id LIMIT ?`
	return s.queryAudits(ctx, "alert audit trail", q, append(args, limit)...)
}

// AlertQuery selects alerts for ListAlerts. Zero fields select everything.
type AlertQuery struct {
	UnitID   int64
	Team     alerts.Team
	Priority alerts.Priority
	Closed   *bool     // nil: open and closed; true: closed only; false: open only
	From, To time.Time // opened in [From, To); zero: open-ended
	Limit    int       // 0: DefaultAlertLimit; at most MaxAlertLimit
}

// ListAlerts returns the alerts q selects, newest opened first. Errors:
// EINVALID (an unknown team or priority, a negative limit).
func (s *Store) ListAlerts(ctx context.Context, q AlertQuery) ([]alerts.Alert, error) {
	switch {
	case q.Team != "" && !q.Team.Valid():
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unknown team %q.", wardwatch.TruncateForMessage(string(q.Team)))
	case q.Priority != "" && !q.Priority.Valid():
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "Unknown priority %q.", wardwatch.TruncateForMessage(string(q.Priority)))
	case q.Limit < 0:
		return nil, wardwatch.Errorf(wardwatch.EINVALID, "The limit cannot be negative.")
	case q.Limit == 0:
		q.Limit = DefaultAlertLimit
	case q.Limit > MaxAlertLimit:
		q.Limit = MaxAlertLimit
	}
	var (
		where []string
		args  []any
	)
	if q.UnitID != 0 {
		where, args = append(where, "unit_id = ?"), append(args, q.UnitID)
	}
	if q.Team != "" {
		where, args = append(where, "team = ?"), append(args, string(q.Team))
	}
	if q.Priority != "" {
		where, args = append(where, "priority = ?"), append(args, string(q.Priority))
	}
	if q.Closed != nil {
		if *q.Closed {
			where = append(where, "closed_at IS NOT NULL")
		} else {
			where = append(where, "closed_at IS NULL")
		}
	}
	if !q.From.IsZero() {
		where, args = append(where, "opened_at >= ?"), append(args, q.From.UnixMicro())
	}
	if !q.To.IsZero() {
		where, args = append(where, "opened_at < ?"), append(args, q.To.UnixMicro())
	}
	query := `SELECT ` + alertColumns + ` FROM alerts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, " AND ")
	}
	query += ` ORDER BY opened_at DESC NULLS LAST, id DESC LIMIT ?`
	return s.queryAlerts(ctx, "list alerts", query, append(args, q.Limit)...)
}

// NotificationRecord is one delivery attempt of a notification: when it
// was made and, when it failed, the error's text ("" on success).
type NotificationRecord struct {
	alerts.Notification
	At    time.Time
	Error string
}

// RecordNotification appends one delivery attempt of n, made at at, to the
// delivery log; sendErr is the delivery's error (nil on success), of which
// only the text is kept. Errors: EINVALID (no alert ID or time).
func (s *Store) RecordNotification(ctx context.Context, n alerts.Notification, sendErr error, at time.Time) error {
	switch {
	case n.AlertID <= 0:
		return wardwatch.Errorf(wardwatch.EINVALID, "A notification needs its alert's ID.")
	case at.IsZero():
		return wardwatch.Errorf(wardwatch.EINVALID, "A delivery attempt needs its time.")
	}
	var errText string
	if sendErr != nil {
		errText = sendErr.Error()
		if errText == "" {
			errText = "delivery failed"
		}
		if len(errText) > maxErrorText {
			errText = strings.ToValidUTF8(errText[:maxErrorText], "") + "…"
		}
	}
	t := storableText
	_, err := s.exec(ctx, `INSERT INTO alert_notifications (notification_id, alert_id, rule_id, subject_kind, subject_id, tier,
		reminder, channel, group_name, address, team, unit_id, priority, state, due, title, body, at, error)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t(n.ID), n.AlertID, t(n.Key.Rule), t(string(n.Key.Subject.Kind)), t(n.Key.Subject.ID), int64(n.Tier),
		boolInt(n.Reminder), t(string(n.Channel)), t(n.Group), t(n.Address), t(string(n.Team)), n.UnitID,
		t(string(n.Priority)), t(string(n.State)), microsOrNull(n.Due), t(n.Title), t(n.Text), at.UnixMicro(), t(errText))
	return mapErr(err, "record notification", errMap{})
}

// Notifications returns the delivery log of one alert, oldest first.
func (s *Store) Notifications(ctx context.Context, alertID int64) ([]NotificationRecord, error) {
	rows, err := s.query(ctx, `SELECT notification_id, alert_id, rule_id, subject_kind, subject_id, tier, reminder, channel,
		group_name, address, team, unit_id, priority, state, due, title, body, at, error
		FROM alert_notifications WHERE alert_id = ? ORDER BY id`, alertID)
	if err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	defer rows.Close()
	var out []NotificationRecord
	for rows.Next() {
		var (
			r                                    NotificationRecord
			kind, channel, team, priority, state string
			tier, reminder, at                   int64
			due                                  dbsql.NullInt64
		)
		if err := rows.Scan(&r.ID, &r.AlertID, &r.Key.Rule, &kind, &r.Key.Subject.ID, &tier, &reminder, &channel,
			&r.Group, &r.Address, &team, &r.UnitID, &priority, &state, &due, &r.Title, &r.Text, &at, &r.Error); err != nil {
			return nil, fmt.Errorf("notifications: %w", err)
		}
		r.Key.Subject.Kind, r.Tier, r.Reminder = alerts.SubjectKind(kind), int(tier), reminder == 1
		r.Channel, r.Team, r.Priority, r.State = alerts.Channel(channel), alerts.Team(team), alerts.Priority(priority), alerts.State(state)
		r.Due, r.At = timeFromMicros(due), time.UnixMicro(at).UTC()
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("notifications: %w", err)
	}
	return out, nil
}
