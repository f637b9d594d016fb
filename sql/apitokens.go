package sql

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardwatch/wardwatch"
)

// apiTokenTouchEvery is how often, at most, a token's last use is written.
const apiTokenTouchEvery = time.Minute

// Limits of an API token's fields.
const (
	maxAPITokenName   = 100
	maxAPITokenPrefix = 16
)

// CreateAPIToken stores an API token (its secret's SHA-256, never the
// secret) and sets t.ID and t.CreatedAt.
func (s *Store) CreateAPIToken(ctx context.Context, t *wardwatch.APIToken) error {
	name := strings.TrimSpace(t.Name)
	if name == "" || utf8.RuneCountInString(name) > maxAPITokenName || !utf8.ValidString(name) {
		return wardwatch.Errorf(wardwatch.EINVALID, "The token needs a name of at most %d characters.", maxAPITokenName)
	}
	if !t.Role.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "Choose the token's role.")
	}
	if len(t.SecretHash) != 32 {
		return wardwatch.Errorf(wardwatch.EINVALID, "API token hash must be 32 bytes")
	}
	if len(t.Prefix) > maxAPITokenPrefix {
		return wardwatch.Errorf(wardwatch.EINVALID, "API token prefix is too long")
	}
	t.Name = name
	t.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	t.LastUsed, t.RevokedAt = time.Time{}, time.Time{}
	err := s.queryRow(ctx, `INSERT INTO api_tokens (name, role, prefix, created_by, created_at, secret_hash)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, string(t.Role), t.Prefix, t.CreatedBy, millis(t.CreatedAt), t.SecretHash).Scan(&t.ID)
	return mapErr(err, "create API token", errMap{unique: wardwatch.Errorf(wardwatch.ECONFLICT, "That API token already exists.")})
}

const apiTokenColumns = `id, name, role, prefix, created_by, created_at, last_used, revoked_at, secret_hash`

func scanAPIToken(sc interface{ Scan(...any) error }) (wardwatch.APIToken, error) {
	var (
		t               wardwatch.APIToken
		role            string
		created         int64
		lastUsed, revok *int64
	)
	err := sc.Scan(&t.ID, &t.Name, &role, &t.Prefix, &t.CreatedBy, &created, &lastUsed, &revok, &t.SecretHash)
	t.Role = wardwatch.Role(role)
	t.CreatedAt = fromMillis(created)
	if lastUsed != nil {
		t.LastUsed = fromMillis(*lastUsed)
	}
	if revok != nil {
		t.RevokedAt = fromMillis(*revok)
	}
	return t, err
}

// APITokens lists every API token, revoked ones too, newest first.
func (s *Store) APITokens(ctx context.Context) ([]wardwatch.APIToken, error) {
	rows, err := s.query(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	defer rows.Close()
	var ts []wardwatch.APIToken
	for rows.Next() {
		t, err := scanAPIToken(rows)
		if err != nil {
			return nil, fmt.Errorf("list API tokens: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list API tokens: %w", err)
	}
	return ts, nil
}

// errNoAPIToken is the answer for an unknown or revoked token.
var errNoAPIToken = wardwatch.Errorf(wardwatch.ENOTFOUND, "no such API token")

// APITokenBySecretHash returns the active token whose secret hashes to
// hash; ENOTFOUND when there is none or it has been revoked. The lookup
// is by the hash (an index), so the secret is never compared byte by byte.
func (s *Store) APITokenBySecretHash(ctx context.Context, hash []byte) (wardwatch.APIToken, error) {
	if len(hash) != 32 {
		return wardwatch.APIToken{}, errNoAPIToken
	}
	t, err := scanAPIToken(s.queryRow(ctx, `SELECT `+apiTokenColumns+` FROM api_tokens WHERE secret_hash = ? AND revoked_at IS NULL`, hash))
	if err != nil {
		return wardwatch.APIToken{}, mapErr(err, "API token", errMap{noRows: errNoAPIToken})
	}
	return t, nil
}

// RevokeAPIToken revokes a token at once (ENOTFOUND when there is no such
// token). Revoking a revoked token keeps its first revocation time.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	now := millis(time.Now().UTC())
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "API token %d not found.", id),
		`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, now, id)
}

// TouchAPIToken records that token id was used at at. It writes at most
// once a minute per token: a use within a minute of the recorded one (or
// before it) changes nothing. An unknown token is not an error.
func (s *Store) TouchAPIToken(ctx context.Context, id int64, at time.Time) error {
	ms := millis(at.UTC())
	_, err := s.exec(ctx, `UPDATE api_tokens SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used <= ?)`,
		ms, id, ms-apiTokenTouchEvery.Milliseconds())
	if err != nil {
		return fmt.Errorf("touch API token %d: %w", id, err)
	}
	return nil
}
