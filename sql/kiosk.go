package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// CreateKioskToken stores a kiosk token (its hash) and sets k.ID and
// k.CreatedAt.
func (s *Store) CreateKioskToken(ctx context.Context, k *wardwatch.KioskToken) error {
	if strings.TrimSpace(k.Name) == "" || len(k.Name) > 100 {
		return wardwatch.Errorf(wardwatch.EINVALID, "The display needs a name of at most 100 characters.")
	}
	if len(k.TokenHash) != 32 {
		return wardwatch.Errorf(wardwatch.EINVALID, "kiosk token hash must be 32 bytes")
	}
	k.CreatedAt = time.Now().UTC().Truncate(time.Millisecond)
	err := s.queryRow(ctx, `INSERT INTO kiosk_tokens (name, floor_id, token_hash, created_at) VALUES (?, ?, ?, ?) RETURNING id`,
		k.Name, nullID(k.FloorID), k.TokenHash, millis(k.CreatedAt)).Scan(&k.ID)
	return mapErr(err, "create kiosk token", errMap{foreignKey: floorNotFound(k.FloorID),
		unique: wardwatch.Errorf(wardwatch.ECONFLICT, "That kiosk token already exists.")})
}

func scanKiosk(sc interface{ Scan(...any) error }) (wardwatch.KioskToken, error) {
	var (
		k       wardwatch.KioskToken
		created int64
	)
	err := sc.Scan(&k.ID, &k.Name, &k.FloorID, &k.TokenHash, &created)
	k.CreatedAt = fromMillis(created)
	return k, err
}

// KioskByTokenHash returns the kiosk token with hash, ENOTFOUND when none.
func (s *Store) KioskByTokenHash(ctx context.Context, hash []byte) (wardwatch.KioskToken, error) {
	k, err := scanKiosk(s.queryRow(ctx, `SELECT id, name, COALESCE(floor_id, 0), token_hash, created_at FROM kiosk_tokens WHERE token_hash = ?`, hash))
	if err != nil {
		return k, mapErr(err, "kiosk token", errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "no such kiosk token")})
	}
	return k, nil
}

// KioskTokens lists the kiosk tokens by name.
func (s *Store) KioskTokens(ctx context.Context) ([]wardwatch.KioskToken, error) {
	rows, err := s.query(ctx, `SELECT id, name, COALESCE(floor_id, 0), token_hash, created_at FROM kiosk_tokens ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list kiosk tokens: %w", err)
	}
	defer rows.Close()
	var ks []wardwatch.KioskToken
	for rows.Next() {
		k, err := scanKiosk(rows)
		if err != nil {
			return nil, fmt.Errorf("list kiosk tokens: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list kiosk tokens: %w", err)
	}
	return ks, nil
}

// DeleteKioskToken revokes a kiosk token at once.
func (s *Store) DeleteKioskToken(ctx context.Context, id int64) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "Kiosk token %d not found.", id), `DELETE FROM kiosk_tokens WHERE id = ?`, id)
}
