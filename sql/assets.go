package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// validAsset checks a and returns it with its text trimmed and its UDI in
// canonical form.
func validAsset(a wardwatch.Asset) (wardwatch.Asset, error) {
	a.AssetTag, a.Serial = strings.TrimSpace(a.AssetTag), strings.TrimSpace(a.Serial)
	var err error
	if a.UDI, err = wardwatch.CheckUDI(a.UDI); err != nil {
		return a, err
	}
	if a.Manufacturer, err = wardwatch.CheckManufacturer(a.Manufacturer); err != nil {
		return a, err
	}
	if a.Model, err = wardwatch.CheckModel(a.Model); err != nil {
		return a, err
	}
	switch {
	case strings.TrimSpace(a.Name) == "":
		return a, wardwatch.Errorf(wardwatch.EINVALID, "asset name is empty")
	case len(a.Name) > 200 || len(a.AssetTag) > 100 || len(a.Serial) > 100:
		return a, wardwatch.Errorf(wardwatch.EINVALID, "asset name, tag or serial is too long")
	case !a.Kind.Valid():
		return a, wardwatch.Errorf(wardwatch.EINVALID, "unknown asset kind %q", a.Kind)
	case a.Status != "" && !a.Status.Valid():
		return a, wardwatch.Errorf(wardwatch.EINVALID, "unknown asset status %q", a.Status)
	}
	return a, nil
}

func statusOrAvailable(s wardwatch.AssetStatus) string {
	if s == "" {
		return string(wardwatch.StatusAvailable)
	}
	return string(s)
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return millis(t)
}

// CreateAsset stores a new asset and sets a.ID (and an empty Status to
// available); a's asset tag, serial, manufacturer and model come back
// trimmed and its UDI in canonical form (wardwatch.CheckUDI).
func (s *Store) CreateAsset(ctx context.Context, a *wardwatch.Asset) error {
	v, err := validAsset(*a)
	if err != nil {
		return err
	}
	*a = v
	a.Status = wardwatch.AssetStatus(statusOrAvailable(a.Status))
	if !a.PMDue.IsZero() {
		a.PMDue = a.PMDue.UTC().Truncate(time.Millisecond)
	}
	err = s.queryRow(ctx,
		`INSERT INTO assets (name, kind, created_at, status, asset_tag, serial, pm_due, udi, manufacturer, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		a.Name, string(a.Kind), millis(time.Now()), string(a.Status), a.AssetTag, a.Serial, nullTime(a.PMDue), a.UDI, a.Manufacturer, a.Model,
	).Scan(&a.ID)
	return mapErr(err, "create asset", errMap{})
}

// UpdateAsset changes an asset's name, kind, status, asset tag, serial,
// PM due date, UDI, manufacturer and model.
func (s *Store) UpdateAsset(ctx context.Context, a wardwatch.Asset) error {
	a, err := validAsset(a)
	if err != nil {
		return err
	}
	err = s.execOne(ctx, assetNotFound(a.ID),
		`UPDATE assets SET name = ?, kind = ?, status = ?, asset_tag = ?, serial = ?, pm_due = ?, udi = ?, manufacturer = ?, model = ? WHERE id = ?`,
		a.Name, string(a.Kind), statusOrAvailable(a.Status), a.AssetTag, a.Serial, nullTime(a.PMDue), a.UDI, a.Manufacturer, a.Model, a.ID)
	return mapErr(err, "update asset", errMap{})
}

// SetAssetStatus changes only an asset's status.
func (s *Store) SetAssetStatus(ctx context.Context, id int64, st wardwatch.AssetStatus) error {
	if !st.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown asset status %q", st)
	}
	return s.execOne(ctx, assetNotFound(id), `UPDATE assets SET status = ? WHERE id = ?`, string(st), id)
}

// DeleteAsset removes an asset and its tags.
func (s *Store) DeleteAsset(ctx context.Context, id int64) error {
	return s.execOne(ctx, assetNotFound(id), `DELETE FROM assets WHERE id = ?`, id)
}

func assetNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", id)
}

const assetColumns = `id, name, kind, status, asset_tag, serial, pm_due, udi, manufacturer, model`

func scanAsset(sc interface{ Scan(...any) error }) (wardwatch.Asset, error) {
	var (
		a            wardwatch.Asset
		kind, status string
		pmDue        *int64
	)
	err := sc.Scan(&a.ID, &a.Name, &kind, &status, &a.AssetTag, &a.Serial, &pmDue, &a.UDI, &a.Manufacturer, &a.Model)
	a.Kind, a.Status = wardwatch.AssetKind(kind), wardwatch.AssetStatus(status)
	if pmDue != nil {
		a.PMDue = fromMillis(*pmDue)
	}
	return a, err
}

// Asset returns the asset with id.
func (s *Store) Asset(ctx context.Context, id int64) (wardwatch.Asset, error) {
	a, err := scanAsset(s.queryRow(ctx, `SELECT `+assetColumns+` FROM assets WHERE id = ?`, id))
	if err != nil {
		return wardwatch.Asset{}, mapErr(err, fmt.Sprintf("asset %d", id), errMap{noRows: assetNotFound(id)})
	}
	return a, nil
}

// Assets returns every asset, ordered by name, then ID.
func (s *Store) Assets(ctx context.Context) ([]wardwatch.Asset, error) {
	rows, err := s.query(ctx, `SELECT `+assetColumns+` FROM assets ORDER BY name, id`)
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

// DeleteTag removes a tag from its asset.
func (s *Store) DeleteTag(ctx context.Context, id string) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "tag %q not found", id), `DELETE FROM tags WHERE id = ?`, id)
}

// AssetBySerialOrTag finds the asset whose serial number or asset tag is
// key (pumps link to assets this way), with ENOTFOUND when none.
func (s *Store) AssetBySerialOrTag(ctx context.Context, key string) (wardwatch.Asset, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return wardwatch.Asset{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "no asset with an empty serial")
	}
	a, err := scanAsset(s.queryRow(ctx, `SELECT `+assetColumns+` FROM assets WHERE serial = ? OR asset_tag = ? ORDER BY (serial = ?) DESC, id LIMIT 1`, key, key, key))
	if err != nil {
		return wardwatch.Asset{}, mapErr(err, "asset by serial", errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "no asset with serial or asset tag %q", key)})
	}
	return a, nil
}
