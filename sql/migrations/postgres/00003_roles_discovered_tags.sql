-- Pharmacy and biomed roles; the tags WardWatch hears that belong to no
-- asset ("discovered tags"), for an admin to assign.

-- +goose Up
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'facilities', 'pharmacy', 'biomed', 'nurse', 'viewer'));

CREATE TABLE discovered_tags (
    tag_id     TEXT COLLATE "C" PRIMARY KEY CHECK (tag_id <> ''),
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    gateway_id BIGINT NULL REFERENCES gateways (id) ON DELETE SET NULL,
    rssi       DOUBLE PRECISION NOT NULL,
    sightings  BIGINT NOT NULL CHECK (sightings >= 0)
);
CREATE INDEX discovered_tags_last_seen ON discovered_tags (last_seen);

-- +goose Down
DROP TABLE discovered_tags;
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check
    CHECK (role IN ('admin', 'facilities', 'nurse', 'viewer'));
