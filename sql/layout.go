package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// UpdateFloor changes a floor's name, building, level and size.
func (s *Store) UpdateFloor(ctx context.Context, f wardwatch.Floor) error {
	switch {
	case strings.TrimSpace(f.Name) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "floor name is empty")
	case f.Level < math.MinInt32 || f.Level > math.MaxInt32:
		return wardwatch.Errorf(wardwatch.EINVALID, "floor level %d is out of range", f.Level)
	case !finite(f.Width, f.Height) || f.Width <= 0 || f.Height <= 0 || f.Width > 5000 || f.Height > 5000:
		return wardwatch.Errorf(wardwatch.EINVALID, "floor size must be 0 to 5000 m, got %g × %g m", f.Width, f.Height)
	}
	building, err := wardwatch.CheckBuilding(f.Building)
	if err != nil {
		return err
	}
	err = s.execOne(ctx, floorNotFound(f.ID), `UPDATE floors SET name = ?, building = ?, level = ?, width_m = ?, height_m = ? WHERE id = ?`,
		f.Name, building, f.Level, f.Width, f.Height, f.ID)
	return mapErr(err, "update floor", errMap{})
}

// ScaleFloor multiplies a floor's size and every coordinate on it (zones,
// gateways) by factor, in one transaction: used when an admin sets the
// plan's scale after drawing on it.
func (s *Store) ScaleFloor(ctx context.Context, floorID int64, factor float64) error {
	if !finite(factor) || factor <= 0 || factor > 1e4 || factor < 1e-4 {
		return wardwatch.Errorf(wardwatch.EINVALID, "scale factor %g is not usable", factor)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("scale floor: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.rebind(`UPDATE floors SET width_m = width_m * ?, height_m = height_m * ? WHERE id = ?`), factor, factor, floorID)
	if err != nil {
		return fmt.Errorf("scale floor: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return floorNotFound(floorID)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE gateways SET x = x * ?, y = y * ? WHERE floor_id = ?`), factor, factor, floorID); err != nil {
		return fmt.Errorf("scale gateways: %w", err)
	}
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT id, polygon FROM zones WHERE floor_id = ?`), floorID)
	if err != nil {
		return fmt.Errorf("scale zones: %w", err)
	}
	type zonePoly struct {
		id   int64
		poly []wardwatch.Point
	}
	var zs []zonePoly
	for rows.Next() {
		var (
			z   zonePoly
			raw string
		)
		if err := rows.Scan(&z.id, &raw); err != nil {
			rows.Close()
			return fmt.Errorf("scale zones: %w", err)
		}
		if err := json.Unmarshal([]byte(raw), &z.poly); err != nil {
			rows.Close()
			return fmt.Errorf("zone %d polygon: %w", z.id, err)
		}
		zs = append(zs, z)
	}
	rows.Close()
	for _, z := range zs {
		for i := range z.poly {
			z.poly[i].X *= factor
			z.poly[i].Y *= factor
		}
		b, _ := json.Marshal(z.poly)
		if _, err := tx.ExecContext(ctx, s.rebind(`UPDATE zones SET polygon = ? WHERE id = ?`), string(b), z.id); err != nil {
			return fmt.Errorf("scale zone %d: %w", z.id, err)
		}
	}
	return tx.Commit()
}

func zoneNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "zone %d not found", id)
}

// UpdateZone changes a zone's name, kind, care unit and polygon (its floor
// stays).
func (s *Store) UpdateZone(ctx context.Context, z wardwatch.Zone) error {
	switch {
	case strings.TrimSpace(z.Name) == "" || len(z.Name) > 100:
		return wardwatch.Errorf(wardwatch.EINVALID, "zone name must be 1 to 100 characters")
	case !z.Kind.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown zone kind %q", z.Kind)
	case !floorplan.ValidPolygon(z.Polygon) || len(z.Polygon) > 500:
		return wardwatch.Errorf(wardwatch.EINVALID, "zone %q needs a polygon of 3 to 500 points enclosing an area", z.Name)
	}
	unit, err := wardwatch.CheckCareUnit(z.CareUnit)
	if err != nil {
		return err
	}
	poly, err := json.Marshal(z.Polygon)
	if err != nil {
		return fmt.Errorf("encode zone polygon: %w", err)
	}
	return mapErr(s.execOne(ctx, zoneNotFound(z.ID), `UPDATE zones SET name = ?, kind = ?, polygon = ?, care_unit = ? WHERE id = ?`,
		z.Name, string(z.Kind), string(poly), unit, z.ID), "update zone", errMap{})
}

// DeleteZone removes a zone; gateways anchored to it and units in it keep
// existing without it.
func (s *Store) DeleteZone(ctx context.Context, id int64) error {
	return s.execOne(ctx, zoneNotFound(id), `DELETE FROM zones WHERE id = ?`, id)
}

// UpdateGateway changes a gateway's key, name, floor, position,
// calibration and anchor zone (not its token).
func (s *Store) UpdateGateway(ctx context.Context, g wardwatch.Gateway) error {
	if strings.TrimSpace(g.Key) == "" || len(g.Key) > 100 {
		return wardwatch.Errorf(wardwatch.EINVALID, "gateway key must be 1 to 100 characters")
	}
	if !finite(g.At.X, g.At.Y, g.Z, g.RSSIAt1m, g.PathLossExponent, g.RxOffset) {
		return wardwatch.Errorf(wardwatch.EINVALID, "gateway %q has a position or calibration that is not a number", g.Key)
	}
	err := s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "gateway %d not found", g.ID),
		`UPDATE gateways SET key = ?, name = ?, floor_id = ?, x = ?, y = ?, z = ?, rssi_at_1m = ?, path_loss_exponent = ?,
		rx_offset = ?, anchor_zone_id = ? WHERE id = ?`,
		g.Key, g.Name, g.FloorID, g.At.X, g.At.Y, g.Z, g.RSSIAt1m, g.PathLossExponent, g.RxOffset, nullID(g.AnchorZoneID), g.ID)
	return mapErr(err, "update gateway", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "gateway %q already exists", g.Key),
		foreignKey: gatewayReferenceNotFound(g),
	})
}

// DeleteGateway removes a gateway.
func (s *Store) DeleteGateway(ctx context.Context, id int64) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "gateway %d not found", id), `DELETE FROM gateways WHERE id = ?`, id)
}
