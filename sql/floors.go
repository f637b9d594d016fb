package sql

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

func floorNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d not found", id)
}

// CreateFloor stores a new floor and sets f.ID.
func (s *Store) CreateFloor(ctx context.Context, f *wardwatch.Floor) error {
	if strings.TrimSpace(f.Name) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "floor name is empty")
	}
	if f.Level < math.MinInt32 || f.Level > math.MaxInt32 {
		return wardwatch.Errorf(wardwatch.EINVALID, "floor level %d is out of range", f.Level)
	}
	if !finite(f.Width, f.Height) || f.Width <= 0 || f.Height <= 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "floor size must be positive, got %g × %g m", f.Width, f.Height)
	}
	building, err := wardwatch.CheckBuilding(f.Building)
	if err != nil {
		return err
	}
	f.Building = building
	err = s.queryRow(ctx,
		`INSERT INTO floors (name, building, level, width_m, height_m, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		f.Name, f.Building, f.Level, f.Width, f.Height, millis(time.Now()),
	).Scan(&f.ID)
	return mapErr(err, "create floor", errMap{})
}

const floorColumns = `id, name, building, level, width_m, height_m`

func scanFloor(sc interface{ Scan(...any) error }) (wardwatch.Floor, error) {
	var f wardwatch.Floor
	err := sc.Scan(&f.ID, &f.Name, &f.Building, &f.Level, &f.Width, &f.Height)
	return f, err
}

// Floor returns the floor with id.
func (s *Store) Floor(ctx context.Context, id int64) (wardwatch.Floor, error) {
	f, err := scanFloor(s.queryRow(ctx, `SELECT `+floorColumns+` FROM floors WHERE id = ?`, id))
	if err != nil {
		return wardwatch.Floor{}, mapErr(err, fmt.Sprintf("floor %d", id), errMap{noRows: floorNotFound(id)})
	}
	return f, nil
}

// Floors returns every floor grouped by building (the default building ""
// first), ordered by level, then name within a building.
func (s *Store) Floors(ctx context.Context) ([]wardwatch.Floor, error) {
	rows, err := s.query(ctx, `SELECT `+floorColumns+` FROM floors ORDER BY building, level, name, id`)
	if err != nil {
		return nil, fmt.Errorf("list floors: %w", err)
	}
	defer rows.Close()
	var fs []wardwatch.Floor
	for rows.Next() {
		f, err := scanFloor(rows)
		if err != nil {
			return nil, fmt.Errorf("list floors: %w", err)
		}
		fs = append(fs, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list floors: %w", err)
	}
	return fs, nil
}

// SetFloorPlan stores p as the plan of floor floorID, replacing any plan it
// had.
func (s *Store) SetFloorPlan(ctx context.Context, floorID int64, p wardwatch.FloorPlan) error {
	if strings.TrimSpace(p.ContentType) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "floor plan content type is empty")
	}
	if len(p.Data) == 0 {
		return wardwatch.Errorf(wardwatch.EINVALID, "floor plan is empty")
	}
	_, err := s.exec(ctx,
		`INSERT INTO floor_plans (floor_id, content_type, data) VALUES (?, ?, ?)
		ON CONFLICT (floor_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data`,
		floorID, p.ContentType, p.Data)
	return mapErr(err, "set floor plan", errMap{foreignKey: floorNotFound(floorID)})
}

// FloorPlan returns the plan of floor floorID.
func (s *Store) FloorPlan(ctx context.Context, floorID int64) (wardwatch.FloorPlan, error) {
	var p wardwatch.FloorPlan
	err := s.queryRow(ctx, `SELECT content_type, data FROM floor_plans WHERE floor_id = ?`, floorID).
		Scan(&p.ContentType, &p.Data)
	if err != nil {
		return wardwatch.FloorPlan{}, mapErr(err, "floor plan",
			errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d has no plan", floorID)})
	}
	return p, nil
}

// CreateZone stores a new zone and sets z.ID.
func (s *Store) CreateZone(ctx context.Context, z *wardwatch.Zone) error {
	if strings.TrimSpace(z.Name) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "zone name is empty")
	}
	if !z.Kind.Valid() {
		return wardwatch.Errorf(wardwatch.EINVALID, "unknown zone kind %q", z.Kind)
	}
	if !floorplan.ValidPolygon(z.Polygon) {
		return wardwatch.Errorf(wardwatch.EINVALID, "zone %q needs a polygon of at least three points enclosing an area", z.Name)
	}
	unit, err := wardwatch.CheckCareUnit(z.CareUnit)
	if err != nil {
		return err
	}
	z.CareUnit = unit
	poly, err := json.Marshal(z.Polygon)
	if err != nil {
		return fmt.Errorf("encode zone polygon: %w", err)
	}
	err = s.queryRow(ctx,
		`INSERT INTO zones (floor_id, name, kind, polygon, care_unit) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		z.FloorID, z.Name, string(z.Kind), string(poly), z.CareUnit,
	).Scan(&z.ID)
	return mapErr(err, "create zone", errMap{foreignKey: floorNotFound(z.FloorID)})
}

// Zones returns the zones of floor floorID, or of every floor when floorID
// is 0, ordered by floor, then name.
func (s *Store) Zones(ctx context.Context, floorID int64) ([]wardwatch.Zone, error) {
	q := `SELECT id, floor_id, name, kind, polygon, care_unit FROM zones`
	var args []any
	if floorID != 0 {
		q += ` WHERE floor_id = ?`
		args = append(args, floorID)
	}
	rows, err := s.query(ctx, q+` ORDER BY floor_id, name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	defer rows.Close()
	var zs []wardwatch.Zone
	for rows.Next() {
		var (
			z    wardwatch.Zone
			kind string
			poly string
		)
		if err := rows.Scan(&z.ID, &z.FloorID, &z.Name, &kind, &poly, &z.CareUnit); err != nil {
			return nil, fmt.Errorf("list zones: %w", err)
		}
		z.Kind = wardwatch.ZoneKind(kind)
		if err := json.Unmarshal([]byte(poly), &z.Polygon); err != nil {
			return nil, fmt.Errorf("list zones: polygon of zone %d: %w", z.ID, err)
		}
		zs = append(zs, z)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list zones: %w", err)
	}
	return zs, nil
}

// CreateGateway stores a new gateway and sets g.ID.
func (s *Store) CreateGateway(ctx context.Context, g *wardwatch.Gateway) error {
	if strings.TrimSpace(g.Key) == "" {
		return wardwatch.Errorf(wardwatch.EINVALID, "gateway key is empty")
	}
	if !finite(g.At.X, g.At.Y, g.Z, g.RSSIAt1m, g.PathLossExponent, g.RxOffset) {
		return wardwatch.Errorf(wardwatch.EINVALID, "gateway %q has a position or calibration that is not a number", g.Key)
	}
	err := s.queryRow(ctx,
		`INSERT INTO gateways (key, name, floor_id, x, y, z, rssi_at_1m, path_loss_exponent, rx_offset, anchor_zone_id, token_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		g.Key, g.Name, g.FloorID, g.At.X, g.At.Y, g.Z, g.RSSIAt1m, g.PathLossExponent, g.RxOffset, nullID(g.AnchorZoneID), nullBytes(g.TokenHash),
	).Scan(&g.ID)
	return mapErr(err, "create gateway", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "gateway %q already exists", g.Key),
		foreignKey: gatewayReferenceNotFound(*g),
	})
}

// gatewayReferenceNotFound names what a gateway refers to that may be missing.
func gatewayReferenceNotFound(g wardwatch.Gateway) error {
	if g.AnchorZoneID == 0 {
		return floorNotFound(g.FloorID)
	}
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "floor %d or anchor zone %d not found", g.FloorID, g.AnchorZoneID)
}

const gatewayColumns = `id, key, name, floor_id, x, y, z, rssi_at_1m, path_loss_exponent, rx_offset, COALESCE(anchor_zone_id, 0), token_hash`

func scanGateway(sc interface{ Scan(...any) error }) (wardwatch.Gateway, error) {
	var g wardwatch.Gateway
	err := sc.Scan(&g.ID, &g.Key, &g.Name, &g.FloorID, &g.At.X, &g.At.Y, &g.Z, &g.RSSIAt1m, &g.PathLossExponent, &g.RxOffset, &g.AnchorZoneID, &g.TokenHash)
	if len(g.TokenHash) == 0 {
		g.TokenHash = nil
	}
	return g, err
}

// Gateways returns every gateway, ordered by key.
func (s *Store) Gateways(ctx context.Context) ([]wardwatch.Gateway, error) {
	rows, err := s.query(ctx, `SELECT `+gatewayColumns+` FROM gateways ORDER BY key`)
	if err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	defer rows.Close()
	var gs []wardwatch.Gateway
	for rows.Next() {
		g, err := scanGateway(rows)
		if err != nil {
			return nil, fmt.Errorf("list gateways: %w", err)
		}
		gs = append(gs, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list gateways: %w", err)
	}
	return gs, nil
}

// GatewayByKey returns the gateway that reports itself as key.
func (s *Store) GatewayByKey(ctx context.Context, key string) (wardwatch.Gateway, error) {
	g, err := scanGateway(s.queryRow(ctx, `SELECT `+gatewayColumns+` FROM gateways WHERE key = ?`, key))
	if err != nil {
		return wardwatch.Gateway{}, mapErr(err, "gateway by key",
			errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "gateway %q not found", key)})
	}
	return g, nil
}

// SetGatewayToken sets the hash of gateway id's push token; an empty hash
// removes it, so the gateway can no longer push.
func (s *Store) SetGatewayToken(ctx context.Context, id int64, tokenHash []byte) error {
	err := s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "gateway %d not found", id),
		`UPDATE gateways SET token_hash = ? WHERE id = ?`, nullBytes(tokenHash), id)
	return mapErr(err, "set gateway token", errMap{})
}
