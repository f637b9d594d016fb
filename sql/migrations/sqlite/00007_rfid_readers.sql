-- Fixed RFID readers, their antennas (each stood for by a room-anchor
-- gateway in the antenna's zone) and, for door readers, the portal
-- (which antennas face in and out) as JSON.

-- +goose Up
CREATE TABLE rfid_readers (
    id         INTEGER PRIMARY KEY,
    key        TEXT NOT NULL UNIQUE CHECK (key <> '' AND instr(key, '#') = 0),
    name       TEXT NOT NULL,
    token_hash BLOB NULL,
    format     TEXT NOT NULL,
    portal     TEXT NOT NULL
) STRICT;

CREATE TABLE rfid_antennas (
    reader_id  INTEGER NOT NULL REFERENCES rfid_readers (id) ON DELETE CASCADE,
    port       INTEGER NOT NULL CHECK (port BETWEEN 1 AND 64),
    gateway_id INTEGER NOT NULL REFERENCES gateways (id) ON DELETE CASCADE,
    PRIMARY KEY (reader_id, port)
) STRICT;

-- +goose Down
DROP TABLE rfid_antennas;
DROP TABLE rfid_readers;
