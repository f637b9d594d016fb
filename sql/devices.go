package sql

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardwatch/wardwatch"
)

// ---- Monitored units ----

func validUnit(u wardwatch.MonitoredUnit) error {
	switch {
	case strings.TrimSpace(u.Name) == "":
		return wardwatch.Errorf(wardwatch.EINVALID, "The unit needs a name.")
	case len(u.Name) > 200:
		return wardwatch.Errorf(wardwatch.EINVALID, "The unit name is too long.")
	case !u.Profile.Valid():
		return wardwatch.Errorf(wardwatch.EINVALID, "Unknown unit profile %q.", u.Profile)
	}
	return nil
}

// CreateUnit stores a monitored unit and sets u.ID.
func (s *Store) CreateUnit(ctx context.Context, u *wardwatch.MonitoredUnit) error {
	if err := validUnit(*u); err != nil {
		return err
	}
	err := s.queryRow(ctx, `INSERT INTO monitored_units (name, profile, zone_id) VALUES (?, ?, ?) RETURNING id`,
		u.Name, string(u.Profile), nullID(u.ZoneID)).Scan(&u.ID)
	return mapErr(err, "create unit", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "A unit named %q already exists.", u.Name),
		foreignKey: wardwatch.Errorf(wardwatch.ENOTFOUND, "Zone %d not found.", u.ZoneID),
	})
}

// UpdateUnit changes a monitored unit.
func (s *Store) UpdateUnit(ctx context.Context, u wardwatch.MonitoredUnit) error {
	if err := validUnit(u); err != nil {
		return err
	}
	err := s.execOne(ctx, unitNotFound(u.ID), `UPDATE monitored_units SET name = ?, profile = ?, zone_id = ? WHERE id = ?`,
		u.Name, string(u.Profile), nullID(u.ZoneID), u.ID)
	return mapErr(err, "update unit", errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "A unit named %q already exists.", u.Name),
		foreignKey: wardwatch.Errorf(wardwatch.ENOTFOUND, "Zone %d not found.", u.ZoneID),
	})
}

func unitNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Unit %d not found.", id)
}

// DeleteUnit removes a monitored unit; its devices stay, unbound.
func (s *Store) DeleteUnit(ctx context.Context, id int64) error {
	return s.execOne(ctx, unitNotFound(id), `DELETE FROM monitored_units WHERE id = ?`, id)
}

// Units lists the monitored units by name.
func (s *Store) Units(ctx context.Context) ([]wardwatch.MonitoredUnit, error) {
	rows, err := s.query(ctx, `SELECT id, name, profile, COALESCE(zone_id, 0) FROM monitored_units ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	defer rows.Close()
	var us []wardwatch.MonitoredUnit
	for rows.Next() {
		var (
			u       wardwatch.MonitoredUnit
			profile string
		)
		if err := rows.Scan(&u.ID, &u.Name, &profile, &u.ZoneID); err != nil {
			return nil, fmt.Errorf("list units: %w", err)
		}
		u.Profile = wardwatch.UnitProfile(profile)
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	return us, nil
}

// ---- Modbus devices ----

func validModbusDevice(d wardwatch.ModbusDevice) error {
	bad := func(format string, args ...any) error { return wardwatch.Errorf(wardwatch.EINVALID, format, args...) }
	switch {
	case strings.TrimSpace(d.Name) == "" || strings.Contains(d.Name, "/") || len(d.Name) > 100:
		return bad("The device needs a name of at most 100 characters without '/'.")
	case d.Transport != "tcp" && d.Transport != "rtu" && d.Transport != "rtu-over-tcp":
		return bad("Transport %q: want tcp, rtu or rtu-over-tcp.", d.Transport)
	case strings.TrimSpace(d.Address) == "" || len(d.Address) > 255:
		return bad("The device needs an address.")
	case d.SlaveID < 0 || d.SlaveID > 247:
		return bad("Unit identifier %d: want 0 to 247.", d.SlaveID)
	case strings.TrimSpace(d.Profile) == "":
		return bad("The device needs a register map (profile).")
	case d.Interval < time.Second || d.Interval > 24*time.Hour:
		return bad("Poll interval %s: want 1s to 24h.", d.Interval)
	case d.Timeout < 10*time.Millisecond || d.Timeout > time.Minute:
		return bad("Timeout %s: want 10ms to 1m.", d.Timeout)
	}
	return nil
}

const modbusColumns = `id, name, COALESCE(unit_id, 0), transport, address, baud, data_bits, parity, stop_bits, slave_id, profile, interval_ms, timeout_ms, enabled, calibration_due`

func scanModbusDevice(sc interface{ Scan(...any) error }) (wardwatch.ModbusDevice, error) {
	var (
		d                 wardwatch.ModbusDevice
		interval, timeout int64
		enabled           int64
		calDue            *int64
	)
	err := sc.Scan(&d.ID, &d.Name, &d.UnitID, &d.Transport, &d.Address, &d.Baud, &d.DataBits, &d.Parity, &d.StopBits,
		&d.SlaveID, &d.Profile, &interval, &timeout, &enabled, &calDue)
	d.Interval, d.Timeout, d.Enabled = time.Duration(interval)*time.Millisecond, time.Duration(timeout)*time.Millisecond, enabled == 1
	if calDue != nil {
		d.CalibrationDue = fromMillis(*calDue)
	}
	return d, err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func modbusErrMap(d wardwatch.ModbusDevice) errMap {
	return errMap{
		unique:     wardwatch.Errorf(wardwatch.ECONFLICT, "A device named %q already exists.", d.Name),
		foreignKey: wardwatch.Errorf(wardwatch.ENOTFOUND, "Unit %d not found.", d.UnitID),
	}
}

// CreateModbusDevice stores a Modbus device and sets d.ID.
func (s *Store) CreateModbusDevice(ctx context.Context, d *wardwatch.ModbusDevice) error {
	if err := validModbusDevice(*d); err != nil {
		return err
	}
	err := s.queryRow(ctx, `INSERT INTO modbus_devices (name, unit_id, transport, address, baud, data_bits, parity, stop_bits,
		slave_id, profile, interval_ms, timeout_ms, enabled, calibration_due) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		d.Name, nullID(d.UnitID), d.Transport, d.Address, d.Baud, d.DataBits, d.Parity, d.StopBits, d.SlaveID, d.Profile,
		d.Interval.Milliseconds(), d.Timeout.Milliseconds(), boolInt(d.Enabled), nullTime(d.CalibrationDue)).Scan(&d.ID)
	return mapErr(err, "create Modbus device", modbusErrMap(*d))
}

func modbusNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "Modbus device %d not found.", id)
}

// UpdateModbusDevice changes a Modbus device.
func (s *Store) UpdateModbusDevice(ctx context.Context, d wardwatch.ModbusDevice) error {
	if err := validModbusDevice(d); err != nil {
		return err
	}
	err := s.execOne(ctx, modbusNotFound(d.ID), `UPDATE modbus_devices SET name = ?, unit_id = ?, transport = ?, address = ?,
		baud = ?, data_bits = ?, parity = ?, stop_bits = ?, slave_id = ?, profile = ?, interval_ms = ?, timeout_ms = ?, enabled = ?,
		calibration_due = ? WHERE id = ?`,
		d.Name, nullID(d.UnitID), d.Transport, d.Address, d.Baud, d.DataBits, d.Parity, d.StopBits, d.SlaveID, d.Profile,
		d.Interval.Milliseconds(), d.Timeout.Milliseconds(), boolInt(d.Enabled), nullTime(d.CalibrationDue), d.ID)
	return mapErr(err, "update Modbus device", modbusErrMap(d))
}

// DeleteModbusDevice removes a Modbus device.
func (s *Store) DeleteModbusDevice(ctx context.Context, id int64) error {
	return s.execOne(ctx, modbusNotFound(id), `DELETE FROM modbus_devices WHERE id = ?`, id)
}

// ModbusDevice returns one Modbus device.
func (s *Store) ModbusDevice(ctx context.Context, id int64) (wardwatch.ModbusDevice, error) {
	d, err := scanModbusDevice(s.queryRow(ctx, `SELECT `+modbusColumns+` FROM modbus_devices WHERE id = ?`, id))
	if err != nil {
		return d, mapErr(err, "Modbus device", errMap{noRows: modbusNotFound(id)})
	}
	return d, nil
}

// ModbusDevices lists the Modbus devices by name.
func (s *Store) ModbusDevices(ctx context.Context) ([]wardwatch.ModbusDevice, error) {
	rows, err := s.query(ctx, `SELECT `+modbusColumns+` FROM modbus_devices ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list Modbus devices: %w", err)
	}
	defer rows.Close()
	var ds []wardwatch.ModbusDevice
	for rows.Next() {
		d, err := scanModbusDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list Modbus devices: %w", err)
		}
		ds = append(ds, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list Modbus devices: %w", err)
	}
	return ds, nil
}

// ---- SNMP targets ----

var (
	snmpAuthProtocols = []string{"SHA", "SHA224", "SHA256", "SHA384", "SHA512"}
	snmpPrivProtocols = []string{"AES", "AES192", "AES256", "AES192C", "AES256C"}
)

func validSNMPTarget(t wardwatch.SNMPTarget, creating bool) error {
	bad := func(format string, args ...any) error { return wardwatch.Errorf(wardwatch.EINVALID, format, args...) }
	switch {
	case strings.TrimSpace(t.Name) == "" || len(t.Name) > 100:
		return bad("The target needs a name of at most 100 characters.")
	case strings.TrimSpace(t.Address) == "" || len(t.Address) > 255:
		return bad("The target needs an address.")
	case t.Version != "v1" && t.Version != "v2c" && t.Version != "v3":
		return bad("SNMP version %q: want v3, v2c or v1.", t.Version)
	case strings.TrimSpace(t.Profile) == "":
		return bad("The target needs a pump profile.")
	case t.Interval < time.Second || t.Interval > 24*time.Hour:
		return bad("Poll interval %s: want 1s to 24h.", t.Interval)
	case t.Timeout < 10*time.Millisecond || t.Timeout > time.Minute:
		return bad("Timeout %s: want 10ms to 1m.", t.Timeout)
	case t.Retries < 0 || t.Retries > 10:
		return bad("Retries %d: want 0 to 10.", t.Retries)
	case time.Duration(snmpTries(t.Retries))*t.Timeout > t.Interval:
		return bad("%d tries of %s each take longer than the %s interval: shorten the timeout or lengthen the interval.", snmpTries(t.Retries), t.Timeout, t.Interval)
	}
	if t.Version == "v3" {
		switch {
		case strings.TrimSpace(t.User) == "" || len(t.User) > 64:
			return bad("SNMPv3 needs a user name.")
		case !slices.Contains(snmpAuthProtocols, t.AuthProtocol):
			return bad("Authentication protocol %q: want one of %s.", t.AuthProtocol, strings.Join(snmpAuthProtocols, ", "))
		case !slices.Contains(snmpPrivProtocols, t.PrivProtocol):
			return bad("Privacy protocol %q: want one of %s.", t.PrivProtocol, strings.Join(snmpPrivProtocols, ", "))
		case creating && (len(t.AuthPassword) < 8 || len(t.PrivPassword) < 8):
			return bad("SNMPv3 authentication and privacy passwords need at least 8 characters.")
		case len(t.AuthPassword) > 256 || len(t.PrivPassword) > 256:
			return bad("The passwords are too long.")
		}
	} else if (creating && t.Community == "") || len(t.Community) > 256 {
		return bad("SNMP %s needs a community.", t.Version)
	}
	return nil
}

// snmpTries is how many times the SNMP collector sends a request with
// this many retries (0 means its default, 2).
func snmpTries(retries int) int {
	if retries <= 0 {
		retries = 2
	}
	return retries + 1
}

// seal seals a secret; "" stays NULL.
func (s *Store) seal(secret string) (any, error) {
	if secret == "" {
		return nil, nil
	}
	if s.secrets == nil {
		return nil, wardwatch.Errorf(wardwatch.EUNAVAILABLE, "No secret key is configured: credentials cannot be stored.")
	}
	b, err := s.secrets.Seal([]byte(secret))
	if err != nil {
		return nil, fmt.Errorf("seal credential: %w", err)
	}
	return b, nil
}

func (s *Store) open(sealed []byte) (string, error) {
	if len(sealed) == 0 {
		return "", nil
	}
	if s.secrets == nil {
		return "", wardwatch.Errorf(wardwatch.EUNAVAILABLE, "No secret key is configured: credentials cannot be read.")
	}
	b, err := s.secrets.Open(sealed)
	if err != nil {
		return "", fmt.Errorf("open credential (was the secret key changed?): %w", err)
	}
	return string(b), nil
}

const snmpColumns = `id, name, address, version, community, username, auth_protocol, auth_password, priv_protocol, priv_password,
	profile, interval_ms, timeout_ms, retries, enabled`

func (s *Store) scanSNMPTarget(sc interface{ Scan(...any) error }) (wardwatch.SNMPTarget, error) {
	var (
		t                       wardwatch.SNMPTarget
		community, auth, priv   []byte
		interval, timeout, enab int64
	)
	if err := sc.Scan(&t.ID, &t.Name, &t.Address, &t.Version, &community, &t.User, &t.AuthProtocol, &auth, &t.PrivProtocol, &priv,
		&t.Profile, &interval, &timeout, &t.Retries, &enab); err != nil {
		return t, err
	}
	t.Interval, t.Timeout, t.Enabled = time.Duration(interval)*time.Millisecond, time.Duration(timeout)*time.Millisecond, enab == 1
	var err error
	if t.Community, err = s.open(community); err != nil {
		return t, err
	}
	if t.AuthPassword, err = s.open(auth); err != nil {
		return t, err
	}
	if t.PrivPassword, err = s.open(priv); err != nil {
		return t, err
	}
	return t, nil
}

func snmpErrMap(t wardwatch.SNMPTarget) errMap {
	return errMap{unique: wardwatch.Errorf(wardwatch.ECONFLICT, "A target named %q already exists.", t.Name)}
}

func snmpNotFound(id int64) error {
	return wardwatch.Errorf(wardwatch.ENOTFOUND, "SNMP target %d not found.", id)
}

// sealAll seals a target's three secrets.
func (s *Store) sealAll(t wardwatch.SNMPTarget) (community, auth, priv any, err error) {
	if community, err = s.seal(t.Community); err != nil {
		return
	}
	if auth, err = s.seal(t.AuthPassword); err != nil {
		return
	}
	priv, err = s.seal(t.PrivPassword)
	return
}

// CreateSNMPTarget stores an SNMP target, its secrets sealed, and sets
// t.ID.
func (s *Store) CreateSNMPTarget(ctx context.Context, t *wardwatch.SNMPTarget) error {
	if err := validSNMPTarget(*t, true); err != nil {
		return err
	}
	community, auth, priv, err := s.sealAll(*t)
	if err != nil {
		return err
	}
	err = s.queryRow(ctx, `INSERT INTO snmp_targets (name, address, version, community, username, auth_protocol, auth_password,
		priv_protocol, priv_password, profile, interval_ms, timeout_ms, retries, enabled)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, t.Address, t.Version, community, t.User, t.AuthProtocol, auth, t.PrivProtocol, priv, t.Profile,
		t.Interval.Milliseconds(), t.Timeout.Milliseconds(), t.Retries, boolInt(t.Enabled)).Scan(&t.ID)
	return mapErr(err, "create SNMP target", snmpErrMap(*t))
}

// UpdateSNMPTarget changes an SNMP target. An empty Community,
// AuthPassword or PrivPassword keeps the stored one, so a form that never
// shows secrets can be saved without retyping them.
func (s *Store) UpdateSNMPTarget(ctx context.Context, t wardwatch.SNMPTarget) error {
	if err := validSNMPTarget(t, false); err != nil {
		return err
	}
	community, auth, priv, err := s.sealAll(t)
	if err != nil {
		return err
	}
	err = s.execOne(ctx, snmpNotFound(t.ID), `UPDATE snmp_targets SET name = ?, address = ?, version = ?,
		community = COALESCE(?, community), username = ?, auth_protocol = ?, auth_password = COALESCE(?, auth_password),
		priv_protocol = ?, priv_password = COALESCE(?, priv_password), profile = ?, interval_ms = ?, timeout_ms = ?,
		retries = ?, enabled = ? WHERE id = ?`,
		t.Name, t.Address, t.Version, community, t.User, t.AuthProtocol, auth, t.PrivProtocol, priv, t.Profile,
		t.Interval.Milliseconds(), t.Timeout.Milliseconds(), t.Retries, boolInt(t.Enabled), t.ID)
	return mapErr(err, "update SNMP target", snmpErrMap(t))
}

// DeleteSNMPTarget removes an SNMP target.
func (s *Store) DeleteSNMPTarget(ctx context.Context, id int64) error {
	return s.execOne(ctx, snmpNotFound(id), `DELETE FROM snmp_targets WHERE id = ?`, id)
}

// SNMPTarget returns one SNMP target with its secrets opened.
func (s *Store) SNMPTarget(ctx context.Context, id int64) (wardwatch.SNMPTarget, error) {
	t, err := s.scanSNMPTarget(s.queryRow(ctx, `SELECT `+snmpColumns+` FROM snmp_targets WHERE id = ?`, id))
	if err != nil {
		return t, mapErr(err, "SNMP target", errMap{noRows: snmpNotFound(id)})
	}
	return t, nil
}

// SNMPTargets lists the SNMP targets by name, secrets opened.
func (s *Store) SNMPTargets(ctx context.Context) ([]wardwatch.SNMPTarget, error) {
	rows, err := s.query(ctx, `SELECT `+snmpColumns+` FROM snmp_targets ORDER BY name, id`)
	if err != nil {
		return nil, fmt.Errorf("list SNMP targets: %w", err)
	}
	defer rows.Close()
	var ts []wardwatch.SNMPTarget
	for rows.Next() {
		t, err := s.scanSNMPTarget(rows)
		if err != nil {
			return nil, fmt.Errorf("list SNMP targets: %w", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list SNMP targets: %w", err)
	}
	return ts, nil
}

// ---- Device profiles ----

// MaxProfileBytes caps a profile's YAML source.
const MaxProfileBytes = 256 << 10

// SaveDeviceProfile creates or replaces an admin-defined profile. The
// caller has parsed and validated its source.
func (s *Store) SaveDeviceProfile(ctx context.Context, p wardwatch.DeviceProfile) error {
	switch {
	case p.Kind != "modbus" && p.Kind != "snmp":
		return wardwatch.Errorf(wardwatch.EINVALID, "Profile kind %q: want modbus or snmp.", p.Kind)
	case strings.TrimSpace(p.Name) == "" || len(p.Name) > 100:
		return wardwatch.Errorf(wardwatch.EINVALID, "The profile needs a name of at most 100 characters.")
	case len(p.Source) == 0 || len(p.Source) > MaxProfileBytes:
		return wardwatch.Errorf(wardwatch.EINVALID, "The profile source must be 1 byte to %d KiB.", MaxProfileBytes>>10)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.rebind(`DELETE FROM device_profiles WHERE kind = ? AND name = ?`), p.Kind, p.Name); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.rebind(`INSERT INTO device_profiles (kind, name, source) VALUES (?, ?, ?)`), p.Kind, p.Name, p.Source); err != nil {
		return mapErr(err, "save profile", errMap{})
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save profile: %w", err)
	}
	return nil
}

// DeleteDeviceProfile removes an admin-defined profile.
func (s *Store) DeleteDeviceProfile(ctx context.Context, kind, name string) error {
	return s.execOne(ctx, wardwatch.Errorf(wardwatch.ENOTFOUND, "Profile %q not found.", name),
		`DELETE FROM device_profiles WHERE kind = ? AND name = ?`, kind, name)
}

// DeviceProfiles lists the admin-defined profiles of a kind by name.
func (s *Store) DeviceProfiles(ctx context.Context, kind string) ([]wardwatch.DeviceProfile, error) {
	rows, err := s.query(ctx, `SELECT kind, name, source FROM device_profiles WHERE kind = ? ORDER BY name`, kind)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	defer rows.Close()
	var ps []wardwatch.DeviceProfile
	for rows.Next() {
		var p wardwatch.DeviceProfile
		if err := rows.Scan(&p.Kind, &p.Name, &p.Source); err != nil {
			return nil, fmt.Errorf("list profiles: %w", err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	return ps, nil
}
