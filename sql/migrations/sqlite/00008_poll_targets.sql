-- Gateways and RFID readers WardWatch polls over HTTP. The Authorization
-- header value is sealed like the other device credentials.

-- +goose Up
CREATE TABLE poll_targets (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE CHECK (name <> ''),
    url         TEXT NOT NULL CHECK (url <> ''),
    source      TEXT NOT NULL CHECK (source IN ('ble', 'rfid')),
    source_key  TEXT NOT NULL CHECK (source_key <> ''),
    format      TEXT NOT NULL,
    interval_ms INTEGER NOT NULL CHECK (interval_ms > 0),
    timeout_ms  INTEGER NOT NULL CHECK (timeout_ms > 0),
    auth_header BLOB NULL,
    enabled     INTEGER NOT NULL CHECK (enabled IN (0, 1))
) STRICT;

-- +goose Down
DROP TABLE poll_targets;
