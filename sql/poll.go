package sql

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

func validPollTarget(p wardwatch.PollTarget) error {
	bad := func(format string, args ...any) error { return wardwatch.Errorf(wardwatch.EINVALID, format, args...) }
	u, err := url.Parse(p.URL)
	switch {
	case strings.TrimSpace(p.Name) == "" || len(p.Name) > 100:
		return bad("The poll target needs a name of at most 100 characters.")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(p.URL) > 2000:
		return bad("The URL must be an http or https address.")
	case u.User != nil:
		return bad("Put credentials in the Authorization header, not in the URL.")
	case p.Source != "ble" && p.Source != "rfid":
		return bad("Source %q: want ble or rfid.", p.Source)
	case strings.TrimSpace(p.Key) == "" || len(p.Key) > 100:
		return bad("Name the gateway or reader the data belongs to.")
	case len(p.Format) > 40:
		return bad("The format is too long.")
	case p.Interval < time.Second || p.Interval > 24*time.Hour:
		return bad("Poll interval %s: want 1s to 24h.", p.Interval)
	case p.Timeout < 100*time.Millisecond || p.Timeout > time.Minute || p.Timeout > p.Interval:
		return bad("Timeout %s: want 100ms to 1m, and not longer than the interval.", p.Timeout)
	case len(p.AuthHeader) > 1000 || strings.ContainsAny(p.AuthHeader, "\r\n"):
		return bad("The Authorization header is malformed.")
	}
	return nil
}

const pollColumns = `id, name, url, source, source_key, format, interval_ms, timeout_ms, auth_header, enabled`

func (s *Store) scanPollTarget(sc interface{ Scan(...any) error }) (wardwatch.PollTarget, error) {
	var (
		p                       wardwatch.PollTarget
		interval, timeout, enab int64
		auth                    []byte
	)
	if err := sc.Scan(&p.ID, &p.Name, &p.URL, &p.Source, &p.Key, &p.Format, &interval, &timeout, &auth, &enab); err != nil {
		return p, err
	}
	p.Interval, p.Timeout, p.Enabled = time.Duration(interval)*time.Millisecond, time.Duration(timeout)*time.Millisecond, enab == 1
	var err error
	p.AuthHeader, err = s.open(auth)
	return p, err
}

// SavePollTarget creates (p.ID 0) or updates a poll target. An empty
// AuthHeader on update keeps the stored one; ClearAuth removes it.
func (s *Store) SavePollTarget(ctx context.Context, p *wardwatch.PollTarget, clearAuth bool) error {
	if err := validPollTarget(*p); err != nil {
		return err
	}
	auth, err := s.seal(p.AuthHeader)
	if err != nil {
		return err
	}
	conflict := errMap{unique: wardwatch.Errorf(wardwatch.ECONFLICT, "A poll target named %q already exists.", p.Name)}
	if p.ID == 0 {
		err = s.queryRow(ctx, `INSERT INTO poll_targets (name, url, source, source_key, format, interval_ms, timeout_ms, auth_header, enabled)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			p.Name, p.URL, p.Source, p.Key, p.Format, p.Interval.Milliseconds(), p.Timeout.Milliseconds(), auth, boolInt(p.Enabled)).Scan(&p.ID)
		return mapErr(err, "create poll target", conflict)
	}
	keep := "COALESCE(?, auth_header)"
	if clearAuth {
		keep = "?"
	}
	err = s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "Poll target %d not found.", p.ID),
		`UPDATE poll_targets SET name = ?, url = ?, source = ?, source_key = ?, format = ?, interval_ms = ?, timeout_ms = ?,
		auth_header = `+keep+`, enabled = ? WHERE id = ?`,
		p.Name, p.URL, p.Source, p.Key, p.Format, p.Interval.Milliseconds(), p.Timeout.Milliseconds(), auth, boolInt(p.Enabled), p.ID)
	return mapErr(err, "update poll target", conflict)
}

// DeletePollTarget removes a poll target.
func (s *Store) DeletePollTarget(ctx context.Context, id int64) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "Poll target %d not found.", id), `DELETE FROM poll_targets WHERE id = ?`, id)
}

// PollTargets lists the poll targets by name, secrets opened.
func (s *Store) PollTargets(ctx context.Context) ([]wardwatch.PollTarget, error) {
	rows, err := s.query(ctx, `SELECT `+pollColumns+` FROM poll_targets ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list poll targets: %w", err)
	}
	defer rows.Close()
	var ps []wardwatch.PollTarget
	for rows.Next() {
		p, err := s.scanPollTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("list poll targets: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list poll targets: %w", err)
	}
	return ps, nil
}
