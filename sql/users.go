package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

func userNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "user %d not found", id)
}

// CreateUser stores a new user and sets u.ID. A zero u.CreatedAt is set to
// now; either way it is rounded to the millisecond in UTC, as stored.
func (s *Store) CreateUser(ctx context.Context, u *wardwatch.User) error {
	if strings.TrimSpace(u.Username) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "username is empty")
	}
	if !u.Role.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown role %q", u.Role)
	}
	units, raw, err := encodeUnits(u.Units)
	if err != nil {
		return err
	}
	created := u.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}
	var id int64
	err = s.queryRow(ctx,
		`INSERT INTO users (username, role, password_hash, created_at, units) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		u.Username, string(u.Role), u.PasswordHash, millis(created), raw,
	).Scan(&id)
	if err != nil {
		return mapErr(err, "create user", errMap{
			unique: wardwatch.Errorf(wardwatch.ECONFLICT, "user %q already exists", u.Username),
		})
	}
	u.ID = id
	u.CreatedAt = fromMillis(millis(created))
	u.Units = units
	return nil
}

// encodeUnits checks a user's care units and returns them normalised, and
// as the JSON array the users.units column holds.
func encodeUnits(units []string) ([]string, string, error) {
	units, err := wardwatch.CheckCareUnits(units)
	if err != nil {
		return nil, "", err
	}
	if units == nil {
		return nil, "[]", nil
	}
	b, err := json.Marshal(units)
	if err != nil {
		return nil, "", fmt.Errorf("encode user units: %w", err)
	}
	return units, string(b), nil
}

const userColumns = `id, username, role, password_hash, created_at, units`

func scanUser(sc interface{ Scan(...any) error }) (wardwatch.User, error) {
	var (
		u       wardwatch.User
		role    string
		created int64
		units   string
	)
	err := sc.Scan(&u.ID, &u.Username, &role, &u.PasswordHash, &created, &units)
	if err != nil {
		return u, err
	}
	u.Role = wardwatch.Role(role)
	u.CreatedAt = fromMillis(created)
	if err := json.Unmarshal([]byte(units), &u.Units); err != nil {
		return u, fmt.Errorf("units of user %d: %w", u.ID, err)
	}
	if len(u.Units) == 0 {
		u.Units = nil
	}
	return u, nil
}

// User returns the user with id.
func (s *Store) User(ctx context.Context, id int64) (wardwatch.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return wardwatch.User{}, mapErr(err, fmt.Sprintf("user %d", id), errMap{noRows: userNotFound(id)})
	}
	return u, nil
}

// UserByUsername returns the user called username (case-sensitive).
func (s *Store) UserByUsername(ctx context.Context, username string) (wardwatch.User, error) {
	u, err := scanUser(s.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`, username))
	if err != nil {
		return wardwatch.User{}, mapErr(err, "user by username",
			errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "user %q not found", username)})
	}
	return u, nil
}

// Users returns every user, ordered by username.
func (s *Store) Users(ctx context.Context) ([]wardwatch.User, error) {
	rows, err := s.query(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var us []wardwatch.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return us, nil
}

// SetPassword replaces the password hash of user userID.
func (s *Store) SetPassword(ctx context.Context, userID int64, hash string) error {
	err := s.execOne(ctx, userNotFound(userID), `UPDATE users SET password_hash = ? WHERE id = ?`, hash, userID)
	return mapErr(err, "set password", errMap{})
}

// CreateSession stores a new session. Its times are kept to the
// millisecond.
func (s *Store) CreateSession(ctx context.Context, sess wardwatch.Session) error {
	if len(sess.TokenHash) == 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "session token hash is empty")
	}
	_, err := s.exec(ctx,
		`INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		sess.TokenHash, sess.UserID, millis(sess.CreatedAt), millis(sess.LastSeenAt), millis(sess.ExpiresAt))
	return mapErr(err, "create session", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "session already exists"),
		foreignKey: userNotFound(sess.UserID),
	})
}

// Session returns the session whose token hashes to tokenHash, expired or
// not: callers compare ExpiresAt with the time.
func (s *Store) Session(ctx context.Context, tokenHash []byte) (wardwatch.Session, error) {
	sess := wardwatch.Session{}
	var created, seen, expires int64
	err := s.queryRow(ctx,
		`SELECT token_hash, user_id, created_at, last_seen_at, expires_at FROM sessions WHERE token_hash = ?`,
		tokenHash,
	).Scan(&sess.TokenHash, &sess.UserID, &created, &seen, &expires)
	if err != nil {
		return wardwatch.Session{}, mapErr(err, "session",
			errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "session not found")})
	}
	sess.CreatedAt, sess.LastSeenAt, sess.ExpiresAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	return sess, nil
}

// TouchSession records that the session was used at lastSeen and now
// expires at expires.
func (s *Store) TouchSession(ctx context.Context, tokenHash []byte, lastSeen, expires time.Time) error {
	err := s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "session not found"),
		`UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?`,
		millis(lastSeen), millis(expires), tokenHash)
	return mapErr(err, "touch session", errMap{})
}

// DeleteSession removes the session, if it exists: signing out twice is
// not an error.
func (s *Store) DeleteSession(ctx context.Context, tokenHash []byte) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE token_hash = ?`, tokenHash)
	return mapErr(err, "delete session", errMap{})
}

// DeleteExpiredSessions removes the sessions that expired at or before now
// and returns how many it removed.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM sessions WHERE expires_at <= ?`, millis(now))
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", err)
	}
	return n, nil
}

// SetUserRole changes a user's role.
func (s *Store) SetUserRole(ctx context.Context, userID int64, role wardwatch.Role) error {
	if !role.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown role %q", role)
	}
	return s.execOne(ctx, userNotFound(userID), `UPDATE users SET role = ? WHERE id = ?`, string(role), userID)
}

// SetUserUnits sets the care units a user is scoped to; none: the whole
// site. Units are trimmed, checked, deduplicated and sorted.
func (s *Store) SetUserUnits(ctx context.Context, userID int64, units []string) error {
	_, raw, err := encodeUnits(units)
	if err != nil {
		return err
	}
	return mapErr(s.execOne(ctx, userNotFound(userID), `UPDATE users SET units = ? WHERE id = ?`, raw, userID),
		"set user units", errMap{})
}

// DeleteUser removes a user and signs them out everywhere.
func (s *Store) DeleteUser(ctx context.Context, userID int64) error {
	return s.execOne(ctx, userNotFound(userID), `DELETE FROM users WHERE id = ?`, userID)
}

// DeleteUserSessions signs a user out everywhere.
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := s.exec(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID)
	if err != nil {
		return fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return nil
}
