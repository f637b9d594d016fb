-- More zone kinds and asset kinds, now validated by the store rather than
-- a CHECK list; assets get a status, an asset tag, a serial number (pumps
-- link to assets by either) and a PM due date.

-- +goose Up
ALTER TABLE zones DROP CONSTRAINT zones_kind_check;
ALTER TABLE zones ADD CONSTRAINT zones_kind_check CHECK (kind <> '');
ALTER TABLE assets DROP CONSTRAINT assets_kind_check;
ALTER TABLE assets ADD CONSTRAINT assets_kind_check CHECK (kind <> '');
ALTER TABLE assets ADD COLUMN status TEXT NOT NULL DEFAULT 'available' CHECK (status <> '');
ALTER TABLE assets ADD COLUMN asset_tag TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN serial TEXT NOT NULL DEFAULT '';
ALTER TABLE assets ADD COLUMN pm_due BIGINT NULL;
CREATE INDEX assets_serial ON assets (serial) WHERE serial <> '';
CREATE INDEX assets_asset_tag ON assets (asset_tag) WHERE asset_tag <> '';

-- +goose Down
DROP INDEX assets_asset_tag;
DROP INDEX assets_serial;
ALTER TABLE assets DROP COLUMN pm_due;
ALTER TABLE assets DROP COLUMN serial;
ALTER TABLE assets DROP COLUMN asset_tag;
ALTER TABLE assets DROP COLUMN status;
