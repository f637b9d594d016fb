-- Gateways get a receive offset (dB added to every RSSI they report) and
-- may be declared room anchors: a gateway inside a room whose strong
-- reading decides the room.

-- +goose Up
ALTER TABLE gateways ADD COLUMN rx_offset DOUBLE PRECISION NOT NULL DEFAULT 0;
ALTER TABLE gateways ADD COLUMN anchor_zone_id BIGINT NULL REFERENCES zones (id) ON DELETE SET NULL;

-- +goose Down
ALTER TABLE gateways DROP COLUMN anchor_zone_id;
ALTER TABLE gateways DROP COLUMN rx_offset;
