-- The audit log: every configuration change and alert transition, with
-- who, when, the old and new values and a reason. Append-only: the store
-- has no statement that changes or deletes a row.

-- +goose Up
CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    user_id    INTEGER NULL,
    username   TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action <> ''),
    subject    TEXT NOT NULL CHECK (subject <> ''),
    subject_id TEXT NOT NULL,
    old_value  TEXT NOT NULL,
    new_value  TEXT NOT NULL,
    reason     TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_subject ON audit_log (subject, subject_id, id);

-- +goose Down
DROP TABLE audit_log;
