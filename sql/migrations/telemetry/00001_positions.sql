-- WardWatch telemetry on the embedded default: the positions history, in
-- its own SQLite file. Times are unix milliseconds UTC.

-- +goose Up
CREATE TABLE positions (
    id         INTEGER PRIMARY KEY,
    ts         INTEGER NOT NULL,
    tag_id     TEXT    NOT NULL,
    asset_id   INTEGER NOT NULL,
    floor_id   INTEGER NOT NULL,
    x          REAL    NOT NULL,
    y          REAL    NOT NULL,
    zone_id    INTEGER NOT NULL,
    confidence REAL    NOT NULL,
    solver     TEXT    NOT NULL
) STRICT;
CREATE INDEX positions_asset_ts ON positions (asset_id, ts);
CREATE INDEX positions_ts ON positions (ts);

-- +goose Down
DROP TABLE positions;
