-- Monitored units (fridges, freezers, rooms), the Modbus devices and SNMP
-- targets WardWatch polls, and admin-defined collector profiles. Secrets
-- (SNMP community and passwords) are stored sealed by the store's
-- SecretBox, never in clear.

-- +goose Up
CREATE TABLE monitored_units (
    id      INTEGER PRIMARY KEY,
    name    TEXT    NOT NULL UNIQUE CHECK (name <> ''),
    profile TEXT    NOT NULL CHECK (profile <> ''),
    zone_id INTEGER NULL REFERENCES zones (id) ON DELETE SET NULL
) STRICT;

CREATE TABLE modbus_devices (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE CHECK (name <> '' AND instr(name, '/') = 0),
    unit_id     INTEGER NULL REFERENCES monitored_units (id) ON DELETE SET NULL,
    transport   TEXT    NOT NULL CHECK (transport IN ('tcp', 'rtu', 'rtu-over-tcp')),
    address     TEXT    NOT NULL CHECK (address <> ''),
    baud        INTEGER NOT NULL,
    data_bits   INTEGER NOT NULL,
    parity      TEXT    NOT NULL,
    stop_bits   INTEGER NOT NULL,
    slave_id    INTEGER NOT NULL CHECK (slave_id BETWEEN 0 AND 247),
    profile     TEXT    NOT NULL CHECK (profile <> ''),
    interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
    timeout_ms  INTEGER NOT NULL CHECK (timeout_ms > 0),
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT;

CREATE TABLE snmp_targets (
    id             INTEGER PRIMARY KEY,
    name           TEXT    NOT NULL UNIQUE CHECK (name <> ''),
    address        TEXT    NOT NULL CHECK (address <> ''),
    version        TEXT    NOT NULL CHECK (version IN ('v1', 'v2c', 'v3')),
    community      BLOB    NULL,
    username       TEXT    NOT NULL,
    auth_protocol  TEXT    NOT NULL,
    auth_password  BLOB    NULL,
    priv_protocol  TEXT    NOT NULL,
    priv_password  BLOB    NULL,
    profile        TEXT    NOT NULL CHECK (profile <> ''),
    interval_ms    INTEGER NOT NULL CHECK (interval_ms > 0),
    timeout_ms     INTEGER NOT NULL CHECK (timeout_ms > 0),
    retries        INTEGER NOT NULL CHECK (retries >= 0),
    enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT;

CREATE TABLE device_profiles (
    kind   TEXT NOT NULL CHECK (kind IN ('modbus', 'snmp')),
    name   TEXT NOT NULL CHECK (name <> ''),
    source BLOB NOT NULL,
    PRIMARY KEY (kind, name)
) STRICT;

-- +goose Down
DROP TABLE device_profiles;
DROP TABLE snmp_targets;
DROP TABLE modbus_devices;
DROP TABLE monitored_units;
