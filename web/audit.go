package web

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/wardwatch/wardwatch"
)

// AuditStore keeps the audit log.
type AuditStore interface {
	AppendAudit(ctx context.Context, e *wardwatch.AuditEntry) error
	AuditLog(ctx context.Context, q wardwatch.AuditQuery) ([]wardwatch.AuditEntry, error)
}

// auditor records admin changes in the audit log. A nil store records
// nothing (tests of other pages).
type auditor struct {
	store  AuditStore
	logger *slog.Logger
}

// snapshot renders v as the JSON an audit entry keeps; nil is "".
func snapshot(v any) string {
	if v == nil {
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%+v", v)
	}
	return string(b)
}

// record appends one entry for the signed-in viewer. A failure is logged
// as an error: the change itself has been made.
func (a auditor) record(ctx context.Context, action, subject string, id any, old, new any, reason string) {
	if a.store == nil {
		return
	}
	e := wardwatch.AuditEntry{
		Action: action, Subject: subject, SubjectID: fmt.Sprint(id),
		Old: snapshot(old), New: snapshot(new), Reason: reason,
	}
	if v := viewerFrom(ctx); v != nil {
		e.UserID, e.Username = v.User.ID, v.User.Username
	}
	if err := a.store.AppendAudit(ctx, &e); err != nil {
		a.logger.Error("audit log write failed", "action", action, "subject", subject, "id", e.SubjectID, "err", err)
	}
}

// auditedSNMP is an SNMP target as the audit log keeps it: secrets
// replaced by whether they are set.
type auditedSNMP struct {
	wardwatch.SNMPTarget
	Community    bool
	AuthPassword bool
	PrivPassword bool
}

func auditSNMP(t wardwatch.SNMPTarget) auditedSNMP {
	blank, c, a, p := blankSecrets(t)
	return auditedSNMP{SNMPTarget: blank, Community: c, AuthPassword: a, PrivPassword: p}
}

// auditView is the audit page.
type auditView struct {
	Entries []wardwatch.AuditEntry
	Subject string
	NextURL string
}

// handleAuditLog shows the audit log, newest first, 100 per page,
// optionally for one kind of subject.
func handleAuditLog(logger *slog.Logger, store AuditStore) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := wardwatch.AuditQuery{Limit: 100}
		if s := r.URL.Query().Get("subject"); s != "" && len(s) <= 40 {
			q.Subject = s
		}
		if b := r.URL.Query().Get("before"); b != "" {
			id, ok := parseID(b)
			if !ok {
				renderError(w, r, logger, wardwatch.Errorf(wardwatch.EINVALID, "The page address is malformed."))
				return
			}
			q.BeforeID = id
		}
		es, err := store.AuditLog(r.Context(), q)
		if err != nil {
			renderError(w, r, logger, fmt.Errorf("read audit log: %w", err))
			return
		}
		v := auditView{Entries: es, Subject: q.Subject}
		if len(es) == q.Limit {
			next := url.Values{"before": {strconv.FormatInt(es[len(es)-1].ID, 10)}}
			if q.Subject != "" {
				next.Set("subject", q.Subject)
			}
			v.NextURL = "/admin/audit?" + next.Encode()
		}
		p := newPageMeta(r, "Audit log")
		p.Nav = "admin"
		render(w, r, logger, http.StatusOK, auditPage(p, v))
	})
}
