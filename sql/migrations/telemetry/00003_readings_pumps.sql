-- Sensor readings and infusion-pump states join the positions history, and
-- every series gets a unique key so that writing the same point twice keeps
-- one row (the later write wins), as InfluxDB does for a point with the same
-- series and timestamp.
--
-- readings: one row per sensor, metric and millisecond. A raw reading has
-- n = 1, period = 0 and min = max = value. Once older than the downsampling
-- age, the raw readings of each interval are replaced by one row at the
-- interval's start: value is their mean, min and max their extremes, n how
-- many there were, period the interval in milliseconds.
--
-- pump_states: one row per pump serial, SNMP target and millisecond. Numbers
-- the pump did not report are NULL; alarms is a JSON array ('' for none).

-- +goose Up
DELETE FROM positions WHERE id NOT IN (SELECT MAX(id) FROM positions GROUP BY asset_id, tag_id, ts);
CREATE UNIQUE INDEX positions_series_ts ON positions (asset_id, tag_id, ts);

CREATE TABLE readings (
    sensor_id TEXT    NOT NULL,
    metric    TEXT    NOT NULL,
    ts        INTEGER NOT NULL,
    value     REAL    NOT NULL,
    min       REAL    NOT NULL,
    max       REAL    NOT NULL,
    n         INTEGER NOT NULL DEFAULT 1,
    period    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (sensor_id, metric, ts)
) STRICT, WITHOUT ROWID;
CREATE INDEX readings_metric_ts ON readings (metric, ts);

CREATE TABLE pump_states (
    serial               TEXT    NOT NULL,
    ts                   INTEGER NOT NULL,
    target_id            INTEGER NOT NULL,
    model                TEXT    NOT NULL,
    status               TEXT    NOT NULL,
    on_ac                INTEGER NOT NULL,
    battery              REAL,
    rate                 REAL,
    vtbi                 REAL,
    infused              REAL,
    alarms               TEXT    NOT NULL,
    firmware             TEXT    NOT NULL,
    drug_library         TEXT    NOT NULL,
    drug_library_version TEXT    NOT NULL,
    PRIMARY KEY (serial, ts, target_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX pump_states_ts ON pump_states (ts);

-- +goose Down
DROP TABLE pump_states;
DROP TABLE readings;
DROP INDEX positions_series_ts;
