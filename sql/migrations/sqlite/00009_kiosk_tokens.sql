-- Read-only tokens for wall displays (kiosks). Only the token's SHA-256 is
-- kept.

-- +goose Up
CREATE TABLE kiosk_tokens (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL CHECK (name <> ''),
    floor_id   INTEGER NULL REFERENCES floors (id) ON DELETE SET NULL,
    token_hash BLOB NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE kiosk_tokens;
