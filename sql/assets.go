package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// CreateAsset stores a new asset and sets a.ID.
func (s *Store) CreateAsset(ctx context.Context, a *wardwatch.Asset) error {
	if strings.TrimSpace(a.Name) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "asset name is empty")
	}
	if !a.Kind.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown asset kind %q", a.Kind)
	}
	err := s.queryRow(ctx,
		`INSERT INTO assets (name, kind, created_at) VALUES (?, ?, ?) RETURNING id`,
		a.Name, string(a.Kind), millis(time.Now()),
	).Scan(&a.ID)
	return mapErr(err, "create asset", errMap{})
}

func scanAsset(sc interface{ Scan(...any) error }) (wardwatch.Asset, error) {
	var (
		a    wardwatch.Asset
		kind string
	)
	err := sc.Scan(&a.ID, &a.Name, &kind)
	a.Kind = wardwatch.AssetKind(kind)
	return a, err
}

// Asset returns the asset with id.
func (s *Store) Asset(ctx context.Context, id int64) (wardwatch.Asset, error) {
	a, err := scanAsset(s.queryRow(ctx, `SELECT id, name, kind FROM assets WHERE id = ?`, id))
	if err != nil {
		return wardwatch.Asset{}, mapErr(err, fmt.Sprintf("asset %d", id),
			errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", id)})
	}
	return a, nil
}

// Assets returns every asset, ordered by name, then ID.
func (s *Store) Assets(ctx context.Context) ([]wardwatch.Asset, error) {
	rows, err := s.query(ctx, `SELECT id, name, kind FROM assets ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	defer rows.Close()
	var as []wardwatch.Asset
	for rows.Next() {
		a, err := scanAsset(rows)
		if err != nil {
			return nil, fmt.Errorf("list assets: %w", err)
		}
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list assets: %w", err)
	}
	return as, nil
}

// CreateTag stores a tag fixed to an existing asset.
func (s *Store) CreateTag(ctx context.Context, t wardwatch.Tag) error {
	if strings.TrimSpace(t.ID) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "tag ID is empty")
	}
	_, err := s.exec(ctx, `INSERT INTO tags (id, asset_id) VALUES (?, ?)`, t.ID, t.AssetID)
	return mapErr(err, "create tag", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "tag %q already exists", t.ID),
		foreignKey: wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", t.AssetID),
	})
}

// Tags returns every tag, ordered by ID.
func (s *Store) Tags(ctx context.Context) ([]wardwatch.Tag, error) {
	rows, err := s.query(ctx, `SELECT id, asset_id FROM tags ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	defer rows.Close()
	var ts []wardwatch.Tag
	for rows.Next() {
		var t wardwatch.Tag
		if err := rows.Scan(&t.ID, &t.AssetID); err != nil {
			return nil, fmt.Errorf("list tags: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tags: %w", err)
	}
	return ts, nil
}
