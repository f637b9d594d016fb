-- API tokens for integrations calling /api/v1. Only the secret's SHA-256
-- is kept; revoked tokens stay listed (revoked_at set).

-- +goose Up
CREATE TABLE api_tokens (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL CHECK (name <> '' AND length(name) <= 100),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'facilities', 'pharmacy', 'biomed', 'nurse', 'viewer')),
    prefix      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    last_used   INTEGER NULL,
    revoked_at  INTEGER NULL,
    secret_hash BLOB NOT NULL UNIQUE CHECK (length(secret_hash) = 32)
) STRICT;

-- +goose Down
DROP TABLE api_tokens;
