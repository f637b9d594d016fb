-- Pharmacy and biomed roles; the tags WardWatch hears that belong to no
-- asset ("discovered tags"), for an admin to assign.
-- SQLite cannot change a CHECK constraint in place, so users is rebuilt;
-- sessions (which reference it) are rebuilt too, and signed-in users sign
-- in again.

-- +goose Up
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY,
    username      TEXT    NOT NULL UNIQUE CHECK (username <> ''),
    role          TEXT    NOT NULL CHECK (role IN ('admin', 'facilities', 'pharmacy', 'biomed', 'nurse', 'viewer')),
    password_hash TEXT    NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
INSERT INTO users_new (id, username, role, password_hash, created_at)
    SELECT id, username, role, password_hash, created_at FROM users;
DROP TABLE sessions;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE TABLE sessions (
    token_hash   BLOB    PRIMARY KEY CHECK (length(token_hash) > 0),
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE discovered_tags (
    tag_id     TEXT    PRIMARY KEY CHECK (tag_id <> ''),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    gateway_id INTEGER NULL REFERENCES gateways (id) ON DELETE SET NULL,
    rssi       REAL    NOT NULL,
    sightings  INTEGER NOT NULL CHECK (sightings >= 0)
) STRICT;
CREATE INDEX discovered_tags_last_seen ON discovered_tags (last_seen);

-- +goose Down
DROP TABLE discovered_tags;
