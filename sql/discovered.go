package sql

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// MaxDiscoveredTags caps the discovered-tags list: when it is full, tags
// not yet listed are not added until old ones are pruned or assigned.
const MaxDiscoveredTags = 10000

// RecordDiscoveredTags merges reports of unassigned tags into the
// discovered-tags list: first seen is kept, last seen, gateway and RSSI
// follow the newest report, and sightings add up. Tags that belong to an
// asset by now are skipped. New tags beyond MaxDiscoveredTags are dropped;
// it returns how many were.
func (s *Store) RecordDiscoveredTags(ctx context.Context, ds []wardwatch.DiscoveredTag) (dropped int, err error) {
	if len(ds) == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("record discovered tags: %w", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM discovered_tags`).Scan(&n); err != nil {
		return 0, fmt.Errorf("record discovered tags: %w", err)
	}
	update := s.rebind(`UPDATE discovered_tags SET
		first_seen = CASE WHEN first_seen < ? THEN first_seen ELSE ? END,
		last_seen = CASE WHEN last_seen > ? THEN last_seen ELSE ? END,
		gateway_id = CASE WHEN last_seen > ? THEN gateway_id ELSE (SELECT id FROM gateways WHERE id = ?) END,
		rssi = CASE WHEN last_seen > ? THEN rssi ELSE ? END,
		sightings = sightings + ?
		WHERE tag_id = ?`)
	insert := s.rebind(`INSERT INTO discovered_tags (tag_id, first_seen, last_seen, gateway_id, rssi, sightings)
		SELECT ?, ?, ?, (SELECT id FROM gateways WHERE id = ?), ?, ?
		WHERE NOT EXISTS (SELECT 1 FROM tags WHERE id = ?)`)
	for _, d := range ds {
		if strings.TrimSpace(d.TagID) == "" || !finite(d.RSSI) || d.Sightings < 0 {
			return 0, wardwatch.Errorf(wardwatch.EINVALID, "invalid discovered tag %q", d.TagID)
		}
		first, last := millis(d.FirstSeen), millis(d.LastSeen)
		gw := nullID(d.GatewayID)
		res, err := tx.ExecContext(ctx, update, first, first, last, last, last, gw, last, d.RSSI, d.Sightings, d.TagID)
		if err != nil {
			return 0, mapErr(err, "record discovered tag", errMap{})
		}
		if k, _ := res.RowsAffected(); k > 0 {
			continue
		}
		if n >= MaxDiscoveredTags {
			dropped++
			continue
		}
		res, err = tx.ExecContext(ctx, insert, d.TagID, first, last, gw, d.RSSI, d.Sightings, d.TagID)
		if err != nil {
			return 0, mapErr(err, "record discovered tag", errMap{})
		}
		if k, _ := res.RowsAffected(); k > 0 {
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("record discovered tags: %w", err)
	}
	return dropped, nil
}

// DiscoveredTags lists the discovered tags, most recently heard first.
func (s *Store) DiscoveredTags(ctx context.Context) ([]wardwatch.DiscoveredTag, error) {
	rows, err := s.query(ctx, `SELECT tag_id, first_seen, last_seen, COALESCE(gateway_id, 0), rssi, sightings
		FROM discovered_tags ORDER BY last_seen DESC, tag_id`)
	if err != nil {
		return nil, fmt.Errorf("list discovered tags: %w", err)
	}
	defer rows.Close()
	var ds []wardwatch.DiscoveredTag
	for rows.Next() {
		var (
			d           wardwatch.DiscoveredTag
			first, last int64
		)
		if err := rows.Scan(&d.TagID, &first, &last, &d.GatewayID, &d.RSSI, &d.Sightings); err != nil {
			return nil, fmt.Errorf("list discovered tags: %w", err)
		}
		d.FirstSeen, d.LastSeen = fromMillis(first), fromMillis(last)
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list discovered tags: %w", err)
	}
	return ds, nil
}

// AssignDiscoveredTag makes a discovered tag an asset's tag, in one step:
// the tag is created and leaves the discovered list. It fails with
// ENOTFOUND when the tag is not in the list or the asset does not exist,
// and ECONFLICT when the tag already belongs to an asset.
func (s *Store) AssignDiscoveredTag(ctx context.Context, tagID string, assetID int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("assign tag: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM discovered_tags WHERE tag_id = ?`), tagID)
	if err != nil {
		return fmt.Errorf("assign tag: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "tag %q is not in the discovered tags", tagID)
	}
	_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO tags (id, asset_id) VALUES (?, ?)`), tagID, assetID)
	if err != nil {
		return mapErr(err, "assign tag", errMap{
			unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "tag %q already belongs to an asset", tagID),
			foreignKey: wardwatch.Errorf(wardwatch.ENOTFOUND, "asset %d not found", assetID),
		})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("assign tag: %w", err)
	}
	return nil
}

// DismissDiscoveredTag removes a tag from the discovered list (a visitor's
// beacon, say); it comes back if it is heard again.
func (s *Store) DismissDiscoveredTag(ctx context.Context, tagID string) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "tag %q is not in the discovered tags", tagID),
		`DELETE FROM discovered_tags WHERE tag_id = ?`, tagID)
}

// PruneDiscoveredTags removes discovered tags not heard since before.
func (s *Store) PruneDiscoveredTags(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM discovered_tags WHERE last_seen < ?`, millis(before))
	if err != nil {
		return 0, fmt.Errorf("prune discovered tags: %w", err)
	}
	return res.RowsAffected()
}
