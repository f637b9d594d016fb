package sql

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wardwatch/wardwatch"
	"github.com/wardwatch/wardwatch/floorplan"
)

// rfidFormats are the read formats a reader may be fixed to ("" detects).
var rfidFormats = []string{"", "wardwatch", "zebra", "impinj"}

// antennaKey is the key of the anchor gateway standing for an antenna.
func antennaKey(reader string, port int) string { return reader + "#" + strconv.Itoa(port) }

func validRFIDReader(r wardwatch.RFIDReader) error {
	bad := func(format string, args ...any) error { return wardwatch.Errorf(wardwatch.EINVALID, format, args...) }
	switch {
	case strings.TrimSpace(r.Key) == "" || strings.ContainsAny(r.Key, "#/ ") || len(r.Key) > 64:
		return bad("The reader key must be 1–64 characters without spaces, '/' or '#'.")
	case len(r.Name) > 200:
		return bad("The reader name is too long.")
	case !slices.Contains(rfidFormats, r.Format):
		return bad("Read format %q: want wardwatch, zebra, impinj or empty (detect).", r.Format)
	case len(r.Antennas) == 0 || len(r.Antennas) > 64:
		return bad("A reader needs 1 to 64 antennas, each watching a zone.")
	}
	ports := map[int]bool{}
	for _, a := range r.Antennas {
		if a.Port < 1 || a.Port > 64 || ports[a.Port] {
			return bad("Antenna ports must be distinct, 1 to 64.")
		}
		if a.ZoneID == 0 {
			return bad("Antenna %d needs a zone.", a.Port)
		}
		ports[a.Port] = true
	}
	if p := r.Portal; p != nil {
		if len(p.Inside) == 0 || len(p.Outside) == 0 || p.InsideZoneID == 0 || p.OutsideZoneID == 0 || p.InsideZoneID == p.OutsideZoneID {
			return bad("A door reader needs inside and outside antennas and two different zones.")
		}
		for _, port := range append(append([]int(nil), p.Inside...), p.Outside...) {
			if !ports[port] {
				return bad("Door antenna %d is not one of the reader's antennas.", port)
			}
		}
	}
	return nil
}

// SaveRFIDReader creates a reader (r.ID 0) or updates one, and keeps one
// room-anchor gateway per antenna: at the centre of the antenna's zone,
// anchored to it, keyed "<reader>#<port>". Antennas dropped lose their
// gateway. It sets r.ID and each antenna's GatewayID. The token hash is
// only changed by SetRFIDReaderToken.
func (s *Store) SaveRFIDReader(ctx context.Context, r *wardwatch.RFIDReader) error {
	if err := validRFIDReader(*r); err != nil {
		return err
	}
	portal := ""
	if r.Portal != nil {
		b, err := json.Marshal(r.Portal)
		if err != nil {
			return fmt.Errorf("save reader: %w", err)
		}
		portal = string(b)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save reader: %w", err)
	}
	defer tx.Rollback()
	conflict := errMap{unique: wardwatch.Errorf(wardwatch.ECONFLICT, "A reader or gateway with key %q already exists.", r.Key)}
	if r.ID == 0 {
		err = tx.QueryRowContext(ctx, s.rebind(`INSERT INTO rfid_readers (key, name, format, portal) VALUES (?, ?, ?, ?) RETURNING id`),
			r.Key, r.Name, r.Format, portal).Scan(&r.ID)
		if err != nil {
			return mapErr(err, "create reader", conflict)
		}
	} else {
		res, err := tx.ExecContext(ctx, s.rebind(`UPDATE rfid_readers SET key = ?, name = ?, format = ?, portal = ? WHERE id = ?`),
			r.Key, r.Name, r.Format, portal, r.ID)
		if err != nil {
			return mapErr(err, "update reader", conflict)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", r.ID)
		}
	}
	// Current antennas → gateways.
	old := map[int]int64{}
	rows, err := tx.QueryContext(ctx, s.rebind(`SELECT port, gateway_id FROM rfid_antennas WHERE reader_id = ?`), r.ID)
	if err != nil {
		return fmt.Errorf("save reader: %w", err)
	}
	for rows.Next() {
		var port int
		var gw int64
		if err := rows.Scan(&port, &gw); err != nil {
			rows.Close()
			return fmt.Errorf("save reader: %w", err)
		}
		old[port] = gw
	}
	rows.Close()
	keep := map[int]bool{}
	for i := range r.Antennas {
		a := &r.Antennas[i]
		keep[a.Port] = true
		var (
			floorID int64
			poly    string
		)
		if err := tx.QueryRowContext(ctx, s.rebind(`SELECT floor_id, polygon FROM zones WHERE id = ?`), a.ZoneID).Scan(&floorID, &poly); err != nil {
			return mapErr(err, "antenna zone", errMap{noRows: wardwatch.Errorf(wardwatch.ENOTFOUND, "Zone %d not found.", a.ZoneID)})
		}
		var pts []wardwatch.Point
		if err := json.Unmarshal([]byte(poly), &pts); err != nil {
			return fmt.Errorf("zone %d polygon: %w", a.ZoneID, err)
		}
		at := floorplan.Centroid(pts)
		key := antennaKey(r.Key, a.Port)
		name := fmt.Sprintf("%s antenna %d", cmp.Or(r.Name, r.Key), a.Port)
		if gw, ok := old[a.Port]; ok {
			_, err = tx.ExecContext(ctx, s.rebind(`UPDATE gateways SET key = ?, name = ?, floor_id = ?, x = ?, y = ?, z = 2.5, anchor_zone_id = ? WHERE id = ?`),
				key, name, floorID, at.X, at.Y, a.ZoneID, gw)
			a.GatewayID = gw
		} else {
			err = tx.QueryRowContext(ctx, s.rebind(`INSERT INTO gateways (key, name, floor_id, x, y, z, rssi_at_1m, path_loss_exponent, rx_offset, anchor_zone_id)
				VALUES (?, ?, ?, ?, ?, 2.5, 0, 0, 0, ?) RETURNING id`), key, name, floorID, at.X, at.Y, a.ZoneID).Scan(&a.GatewayID)
			if err == nil {
				_, err = tx.ExecContext(ctx, s.rebind(`INSERT INTO rfid_antennas (reader_id, port, gateway_id) VALUES (?, ?, ?)`), r.ID, a.Port, a.GatewayID)
			}
		}
		if err != nil {
			return mapErr(err, "antenna gateway", conflict)
		}
	}
	for port, gw := range old {
		if !keep[port] {
			if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM gateways WHERE id = ?`), gw); err != nil {
				return fmt.Errorf("remove antenna %d: %w", port, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save reader: %w", err)
	}
	return nil
}

// SetRFIDReaderToken sets the hash of a reader's push token (nil: it can
// no longer push).
func (s *Store) SetRFIDReaderToken(ctx context.Context, id int64, tokenHash []byte) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", id),
		`UPDATE rfid_readers SET token_hash = ? WHERE id = ?`, nullBytes(tokenHash), id)
}

// DeleteRFIDReader removes a reader and its antennas' gateways.
func (s *Store) DeleteRFIDReader(ctx context.Context, id int64) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("delete reader: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM gateways WHERE id IN (SELECT gateway_id FROM rfid_antennas WHERE reader_id = ?)`), id); err != nil {
		return fmt.Errorf("delete reader: %w", err)
	}
	res, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM rfid_readers WHERE id = ?`), id)
	if err != nil {
		return fmt.Errorf("delete reader: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return wardwatch.Errorf(wardwatch.ENOTFOUND, "Reader %d not found.", id)
	}
	return tx.Commit()
}

func (s *Store) scanRFIDReaders(ctx context.Context, where string, args ...any) ([]wardwatch.RFIDReader, error) {
	rows, err := s.query(ctx, `SELECT r.id, r.key, r.name, r.token_hash, r.format, r.portal, a.port, a.gateway_id, COALESCE(g.anchor_zone_id, 0)
		FROM rfid_readers r JOIN rfid_antennas a ON a.reader_id = r.id JOIN gateways g ON g.id = a.gateway_id `+where+`
		ORDER BY r.key, a.port`, args...)
	if err != nil {
		return nil, fmt.Errorf("list readers: %w", err)
	}
	defer rows.Close()
	var out []wardwatch.RFIDReader
	for rows.Next() {
		var (
			r      wardwatch.RFIDReader
			portal string
			a      wardwatch.RFIDAntenna
		)
		if err := rows.Scan(&r.ID, &r.Key, &r.Name, &r.TokenHash, &r.Format, &portal, &a.Port, &a.GatewayID, &a.ZoneID); err != nil {
			return nil, fmt.Errorf("list readers: %w", err)
		}
		if n := len(out); n > 0 && out[n-1].ID == r.ID {
			out[n-1].Antennas = append(out[n-1].Antennas, a)
			continue
		}
		if portal != "" {
			r.Portal = new(wardwatch.RFIDPortal)
			if err := json.Unmarshal([]byte(portal), r.Portal); err != nil {
				return nil, fmt.Errorf("reader %s portal: %w", r.Key, err)
			}
		}
		if len(r.TokenHash) == 0 {
			r.TokenHash = nil
		}
		r.Antennas = []wardwatch.RFIDAntenna{a}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list readers: %w", err)
	}
	return out, nil
}

// RFIDReaders lists the readers with their antennas, by key.
func (s *Store) RFIDReaders(ctx context.Context) ([]wardwatch.RFIDReader, error) {
	return s.scanRFIDReaders(ctx, "")
}

// RFIDReaderByKey returns the reader with key, with ENOTFOUND when none.
func (s *Store) RFIDReaderByKey(ctx context.Context, key string) (wardwatch.RFIDReader, error) {
	rs, err := s.scanRFIDReaders(ctx, "WHERE r.key = ?", key)
	if err != nil {
		return wardwatch.RFIDReader{}, err
	}
	if len(rs) == 0 {
		return wardwatch.RFIDReader{}, wardwatch.Errorf(wardwatch.ENOTFOUND, "reader %q not found", key)
	}
	return rs[0], nil
}
