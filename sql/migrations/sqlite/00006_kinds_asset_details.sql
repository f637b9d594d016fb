-- +goose NO TRANSACTION
-- More zone kinds (exits, loading docks, holding rooms, clean equipment
-- rooms, operating and isolation rooms…) and asset kinds, now validated by
-- the store rather than a CHECK list; assets get a status, an asset tag,
-- a serial number (pumps link to assets by either) and a PM due date.
-- SQLite cannot change a CHECK in place, so zones and assets are rebuilt
-- with foreign keys off (https://sqlite.org/lang_altertable.html, the
-- twelve steps), which keeps every reference to them.

-- +goose Up
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE zones_new (
    id       INTEGER PRIMARY KEY,
    floor_id INTEGER NOT NULL REFERENCES floors (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL CHECK (name <> ''),
    kind     TEXT    NOT NULL CHECK (kind <> ''),
    polygon  TEXT    NOT NULL
) STRICT;
INSERT INTO zones_new (id, floor_id, name, kind, polygon) SELECT id, floor_id, name, kind, polygon FROM zones;
DROP TABLE zones;
ALTER TABLE zones_new RENAME TO zones;
CREATE INDEX zones_floor_name ON zones (floor_id, name);

CREATE TABLE assets_new (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (name <> ''),
    kind       TEXT    NOT NULL CHECK (kind <> ''),
    created_at INTEGER NOT NULL,
    status     TEXT    NOT NULL DEFAULT 'available' CHECK (status <> ''),
    asset_tag  TEXT    NOT NULL DEFAULT '',
    serial     TEXT    NOT NULL DEFAULT '',
    pm_due     INTEGER NULL
) STRICT;
INSERT INTO assets_new (id, name, kind, created_at) SELECT id, name, kind, created_at FROM assets;
DROP TABLE assets;
ALTER TABLE assets_new RENAME TO assets;
CREATE INDEX assets_name ON assets (name, id);
CREATE INDEX assets_serial ON assets (serial) WHERE serial <> '';
CREATE INDEX assets_asset_tag ON assets (asset_tag) WHERE asset_tag <> '';
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
SELECT 1;
