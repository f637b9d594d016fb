-- WardWatch configuration schema, SQLite flavour. Keep it in step with
-- ../postgres/00001_init.sql: same tables, same columns, same version number.
-- Timestamps are unix milliseconds UTC (SQLite INTEGER is 64-bit, like the
-- BIGINT columns on PostgreSQL), so the store's DML is identical on both.
-- Tables are STRICT so a wrongly typed value is an error, as on PostgreSQL.

-- +goose Up
CREATE TABLE floors (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (name <> ''),
    level      INTEGER NOT NULL,
    width_m    REAL    NOT NULL CHECK (width_m > 0),
    height_m   REAL    NOT NULL CHECK (height_m > 0),
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE floor_plans (
    floor_id     INTEGER PRIMARY KEY REFERENCES floors (id) ON DELETE CASCADE,
    content_type TEXT    NOT NULL CHECK (content_type <> ''),
    data         BLOB    NOT NULL
) STRICT;

CREATE TABLE zones (
    id       INTEGER PRIMARY KEY,
    floor_id INTEGER NOT NULL REFERENCES floors (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL CHECK (name <> ''),
    kind     TEXT    NOT NULL CHECK (kind IN ('room', 'corridor', 'clean_utility', 'soiled_utility', 'nurse_station', 'stairs', 'lift')),
    polygon  TEXT    NOT NULL
) STRICT;
CREATE INDEX zones_floor_name ON zones (floor_id, name);

CREATE TABLE gateways (
    id                 INTEGER PRIMARY KEY,
    key                TEXT    NOT NULL UNIQUE CHECK (key <> ''),
    name               TEXT    NOT NULL,
    floor_id           INTEGER NOT NULL REFERENCES floors (id),
    x                  REAL    NOT NULL,
    y                  REAL    NOT NULL,
    z                  REAL    NOT NULL,
    rssi_at_1m         REAL    NOT NULL,
    path_loss_exponent REAL    NOT NULL,
    token_hash         BLOB    NULL
) STRICT;
CREATE INDEX gateways_floor ON gateways (floor_id);

CREATE TABLE assets (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (name <> ''),
    kind       TEXT    NOT NULL CHECK (kind IN ('infusion_pump', 'wheelchair', 'bed', 'monitor', 'ventilator', 'other')),
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX assets_name ON assets (name, id);

CREATE TABLE tags (
    id       TEXT    PRIMARY KEY CHECK (id <> ''),
    asset_id INTEGER NOT NULL REFERENCES assets (id) ON DELETE CASCADE
) STRICT;
CREATE INDEX tags_asset ON tags (asset_id);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE CHECK (username <> ''),
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'facilities', 'nurse', 'viewer')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY CHECK (length(token_hash) > 0),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE tags;
DROP TABLE assets;
DROP TABLE gateways;
DROP TABLE zones;
DROP TABLE floor_plans;
DROP TABLE floors;
