package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// Audit bounds.
const (
	maxAuditValue    = 64 << 10 // bytes of an old or new snapshot
	defaultAuditPage = 100
	maxAuditPage     = 1000
)

// AppendAudit adds an entry to the audit log and sets e.ID; a zero Time
// means now. Snapshots longer than 64 KiB are cut (and marked so).
func (s *Store) AppendAudit(ctx context.Context, e *wardwatch.AuditEntry) error {
	if strings.TrimSpace(e.Action) == "" || strings.TrimSpace(e.Subject) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "audit entry needs an action and a subject")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	cut := func(v string) string {
		if len(v) > maxAuditValue {
			return v[:maxAuditValue] + "…(cut)"
		}
		return v
	}
	err := s.queryRow(ctx, `INSERT INTO audit_log (at, user_id, username, action, subject, subject_id, old_value, new_value, reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		millis(e.Time), nullID(e.UserID), e.Username, e.Action, e.Subject, e.SubjectID, cut(e.Old), cut(e.New), cut(e.Reason)).Scan(&e.ID)
	return mapErr(err, "append audit entry", errMap{})
}

// AuditLog returns audit entries, newest first.
func (s *Store) AuditLog(ctx context.Context, q wardwatch.AuditQuery) ([]wardwatch.AuditEntry, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditPage
	}
	limit = min(limit, maxAuditPage)
	var (
		where []string
		args  []any
	)
	if q.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, q.Subject)
		if q.SubjectID != "" {
			where, args = append(where, "subject_id = ?"), append(args, q.SubjectID)
		}
	}
	if q.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, q.BeforeID)
	}
	query := `SELECT id, at, COALESCE(user_id, 0), username, action, subject, subject_id, old_value, new_value, reason FROM audit_log`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	var es []wardwatch.AuditEntry
	for rows.Next() {
		var (
			e  wardwatch.AuditEntry
			at int64
		)
		if err := rows.Scan(&e.ID, &at, &e.UserID, &e.Username, &e.Action, &e.Subject, &e.SubjectID, &e.Old, &e.New, &e.Reason); err != nil {
			return nil, fmt.Errorf("read audit log: %w", err)
		}
		e.Time = fromMillis(at)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return es, nil
}
